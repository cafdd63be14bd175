"""Margin and embedding losses: ``soft_margin_loss``, ``margin_ranking_loss``,
``cosine_embedding_loss``, ``hinge_embedding_loss``, ``multi_margin_loss``,
``multilabel_soft_margin_loss`` and ``triplet_margin_loss``.

Each scores how far a score or a distance lies on the right side of a margin, as a
composite of tensor ops.  The hinges are ``clamp_min(0.0)``, not ``relu``: its gradient
passes at a tie and stops at NaN.
"""

from __future__ import annotations

from ...._arguments import tensor_arguments
from ....tensor import Tensor
from ....tensor_ops.indexing import one_hot
from ....tensor_ops.pointwise import where
from ..activation import _softplus_stable, logsigmoid
from ..differentiability import reject_grad
from ..layers import pairwise_distance
from .reduction import _check_reduction, _legacy_reduction, _reduce, _stored_as

__all__ = [
    "soft_margin_loss",
    "margin_ranking_loss",
    "cosine_embedding_loss",
    "hinge_embedding_loss",
    "multi_margin_loss",
    "multilabel_soft_margin_loss",
    "triplet_margin_loss",
]


@tensor_arguments
def soft_margin_loss(
    input: Tensor, target: Tensor, size_average=None, reduce=None, reduction: str = "mean"
) -> Tensor:
    """``log(1 + exp(-y x))``."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    reject_grad("soft_margin_loss", target=target)
    # PyTorch's neg(x).mul_(y).exp_().log1p_(): in the input's dtype from the product on
    return _reduce(_softplus_stable(_stored_as(-(input * target), input)), reduction)


@tensor_arguments
def margin_ranking_loss(
    input1: Tensor,
    input2: Tensor,
    target: Tensor,
    margin: float = 0.0,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
) -> Tensor:
    """``max(0, -y (x1 - x2) + margin)``."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    # clamp_min, not relu: its gradient passes at 0 (ties) and stops at NaN, as torch's
    return _reduce((-(target * (input1 - input2)) + margin).clamp_min(0.0), reduction)


@tensor_arguments
def cosine_embedding_loss(
    input1: Tensor,
    input2: Tensor,
    target: Tensor,
    margin: float = 0.0,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
) -> Tensor:
    """``1 - cos(x1, x2)`` for y = 1, ``max(0, cos(x1, x2) - margin)`` for y = -1."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    eps = 1e-12
    cos = (input1 * input2).sum(-1) / (
        ((input1 * input1).sum(-1) + eps) * ((input2 * input2).sum(-1) + eps)
    ).sqrt()
    loss = where(target > 0, 1 - cos, where(target < 0, (cos - margin).clamp_min(0.0), 0.0))
    return _reduce(loss, reduction)


@tensor_arguments
def hinge_embedding_loss(
    input: Tensor,
    target: Tensor,
    margin: float = 1.0,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
) -> Tensor:
    """``x`` where y = 1, ``max(0, margin - x)`` where y = -1 (both terms elsewhere, as torch)."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    below_margin = (margin - input).clamp_min(0.0)
    loss = where(target != 1, below_margin, 0.0) + where(target != -1, input, 0.0)
    return _reduce(loss, reduction)


@tensor_arguments
def multi_margin_loss(
    input: Tensor,
    target: Tensor,
    p: int = 1,
    margin: float = 1.0,
    weight: Tensor | None = None,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
) -> Tensor:
    """Per sample, ``sum_j max(0, margin - x[y] + x[j])^p / C`` over the classes j != y
    (each term times ``weight[y]``)."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    if p not in (1, 2):
        raise ValueError("only p == 1 and p == 2 supported")
    reject_grad("multi_margin_loss", weight=weight)
    unbatched = input.dim() == 1
    x = input.unsqueeze(0) if unbatched else input
    y = target.reshape(-1)
    n_classes = x.shape[1]
    picked = x.gather(1, y.unsqueeze(1))
    terms = (margin - picked + x).clamp_min(0.0)
    if p == 2:
        terms = terms * terms
    if weight is not None:
        terms = terms * weight[y].unsqueeze(1)
    loss = where(one_hot(y, n_classes) == 0, terms, 0.0).sum(1) / n_classes  # the classes j != y
    loss = loss.squeeze(0) if unbatched else loss
    return _reduce(loss, reduction)


@tensor_arguments
def multilabel_soft_margin_loss(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
) -> Tensor:
    """``-mean_c (y log sigmoid(x) + (1 - y) log sigmoid(-x))`` per sample."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    loss = -(target * logsigmoid(input) + (1 - target) * logsigmoid(-input))
    if weight is not None:
        loss = loss * weight
    loss = loss.sum(-1) / input.shape[-1]
    return _reduce(loss, reduction)


@tensor_arguments
def triplet_margin_loss(
    anchor: Tensor,
    positive: Tensor,
    negative: Tensor,
    margin: float = 1.0,
    p: float = 2,
    eps: float = 1e-6,
    swap: bool = False,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
) -> Tensor:
    """``max(0, margin + d(a, p) - d(a, n))`` with ``d`` the pairwise p-distance; with
    ``swap``, d(a, n) is the smaller of it and d(p, n)."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    to_positive = pairwise_distance(anchor, positive, p, eps)
    to_negative = pairwise_distance(anchor, negative, p, eps)
    if swap:
        to_negative = to_negative.minimum(pairwise_distance(positive, negative, p, eps))
    return _reduce((margin + to_positive - to_negative).clamp_min(0.0), reduction)
