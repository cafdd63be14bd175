"""Transcendental functions as straight-line LLVM IR that the loop vectorizer widens: the
log and exp family here (``log``, ``log1p``, ``expm1``, ``tanh``, ``erf``), ``sin``,
``cos``, ``tan`` and ``atan2`` in :mod:`vector_trig`, ``pow`` in :mod:`vector_pow`, all
written with :mod:`vector_emitter`'s :class:`~vector_emitter.Emitter`.

A call to the C library inside a loop keeps the loop scalar: one call per element.
Each of these functions is instead emitted inline as arithmetic, integer operations on
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

Measured on 4M arguments per function over every binade (``tests/test_codegen_math.py``
checks 1M), here and in :mod:`vector_trig` and :mod:`vector_pow`: the float64 functions
are within 0.89 ulp of the exact value (mpmath) and 1 ulp of numpy's; the float32 ones
are the correctly rounded result but for near-ties (float32 ``sin``, ``cos`` and ``tan``
within 0.5000 ulp on every positive finite float) and Cephes' float32 ``tanh`` (1.2 ulp)
and ``log`` (0.75 ulp).  ``docs/codegen.md`` has the table.
"""

from __future__ import annotations

import math

import llvmlite.ir as ir

from ..native import exp as native_exp
from . import vector_math_tables as tables
from .vector_emitter import F64, I64, Emitter

# --- log, log1p -------------------------------------------------------------------------


def _log_reduced(m: Emitter, u, correction=None):
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
    exponent = b.add(m.biased_exponent(scaled), b.zext(high, I64))
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


def _log_specials(m: Emitter, u, value):
    """log's value at 0 (-inf), below (NaN), +inf and NaN (itself)."""
    value = m.select(m.eq(u, m.c(math.inf)), u, value)
    value = m.select(m.eq(u, m.c(0.0)), m.c(-math.inf), value)
    value = m.select(m.lt(u, m.c(0.0)), m.c(math.nan), value)
    return m.select(m.isnan(u), u, value)


def log(b: ir.IRBuilder, x: ir.Value) -> ir.Value:
    """Natural logarithm; log(0) = -inf, log(x < 0) = NaN."""
    if not isinstance(x.type, ir.DoubleType):
        return _log_f32(b, x)
    m = Emitter(b)
    return _log_specials(m, x, _log_reduced(m, x))


def log1p(b: ir.IRBuilder, x: ir.Value) -> ir.Value:
    """``log(1 + x)``, accurate near 0; log1p(-1) = -inf, below -1 NaN, -0 stays -0."""
    if not isinstance(x.type, ir.DoubleType):
        return _log1p_f32(b, x)
    m = Emitter(b)
    u, error = m.two_sum(m.c(1.0), x)  # 1 + x = u + error exactly
    value = _log_reduced(m, m.select(m.gt(u, m.c(0.0)), u, m.c(1.0)), m.div(error, u))
    value = _log_specials(m, u, value)
    tiny = m.lt(m.fabs(x), m.c(2.0**-54))  # log1p(x) rounds to x (and keeps -0)
    return m.select(m.isnan(x), x, m.select(tiny, x, value))


# --- expm1, tanh ------------------------------------------------------------------------


def _expm1_parts(m: Emitter, x):
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
    k = b.sub(k, b.zext(twice, I64))
    scale = m.power_of_two(k)
    # 2**k (1 + r + t) - 1 = (2**k - 1) + 2**k r + 2**k t, the first two summed exactly
    a, a_error = m.fast_two_sum(scale, m.select(twice, m.c(-0.5), m.c(-1.0)))  # inexact from k = 54
    s, e = m.two_sum(a, m.mul(scale, r))
    return s, m.add(m.add(e, a_error), m.mul(scale, t)), twice


def expm1(b: ir.IRBuilder, x: ir.Value) -> ir.Value:
    """``exp(x) - 1``, accurate near 0; -0 stays -0, -inf gives -1."""
    if not isinstance(x.type, ir.DoubleType):
        return _expm1_f32(b, x)
    m = Emitter(b)
    clamped = m.select(m.lt(x, m.c(-40.0)), m.c(-40.0), m.at_most(x, 709.79))  # expm1(-40) rounds to -1
    hi, lo, twice = _expm1_parts(m, clamped)
    value = m.mul(m.add(hi, lo), m.select(twice, m.c(2.0), m.c(1.0)))
    value = m.select(m.gt(x, m.c(709.782712893384)), m.c(math.inf), value)
    return m.select(m.eq(x, m.c(0.0)), x, m.select(m.isnan(x), x, value))


def tanh(b: ir.IRBuilder, x: ir.Value) -> ir.Value:
    """Hyperbolic tangent; ±1 beyond |x| = 22, -0 stays -0."""
    if not isinstance(x.type, ir.DoubleType):
        return _tanh_f32(b, x)
    m = Emitter(b)
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
    m = Emitter(b)
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
    """Cephes' tanhf: an odd polynomial up to 0.625 (its sign copied from ``x``, so -0
    stays -0),
    ``1 - 2/(exp(2|x|) + 1)`` above with ``2|x|`` clamped at 20, where tanh is 1 in
    float32, so that ``exp`` needs no range tests; NaN takes the polynomial and stays NaN
    (the clamp sends it to 20)."""
    m = Emitter(b, x.type)
    z = m.fabs(x)
    e = native_exp.exp_normal(b, native_exp.clamp_above(b, m.add(z, z), 20.0))
    large = m.sub(m.c(1.0), m.div(m.c(2.0), m.add(e, m.c(1.0))))
    z2 = m.mul(z, z)
    small = m.multiply_add(m.mul(m.horner(_TANH_F32, z2), z2), z, z)
    return m.copysign(m.select(m.gt(z, m.c(0.625)), large, small), x)


def _expm1_f32(b: ir.IRBuilder, x: ir.Value) -> ir.Value:
    """``exp(x) - 1`` in float64, rounded once: below 2**-10 in magnitude the Taylor series
    to x**5 (the subtraction would lose the small result's digits), else ``exp`` less 1
    (float64 keeps 13 digits of any float32 result); inf, -inf (-1) and NaN follow."""
    m = Emitter(b)
    xd = b.fpext(x, F64)
    small = m.lt(m.fabs(xd), m.c(2.0**-10))
    series = m.mul(m.horner((1 / 120, 1 / 24, 1 / 6, 1 / 2, 1.0), xd), xd)
    large = m.sub(native_exp.exp(b, xd), m.c(1.0))
    return b.fptrunc(m.select(small, series, large), x.type)


def _log_f32(b: ir.IRBuilder, x: ir.Value) -> ir.Value:
    """Cephes' logf as straight-line code: ``x = 2**e * (1 + m)`` by bit manipulation
    (subnormals scaled up first), then a polynomial in ``m``; 0 gives -inf, a negative
    number NaN, inf and NaN themselves."""
    m = Emitter(b, x.type)
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
    m = Emitter(b)
    xd = b.fpext(x, F64)
    series = m.mul(m.horner((-1 / 4, 1 / 3, -1 / 2, 1.0), xd), xd)
    u = m.add(m.c(1.0), xd)
    bits = m.bits(u)
    exponent = b.sub(m.biased_exponent(u), m.i(1023))
    mantissa = m.from_bits(b.or_(b.and_(bits, m.i(0x000FFFFFFFFFFFFF)), m.i(0x3FF0000000000000)))
    high = m.gt(mantissa, m.c(2**0.5))
    mantissa = m.select(high, m.mul(mantissa, m.c(0.5)), mantissa)
    exponent = b.add(exponent, b.zext(high, I64))
    s = m.div(m.sub(mantissa, m.c(1.0)), m.add(mantissa, m.c(1.0)))
    atanh = m.horner((1 / 13, 1 / 11, 1 / 9, 1 / 7, 1 / 5, 1 / 3, 1.0), m.mul(s, s))
    log_u = m.add(m.mul(b.sitofp(exponent, F64), m.c(0.6931471805599453)), m.mul(m.c(2.0), m.mul(s, atanh)))
    value = m.select(m.lt(m.fabs(xd), m.c(2.0**-10)), series, _log_specials(m, u, log_u))
    return b.fptrunc(m.select(m.isnan(xd), xd, value), x.type)


def _erf_f32(b: ir.IRBuilder, x: ir.Value) -> ir.Value:
    """erf in float64, rounded once, as straight-line code (GELU's erf, vectorized): the
    Taylor series below 0.5, ``1 - exp(-a**2) * P(a)`` from 0.5 on with ``P`` fitted to
    ``erfc(a) exp(a**2)`` (both tables above), ``a`` clamped at 4, where erf rounds to 1
    in float32; the sign copied back, so -0 stays -0 and NaN stays NaN."""
    m = Emitter(b)
    xd = b.fpext(x, F64)
    a = m.fabs(xd)
    small = m.mul(m.horner(_ERF_TAYLOR_F32, m.mul(a, a)), a)
    clamped = m.at_most(a, 4.0)
    t = m.mul(m.sub(clamped, m.c(2.25)), m.c(1 / 1.75))
    tail = m.mul(native_exp.exp(b, m.neg(m.mul(clamped, clamped))), m.horner(_ERFC_SCALED_F32, t))
    value = m.select(m.lt(a, m.c(0.5)), small, m.sub(m.c(1.0), tail))
    return b.fptrunc(m.copysign(value, xd), x.type)
