"""Arguments a function is not differentiable in: PyTorch refuses them when they require grad.

A class weight, ``pos_weight``, BatchNorm's running statistics or ``soft_margin_loss``'s
target are read as constants by PyTorch's backward formulas, so while autograd records it
raises rather than give those tensors no gradient silently.  irgrad's functions are built
from differentiable ops and would give them a gradient: they refuse them the same way,
with PyTorch's message, so a script behaves the same on both.
"""

from __future__ import annotations

from ...recording.grad_mode import STATE
from ...tensor import Tensor


def reject_grad(function: str, **arguments: Tensor | None) -> None:
    """Raise PyTorch's error if, with grad mode on, one of ``arguments`` requires grad."""
    if not STATE.enabled:
        return
    for name, value in arguments.items():
        if isinstance(value, Tensor) and value.requires_grad:
            raise RuntimeError(
                f"The function '{function}' is not differentiable with respect to argument '{name}'. "
                "This input cannot have requires_grad True."
            )
