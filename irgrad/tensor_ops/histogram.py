"""``histc`` and ``histogram``: counts of a float tensor's elements in equal-width bins, as PyTorch's.

PyTorch places an element by linear interpolation in the input's dtype (float for
half), ``int((x - min) * bins / (max - min))``, with ``max`` itself in the last bin
and elements outside ``[min, max]`` (and NaN) not counted; the counts have the
input's dtype.  With ``min == max`` the range is the data's, widened by 1 on each side
when the data are all equal.  That range is computed by ops and checked by an
``assert_range`` op, so a compiled ``histc`` needs no graph break.
"""

from __future__ import annotations

import math
from collections import namedtuple

import numpy as np

from .. import _tracing
from .._arguments import tensor_arguments
from ..dispatch import apply, cast, const
from ..dtypes import FLOAT, float16, float32, float64, int64
from ..ops import OPS
from ..tensor import Tensor
from . import pointwise as P
from .indexing import check_range
from .reduce import amax, amin
from .split_join import stack


@tensor_arguments
def histc(input: Tensor, bins: int = 100, min=0, max=0) -> Tensor:  # noqa: A002
    """The histogram of ``input`` (flattened) in ``bins`` bins over ``[min, max]`` (over
    the data's range when ``min == max``); float inputs only, as in PyTorch."""
    if input.dtype.category != FLOAT:
        raise NotImplementedError(f"\"histogram_cpu\" not implemented for '{input.dtype.scalar_type}'")
    if bins <= 0:
        raise RuntimeError(f"torch.histogram(): bins must be > 0, but got {bins} for dimension 0")
    low, high = float(min), float(max)
    flat = input.reshape(-1)
    if low == high and flat._data.size:
        low_t, high_t = _data_range(flat)
    else:
        if low == high:
            low, high = low - 1, high + 1
        if not (math.isfinite(low) and math.isfinite(high)):
            raise RuntimeError(f"torch.histc: range of [{low:g}, {high:g}] is not finite")
        if not low < high:
            raise RuntimeError("torch.histc: max must be larger than min")
        low_t, high_t = const(low, input.dtype), const(high, input.dtype)
    return _counts(flat, bins, low_t, high_t)


def _data_range(flat: Tensor) -> tuple[Tensor, Tensor]:
    """The data's smallest and largest element in ``flat``'s dtype, computed in float64
    (widened by 1 each way when equal) and checked to be finite, as PyTorch does."""
    low, high = cast(amin(flat), float64), cast(amax(flat), float64)
    same = P.eq(low, high)
    ends = stack([P.where(same, P.sub(low, 1), low), P.where(same, P.add(high, 1), high)])
    message = "torch.histc: range of [min, max] of the input is not finite (found {value})"
    ends = check_range(ends, -np.finfo(np.float64).max, math.inf, "RuntimeError", message)
    ends = cast(ends, flat.dtype)
    return ends[0], ends[1]


def _counts(flat: Tensor, bins: int, low: Tensor, high: Tensor) -> Tensor:
    inside = P.logical_and(P.ge(flat, low), P.le(flat, high))  # NaN is outside
    compute = float32 if flat.dtype is float16 else flat.dtype  # PyTorch's half arithmetic is float
    x, low, high = cast(flat, compute), cast(low, compute), cast(high, compute)
    scaled = P.div(P.mul(P.sub(x, low), bins), P.sub(high, low))
    position = P.clamp(cast(P.where(inside, scaled, 0.0), int64), max=bins - 1)  # max goes in the last bin
    empty = Tensor._wrap(np.zeros(bins, flat._data.dtype))
    return apply(OPS["scatter_add"], (empty, position, cast(inside, flat.dtype)), {"dim": 0})


histogram_result = namedtuple("histogram", ["hist", "bin_edges"])


@tensor_arguments
def histogram(input: Tensor, bins=100, *, range=None, weight=None, density: bool = False):  # noqa: A002
    """``(hist, bin_edges)`` of ``input`` (flattened), as PyTorch's ``histogram``: ``bins``
    equal-width bins over ``range`` (the data's, widened by 0.5 each way when all equal)
    or the given edges (increasing); the last bin holds its right edge, values outside
    the edges are not counted; each counts 1 or its ``weight``, and ``density`` divides by
    the total times the bin's width.  Both results have the input's dtype; no gradient
    (PyTorch has none).  It reads the data, so a compiled call breaks the graph here."""
    if input.dtype.category != FLOAT:
        raise NotImplementedError(f"\"histogramdd\" not implemented for '{input.dtype.scalar_type}'")
    _tracing.materialize(input, "histogram() (computed from the data)")
    data = input._data.reshape(-1)
    dt = data.dtype
    if isinstance(bins, Tensor):
        edges = bins._data.astype(dt)
        _check_edges(edges)
    else:
        if bins <= 0:
            raise RuntimeError(f"torch.histogramdd(): bins must be > 0, but got {bins} for dimension 0")
        if range is not None:
            low, high = (float(v) for v in range)
        elif data.size:
            low, high = float(data.min()), float(data.max())
        else:  # PyTorch's range for no data
            low, high = 0.0, 1.0
        if low > high:
            raise RuntimeError(
                f"torch.histogramdd: min should not exceed max, but got min {low:g} max {high:g} for dimension 0"
            )
        if not (math.isfinite(low) and math.isfinite(high)):
            raise RuntimeError(f"torch.histogramdd: range of [{low:g}, {high:g}] is not finite")
        if low == high:
            low, high = low - 0.5, high + 0.5
        edges = np.linspace(low, high, int(bins) + 1).astype(dt)
    weights = None if weight is None else weight._data.reshape(-1)
    if weights is not None and weights.size != data.size:
        raise RuntimeError("torch.histogramdd(): weight should have the same shape as input")
    hist = _binned(data, edges, weights).astype(dt)
    if density:
        widths = np.diff(edges)
        hist = (hist / (hist.sum() * widths)).astype(dt)
    return histogram_result(Tensor._wrap(hist), Tensor._wrap(edges))


def _check_edges(edges: np.ndarray) -> None:
    """PyTorch's errors for bin edges that are not 1-D or make no bin."""
    if edges.ndim != 1:
        raise RuntimeError(
            f"torch.histogramdd: bins tensor should have one dimension, but got {edges.ndim} dimensions "
            "in the bins tensor for dimension 0"
        )
    if edges.size == 0:
        raise RuntimeError(
            "torch.histogramdd: bins tensor should have at least 1 element, but got 0 elements in the "
            "bins tensor for dimension 0"
        )
    if edges.size == 1:
        raise RuntimeError("torch.histogram(): bins must be > 0, but got 0 for dimension 0")


def _binned(data: np.ndarray, edges: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
    """Each value's bin by binary search over ``edges`` (the last bin closed), summed."""
    nbins = edges.size - 1
    inside = (data >= edges[0]) & (data <= edges[-1])
    position = np.searchsorted(edges, data[inside], side="right") - 1
    position = np.minimum(position, nbins - 1)
    counted = None if weights is None else weights[inside].astype(np.float64)
    return np.bincount(position, weights=counted, minlength=nbins)[:nbins]
