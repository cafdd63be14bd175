"""lgamma, digamma, polygamma, erfinv and mvlgamma (and their in-place forms), on the
primitives of :mod:`irgrad.ops.special`, as PyTorch's: an integer or bool operand is
computed in the default float dtype."""

from __future__ import annotations

import math
import numbers

from .._arguments import tensor_arguments
from ..dispatch import apply, cast
from ..dtypes import get_default_dtype
from ..ops import OPS
from ..tensor import Tensor
from . import reduce as R
from .pointwise import _maybe_out
from .split_join import stack
from .writes import update_inplace

__all__ = [
    "lgamma",
    "digamma",
    "polygamma",
    "erfinv",
    "mvlgamma",
    "lgamma_",
    "digamma_",
    "polygamma_",
    "erfinv_",
    "mvlgamma_",
    "polygamma_method",
]


def _float(input: Tensor) -> Tensor:
    return input if input.dtype.is_floating_point else cast(input, get_default_dtype())


@tensor_arguments
def lgamma(input: Tensor, *, out=None) -> Tensor:
    """log |Gamma(x)|, elementwise."""
    return _maybe_out(apply(OPS["lgamma"], (_float(input),), {}), out)


@tensor_arguments
def digamma(input: Tensor, *, out=None) -> Tensor:
    """The logarithmic derivative of Gamma, elementwise."""
    return _maybe_out(apply(OPS["digamma"], (_float(input),), {}), out)


@tensor_arguments
def polygamma(n: int, input: Tensor, *, out=None) -> Tensor:
    """The ``n``-th derivative of digamma, elementwise (``n`` an int, as PyTorch's)."""
    if isinstance(n, bool) or not isinstance(n, numbers.Integral):
        raise TypeError(f"polygamma(): argument 'n' (position 1) must be int, not {type(n).__name__}")
    if int(n) < 0:
        raise RuntimeError("polygamma(n, x) does not support negative n.")
    return _maybe_out(apply(OPS["polygamma"], (_float(input),), {"n": int(n)}), out)


def polygamma_method(self: Tensor, n: int) -> Tensor:
    """``Tensor.polygamma(n)``: the tensor is the second argument of the function."""
    return polygamma(n, self)


@tensor_arguments
def erfinv(input: Tensor, *, out=None) -> Tensor:
    """The inverse of erf on (-1, 1), elementwise (+-inf at +-1, NaN beyond)."""
    return _maybe_out(apply(OPS["erfinv"], (_float(input),), {}), out)


@tensor_arguments
def mvlgamma(input: Tensor, p: int) -> Tensor:
    """The log of the ``p``-variate Gamma function: ``sum_i lgamma(x - i/2) + p(p-1)/4 log(pi)``,
    for any ``x``, as PyTorch 2.13's, which no longer requires ``x > (p - 1) / 2``."""
    if p < 1:
        raise RuntimeError("p has to be greater than or equal to 1")
    x = _float(input)
    terms = [lgamma(x - i / 2) for i in range(p)]
    return R.sum(stack(terms), 0) + p * (p - 1) / 4 * math.log(math.pi)


def lgamma_(self: Tensor) -> Tensor:
    return update_inplace(self, lgamma, name="lgamma_")


def digamma_(self: Tensor) -> Tensor:
    return update_inplace(self, digamma, name="digamma_")


def polygamma_(self: Tensor, n: int) -> Tensor:
    return update_inplace(self, lambda old: polygamma(n, old), name="polygamma_")


def erfinv_(self: Tensor) -> Tensor:
    return update_inplace(self, erfinv, name="erfinv_")


def mvlgamma_(self: Tensor, p: int) -> Tensor:
    return update_inplace(self, lambda old: mvlgamma(old, p), name="mvlgamma_")
