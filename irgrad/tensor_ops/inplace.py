"""In-place ops (``add_``, ``zero_``, ``copy_`` ...), each an out-of-place op written
back through :func:`~irgrad.tensor_ops.writes.update_inplace`."""

from __future__ import annotations

from numbers import Number

import numpy as np

from .. import _tracing
from .._arguments import tensor_arguments
from ..dtypes import FLOAT, checked_fill_value, float64
from ..ops.strides import contiguous_strides
from ..random import resolve
from ..recording.function import Function
from ..tensor import Tensor
from . import diagonals as DG
from . import pointwise as P
from . import pointwise_composites as PC
from . import products as PR
from .deprecated_overloads import scalar_first
from .legacy import NAMES
from .writes import copy_, needs_autograd, raise_internal_overlap, repeats_elements, update_inplace


def _binary_inplace(name: str, fn):
    def method(self: Tensor, other, **kw) -> Tensor:
        return update_inplace(self, lambda old: fn(old, other, **kw), other, name=name)

    method.__name__ = name
    return tensor_arguments(method)


def _alpha_inplace(name: str, fn):
    """``add_``/``sub_``: ``self op= alpha * other``, or the deprecated ``(alpha, other)``."""

    def method(self: Tensor, other, *deprecated, alpha=1) -> Tensor:
        if deprecated:
            alpha, other = scalar_first(name, "alpha", ("other",), (other, *deprecated), alpha, True)
        return update_inplace(self, lambda old: fn(old, other, alpha=alpha), other, name=name)

    method.__name__ = name
    return tensor_arguments(method)


add_ = _alpha_inplace("add_", P.add)
sub_ = _alpha_inplace("sub_", P.sub)
mul_ = _binary_inplace("mul_", P.mul)
div_ = _binary_inplace("div_", P.div)
pow_ = _binary_inplace("pow_", P.pow)
maximum_ = _binary_inplace("maximum_", P.maximum)
minimum_ = _binary_inplace("minimum_", P.minimum)
remainder_ = _binary_inplace("remainder_", P.remainder)
floor_divide_ = _binary_inplace("floor_divide_", P.floor_divide)
logical_and_ = _binary_inplace("logical_and_", P.logical_and)
logical_or_ = _binary_inplace("logical_or_", P.logical_or)
bitwise_and_ = _binary_inplace("bitwise_and_", P.bitwise_and)
bitwise_or_ = _binary_inplace("bitwise_or_", P.bitwise_or)
bitwise_xor_ = _binary_inplace("bitwise_xor_", P.bitwise_xor)
bitwise_left_shift_ = _binary_inplace("bitwise_left_shift_", P.bitwise_left_shift)
bitwise_right_shift_ = _binary_inplace("bitwise_right_shift_", P.bitwise_right_shift)


@tensor_arguments
def tril_(self: Tensor, diagonal: int = 0) -> Tensor:
    return update_inplace(self, lambda old: DG.tril(old, diagonal), name="tril_")


@tensor_arguments
def triu_(self: Tensor, diagonal: int = 0) -> Tensor:
    return update_inplace(self, lambda old: DG.triu(old, diagonal), name="triu_")


def _unary_inplace(name: str, fn):
    def method(self: Tensor) -> Tensor:
        return update_inplace(self, fn, name=name)

    method.__name__ = name
    return tensor_arguments(method)


neg_ = _unary_inplace("neg_", P.neg)
abs_ = _unary_inplace("abs_", P.abs)
exp_ = _unary_inplace("exp_", P.exp)
log_ = _unary_inplace("log_", P.log)
sqrt_ = _unary_inplace("sqrt_", P.sqrt)
relu_ = _unary_inplace("relu_", P.relu)
sigmoid_ = _unary_inplace("sigmoid_", P.sigmoid)
tanh_ = _unary_inplace("tanh_", P.tanh)
asin_ = arcsin_ = _unary_inplace("asin_", P.asin)
acos_ = arccos_ = _unary_inplace("acos_", P.acos)
atan_ = arctan_ = _unary_inplace("atan_", P.atan)
sinh_ = _unary_inplace("sinh_", P.sinh)
cosh_ = _unary_inplace("cosh_", P.cosh)
asinh_ = arcsinh_ = _unary_inplace("asinh_", P.asinh)
acosh_ = arccosh_ = _unary_inplace("acosh_", P.acosh)
atanh_ = arctanh_ = _unary_inplace("atanh_", P.atanh)
floor_ = _unary_inplace("floor_", P.floor)
ceil_ = _unary_inplace("ceil_", P.ceil)
round_ = _unary_inplace("round_", P.round)
reciprocal_ = _unary_inplace("reciprocal_", P.reciprocal)
sign_ = _unary_inplace("sign_", P.sign)
sgn_ = _unary_inplace("sgn_", PC.sgn)
frac_ = _unary_inplace("frac_", PC.frac)
sinc_ = _unary_inplace("sinc_", PC.sinc)
erfc_ = _unary_inplace("erfc_", PC.erfc)
deg2rad_ = _unary_inplace("deg2rad_", PC.deg2rad)
rad2deg_ = _unary_inplace("rad2deg_", PC.rad2deg)
copysign_ = _binary_inplace("copysign_", PC.copysign)
hypot_ = _binary_inplace("hypot_", PC.hypot)
xlogy_ = _binary_inplace("xlogy_", PC.xlogy)
heaviside_ = _binary_inplace("heaviside_", PC.heaviside)
gcd_ = _binary_inplace("gcd_", PC.gcd)
lcm_ = _binary_inplace("lcm_", PC.lcm)
ldexp_ = _binary_inplace("ldexp_", PC.ldexp)


def _accumulating_inplace(name: str, fn):
    """``self = beta * self + alpha * product``, in place (``baddbmm_`` ...)."""

    def method(self: Tensor, first, second, *, beta=1, alpha=1) -> Tensor:
        return update_inplace(
            self, lambda old: fn(old, first, second, beta=beta, alpha=alpha), first, second, name=name
        )

    method.__name__ = name
    return tensor_arguments(method)


baddbmm_ = _accumulating_inplace("baddbmm_", PR.baddbmm)
addbmm_ = _accumulating_inplace("addbmm_", PR.addbmm)
addmv_ = _accumulating_inplace("addmv_", PR.addmv)
addr_ = _accumulating_inplace("addr_", PR.addr)


@tensor_arguments
def logit_(self: Tensor, eps: float | None = None) -> Tensor:
    return update_inplace(self, lambda old: PC.logit(old, eps), name="logit_")


@tensor_arguments
def float_power_(self: Tensor, exponent) -> Tensor:
    """``self ** exponent`` in double precision, in place: ``self`` must be float64, as in PyTorch."""
    if self.dtype is not float64:
        raise RuntimeError(
            f"the base given to float_power_ has dtype {NAMES[self.dtype]} but the operation's result "
            "requires dtype Double"
        )
    return update_inplace(self, lambda old: PC.float_power(old, exponent), exponent, name="float_power_")


@tensor_arguments
def clamp_(self: Tensor, min=None, max=None) -> Tensor:
    return update_inplace(self, lambda old: P.clamp(old, min, max), min, max, name="clamp_")


clip_ = clamp_


@tensor_arguments
def masked_fill_(self: Tensor, mask: Tensor, value: Tensor | Number) -> Tensor:
    return update_inplace(
        self, lambda old: P.masked_fill(old, mask, value), value, name="masked_fill_", selective=True
    )


@tensor_arguments
def addcmul_(self: Tensor, tensor1, tensor2, *deprecated, value=1) -> Tensor:
    if deprecated:
        value, tensor1, tensor2 = scalar_first(
            "addcmul_", "value", ("tensor1", "tensor2"), (tensor1, tensor2, *deprecated), value, False
        )
    return update_inplace(
        self, lambda old: P.addcmul(old, tensor1, tensor2, value=value), tensor1, tensor2, name="addcmul_"
    )


@tensor_arguments
def addcdiv_(self: Tensor, tensor1, tensor2, *deprecated, value=1) -> Tensor:
    if deprecated:
        value, tensor1, tensor2 = scalar_first(
            "addcdiv_", "value", ("tensor1", "tensor2"), (tensor1, tensor2, *deprecated), value, False
        )
    return update_inplace(
        self, lambda old: P.addcdiv(old, tensor1, tensor2, value=value), tensor1, tensor2, name="addcdiv_"
    )


@tensor_arguments
def lerp_(self: Tensor, end, weight) -> Tensor:
    return update_inplace(self, lambda old: P.lerp(old, end, weight), end, weight, name="lerp_")


@tensor_arguments
def fill_(self: Tensor, value) -> Tensor:
    if isinstance(value, Tensor) and value._data.ndim:
        raise RuntimeError(
            f"fill_ only supports 0-dimension value tensor but got tensor with {value._data.ndim} dimensions."
        )
    if not isinstance(value, Tensor):
        value = checked_fill_value(value, self.dtype)
    if not isinstance(value, Tensor) and needs_autograd(self) and repeats_elements(self._data):
        _tracing.untraceable("fill_ of an expanded tensor that requires grad (its backward raises)")
        return update_inplace(self, lambda old: _RepeatedFill.apply(old, value), name="fill_")
    return copy_(self, value if isinstance(value, Tensor) else Tensor._wrap(np.asarray(value)))


class _RepeatedFill(Function):
    """A number filled into an expanded tensor (repeated elements) while autograd records:
    PyTorch writes it (every element gets the one value), and raises at the backward,
    whose CopySlices would write the gradient through the repeated elements; so does this."""

    @staticmethod
    def forward(ctx, old: Tensor, value):
        return Tensor._wrap(np.broadcast_to(np.asarray(value, dtype=old._data.dtype), old._data.shape))

    @staticmethod
    def backward(ctx, grad):
        raise_internal_overlap("fill_")


@tensor_arguments
def fill_diagonal_(self: Tensor, fill_value, wrap: bool = False) -> Tensor:
    """``fill_value`` written on the main diagonal of a matrix, or of an n-d tensor whose
    dims are all equal (the elements ``[i, i, ..., i]``); with ``wrap``, a matrix taller than
    wide starts again below, every ``width + 1`` elements in C order, as PyTorch's."""
    shape = self._data.shape
    if len(shape) < 2:
        raise RuntimeError("dimensions must larger than 1")
    if len(shape) > 2 and len(set(shape)) > 1:
        raise RuntimeError("all dimensions of input must be of equal length")
    mask = np.zeros(shape, dtype=bool)
    step = sum(contiguous_strides(shape))  # from one diagonal element to the next, flattened
    on = mask.reshape(-1)[::step]
    if wrap and len(shape) == 2:
        on[...] = True
    else:
        on[: min(shape[0], shape[1])] = True
    return masked_fill_(self, Tensor._wrap(mask), fill_value)


@tensor_arguments
def zero_(self: Tensor) -> Tensor:
    return fill_(self, 0)


@tensor_arguments
def uniform_(self: Tensor, a: float = 0.0, b: float = 1.0, *, generator=None) -> Tensor:
    _check_float("uniform_", self)
    values = resolve(generator).uniform(a, b, self._data.shape)
    return _fill_random(self, values, "uniform_")


@tensor_arguments
def normal_(self: Tensor, mean: float = 0.0, std: float = 1.0, *, generator=None) -> Tensor:
    _check_float("normal_", self)
    values = resolve(generator).normal(mean, std, self._data.shape)
    return _fill_random(self, values, "normal_")


def _check_float(name: str, t: Tensor) -> None:
    if t.dtype.category != FLOAT:
        raise RuntimeError(f"{name} expects a floating point tensor, got {t.dtype}")


def _fill_random(self: Tensor, values: np.ndarray, name: str) -> Tensor:
    return update_inplace(self, lambda old: Tensor._wrap(values.astype(old._data.dtype)), name=name)
