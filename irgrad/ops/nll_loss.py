"""``nll_loss`` and its gradient ``nll_loss_grad``: the negative log-likelihood of class
targets, one op each way.

As a composite, ``nll_loss`` is a gather of each target's entry of ``logp`` along the
class dim (1, or 0 for 1-D input), a mask of the ignored targets and a reduction: several
dispatched ops, and as many backward nodes, for a classifier's commonest loss. Here each
way is one kernel (a native loop from :mod:`irgrad.native.loss` where there is one, numpy
otherwise). ``nll_loss_grad`` writes ``-g`` (over the count, for ``'mean'``) at each
counted target; it is linear in ``g`` with ``nll_loss``'s coefficients, so its gradient
is ``nll_loss`` again and the pair differentiates to any order.
"""

from __future__ import annotations

import numpy as np

from ..dtypes import FLOAT, INT
from ..native import loss as native_loss
from .registry import Kind, Meta, OpDef, register
from .shapes import fmt


def _class_dim(logp_ndim: int) -> int:
    return 0 if logp_ndim == 1 else 1


def _nll_targets(target: np.ndarray, ignore_index: int) -> tuple[tuple, np.ndarray]:
    """(an index of ``logp`` that picks each target's class, with ignored targets pointing
    at class 0 so they index safely; the counted-target mask)."""
    valid = target != ignore_index
    safe = np.where(valid, target, 0)
    if target.ndim == 0:
        return (safe,), valid
    if target.ndim == 1:
        return (np.arange(target.shape[0]), safe), valid
    grids = np.indices(target.shape, sparse=True)
    return (grids[0], safe, *grids[1:]), valid


def _nll_loss_kernel(logp, target, *, ignore_index, reduction):
    native = native_loss.nll_loss(logp, target, ignore_index, reduction)
    if native is not None:
        return native
    at, valid = _nll_targets(target, ignore_index)
    picked = np.where(valid, np.negative(logp[at]), logp.dtype.type(0))
    if reduction == "none":
        return picked
    total = np.add.reduce(picked, axis=None, dtype=np.float64).astype(picked.dtype)  # as the native kernel
    if reduction == "sum":
        return total
    count = np.count_nonzero(valid)
    # Every target ignored: 0/0 is nan, as in PyTorch (without numpy's warning).
    return total / logp.dtype.type(count) if count else np.array(np.nan, dtype=logp.dtype)


def _infer_nll_loss(logp: Meta, target: Meta, *, ignore_index, reduction) -> Meta:
    cdim = _class_dim(len(logp.shape))
    expected = tuple(logp.shape[:cdim]) + tuple(logp.shape[cdim + 1 :])
    if len(logp.shape) < 1 or tuple(target.shape) != expected:
        raise RuntimeError(
            f"nll_loss: expected target of shape {fmt(expected)} for input of shape {fmt(logp.shape)}, "
            f"got {fmt(target.shape)}"
        )
    if logp.dtype.category != FLOAT or target.dtype.category != INT:
        raise RuntimeError(
            f"nll_loss: expected a floating-point input and int64 targets, got {logp.dtype} and {target.dtype}"
        )
    if reduction not in ("none", "sum", "mean"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    return Meta(tuple(target.shape) if reduction == "none" else (), logp.dtype)


def _nll_loss_vjp(F, g, c):
    attrs = c.attrs
    grad = F.nll_loss_grad(
        g, c.ins[1], shape=c.metas[0].shape, ignore_index=attrs["ignore_index"], reduction=attrs["reduction"]
    )
    return grad, None


def _nll_loss_grad_kernel(g, target, *, shape, ignore_index, reduction):
    native = native_loss.nll_loss_grad(g, target, shape, ignore_index, reduction)
    if native is not None:
        return native
    at, valid = _nll_targets(target, ignore_index)
    scale = np.negative(g)
    if reduction == "mean":
        count = np.count_nonzero(valid)
        scale = scale / g.dtype.type(count) if count else scale  # nothing counted: every entry is 0 anyway
    out = np.zeros(shape, dtype=g.dtype)
    # One class per target position: no index repeats, so assigning (not adding) is exact.
    out[at] = np.where(valid, scale, g.dtype.type(0))
    return out


def _infer_nll_loss_grad(g: Meta, target: Meta, *, shape, ignore_index, reduction) -> Meta:
    cdim = _class_dim(len(shape))
    expected = tuple(shape[:cdim]) + tuple(shape[cdim + 1 :])
    if tuple(target.shape) != expected or tuple(g.shape) != (expected if reduction == "none" else ()):
        raise RuntimeError(
            f"nll_loss_grad: gradient {fmt(g.shape)} and target {fmt(target.shape)} do not fit an input "
            f"of shape {fmt(shape)} with reduction {reduction!r}"
        )
    return Meta(tuple(shape), g.dtype)


def _nll_loss_grad_vjp(F, g, c):
    # Linear in the incoming gradient, with nll_loss's own coefficients: its adjoint is nll_loss.
    attrs = c.attrs
    return F.nll_loss(g, c.ins[1], ignore_index=attrs["ignore_index"], reduction=attrs["reduction"]), None


register(
    OpDef(
        "nll_loss",
        Kind.LOSS,
        _nll_loss_kernel,
        _infer_nll_loss,
        _nll_loss_vjp,
        save_inputs=True,
        arity=2,
        index_bounds=lambda metas, attrs: {1: metas[0].shape[_class_dim(len(metas[0].shape))]},
        doc="`-logp[target]` along the class dim (1, or 0 for 1-D input), 0 where target == "
        "`ignore_index`; `reduction` 'none', 'sum' or 'mean' (over the counted targets).",
    )
)
register(
    OpDef(
        "nll_loss_grad",
        Kind.LOSS,
        _nll_loss_grad_kernel,
        _infer_nll_loss_grad,
        _nll_loss_grad_vjp,
        save_inputs=(1,),
        arity=2,
        index_bounds=lambda metas, attrs: {1: attrs["shape"][_class_dim(len(attrs["shape"]))]},
        doc="The gradient of `nll_loss` with respect to `logp`: zeros of `shape` with `-g` (divided by "
        "the count for 'mean') at each counted target.",
    )
)
