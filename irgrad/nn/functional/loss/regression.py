"""Regression losses: ``mse_loss``, ``l1_loss``, ``smooth_l1_loss`` and ``huber_loss``,
each a pointwise function of ``input - target``.

They broadcast the target against the input, with PyTorch's warning where the shapes
differ (``_warn_size``).  The smooth losses square the difference only where that branch
is selected, so an infinite difference does not turn the gradient NaN.
"""

from __future__ import annotations

import warnings

import numpy as np

from ...._arguments import tensor_arguments
from ....tensor import Tensor
from ....tensor_ops.pointwise import where
from .reduction import _check_reduction, _legacy_reduction, _reduce, _stored_as

__all__ = ["mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss"]


def _warn_size(name: str, input: Tensor, target: Tensor) -> None:
    """torch's warning for a target of another shape, and its error when the two do not broadcast."""
    try:
        np.broadcast_shapes(tuple(input.shape), tuple(target.shape))
    except ValueError:
        raise RuntimeError(
            f"{name}: the input of shape {list(input.shape)} and the target of shape "
            f"{list(target.shape)} do not broadcast"
        ) from None
    if tuple(target.shape) != tuple(input.shape):
        warnings.warn(
            f"Using a target size ({target.shape}) that is different to the input size ({input.shape}). "
            "This will likely lead to incorrect results due to broadcasting. Please ensure they have the same size.",
            stacklevel=3,
        )


@tensor_arguments
def mse_loss(
    input: Tensor, target: Tensor, size_average=None, reduce=None, reduction: str = "mean"
) -> Tensor:
    """Mean squared error ``(input - target)^2``."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    _warn_size("mse_loss", input, target)
    diff = input - target
    return _reduce(diff * diff, reduction)


@tensor_arguments
def l1_loss(input: Tensor, target: Tensor, size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """Mean absolute error ``|input - target|``."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    _warn_size("l1_loss", input, target)
    return _reduce((input - target).abs(), reduction)


@tensor_arguments
def smooth_l1_loss(
    input: Tensor, target: Tensor, size_average=None, reduce=None, reduction: str = "mean", beta: float = 1.0
) -> Tensor:
    """``0.5 d^2 / beta`` where ``|d| < beta``, else ``|d| - 0.5 beta``."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    _warn_size("smooth_l1_loss", input, target)
    if beta == 0.0:
        return _reduce((input - target).abs(), reduction)
    diff = input - target
    ad = diff.abs()
    small = ad < beta
    inside = where(small, diff, 0.0)  # an infinite diff would turn the unused square's zero gradient NaN
    loss = where(small, inside * inside * (0.5 / beta), ad - 0.5 * beta)
    return _reduce(loss, reduction)


@tensor_arguments
def huber_loss(input: Tensor, target: Tensor, reduction: str = "mean", delta: float = 1.0) -> Tensor:
    """``0.5 d^2`` where ``|d| < delta``, else ``delta (|d| - 0.5 delta)``."""
    _check_reduction(reduction)
    _warn_size("huber_loss", input, target)
    diff = input - target
    ad = diff.abs()
    small = ad < delta
    inside = where(small, diff, 0.0)  # as in smooth_l1_loss: keeps infinities out of the square
    loss = where(small, inside * inside * 0.5, (ad - 0.5 * delta) * delta)
    return _reduce(_stored_as(loss, input), reduction)  # (PyTorch's output is input's type)
