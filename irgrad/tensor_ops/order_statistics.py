"""Order statistics: ``median``, ``nanmedian``, ``quantile``, ``nanquantile``, ``mode``
and ``msort``.

All four are composites of a stable sort and a gather, as PyTorch's quantile is, so
autograd and the compiler need nothing of their own. A NaN sorts last, so one count of
NaN per row says where the answer is: the first NaN for ``median`` and ``quantile`` of
a row holding one, the ranks of the non-NaN prefix for the ``nan`` variants.
"""

from __future__ import annotations

import math
from numbers import Number

import numpy as np

from .._arguments import tensor_arguments
from ..creation import arange, full_like, tensor
from ..dispatch import apply
from ..dtypes import FLOAT, bool_, float32, float64
from ..ops import OPS
from ..ops.shapes import normalize_dim
from ..tensor import Tensor
from . import pointwise as P
from .indexing import gather
from .reduce import amax, argmax, argsort, sort, values_indices
from .select import where


def _lower_median_position(sorted_nan: Tensor, n: int, d: int, ignore_nan: bool) -> Tensor:
    """Per row along ``d`` (kept, size 1): where the median sits in the sorted row.

    ``median``: ``(n - 1) // 2``, or the first NaN's position when the row holds one.
    ``nanmedian``: the lower middle of the non-NaN prefix (0 when it is empty).
    """
    nans = sorted_nan.sum(d, keepdim=True)
    if ignore_nan:
        return P.clamp_min(P.floor_divide(P.sub(n - 1, nans), 2), 0)
    return where(P.gt(nans, 0), P.sub(n, nans), (n - 1) // 2)


def _check_median_dtype(name: str, input: Tensor, kernel: str) -> None:
    if input.dtype is bool_:
        raise NotImplementedError(f"\"{kernel}\" not implemented for 'Bool' (in {name})")


def _median_along(name: str, input: Tensor, dim: int, keepdim: bool, ignore_nan: bool):
    _check_median_dtype(name, input, f"{name}_out")
    ndim = input._data.ndim
    d = normalize_dim(name, dim, ndim)
    if ndim == 0:
        return values_indices["median"](input.clone(), tensor(0))
    n = input.shape[d]
    if n == 0:
        raise IndexError(f"{name}(): Expected reduction dim {dim} to have non-zero size.")
    order = argsort(input, d)
    ranked = gather(input, d, order)
    where_at = _lower_median_position(P.isnan(ranked), n, d, ignore_nan)
    values, indices = gather(ranked, d, where_at), gather(order, d, where_at)
    if not keepdim:
        values, indices = values.squeeze(d), indices.squeeze(d)
    return values_indices["median"](values, indices)


def _median_of_all(name: str, input: Tensor, ignore_nan: bool) -> Tensor:
    """The median of every element, with PyTorch's gradient for it: shared evenly by the
    elements equal to the result (by the NaN ones when the result is NaN), as ``max()``."""
    _check_median_dtype(name, input, "median_cpu")
    flat = input.reshape(-1)
    n = flat.shape[0]
    if n == 0:
        fill = math.nan if input.dtype.category == FLOAT else np.iinfo(input._data.dtype).min
        return P.add(input.sum(), fill) if input.dtype.category == FLOAT else tensor(fill, dtype=input.dtype)
    ranked = gather(flat, 0, argsort(flat, 0))
    value = gather(ranked, 0, _lower_median_position(P.isnan(ranked), n, 0, ignore_nan)).reshape(())
    if input.dtype.category != FLOAT:
        return value
    value = value.detach()
    equal = P.logical_or(P.eq(flat, value), P.logical_and(P.isnan(flat), P.isnan(value)))
    # the elements not equal to the result are put past it, so that the extremum's ties
    # are exactly the equal ones: below it for amax, above it for amin when it is -inf
    evenly = {"dims": (0,), "keepdim": False, "evenly": True}
    from_above = apply(OPS["amax"], (where(equal, flat, -math.inf),), evenly)
    from_below = apply(OPS["amin"], (where(equal, flat, math.inf),), evenly)
    return where(P.eq(value, -math.inf), from_below, from_above)


@tensor_arguments
def median(input: Tensor, dim: int | None = None, keepdim: bool = False, *, out=None):
    """The lower median of ``input`` (a NaN anywhere makes it NaN), or with ``dim`` the
    ``(values, indices)`` of each row's, as ``torch.median``.  Among equal values the
    index is that of the lower-median element in a stable sort."""
    if dim is None:
        return _written(_median_of_all("median", input, ignore_nan=False), out)
    return _written(_median_along("median", input, dim, keepdim, ignore_nan=False), out)


@tensor_arguments
def nanmedian(input: Tensor, dim: int | None = None, keepdim: bool = False, *, out=None):
    """:func:`median` ignoring NaN (NaN only where a row holds nothing else)."""
    if dim is None:
        return _written(_median_of_all("nanmedian", input, ignore_nan=True), out)
    return _written(_median_along("nanmedian", input, dim, keepdim, ignore_nan=True), out)


def _written(result, out):
    """``result``, or with ``out=`` given, written into ``out`` (a tensor, or a pair of
    tensors for ``(values, indices)``) and returned as ``out``."""
    if out is None:
        return result
    if isinstance(result, tuple):
        return type(result)(*(P._maybe_out(r, o) for r, o in zip(result, out)))
    return P._maybe_out(result, out)


_INTERPOLATIONS = ("linear", "lower", "higher", "midpoint", "nearest")


def _quantile_levels(name: str, input: Tensor, q) -> Tensor:
    """``q`` as a 0-d or 1-d tensor of ``input``'s dtype, after PyTorch's checks."""
    if isinstance(q, Tensor):
        if q.dtype is not input.dtype:
            raise RuntimeError(f"{name}() q tensor must be same dtype as the input tensor")
        if q._data.ndim > 1:
            raise RuntimeError(f"{name}() q must be a scalar or 1D tensor")
        if q.numel() and not ((q._data >= 0) & (q._data <= 1)).all():
            raise RuntimeError(f"{name}() q values must be in the range [0, 1]")
        return q
    if not isinstance(q, Number):
        q = tensor(q, dtype=input.dtype)
        return _quantile_levels(name, input, q)
    if not 0 <= q <= 1:
        raise RuntimeError(f"{name}() q must be in the range [0, 1] but got {q}")
    return tensor(q, dtype=input.dtype)


def _quantile(name: str, input: Tensor, q, dim, keepdim: bool, interpolation: str, ignore_nan: bool):
    if input.numel() == 0:
        raise RuntimeError(f"{name}() input tensor must be non-empty")
    if input.dtype not in (float32, float64):
        raise RuntimeError(f"{name}() input tensor must be either float or double dtype")
    levels = _quantile_levels(name, input, q)
    if interpolation not in _INTERPOLATIONS:
        raise RuntimeError(
            f"{name}() interpolation must be one of linear, lower, higher, midpoint or nearest, "
            f"but got {interpolation}"
        )
    ndim = input._data.ndim
    if dim is None:
        rows = input.reshape(-1)
        shape = (1,) * ndim if keepdim else ()
    else:
        d = normalize_dim(name, dim, ndim)
        rows = input.movedim(d, -1) if ndim else input.reshape(1)
        shape = tuple(1 if i == d else s for i, s in enumerate(input.shape)) if keepdim else rows.shape[:-1]
    ranked = gather(rows, -1, argsort(rows, -1))
    nans = P.isnan(ranked)
    steps = levels.reshape(-1)
    if ignore_nan:
        last = P.sub(P.logical_not(nans).sum(-1, keepdim=True), 1)
        ranks = P.mul(steps, last)
        ranks = where(P.lt(ranks, 0), 0.0, ranks)
    else:
        last = ranked.shape[-1] - 1
        ranks = where(nans.any(-1, keepdim=True), float(last), P.mul(steps, last))
    ranks = ranks.expand(*ranked.shape[:-1], steps.shape[0])
    if interpolation == "lower":
        ranks = P.floor(ranks)
    elif interpolation == "higher":
        ranks = P.ceil(ranks)
    elif interpolation == "nearest":
        ranks = P.round(ranks)
    below = ranks.long()
    result = gather(ranked, -1, below)
    if interpolation in ("linear", "midpoint"):
        weights = full_like(ranks, 0.5) if interpolation == "midpoint" else P.sub(ranks, below)
        result = P.lerp(result, gather(ranked, -1, P.ceil(ranks).long()), weights)
    result = result.movedim(-1, 0).reshape(steps.shape[0], *shape)
    return result.reshape(shape) if levels._data.ndim == 0 else result


def _quantile_function(name: str, ignore_nan: bool, doc: str):
    def fn(
        input: Tensor,
        q: Tensor | Number,
        dim: int | None = None,
        keepdim: bool = False,
        *,
        interpolation: str = "linear",
        out=None,
    ) -> Tensor:
        return P._maybe_out(_quantile(name, input, q, dim, keepdim, interpolation, ignore_nan), out)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc
    return tensor_arguments(fn)


quantile = _quantile_function(
    "quantile",
    False,
    """The ``q``-th quantiles of ``input`` (of every element, or of each row along ``dim``),
    as ``torch.quantile``: a 1-d ``q`` puts its dimension first; a row holding NaN gives
    NaN; ``interpolation`` picks between the two ranks around ``q * (n - 1)``.""",
)
nanquantile = _quantile_function(
    "nanquantile", True, """:func:`quantile` ignoring NaN (NaN only for a row holding nothing else)."""
)


@tensor_arguments
def msort(input: Tensor, *, out=None) -> Tensor:
    """``input`` sorted along dim 0 (the values of ``sort(input, 0)``)."""
    return P._maybe_out(sort(input, 0).values, out)


def _same(a: Tensor, b: Tensor) -> Tensor:
    """``a == b``, NaN counting as equal to NaN."""
    return P.logical_or(P.eq(a, b), P.logical_and(P.isnan(a), P.isnan(b)))


@tensor_arguments
def mode(input: Tensor, dim: int = -1, keepdim: bool = False, *, out=None):
    """``(values, indices)``: each row's most frequent value along ``dim`` (the smallest of
    equally frequent ones; NaN only when it is strictly the most frequent) and the last
    position holding it, which takes the gradient, as ``torch.mode``. It compares every
    pair of a row's elements (n^2 per row)."""
    ndim = input._data.ndim
    d = normalize_dim("mode", dim, ndim)
    if ndim == 0:
        return _written(values_indices["mode"](input.clone(), tensor(0)), out)
    n = input.shape[d]
    if n == 0:
        raise IndexError(f"mode(): Expected reduction dim {dim} to have non-zero size.")
    ranked = gather(input, d, argsort(input, d)).detach()
    counts = _same(ranked.unsqueeze(d + 1), ranked.unsqueeze(d)).sum(d + 1)
    value = gather(ranked, d, argmax(counts, d, keepdim=True))
    positions = arange(n).reshape([n if i == d else 1 for i in range(ndim)])
    indices = amax(where(_same(input.detach(), value), positions, -1), d, keepdim=True)
    values = gather(input, d, indices)
    if not keepdim:
        values, indices = values.squeeze(d), indices.squeeze(d)
    return _written(values_indices["mode"](values, indices), out)
