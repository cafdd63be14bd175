"""Functions of ``torch.special`` that irgrad has no other name for: ``ndtr``,
``log_ndtr``, ``erfcx``, ``entr`` and ``xlog1py``, composites in PyTorch's forms (the
ranges where it switches formulas are its, so the values agree where they are hard:
far in the tails), except ``ndtr``'s lower tail (docs/pytorch-differences.md)."""

from __future__ import annotations

import math
from numbers import Number

from .._arguments import tensor_arguments
from ..creation import tensor
from ..dispatch import cast
from ..dtypes import FLOAT, float64, get_default_dtype, result_type
from ..tensor import Tensor
from . import pointwise as P
from .pointwise_composites import erfc, erfc_fraction
from .select import where


def _floating(input: Tensor) -> Tensor:
    return input if input.dtype.category == FLOAT else cast(input, get_default_dtype())


@tensor_arguments
def ndtr(input: Tensor) -> Tensor:
    """The standard normal distribution function, ``(1 + erf(x / sqrt 2)) / 2`` near 0 and
    ``erfc(|x| / sqrt 2) / 2`` (or 1 less it) beyond (SciPy's form): PyTorch's is the
    first everywhere, which loses the lower tail (0 below -8.3); irgrad's keeps it."""
    x = P.mul(_floating(input), math.sqrt(0.5))
    magnitude = P.abs(x)
    near = P.mul(P.add(P.erf(x), 1.0), 0.5)
    tail = P.mul(erfc(magnitude), 0.5)
    far = where(P.gt(x, 0), P.rsub(tail, 1.0), tail)
    return where(P.lt(magnitude, math.sqrt(0.5)), near, far)


@tensor_arguments
def erfcx(input: Tensor) -> Tensor:
    """The scaled complementary error function ``exp(x^2) erfc(x)``: from 3 on
    ``1 / (sqrt(pi) f(x))`` with ``f`` erfc's continued fraction (no overflow, no
    underflow), below it the product in double precision, below -6 (where ``erfc`` is 2
    in double precision) ``2 exp(x^2)``, whose gradient stays -inf where ``exp(x^2)``
    overflows (the product's would be inf * 0 = NaN)."""
    x = _floating(input)
    wide = cast(x, float64)
    far = P.ge(wide, 3.0)
    t = where(far, wide, 3.0)
    tail = P.reciprocal(P.mul(erfc_fraction(t), math.sqrt(math.pi)))
    low = P.lt(wide, -6.0)
    low_x = where(low, wide, -6.0)
    left = P.mul(P.exp(P.mul(low_x, low_x)), 2.0)
    near_x = where(P.logical_or(far, low), 0.0, wide)
    near = P.mul(P.exp(P.mul(near_x, near_x)), erfc(near_x))
    return cast(where(far, tail, where(low, left, near)), x.dtype)


@tensor_arguments
def log_ndtr(input: Tensor) -> Tensor:
    """``log(ndtr(x))``, accurate in both tails: ``log(erfcx(-x / sqrt 2) / 2) - x^2 / 2``
    below -1, ``log1p(-erfc(x / sqrt 2) / 2)`` above, as PyTorch's."""
    x = _floating(input)
    scaled = P.mul(x, math.sqrt(0.5))
    low = P.lt(x, -1.0)
    low_x = where(low, scaled, -1.0)
    left = P.sub(P.log(P.mul(erfcx(P.neg(low_x)), 0.5)), P.mul(low_x, low_x))
    high_x = where(low, 0.0, scaled)
    right = P.log1p(P.mul(erfc(high_x), -0.5))
    return where(low, left, right)


@tensor_arguments
def entr(input: Tensor) -> Tensor:
    """The elementwise entropy ``-x log x``: 0 at 0, -inf below 0, NaN for NaN."""
    x = _floating(input)
    positive = P.gt(x, 0)
    safe = where(positive, x, 1.0)
    inside = P.neg(P.mul(safe, P.log(safe)))
    outside = where(P.eq(x, 0), 0.0, where(P.isnan(x), x, -math.inf))
    return where(positive, inside, outside)


@tensor_arguments
def xlog1py(input: Tensor | Number, other: Tensor | Number) -> Tensor:
    """``input * log1p(other)``, and 0 where ``input`` is 0 and ``other`` is not NaN (the
    gradient as ``xlogy``'s, with ``log1p``)."""
    if not isinstance(input, Tensor) and not isinstance(other, Tensor):
        raise TypeError("xlog1py(): at least one of 'input' and 'other' must be a Tensor")
    kind = result_type(input, other)
    kind = kind if kind.category == FLOAT else get_default_dtype()
    x, y = (cast(t, kind) if isinstance(t, Tensor) else tensor(t, dtype=kind) for t in (input, other))
    log_y = P.log1p(y)
    unused = P.logical_and(P.eq(x, 0), P.logical_not(P.logical_or(P.isfinite(log_y), P.isnan(y))))
    return P.add(P.mul(x, where(unused, 0.0, log_y)), 0.0)
