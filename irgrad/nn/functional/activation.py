"""Functional activations: relu, gelu, silu, softmax ..."""

__all__: list[str] = []
