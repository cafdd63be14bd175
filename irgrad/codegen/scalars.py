"""The scalar ISA of :mod:`irgrad.ops.scalar` on LLVM values: scalar rules become IR.

An op's scalar rule, run with an :class:`LlvmScalars` namespace, emits the
instructions computing one element into the builder's current block.  Values carry
their numpy dtype (LLVM integers have no sign), their static rank (``is_0d``) and,
for 0-d constants, their Python value (``known``), so a rule can specialise as the
numpy kernel does.  Semantics follow numpy exactly where the registry tests pin it
(comparisons with NaN, ``ne`` true for NaN, bool ``add``/``mul`` as or/and, integers
wrapping); a primitive with no exact lowering for a dtype raises :class:`Unsupported`
and the op runs with numpy instead.

The transcendental functions are straight-line code the loop vectorizer widens, no
C library call: ``exp`` from :mod:`irgrad.native.exp`, the others from
:mod:`irgrad.codegen.vector_math`, :mod:`~irgrad.codegen.vector_trig` and
:mod:`~irgrad.codegen.vector_pow`.
"""

from __future__ import annotations

import functools
import importlib
import platform
from dataclasses import dataclass

import llvmlite.ir as ir
import numpy as np

from ..ir.graph import CONSTANT, INPUT
from ..native import exp as native_exp
from ..ops import OPS
from ..ops.scalar import NumpyScalars, Unsupported

_FLOAT_TYPES = {np.dtype(np.float32): ir.FloatType(), np.dtype(np.float64): ir.DoubleType()}
_BOOL = np.dtype(np.bool_)
# Primitives of the scalar ISA this lowering has no code for yet (they raise Unsupported).
NO_NATIVE_CODE = frozenset({"lgamma", "digamma", "polygamma", "erfinv"})
_INTRINSICS = {"floor": "llvm.floor", "ceil": "llvm.ceil", "trunc": "llvm.trunc", "rint": "llvm.roundeven"}
_INT_MIN = {4: -(2**31), 8: -(2**63)}


def has_native_type(dt: np.dtype) -> bool:
    """Whether values of ``dt`` have an LLVM register type (float16 has none here)."""
    dt = np.dtype(dt)
    return dt in _FLOAT_TYPES or dt == _BOOL or dt.kind in "iu"


def llvm_type(dt: np.dtype) -> ir.Type:
    """The LLVM register type of a numpy dtype (bool is ``i1``)."""
    dt = np.dtype(dt)
    if dt in _FLOAT_TYPES:
        return _FLOAT_TYPES[dt]
    if dt == _BOOL:
        return ir.IntType(1)
    if dt.kind in "iu":
        return ir.IntType(8 * dt.itemsize)
    raise Unsupported(f"no native code for dtype {dt}")


def storage_type(dt: np.dtype) -> ir.Type:
    """The LLVM type of a dtype in memory (bool is a byte)."""
    return ir.IntType(8) if np.dtype(dt) == _BOOL else llvm_type(dt)


@dataclass(frozen=True)
class Value:
    """One scalar of a rule: an LLVM value, its numpy dtype, its static rank and, for a
    0-d constant, its Python value."""

    ir: ir.Value
    dtype: np.dtype
    ndim: int = 0
    known: object = None


class LlvmScalars:
    """The scalar ISA emitting into ``builder``."""

    def __init__(self, builder: ir.IRBuilder) -> None:
        self.b = builder

    # --- values and their properties --------------------------------------------------
    def const(self, value, like: Value) -> Value:
        dt = like.dtype
        if dt.kind == "f":
            value = float(value)
        elif dt == _BOOL:
            value = bool(value)
        else:
            value = int(np.array(value).astype(dt))  # wraps as numpy does
        return Value(ir.Constant(llvm_type(dt), value), dt, 0, value)

    def known(self, x: Value):
        return x.known if x.ndim == 0 else None

    def is_float(self, x: Value) -> bool:
        return x.dtype.kind == "f"

    def is_bool(self, x: Value) -> bool:
        return x.dtype == _BOOL

    def is_0d(self, x: Value) -> bool:
        return x.ndim == 0

    def _result(self, value: ir.Value, *operands: Value, dtype: np.dtype | None = None) -> Value:
        return Value(value, dtype if dtype is not None else operands[0].dtype, max(o.ndim for o in operands))

    # --- arithmetic -------------------------------------------------------------------
    def _arith(self, float_op: str, int_op: str, bool_op: str | None, a: Value, c: Value) -> Value:
        if a.dtype.kind == "f":
            op = float_op
        elif a.dtype == _BOOL:
            if bool_op is None:
                raise Unsupported(f"{int_op} of bools")
            op = bool_op
        else:
            op = int_op
        return self._result(getattr(self.b, op)(a.ir, c.ir), a, c)

    def add(self, a, c):
        return self._arith("fadd", "add", "or_", a, c)

    def sub(self, a, c):
        return self._arith("fsub", "sub", None, a, c)

    def mul(self, a, c):
        return self._arith("fmul", "mul", "and_", a, c)

    def div(self, a, c):
        self._floats("div", a)
        return self._result(self.b.fdiv(a.ir, c.ir), a, c)

    def fmod(self, a, c):
        self._floats("fmod", a)
        return self._result(self.b.frem(a.ir, c.ir), a, c)

    def neg(self, a):
        if a.dtype.kind == "f":
            return self._result(self.b.fneg(a.ir), a)
        if a.dtype == _BOOL:
            raise Unsupported("neg of bools")
        return self._result(self.b.neg(a.ir), a)

    def abs(self, a):
        if a.dtype.kind == "f":
            return self._intrinsic("llvm.fabs", a)
        if a.dtype == _BOOL or a.dtype.kind == "u":
            return a
        negative = self.b.icmp_signed("<", a.ir, ir.Constant(a.ir.type, 0))
        return self._result(self.b.select(negative, self.b.neg(a.ir), a.ir), a)

    def copysign(self, a, c):
        self._floats("copysign", a)
        return self._intrinsic("llvm.copysign", a, c)

    def int_floor_divide(self, a, c):
        raise Unsupported("integer division (a zero divisor must raise, as eagerly)")

    int_remainder = int_fmod = int_floor_divide

    # --- rounding and transcendental functions ---------------------------------------
    def _floats(self, name: str, a: Value) -> None:
        if a.dtype.kind != "f":
            raise Unsupported(f"{name} of {a.dtype}")

    def _intrinsic(self, name: str, *operands: Value) -> Value:
        ft = operands[0].ir.type
        fn = self.b.module.declare_intrinsic(name, [ft], ir.FunctionType(ft, [ft] * len(operands)))
        return self._result(self.b.call(fn, [o.ir for o in operands]), *operands)

    def floor(self, a):
        return self._rounding("floor", a)

    def ceil(self, a):
        return self._rounding("ceil", a)

    def trunc(self, a):
        return self._rounding("trunc", a)

    def rint(self, a):
        return self._rounding("rint", a)

    def _rounding(self, name: str, a: Value) -> Value:
        self._floats(name, a)
        return self._intrinsic(_INTRINSICS[name], a)

    def sqrt(self, a):
        self._floats("sqrt", a)
        return self._intrinsic("llvm.sqrt", a)

    def exp(self, a):
        self._floats("exp", a)
        return self._result(native_exp.exp(self.b, a.ir), a)

    def _vector_math(self, module: str, name: str, *operands: Value) -> Value:
        """``name`` of the codegen module ``module`` applied to ``operands``.  The vector
        math modules are imported here, on first emission, not with this one: a build
        whose programs come from the disk cache emits nothing (W5's warm compile)."""
        self._floats(name, operands[0])
        function = getattr(importlib.import_module(f"{__package__}.{module}"), name)
        return self._result(function(self.b, *(o.ir for o in operands)), *operands)

    def expm1(self, a):
        return self._vector_math("vector_math", "expm1", a)

    def log(self, a):
        return self._vector_math("vector_math", "log", a)

    def log1p(self, a):
        return self._vector_math("vector_math", "log1p", a)

    def sin(self, a):
        return self._vector_math("vector_trig", "sin", a)

    def cos(self, a):
        return self._vector_math("vector_trig", "cos", a)

    def tan(self, a):
        return self._vector_math("vector_trig", "tan", a)

    def tanh(self, a):
        return self._vector_math("vector_math", "tanh", a)

    def erf(self, a):
        return self._vector_math("vector_math", "erf", a)

    def _no_native_code(self, *operands, name: str):
        raise Unsupported(f"no native code for {name} yet")

    lgamma = functools.partialmethod(_no_native_code, name="lgamma")
    digamma = functools.partialmethod(_no_native_code, name="digamma")
    polygamma = functools.partialmethod(_no_native_code, name="polygamma")
    erfinv = functools.partialmethod(_no_native_code, name="erfinv")

    def atan2(self, a, c):
        return self._vector_math("vector_trig", "atan2", a, c)

    def pow(self, a, c):
        return self._vector_math("vector_pow", "pow", a, c)

    # --- comparisons and logic --------------------------------------------------------
    def _compare(self, op: str, a: Value, c: Value) -> Value:
        if a.dtype.kind == "f":
            value = (self.b.fcmp_unordered if op == "!=" else self.b.fcmp_ordered)(op, a.ir, c.ir)
        elif a.dtype.kind == "i":
            value = self.b.icmp_signed(op, a.ir, c.ir)
        else:
            value = self.b.icmp_unsigned(op, a.ir, c.ir)
        return self._result(value, a, c, dtype=_BOOL)

    def lt(self, a, c):
        return self._compare("<", a, c)

    def le(self, a, c):
        return self._compare("<=", a, c)

    def gt(self, a, c):
        return self._compare(">", a, c)

    def ge(self, a, c):
        return self._compare(">=", a, c)

    def eq(self, a, c):
        return self._compare("==", a, c)

    def ne(self, a, c):
        return self._compare("!=", a, c)

    def isnan(self, a):
        if a.dtype.kind != "f":
            return self._result(ir.Constant(ir.IntType(1), 0), a, dtype=_BOOL)
        return self._result(self.b.fcmp_unordered("uno", a.ir, a.ir), a, dtype=_BOOL)

    def logical_and(self, a, c):
        return self._result(self.b.and_(a.ir, c.ir), a, c)

    def logical_or(self, a, c):
        return self._result(self.b.or_(a.ir, c.ir), a, c)

    def logical_not(self, a):
        return self._result(self.b.not_(a.ir), a)

    def _bitwise(self, op: str, a: Value, c: Value) -> Value:
        if a.dtype.kind == "f":
            raise Unsupported(f"bitwise {op} of floats")
        return self._result(getattr(self.b, op)(a.ir, c.ir), a, c)

    def bit_and(self, a, c):
        return self._bitwise("and_", a, c)

    def bit_or(self, a, c):
        return self._bitwise("or_", a, c)

    def bit_xor(self, a, c):
        return self._bitwise("xor", a, c)

    def _shift_amount(self, a: Value, c: Value, name: str) -> tuple[ir.Value, ir.Value]:
        """Whether ``0 <= c < bits`` (an unsigned compare: a negative amount is huge), and the
        amount to shift by (0 outside: LLVM's shift by the width or more is poison)."""
        if a.dtype.kind not in "iu":
            raise Unsupported(f"{name} of {a.dtype}")
        bits = ir.Constant(a.ir.type, a.dtype.itemsize * 8)
        inside = self.b.icmp_unsigned("<", c.ir, bits)
        return inside, self.b.select(inside, c.ir, ir.Constant(a.ir.type, 0))

    def shl(self, a, c):
        inside, amount = self._shift_amount(a, c, "shl")
        shifted = self.b.shl(a.ir, amount)
        return self._result(self.b.select(inside, shifted, ir.Constant(a.ir.type, 0)), a, c)

    def shr(self, a, c):
        inside, amount = self._shift_amount(a, c, "shr")
        if a.dtype.kind == "i":  # outside: by the width - 1, which leaves the sign's fill
            fill = ir.Constant(a.ir.type, a.dtype.itemsize * 8 - 1)
            return self._result(self.b.ashr(a.ir, self.b.select(inside, amount, fill)), a, c)
        shifted = self.b.lshr(a.ir, amount)
        return self._result(self.b.select(inside, shifted, ir.Constant(a.ir.type, 0)), a, c)

    def bit_not(self, a):
        if a.dtype.kind == "f":
            raise Unsupported("bitwise not of floats")
        return self._result(self.b.not_(a.ir), a)

    def where(self, cond, a, c):
        return self._result(self.b.select(cond.ir, a.ir, c.ir), cond, a, c, dtype=a.dtype)

    # --- conversion -------------------------------------------------------------------
    def cast(self, x: Value, dtype) -> Value:
        src, dst = x.dtype, np.dtype(dtype.np)
        b, target = self.b, llvm_type(dst)
        if src == dst:
            return x
        if dst == _BOOL:
            zero = ir.Constant(x.ir.type, 0.0 if src.kind == "f" else 0)
            value = (
                b.fcmp_unordered("!=", x.ir, zero) if src.kind == "f" else b.icmp_unsigned("!=", x.ir, zero)
            )
        elif src.kind == "f" and dst.kind == "f":
            value = (b.fpext if dst.itemsize > src.itemsize else b.fptrunc)(x.ir, target)
        elif src.kind == "f":
            value = self._float_to_int(x, dst)
        elif dst.kind == "f":
            value = (b.sitofp if src.kind == "i" else b.uitofp)(x.ir, target)
        else:
            value = self._int_to_int(x.ir, src, target)
        return Value(value, dst, x.ndim)

    def _int_to_int(self, value: ir.Value, src: np.dtype, target: ir.IntType) -> ir.Value:
        """Widen by the source's signedness, narrow by truncation (wrapping, as numpy)."""
        if target.width > value.type.width:
            return (self.b.sext if src.kind == "i" else self.b.zext)(value, target)
        if target.width < value.type.width:
            return self.b.trunc(value, target)
        return value

    def _float_to_int(self, x: Value, dst: np.dtype) -> ir.Value:
        """numpy's float-to-int conversion on x86: truncation toward zero into a 32- or
        64-bit signed integer, where NaN and out-of-range values give its minimum (as
        ``cvttss2si`` does), then narrowing by truncation for smaller types."""
        if platform.machine().lower() not in ("x86_64", "amd64"):
            raise Unsupported(f"conversion of {x.dtype} to {dst} off x86 (its out-of-range results differ)")
        b = self.b
        width = 8 if dst.itemsize == 8 else 4
        target = ir.IntType(8 * width)
        bound = float(2 ** (8 * width - 1))
        in_range = b.and_(
            b.fcmp_ordered(">=", x.ir, ir.Constant(x.ir.type, -bound)),
            b.fcmp_ordered("<", x.ir, ir.Constant(x.ir.type, bound)),
        )
        safe = b.select(in_range, x.ir, ir.Constant(x.ir.type, 0.0))  # fptosi of the rest is poison
        value = b.select(in_range, b.fptosi(safe, target), ir.Constant(target, _INT_MIN[width]))
        return self._int_to_int(value, np.dtype(f"i{width}"), llvm_type(dst))


__all__ = ["LlvmScalars", "Value", "llvm_type", "storage_type"]


# Primitives whose native code is not numpy's bit for bit: vectorizable polynomials
# (irgrad.native.exp; irgrad.codegen.vector_math, vector_trig, vector_pow) where numpy calls
# the C library or its own SIMD implementations.
APPROXIMATE = ("exp", "expm1", "log", "log1p", "sin", "cos", "tan", "tanh", "erf", "atan2", "pow")


def _recording(names) -> tuple[type, set[str]]:
    """A :class:`NumpyScalars` that adds each of ``names`` it is asked for to the set."""
    used: set[str] = set()

    class Recording(NumpyScalars):
        pass

    for name in names:
        primitive = getattr(NumpyScalars, name)

        def record(*args, _name=name, _primitive=primitive):
            used.add(_name)
            return _primitive(*args)

        setattr(Recording, name, staticmethod(record))
    return Recording, used


def exact_natively(body) -> bool:
    """Whether native code computes every value of fused ``body`` exactly as numpy does:
    no op's scalar rule reaches an :data:`APPROXIMATE` primitive (found by running the
    rules once, on numpy, with a namespace that records what they call)."""
    Recording, used = _recording(APPROXIMATE)
    values: dict[int, np.ndarray] = {}
    with np.errstate(all="ignore"):
        for nid in body.order():
            node = body.node(nid)
            args = [values[a] for a in body.args(nid)]
            if node.op == INPUT:
                values[nid] = np.zeros((1,), np.dtype(node.type.dtype.np))
            elif node.op == CONSTANT:
                values[nid] = node.value
            elif node.op in OPS and OPS[node.op].scalar is not None:
                values[nid] = np.asarray(OPS[node.op].scalar(Recording, *args, **node.attrs))
            elif args:
                values[nid] = args[0]  # a view, or the reduction: its values are its argument's
    return not used


_WITHOUT_NATIVE_CODE: dict[tuple, bool] = {}


def without_native_code(graph, nid: int) -> bool:
    """Whether elementwise node ``nid``'s scalar rule calls a primitive that has no native
    code (:data:`NO_NATIVE_CODE`): fusion keeps such a node apart, so its group's other
    ops still lower (memoized per op, argument dtypes and attributes)."""
    node = graph.node(nid)
    op = OPS.get(node.op)
    if op is None or op.scalar is None:
        return False
    dts = tuple(np.dtype(graph.node(a).type.dtype.np) for a in graph.args(nid))
    key = (node.op, dts, repr(sorted(node.attrs.items())))
    if key not in _WITHOUT_NATIVE_CODE:
        Recording, used = _recording(NO_NATIVE_CODE)
        try:
            with np.errstate(all="ignore"):
                op.scalar(Recording, *(np.zeros((1,), dt) for dt in dts), **node.attrs)
        except Exception:  # a rule numpy cannot run on zeros: the lowering decides for it
            used.clear()
        _WITHOUT_NATIVE_CODE[key] = bool(used)
    return _WITHOUT_NATIVE_CODE[key]
