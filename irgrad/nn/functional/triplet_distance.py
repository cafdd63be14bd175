"""``triplet_margin_with_distance_loss``: the triplet margin loss with any distance
function (``pairwise_distance`` by default), as PyTorch's: a composite, so it compiles
and differentiates through whatever the distance function computes."""

from __future__ import annotations

from collections.abc import Callable

from ...tensor import Tensor
from .layers import pairwise_distance
from .loss.reduction import _check_reduction, _reduce

__all__ = ["triplet_margin_with_distance_loss"]


def triplet_margin_with_distance_loss(
    anchor: Tensor,
    positive: Tensor,
    negative: Tensor,
    *,
    distance_function: Callable[[Tensor, Tensor], Tensor] | None = None,
    margin: float = 1.0,
    swap: bool = False,
    reduction: str = "mean",
) -> Tensor:
    """``max(0, margin + d(a, p) - d(a, n))``; with ``swap``, ``d(a, n)`` is the smaller of
    it and ``d(p, n)``.  ``margin`` must be positive and the three inputs of one rank."""
    _check_reduction(reduction)
    if margin <= 0:
        raise ValueError(f"margin must be greater than 0, got {margin}")
    ranks = anchor.ndim, positive.ndim, negative.ndim
    if len(set(ranks)) != 1:
        raise RuntimeError(
            "The anchor, positive, and negative tensors are expected to have the same number of "
            f"dimensions, but got: anchor {ranks[0]}D, positive {ranks[1]}D, and negative {ranks[2]}D inputs"
        )
    distance = pairwise_distance if distance_function is None else distance_function
    to_positive, to_negative = distance(anchor, positive), distance(anchor, negative)
    if swap:
        to_negative = to_negative.minimum(distance(positive, negative))
    return _reduce((margin + to_positive - to_negative).clamp_min(0), reduction)
