"""Pointwise functions PyTorch has beyond the core set (``hypot``, ``logaddexp``,
``xlogy``, ``sinc``, ``gcd`` ...), each a composite of primitives (``copysign`` is the one
primitive among them, for the sign bit of -0.0 and NaN), written in the form PyTorch's
kernel computes so the values agree, and with its gradient formula where it has one.

Where PyTorch takes only tensors (``hypot(x, 2)`` is a TypeError there) these functions
refuse numbers too; its dtype checks (``"hypot_cpu" not implemented for 'Long'``) are
repeated with its exception types.
"""

from __future__ import annotations

import math
from numbers import Number

from .._arguments import tensor_arguments
from ..creation import tensor
from ..dispatch import cast, elementwise
from ..dtypes import FLOAT, bool_, float16, float32, float64, get_default_dtype, int32, result_type
from ..ops import OPS
from ..tensor import Tensor
from . import pointwise as P
from .legacy import NAMES
from .select import where
from .shape import view_as

_COPYSIGN = OPS["copysign"]
_GCD = OPS["gcd"]


def _only_tensors(name: str, **arguments) -> None:
    """PyTorch's TypeError for a number where its function takes only tensors."""
    for position, (parameter, value) in enumerate(arguments.items(), 1):
        if not isinstance(value, Tensor):
            raise TypeError(
                f"{name}(): argument '{parameter}' (position {position}) must be Tensor, not "
                f"{type(value).__name__}"
            )


def _not_implemented(name: str, dt) -> NotImplementedError:
    return NotImplementedError(f"\"{name}_cpu\" not implemented for '{NAMES[dt]}'")


def _floating(name: str, *operands) -> tuple:
    """The tensor operands cast to their float result type; integers raise PyTorch's
    NotImplementedError."""
    kind = result_type(*operands)
    if kind.category != FLOAT:
        raise _not_implemented(name, kind)
    return tuple(cast(x, kind) if isinstance(x, Tensor) else x for x in operands)


def _float_result(*operands):
    """The operands' result type, or the default float for integers and bools (the
    promotion of PyTorch's float-valued ops: ``xlogy(int, int)`` is float32)."""
    kind = result_type(*operands)
    return kind if kind.category == FLOAT else get_default_dtype()


@tensor_arguments
def copysign(input: Tensor | Number, other: Tensor | Number, *, out=None) -> Tensor:
    """``|input|`` with the sign of ``other`` (its sign bit: -0.0 and a negative NaN count
    as negative), as ``torch.copysign``; integers give floats. ``input`` must be a tensor
    (PyTorch has no overload with a number first)."""
    if not isinstance(input, Tensor):
        raise TypeError(
            f"copysign() received an invalid combination of arguments - got ({type(input).__name__}, "
            f"{type(other).__name__}), but expected one of:\n"
            " * (Tensor input, Tensor other, *, Tensor out = None)\n"
            " * (Tensor input, Number other, *, Tensor out = None)\n"
        )
    return P._maybe_out(elementwise(_COPYSIGN, input, other), out)


@tensor_arguments
def signbit(input: Tensor, *, out=None) -> Tensor:
    """Whether the sign bit is set: true for negative numbers, -0.0 and a negative NaN."""
    if input.dtype is bool_:
        result = P.ne(input, input)
    elif input.dtype.category == FLOAT:
        result = P.lt(elementwise(_COPYSIGN, 1.0, input.detach()), 0)
    else:
        result = P.lt(input.detach(), 0)
    return P._maybe_out(result, out)


@tensor_arguments
def sgn(input: Tensor) -> Tensor:
    """The sign of a real tensor, ``sign`` (PyTorch's ``sgn`` differs only for complex
    ones). NaN's is NaN, as irgrad's ``sign`` (PyTorch's quirk, 0, is not copied: see
    tests/test_special_values.py)."""
    return P.sign(input)


@tensor_arguments
def positive(input: Tensor) -> Tensor:
    """``input`` itself (an alias), as unary ``+``; a bool tensor is refused, as in PyTorch."""
    if input.dtype is bool_:
        raise RuntimeError("The `+` operator, on a bool tensor is not supported.")
    return view_as(input, input)


@tensor_arguments
def frac(input: Tensor) -> Tensor:
    """The fractional part, ``input - trunc(input)`` (its sign is the input's)."""
    if input.dtype.category != FLOAT:
        raise _not_implemented("frac", input.dtype)
    return P.sub(input, P.trunc(input))


@tensor_arguments
def deg2rad(input: Tensor) -> Tensor:
    """Degrees to radians: ``input * (pi / 180)`` (integers give the default float)."""
    return P.mul(input, math.pi / 180)


@tensor_arguments
def rad2deg(input: Tensor) -> Tensor:
    """Radians to degrees: ``input * (180 / pi)``."""
    return P.mul(input, 180 / math.pi)


@tensor_arguments
def sinc(input: Tensor) -> Tensor:
    """The normalized sinc, ``sin(pi x) / (pi x)`` and 1 at 0, with a gradient of 0 there
    (the division is kept off 0 so that the unused branch sends no NaN back)."""
    product = P.mul(input, math.pi)
    at_zero = P.eq(product, 0)
    safe = where(at_zero, 1.0, product)
    return where(at_zero, 1.0, P.div(P.sin(safe), safe))


# erfc(x) for x >= 3 by its continued fraction exp(-x^2) / sqrt(pi) / (x + (1/2) / (x + (2/2) /
# (x + ...))), 40 levels deep: within 2 ulps of float64 there (checked against math.erfc); below
# 3, 1 - erf(x) loses at most 5e-12 relatively (erfc(3) = 2.2e-5), far below float32's ulp.
_ERFC_FRACTION_FROM, _ERFC_FRACTION_DEPTH = 3.0, 40


def erfc_fraction(t: Tensor) -> Tensor:
    """The continued fraction ``f(t)`` of ``erfc(t) = exp(-t^2) / (sqrt(pi) f(t))``, for
    ``t >= 3`` (``erfcx(t) = 1 / (sqrt(pi) f(t))`` too)."""
    fraction = t
    for k in range(_ERFC_FRACTION_DEPTH, 0, -1):
        fraction = P.add(t, P.div(k / 2, fraction))
    return fraction


def _erfc_value(x: Tensor) -> Tensor:
    """erfc of a float64 tensor, with no gradient."""
    far = P.ge(x, _ERFC_FRACTION_FROM)
    t = where(far, x, _ERFC_FRACTION_FROM)
    tail = P.div(P.exp(P.neg(P.mul(t, t))), P.mul(erfc_fraction(t), math.sqrt(math.pi)))
    return where(far, tail, P.rsub(P.erf(x), 1.0))


@tensor_arguments
def erfc(input: Tensor, *, out=None) -> Tensor:
    """The complementary error function ``1 - erf(x)``, accurate where it is tiny (a
    continued fraction from 3 on, in double precision), with PyTorch's gradient
    ``-2 / sqrt(pi) * exp(-x^2)``: the value is attached to ``-erf(x)``'s gradient."""
    x = input if input.dtype.category == FLOAT else cast(input, get_default_dtype())
    value = cast(_erfc_value(cast(x.detach(), float64)), x.dtype)
    if not x.requires_grad:
        return P._maybe_out(value, out)
    slope = P.neg(P.erf(x))  # d(-erf)/dx = d erfc/dx
    return P._maybe_out(P.add(value, P.sub(slope, slope.detach())), out)


@tensor_arguments
def logit(input: Tensor, eps: float | None = None) -> Tensor:
    """``log(x / (1 - x))``, with ``x`` first clamped into ``[eps, 1 - eps]`` when ``eps`` is
    given (the gradient is then 0 outside it), as ``torch.logit``."""
    x = input if input.dtype.category == FLOAT else cast(input, get_default_dtype())
    if eps is not None:
        x = P.clamp(x, eps, 1 - eps)
    return P.log(P.div(x, P.sub(1, x)))


@tensor_arguments
def float_power(input: Tensor | Number, exponent: Tensor | Number) -> Tensor:
    """``input ** exponent`` computed in double precision (tensors are cast to float64)."""
    if not isinstance(input, Tensor) and not isinstance(exponent, Tensor):
        raise TypeError("float_power(): at least one of 'input' and 'exponent' must be a Tensor")
    input, exponent = (cast(x, float64) if isinstance(x, Tensor) else x for x in (input, exponent))
    return P.pow(input, exponent)


@tensor_arguments
def ldexp(input: Tensor, other: Tensor) -> Tensor:
    """``input * 2 ** other``, as PyTorch computes it (integers give the default float)."""
    _only_tensors("ldexp", input=input, other=other)
    return P.mul(input, P.pow(2.0, other))


@tensor_arguments
def xlogy(input: Tensor | Number, other: Tensor | Number) -> Tensor:
    """``input * log(other)``, and 0 where ``input`` is 0 and ``other`` is not NaN, as
    ``torch.xlogy``. The gradient is PyTorch's: ``log(other)`` for ``input`` (0 where
    ``input`` is 0 and ``other <= 0``) and ``input / other`` for ``other``."""
    if not isinstance(input, Tensor) and not isinstance(other, Tensor):
        raise TypeError("xlogy(): at least one of 'input' and 'other' must be a Tensor")
    kind = _float_result(input, other)
    x, y = (cast(t, kind) if isinstance(t, Tensor) else tensor(t, dtype=kind) for t in (input, other))
    x_zero = P.eq(x, 0)
    # where x is 0: log(y) where it is finite (the gradient), else 0 (the value is 0)
    log_y = P.log(y)
    unused = P.logical_and(x_zero, P.logical_not(P.logical_or(P.isfinite(log_y), P.isnan(y))))
    finite_log = where(unused, 0.0, log_y)
    # (+ 0.0 makes x = -0.0's product +0.0, the 0 PyTorch returns)
    return P.add(P.mul(x, finite_log), 0.0)


def _check_same_float(name: str, input: Tensor, other: Tensor) -> tuple:
    _only_tensors(name, input=input, other=other)
    return _floating(name, input, other)


@tensor_arguments
def logaddexp(input: Tensor, other: Tensor) -> Tensor:
    """``log(exp(input) + exp(other))`` without overflow: ``max + log1p(exp(-|a - b|))``,
    and the infinity itself where both are the same infinity, as PyTorch's kernel."""
    a, b = _check_same_float("logaddexp", input, other)
    peak = P.maximum(a, b)
    value = P.add(peak, P.log1p(P.exp(P.neg(P.abs(P.sub(a, b))))))
    return where(P.logical_and(P.isinf(peak), P.eq(a, b)), a, value)


@tensor_arguments
def logaddexp2(input: Tensor, other: Tensor) -> Tensor:
    """``log2(2**input + 2**other)``: ``max + log1p(2**-|a - b|) / log(2)``, as PyTorch's."""
    a, b = _check_same_float("logaddexp2", input, other)
    peak = P.maximum(a, b)
    value = P.add(peak, P.mul(P.log1p(P.pow(2.0, P.neg(P.abs(P.sub(a, b))))), 1 / math.log(2)))
    return where(P.logical_and(P.isinf(peak), P.eq(a, b)), a, value)


@tensor_arguments
def hypot(input: Tensor, other: Tensor) -> Tensor:
    """``sqrt(input**2 + other**2)`` without overflow or underflow: float32 and float16 in
    double precision, float64 scaled by the larger magnitude; inf if either is infinite
    (even beside NaN), as C's ``hypot``."""
    a, b = _check_same_float("hypot", input, other)
    kind = a.dtype
    if kind in (float32, float16):
        wide_a, wide_b = cast(a, float64), cast(b, float64)
        value = cast(P.sqrt(P.add(P.mul(wide_a, wide_a), P.mul(wide_b, wide_b))), kind)
    else:
        big, small = P.maximum(P.abs(a), P.abs(b)), P.minimum(P.abs(a), P.abs(b))
        ratio = P.div(small, where(P.eq(big, 0), 1.0, big))
        value = P.mul(big, P.sqrt(P.add(P.mul(ratio, ratio), 1.0)))
    return where(P.logical_or(P.isinf(a), P.isinf(b)), math.inf, value)


def _nan_ignoring(name: str, input: Tensor, other: Tensor, keeps_input) -> Tensor:
    _only_tensors(name, input=input, other=other)
    return where(P.logical_or(keeps_input(input, other), P.isnan(other)), input, other)


@tensor_arguments
def fmax(input: Tensor, other: Tensor) -> Tensor:
    """The elementwise maximum ignoring NaN (NaN only where both are), as ``torch.fmax``;
    a tie's gradient goes to ``input``, as PyTorch's."""
    return _nan_ignoring("fmax", input, other, P.ge)


@tensor_arguments
def fmin(input: Tensor, other: Tensor) -> Tensor:
    """The elementwise minimum ignoring NaN (NaN only where both are)."""
    return _nan_ignoring("fmin", input, other, P.le)


@tensor_arguments
def heaviside(input: Tensor, values: Tensor) -> Tensor:
    """The Heaviside step: 0 below 0, 1 above, ``values`` at 0 (NaN counts as below), as
    ``torch.heaviside``; it has no gradient (PyTorch defines none)."""
    _only_tensors("heaviside", input=input, values=values)
    if input.dtype is not values.dtype:
        raise RuntimeError("heaviside is not yet implemented for tensors with different dtypes.")
    x, v = input.detach(), values.detach()
    return where(P.eq(x, 0), v, cast(P.gt(x, 0), x.dtype))


def _integers(name: str, input: Tensor, other: Tensor) -> tuple:
    _only_tensors(name, input=input, other=other)
    kind = result_type(input, other)
    if kind.category == FLOAT or kind is bool_:
        raise _not_implemented(name, kind)
    return cast(input, kind), cast(other, kind)


@tensor_arguments
def gcd(input: Tensor, other: Tensor) -> Tensor:
    """The non-negative greatest common divisor (``gcd(0, 0) = 0``), the primitive ``gcd``
    (Euclid's algorithm, as PyTorch's kernel)."""
    return elementwise(_GCD, *_integers("gcd", input, other))


@tensor_arguments
def lcm(input: Tensor, other: Tensor) -> Tensor:
    """The least common multiple, ``|a / gcd(a, b) * b|`` (0 if either is 0), computed as
    PyTorch's C++ kernel does: in int32 at least (C's integer promotion), so an 8- or 16-bit
    result that overflows wraps after the absolute value."""
    a, b = _integers("lcm", input, other)
    kind = a.dtype
    divisor = gcd(a, b)
    zero = P.eq(divisor, 0)
    if kind.itemsize < 4:
        a, b, divisor = (cast(t, int32) for t in (a, b, divisor))
    product = P.abs(P.mul(P.floor_divide(a, where(zero, 1, divisor)), b))
    return cast(where(zero, 0, product), kind)


@tensor_arguments
def isin(
    elements: Tensor | Number,
    test_elements: Tensor | Number,
    *,
    assume_unique: bool = False,
    invert: bool = False,
) -> Tensor:
    """Whether each of ``elements`` is among ``test_elements`` (compared after type
    promotion; NaN is never found), as a bool tensor of ``elements``' shape."""
    if not isinstance(elements, Tensor) and not isinstance(test_elements, Tensor):
        raise TypeError("isin(): at least one of 'elements' and 'test_elements' must be a Tensor")
    if not isinstance(elements, Tensor):
        elements = tensor(elements)
    if isinstance(test_elements, Tensor):
        test_elements = test_elements.detach().reshape(-1)
    found = P.eq(elements.detach().unsqueeze(-1), test_elements).any(-1)
    return P.logical_not(found) if invert else found
