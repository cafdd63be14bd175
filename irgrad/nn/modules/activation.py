"""Activation modules (ReLU, GELU, Softmax ...)."""

__all__: list[str] = []
