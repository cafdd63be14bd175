"""``sin``, ``cos``, ``tan`` and ``atan2`` as straight-line LLVM IR that the loop
vectorizer widens (:mod:`vector_math` says why and how).

Float32 versions compute in float64 and round once; coefficients are in
:mod:`vector_math_tables`, fitted by ``tools/fit_vector_math.py``.

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
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import llvmlite.ir as ir

from . import vector_math_tables as tables
from .vector_emitter import Emitter, to_double, to_type

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


# --- sin, cos, tan ----------------------------------------------------------------------


def _reduction_row(m: Emitter, a, table: _Reduction, mantissa_bits: int):
    """``(row, integer)``: the table row serving ``a = |x|`` and ``a`` scaled to the integer
    ``M 2**(E - e_row)``."""
    b = m.b
    exponent = b.sub(m.biased_exponent(a), m.i(1023 + mantissa_bits))  # E
    row = b.sdiv(b.sub(exponent, m.i(table.lowest)), m.i(table.step))
    row = b.select(b.icmp_signed("<", row, m.i(0)), m.i(0), row)  # lanes below pi/4
    row = b.select(b.icmp_signed(">", row, m.i(table.rows - 1)), m.i(table.rows - 1), row)  # inf, NaN
    e_row = b.add(b.mul(row, m.i(table.step)), m.i(table.lowest))
    return row, m.mul(a, m.power_of_two(b.sub(m.i(0), e_row)))


def _mod4(m: Emitter, v):
    """``v`` modulo 4 in [0, 4): exact for any float64."""
    return m.sub(v, m.mul(m.floor(m.mul(v, m.c(0.25))), m.c(4.0)))


def _reduce(m: Emitter, a, single: bool):
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


def _sin_cos(m: Emitter, r_hi, r_lo, single: bool):
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
    m = Emitter(b)
    xd = to_double(b, x)
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
    value = m.select(m.isnan(xd), xd, m.select(m.eq(m.fabs(xd), m.c(math.inf)), m.c(math.nan), value))
    return to_type(b, value, x)


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
    m = Emitter(b)
    single = not isinstance(x.type, ir.DoubleType)
    yd, xd = to_double(b, y), to_double(b, x)
    ay, ax = m.fabs(yd), m.fabs(xd)
    swap = m.gt(ay, ax)
    num, den = m.select(swap, ax, ay), m.select(swap, ay, ax)
    t = m.div(num, den)
    t = m.select(m.eq(den, m.c(0.0)), m.c(0.0), m.select(m.eq(num, m.c(math.inf)), m.c(1.0), t))
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
    return to_type(b, value, x)


def _atan_octant(m: Emitter, num, den, t, c, j, atan_c, swap, negative_x):
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
    regular = b.and_(m.gt(t, m.c(2.0**-900)), m.lt(den, m.c(math.inf)))  # t_lo matters, and is a number
    t_lo = m.select(b.and_(regular, m.lt(num, m.c(math.inf))), t_lo, m.c(0.0))
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
