"""Functional losses (cross_entropy, nll_loss, mse_loss ...) with PyTorch's options and numerics.

Class-index losses are one ``nll_loss`` op (a gather of the target
log-probabilities, masked by ``ignore_index`` and reduced; no one-hot matmul).
With per-class weights they are composites: the weights and the mask become one
coefficient array, and ``mean`` divides by the summed weight of the counted
targets, as PyTorch does.  Log-space formulas keep every loss finite.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from ..._arguments import tensor_arguments
from ...dispatch import apply
from ...dtypes import FLOAT
from ...ops import OPS
from ...tensor import Tensor
from ...tensor_ops.indexing import check_range, one_hot
from ...tensor_ops.pointwise import where
from .activation import _softplus_stable, check_log_sigmoid_dtype, log_softmax, logsigmoid
from .differentiability import reject_grad
from .layers import pairwise_distance

__all__ = [
    "mse_loss",
    "l1_loss",
    "smooth_l1_loss",
    "huber_loss",
    "nll_loss",
    "cross_entropy",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "kl_div",
    "soft_margin_loss",
    "margin_ranking_loss",
    "cosine_embedding_loss",
    "poisson_nll_loss",
    "hinge_embedding_loss",
    "gaussian_nll_loss",
    "multi_margin_loss",
    "multilabel_soft_margin_loss",
    "triplet_margin_loss",
]

_LOG_MIN = math.exp(-100.0)
_BCE_EPS = 1e-12  # torch's EPSILON in binary_cross_entropy_backward
_NLL = OPS["nll_loss"]


def _legacy_reduction(size_average, reduce, reduction: str) -> str:
    """Map the deprecated ``size_average``/``reduce`` flags to a reduction string."""
    if size_average is None and reduce is None:
        return reduction
    warnings.warn(
        "size_average and reduce args will be deprecated, please use reduction='{}' instead.".format(
            "none" if reduce is False else ("sum" if size_average is False else "mean")
        ),
        stacklevel=3,
    )
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    if size_average and reduce:
        return "mean"
    return "sum" if reduce else "none"


def _stored_as(loss: Tensor, like: Tensor) -> Tensor:
    """``loss`` cast to ``like``'s dtype, as PyTorch's kernels that write a loss computed in
    the promoted type into a tensor of one argument's type (an in-place op or an output
    made with ``empty_like``); PyTorch's error where a float does not fit that type."""
    if loss.dtype is like.dtype:
        return loss
    if loss.dtype.category == FLOAT and like.dtype.category != FLOAT:
        raise RuntimeError(
            f"result type {loss.dtype.scalar_type} can't be cast to the desired output type "
            f"{like.dtype.scalar_type}"
        )
    return loss.to(like.dtype)


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "none":
        return loss
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    raise ValueError(f"{reduction} is not a valid value for reduction")


def _check_reduction(reduction: str) -> None:
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"{reduction} is not a valid value for reduction")


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


def _class_dim(input: Tensor) -> int:
    return 0 if input.dim() == 1 else 1


def _check_targets(name: str, input: Tensor, target: Tensor, ignore_index: int) -> Tensor:
    """Validate class-index targets (dtype, shape, range), raising PyTorch's errors.

    Returns the target behind an ``assert_range`` op (so compiled code checks the range
    too); what the loss computes from the targets is built with ops (the ``nll_loss``
    primitive, or :func:`_mask_targets`), so a tracer
    sees that it depends on the target.
    """
    if input.dim() < 1:
        raise ValueError(f"Expected 1 or more dimensions (got {input.dim()})")
    t = target._data
    if input.dim() == 1 and t.ndim == 1 and t.shape[0] != 1:
        raise ValueError(f"For 1D input, 1D target must have size 1, but got target size: {t.shape[0]}")
    if t.dtype not in (np.int64, np.uint8):  # as PyTorch's kernels, which take no int32 targets
        raise RuntimeError(
            f"{name}: expected target dtype to be Long or Byte, but got {target.dtype.scalar_type} "
            f"(target of shape {list(t.shape)})"
        )
    if input.dim() >= 2 and t.ndim >= 1 and t.shape[0] != input.shape[0]:
        raise ValueError(
            f"Expected input batch_size ({input.shape[0]}) to match target batch_size ({t.shape[0]})."
        )
    expected = tuple(input.shape[:1]) + tuple(input.shape[2:]) if input.dim() >= 2 else ()
    if tuple(t.shape) != expected:
        raise RuntimeError(
            f"{name}: expected target of shape {list(expected)} for input of shape {list(input.shape)}, "
            f"got {list(t.shape)}"
        )
    n_classes = input._data.shape[_class_dim(input)]
    message = "Target {value} is out of bounds."
    return check_range(target, 0, n_classes, "IndexError", message, ignore=ignore_index)


def _mask_targets(target: Tensor, ignore_index: int) -> tuple[Tensor, Tensor]:
    """(targets with ignored ones set to 0, valid mask), as tensor ops."""
    valid = target != ignore_index
    return where(valid, target, 0), valid


def _nll(logp: Tensor, target: Tensor, weight: Tensor | None, ignore_index: int, reduction: str) -> Tensor:
    """The loss of validated targets given log-probabilities: one ``nll_loss`` op, or
    (with class weights) the composite over gathered entries."""
    if weight is None:
        return apply(_NLL, (logp, target), {"ignore_index": ignore_index, "reduction": reduction})
    safe, valid = _mask_targets(target, ignore_index)
    return _nll_from_logp(logp, safe, valid, weight, reduction)


def _pick(input: Tensor, safe: Tensor) -> Tensor:
    """``input`` at the target class along the class dim, shaped like the target."""
    cdim = _class_dim(input)
    return input.gather(cdim, safe.unsqueeze(cdim)).squeeze(cdim)


def _coef(safe: Tensor, valid: Tensor, weight: Tensor | None, dtype) -> Tensor:
    """Each target's weight in the loss: its class weight (or 1), and 0 where ignored."""
    mask = valid.to(dtype)
    return weight.to(dtype)[safe] * mask if weight is not None else mask


def _nll_from_logp(
    logp: Tensor, safe: Tensor, valid: Tensor, weight: Tensor | None, reduction: str
) -> Tensor:
    coef = _coef(safe, valid, weight, logp.dtype)
    picked = _pick(logp, safe) * coef
    if reduction == "none":
        return -picked
    total = picked.sum()
    if reduction == "sum":
        return -total
    return -total / coef.sum()  # 0/0 gives nan when every target is ignored, as in PyTorch


@tensor_arguments
def nll_loss(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average=None,
    ignore_index: int = -100,
    reduce=None,
    reduction: str = "mean",
) -> Tensor:
    """Negative log-likelihood of class-index targets given log-probabilities (N, C, d1, ...)."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    target = _check_targets("nll_loss", input, target, ignore_index)
    _check_weight(input, weight)
    _reject_weight_grad(input, weight)
    return _nll(input, target, weight, ignore_index, reduction)


def _reject_weight_grad(input: Tensor, weight: Tensor | None) -> None:
    """PyTorch's nll_loss kernels (2-D inputs through nll_loss2d) take no gradient for ``weight``."""
    reject_grad("nll_loss_forward" if input.dim() < 3 else "nll_loss2d_forward", weight=weight)


def _check_weight(input: Tensor, weight: Tensor | None) -> None:
    if weight is not None:
        n_classes = input.shape[_class_dim(input)]
        if weight.dim() != 1 or weight.shape[0] != n_classes:
            raise RuntimeError(
                f"weight tensor should be defined either for all {n_classes} classes or no classes but got "
                f"weight tensor of shape: {list(weight.shape)}"
            )


def _class_broadcast(weight: Tensor, input: Tensor) -> Tensor:
    shape = [1] * input.dim()
    shape[_class_dim(input)] = weight.shape[0]
    return weight.reshape(shape)


@tensor_arguments
def cross_entropy(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average=None,
    ignore_index: int = -100,
    reduce=None,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """``nll_loss(log_softmax(input))`` for class indices, or ``-sum(p * log_softmax)`` for probabilities.

    ``label_smoothing`` mixes the target with the uniform distribution, as PyTorch.
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    _check_weight(input, weight)
    cdim = _class_dim(input)
    n_classes = input.shape[cdim]
    if target.dtype.category == FLOAT:
        return _cross_entropy_probs(input, target, weight, reduction, label_smoothing)
    target = _check_targets("cross_entropy", input, target, ignore_index)
    _reject_weight_grad(input, weight)
    logp = log_softmax(input, cdim)
    nll = _nll(logp, target, weight, ignore_index, reduction)
    if label_smoothing == 0.0:
        return nll
    safe, valid = _mask_targets(target, ignore_index)
    weighted = logp * _class_broadcast(weight, input) if weight is not None else logp
    smooth = -where(valid, weighted.sum(cdim), 0.0)  # ignored rows select 0 (a mask product: -inf * 0)
    if reduction == "none":
        ret = smooth
    elif reduction == "sum":
        ret = smooth.sum()
    else:
        ret = smooth.sum() / _coef(safe, valid, weight, logp.dtype).sum()
    return nll * (1 - label_smoothing) + ret * (label_smoothing / n_classes)


def _cross_entropy_probs(
    input: Tensor, target: Tensor, weight: Tensor | None, reduction: str, label_smoothing: float
) -> Tensor:
    if tuple(target.shape) != tuple(input.shape):
        raise RuntimeError(
            f"cross_entropy: expected probability targets of the input's shape {list(input.shape)}, "
            f"got {list(target.shape)}"
        )
    cdim = _class_dim(input)
    n_classes = input.shape[cdim]
    logp = log_softmax(input, cdim)
    if label_smoothing > 0:
        target = target * (1 - label_smoothing) + label_smoothing / n_classes
    prod = logp * target
    if weight is not None:
        prod = prod * _class_broadcast(weight, input)
    if reduction == "none":
        return -prod.sum(cdim)
    if reduction == "sum":
        return -prod.sum()
    count = input.numel() / n_classes if n_classes else 0
    return -prod.sum() / count if count else prod.sum() * float("nan")


@tensor_arguments
def binary_cross_entropy(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
) -> Tensor:
    """``-w (y log x + (1 - y) log(1 - x))`` with each log clamped to >= -100, as PyTorch."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(
            f"Using a target size ({target.shape}) that is different to the input size ({input.shape}) is "
            "deprecated. Please ensure they have the same size."
        )
    reject_grad("binary_cross_entropy", weight=weight)
    if target.dtype is not input.dtype:
        raise RuntimeError(f"Found dtype {target.dtype.scalar_type} but expected {input.dtype.scalar_type}")
    message = "all elements of input should be between 0 and 1"
    input = check_range(input, 0.0, 1.0, "RuntimeError", message, closed=True)
    x = input.detach()
    log_x = _clamped_log(x)
    log_1mx = _clamped_log(1.0 - x)
    loss = -(log_1mx + target * (log_x - log_1mx))  # the value; carries target's gradient only
    if input.requires_grad:
        # input's gradient is torch's binary_cross_entropy_backward, (x - y) / max(x (1 - x),
        # 1e-12): the clamped logs would give 0 at x = 0 or 1, where a sigmoid saturates.
        slope = ((x - target) / (x * (1.0 - x)).clamp_min(_BCE_EPS)).detach()
        loss = loss + (input - x) * slope  # input - x is exactly 0: the value is unchanged
    if weight is not None:
        loss = _stored_as(loss * weight, input)
    return _reduce(loss, reduction)


def _clamped_log(x: Tensor) -> Tensor:
    """``max(log(x), -100)`` whose gradient is 0 (not nan) where the clamp is active."""
    ok = x > _LOG_MIN
    return where(ok, where(ok, x, 1.0).log(), -100.0)


@tensor_arguments
def binary_cross_entropy_with_logits(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
    pos_weight: Tensor | None = None,
) -> Tensor:
    """``BCE(sigmoid(x), y)`` computed from logits: ``(1 - y) x + softplus(-x)`` (stable for any x)."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(f"Target size ({target.shape}) must be the same as input size ({input.shape})")
    reject_grad("binary_cross_entropy_with_logits", weight=weight, pos_weight=pos_weight)
    # torch's form, (1 - y) x + softplus(-x): softplus(x) - x y would be inf - inf at x = +inf.
    # PyTorch computes it in place in (1 - y), so the loss has the target's dtype (softplus
    # and its pos_weight product, in place in it too, the input's)
    check_log_sigmoid_dtype(input)
    sp_neg = _softplus_stable(-input)
    if pos_weight is not None:
        log_weight = (pos_weight - 1) * target + 1
        sp_neg = _stored_as(log_weight * sp_neg, input)
    loss = _stored_as(_stored_as((1 - target) * input, target) + sp_neg, target)
    if weight is not None:
        loss = _stored_as(loss * weight, target)
    return _reduce(loss, reduction)


@tensor_arguments
def kl_div(
    input: Tensor,
    target: Tensor,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
    log_target: bool = False,
) -> Tensor:
    """``target * (log(target) - input)`` (0 where target is 0); ``input`` holds log-probabilities."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if reduction == "mean":
        warnings.warn(
            "reduction: 'mean' divides the total loss by both the batch size and the support size."
            "'batchmean' divides only by the batch size, and aligns with the KL div math definition."
            "'mean' will be changed to behave the same as 'batchmean' in the next major release.",
            stacklevel=2,
        )
    if log_target:
        loss = target.exp() * (target - input)
    else:
        safe = where(target == 0, 1.0, target)  # xlogy: 0 at 0; NaN for NaN or negative targets, as torch
        loss = target * safe.log() - target * input
    if reduction == "batchmean":
        total = loss.sum()
        return total / input.shape[0] if input.dim() != 0 else total
    return _reduce(loss, reduction)


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
def poisson_nll_loss(
    input: Tensor,
    target: Tensor,
    log_input: bool = True,
    full: bool = False,
    size_average=None,
    eps: float = 1e-8,
    reduce=None,
    reduction: str = "mean",
) -> Tensor:
    """Poisson negative log-likelihood: ``exp(x) - y x`` (log_input) or ``x - y log(x + eps)``."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if log_input:
        loss = input.exp() - target * input
    else:
        loss = input - target * (input + eps).log()
    if full:
        safe = where(target > 1, target, 1.0)
        stirling = safe * safe.log() - safe + (safe * (2 * math.pi)).log() * 0.5
        loss = loss + where(target > 1, stirling, 0.0)
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
def gaussian_nll_loss(
    input: Tensor,
    target: Tensor,
    var: Tensor,
    full: bool = False,
    eps: float = 1e-6,
    reduction: str = "mean",
) -> Tensor:
    """``0.5 (log(var) + (input - target)^2 / var)`` (+ ``0.5 log(2 pi)`` with ``full``).

    ``var`` may lack the last dim or have size 1 there (one variance per sample).  It is
    clamped to at least ``eps`` for the value only: as in torch, the clamp passes the
    gradient through unchanged.
    """
    _check_reduction(reduction)
    if tuple(var.shape) != tuple(input.shape):
        if tuple(input.shape[:-1]) == tuple(var.shape):
            var = var.unsqueeze(-1)
        elif not (tuple(input.shape[:-1]) == tuple(var.shape[:-1]) and var.shape[-1] == 1):
            raise ValueError("var is of incorrect size")
    var = check_range(
        var, 0.0, math.inf, "ValueError", "var has negative entry/entries", closed=True, nan_ok=True
    )
    held = var.detach()
    var = where(held < eps, var - held + eps, var)  # eps in value below it, var's own gradient
    loss = 0.5 * (var.log() + (input - target) ** 2 / var)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
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
