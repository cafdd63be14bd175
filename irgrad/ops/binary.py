"""Binary elementwise primitives: arithmetic, powers, extrema, divisions and
remainders, comparisons, logic and bit operations (registered as :mod:`.elementwise`'s
ops are, with :func:`~.elementwise.register_elementwise`).
"""

from __future__ import annotations

import math

import numpy as np

from ..native import elementwise as native_elementwise
from .elementwise import register_elementwise, truth, where_kernel, zero_grad
from .registry import DtypeRule, OpDef


def _maximum_scalar(S, a, b):
    # numpy's (and torch's) maximum: a NaN on either side wins; a tie keeps b.
    return S.where(S.logical_or(S.gt(a, b), S.isnan(a)), a, b) if S.is_float(a) else S.where(S.gt(a, b), a, b)


def _minimum_scalar(S, a, b):
    return S.where(S.logical_or(S.lt(a, b), S.isnan(a)), a, b) if S.is_float(a) else S.where(S.lt(a, b), a, b)


def _binary(name, kernel, vjp=None, **kw) -> OpDef:
    return register_elementwise(name, kernel, vjp, arity=2, **kw)


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
    return where_kernel(np.asarray(y <= 0), g.dtype.type(0), g)


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
    "add",
    np.add,
    lambda F, g, c: (g, g),
    scalar=lambda S, a, b: S.add(a, b),
    linear=True,
    commutative=True,
    complex=True,
)
_binary(
    "sub",
    np.subtract,
    lambda F, g, c: (g, F.neg(g) if c.needs[1] else None),
    scalar=lambda S, a, b: S.sub(a, b),
    linear=True,
    complex=True,
)
_binary(
    "mul",
    np.multiply,
    _mul_vjp,
    save_inputs=True,
    grad_reads=((1,), (0,)),
    scalar=lambda S, a, b: S.mul(a, b),
    linear_in=((0,), (1,)),
    commutative=True,
    complex=True,
)
_binary(
    "div",
    np.true_divide,
    _div_vjp,
    rule=DtypeRule.FLOAT,
    save_inputs=True,
    grad_reads=((1,), (0, 1)),
    scalar=lambda S, a, b: S.div(a, b),
    linear_in=((0,),),
    complex=True,
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


_binary("pow", _pow, _pow_vjp, save_inputs=True, save_output=True, scalar=_pow_scalar, complex=True)
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
    zero_grad,
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


def _copysign_vjp(F, g, c):
    # PyTorch's: g * copysign(a, b) / a for a, 0 where a is 0; b's gradient is zeros
    a, _ = c.ins
    ga = F.mul(g, F.where(F.eq(a, 0.0), 0.0, F.div(c.out, a))) if c.needs[0] else None
    gb = F.full_like(g, value=0.0) if c.needs[1] else None
    return ga, gb


_binary(
    "copysign",
    np.copysign,
    _copysign_vjp,
    rule=DtypeRule.FLOAT,
    save_inputs=(0,),
    save_output=True,
    scalar=lambda S, a, b: S.copysign(a, b),
    doc="|a| with the sign bit of b (of -0.0 and a negative NaN too).",
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
        _name,
        _kernel,
        rule=DtypeRule.COMPARE,
        scalar=_primitive(_name),
        commutative=_name in ("eq", "ne"),
        complex=_name in ("eq", "ne"),  # complex numbers have no order
    )
_binary(
    "logical_and",
    np.logical_and,
    rule=DtypeRule.LOGICAL,
    scalar=lambda S, a, b: S.logical_and(truth(S, a), truth(S, b)),
    commutative=True,
    complex=True,
)
_binary(
    "logical_or",
    np.logical_or,
    rule=DtypeRule.LOGICAL,
    scalar=lambda S, a, b: S.logical_or(truth(S, a), truth(S, b)),
    commutative=True,
    complex=True,
)
_binary(
    "logical_xor",
    np.logical_xor,
    rule=DtypeRule.LOGICAL,
    scalar=lambda S, a, b: S.ne(truth(S, a), truth(S, b)),
    commutative=True,
    complex=True,
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


def _gcd(a, b):
    """PyTorch's gcd (its ``calc_gcd``): Euclid's algorithm on the absolute values with C's
    truncated remainder, so ``gcd(0, 0)`` is 0 and the most negative integer, whose
    absolute value wraps to itself, can give a negative result as there."""
    a, b = np.broadcast_arrays(np.abs(a), np.abs(b))
    while True:
        running = a != 0
        if not running.any():
            return b.copy()
        a, b = np.where(running, np.fmod(b, np.where(running, a, 1)), 0), np.where(running, a, b)


# Euclid's divisions on values under 2**63: at most 91 (consecutive Fibonacci numbers,
# Lamé), one more to order the operands and one for the most negative integer
_EUCLID_STEPS = 93


def _gcd_scalar(S, a, b):
    """:func:`_gcd` unrolled to the most steps any int64 operands take (a step past the
    end leaves the pair alone); the LLVM lowering has no integer remainder, so compiled
    code runs the kernel."""
    zero, one = S.const(0, a), S.const(1, a)
    a, b = S.abs(a), S.abs(b)
    for _ in range(_EUCLID_STEPS):
        running = S.ne(a, zero)
        a, b = S.where(running, S.int_fmod(b, S.where(running, a, one)), zero), S.where(running, a, b)
    return b


_binary(
    "gcd",
    _gcd,
    rule=DtypeRule.INTEGRAL,
    scalar=_gcd_scalar,
    doc="The greatest common divisor of integers, as PyTorch's kernel computes it.",
)
