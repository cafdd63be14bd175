"""Class-index losses: ``nll_loss`` and ``cross_entropy`` (class indices or probabilities).

Class-index losses are one ``nll_loss`` op (a gather of the target
log-probabilities, masked by ``ignore_index`` and reduced; no one-hot matmul).
With per-class weights they are composites: the weights and the mask become one
coefficient array, and ``mean`` divides by the summed weight of the counted
targets, as PyTorch does.  The target and weight checks raise PyTorch's errors.
"""

from __future__ import annotations

import numpy as np

from ...._arguments import tensor_arguments
from ....dispatch import apply
from ....dtypes import FLOAT
from ....ops import OPS
from ....tensor import Tensor
from ....tensor_ops.indexing import check_range
from ....tensor_ops.pointwise import where
from ..activation import log_softmax
from ..differentiability import reject_grad
from .reduction import _check_reduction, _legacy_reduction

__all__ = ["nll_loss", "cross_entropy"]

_NLL = OPS["nll_loss"]


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
