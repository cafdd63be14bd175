"""MaxPool2d, AvgPool2d, AdaptiveAvgPool2d (and 1d forms)."""

__all__: list[str] = []
