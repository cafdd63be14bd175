"""Elementwise primitives: one scalar function applied at every position; the unary
ones, casts and ``where`` (the binary ones are in :mod:`.binary`, registered with
:func:`register_elementwise` too).

Kernels see inputs already promoted to the computation dtype and broadcastable
against each other (numpy broadcasting); the dispatcher inserts explicit
``broadcast_to`` nodes where autograd or the tracer needs them, so gradient rules
here always produce gradients of the output's shape.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from ..dtypes import COMPLEX, FLOAT, bool_
from ..native import elementwise as native_elementwise
from . import stacking
from .erf import TWO_OVER_SQRT_PI, erf
from .registry import DtypeRule, Kind, Meta, OpDef, register
from .shapes import broadcast_shapes

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
    "gcd": NotImplementedError,
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
        if rule is DtypeRule.FLOAT and dt.category < FLOAT:
            raise TypeError(f"{name}: expected a floating-point operand, got {dt}")
        if rule is DtypeRule.INTEGRAL and dt.category >= FLOAT:
            raise TypeError(f"{name}: expected integral or bool operands, got {dt}")
        return Meta(shape, dt)

    return infer


def register_elementwise(
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
    linear_in: tuple[tuple[int, ...], ...] = (),
    commutative: bool = False,
    complex: bool = False,
    holomorphic: bool = True,
    doc: str = "",
) -> OpDef:
    """Register the elementwise op ``name``: its numpy ``kernel``, gradient rule and
    scalar rule, with the broadcasting shape rule of dtype rule ``rule`` (the other
    fields as :class:`OpDef`'s)."""
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
            linear_in=linear_in,
            commutative=commutative,
            complex=complex,
            holomorphic=holomorphic,
            stack=None if raises else stacking.elementwise,
            doc=doc,
        )
    )


def zero_grad(F, g, c):
    """The gradient rule of a piecewise-constant op (rounding, sign): zeros."""
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


register_elementwise(
    "neg", np.negative, lambda F, g, c: (F.neg(g),), scalar=lambda S, x: S.neg(x), linear=True, complex=True
)


def _abs_vjp(F, g, c):
    # d|x| = sign(x); of complex z, PyTorch's g * z / |z| (0 at 0), a complex gradient
    x = c.ins[0]
    if not c.metas[0].dtype.is_complex:
        return (F.mul(g, F.sign(x)),)
    return (F.where(F.eq(x, 0.0), 0.0, F.mul(g, F.div(x, F.abs(x)))),)


register_elementwise(
    "abs",
    np.abs,
    _abs_vjp,
    save_inputs=True,
    scalar=lambda S, x: S.abs(x),
    complex=True,
    holomorphic=False,
)
register_elementwise(
    "sign", lambda x: x.copy() if x.dtype == np.bool_ else np.sign(x), zero_grad, scalar=_sign_scalar
)
register_elementwise("floor", np.floor, zero_grad, scalar=_rounding("floor"))
register_elementwise("ceil", np.ceil, zero_grad, scalar=_rounding("ceil"))
register_elementwise("round", np.round, zero_grad, scalar=_rounding("rint"))
register_elementwise("trunc", np.trunc, zero_grad, scalar=_rounding("trunc"))
register_elementwise(
    "relu",
    # 0 where x < 0, else x: NaN stays, and -0.0 too (PyTorch's clamp_min; max(-0.0, 0) was +0.0)
    lambda x: np.where(x < 0, x.dtype.type(0), x),
    lambda F, g, c: (F.relu_grad(g, c.out),),
    save_output=True,
    scalar=lambda S, x: S.where(S.lt(x, S.const(0, x)), S.const(0, x), x),
)
register_elementwise(
    "exp",
    np.exp,
    lambda F, g, c: (F.mul(g, c.out),),
    rule=DtypeRule.FLOAT,
    save_output=True,
    scalar=lambda S, x: S.exp(x),
    complex=True,
)
register_elementwise(
    "expm1",
    np.expm1,
    lambda F, g, c: (F.mul(g, F.add(c.out, 1.0)),),
    rule=DtypeRule.FLOAT,
    save_output=True,
    scalar=lambda S, x: S.expm1(x),
    complex=True,
)
register_elementwise(
    "log",
    np.log,
    lambda F, g, c: (F.div(g, c.ins[0]),),
    rule=DtypeRule.FLOAT,
    save_inputs=True,
    scalar=lambda S, x: S.log(x),
    complex=True,
)
register_elementwise(
    "log1p",
    np.log1p,
    lambda F, g, c: (F.div(g, F.add(c.ins[0], 1.0)),),
    rule=DtypeRule.FLOAT,
    save_inputs=True,
    scalar=lambda S, x: S.log1p(x),
    complex=True,
)
register_elementwise(
    "sqrt",
    np.sqrt,
    lambda F, g, c: (F.div(g, F.mul(c.out, 2.0)),),
    rule=DtypeRule.FLOAT,
    save_output=True,
    scalar=lambda S, x: S.sqrt(x),
    complex=True,
)
register_elementwise(
    "rsqrt",
    lambda x: np.reciprocal(np.sqrt(x)),
    lambda F, g, c: (F.mul(g, F.mul(F.mul(F.mul(c.out, c.out), c.out), -0.5)),),
    rule=DtypeRule.FLOAT,
    save_output=True,
    scalar=lambda S, x: S.div(S.const(1, x), S.sqrt(x)),
    complex=True,
)
register_elementwise(
    "reciprocal",
    np.reciprocal,
    lambda F, g, c: (F.neg(F.mul(g, F.mul(c.out, c.out))),),
    rule=DtypeRule.FLOAT,
    save_output=True,
    scalar=lambda S, x: S.div(S.const(1, x), x),
    complex=True,
)
register_elementwise(
    "sin",
    np.sin,
    lambda F, g, c: (F.mul(g, F.cos(c.ins[0])),),
    rule=DtypeRule.FLOAT,
    save_inputs=True,
    scalar=lambda S, x: S.sin(x),
    complex=True,
)
register_elementwise(
    "cos",
    np.cos,
    lambda F, g, c: (F.neg(F.mul(g, F.sin(c.ins[0]))),),
    rule=DtypeRule.FLOAT,
    save_inputs=True,
    scalar=lambda S, x: S.cos(x),
    complex=True,
)
register_elementwise(
    "tan",
    np.tan,
    lambda F, g, c: (F.mul(g, F.add(F.mul(c.out, c.out), 1.0)),),
    rule=DtypeRule.FLOAT,
    save_output=True,
    scalar=lambda S, x: S.tan(x),
    complex=True,
)
register_elementwise(
    "tanh",
    np.tanh,
    lambda F, g, c: (F.mul(g, F.sub(1.0, F.mul(c.out, c.out))),),
    rule=DtypeRule.FLOAT,
    save_output=True,
    scalar=lambda S, x: S.tanh(x),
    complex=True,
)


def _sigmoid(x):
    # 1 / (1 + e^-x): e^-x overflows to inf for very negative x, giving exactly 0.
    # One buffer, written in place (``out=`` also keeps 0-d results arrays).
    e = np.negative(x, out=np.empty_like(x))
    np.exp(e, out=e)
    e += 1
    return np.reciprocal(e, out=e)


register_elementwise(
    "sigmoid",
    _sigmoid,
    lambda F, g, c: (F.mul(g, F.mul(c.out, F.sub(1.0, c.out))),),
    rule=DtypeRule.FLOAT,
    save_output=True,
    scalar=lambda S, x: S.div(S.const(1, x), S.add(S.const(1, x), S.exp(S.neg(x)))),
    complex=True,
)

register_elementwise(
    "erf",
    erf,
    lambda F, g, c: (F.mul(g, F.mul(F.exp(F.neg(F.mul(c.ins[0], c.ins[0]))), TWO_OVER_SQRT_PI)),),
    rule=DtypeRule.FLOAT,
    save_inputs=True,
    scalar=lambda S, x: S.erf(x),
)


def truth(S, x):
    """The scalar rule of ``x``'s truth for the logical ops: ``x != 0`` (NaN is true), a
    bool as it is."""
    return x if S.is_bool(x) else S.ne(x, S.const(0, x))


def _isinf_scalar(S, x):
    return S.eq(S.abs(x), S.const(math.inf, x)) if S.is_float(x) else S.ne(x, x)


def _isfinite_scalar(S, x):
    return S.lt(S.abs(x), S.const(math.inf, x)) if S.is_float(x) else S.eq(x, x)


register_elementwise(
    "logical_not",
    np.logical_not,
    rule=DtypeRule.LOGICAL,
    scalar=lambda S, x: S.logical_not(truth(S, x)),
    complex=True,
)
register_elementwise("bitwise_not", np.invert, rule=DtypeRule.INTEGRAL, scalar=lambda S, x: S.bit_not(x))
register_elementwise("isnan", np.isnan, rule=DtypeRule.COMPARE, scalar=lambda S, x: S.ne(x, x), complex=True)
register_elementwise("isinf", np.isinf, rule=DtypeRule.COMPARE, scalar=_isinf_scalar, complex=True)
register_elementwise("isfinite", np.isfinite, rule=DtypeRule.COMPARE, scalar=_isfinite_scalar, complex=True)
register_elementwise(
    "full_like",
    lambda x, *, value: np.full(x.shape, value, dtype=x.dtype),
    scalar=lambda S, x, *, value: S.const(value, x),
    complex=True,
    doc="A tensor of x's shape and dtype filled with `value` (x's data is not read).",
)


# --- type conversion -------------------------------------------------------------------


def _infer_cast(x: Meta, *, dtype) -> Meta:
    return Meta(x.shape, dtype)


def complex_part(F, z, shape: tuple[int, ...], which: int):
    """The real (``which`` 0) or imaginary (1) part of complex ``z`` of ``shape``, as ops
    of ``F``, for gradient rules (the ``view_as_real`` op is in :mod:`.complex_parts`)."""
    index = tuple(slice(0, n, 1) for n in shape) + (which,)
    return F.slice(F.view_as_real(z), index=index)


def _cast_vjp(F, g, c):
    # a real value that went on as complex gets the real part of its gradient (PyTorch's);
    # a complex one cast to real gets the real gradient back as complex
    src = c.metas[0].dtype
    if src.category < FLOAT:
        return (None,)
    if src.category == FLOAT and c.attrs["dtype"].category == COMPLEX:
        g = complex_part(F, g, c.metas[0].shape, 0)
    return (F.cast(g, dtype=src),)


def _cast(x: np.ndarray, *, dtype) -> np.ndarray:
    if x.dtype.kind == "c" and dtype.category != COMPLEX:
        warnings.warn("Casting complex values to real discards the imaginary part", UserWarning, stacklevel=2)
        x = x.real
    return x.astype(dtype.np)


register(
    OpDef(
        "cast",
        Kind.ELEMENTWISE,
        _cast,
        _infer_cast,
        _cast_vjp,
        scalar=lambda S, x, *, dtype: S.cast(x, dtype),
        stack=stacking.elementwise,
        complex=True,
        holomorphic=False,
        doc="Convert to `dtype` (PyTorch's `.to(dtype)`: float to int truncates toward zero; "
        "complex to real keeps the real part, with PyTorch's warning).",
    )
)


# --- ternary ---------------------------------------------------------------------------


def _where_vjp(F, g, c):
    cond = c.ins[0]
    ga = F.where(cond, g, 0.0) if c.needs[1] else None
    gb = F.where(cond, 0.0, g) if c.needs[2] else None
    return None, ga, gb


_MASK_INT = {4: np.int32, 8: np.int64}


def _is_plus_zero(value) -> bool:
    return np.ndim(value) == 0 and np.isrealobj(value) and value == 0 and not np.signbit(value)


def where_kernel(cond, a, b):
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


register_elementwise(
    "where",
    where_kernel,
    _where_vjp,
    arity=3,
    save_inputs=True,
    grad_reads=((0,), (0,), (0,)),  # the condition only
    scalar=lambda S, cond, a, b: S.where(truth(S, cond), a, b),
    linear_in=((1, 2),),
    complex=True,
)
