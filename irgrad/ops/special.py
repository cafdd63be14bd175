"""Special functions: ``lgamma``, ``digamma``, ``polygamma`` and ``erfinv`` (numpy has none).

Vectorized float64 kernels (a float32 or float16 operand is computed in float64 and
rounded once), with PyTorch's values at poles and edges:

* ``lgamma``: the Taylor series of ``lgamma(1 + z)`` from 1/2 to 5/2 (with ``log1p(z)``
  past 3/2), so the zeros at 1 and 2 come out exact, reached from below 12 by
  ``lgamma(x) = lgamma(x - 1) + log(x - 1)`` (all terms positive); Stirling's series with
  seven Bernoulli terms from 12 up; reflection below 1/2; +inf at the poles (0 and the
  negative integers) and at +-inf.
* ``digamma``: the asymptotic series from 10 up after the recurrence
  ``psi(x) = psi(x + 1) - 1/x``, reflection ``psi(1 - x) - pi / tan(pi x)`` below 0;
  -inf at +0, +inf at -0, NaN at the negative integers and -inf.
* ``polygamma(n, x)``, ``n >= 1``: the asymptotic series after shifting ``x`` up by the
  recurrence ``psi_n(x) = psi_n(x + 1) + (-1)^(n+1) n! / x^(n+1)``; +inf at the poles,
  0 at +inf, NaN at -inf (PyTorch gives finite values at the negative integers and NaN at
  +inf for some n: docs/pytorch-differences.md).
* ``erfinv``: Giles' float32 approximation refined by Newton steps on ``erf`` below 1/2,
  and past it on ``log erfc`` against the exact complement ``1 - |y|`` (``erf`` alone
  would cancel, and the guess is far off within 1e-8 of 1); +-inf at +-1, NaN beyond.

The gradients are the next function of the family: ``digamma`` for ``lgamma``,
``polygamma(1)`` for ``digamma``, ``polygamma(n + 1)`` for ``polygamma(n)``, and
``sqrt(pi)/2 exp(erfinv(y)^2)`` for ``erfinv``.  Each op's scalar rule is its own
primitive of the scalar ISA, which the LLVM lowering has no code for yet: compiled code
runs these kernels with numpy between native segments.
"""

from __future__ import annotations

import math

import numpy as np

from .elementwise import register_elementwise
from .erf import _erfc_mid, erf
from .registry import DtypeRule

_HALF_LOG_TWO_PI = 0.5 * math.log(2 * math.pi)
# Stirling: lgamma(z) ~ (z - 1/2) log z - z + log(2 pi)/2 + sum B_2k / (2k (2k-1) z^(2k-1))
_STIRLING = (1 / 12, -1 / 360, 1 / 1260, -1 / 1680, 1 / 1188, -691 / 360360, 1 / 156)
# digamma: psi(z) ~ log z - 1/(2z) - sum B_2k / (2k z^(2k))
_DIGAMMA = (1 / 12, -1 / 120, 1 / 252, -1 / 240, 1 / 132, -691 / 32760, 1 / 12)
# Bernoulli numbers B_2 ... B_20, for polygamma's series
_BERNOULLI = (
    1 / 6,
    -1 / 30,
    1 / 42,
    -1 / 30,
    5 / 66,
    -691 / 2730,
    7 / 6,
    -3617 / 510,
    43867 / 798,
    -174611 / 330,
)


def _as_float64(x: np.ndarray) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


def _sin_pi(x: np.ndarray) -> np.ndarray:
    """sin(pi x) to rounding, exactly 0 at the integers: the argument reduced exactly to
    [-1, 1] and then to [0, 1/2] by symmetry, so sin never sees a large or inexact one."""
    r = x - 2.0 * np.round(x / 2.0)
    a = np.abs(r)
    return np.sign(r) * np.sin(np.pi * np.where(a > 0.5, 1.0 - a, a))


def _pi_over_tan_pi(x: np.ndarray) -> np.ndarray:
    """pi / tan(pi x), from the exactly reduced argument (tan has period 1)."""
    return np.pi / np.tan(np.pi * (x - np.round(x)))


def _lgamma_positive(x: np.ndarray) -> np.ndarray:
    """lgamma for x >= 1/2 (finite)."""
    z = x.copy()
    product = np.ones_like(x)
    short = z < 12.0
    while short.any():
        product[short] *= z[short]
        z[short] += 1.0
        short = z < 12.0
    inv = 1.0 / z
    inv2 = inv * inv
    series = np.zeros_like(z)
    for c in reversed(_STIRLING):
        series = series * inv2 + c
    stirling = (z - 0.5) * np.log(z) - z + _HALF_LOG_TWO_PI + series * inv
    return stirling - np.log(product)


def _zeta(k: int) -> float:
    """Riemann's zeta at an integer k >= 2: twenty terms and the Euler-Maclaurin tail
    (through B_8: the next term is below 2e-16 at k = 2)."""
    n = 20
    head = math.fsum(m**-k for m in range(1, n))
    rising = [math.prod(range(k, k + j)) for j in range(8)]  # k (k+1) ... (k+j-1)
    tail = (
        n ** (1 - k) / (k - 1)
        + 0.5 * n**-k
        + rising[1] * n ** (-k - 1) / 12
        - rising[3] * n ** (-k - 3) / 720
        + rising[5] * n ** (-k - 5) / 30240
        - rising[7] * n ** (-k - 7) / 1209600
    )
    return head + tail


# lgamma(1 + z) = -euler_gamma z + sum_k (-1)^k zeta(k) / k z^k, for |z| <= 1/2 (48 terms: 1e-16)
_EULER_GAMMA = 0.5772156649015329
_LGAMMA_NEAR_ONE = tuple((-1) ** k * _zeta(k) / k for k in range(2, 50))


def _lgamma_near_one(z: np.ndarray) -> np.ndarray:
    """lgamma(1 + z) for |z| <= 1/2, by its Taylor series: exact where the result is
    near its zeros at 1 and 2, where the recurrence's difference of logs would cancel.
    Adding 0.0 makes the zero at ``z = 0`` positive, as PyTorch's ``lgamma(1.)`` is."""
    acc = np.full_like(z, _LGAMMA_NEAR_ONE[-1])
    for c in reversed(_LGAMMA_NEAR_ONE[:-1]):
        acc = acc * z + c
    return (acc * z - _EULER_GAMMA) * z + 0.0


def lgamma(x: np.ndarray) -> np.ndarray:
    a = _as_float64(x)
    out = np.full_like(a, np.inf)
    finite = np.isfinite(a) & ~((a <= 0) & (a == np.floor(a)))
    pos = finite & (a >= 12.0)
    out[pos] = _lgamma_positive(a[pos])
    mid = finite & (a >= 2.5) & (a < 12.0)
    if mid.any():  # down to [3/2, 5/2) by lgamma(x) = lgamma(x - 1) + log(x - 1): no cancellation
        v = a[mid].copy()
        logs = np.zeros_like(v)
        high = v >= 2.5
        while high.any():
            v[high] -= 1.0
            logs[high] += np.log(v[high])
            high = v >= 2.5
        z = v - 2.0
        out[mid] = _lgamma_near_one(z) + np.log1p(z) + logs
    near_one = finite & (a >= 0.5) & (a < 1.5)
    out[near_one] = _lgamma_near_one(a[near_one] - 1.0)
    near_two = finite & (a >= 1.5) & (a < 2.5)
    z = a[near_two] - 2.0
    out[near_two] = _lgamma_near_one(z) + np.log1p(z)  # lgamma(2 + z) = lgamma(1 + z) + log(1 + z)
    neg = finite & (a < 0.5)
    if neg.any():
        v = a[neg]
        out[neg] = math.log(math.pi) - np.log(np.abs(_sin_pi(v))) - _lgamma_positive(1.0 - v)
    out[np.isnan(a)] = np.nan
    return out.astype(x.dtype, copy=False)


def _digamma_positive(x: np.ndarray) -> np.ndarray:
    """digamma for x > 0 (finite)."""
    z = x.copy()
    shift = np.zeros_like(x)
    short = z < 10.0
    while short.any():
        shift[short] += 1.0 / z[short]
        z[short] += 1.0
        short = z < 10.0
    inv2 = 1.0 / (z * z)
    series = np.zeros_like(z)
    for c in reversed(_DIGAMMA):
        series = series * inv2 + c
    return np.log(z) - 0.5 / z - series * inv2 - shift


def digamma(x: np.ndarray) -> np.ndarray:
    a = _as_float64(x)
    out = np.full_like(a, np.nan)
    pos = np.isfinite(a) & (a > 0)
    out[pos] = _digamma_positive(a[pos])
    neg = np.isfinite(a) & (a < 0) & (a != np.floor(a))
    if neg.any():
        v = a[neg]
        out[neg] = _digamma_positive(1.0 - v) - _pi_over_tan_pi(v)
    zero = a == 0
    out[zero] = -np.copysign(np.inf, a[zero])  # psi(+-0) = -+inf
    out[a == np.inf] = np.inf
    return out.astype(x.dtype, copy=False)


def polygamma(x: np.ndarray, *, n: int) -> np.ndarray:
    if n == 0:
        return digamma(x)
    a = _as_float64(x)
    sign = 1.0 if n % 2 else -1.0  # (-1)^(n+1)
    out = np.full_like(a, np.nan)
    ok = np.isfinite(a) & ~((a <= 0) & (a == np.floor(a)))
    z = a[ok].copy()
    shifted = np.zeros_like(z)
    low = 20.0 + n
    short = z < low
    while short.any():
        shifted[short] += z[short] ** -(n + 1.0)
        z[short] += 1.0
        short = z < low
    inv = 1.0 / z
    # (n-1)!/z^n + n!/(2 z^(n+1)) + sum_k B_2k (2k+n-1)! / ((2k)! z^(2k+n))
    series = math.factorial(n - 1) * inv**n + math.factorial(n) / 2.0 * inv ** (n + 1)
    for k, b in enumerate(_BERNOULLI, start=1):
        series = series + b * math.factorial(2 * k + n - 1) / math.factorial(2 * k) * inv ** (2 * k + n)
    out[ok] = sign * (series + math.factorial(n) * shifted)
    out[(a <= 0) & (a == np.floor(a))] = np.inf
    out[a == np.inf] = 0.0  # (-inf has no limit: NaN)
    return out.astype(x.dtype, copy=False)


def _erfinv_guess(y: np.ndarray) -> np.ndarray:
    """Giles' single-precision approximation of erfinv (|y| < 1)."""
    w = -np.log((1.0 - y) * (1.0 + y))
    central = w < 5.0
    t = np.where(central, w - 2.5, np.sqrt(np.maximum(w, 5.0)) - 3.0)
    inner = (
        2.81022636e-08,
        3.43273939e-07,
        -3.5233877e-06,
        -4.39150654e-06,
        0.00021858087,
        -0.00125372503,
        -0.00417768164,
        0.246640727,
        1.50140941,
    )
    outer = (
        -0.000200214257,
        0.000100950558,
        0.00134934322,
        -0.00367342844,
        0.00573950773,
        -0.0076224613,
        0.00943887047,
        1.00167406,
        2.83297682,
    )
    p_in, p_out = np.full_like(y, inner[0]), np.full_like(y, outer[0])
    for a, b in zip(inner[1:], outer[1:]):
        p_in = p_in * t + a
        p_out = p_out * t + b
    return np.where(central, p_in, p_out) * y


def _erfc_nonnegative(v: np.ndarray) -> np.ndarray:
    out = 1.0 - erf(v)
    mid = (v >= 1.0) & (v < 6.0)
    if mid.any():
        out[mid] = _erfc_mid(v[mid].copy())
    return out


def erfinv(y: np.ndarray) -> np.ndarray:
    a = _as_float64(y)
    out = np.full_like(a, np.nan)
    inside = np.abs(a) < 1.0
    v = a[inside]
    x = _erfinv_guess(v)
    slope = 2.0 / math.sqrt(math.pi)
    central = np.abs(v) < 0.5
    for _ in range(2):  # Newton on erf(x) = y
        xc = x[central]
        x[central] = xc - (erf(xc) - v[central]) / (slope * np.exp(-xc * xc))
    tail = ~central
    if tail.any():
        # Newton on log(erfc(|x|)) = log(1 - |y|): the complement is exact, and the log is
        # nearly linear in x^2 where the guess (float32's) is far off (|y| within 1e-8 of 1)
        complement, ax = 1.0 - np.abs(v[tail]), np.abs(x[tail])
        for _ in range(4):
            e = _erfc_nonnegative(ax)
            ax = ax + (np.log(e) - np.log(complement)) * e / (slope * np.exp(-ax * ax))
        x[tail] = np.copysign(ax, v[tail])
    out[inside] = np.where(v == 0, v, x)  # keeps -0
    edge = np.abs(a) == 1.0
    out[edge] = np.copysign(np.inf, a[edge])
    return out.astype(y.dtype, copy=False)


SQRT_PI_OVER_2 = math.sqrt(math.pi) / 2

register_elementwise(
    "lgamma",
    lgamma,
    lambda F, g, c: (F.mul(g, F.digamma(c.ins[0])),),
    rule=DtypeRule.FLOAT,
    save_inputs=True,
    scalar=lambda S, x: S.lgamma(x),
    doc="log |Gamma(x)|.",
)
register_elementwise(
    "digamma",
    digamma,
    lambda F, g, c: (F.mul(g, F.polygamma(c.ins[0], n=1)),),
    rule=DtypeRule.FLOAT,
    save_inputs=True,
    scalar=lambda S, x: S.digamma(x),
    doc="The derivative of lgamma.",
)
register_elementwise(
    "polygamma",
    polygamma,
    lambda F, g, c: (F.mul(g, F.polygamma(c.ins[0], n=c.attrs["n"] + 1)),),
    rule=DtypeRule.FLOAT,
    save_inputs=True,
    scalar=lambda S, x, n: S.polygamma(x, n),
    doc="The n-th derivative of digamma (attribute n >= 0).",
)
register_elementwise(
    "erfinv",
    erfinv,
    lambda F, g, c: (F.mul(g, F.mul(F.exp(F.mul(c.out, c.out)), SQRT_PI_OVER_2)),),
    rule=DtypeRule.FLOAT,
    save_output=True,
    scalar=lambda S, x: S.erfinv(x),
    doc="The inverse of erf on (-1, 1).",
)
