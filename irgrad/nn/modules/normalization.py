"""BatchNorm1d/2d and LayerNorm."""

__all__: list[str] = []
