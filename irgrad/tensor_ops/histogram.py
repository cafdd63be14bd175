"""``histc``: counts of a float tensor's elements in equal-width bins, as PyTorch's.

PyTorch places an element by linear interpolation in the input's dtype (float for
half), ``int((x - min) * bins / (max - min))``, with ``max`` itself in the last bin
and elements outside ``[min, max]`` (and NaN) not counted; the counts have the
input's dtype.  With ``min == max`` the range is the data's, widened by 1 on each side
when the data are all equal.  That range is computed by ops and checked by an
``assert_range`` op, so a compiled ``histc`` needs no graph break.
"""

from __future__ import annotations

import math

import numpy as np

from .._arguments import tensor_arguments
from ..dispatch import apply, cast, const
from ..dtypes import FLOAT, float16, float32, float64, int64
from ..ops import OPS
from ..tensor import Tensor
from . import pointwise as P
from .indexing import check_range
from .reduce import amax, amin
from .shape import stack


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
