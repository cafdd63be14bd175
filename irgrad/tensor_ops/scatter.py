"""Writing at indexed positions: ``scatter`` (also with the deprecated ``reduce=``),
``scatter_add``, ``scatter_reduce`` and ``masked_scatter``, with their in-place forms.

Each is a composite of the primitives ``scatter``, ``scatter_add``, ``scatter_reduce``
(:mod:`irgrad.ops.scatter`), ``index`` and ``where``, so autograd and the tracer see
ordinary ops, and index values are checked by ``assert_range`` ops (compiled code
checks them too).  A 0-d tensor counts as a one-element 1-d one, as in PyTorch.
"""

from __future__ import annotations

import warnings
from numbers import Number

import numpy as np

from .. import _tracing
from .._arguments import tensor_arguments
from ..creation import ensure_tensor
from ..dispatch import apply, const
from ..dtypes import FLOAT, bool_
from ..ops import OPS
from ..ops.shapes import broadcast_shapes, fmt, normalize_dim
from ..recording.function import Function
from ..recording.grad_mode import STATE
from ..tensor import Tensor
from . import pointwise as P
from .indexing import at_least_1d, check_index_range, check_range, checked_index_dtype
from .writes import update_inplace

SCATTER_REDUCES = ("sum", "prod", "mean", "amax", "amin")


def _check_shapes(input: Tensor, d: int, index: Tensor, src: Tensor | None) -> None:
    """PyTorch's shape rules: ``index`` has ``input``'s (and ``src``'s) rank and is no
    larger than ``src``, nor than ``input`` apart from ``dim`` (an empty index passes)."""
    rank = max(input._data.ndim, 1)
    if max(index._data.ndim, 1) != rank:
        raise RuntimeError(
            f"Index tensor must have the same number of dimensions as self tensor "
            f"(self {fmt(input.shape)}, index {fmt(index.shape)})"
        )
    if src is not None and max(src._data.ndim, 1) != rank:
        raise RuntimeError(
            f"Index tensor must have the same number of dimensions as src tensor "
            f"(src {fmt(src.shape)}, index {fmt(index.shape)})"
        )
    if index._data.size == 0:
        return
    x_shape, i_shape = at_least_1d(input).shape, at_least_1d(index).shape
    s_shape = at_least_1d(src).shape if src is not None else i_shape
    if any(i > s for k, (i, s) in enumerate(zip(i_shape, x_shape)) if k != d) or any(
        i > s for i, s in zip(i_shape, s_shape)
    ):
        raise RuntimeError(
            f"Expected index {fmt(i_shape)} to be no larger than self {fmt(x_shape)} apart from "
            f"dimension {d} and to be no larger size than src {fmt(s_shape)}"
        )


def _operands(op: str, input: Tensor, dim: int, index: Tensor, src) -> tuple:
    """``(x, index, src, d)`` checked as PyTorch does and ready for a primitive: 0-d
    tensors made 1-d, the index int64 and in range, a number ``src`` a filled tensor."""
    d = normalize_dim(op, dim, input._data.ndim)
    index = checked_index_dtype(op, ensure_tensor(index))
    src_t = src if isinstance(src, Tensor) else None
    _check_shapes(input, d, index, src_t)
    if src_t is not None and src_t.dtype is not input.dtype:
        raise RuntimeError(
            f"{op}(): Expected self.dtype to be equal to src.dtype (self {input.dtype}, src {src_t.dtype})"
        )
    index = at_least_1d(check_index_range(op, input, d, index))
    src = at_least_1d(src_t) if src_t is not None else const(np.full(index._data.shape, src), input.dtype)
    return at_least_1d(input), index, src, d


def _shaped_like(out: Tensor, input: Tensor) -> Tensor:
    return out.reshape(()) if input._data.ndim == 0 else out


@tensor_arguments
def scatter_add(input: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:
    """``input`` with each ``src`` element added at its ``index`` along ``dim``."""
    x, index, src, d = _operands("scatter_add", input, dim, index, ensure_tensor(src, input.dtype))
    return _shaped_like(apply(OPS["scatter_add"], (x, index, src), {"dim": d}), input)


class _NoDerivative(Function):
    """A value PyTorch defines no derivative for: backward raises as PyTorch's does."""

    @staticmethod
    def forward(ctx, compute, *inputs):
        return compute()

    @staticmethod
    def backward(ctx, grad):
        raise RuntimeError("derivative for aten::scatter is not implemented")


@tensor_arguments
def scatter(
    input: Tensor,
    dim: int,
    index: Tensor,
    src: Tensor | Number | None = None,
    *,
    value: Number | None = None,
    reduce=None,
) -> Tensor:
    """``input`` with ``src`` (a tensor or a number; or ``value``) written at ``index``
    along ``dim``; where an index repeats, the last write wins.  ``reduce='add'`` or
    ``'multiply'`` combines instead (deprecated in PyTorch, which defines no gradient)."""
    if src is None:
        src = value
    if src is None:
        raise TypeError("scatter() missing 1 required positional argument: 'src' (or 'value')")
    if reduce is not None and reduce not in ("add", "multiply"):
        raise RuntimeError(f"reduce argument must be either add or multiply (got {reduce!r}).")
    x, index, src_t, d = _operands("scatter", input, dim, index, src)
    if reduce is None:
        return _shaped_like(apply(OPS["scatter"], (x, index, src_t), {"dim": d}), input)
    if isinstance(src, Tensor):
        warnings.warn(
            "The reduce argument of torch.scatter with Tensor src is deprecated and will be removed in a "
            "future PyTorch release. Use torch.scatter_reduce instead for more reduction options.",
            UserWarning,
            stacklevel=2,
        )

    def combine() -> Tensor:
        if reduce == "add":
            return apply(OPS["scatter_add"], (x, index, src_t), {"dim": d})
        attrs = {"dim": d, "reduce": "prod", "include_self": True}
        return apply(OPS["scatter_reduce"], (x, index, src_t), attrs)

    if STATE.enabled and (x._rg or src_t._rg):
        _tracing.untraceable("scatter(reduce=...) of tensors that require grad (no derivative defined)")
        return _shaped_like(_NoDerivative.apply(combine, x, src_t), input)
    return _shaped_like(combine(), input)


@tensor_arguments
def scatter_reduce(
    input: Tensor, dim: int, index: Tensor, src: Tensor, reduce: str, *, include_self: bool = True
) -> Tensor:
    """``input`` with ``src`` combined in at ``index`` along ``dim`` by ``reduce`` ('sum',
    'prod', 'mean', 'amax' or 'amin'), starting from ``input``'s element or, without
    ``include_self``, from the written elements alone; gradients as PyTorch's."""
    if reduce not in SCATTER_REDUCES:
        raise RuntimeError(f"reduce argument must be either sum, prod, mean, amax or amin, got {reduce}")
    if not isinstance(include_self, bool):
        raise TypeError(
            f"scatter_reduce(): argument 'include_self' must be bool, not {type(include_self).__name__}"
        )
    if not isinstance(src, Tensor):
        raise TypeError(
            f"scatter_reduce(): argument 'src' (position 3) must be Tensor, not {type(src).__name__}"
        )
    if reduce == "mean" and input.dtype is bool_:
        raise NotImplementedError("\"scatter_gather_tensor_cpu_reduce_mean\" not implemented for 'Bool'")
    x, index, src, d = _operands("scatter_reduce", input, dim, index, src)
    if reduce not in ("sum", "mean"):
        attrs = {"dim": d, "reduce": reduce, "include_self": include_self}
        return _shaped_like(apply(OPS["scatter_reduce"], (x, index, src), attrs), input)
    start = x if include_self else cleared(x, index, src, d)
    total = apply(OPS["scatter_add"], (start, index, src), {"dim": d})
    if reduce == "mean":
        total = divided_by_count(total, x, index, src, d, include_self)
    return _shaped_like(total, input)


def _filled(like: Tensor, value) -> Tensor:
    """``value`` in ``like``'s shape and dtype (an op, not a constant as large as ``like``)."""
    return apply(OPS["full_like"], (like,), {"value": value})


def cleared(x: Tensor, index: Tensor, src: Tensor, d: int) -> Tensor:
    """``x`` with zeros at the positions ``index`` writes (PyTorch's start without self)."""
    return apply(OPS["scatter"], (x, index, _filled(src, 0)), {"dim": d})


def divided_by_count(
    total: Tensor, x: Tensor, index: Tensor, src: Tensor, d: int, include_self: bool
) -> Tensor:
    """A scatter mean: ``total`` over the number of elements combined at each position
    (1 where none), counted in ``x``'s dtype; integers divide rounding down, as PyTorch."""
    start = _filled(x, 1 if include_self else 0)
    count = apply(OPS["scatter_add"], (start, index, _filled(src, 1)), {"dim": d})
    count = P.where(P.eq(count, 0), const(1, x.dtype), count)
    return P.div(total, count) if x.dtype.category == FLOAT else P.floor_divide(total, count)


@tensor_arguments
def masked_scatter(input: Tensor, mask: Tensor, source: Tensor) -> Tensor:
    """``input`` (broadcast with ``mask``) with ``source``'s elements, taken in order,
    written where ``mask`` holds; gradients to both (``source``'s unused tail gets zeros)."""
    mask = ensure_tensor(mask)
    if mask.dtype is not bool_:
        raise RuntimeError(
            f"masked_scatter_ only supports boolean masks, but got mask with dtype {mask.dtype.scalar_type}"
        )
    if source.dtype is not input.dtype:
        raise RuntimeError(
            f"masked_scatter: expected self and source to have same dtypes but got "
            f"{input.dtype.scalar_type} and {source.dtype.scalar_type}"
        )
    shape = broadcast_shapes("masked_scatter", input._data.shape, mask._data.shape)
    mask = mask.expand(shape)
    available = source._data.size
    flat_mask = mask.reshape(-1)
    # each written element's position in source: the running count of writes so far
    taken = P.where(flat_mask, P.sub(flat_mask.cumsum(0), 1), -1)
    message = "masked_scatter: Number of elements of source < number of ones in mask ({high} elements)"
    taken = check_range(taken, -1, available, "RuntimeError", message)
    if available == 0:  # nothing is written (the check passed)
        return P.where(mask, const(0, input.dtype), input)
    picked = apply(OPS["index"], (source.reshape(-1), P.clamp(taken, min=0)), {"spec": (Ellipsis,)})
    return P.where(mask, picked.reshape(shape), input)


@tensor_arguments
def scatter_(
    self: Tensor,
    dim: int,
    index: Tensor,
    src: Tensor | Number | None = None,
    *,
    value: Number | None = None,
    reduce=None,
) -> Tensor:
    def compute(old: Tensor) -> Tensor:
        return scatter(old, dim, index, src, value=value, reduce=reduce)

    return update_inplace(self, compute, src, name="scatter_")


@tensor_arguments
def scatter_add_(self: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:
    return update_inplace(self, lambda old: scatter_add(old, dim, index, src), src, name="scatter_add_")


@tensor_arguments
def scatter_reduce_(
    self: Tensor, dim: int, index: Tensor, src: Tensor, reduce: str, *, include_self: bool = True
) -> Tensor:
    def compute(old: Tensor) -> Tensor:
        return scatter_reduce(old, dim, index, src, reduce, include_self=include_self)

    return update_inplace(self, compute, src, name="scatter_reduce_")


@tensor_arguments
def masked_scatter_(self: Tensor, mask: Tensor, source: Tensor) -> Tensor:
    """In place: ``mask`` must broadcast to ``self``'s shape (``self`` cannot grow)."""
    mask = ensure_tensor(mask)
    target = self._data.shape
    if broadcast_shapes("masked_scatter_", target, mask._data.shape) != target:
        raise RuntimeError(
            f"masked_scatter_: The expanded size of the mask {fmt(mask.shape)} must match the "
            f"existing size of self {fmt(target)}"
        )
    return update_inplace(self, lambda old: masked_scatter(old, mask, source), source, name="masked_scatter_")
