"""The scalar ISA of :mod:`irgrad.ops.scalar` on LLVM values: scalar rules become IR.

An op's scalar rule, run with an :class:`LlvmScalars` namespace, emits the
instructions computing one element into the builder's current block.  Values carry
their numpy dtype (LLVM integers have no sign), their static rank (``is_0d``) and,
for 0-d constants, their Python value (``known``), so a rule can specialise as the
numpy kernel does.  Semantics follow numpy exactly where the registry tests pin it
(comparisons with NaN, ``ne`` true for NaN, bool ``add``/``mul`` as or/and, integers
wrapping); a primitive with no exact lowering for a dtype raises :class:`Unsupported`
and the op runs with numpy instead.

``exp`` (both float types), ``tanh`` and ``log`` (float32) are straight-line polynomial
code the loop vectorizer widens; the other transcendental functions call the C library,
one element at a time.
"""

from __future__ import annotations

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
_LIBM = {  # primitive -> C library names for (float32, float64)
    "expm1": ("expm1f", "expm1"),
    "log": (None, "log"),
    "log1p": ("log1pf", "log1p"),
    "sin": ("sinf", "sin"),
    "cos": ("cosf", "cos"),
    "tan": ("tanf", "tan"),
    "tanh": (None, "tanh"),
    "erf": ("erff", "erf"),
    "atan2": ("atan2f", "atan2"),
    "pow": ("powf", "pow"),
}
_INTRINSICS = {"floor": "llvm.floor", "ceil": "llvm.ceil", "trunc": "llvm.trunc", "rint": "llvm.roundeven"}
_INT_MIN = {4: -(2**31), 8: -(2**63)}
# Cephes' logf polynomial: log(1 + m) = m - m^2/2 + m^3 P(m) for m in [sqrt(1/2) - 1, sqrt(2) - 1].
_LOG_F32 = (
    7.0376836292e-2,
    -1.1514610310e-1,
    1.1676998740e-1,
    -1.2420140846e-1,
    1.4249322787e-1,
    -1.6668057665e-1,
    2.0000714765e-1,
    -2.4999993993e-1,
    3.3333331174e-1,
)
# Cephes' tanhf polynomial for |x| < 0.625 (x + x^3 P(x^2)), highest degree first.
_TANH_F32 = (-5.70498872745e-3, 2.06390887954e-2, -5.37397155531e-2, 1.33314422036e-1, -3.33332819422e-1)

# erf in float32, computed in float64 (see LlvmScalars._erf_f32). Below 0.5: erf's Taylor
# series, 2/sqrt(pi) (-1)^n / (n! (2n + 1)) for n = 9 .. 0 (in x**2, times x). From 0.5 to 4:
# erfc(a) exp(a**2) as a degree-16 polynomial in t = (a - 2.25) / 1.75, highest power first,
# a Chebyshev fit at 200 nodes converted to powers of t (relative error 3.3e-10 there).
_ERF_TAYLOR = (
    -1.6365844691234924e-07,
    1.6462114365889246e-06,
    -1.492565035840625e-05,
    0.00012055332981789664,
    -0.0008548327023450852,
    0.005223977625442188,
    -0.026866170645131252,
    0.11283791670955126,
    -0.37612638903183754,
    1.1283791670955126,
)
_ERFC_SCALED = (
    8.726195337365628e-06,
    -2.076846055370436e-05,
    1.3527578579342801e-05,
    -3.266988308132941e-05,
    0.0001339171432485156,
    -0.000295099237619407,
    0.0005869599313294802,
    -0.001242891592657021,
    0.0025843380126641478,
    -0.00516689458415193,
    0.010010490175510506,
    -0.018771528697947615,
    0.03394226338966088,
    -0.05896421174800682,
    0.0979774197300457,
    -0.15485137902275467,
    0.23108725874107328,
)


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

    def _libm(self, name: str, *operands: Value) -> Value:
        self._floats(name, operands[0])
        symbol = _LIBM[name][0 if operands[0].dtype == np.float32 else 1]
        ft = operands[0].ir.type
        module = self.b.module
        fn = module.globals.get(symbol) or ir.Function(
            module, ir.FunctionType(ft, [ft] * len(operands)), symbol
        )
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

    def tanh(self, a):
        if a.dtype != np.float32:
            return self._libm("tanh", a)
        return self._result(self._tanh_f32(a.ir), a)

    def _tanh_f32(self, x: ir.Value) -> ir.Value:
        """Cephes' tanhf: an odd polynomial below 0.625, ``1 - 2/(exp(2|x|) + 1)`` above
        (``exp`` overflowing to inf gives exactly 1); NaN takes the polynomial and stays NaN."""
        b, ft = self.b, x.type
        fabs = b.module.declare_intrinsic("llvm.fabs", [ft])
        copysign = b.module.declare_intrinsic("llvm.copysign", [ft], ir.FunctionType(ft, [ft, ft]))
        z = b.call(fabs, [x])
        e = native_exp.exp(b, b.fmul(z, ir.Constant(ft, 2.0)))
        large = b.fsub(ir.Constant(ft, 1.0), b.fdiv(ir.Constant(ft, 2.0), b.fadd(e, ir.Constant(ft, 1.0))))
        large = b.call(copysign, [large, x])
        x2 = b.fmul(x, x)
        p = ir.Constant(ft, _TANH_F32[0])
        for k in _TANH_F32[1:]:
            p = b.fadd(b.fmul(p, x2), ir.Constant(ft, k))
        small = b.fadd(b.fmul(b.fmul(p, x2), x), x)
        return b.select(b.fcmp_ordered(">", z, ir.Constant(ft, 0.625)), large, small)

    def expm1(self, a):
        if a.dtype != np.float32:
            return self._libm("expm1", a)
        return self._result(self._expm1_f32(a.ir), a)

    def _expm1_f32(self, x: ir.Value) -> ir.Value:
        """``exp(x) - 1`` in float64, rounded once: below 2**-10 in magnitude the Taylor series
        to x**5 (the subtraction would lose the small result's digits), else ``exp`` less 1
        (float64 keeps 13 digits of any float32 result); inf, -inf (-1) and NaN follow."""
        b, dt = self.b, ir.DoubleType()
        xd = b.fpext(x, dt)
        fabs = b.module.declare_intrinsic("llvm.fabs", [dt])
        small = b.fcmp_ordered("<", b.call(fabs, [xd]), ir.Constant(dt, 2.0**-10))
        series = ir.Constant(dt, 1 / 120)
        for k in (1 / 24, 1 / 6, 1 / 2, 1.0):
            series = b.fadd(b.fmul(series, xd), ir.Constant(dt, k))
        series = b.fmul(series, xd)
        large = b.fsub(native_exp.exp(b, xd), ir.Constant(dt, 1.0))
        return b.fptrunc(b.select(small, series, large), x.type)

    def log(self, a):
        if a.dtype != np.float32:
            return self._libm("log", a)
        return self._result(self._log_f32(a.ir), a)

    def _log_f32(self, x: ir.Value) -> ir.Value:
        """Cephes' logf as straight-line code: ``x = 2**e * (1 + m)`` by bit manipulation
        (subnormals scaled up first), then a polynomial in ``m``; 0 gives -inf, a negative
        number NaN, inf and NaN themselves."""
        b, ft, it = self.b, x.type, ir.IntType(32)

        def c(value: float) -> ir.Constant:
            return ir.Constant(ft, value)

        tiny = b.fcmp_ordered("<", x, c(1.1754943508222875e-38))  # subnormal (or <= 0)
        scaled = b.select(tiny, b.fmul(x, c(2.0**23)), x)
        bits = b.bitcast(scaled, it)
        exponent = b.sub(
            b.and_(b.lshr(bits, ir.Constant(it, 23)), ir.Constant(it, 0xFF)), ir.Constant(it, 126)
        )
        exponent = b.sub(exponent, b.select(tiny, ir.Constant(it, 23), ir.Constant(it, 0)))
        mantissa = b.bitcast(
            b.or_(b.and_(bits, ir.Constant(it, 0x807FFFFF)), ir.Constant(it, 0x3F000000)), ft
        )
        low = b.fcmp_ordered("<", mantissa, c(0.707106781186547524))
        e = b.sitofp(b.sub(exponent, b.select(low, ir.Constant(it, 1), ir.Constant(it, 0))), ft)
        m = b.fsub(b.select(low, b.fadd(mantissa, mantissa), mantissa), c(1.0))
        z = b.fmul(m, m)
        p = c(_LOG_F32[0])
        for k in _LOG_F32[1:]:
            p = b.fadd(b.fmul(p, m), c(k))
        y = b.fmul(b.fmul(p, m), z)
        y = b.fadd(y, b.fmul(e, c(-2.12194440e-4)))
        y = b.fsub(y, b.fmul(z, c(0.5)))
        result = b.fadd(b.fadd(m, y), b.fmul(e, c(0.693359375)))
        special = b.fcmp_unordered("uno", x, x)  # NaN stays NaN
        result = b.select(b.fcmp_ordered("==", x, c(float("inf"))), x, result)
        result = b.select(b.fcmp_ordered("==", x, c(0.0)), c(float("-inf")), result)
        result = b.select(b.fcmp_ordered("<", x, c(0.0)), c(float("nan")), result)
        return b.select(special, x, result)

    def log1p(self, a):
        if a.dtype != np.float32:
            return self._libm("log1p", a)
        return self._result(self._log1p_f32(a.ir), a)

    def _log1p_f32(self, x: ir.Value) -> ir.Value:
        """``log(1 + x)`` in float64, rounded once: below 2**-10 in magnitude its series to
        x**4; above, ``1 + x`` is exact in float64 and its log is the exponent times ln 2 plus
        ``2 atanh(s)``, ``s = (m - 1) / (m + 1)`` for the mantissa ``m`` in [sqrt(1/2), sqrt(2))
        (|s| <= 0.172: seven terms reach 5e-11); -1 gives -inf, below it NaN, inf and NaN
        themselves."""
        b, dt, it = self.b, ir.DoubleType(), ir.IntType(64)
        xd = b.fpext(x, dt)
        fabs = b.module.declare_intrinsic("llvm.fabs", [dt])

        def c(value: float) -> ir.Constant:
            return ir.Constant(dt, value)

        series = c(-1 / 4)
        for k in (1 / 3, -1 / 2, 1.0):
            series = b.fadd(b.fmul(series, xd), c(k))
        series = b.fmul(series, xd)

        u = b.fadd(c(1.0), xd)
        bits = b.bitcast(u, it)
        exponent = b.sub(
            b.and_(b.lshr(bits, ir.Constant(it, 52)), ir.Constant(it, 0x7FF)), ir.Constant(it, 1023)
        )
        mantissa = b.bitcast(
            b.or_(b.and_(bits, ir.Constant(it, 0x000FFFFFFFFFFFFF)), ir.Constant(it, 0x3FF0000000000000)), dt
        )
        high = b.fcmp_ordered(">", mantissa, c(2**0.5))
        mantissa = b.select(high, b.fmul(mantissa, c(0.5)), mantissa)
        exponent = b.add(exponent, b.zext(high, it))
        s = b.fdiv(b.fsub(mantissa, c(1.0)), b.fadd(mantissa, c(1.0)))
        s2 = b.fmul(s, s)
        atanh = c(1 / 13)
        for k in (1 / 11, 1 / 9, 1 / 7, 1 / 5, 1 / 3, 1.0):
            atanh = b.fadd(b.fmul(atanh, s2), c(k))
        log_u = b.fadd(
            b.fmul(b.sitofp(exponent, dt), c(0.6931471805599453)), b.fmul(c(2.0), b.fmul(s, atanh))
        )
        log_u = b.select(b.fcmp_ordered("==", u, c(float("inf"))), u, log_u)
        log_u = b.select(b.fcmp_ordered("==", u, c(0.0)), c(float("-inf")), log_u)
        log_u = b.select(b.fcmp_ordered("<", u, c(0.0)), c(float("nan")), log_u)
        small = b.fcmp_ordered("<", b.call(fabs, [xd]), c(2.0**-10))
        value = b.select(small, series, log_u)
        value = b.select(b.fcmp_unordered("uno", xd, xd), xd, value)  # NaN stays NaN
        return b.fptrunc(value, x.type)

    def sin(self, a):
        return self._libm("sin", a)

    def cos(self, a):
        return self._libm("cos", a)

    def tan(self, a):
        return self._libm("tan", a)

    def erf(self, a):
        if a.dtype != np.float32:
            return self._libm("erf", a)
        return self._result(self._erf_f32(a.ir), a)

    def _erf_f32(self, x: ir.Value) -> ir.Value:
        """erf in float64, rounded once, as straight-line code (GELU's erf, vectorized): the
        Taylor series below 0.5, ``1 - exp(-a**2) * P(a)`` from 0.5 on with ``P`` fitted to
        ``erfc(a) exp(a**2)`` (both tables above), ``a`` clamped at 4, where erf rounds to 1
        in float32; the sign copied back, so -0 stays -0 and NaN stays NaN."""
        b, dt = self.b, ir.DoubleType()
        xd = b.fpext(x, dt)
        fabs = b.module.declare_intrinsic("llvm.fabs", [dt])
        copysign = b.module.declare_intrinsic("llvm.copysign", [dt], ir.FunctionType(dt, [dt, dt]))
        a = b.call(fabs, [xd])

        def horner(coefficients, t):
            p = ir.Constant(dt, coefficients[0])
            for k in coefficients[1:]:
                p = b.fadd(b.fmul(p, t), ir.Constant(dt, k))
            return p

        small = b.fmul(horner(_ERF_TAYLOR, b.fmul(a, a)), a)
        clamped = b.select(b.fcmp_ordered(">", a, ir.Constant(dt, 4.0)), ir.Constant(dt, 4.0), a)
        t = b.fmul(b.fsub(clamped, ir.Constant(dt, 2.25)), ir.Constant(dt, 1 / 1.75))
        tail = b.fmul(native_exp.exp(b, b.fneg(b.fmul(clamped, clamped))), horner(_ERFC_SCALED, t))
        large = b.fsub(ir.Constant(dt, 1.0), tail)
        value = b.select(b.fcmp_ordered("<", a, ir.Constant(dt, 0.5)), small, large)
        return b.fptrunc(b.call(copysign, [value, xd]), x.type)

    def atan2(self, a, c):
        return self._libm("atan2", a, c)

    def pow(self, a, c):
        return self._libm("pow", a, c)

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


# Primitives whose native code is not numpy's bit for bit: vectorizable polynomials, or
# the C library called per element, where numpy has its own (SIMD) implementations.
APPROXIMATE = ("exp", "expm1", "log", "log1p", "sin", "cos", "tan", "tanh", "erf", "atan2", "pow")


def exact_natively(body) -> bool:
    """Whether native code computes every value of fused ``body`` exactly as numpy does:
    no op's scalar rule reaches an :data:`APPROXIMATE` primitive (found by running the
    rules once, on numpy, with a namespace that records what they call)."""
    used: set[str] = set()

    class Recording(NumpyScalars):
        pass

    for name in APPROXIMATE:
        primitive = getattr(NumpyScalars, name)

        def record(*args, _name=name, _primitive=primitive):
            used.add(_name)
            return _primitive(*args)

        setattr(Recording, name, staticmethod(record))
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
