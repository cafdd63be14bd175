"""Loss modules (MSELoss, CrossEntropyLoss ...)."""

__all__: list[str] = []
