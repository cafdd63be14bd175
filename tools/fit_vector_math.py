"""Derive the coefficient tables of ``irgrad/codegen/vector_math.py``, ``vector_trig.py``
and ``vector_pow.py`` (needs mpmath).

    python tools/fit_vector_math.py > irgrad/codegen/vector_math_tables.py

Each polynomial is fitted with :func:`mpmath.chebyfit` (interpolation at Chebyshev
nodes, within a small factor of the minimax polynomial) to the smooth part of a
function, at 60 significant digits, and its coefficients are rounded to float64; the
error printed to stderr is that of the rounded polynomial, evaluated exactly on 4001
points and weighted by how it reaches the function's value.  The double-double
constants are the values rounded to a float64 pair (hi, lo) with ``hi + lo`` within
2**-106 of the value.  ``tests/test_codegen_math.py`` checks that the tables module
is this script's output.
"""

from __future__ import annotations

import sys

import mpmath as mp

mp.mp.dps = 60


def fit(name: str, f, lo, hi, degree: int, weight) -> list[float]:
    """Coefficients of a degree-``degree`` polynomial close to ``f`` on [lo, hi], highest
    first; its weighted error is reported on stderr."""
    lo, hi = mp.mpf(lo), mp.mpf(hi)
    coefficients = [float(c) for c in mp.chebyfit(f, [lo, hi], degree + 1)]
    worst = mp.mpf(0)
    for i in range(4001):
        x = lo + (hi - lo) * i / 4000
        p = mp.mpf(0)
        for c in coefficients:
            p = p * x + c
        worst = max(worst, abs(p - f(x)) * weight(x))
    print(f"{name}: degree {degree}, weighted error 2**{float(mp.log(worst, 2)):.1f}", file=sys.stderr)
    return coefficients


def pair(value) -> tuple[float, float]:
    """``value`` as a double-double (hi, lo)."""
    hi = float(value)
    return hi, float(value - hi)


def tables() -> dict[str, object]:
    """Every table, by the name the tables module gives it."""
    pi, ln2 = mp.pi, mp.log(2)

    def series(f, at_zero):
        return lambda x: at_zero if x == 0 else f(x)

    out: dict[str, object] = {}
    # sin r = r + r^3 S(r^2), cos r = 1 - r^2/2 + r^4 C(r^2) for |r| <= pi/4 (and a margin).
    z_max = (pi / 4 * mp.mpf("1.0001")) ** 2
    sin_s = series(lambda z: (mp.sin(mp.sqrt(z)) - mp.sqrt(z)) / z**1.5, mp.mpf(-1) / 6)
    cos_c = series(lambda z: (mp.cos(mp.sqrt(z)) - 1 + z / 2) / z**2, mp.mpf(1) / 24)
    out["SIN"] = fit("SIN", sin_s, 0, z_max, 6, lambda z: z)  # relative to sin r ~ r
    out["COS"] = fit("COS", cos_c, 0, z_max, 6, lambda z: z * z / mp.sqrt(2) * 2)  # relative to cos >= 0.707
    out["SIN_F32"] = fit("SIN_F32", sin_s, 0, z_max, 4, lambda z: z)
    out["COS_F32"] = fit("COS_F32", cos_c, 0, z_max, 4, lambda z: z * z / mp.sqrt(2) * 2)
    # log(1 + f) = 2 atanh(s), s = f / (2 + f): 2s + s R, R = z Q(z), z = s^2 <= ((sqrt 2 - 1)/(sqrt 2 + 1))^2.
    s_max = (mp.sqrt(2) - 1) / (mp.sqrt(2) + 1)
    log_q = series(lambda z: (2 * mp.atanh(mp.sqrt(z)) / mp.sqrt(z) - 2) / z, mp.mpf(2) / 3)
    out["LOG"] = fit("LOG", log_q, 0, s_max**2 * mp.mpf("1.001"), 6, lambda z: z / 2)
    # expm1 r = r + r^2/2 + r^3 P(r) for |r| <= ln(2)/2 (and a margin).
    r_max = ln2 / 2 * mp.mpf("1.0001")
    expm1_p = series(lambda r: (mp.expm1(r) - r - r * r / 2) / r**3, mp.mpf(1) / 6)
    out["EXPM1"] = fit("EXPM1", expm1_p, -r_max, r_max, 9, lambda r: r * r)
    out["EXP_F32"] = fit("EXP_F32", mp.exp, -r_max, r_max, 8, lambda r: 1 / mp.exp(r))  # float32 pow's exp
    # erf x = x + x R(x^2) below 0.84375; above, erf a = 1 - exp(-a^2) erfcx(a), erfcx fitted in
    # t = a - 1.5 on [0.84375, 2.5] and t = a - 4.25 on [2.5, 6], its error weighted by exp(-a^2).
    erf_r = series(lambda z: mp.erf(mp.sqrt(z)) / mp.sqrt(z) - 1, 2 / mp.sqrt(pi) - 1)
    out["ERF"] = fit("ERF", erf_r, 0, mp.mpf("0.84375") ** 2, 10, lambda z: 1)
    for name, centre, lo, hi in (("ERFC_NEAR", 1.5, 0.84375, 2.5), ("ERFC_FAR", 4.25, 2.5, 6.0)):
        erfcx = lambda t, c=centre: mp.erfc(t + c) * mp.exp((t + c) ** 2)  # noqa: E731
        out[name] = fit(
            name, erfcx, lo - centre, hi - centre, 18, lambda t, c=centre: mp.exp(-((t + c) ** 2))
        )
    # atan u = u + u^3 A(u^2) for |u| <= 1/16 (and a margin).
    atan_a = series(lambda z: (mp.atan(mp.sqrt(z)) - mp.sqrt(z)) / z**1.5, mp.mpf(-1) / 3)
    out["ATAN"] = fit("ATAN", atan_a, 0, (mp.mpf(1) / 16) ** 2 * mp.mpf("1.01"), 4, lambda z: z)
    out["ATAN_TABLE"] = [pair(mp.atan(mp.mpf(j) / 8)) for j in range(9)]  # atan(j/8)
    out["LOG_TABLE"] = [pair(mp.log(1 + mp.mpf(j) / 16)) for j in range(-4, 9)]  # log(1 + j/16)
    out["PI_2"] = pair(pi / 2)
    ln2_hi = float(mp.floor(ln2 * 2**42) / 2**42)  # 42 bits: n * ln2_hi is exact for |n| < 2**11
    out["LN2"] = (ln2_hi, float(ln2 - ln2_hi))
    return out


def render(values: dict[str, object]) -> str:
    lines = [
        '"""Coefficient tables of the vectorizable math functions (:mod:`irgrad.codegen.vector_math`,',
        "``vector_trig``, ``vector_pow``), derived by ``tools/fit_vector_math.py`` (which explains",
        "each fit); do not edit by hand.",
        "",
        "Polynomials list their coefficients from the highest degree down; pairs are",
        "double-double values ``(hi, lo)``.",
        '"""',
        "",
    ]
    for name, value in values.items():
        if isinstance(value, tuple):
            lines.append(f"{name} = {value!r}")
        else:
            lines.append(f"{name} = (")
            lines.extend(f"    {item!r}," for item in value)
            lines.append(")")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render(tables()))
