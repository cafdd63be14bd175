"""Pointwise math (``irgrad.add``, ``Tensor.exp`` ...): primitives and their composites."""

from __future__ import annotations

import math
from numbers import Number

import numpy as np

from .._arguments import parameter_checks, reject_non_tensors, tensor_arguments
from ..creation import ensure_tensor
from ..dispatch import cast, const, elementwise
from ..dtypes import FLOAT, bool_, checked_fill_value, float32, float64, int64, result_type
from ..ops import OPS
from ..recording.grad_mode import STATE
from ..tensor import Tensor
from .deprecated_overloads import scalar_first
from .select import where
from .writes import copy_

_op = OPS.__getitem__


def _unary(name: str):
    op = _op(name)

    def fn(input: Tensor, *, out=None) -> Tensor:
        try:  # the argument check in the body: a wrapper's frame would cost ~5% of a small op
            return _maybe_out(elementwise(op, input), out)
        except (AttributeError, TypeError):
            reject_non_tensors(name, ((checks[0], input),))
            raise

    fn.__name__ = name
    fn.__doc__ = f"Elementwise ``{name}``, as ``torch.{name}``."
    fn.tensor_parameters = checks = parameter_checks(fn)
    return fn


def _binary(name: str):
    op = _op(name)

    def fn(input: Tensor | Number, other: Tensor | Number, *, out=None) -> Tensor:
        try:  # checked in the body, as the unary ops
            return _maybe_out(elementwise(op, input, other), out)
        except (AttributeError, TypeError):
            reject_non_tensors(name, ((checks[0], input), (checks[1], other)))
            raise

    fn.__name__ = name
    fn.__doc__ = f"Elementwise ``{name}`` with broadcasting and type promotion, as ``torch.{name}``."
    fn.tensor_parameters = checks = parameter_checks(fn)
    return fn


def _maybe_out(result: Tensor, out: Tensor | None) -> Tensor:
    if out is None:
        return result
    if out._data.shape != result._data.shape:
        out._set_data(result._data.astype(out._data.dtype))
        out._bump_version()
        return out
    return copy_(out, result)


neg = negative = _unary("neg")
abs = absolute = _unary("abs")
sign = _unary("sign")
floor = _unary("floor")
ceil = _unary("ceil")
trunc = fix = _unary("trunc")
relu = _unary("relu")
exp = _unary("exp")
expm1 = _unary("expm1")
log = _unary("log")
log1p = _unary("log1p")
sqrt = _unary("sqrt")
rsqrt = _unary("rsqrt")
reciprocal = _unary("reciprocal")
sin = _unary("sin")
cos = _unary("cos")
tan = _unary("tan")
tanh = _unary("tanh")
asin = arcsin = _unary("asin")
acos = arccos = _unary("acos")
atan = arctan = _unary("atan")
sinh = _unary("sinh")
cosh = _unary("cosh")
asinh = arcsinh = _unary("asinh")
acosh = arccosh = _unary("acosh")
atanh = arctanh = _unary("atanh")
sigmoid = _unary("sigmoid")
erf = _unary("erf")
logical_not = _unary("logical_not")
bitwise_not = _unary("bitwise_not")
isnan = _unary("isnan")
isinf = _unary("isinf")
isfinite = _unary("isfinite")

mul = multiply = _binary("mul")
floor_divide = _binary("floor_divide")
remainder = _binary("remainder")
fmod = _binary("fmod")
_pow = _binary("pow")


@tensor_arguments
def pow(input: Tensor | Number, exponent: Tensor | Number, *, out=None) -> Tensor:
    """``input ** exponent``; an integer tensor to a negative integer (number) power is an
    error, as in torch (a tensor of exponents may hold negative ones: 1 and -1 stay, the
    rest truncate to 0)."""
    if (
        isinstance(input, Tensor)
        and input.dtype.category != FLOAT
        and isinstance(exponent, (int, np.integer))
        and not isinstance(exponent, (bool, np.bool_))
        and exponent < 0
    ):
        raise RuntimeError(
            f"pow: Integers to negative integer powers are not allowed "
            f"({input.dtype} input of shape {list(input.shape)}, exponent {exponent})."
        )
    if (
        type(exponent) is float
        and isinstance(input, Tensor)
        and input._data.dtype == np.float32
        and float(np.float32(exponent)) != exponent
    ):
        # torch keeps a Python number's exponent in double for the computation: rounded to
        # float32, x ** 3.0000001 would be x ** 3 (torch's own x * x * x)
        return _maybe_out(cast(_pow(cast(input, float64), exponent), float32), out)
    return _pow(input, exponent, out=out)


_atan2 = _binary("atan2")


def atan2(input: Tensor, other: Tensor, *, out=None) -> Tensor:
    """Elementwise ``atan2(input, other)``, as ``torch.atan2``: of tensors alone (a number
    on either side is PyTorch's TypeError)."""
    if not (isinstance(input, Tensor) and isinstance(other, Tensor)):
        reject_non_tensors("atan2", zip(atan2.tensor_parameters, (input, other)))
    return _atan2(input, other, out=out)


atan2.tensor_parameters = parameter_checks(atan2)
maximum = _binary("maximum")
minimum = _binary("minimum")
eq = _binary("eq")
ne = not_equal = _binary("ne")
lt = less = _binary("lt")
le = less_equal = _binary("le")
gt = greater = _binary("gt")
ge = greater_equal = _binary("ge")
logical_and = _binary("logical_and")
logical_or = _binary("logical_or")
logical_xor = _binary("logical_xor")
bitwise_and = _binary("bitwise_and")
bitwise_or = _binary("bitwise_or")
bitwise_xor = _binary("bitwise_xor")
bitwise_left_shift = _binary("bitwise_left_shift")
bitwise_right_shift = _binary("bitwise_right_shift")

_ADD, _SUB, _DIV, _MUL = _op("add"), _op("sub"), _op("div"), _op("mul")


def add(input: Tensor | Number, other: Tensor | Number, *deprecated, alpha: Number = 1, out=None) -> Tensor:
    """``input + alpha * other``, as ``torch.add``; also the deprecated ``add(input, alpha,
    other)`` (see :mod:`.deprecated_overloads`)."""
    if deprecated:
        alpha, other = scalar_first("add", "alpha", ("other",), (other, *deprecated), alpha, True)
    try:  # checked in the body, as the generated binary ops: ``x + y`` pays for no wrapper
        return _maybe_out(elementwise(_ADD, input, _times_alpha("add", input, other, alpha)), out)
    except (AttributeError, TypeError):
        reject_non_tensors("add", zip(add.tensor_parameters, (input, other)))
        raise


add.tensor_parameters = parameter_checks(add)


def sub(input: Tensor | Number, other: Tensor | Number, *deprecated, alpha: Number = 1, out=None) -> Tensor:
    """``input - alpha * other``, as ``torch.sub``; also the deprecated ``sub(input, alpha,
    other)``."""
    if deprecated:
        alpha, other = scalar_first("sub", "alpha", ("other",), (other, *deprecated), alpha, True)
    try:  # checked in the body, as add
        bools = [_is_bool(input), _is_bool(other)]
        if all(bools):
            raise RuntimeError(
                "Subtraction, the `-` operator, with two bool tensors is not supported. "
                "Use the `^` or `logical_xor()` operator instead."
            )
        if any(bools):
            raise RuntimeError(
                "Subtraction, the `-` operator, with a bool tensor is not supported. If you are "
                "trying to invert a mask, use the `~` or `logical_not()` operator instead."
            )
        return _maybe_out(elementwise(_SUB, input, _times_alpha("sub", input, other, alpha)), out)
    except (AttributeError, TypeError):
        reject_non_tensors("sub", zip(sub.tensor_parameters, (input, other)))
        raise


sub.tensor_parameters = parameter_checks(sub)


subtract = sub


def _times_alpha(op: str, input, other, alpha: Number):
    """``alpha * other`` in the type of ``op``'s result, as torch scales: ``alpha`` is cast to
    that type (a bool result keeps ``other`` where ``alpha`` is true), and a float ``alpha``
    for an integral or bool result is an error."""
    if alpha == 1 and not isinstance(alpha, (float, bool)):
        return other
    kind = result_type(input, other)
    if isinstance(alpha, (bool, np.bool_)) and kind is not bool_:
        raise RuntimeError(
            f"{op}: Boolean alpha only supported for Boolean results (got alpha={alpha} for {kind} inputs)."
        )
    if kind.category != FLOAT and isinstance(alpha, float):
        raise RuntimeError(
            f"{op}: For integral input tensors, argument alpha must not be a floating point number "
            f"(got alpha={alpha} for {kind} inputs)."
        )
    if alpha == 1:
        return other
    if kind is bool_:
        return other if alpha else elementwise(_MUL, other, False)
    if isinstance(other, Tensor):  # scaled in the result's type: an int8 other times 2 in int16
        other = cast(other, kind)
    return elementwise(_MUL, other, alpha)


def _is_bool(x) -> bool:
    return x._data.dtype == np.bool_ if isinstance(x, Tensor) else isinstance(x, (bool, np.bool_))


def div(
    input: Tensor | Number, other: Tensor | Number, *, rounding_mode: str | None = None, out=None
) -> Tensor:
    """True division, or ``rounding_mode='trunc'``/``'floor'`` division, as ``torch.div``."""
    try:  # checked in the body, as add
        if rounding_mode is None:
            result = elementwise(_DIV, input, other)
        elif rounding_mode == "floor":
            result = elementwise(_op("floor_divide"), input, other)
        elif rounding_mode == "trunc":
            if result_type(input, other).is_floating_point:
                quotient = elementwise(_DIV, input, other)
                # trunc's zero gradient sent back through the division would be 0/0 = NaN where
                # other is 0; torch gives a rounded division exact zero gradients.
                result = _zero_gradient(trunc(quotient.detach()), input, other)
            else:
                # exact integer arithmetic (a float quotient rounds past 2**53): a - fmod(a, b) is
                # a multiple of b; fmod raises torch's ZeroDivisionError for a zero divisor
                remainder = elementwise(_op("fmod"), input, other)
                result = elementwise(_op("floor_divide"), elementwise(_SUB, input, remainder), other)
        else:
            raise ValueError(
                f"div expected rounding_mode to be one of None, 'trunc', or 'floor' but found '{rounding_mode}'"
            )
        return _maybe_out(result, out)
    except (AttributeError, TypeError):
        reject_non_tensors("div", zip(div.tensor_parameters, (input, other)))
        raise


div.tensor_parameters = parameter_checks(div)


divide = true_divide = div


def _zero_gradient(value: Tensor, *inputs) -> Tensor:
    """``value`` (computed without autograd) recorded as depending on the tensor
    ``inputs`` with a gradient of exactly zero: ``where(True, value, sum of inputs)``."""
    tensors = [t for t in inputs if isinstance(t, Tensor) and t._rg]
    if not tensors or not STATE.enabled:
        return value
    others = tensors[0]
    for t in tensors[1:]:
        others = add(others, t)
    return where(const(True, bool_), value, others)


@tensor_arguments
def rsub(input: Tensor | Number, other: Tensor | Number, *, alpha: Number = 1) -> Tensor:
    return sub(other, input, alpha=alpha)


@tensor_arguments
def square(input: Tensor) -> Tensor:
    """``input * input``; a bool tensor is squared as int64, as torch's ``pow(input, 2)``."""
    if input._data.dtype == np.bool_:
        input = cast(input, int64)
    return mul(input, input)


@tensor_arguments
def log2(input: Tensor) -> Tensor:
    return div(log(input), math.log(2.0))


@tensor_arguments
def log10(input: Tensor) -> Tensor:
    return div(log(input), math.log(10.0))


@tensor_arguments
def exp2(input: Tensor) -> Tensor:
    return pow(2.0, input)


@tensor_arguments
def round(input: Tensor, *, decimals: int = 0) -> Tensor:
    """Round half to even, optionally to ``decimals`` places, as ``torch.round``."""
    if decimals == 0:
        return elementwise(_op("round"), input)
    scale = 10.0**decimals
    return div(elementwise(_op("round"), mul(input, scale)), scale)


def _clamp_side(x: Tensor, bound, inside, outside) -> Tensor:
    """``x`` where ``inside(x, bound)``, ``bound`` where ``outside(x, bound)``, and NaN
    (with no gradient) where either is NaN, so neither comparison holds."""
    nan = add(x, bound).detach()  # NaN exactly where x or the bound is NaN
    return where(inside(x, bound), x, where(outside(x, bound), bound, nan))


@tensor_arguments
def clamp(input: Tensor, min=None, max=None, *, out=None) -> Tensor:
    """Clamp into ``[min, max]``, as torch: NaN in ``input`` or a bound gives NaN; the
    gradient passes to ``input`` where ``min <= x <= max`` (inclusive) and to a tensor
    bound where ``x`` is beyond it."""
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    result = input
    if min is not None:
        result = _clamp_side(result, min, ge, lt)
    if max is not None:
        result = _clamp_side(result, max, le, gt)
    return _maybe_out(result, out)


clip = clamp


@tensor_arguments
def clamp_min(input: Tensor, min) -> Tensor:
    return clamp(input, min=min)


@tensor_arguments
def clamp_max(input: Tensor, max) -> Tensor:
    return clamp(input, max=max)


@tensor_arguments
def masked_fill(input: Tensor, mask: Tensor, value: Tensor | Number) -> Tensor:
    """``value`` where ``mask`` is true, ``input`` elsewhere (``value`` keeps input's dtype)."""
    mask = ensure_tensor(mask)
    if mask.dtype is not bool_:
        raise RuntimeError(f"masked_fill_ only supports boolean masks, but got mask with dtype {mask.dtype}")
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise RuntimeError(
                f"masked_fill_ only supports a 0-dimensional value tensor, but got tensor with "
                f"{value.ndim} dimension(s)."
            )
        value = cast(value, input.dtype)
    else:
        value = const(checked_fill_value(value, input.dtype), input.dtype)
    try:
        np.broadcast_shapes(mask._data.shape, input._data.shape)
    except ValueError:
        raise RuntimeError(
            f"masked_fill: the mask of shape {list(mask.shape)} does not broadcast to the input's "
            f"shape {list(input.shape)}"
        ) from None
    return where(mask, value, input)


@tensor_arguments
def isclose(
    input: Tensor, other: Tensor, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False
) -> Tensor:
    """``|input - other| <= atol + rtol * |other|`` elementwise; an infinity is close
    only to itself."""
    difference = abs(sub(input, other))
    within = logical_and(isfinite(difference), le(difference, add(mul(abs(other), rtol), atol)))
    close = logical_or(within, eq(input, other))
    if equal_nan:
        close = logical_or(close, logical_and(isnan(input), isnan(other)))
    return close


@tensor_arguments
def allclose(
    input: Tensor, other: Tensor, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False
) -> bool:
    """Whether every element of ``input`` is close to ``other`` (see :func:`isclose`)."""
    return bool(isclose(input, other, rtol, atol, equal_nan).all())


@tensor_arguments
def equal(input: Tensor, other: Tensor) -> bool:
    """True if both tensors have the same shape and elements."""
    return tuple(input.shape) == tuple(other.shape) and bool(eq(input, other).all())


@tensor_arguments
def lerp(input: Tensor, end: Tensor, weight: Tensor | Number) -> Tensor:
    """``input + weight * (end - input)``, computed from ``end`` when weight >= 0.5 (as
    torch, so each end is reproduced exactly, infinities included)."""
    for name, t in (("end", end), ("weight", weight)):
        if isinstance(t, Tensor) and t.dtype is not input.dtype:
            raise RuntimeError(f"lerp: expected dtype {input.dtype} for `{name}` but got dtype {t.dtype}")
    span = sub(end, input)
    from_start = add(input, mul(weight, span))
    from_end = sub(end, mul(sub(1.0, weight) if isinstance(weight, Tensor) else 1.0 - weight, span))
    if isinstance(weight, Tensor):
        return where(lt(abs(weight), 0.5), from_start, from_end)
    return from_start if -0.5 < weight < 0.5 else from_end


@tensor_arguments
def addcmul(input: Tensor, tensor1: Tensor, tensor2: Tensor, *deprecated, value: Number = 1) -> Tensor:
    """``input + value * tensor1 * tensor2``; ``value`` is cast to the result's type, as torch
    casts it (0.5 is 0 for integers), where ``add``'s ``alpha`` would refuse it. Also the
    deprecated ``addcmul(input, value, tensor1, tensor2)``."""
    if deprecated:
        value, tensor1, tensor2 = scalar_first(
            "addcmul", "value", ("tensor1", "tensor2"), (tensor1, tensor2, *deprecated), value, False
        )
    kind = result_type(input, tensor1, tensor2)
    if kind is bool_:
        value = bool(value)
    elif kind.category != FLOAT:
        value = int(value)
    return add(input, mul(mul(tensor1, value), tensor2))  # (value * t1) * t2, as torch's kernel


@tensor_arguments
def addcdiv(input: Tensor, tensor1: Tensor, tensor2: Tensor, *deprecated, value: Number = 1) -> Tensor:
    """``input + value * tensor1 / tensor2`` (true division; integer operands are refused, as
    torch refuses them). Also the deprecated ``addcdiv(input, value, tensor1, tensor2)``."""
    if deprecated:
        value, tensor1, tensor2 = scalar_first(
            "addcdiv", "value", ("tensor1", "tensor2"), (tensor1, tensor2, *deprecated), value, False
        )
    if all(isinstance(t, Tensor) and t.dtype.category != FLOAT for t in (tensor1, tensor2)):
        raise RuntimeError(
            "Integer division with addcdiv is no longer supported, and in a future  release addcdiv "
            "will perform a true division of tensor1 and tensor2. The historic addcdiv behavior can be "
            "implemented as (input + value * torch.trunc(tensor1 / tensor2)).to(input.dtype) for integer "
            "inputs and as (input + value * tensor1 / tensor2) for float inputs. The future addcdiv "
            "behavior is just the latter implementation: (input + value * tensor1 / tensor2), for all "
            f"dtypes (got {tensor1.dtype} and {tensor2.dtype})."
        )
    return add(input, div(mul(tensor1, value), tensor2))  # (value * t1) / t2, as torch's kernel


@tensor_arguments
def nan_to_num(
    input: Tensor, nan: float = 0.0, posinf: float | None = None, neginf: float | None = None
) -> Tensor:
    info = np.finfo(input._data.dtype) if input.is_floating_point() else None
    if info is None:
        return input.clone()
    result = where(isnan(input), nan, input)
    result = where(eq(result, math.inf), info.max if posinf is None else posinf, result)
    return where(eq(result, -math.inf), info.min if neginf is None else neginf, result)


__all__ = [
    name
    for name, value in list(globals().items())
    if not name.startswith("_") and callable(value) and getattr(value, "__module__", None) == __name__
]
