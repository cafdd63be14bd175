"""Negative log-likelihoods of a predicted distribution: ``binary_cross_entropy`` (and
``_with_logits``), ``poisson_nll_loss``, ``gaussian_nll_loss``, and ``kl_div``.

Each keeps finite where the textbook formula would not: binary cross-entropy clamps its
logs at -100 and takes PyTorch's gradient at 0 and 1, the logits form is ``(1 - y) x +
softplus(-x)`` (stable for any x), and ``kl_div`` is 0 where the target is 0.
"""

from __future__ import annotations

import math
import warnings

from ...._arguments import tensor_arguments
from ....tensor import Tensor
from ....tensor_ops.indexing import check_range
from ....tensor_ops.pointwise import where
from ..activation import _softplus_stable, check_log_sigmoid_dtype
from ..differentiability import reject_grad
from .reduction import _check_reduction, _legacy_reduction, _reduce, _stored_as

__all__ = [
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "kl_div",
    "poisson_nll_loss",
    "gaussian_nll_loss",
]

_LOG_MIN = math.exp(-100.0)
_BCE_EPS = 1e-12  # torch's EPSILON in binary_cross_entropy_backward


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
