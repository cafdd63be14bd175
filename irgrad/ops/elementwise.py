"""Elementwise primitives: one scalar function applied at every position.

Kernels see inputs already promoted to the computation dtype and broadcastable
against each other (numpy broadcasting); the dispatcher inserts explicit
``broadcast_to`` nodes where autograd or the tracer needs them, so gradient rules
here always produce gradients of the output's shape.
"""

from __future__ import annotations

import math

import numpy as np

from ..dtypes import FLOAT, bool_
from ..native import elementwise as native_elementwise
from . import stacking
from .registry import DtypeRule, Kind, Meta, OpDef, register
from .shapes import broadcast_shapes

_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)

# Arithmetic ops PyTorch refuses on bool operands (numpy would quietly compute them in
# int8 or float16), with the exception type PyTorch raises.
BOOL_UNSUPPORTED: dict[str, type[Exception]] = {
    "neg": RuntimeError,
    "sub": RuntimeError,
    "relu": RuntimeError,
    "abs": NotImplementedError,
    "floor": NotImplementedError,
    "ceil": NotImplementedError,
    "round": NotImplementedError,
    "trunc": NotImplementedError,
    "pow": NotImplementedError,
    "floor_divide": NotImplementedError,
    "remainder": NotImplementedError,
    "fmod": NotImplementedError,
    "bitwise_left_shift": NotImplementedError,
    "bitwise_right_shift": NotImplementedError,
}


def reject_bool(name: str) -> None:
    """Raise PyTorch's error for ``name`` on bool operands, if it has one."""
    error = BOOL_UNSUPPORTED.get(name)
    if error is not None:
        raise error(f"{name}: not implemented for 'Bool' operands")


def _infer_elementwise(name: str, rule: DtypeRule):
    def infer(*metas: Meta, **attrs) -> Meta:
        shape = broadcast_shapes(name, *(m.shape for m in metas))
        values = metas[1:] if name == "where" else metas
        dt = values[0].dtype
        for m in values[1:]:
            if m.dtype is not dt:
                raise TypeError(
                    f"{name}: expected operands of one dtype, got {[str(v.dtype) for v in values]}"
                )
        if dt is bool_:
            reject_bool(name)
        if rule in (DtypeRule.COMPARE, DtypeRule.LOGICAL):
            return Meta(shape, bool_)
        if rule is DtypeRule.FLOAT and dt.category != FLOAT:
            raise TypeError(f"{name}: expected a floating-point operand, got {dt}")
        if rule is DtypeRule.INTEGRAL and dt.category == FLOAT:
            raise TypeError(f"{name}: expected integral or bool operands, got {dt}")
        return Meta(shape, dt)

    return infer


def _elementwise(
    name: str,
    kernel,
    vjp=None,
    *,
    rule: DtypeRule = DtypeRule.SAME,
    arity: int = 1,
    save_inputs: bool = False,
    grad_reads: tuple | None = None,
    save_output: bool = False,
    scalar=None,
    raises: bool = False,
    linear: bool = False,
    commutative: bool = False,
    doc: str = "",
) -> OpDef:
    return register(
        OpDef(
            name,
            Kind.ELEMENTWISE,
            kernel,
            _infer_elementwise(name, rule),
            vjp,
            save_inputs=save_inputs,
            grad_reads=grad_reads,
            save_output=save_output,
            dtype_rule=rule,
            arity=arity,
            scalar=scalar,
            raises=raises,
            linear=linear,
            commutative=commutative,
            stack=None if raises else stacking.elementwise,
            doc=doc,
        )
    )


def _zero_grad(F, g, c):
    return tuple(F.full_like(g, value=0.0) if need else None for need in c.needs)


# --- unary -----------------------------------------------------------------------------


def _sign_scalar(S, x):
    if S.is_bool(x):
        return x
    zero = S.const(0, x)
    magnitude = S.where(S.gt(x, zero), S.const(1, x), S.where(S.lt(x, zero), S.const(-1, x), zero))
    return S.where(S.isnan(x), x, magnitude) if S.is_float(x) else magnitude


def _rounding(primitive: str):
    """A rounding op's rule: the float primitive, the identity on integers (already whole)."""
    return lambda S, x: getattr(S, primitive)(x) if S.is_float(x) else x


def _maximum_scalar(S, a, b):
    # numpy's (and torch's) maximum: a NaN on either side wins; a tie keeps b.
    return S.where(S.logical_or(S.gt(a, b), S.isnan(a)), a, b) if S.is_float(a) else S.where(S.gt(a, b), a, b)


def _minimum_scalar(S, a, b):
    return S.where(S.logical_or(S.lt(a, b), S.isnan(a)), a, b) if S.is_float(a) else S.where(S.lt(a, b), a, b)


_elementwise("neg", np.negative, lambda F, g, c: (F.neg(g),), scalar=lambda S, x: S.neg(x), linear=True)
_elementwise(
    "abs",
    np.abs,
    lambda F, g, c: (F.mul(g, F.sign(c.ins[0])),),
    save_inputs=True,
    scalar=lambda S, x: S.abs(x),
)
_elementwise(
    "sign", lambda x: x.copy() if x.dtype == np.bool_ else np.sign(x), _zero_grad, scalar=_sign_scalar
)
_elementwise("floor", np.floor, _zero_grad, scalar=_rounding("floor"))
_elementwise("ceil", np.ceil, _zero_grad, scalar=_rounding("ceil"))
_elementwise("round", np.round, _zero_grad, scalar=_rounding("rint"))
_elementwise("trunc", np.trunc, _zero_grad, scalar=_rounding("trunc"))
_elementwise(
    "relu",
    # 0 where x < 0, else x: NaN stays, and -0.0 too (PyTorch's clamp_min; max(-0.0, 0) was +0.0)
    lambda x: np.where(x < 0, x.dtype.type(0), x),
    lambda F, g, c: (F.relu_grad(g, c.out),),
    save_output=True,
    scalar=lambda S, x: S.where(S.lt(x, S.const(0, x)), S.const(0, x), x),
)
_elementwise(
    "exp",
    np.exp,
    lambda F, g, c: (F.mul(g, c.out),),
    rule=DtypeRule.FLOAT,
    save_output=True,
    scalar=lambda S, x: S.exp(x),
)
_elementwise(
    "expm1",
    np.expm1,
    lambda F, g, c: (F.mul(g, F.add(c.out, 1.0)),),
    rule=DtypeRule.FLOAT,
    save_output=True,
    scalar=lambda S, x: S.expm1(x),
)
_elementwise(
    "log",
    np.log,
    lambda F, g, c: (F.div(g, c.ins[0]),),
    rule=DtypeRule.FLOAT,
    save_inputs=True,
    scalar=lambda S, x: S.log(x),
)
_elementwise(
    "log1p",
    np.log1p,
    lambda F, g, c: (F.div(g, F.add(c.ins[0], 1.0)),),
    rule=DtypeRule.FLOAT,
    save_inputs=True,
    scalar=lambda S, x: S.log1p(x),
)
_elementwise(
    "sqrt",
    np.sqrt,
    lambda F, g, c: (F.div(g, F.mul(c.out, 2.0)),),
    rule=DtypeRule.FLOAT,
    save_output=True,
    scalar=lambda S, x: S.sqrt(x),
)
_elementwise(
    "rsqrt",
    lambda x: np.reciprocal(np.sqrt(x)),
    lambda F, g, c: (F.mul(g, F.mul(F.mul(F.mul(c.out, c.out), c.out), -0.5)),),
    rule=DtypeRule.FLOAT,
    save_output=True,
    scalar=lambda S, x: S.div(S.const(1, x), S.sqrt(x)),
)
_elementwise(
    "reciprocal",
    np.reciprocal,
    lambda F, g, c: (F.neg(F.mul(g, F.mul(c.out, c.out))),),
    rule=DtypeRule.FLOAT,
    save_output=True,
    scalar=lambda S, x: S.div(S.const(1, x), x),
)
_elementwise(
    "sin",
    np.sin,
    lambda F, g, c: (F.mul(g, F.cos(c.ins[0])),),
    rule=DtypeRule.FLOAT,
    save_inputs=True,
    scalar=lambda S, x: S.sin(x),
)
_elementwise(
    "cos",
    np.cos,
    lambda F, g, c: (F.neg(F.mul(g, F.sin(c.ins[0]))),),
    rule=DtypeRule.FLOAT,
    save_inputs=True,
    scalar=lambda S, x: S.cos(x),
)
_elementwise(
    "tan",
    np.tan,
    lambda F, g, c: (F.mul(g, F.add(F.mul(c.out, c.out), 1.0)),),
    rule=DtypeRule.FLOAT,
    save_output=True,
    scalar=lambda S, x: S.tan(x),
)
_elementwise(
    "tanh",
    np.tanh,
    lambda F, g, c: (F.mul(g, F.sub(1.0, F.mul(c.out, c.out))),),
    rule=DtypeRule.FLOAT,
    save_output=True,
    scalar=lambda S, x: S.tanh(x),
)


def _sigmoid(x):
    # 1 / (1 + e^-x): e^-x overflows to inf for very negative x, giving exactly 0.
    # One buffer, written in place (``out=`` also keeps 0-d results arrays).
    e = np.negative(x, out=np.empty_like(x))
    np.exp(e, out=e)
    e += 1
    return np.reciprocal(e, out=e)


_elementwise(
    "sigmoid",
    _sigmoid,
    lambda F, g, c: (F.mul(g, F.mul(c.out, F.sub(1.0, c.out))),),
    rule=DtypeRule.FLOAT,
    save_output=True,
    scalar=lambda S, x: S.div(S.const(1, x), S.add(S.const(1, x), S.exp(S.neg(x)))),
)

# --- erf: numpy has none, so a vectorized float64 kernel (~3e-16 relative accuracy) ---
#
# |x| < 1:      erf(x) = 2/sqrt(pi) * sum_n (-1)^n x^(2n+1) / (n! (2n+1)), the Maclaurin
#               series; 20 terms leave a remainder below 1e-19 at |x| = 1.
# 1 <= |x| < 6: erf(x) = sign(x) (1 - erfc(|x|)) with erfc(x) = exp(-x^2) g(1/x) / x, where
#               g(s) = erfc(1/s) exp(1/s^2) / s is smooth on [1/6, 1] (g -> 1/sqrt(pi) as
#               s -> 0), so a degree-24 Chebyshev series in s represents it to rounding.  Its
#               coefficients are derived once, at import, by interpolating g at the Chebyshev
#               points (math.erfc gives g there); the tests check the kernel against math.erf.
# |x| >= 6:     erfc(6) ~ 2e-17 is below half an ulp of 1, so erf(x) rounds to sign(x).

_ERF_TAYLOR = tuple(
    _TWO_OVER_SQRT_PI * (-1) ** n / (math.factorial(n) * (2 * n + 1)) for n in reversed(range(20))
)  # highest power first, for Horner's rule in x^2
_ERFC_LO, _ERFC_HI = 1.0 / 6.0, 1.0


def _erfc_chebyshev(degree: int) -> tuple:
    nodes = np.polynomial.chebyshev.chebpts1(degree + 1)
    s = (nodes * (_ERFC_HI - _ERFC_LO) + _ERFC_HI + _ERFC_LO) / 2
    g = [math.erfc(1 / v) * math.exp(1 / (v * v)) / v for v in s]
    return tuple(np.polynomial.chebyshev.chebfit(nodes, g, degree).tolist())


_ERFC_CHEB = _erfc_chebyshev(24)


def _erf_small(x: np.ndarray) -> np.ndarray:
    t = x * x
    acc = np.full_like(x, _ERF_TAYLOR[0])
    for c in _ERF_TAYLOR[1:]:
        acc *= t
        acc += c
    acc *= x
    return acc


def _erfc_mid(v: np.ndarray) -> np.ndarray:
    """erfc(v) for 1 <= v < 6, by Clenshaw's recurrence on the Chebyshev series of g(1/v)."""
    s = np.reciprocal(v)
    two_u = s * (4.0 / (_ERFC_HI - _ERFC_LO))
    two_u -= 2.0 * (_ERFC_HI + _ERFC_LO) / (_ERFC_HI - _ERFC_LO)
    b1 = np.zeros_like(v)
    b2 = np.zeros_like(v)
    tmp = np.empty_like(v)
    for c in _ERFC_CHEB[:0:-1]:
        # b_k = c_k + 2u b_{k+1} - b_{k+2}, written over b_{k+2}'s buffer
        np.multiply(two_u, b1, out=tmp)
        np.subtract(tmp, b2, out=b2)
        b2 += c
        b1, b2 = b2, b1
    two_u *= 0.5
    two_u *= b1
    two_u -= b2
    two_u += _ERFC_CHEB[0]  # c_0 + u b_1 - b_2
    two_u *= s
    np.negative(v, out=v)
    v *= -v
    np.exp(v, out=v)  # exp(-v^2), in v's (scratch) buffer
    two_u *= v
    return two_u


def _erf(x):
    a = np.asarray(x, dtype=np.float64)
    ax = np.abs(a)
    out = np.copysign(1.0, a, out=np.empty_like(a))  # the answer for |x| >= 6 and +-inf
    small = ax < 1.0
    if small.any():
        out[small] = _erf_small(a[small])
    mid = (ax >= 1.0) & (ax < 6.0)
    if mid.any():
        erfc = _erfc_mid(ax[mid])
        np.subtract(1.0, erfc, out=erfc)
        out[mid] = np.copysign(erfc, a[mid], out=erfc)
    nan = np.isnan(a)
    if nan.any():
        out[nan] = np.nan
    return out.astype(x.dtype, copy=False)


_elementwise(
    "erf",
    _erf,
    lambda F, g, c: (F.mul(g, F.mul(F.exp(F.neg(F.mul(c.ins[0], c.ins[0]))), _TWO_OVER_SQRT_PI)),),
    rule=DtypeRule.FLOAT,
    save_inputs=True,
    scalar=lambda S, x: S.erf(x),
)


def _truth(S, x):
    """``x != 0`` (NaN is true), a bool as it is."""
    return x if S.is_bool(x) else S.ne(x, S.const(0, x))


def _isinf_scalar(S, x):
    return S.eq(S.abs(x), S.const(math.inf, x)) if S.is_float(x) else S.ne(x, x)


def _isfinite_scalar(S, x):
    return S.lt(S.abs(x), S.const(math.inf, x)) if S.is_float(x) else S.eq(x, x)


_elementwise(
    "logical_not", np.logical_not, rule=DtypeRule.LOGICAL, scalar=lambda S, x: S.logical_not(_truth(S, x))
)
_elementwise("bitwise_not", np.invert, rule=DtypeRule.INTEGRAL, scalar=lambda S, x: S.bit_not(x))
_elementwise("isnan", np.isnan, rule=DtypeRule.COMPARE, scalar=lambda S, x: S.ne(x, x))
_elementwise("isinf", np.isinf, rule=DtypeRule.COMPARE, scalar=_isinf_scalar)
_elementwise("isfinite", np.isfinite, rule=DtypeRule.COMPARE, scalar=_isfinite_scalar)
_elementwise(
    "full_like",
    lambda x, *, value: np.full(x.shape, value, dtype=x.dtype),
    scalar=lambda S, x, *, value: S.const(value, x),
    doc="A tensor of x's shape and dtype filled with `value` (x's data is not read).",
)


# --- type conversion -------------------------------------------------------------------


def _infer_cast(x: Meta, *, dtype) -> Meta:
    return Meta(x.shape, dtype)


def _cast_vjp(F, g, c):
    src = c.metas[0].dtype
    return (F.cast(g, dtype=src) if src.category == FLOAT else None,)


register(
    OpDef(
        "cast",
        Kind.ELEMENTWISE,
        lambda x, *, dtype: x.astype(dtype.np),
        _infer_cast,
        _cast_vjp,
        scalar=lambda S, x, *, dtype: S.cast(x, dtype),
        stack=stacking.elementwise,
        doc="Convert to `dtype` (PyTorch's `.to(dtype)`: float to int truncates toward zero).",
    )
)


# --- binary ----------------------------------------------------------------------------


def _binary(name, kernel, vjp=None, **kw) -> OpDef:
    return _elementwise(name, kernel, vjp, arity=2, **kw)


def _mul_vjp(F, g, c):
    a, b = c.ins
    return (F.mul(g, b) if c.needs[0] else None, F.mul(g, a) if c.needs[1] else None)


def _div_vjp(F, g, c):
    a, b = c.ins
    ga = F.div(g, b) if c.needs[0] else None
    gb = F.neg(F.div(F.mul(g, F.div(a, b)), b)) if c.needs[1] else None  # (a/b)/b: b*b would overflow
    return ga, gb


def _pow_vjp(F, g, c):
    a, b = c.ins
    ga = gb = None
    if c.needs[0]:
        # d/da a^b = b * a^(b-1), defined as 0 where b == 0 (PyTorch's convention).
        ga = F.where(F.eq(b, 0.0), 0.0, F.mul(g, F.mul(b, F.pow(a, F.sub(b, 1.0)))))
    if c.needs[1]:
        # d/db a^b = a^b * log(a), defined as 0 where a == 0 and b >= 0.
        zero_base = F.logical_and(F.eq(a, 0.0), F.ge(b, 0.0))
        gb = F.where(zero_base, 0.0, F.mul(g, F.mul(c.out, F.log(a))))
    return ga, gb


def _extremum_vjp(loses_a: str, loses_b: str):
    # Ties split the gradient evenly between the two inputs, as PyTorch does.
    def vjp(F, g, c):
        a, b = c.ins
        shared = F.where(F.eq(a, b), F.mul(g, 0.5), g)
        ga = F.where(getattr(F, loses_a)(a, b), 0.0, shared) if c.needs[0] else None
        gb = F.where(getattr(F, loses_b)(a, b), 0.0, shared) if c.needs[1] else None
        return ga, gb

    return vjp


def _remainder_vjp(quotient):
    """d/db (a - b * q) = -q, with torch's quotient: floor_divide(a, b) for remainder,
    trunc(a / b) for fmod."""

    def vjp(F, g, c):
        a, b = c.ins
        gb = F.neg(F.mul(g, quotient(F, a, b))) if c.needs[1] else None
        return (g if c.needs[0] else None), gb

    return vjp


def _relu_grad(g, y):
    """``where(y <= 0, 0, g)``: torch's threshold_backward, so a NaN ``y`` passes ``g``."""
    native = native_elementwise.relu_grad(g, y)
    if native is not None:
        return native
    return _where(np.asarray(y <= 0), g.dtype.type(0), g)


_binary(
    "relu_grad",
    _relu_grad,
    lambda F, gg, c: (F.relu_grad(gg, c.ins[1]) if c.needs[0] else None, None),
    save_inputs=(1,),
    scalar=lambda S, g, y: S.where(S.le(y, S.const(0, y)), S.const(0, g), g),
    doc="relu's gradient `where(y <= 0, 0, g)` from the incoming `g` and relu's output `y` "
    "(a NaN `y` passes `g`, as torch's threshold_backward); one pass, no mask.",
)
_binary(
    "add", np.add, lambda F, g, c: (g, g), scalar=lambda S, a, b: S.add(a, b), linear=True, commutative=True
)
_binary(
    "sub",
    np.subtract,
    lambda F, g, c: (g, F.neg(g) if c.needs[1] else None),
    scalar=lambda S, a, b: S.sub(a, b),
    linear=True,
)
_binary(
    "mul",
    np.multiply,
    _mul_vjp,
    save_inputs=True,
    grad_reads=((1,), (0,)),
    scalar=lambda S, a, b: S.mul(a, b),
    commutative=True,
)
_binary(
    "div",
    np.true_divide,
    _div_vjp,
    rule=DtypeRule.FLOAT,
    save_inputs=True,
    grad_reads=((1,), (0, 1)),
    scalar=lambda S, a, b: S.div(a, b),
)
_SCALAR_POWERS = {  # exponent -> what torch's kernel computes instead of pow (its rounding, its signed zeros)
    0.5: np.sqrt,
    -0.5: lambda a: 1 / np.sqrt(a),
    2.0: lambda a: a * a,
    3.0: lambda a: a * a * a,
    -1.0: np.reciprocal,
    -2.0: lambda a: 1 / (a * a),
}


def _pow(a, b):
    """np.power, except for a float base and one of torch's special scalar exponents, and
    integers to negative powers, which numpy refuses and torch defines as C does: 0 unless
    the base is 1 (1) or -1 (+-1 by the exponent's parity)."""
    if b.ndim == 0 and a.dtype.kind == "f":
        special = _SCALAR_POWERS.get(float(b))
        if special is not None:
            return special(a).astype(a.dtype, copy=False)
    if a.dtype.kind in "iu" and b.dtype.kind in "iu" and np.any(b < 0):
        negative = b < 0
        result = np.power(a, np.where(negative, 0, b))
        odd_sign = np.where(b % 2 == 0, 1, -1).astype(result.dtype)
        fraction = np.where(a == 1, 1, np.where(a == -1, odd_sign, 0)).astype(result.dtype)
        return np.where(negative, fraction, result)
    return np.power(a, b)


def _pow_scalar(S, a, b):
    """pow, or for a 0-d float exponent the formula torch uses for that exponent."""
    result = S.pow(a, b)
    if S.is_float(a) and S.is_0d(b):
        one = S.const(1, a)
        special = (
            (0.5, S.sqrt(a)),
            (-0.5, S.div(one, S.sqrt(a))),
            (2.0, S.mul(a, a)),
            (3.0, S.mul(S.mul(a, a), a)),
            (-1.0, S.div(one, a)),
            (-2.0, S.div(one, S.mul(a, a))),
        )
        known = S.known(b)
        for exponent, value in special:
            if known == exponent:
                return value
            if known is None:
                result = S.where(S.eq(b, S.const(exponent, b)), value, result)
    return result


_binary("pow", _pow, _pow_vjp, save_inputs=True, save_output=True, scalar=_pow_scalar)
_binary("maximum", np.maximum, _extremum_vjp("lt", "gt"), save_inputs=True, scalar=_maximum_scalar)
_binary("minimum", np.minimum, _extremum_vjp("gt", "lt"), save_inputs=True, scalar=_minimum_scalar)


def _integer_checked(kernel):
    """``kernel``, raising torch's error for an integer division by zero (numpy gives 0);
    an empty result divides nothing (every element of ``b`` is read otherwise)."""

    def checked(a, b):
        if (
            a.dtype.kind in "iu"
            and np.any(np.asarray(b) == 0)
            and math.prod(np.broadcast_shapes(a.shape, np.shape(b)))
        ):
            raise RuntimeError("ZeroDivisionError")
        return kernel(a, b)

    return checked


def _floor_divide_scalar(S, a, b):
    """numpy's floor quotient (its ``npy_divmod``), as PyTorch's: of floats, a zero
    quotient takes its sign from the operands; of integers, the integer primitive (which
    raises on a zero divisor)."""
    if not S.is_float(a):
        return S.int_floor_divide(a, b)
    zero, one = S.const(0, a), S.const(1, a)
    mod = S.fmod(a, b)
    nonzero_mod = S.ne(mod, zero)  # NaN counts as nonzero, as C's `if (mod)`
    adjust = S.logical_and(nonzero_mod, S.ne(S.lt(b, zero), S.lt(mod, zero)))
    quotient = S.div(S.sub(a, mod), b)
    quotient = S.where(adjust, S.sub(quotient, one), quotient)
    floor = S.floor(quotient)
    floor = S.where(S.gt(S.sub(quotient, floor), S.const(0.5, a)), S.add(floor, one), floor)
    floor = S.where(S.ne(quotient, zero), floor, S.copysign(zero, S.div(a, b)))
    return S.where(S.eq(b, zero), S.div(a, b), floor)


def _remainder_scalar(S, a, b):
    """PyTorch's remainder: of floats, C's fmod plus ``b`` where that is nonzero and its
    sign differs from ``b``'s, so a zero keeps the dividend's sign (``remainder(0., -1.)``
    is 0., where numpy's gives -0.); of integers, the floor remainder."""
    if not S.is_float(a):
        return S.int_remainder(a, b)
    mod = S.fmod(a, b)
    zero = S.const(0, a)
    adjust = S.logical_and(S.ne(mod, zero), S.ne(S.lt(b, zero), S.lt(mod, zero)))
    return S.where(adjust, S.add(mod, b), mod)


def _remainder(a, b):
    """The numpy kernel of :func:`_remainder_scalar`."""
    if a.dtype.kind != "f":
        return np.remainder(a, b)
    with np.errstate(invalid="ignore"):
        mod = np.fmod(a, b)
        return np.where((mod != 0) & ((b < 0) != (mod < 0)), mod + b, mod)


def _fmod_scalar(S, a, b):
    return S.fmod(a, b) if S.is_float(a) else S.int_fmod(a, b)


# The integer divisions raise on a zero divisor (raises=True: they run even when unused).
_binary(
    "floor_divide",
    _integer_checked(np.floor_divide),
    _zero_grad,
    scalar=_floor_divide_scalar,
    raises=True,
)
_binary(
    "remainder",
    _integer_checked(_remainder),
    _remainder_vjp(lambda F, a, b: F.floor_divide(a, b)),
    save_inputs=True,
    grad_reads=((), (0, 1)),  # a's gradient is g itself
    scalar=_remainder_scalar,
    raises=True,
)
_binary(
    "fmod",
    _integer_checked(np.fmod),
    _remainder_vjp(lambda F, a, b: F.trunc(F.div(a, b))),
    save_inputs=True,
    grad_reads=((), (0, 1)),  # a's gradient is g itself
    scalar=_fmod_scalar,
    raises=True,
)


def _atan2_vjp(F, g, c):
    # d atan2(a, b) = (b da - a db) / (a^2 + b^2), taken as 0 where a^2 + b^2 is 0 (as torch)
    a, b = c.ins
    norm2 = F.add(F.mul(a, a), F.mul(b, b))
    scaled = F.where(F.eq(norm2, 0.0), 0.0, F.div(g, norm2))
    ga = F.mul(scaled, b) if c.needs[0] else None
    gb = F.neg(F.mul(scaled, a)) if c.needs[1] else None
    return ga, gb


_binary(
    "atan2",
    np.arctan2,
    _atan2_vjp,
    rule=DtypeRule.FLOAT,
    save_inputs=True,
    scalar=lambda S, a, b: S.atan2(a, b),
)


def _primitive(name: str):
    """The rule applying the scalar primitive ``name`` to the operands."""
    return lambda S, *xs: getattr(S, name)(*xs)


for _name, _kernel in (
    ("eq", np.equal),
    ("ne", np.not_equal),
    ("lt", np.less),
    ("le", np.less_equal),
    ("gt", np.greater),
    ("ge", np.greater_equal),
):
    _binary(
        _name, _kernel, rule=DtypeRule.COMPARE, scalar=_primitive(_name), commutative=_name in ("eq", "ne")
    )
_binary(
    "logical_and",
    np.logical_and,
    rule=DtypeRule.LOGICAL,
    scalar=lambda S, a, b: S.logical_and(_truth(S, a), _truth(S, b)),
    commutative=True,
)
_binary(
    "logical_or",
    np.logical_or,
    rule=DtypeRule.LOGICAL,
    scalar=lambda S, a, b: S.logical_or(_truth(S, a), _truth(S, b)),
    commutative=True,
)
_binary(
    "logical_xor",
    np.logical_xor,
    rule=DtypeRule.LOGICAL,
    scalar=lambda S, a, b: S.ne(_truth(S, a), _truth(S, b)),
    commutative=True,
)
for _name, _primitive_name, _kernel in (
    ("bitwise_and", "bit_and", np.bitwise_and),
    ("bitwise_or", "bit_or", np.bitwise_or),
    ("bitwise_xor", "bit_xor", np.bitwise_xor),
):
    _binary(_name, _kernel, rule=DtypeRule.INTEGRAL, scalar=_primitive(_primitive_name), commutative=True)


def _shift_in_range(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Where ``0 <= b < bits of a's dtype``: a shift C defines (numpy's wraps or differs)."""
    return (b >= 0) & (b < a.dtype.itemsize * 8)


def _left_shift(a, b):
    """PyTorch's ``a << b``: the bits shifted out are lost (two's complement wrap); 0 for
    a shift by a negative amount or by the width or more."""
    inside = _shift_in_range(a, b)
    return np.where(inside, np.left_shift(a, np.where(inside, b, 0)), 0).astype(a.dtype, copy=False)


def _right_shift(a, b):
    """PyTorch's ``a >> b``: arithmetic (the sign fills in) for signed integers; a shift by
    a negative amount or by the width or more leaves only the fill: -1 or 0."""
    inside = _shift_in_range(a, b)
    fill = a.dtype.itemsize * 8 - 1 if a.dtype.kind == "i" else 0
    shifted = np.right_shift(a, np.where(inside, b, fill))
    return shifted if a.dtype.kind == "i" else np.where(inside, shifted, 0).astype(a.dtype, copy=False)


_binary("bitwise_left_shift", _left_shift, rule=DtypeRule.INTEGRAL, scalar=_primitive("shl"))
_binary("bitwise_right_shift", _right_shift, rule=DtypeRule.INTEGRAL, scalar=_primitive("shr"))


# --- ternary ---------------------------------------------------------------------------


def _where_vjp(F, g, c):
    cond = c.ins[0]
    ga = F.where(cond, g, 0.0) if c.needs[1] else None
    gb = F.where(cond, 0.0, g) if c.needs[2] else None
    return None, ga, gb


_MASK_INT = {4: np.int32, 8: np.int64}


def _is_plus_zero(value) -> bool:
    return np.ndim(value) == 0 and value == 0 and not np.signbit(value)


def _where(cond, a, b):
    """np.where, with a branch-free path when one side is +0.0 (relu/pool masks).

    np.where branches per element and is slow on random masks.  A native select
    covers a condition and operand of one shape; otherwise ANDing the other side's
    bits with an all-ones/all-zeros mask gives bit-identical results (inf, nan and
    -0.0 included) in a fraction of np.where's time.
    """
    zero_a, zero_b = _is_plus_zero(a), _is_plus_zero(b)
    other = b if zero_a else a
    if (
        zero_a != zero_b
        and isinstance(other, np.ndarray)
        and other.dtype.kind == "f"
        and cond.dtype == np.bool_
    ):
        selected = native_elementwise.select_zero(np.asarray(cond), other, keep_where_true=zero_b)
        if selected is not None:
            return selected
        ints = _MASK_INT.get(other.dtype.itemsize)
        if ints is not None:
            mask = np.asarray(cond).astype(ints)  # an array even for 0-d conditions (out= needs one)
            if zero_b:
                np.negative(mask, out=mask)  # True -> all ones: keep `a`
            else:
                mask -= 1  # False -> all ones: keep `b`
            out = np.bitwise_and(mask, other.view(ints))
            return out.view(other.dtype)
    return np.where(cond, a, b)


_elementwise(
    "where",
    _where,
    _where_vjp,
    arity=3,
    save_inputs=True,
    grad_reads=((0,), (0,), (0,)),  # the condition only
    scalar=lambda S, cond, a, b: S.where(_truth(S, cond), a, b),
)
