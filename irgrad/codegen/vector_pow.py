"""``pow`` as straight-line LLVM IR that the loop vectorizer widens (:mod:`vector_math`
says why and how): ``exp(y log|x|)``, with its own ``log`` and ``exp``.

``exp`` turns an absolute error of ``y log|x|`` into the same relative error of the
result, and ``|y log|x||`` is up to 709 where the result is normal, so float64 needs
``log|x|`` more precise than :mod:`vector_math`'s ``log``: here it is a double-double
(``m`` in [0.75, 1.5), ``log(1 + j/16)`` from a table plus ``2 atanh(s)`` of
``s = (m - c)/(m + c)``, ``|s| < 0.022``, its series to ``s**11``), ``y log|x|`` an
exact product plus its low part, ``exp`` of that double-double by the ``expm1``
polynomial; within an ulp even where the result is near overflow, and exact for integer
powers of integers.  Float32: a float64 ``log`` (2**-51) and ``exp`` (a degree-8 fit,
2**-39).  ``log 0 = -inf`` and ``log inf = inf`` make the product give the zeros and
infinities; C99's other special cases (``pow(x, 0) = 1``, ``pow(1, y) = 1``, negative
bases) are selected.  Coefficients are in :mod:`vector_math_tables`, fitted by
``tools/fit_vector_math.py``.
"""

from __future__ import annotations

import math

import llvmlite.ir as ir

from . import vector_math_tables as tables
from .vector_emitter import I64, Emitter, to_double, to_type


def _log_double_double(m: Emitter, a):
    """``log(a)`` as a double-double good to about 2**-100 relative, for a finite ``a > 0``."""
    b = m.b
    tiny = m.lt(a, m.c(2.0**-1022))
    scaled = m.select(tiny, m.mul(a, m.c(2.0**54)), a)
    bits = m.bits(scaled)
    mantissa = m.from_bits(b.or_(b.and_(bits, m.i(0x000FFFFFFFFFFFFF)), m.i(0x3FF0000000000000)))
    high = b.not_(m.lt(mantissa, m.c(1.5)))
    mantissa = m.select(high, m.mul(mantissa, m.c(0.5)), mantissa)  # [0.75, 1.5)
    exponent = b.add(m.biased_exponent(scaled), b.zext(high, I64))
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


def _exp_double_double(m: Emitter, z_hi, z_lo):
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
    value = m.select(over, m.c(math.inf), m.select(under, m.c(0.0), value))
    return m.select(m.isnan(z_hi), z_hi, value)


def _log_of_float32(m: Emitter, a):
    """``log(a)`` within about 2**-51 relative, for a positive finite float32 ``a`` as float64
    (never subnormal there): ``k ln 2 + 2s + s R(s**2)`` (``R`` as in ``log``)."""
    b = m.b
    bits = m.bits(a)
    mantissa = m.from_bits(b.or_(b.and_(bits, m.i(0x000FFFFFFFFFFFFF)), m.i(0x3FF0000000000000)))
    high = m.gt(mantissa, m.c(math.sqrt(2.0)))
    mantissa = m.select(high, m.mul(mantissa, m.c(0.5)), mantissa)
    k = m.sub(m.exponent_float(b.add(m.biased_exponent(a), b.zext(high, I64))), m.c(1023.0))
    f = m.sub(mantissa, m.c(1.0))
    s = m.div(f, m.add(m.c(2.0), f))
    z = m.mul(s, s)
    log_m = m.add(m.mul(s, m.c(2.0)), m.mul(m.mul(s, z), m.horner(tables.LOG, z)))
    return m.add(m.mul(k, m.c(math.log(2.0))), log_m)


def _exp_of_float32_range(m: Emitter, z):
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
    m = Emitter(b)
    xd, yd = to_double(b, x), to_double(b, y)
    ax = m.fabs(xd)
    # exp(y log|x|), log 0 = -inf and log inf = inf: the product gives exp's 0 and inf cases
    regular = b.and_(m.gt(ax, m.c(0.0)), m.lt(ax, m.c(math.inf)))
    positive = m.select(regular, ax, m.c(1.0))
    edge_log = m.select(m.eq(ax, m.c(0.0)), m.c(-math.inf), ax)  # -inf, inf or NaN
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
    negative_finite = b.and_(m.lt(xd, m.c(0.0)), m.lt(ax, m.c(math.inf)))
    value = m.select(b.and_(negative_finite, b.not_(y_integer)), m.c(math.nan), value)
    one = b.or_(m.eq(xd, m.c(1.0)), m.eq(yd, m.c(0.0)))
    one = b.or_(one, b.and_(m.eq(ax, m.c(1.0)), m.eq(m.fabs(yd), m.c(math.inf))))
    return to_type(b, m.select(one, m.c(1.0), value), x)
