"""Transcendental functions as straight-line LLVM IR that the loop vectorizer widens.

A call to the C library inside a loop keeps the loop scalar: one call per element.
Every function here is instead emitted inline as arithmetic, integer operations on
the bits of floats, ``select`` for the piecewise parts and special values (every
piece is computed and one is kept, as in SIMD code), LLVM intrinsics that vectorize
(``fabs``, ``copysign``, ``floor``, ``rint``, ``fma``) and loads from small constant
tables (gathers).  Each function takes the builder and the operands' IR values and
returns the result's IR value, in the operands' type (float or double).

Method, per function (float32 versions compute in float64 and round once, unless
noted; coefficients are in :mod:`vector_math_tables`, fitted by
``tools/fit_vector_math.py`` with mpmath at 60 digits and rounded to float64):

* ``log``: ``x = 2**k m``, ``m`` in [sqrt(1/2), sqrt(2)) from the bits (subnormals scaled
  by 2**54 first); ``log(m) = f - f**2/2 + s (f**2/2 + R(s**2))`` with ``f = m - 1``,
  ``s = f / (2 + f)`` and ``R`` fitted to ``2 atanh(s) - 2s``; ``k ln 2`` added in two
  parts.  ``log1p`` is the same on ``u = 1 + x``, plus the rounding error of that sum
  over ``u`` (exact, by Knuth's two-sum).  Float32: Cephes' logf in float32, and
  ``log1p`` by its series below 2**-10 and ``2 atanh`` of the mantissa above.
* ``expm1``: ``x = k ln 2 + r``, ``|r| <= ln(2)/2``, ``expm1(r) = r + r**2/2 + r**3 P(r)``
  (fitted), then ``2**k (1 + expm1(r)) - 1`` as ``(2**k - 1) + 2**k r`` summed exactly
  plus the small rest, so no digit is lost when ``k`` is small; float32: its series
  below 2**-10 and ``exp(x) - 1`` above.
* ``tanh``: ``e / (e + 2)`` with ``e = expm1(2|x|)`` kept as a double-double and the
  division corrected by its exact residual, so the result is within about half an ulp;
  ``|x| > 22`` gives 1.  Float32: Cephes' tanhf in float32.
* ``erf``: ``x + x R(x**2)`` below 0.84375 (``R`` fitted to ``erf(x)/x - 1``);
  ``1 - exp(-a**2) H(a)`` above, ``H`` a fit of ``erfc(a) exp(a**2)`` on [0.84375, 2.5]
  or [2.5, 6] (the coefficients selected per lane, one Horner), ``a**2`` exact as a
  double-double; 1 from 6 on.  Float32: a Taylor series below 0.5, a degree-16 fit
  above, clamped at 4.
* ``sin``, ``cos``, ``tan``: the argument reduced by Payne and Hanek's method for every
  ``|x| > pi/4``, so the result is right for every finite float: ``|x| = M 2**E``
  (``M`` an integer of the float's precision) times ``2/pi`` modulo 4 is ``M`` times a
  table entry, ``2**E (2/pi)`` modulo 4 in float64 chunks (the bits of 2/pi from the one
  ``E`` selects, computed at import from pi by Machin's formula in integers; see
  ``_REDUCTION_F64`` and ``_REDUCTION_F32``), multiplied exactly (``fma``, or float32's
  short ``M`` times 29-bit chunks), reduced modulo 4 exactly and summed exactly enough
  that ``r = |x| - q pi/2`` keeps 60 significant bits even for the float64 closest to a
  multiple of pi/2 (2**-61 away).  Then ``sin r = r + r**3 S(r**2)``,
  ``cos r = 1 - r**2/2 + r**4 C(r**2)`` (fitted) with the low part of ``r``, the quadrant
  ``q`` choosing the function and sign; ``tan`` is their quotient as double-doubles
  (``-cos/sin`` in odd quadrants).
* ``atan2``: ``t = min/max`` of ``|y|`` and ``|x|`` as a double-double (the division's
  exact residual), ``atan(t) = atan(j/8) + atan(u)``, ``u = (t - j/8) / (1 + t j/8)``,
  ``|u| <= 1/16``, ``atan(u) = u + u**3 A(u**2)`` (fitted), then ``pi/2 - .`` and
  ``pi - .`` for the octant, all in double-double; float32 the same in plain float64.
* ``pow``: ``exp(y log|x|)``.  Float64: ``log|x|`` as a double-double (``m`` in [0.75, 1.5),
  ``log(1 + j/16)`` from a table plus ``2 atanh(s)`` of ``s = (m - c)/(m + c)``,
  ``|s| < 0.022``, its series to ``s**11``), ``y log|x|`` an exact product plus its low
  part, ``exp`` of that double-double by the ``expm1`` polynomial; within an ulp even
  where the result is near overflow, and exact for integer powers of integers.
  Float32: a float64 ``log`` (2**-51) and ``exp`` (a degree-8 fit, 2**-39).  ``log 0 =
  -inf`` and ``log inf = inf`` make the product give the zeros and infinities; C99's other
  special cases (``pow(x, 0) = 1``, ``pow(1, y) = 1``, negative bases) are selected.

Exact products use ``llvm.fma`` where the host CPU has FMA (every x86-64 with AVX2),
else Dekker's splitting: both are exact, so results do not depend on it.  Measured on
4M arguments per function over every binade (``tests/test_codegen_math.py`` checks 1M):
the float64 functions are within 0.89 ulp of the exact value (mpmath) and 1 ulp of
numpy's; the float32 ones are the correctly rounded result but for near-ties (float32
``sin``, ``cos`` and ``tan`` within 0.5000 ulp on every positive finite float) and Cephes'
float32 ``tanh`` (1.2 ulp) and ``log`` (0.75 ulp).  ``docs/codegen.md`` has the table.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import llvmlite.binding as llvm
import llvmlite.ir as ir

from ..native import exp as native_exp
from . import vector_math_tables as tables

_F64, _I64 = ir.DoubleType(), ir.IntType(64)
_I32 = ir.IntType(32)
_INF, _NAN = math.inf, math.nan
_MAGIC = 6755399441055744.0  # 1.5 * 2**52: adding it puts a small integer in the low bits


@functools.cache
def _has_fma() -> bool:
    """Whether the host CPU, which kernels are compiled for, has fused multiply-add."""
    return bool(llvm.get_host_cpu_features().get("fma"))


# --- 2/pi for Payne-Hanek reduction ------------------------------------------------------


def _pi_fixed(bits: int) -> int:
    """floor(pi 2**bits), within one unit, by Machin's formula in integer arithmetic."""
    guard = bits + 64
    one = 1 << guard

    def arctan_inverse(n: int) -> int:  # atan(1/n) 2**guard
        total, term, k, n2 = 0, one // n, 1, n * n
        while term:
            total += term // k if k % 4 == 1 else -(term // k)
            term //= n2
            k += 2
        return total

    return (16 * arctan_inverse(5) - 4 * arctan_inverse(239)) >> 64


@dataclass(frozen=True)
class _Reduction:
    """A table of ``(2**e (2/pi)) mod 4`` for the exponents ``e = lowest + step j`` of its
    rows ``j``, each row the bits down to each of ``bottoms`` (as chunks of float64) and
    the rest rounded to one more float64."""

    lowest: int
    step: int
    rows: int
    bottoms: tuple[int, ...]

    @functools.cached_property
    def values(self) -> tuple[float, ...]:
        frac_bits = 1400  # fixed point; 2/pi is used down to 2**-1190
        two_over_pi = (1 << (2 * frac_bits + 1)) // _pi_fixed(frac_bits)  # (2/pi) 2**frac_bits
        values: list[float] = []
        for row in range(self.rows):
            e = self.lowest + self.step * row
            f = (two_over_pi << e if e >= 0 else two_over_pi >> -e) % (4 << frac_bits)
            top = -2
            for bottom in self.bottoms:
                values.append(math.ldexp((f >> (frac_bits - bottom)) % (1 << (bottom - top)), -bottom))
                top = bottom
            rest = f % (1 << (frac_bits - top))
            values.append(math.ldexp(rest >> (frac_bits - top - 64), -top - 64))
        return tuple(values)


# Float64: |x| = M 2**E with M < 2**53; a row serves E in [e, e + 8), M' = M 2**(E - e) < 2**60.
# Chunks down to 2**-50, 2**-102, 2**-154 (products with M' are exact double-doubles, the
# first a multiple of 2**-50), the rest: within 2**-207 of the value, 2**-147 after the
# product.  E of a finite float64 is at most 971; |x| > pi/4 has E >= -53.
_REDUCTION_F64 = _Reduction(lowest=-60, step=8, rows=129, bottoms=(50, 102, 154))
# Float32 (as float64): |x| = M 2**E with M < 2**24, a row per E in [-24, 104]; chunks down
# to 2**-27 and 2**-56 have 29 bits, so their products with M are exact float64s; the rest,
# rounded, is within 2**-109 of the value, 2**-85 after the product.
_REDUCTION_F32 = _Reduction(lowest=-24, step=1, rows=129, bottoms=(27, 56))


class _Emitter:
    """Float64 (or float32) arithmetic, exact two-sums and two-products, selects and bit
    manipulation at the builder's position."""

    def __init__(self, builder: ir.IRBuilder, ft: ir.Type = _F64) -> None:
        self.b = builder
        self.ft = ft
        self.it = _I64 if isinstance(ft, ir.DoubleType) else _I32

    # constants and plain arithmetic
    def c(self, value: float) -> ir.Constant:
        return ir.Constant(self.ft, value)

    def i(self, value: int) -> ir.Constant:
        return ir.Constant(self.it, value)

    def add(self, a, b):
        return self.b.fadd(a, b)

    def sub(self, a, b):
        return self.b.fsub(a, b)

    def mul(self, a, b):
        return self.b.fmul(a, b)

    def div(self, a, b):
        return self.b.fdiv(a, b)

    def neg(self, a):
        return self.b.fneg(a)

    def _intrinsic(self, name: str, *args):
        ft = self.ft
        fn = self.b.module.declare_intrinsic(name, [ft], ir.FunctionType(ft, [ft] * len(args)))
        return self.b.call(fn, list(args))

    def fabs(self, a):
        return self._intrinsic("llvm.fabs", a)

    def copysign(self, a, sign):
        return self._intrinsic("llvm.copysign", a, sign)

    def floor(self, a):
        return self._intrinsic("llvm.floor", a)

    def rint(self, a):
        return self._intrinsic("llvm.rint", a)

    def horner(self, coefficients, x):
        p = self.c(coefficients[0])
        for k in coefficients[1:]:
            p = self.add(self.mul(p, x), self.c(k))
        return p

    # comparisons and selects (ordered: false when a NaN is involved)
    def lt(self, a, b):
        return self.b.fcmp_ordered("<", a, b)

    def gt(self, a, b):
        return self.b.fcmp_ordered(">", a, b)

    def eq(self, a, b):
        return self.b.fcmp_ordered("==", a, b)

    def isnan(self, a):
        return self.b.fcmp_unordered("uno", a, a)

    def select(self, cond, a, b):
        return self.b.select(cond, a, b)

    def at_most(self, a, bound: float):
        """``a``, or ``bound`` where ``a`` is above it (NaN stays)."""
        return self.select(self.gt(a, self.c(bound)), self.c(bound), a)

    # exact arithmetic
    def two_sum(self, a, b):
        """``(s, e)``: ``s = fl(a + b)`` and ``e = a + b - s`` exactly (Knuth)."""
        s = self.add(a, b)
        bb = self.sub(s, a)
        e = self.add(self.sub(a, self.sub(s, bb)), self.sub(b, bb))
        return s, e

    def fast_two_sum(self, a, b):
        """``two_sum`` for ``|a| >= |b|`` (or ``a`` zero), in three operations (Dekker)."""
        s = self.add(a, b)
        return s, self.sub(b, self.sub(s, a))

    def two_prod(self, a, b):
        """``(p, e)``: ``p = fl(a b)`` and ``e = a b - p`` exactly (no overflow or underflow)."""
        p = self.mul(a, b)
        if _has_fma():
            return p, self._intrinsic("llvm.fma", a, b, self.neg(p))
        ah, al = self._split(a)
        bh, bl = self._split(b)
        e = self.add(
            self.add(self.add(self.sub(self.mul(ah, bh), p), self.mul(ah, bl)), self.mul(al, bh)),
            self.mul(al, bl),
        )
        return p, e

    def _split(self, a):
        """Veltkamp's split of ``a`` into two 26-bit halves."""
        t = self.mul(a, self.c(134217729.0))  # 2**27 + 1
        hi = self.sub(t, self.sub(t, a))
        return hi, self.sub(a, hi)

    def dd_div(self, nh, nl, dh, dl):
        """``(nh + nl) / (dh + dl)`` as a double-double: the quotient, corrected by its
        exact residual."""
        q = self.div(nh, dh)
        p, pe = self.two_prod(q, dh)
        rho = self.sub(self.add(self.sub(self.sub(nh, p), pe), nl), self.mul(q, dl))
        return self.fast_two_sum(q, self.div(rho, dh))

    # bits
    def bits(self, a):
        return self.b.bitcast(a, self.it)

    def from_bits(self, n):
        return self.b.bitcast(n, self.ft)

    def small_int(self, a):
        """The integer ``a`` (|a| < 2**51, float64) as i64; any bits for NaN or infinity."""
        return self.b.sub(self.bits(self.add(a, self.c(_MAGIC))), self.bits(self.c(_MAGIC)))

    def power_of_two(self, n):
        """``2**n`` for an i64 ``n`` in the normal range [-1022, 1023]."""
        return self.from_bits(self.b.shl(self.b.add(n, self.i(1023)), self.i(52)))

    def biased_exponent(self, a):
        """The exponent field of a float64's bits, as i64."""
        return self.b.and_(self.b.lshr(self.bits(a), self.i(52)), self.i(0x7FF))

    def exponent_float(self, e):
        """An i64 in [0, 2**31) as float64, exactly (no i64 conversion instruction)."""
        return self.sub(self.from_bits(self.b.or_(e, self.i(0x4330000000000000))), self.c(2.0**52))

    def lookup(self, name: str, values, index):
        """``values[index]`` from a constant table in the module (a gather)."""
        module = self.b.module
        table = module.globals.get(name)
        if table is None:
            array = ir.ArrayType(self.ft, len(values))
            table = ir.GlobalVariable(module, array, name)
            table.global_constant = True
            table.linkage = "internal"
            table.initializer = ir.Constant(array, [float(v) for v in values])
        return self.b.load(self.b.gep(table, [ir.Constant(_I64, 0), index], inbounds=True))

    def signbit(self, a):
        return self.b.icmp_signed("<", self.bits(a), self.i(0))


def _to_double(b: ir.IRBuilder, x: ir.Value) -> ir.Value:
    return x if isinstance(x.type, ir.DoubleType) else b.fpext(x, _F64)


def _to_type(b: ir.IRBuilder, x: ir.Value, like: ir.Value) -> ir.Value:
    return x if isinstance(like.type, ir.DoubleType) else b.fptrunc(x, like.type)


# --- log, log1p -------------------------------------------------------------------------


def _log_reduced(m: _Emitter, u, correction=None):
    """``log(u) + correction`` for a finite positive float64 ``u`` (subnormal too), where
    ``correction`` is small and relative: ``log(u + c) ~ log(u) + c/u`` (``log1p`` passes
    the rounding error of ``1 + x`` over ``u``)."""
    b = m.b
    tiny = m.lt(u, m.c(2.0**-1022))
    scaled = m.select(tiny, m.mul(u, m.c(2.0**54)), u)
    bits = m.bits(scaled)
    mantissa = m.from_bits(b.or_(b.and_(bits, m.i(0x000FFFFFFFFFFFFF)), m.i(0x3FF0000000000000)))
    high = m.gt(mantissa, m.c(math.sqrt(2.0)))
    mantissa = m.select(high, m.mul(mantissa, m.c(0.5)), mantissa)
    exponent = b.add(m.biased_exponent(scaled), b.zext(high, _I64))
    k = m.sub(
        m.sub(m.exponent_float(exponent), m.c(1023.0)), m.select(tiny, m.c(54.0), m.c(0.0))
    )  # the exponent, exactly
    f = m.sub(mantissa, m.c(1.0))
    s = m.div(f, m.add(m.c(2.0), f))
    z = m.mul(s, s)
    r = m.mul(z, m.horner(tables.LOG, z))
    hfsq = m.mul(m.mul(f, f), m.c(0.5))
    low = m.mul(k, m.c(tables.LN2[1]))
    if correction is not None:
        low = m.add(low, correction)
    inner = m.sub(m.sub(hfsq, m.add(m.mul(s, m.add(hfsq, r)), low)), f)
    return m.sub(m.mul(k, m.c(tables.LN2[0])), inner)


def _log_specials(m: _Emitter, u, value):
    """log's value at 0 (-inf), below (NaN), +inf and NaN (itself)."""
    value = m.select(m.eq(u, m.c(_INF)), u, value)
    value = m.select(m.eq(u, m.c(0.0)), m.c(-_INF), value)
    value = m.select(m.lt(u, m.c(0.0)), m.c(_NAN), value)
    return m.select(m.isnan(u), u, value)


def log(b: ir.IRBuilder, x: ir.Value) -> ir.Value:
    """Natural logarithm; log(0) = -inf, log(x < 0) = NaN."""
    if not isinstance(x.type, ir.DoubleType):
        return _log_f32(b, x)
    m = _Emitter(b)
    return _log_specials(m, x, _log_reduced(m, x))


def log1p(b: ir.IRBuilder, x: ir.Value) -> ir.Value:
    """``log(1 + x)``, accurate near 0; log1p(-1) = -inf, below -1 NaN, -0 stays -0."""
    if not isinstance(x.type, ir.DoubleType):
        return _log1p_f32(b, x)
    m = _Emitter(b)
    u, error = m.two_sum(m.c(1.0), x)  # 1 + x = u + error exactly
    value = _log_reduced(m, m.select(m.gt(u, m.c(0.0)), u, m.c(1.0)), m.div(error, u))
    value = _log_specials(m, u, value)
    tiny = m.lt(m.fabs(x), m.c(2.0**-54))  # log1p(x) rounds to x (and keeps -0)
    return m.select(m.isnan(x), x, m.select(tiny, x, value))


# --- expm1, tanh ------------------------------------------------------------------------


def _expm1_parts(m: _Emitter, x):
    """``(hi, lo, twice)``: ``expm1(x) ~ (hi + lo) * (2 if twice else 1)`` with ``|lo|``
    below ``|hi|/2``, for ``x`` in [-40, 709.79] (NaN: any finite values)."""
    b = m.b
    x = m.select(m.isnan(x), m.c(0.0), x)
    kf = m.rint(m.mul(x, m.c(1 / math.log(2))))
    r_hi = m.sub(x, m.mul(kf, m.c(tables.LN2[0])))  # exact
    r_lo = m.mul(kf, m.c(tables.LN2[1]))
    r = m.sub(r_hi, r_lo)
    r_error = m.sub(m.sub(r_hi, r), r_lo)  # r_hi - r_lo = r + r_error
    r2 = m.mul(r, r)
    t = m.add(m.mul(r2, m.add(m.c(0.5), m.mul(r, m.horner(tables.EXPM1, r)))), r_error)
    k = m.small_int(kf)
    twice = b.icmp_signed(">", k, m.i(1023))  # 2**k overflows: use 2**(k-1), double at the end
    k = b.sub(k, b.zext(twice, _I64))
    scale = m.power_of_two(k)
    # 2**k (1 + r + t) - 1 = (2**k - 1) + 2**k r + 2**k t, the first two summed exactly
    a, a_error = m.fast_two_sum(scale, m.select(twice, m.c(-0.5), m.c(-1.0)))  # inexact from k = 54
    s, e = m.two_sum(a, m.mul(scale, r))
    return s, m.add(m.add(e, a_error), m.mul(scale, t)), twice


def expm1(b: ir.IRBuilder, x: ir.Value) -> ir.Value:
    """``exp(x) - 1``, accurate near 0; -0 stays -0, -inf gives -1."""
    if not isinstance(x.type, ir.DoubleType):
        return _expm1_f32(b, x)
    m = _Emitter(b)
    clamped = m.select(m.lt(x, m.c(-40.0)), m.c(-40.0), m.at_most(x, 709.79))  # expm1(-40) rounds to -1
    hi, lo, twice = _expm1_parts(m, clamped)
    value = m.mul(m.add(hi, lo), m.select(twice, m.c(2.0), m.c(1.0)))
    value = m.select(m.gt(x, m.c(709.782712893384)), m.c(_INF), value)
    return m.select(m.eq(x, m.c(0.0)), x, m.select(m.isnan(x), x, value))


def tanh(b: ir.IRBuilder, x: ir.Value) -> ir.Value:
    """Hyperbolic tangent; ±1 beyond |x| = 22, -0 stays -0."""
    if not isinstance(x.type, ir.DoubleType):
        return _tanh_f32(b, x)
    m = _Emitter(b)
    a = m.at_most(m.fabs(x), 22.0)  # tanh(22) rounds to 1
    hi, lo, _ = _expm1_parts(m, m.mul(a, m.c(2.0)))  # 2a <= 44: never twice
    eh, el = m.fast_two_sum(hi, lo)
    dh, de = m.two_sum(eh, m.c(2.0))
    qh, ql = m.dd_div(eh, el, dh, m.add(de, el))  # e / (e + 2)
    value = m.copysign(m.add(qh, ql), x)
    return m.select(m.isnan(x), x, value)


# --- erf --------------------------------------------------------------------------------


def erf(b: ir.IRBuilder, x: ir.Value) -> ir.Value:
    """The error function; -0 stays -0, ±inf gives ±1."""
    if not isinstance(x.type, ir.DoubleType):
        return _erf_f32(b, x)
    m = _Emitter(b)
    a = m.fabs(x)
    # below 0.84375: x + x R(x**2), tiny x scaled up first so that x R does not underflow;
    # a subnormal x: erf(x) = x 2/sqrt(pi) rounded once
    tiny = m.lt(a, m.c(2.0**-1000))
    xs = m.select(tiny, m.mul(x, m.c(2.0**64)), x)
    small = m.add(xs, m.mul(xs, m.horner(tables.ERF, m.mul(xs, xs))))
    small = m.select(tiny, m.mul(small, m.c(2.0**-64)), small)
    small = m.select(m.lt(a, m.c(2.0**-1022)), m.mul(x, m.c(2 / math.sqrt(math.pi))), small)
    # above: 1 - exp(-a**2) H(a), a clamped at 6 (erf rounds to 1 from 5.93)
    ac = m.at_most(a, 6.0)
    near = m.lt(ac, m.c(2.5))
    t = m.sub(ac, m.select(near, m.c(1.5), m.c(4.25)))
    h = m.select(near, m.c(tables.ERFC_NEAR[0]), m.c(tables.ERFC_FAR[0]))
    for cn, cf in zip(tables.ERFC_NEAR[1:], tables.ERFC_FAR[1:]):
        h = m.add(m.mul(h, t), m.select(near, m.c(cn), m.c(cf)))
    sq, sq_error = m.two_prod(ac, ac)
    gauss = m.mul(native_exp.exp(b, m.neg(sq)), m.sub(m.c(1.0), sq_error))  # exp(-sq - sq_error)
    large = m.copysign(m.sub(m.c(1.0), m.mul(gauss, h)), x)
    return m.select(m.lt(a, m.c(0.84375)), small, large)


# --- sin, cos, tan ----------------------------------------------------------------------


def _reduction_row(m: _Emitter, a, table: _Reduction, mantissa_bits: int):
    """``(row, integer)``: the table row serving ``a = |x|`` and ``a`` scaled to the integer
    ``M 2**(E - e_row)``."""
    b = m.b
    exponent = b.sub(m.biased_exponent(a), m.i(1023 + mantissa_bits))  # E
    row = b.sdiv(b.sub(exponent, m.i(table.lowest)), m.i(table.step))
    row = b.select(b.icmp_signed("<", row, m.i(0)), m.i(0), row)  # lanes below pi/4
    row = b.select(b.icmp_signed(">", row, m.i(table.rows - 1)), m.i(table.rows - 1), row)  # inf, NaN
    e_row = b.add(b.mul(row, m.i(table.step)), m.i(table.lowest))
    return row, m.mul(a, m.power_of_two(b.sub(m.i(0), e_row)))


def _mod4(m: _Emitter, v):
    """``v`` modulo 4 in [0, 4): exact for any float64."""
    return m.sub(v, m.mul(m.floor(m.mul(v, m.c(0.25))), m.c(4.0)))


def _reduce(m: _Emitter, a, single: bool):
    """``(q, r_hi, r_lo)`` with ``a = q pi/2 + r_hi + r_lo (mod 2 pi)``, ``q`` an i64 in
    0..3 and ``|r| <= pi/4`` (plus 2**-40), for a float64 ``a = |x|`` (a float32's value if
    ``single``: then ``r_lo`` is 0 and ``r_hi`` within 2**-50 relative); NaN and infinity
    give any values."""
    b = m.b
    table = _REDUCTION_F32 if single else _REDUCTION_F64
    row, integer = _reduction_row(m, a, table, 23 if single else 52)
    width = len(table.bottoms) + 1
    chunks = [
        m.lookup(f"irgrad.two_over_pi_{width}", table.values, b.add(b.mul(row, m.i(width)), m.i(i)))
        for i in range(width)
    ]
    if single:  # M c0 and M c1 are exact; the sum loses nothing that matters (see _REDUCTION_F32)
        r0 = _mod4(m, m.mul(integer, chunks[0]))
        p1 = m.mul(integer, chunks[1])
        n = m.rint(m.add(r0, p1))
        y = m.add(m.add(m.sub(r0, n), p1), m.mul(integer, chunks[2]))
        r_hi, r_lo = m.mul(y, m.c(tables.PI_2[0])), m.c(0.0)
    else:
        h0, l0 = m.two_prod(integer, chunks[0])  # multiples of 2**-50: their residues sum exactly
        r0 = _mod4(m, m.add(_mod4(m, h0), _mod4(m, l0)))
        h1, l1 = m.two_prod(integer, chunks[1])
        h1 = _mod4(m, h1)
        h2, l2 = m.two_prod(integer, chunks[2])
        h3 = m.mul(integer, chunks[3])
        n = m.rint(m.add(r0, h1))  # the quadrant, modulo 4
        s, e = m.two_sum(m.sub(r0, n), h1)  # exact, or |s| >= 2**-51
        t, f = m.two_sum(l1, h2)
        s, g = m.two_sum(s, t)
        rest = m.add(m.add(m.add(m.add(l2, h3), f), e), g)
        y_hi, y_lo = m.two_sum(s, rest)  # |x| 2/pi - n, to about 2**-100 relative
        p, pe = m.two_prod(y_hi, m.c(tables.PI_2[0]))
        low = m.add(pe, m.add(m.mul(y_hi, m.c(tables.PI_2[1])), m.mul(y_lo, m.c(tables.PI_2[0]))))
        r_hi, r_lo = m.fast_two_sum(p, low)
    small = b.not_(m.gt(a, m.c(math.pi / 4)))  # already reduced (NaN too)
    q = b.select(small, m.i(0), b.and_(m.small_int(n), m.i(3)))
    return q, m.select(small, a, r_hi), m.select(small, m.c(0.0), r_lo)


def _sin_cos(m: _Emitter, r_hi, r_lo, single: bool):
    """``((sin_hi, sin_lo), (cos_hi, cos_lo))`` of ``r_hi + r_lo``, ``|r| <= pi/4``; float32
    results (``single``) only need the high parts and lower-degree polynomials."""
    z = m.mul(r_hi, r_hi)
    if single:
        sin = m.add(r_hi, m.mul(m.mul(r_hi, z), m.horner(tables.SIN_F32, z)))
        cos = m.add(m.sub(m.c(1.0), m.mul(z, m.c(0.5))), m.mul(m.mul(z, z), m.horner(tables.COS_F32, z)))
        return (sin, m.c(0.0)), (cos, m.c(0.0))
    half_z = m.mul(z, m.c(0.5))
    # sin(r_hi + r_lo) ~ r_hi + r_hi z S(z) + r_lo (1 - z/2)
    sin_rest = m.add(m.mul(m.mul(r_hi, z), m.horner(tables.SIN, z)), m.mul(r_lo, m.sub(m.c(1.0), half_z)))
    sin = m.fast_two_sum(r_hi, sin_rest)
    # cos(r_hi + r_lo) ~ 1 - z/2 + z**2 C(z) - r_hi r_lo, with z = r_hi**2 exact and 1 - z/2 exact
    _, z_error = m.two_prod(r_hi, r_hi)
    w = m.sub(m.c(1.0), half_z)
    cos_rest = m.add(
        m.sub(m.sub(m.sub(m.c(1.0), w), half_z), m.mul(z_error, m.c(0.5))),
        m.sub(m.mul(m.mul(z, z), m.horner(tables.COS, z)), m.mul(r_hi, r_lo)),
    )
    cos = m.fast_two_sum(w, cos_rest)
    return sin, cos


def _circular(b: ir.IRBuilder, x: ir.Value, which: str) -> ir.Value:
    m = _Emitter(b)
    xd = _to_double(b, x)
    single = not isinstance(x.type, ir.DoubleType)
    q, r_hi, r_lo = _reduce(m, m.fabs(xd), single)
    (sh, sl), (ch, cl) = _sin_cos(m, r_hi, r_lo, single)
    odd = b.trunc(q, ir.IntType(1))
    if which == "tan":  # tan r, or -1/tan r = -cos r / sin r in odd quadrants
        nh, nl = m.select(odd, ch, sh), m.select(odd, cl, sl)
        dh, dl = m.select(odd, sh, ch), m.select(odd, sl, cl)
        qh, ql = (m.div(nh, dh), m.c(0.0)) if single else m.dd_div(nh, nl, dh, dl)
        value = m.add(qh, ql)
        negative = b.xor(odd, m.signbit(xd))
    else:
        shifted = b.xor(odd, ir.Constant(ir.IntType(1), which == "cos"))  # cos x = sin(x + pi/2)
        value = m.select(shifted, m.add(ch, cl), m.add(sh, sl))
        quadrant = q if which == "sin" else b.add(q, m.i(1))
        negative = b.trunc(b.lshr(quadrant, m.i(1)), ir.IntType(1))
        if which == "sin":
            negative = b.xor(negative, m.signbit(xd))
    value = m.select(negative, m.neg(value), value)
    value = m.select(m.isnan(xd), xd, m.select(m.eq(m.fabs(xd), m.c(_INF)), m.c(_NAN), value))
    return _to_type(b, value, x)


def sin(b: ir.IRBuilder, x: ir.Value) -> ir.Value:
    """Sine, for every finite argument; sin(±inf) = NaN, -0 stays -0."""
    return _circular(b, x, "sin")


def cos(b: ir.IRBuilder, x: ir.Value) -> ir.Value:
    """Cosine, for every finite argument; cos(±inf) = NaN."""
    return _circular(b, x, "cos")


def tan(b: ir.IRBuilder, x: ir.Value) -> ir.Value:
    """Tangent, for every finite argument; tan(±inf) = NaN, -0 stays -0."""
    return _circular(b, x, "tan")


# --- atan2 ------------------------------------------------------------------------------


def atan2(b: ir.IRBuilder, y: ir.Value, x: ir.Value) -> ir.Value:
    """The angle of (x, y) in [-pi, pi], with C99's signed zeros and infinities:
    atan2(±0, -0) = ±pi, atan2(±0, +0) = ±0, atan2(±inf, -inf) = ±3pi/4, ..."""
    m = _Emitter(b)
    single = not isinstance(x.type, ir.DoubleType)
    yd, xd = _to_double(b, y), _to_double(b, x)
    ay, ax = m.fabs(yd), m.fabs(xd)
    swap = m.gt(ay, ax)
    num, den = m.select(swap, ax, ay), m.select(swap, ay, ax)
    t = m.div(num, den)
    t = m.select(m.eq(den, m.c(0.0)), m.c(0.0), m.select(m.eq(num, m.c(_INF)), m.c(1.0), t))
    # atan t = atan(c) + atan(u), c = j/8 nearest t, u = (t - c) / (1 + t c), |u| <= 1/16
    jf = m.rint(m.mul(t, m.c(8.0)))
    c = m.mul(jf, m.c(0.125))
    j = m.small_int(jf)
    j = b.select(b.icmp_unsigned(">", j, m.i(8)), m.i(0), j)  # NaN lanes: any row
    atan_c = m.lookup("irgrad.atan_hi", [hi for hi, _ in tables.ATAN_TABLE], j)
    half_pi = tables.PI_2
    if single:  # float64 arithmetic is far more accurate than float32 needs
        u = m.div(m.sub(t, c), m.add(m.c(1.0), m.mul(t, c)))
        z = m.mul(u, u)
        angle = m.add(atan_c, m.add(u, m.mul(m.mul(u, z), m.horner(tables.ATAN, z))))
        angle = m.select(swap, m.sub(m.c(half_pi[0]), angle), angle)
        angle = m.select(m.signbit(xd), m.sub(m.c(2 * half_pi[0]), angle), angle)
    else:
        angle = _atan_octant(m, num, den, t, c, j, atan_c, swap, m.signbit(xd))
    value = m.copysign(angle, yd)
    value = m.select(b.or_(m.isnan(xd), m.isnan(yd)), m.add(xd, yd), value)
    return _to_type(b, value, x)


def _atan_octant(m: _Emitter, num, den, t, c, j, atan_c, swap, negative_x):
    """``atan2``'s angle for float64, in double-double from ``t = num/den`` (its exact
    residual, from ``num`` and ``den`` scaled near 1) to the octant's ``pi/2 - .`` (if
    ``swap``) and ``pi - .`` (if ``negative_x``)."""
    b = m.b
    scale_field = b.sub(m.i(2046), m.biased_exponent(den))  # 2**(1023 - E), E the exponent of den
    scale_field = b.select(b.icmp_signed("<", scale_field, m.i(1)), m.i(1), scale_field)  # normal
    scale = m.from_bits(b.shl(scale_field, m.i(52)))
    num_s, den_s = m.mul(num, scale), m.mul(den, scale)
    p, pe = m.two_prod(t, den_s)
    t_lo = m.div(m.sub(m.sub(num_s, p), pe), den_s)
    regular = b.and_(m.gt(t, m.c(2.0**-900)), m.lt(den, m.c(_INF)))  # t_lo matters, and is a number
    t_lo = m.select(b.and_(regular, m.lt(num, m.c(_INF))), t_lo, m.c(0.0))
    ph, pl = m.two_prod(t, c)
    dh, dl = m.two_sum(m.c(1.0), ph)
    u_hi, u_lo = m.dd_div(m.sub(t, c), t_lo, dh, m.add(m.add(dl, pl), m.mul(t_lo, c)))
    z = m.mul(u_hi, u_hi)
    poly = m.mul(m.mul(u_hi, z), m.horner(tables.ATAN, z))
    atan_lo = m.lookup("irgrad.atan_lo", [lo for _, lo in tables.ATAN_TABLE], j)
    th, te = m.two_sum(atan_c, u_hi)
    tl = m.add(te, m.add(m.add(atan_lo, u_lo), poly))
    half_pi_hi, half_pi_lo = tables.PI_2
    for flag, (kh, kl) in ((swap, (half_pi_hi, half_pi_lo)), (negative_x, (2 * half_pi_hi, 2 * half_pi_lo))):
        fh, fe = m.two_sum(m.c(kh), m.neg(th))
        th, tl = m.select(flag, fh, th), m.select(flag, m.sub(m.add(fe, m.c(kl)), tl), tl)
    return m.add(th, tl)


# --- pow --------------------------------------------------------------------------------


def _log_double_double(m: _Emitter, a):
    """``log(a)`` as a double-double good to about 2**-100 relative, for a finite ``a > 0``."""
    b = m.b
    tiny = m.lt(a, m.c(2.0**-1022))
    scaled = m.select(tiny, m.mul(a, m.c(2.0**54)), a)
    bits = m.bits(scaled)
    mantissa = m.from_bits(b.or_(b.and_(bits, m.i(0x000FFFFFFFFFFFFF)), m.i(0x3FF0000000000000)))
    high = b.not_(m.lt(mantissa, m.c(1.5)))
    mantissa = m.select(high, m.mul(mantissa, m.c(0.5)), mantissa)  # [0.75, 1.5)
    exponent = b.add(m.biased_exponent(scaled), b.zext(high, _I64))
    k = m.sub(m.sub(m.exponent_float(exponent), m.c(1023.0)), m.select(tiny, m.c(54.0), m.c(0.0)))
    jf = m.rint(m.mul(m.sub(mantissa, m.c(1.0)), m.c(16.0)))  # -4 .. 8
    centre = m.add(m.c(1.0), m.mul(jf, m.c(1 / 16)))
    row = b.add(m.small_int(jf), m.i(4))
    log_c_hi = m.lookup("irgrad.log_table_hi", [hi for hi, _ in tables.LOG_TABLE], row)
    log_c_lo = m.lookup("irgrad.log_table_lo", [lo for _, lo in tables.LOG_TABLE], row)
    # log(m / c) = 2 atanh(s), s = (m - c) / (m + c), |s| < 0.022: 2s + s**3 (2/3 + 2 s**2/5 + ...)
    sum_hi, sum_lo = m.two_sum(mantissa, centre)
    s_hi, s_lo = m.dd_div(m.sub(mantissa, centre), m.c(0.0), sum_hi, sum_lo)
    z = m.mul(s_hi, s_hi)
    series = m.mul(m.mul(s_hi, z), m.horner([2 / (2 * n + 1) for n in range(5, 0, -1)], z))
    big, big_error = m.two_sum(m.mul(k, m.c(tables.LN2[0])), log_c_hi)  # k ln2_hi is exact
    hi, hi_error = m.two_sum(big, m.mul(s_hi, m.c(2.0)))
    lo = m.add(
        m.add(hi_error, big_error),
        m.add(m.add(m.mul(k, m.c(tables.LN2[1])), log_c_lo), m.add(m.mul(s_lo, m.c(2.0)), series)),
    )
    return m.fast_two_sum(hi, lo)


def _exp_double_double(m: _Emitter, z_hi, z_lo):
    """``exp(z_hi + z_lo)``: within an ulp, overflowing to inf and rounding subnormal
    results once; NaN ``z_hi`` gives NaN."""
    b = m.b
    over = m.gt(z_hi, m.c(709.79))
    under = m.lt(z_hi, m.c(-745.2))
    zc = m.select(over, m.c(709.79), m.select(under, m.c(-745.2), z_hi))
    zc = m.select(m.isnan(zc), m.c(0.0), zc)
    nf = m.rint(m.mul(zc, m.c(1 / math.log(2))))
    r_hi = m.sub(zc, m.mul(nf, m.c(tables.LN2[0])))  # exact
    r, r_error = m.two_sum(r_hi, m.sub(z_lo, m.mul(nf, m.c(tables.LN2[1]))))
    t = m.add(m.mul(m.mul(r, r), m.add(m.c(0.5), m.mul(r, m.horner(tables.EXPM1, r)))), r_error)
    one, one_error = m.two_sum(m.c(1.0), r)
    p = m.add(one, m.add(one_error, t))  # exp(r)
    n = m.small_int(nf)
    half = b.ashr(n, m.i(1))
    value = m.mul(m.mul(p, m.power_of_two(half)), m.power_of_two(b.sub(n, half)))
    value = m.select(over, m.c(_INF), m.select(under, m.c(0.0), value))
    return m.select(m.isnan(z_hi), z_hi, value)


def _log_of_float32(m: _Emitter, a):
    """``log(a)`` within about 2**-51 relative, for a positive finite float32 ``a`` as float64
    (never subnormal there): ``k ln 2 + 2s + s R(s**2)`` (``R`` as in ``log``)."""
    b = m.b
    bits = m.bits(a)
    mantissa = m.from_bits(b.or_(b.and_(bits, m.i(0x000FFFFFFFFFFFFF)), m.i(0x3FF0000000000000)))
    high = m.gt(mantissa, m.c(math.sqrt(2.0)))
    mantissa = m.select(high, m.mul(mantissa, m.c(0.5)), mantissa)
    k = m.sub(m.exponent_float(b.add(m.biased_exponent(a), b.zext(high, _I64))), m.c(1023.0))
    f = m.sub(mantissa, m.c(1.0))
    s = m.div(f, m.add(m.c(2.0), f))
    z = m.mul(s, s)
    log_m = m.add(m.mul(s, m.c(2.0)), m.mul(m.mul(s, z), m.horner(tables.LOG, z)))
    return m.add(m.mul(k, m.c(math.log(2.0))), log_m)


def _exp_of_float32_range(m: _Emitter, z):
    """``exp(z)`` within about 2**-39 relative for ``|z| <= 700`` (clamped there, where any
    float32 result has overflowed to inf or underflowed to 0); NaN stays NaN."""
    zc = m.select(m.lt(z, m.c(-700.0)), m.c(-700.0), m.at_most(z, 700.0))
    nf = m.rint(m.mul(zc, m.c(1 / math.log(2))))
    r = m.sub(m.sub(zc, m.mul(nf, m.c(tables.LN2[0]))), m.mul(nf, m.c(tables.LN2[1])))
    return m.mul(m.horner(tables.EXP_F32, r), m.power_of_two(m.small_int(nf)))


def pow(b: ir.IRBuilder, x: ir.Value, y: ir.Value) -> ir.Value:
    """``x ** y`` with C99's (and numpy's) special cases: ``pow(x, ±0) = 1`` and
    ``pow(1, y) = 1`` even for NaN, ``pow(-1, ±inf) = 1``, a negative finite base to a
    non-integer power NaN, an odd integer power keeping the base's sign (of zeros and
    infinities too), zeros and infinities to 0 or inf by the exponent's sign."""
    m = _Emitter(b)
    xd, yd = _to_double(b, x), _to_double(b, y)
    ax = m.fabs(xd)
    # exp(y log|x|), log 0 = -inf and log inf = inf: the product gives exp's 0 and inf cases
    regular = b.and_(m.gt(ax, m.c(0.0)), m.lt(ax, m.c(_INF)))
    positive = m.select(regular, ax, m.c(1.0))
    edge_log = m.select(m.eq(ax, m.c(0.0)), m.c(-_INF), ax)  # -inf, inf or NaN
    if isinstance(x.type, ir.DoubleType):
        log_hi, log_lo = _log_double_double(m, positive)
        log_hi, log_lo = m.select(regular, log_hi, edge_log), m.select(regular, log_lo, m.c(0.0))
        z_hi, z_error = m.two_prod(yd, log_hi)
        value = _exp_double_double(m, z_hi, m.add(z_error, m.mul(yd, log_lo)))
    else:  # float32: float64's log and exp good to 2**-51 and 2**-39 suffice
        log_x = m.select(regular, _log_of_float32(m, positive), edge_log)
        value = _exp_of_float32_range(m, m.mul(yd, log_x))
    # the sign of a negative base (or -0, -inf) to an odd integer power; NaN for a
    # negative finite base to a non-integer power (inf is an even integer here)
    y_integer = m.eq(m.floor(yd), yd)
    half_y = m.mul(yd, m.c(0.5))
    y_odd = b.and_(y_integer, b.not_(m.eq(m.floor(half_y), half_y)))
    value = m.select(b.and_(m.signbit(xd), y_odd), m.neg(value), value)
    negative_finite = b.and_(m.lt(xd, m.c(0.0)), m.lt(ax, m.c(_INF)))
    value = m.select(b.and_(negative_finite, b.not_(y_integer)), m.c(_NAN), value)
    one = b.or_(m.eq(xd, m.c(1.0)), m.eq(yd, m.c(0.0)))
    one = b.or_(one, b.and_(m.eq(ax, m.c(1.0)), m.eq(m.fabs(yd), m.c(_INF))))
    return _to_type(b, m.select(one, m.c(1.0), value), x)


# --- float32 versions of tanh, log, log1p, expm1, erf -----------------------------------

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

# erf in float32, computed in float64 (see _erf_f32). Below 0.5: erf's Taylor series,
# 2/sqrt(pi) (-1)^n / (n! (2n + 1)) for n = 9 .. 0 (in x**2, times x). From 0.5 to 4:
# erfc(a) exp(a**2) as a degree-16 polynomial in t = (a - 2.25) / 1.75, highest power first,
# a Chebyshev fit at 200 nodes converted to powers of t (relative error 3.3e-10 there).
_ERF_TAYLOR_F32 = (
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
_ERFC_SCALED_F32 = (
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


def _tanh_f32(b: ir.IRBuilder, x: ir.Value) -> ir.Value:
    """Cephes' tanhf: an odd polynomial below 0.625 (its sign copied from ``x``, so -0
    stays -0), ``1 - 2/(exp(2|x|) + 1)`` above (``exp`` overflowing to inf gives exactly 1);
    NaN takes the polynomial and stays NaN."""
    m = _Emitter(b, x.type)
    z = m.fabs(x)
    e = native_exp.exp(b, m.mul(z, m.c(2.0)))
    large = m.copysign(m.sub(m.c(1.0), m.div(m.c(2.0), m.add(e, m.c(1.0)))), x)
    x2 = m.mul(x, x)
    small = m.copysign(m.add(m.mul(m.mul(m.horner(_TANH_F32, x2), x2), x), x), x)
    return m.select(m.gt(z, m.c(0.625)), large, small)


def _expm1_f32(b: ir.IRBuilder, x: ir.Value) -> ir.Value:
    """``exp(x) - 1`` in float64, rounded once: below 2**-10 in magnitude the Taylor series
    to x**5 (the subtraction would lose the small result's digits), else ``exp`` less 1
    (float64 keeps 13 digits of any float32 result); inf, -inf (-1) and NaN follow."""
    m = _Emitter(b)
    xd = b.fpext(x, _F64)
    small = m.lt(m.fabs(xd), m.c(2.0**-10))
    series = m.mul(m.horner((1 / 120, 1 / 24, 1 / 6, 1 / 2, 1.0), xd), xd)
    large = m.sub(native_exp.exp(b, xd), m.c(1.0))
    return b.fptrunc(m.select(small, series, large), x.type)


def _log_f32(b: ir.IRBuilder, x: ir.Value) -> ir.Value:
    """Cephes' logf as straight-line code: ``x = 2**e * (1 + m)`` by bit manipulation
    (subnormals scaled up first), then a polynomial in ``m``; 0 gives -inf, a negative
    number NaN, inf and NaN themselves."""
    m = _Emitter(b, x.type)
    tiny = m.lt(x, m.c(1.1754943508222875e-38))  # subnormal (or <= 0)
    scaled = m.select(tiny, m.mul(x, m.c(2.0**23)), x)
    bits = m.bits(scaled)
    exponent = b.sub(b.and_(b.lshr(bits, m.i(23)), m.i(0xFF)), m.i(126))
    exponent = b.sub(exponent, b.select(tiny, m.i(23), m.i(0)))
    mantissa = m.from_bits(b.or_(b.and_(bits, m.i(0x807FFFFF)), m.i(0x3F000000)))
    low = m.lt(mantissa, m.c(0.707106781186547524))
    e = b.sitofp(b.sub(exponent, b.select(low, m.i(1), m.i(0))), x.type)
    f = m.sub(m.select(low, m.add(mantissa, mantissa), mantissa), m.c(1.0))
    z = m.mul(f, f)
    y = m.mul(m.mul(m.horner(_LOG_F32, f), f), z)
    y = m.add(y, m.mul(e, m.c(-2.12194440e-4)))
    y = m.sub(y, m.mul(z, m.c(0.5)))
    return _log_specials(m, x, m.add(m.add(f, y), m.mul(e, m.c(0.693359375))))


def _log1p_f32(b: ir.IRBuilder, x: ir.Value) -> ir.Value:
    """``log(1 + x)`` in float64, rounded once: below 2**-10 in magnitude its series to
    x**4; above, ``1 + x`` is exact in float64 and its log is the exponent times ln 2 plus
    ``2 atanh(s)``, ``s = (m - 1) / (m + 1)`` for the mantissa ``m`` in [sqrt(1/2), sqrt(2))
    (|s| <= 0.172: seven terms reach 5e-11); -1 gives -inf, below it NaN, inf and NaN
    themselves."""
    m = _Emitter(b)
    xd = b.fpext(x, _F64)
    series = m.mul(m.horner((-1 / 4, 1 / 3, -1 / 2, 1.0), xd), xd)
    u = m.add(m.c(1.0), xd)
    bits = m.bits(u)
    exponent = b.sub(m.biased_exponent(u), m.i(1023))
    mantissa = m.from_bits(b.or_(b.and_(bits, m.i(0x000FFFFFFFFFFFFF)), m.i(0x3FF0000000000000)))
    high = m.gt(mantissa, m.c(2**0.5))
    mantissa = m.select(high, m.mul(mantissa, m.c(0.5)), mantissa)
    exponent = b.add(exponent, b.zext(high, _I64))
    s = m.div(m.sub(mantissa, m.c(1.0)), m.add(mantissa, m.c(1.0)))
    atanh = m.horner((1 / 13, 1 / 11, 1 / 9, 1 / 7, 1 / 5, 1 / 3, 1.0), m.mul(s, s))
    log_u = m.add(m.mul(b.sitofp(exponent, _F64), m.c(0.6931471805599453)), m.mul(m.c(2.0), m.mul(s, atanh)))
    value = m.select(m.lt(m.fabs(xd), m.c(2.0**-10)), series, _log_specials(m, u, log_u))
    return b.fptrunc(m.select(m.isnan(xd), xd, value), x.type)


def _erf_f32(b: ir.IRBuilder, x: ir.Value) -> ir.Value:
    """erf in float64, rounded once, as straight-line code (GELU's erf, vectorized): the
    Taylor series below 0.5, ``1 - exp(-a**2) * P(a)`` from 0.5 on with ``P`` fitted to
    ``erfc(a) exp(a**2)`` (both tables above), ``a`` clamped at 4, where erf rounds to 1
    in float32; the sign copied back, so -0 stays -0 and NaN stays NaN."""
    m = _Emitter(b)
    xd = b.fpext(x, _F64)
    a = m.fabs(xd)
    small = m.mul(m.horner(_ERF_TAYLOR_F32, m.mul(a, a)), a)
    clamped = m.at_most(a, 4.0)
    t = m.mul(m.sub(clamped, m.c(2.25)), m.c(1 / 1.75))
    tail = m.mul(native_exp.exp(b, m.neg(m.mul(clamped, clamped))), m.horner(_ERFC_SCALED_F32, t))
    value = m.select(m.lt(a, m.c(0.5)), small, m.sub(m.c(1.0), tail))
    return b.fptrunc(m.copysign(value, xd), x.type)
