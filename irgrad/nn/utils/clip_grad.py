"""Gradient clipping: clip_grad_norm_, clip_grad_value_."""

__all__: list[str] = []
