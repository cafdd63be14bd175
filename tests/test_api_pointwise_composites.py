"""copysign, signbit, sgn, positive, frac, deg2rad, rad2deg, sinc, logit, float_power,
ldexp, xlogy, logaddexp(2), hypot, fmax, fmin, heaviside, gcd, lcm and isin against
PyTorch 2.13: values and dtypes at ordinary and special points (signed zeros, inf, NaN,
integers, bools), gradients, broadcasting, errors, in-place forms; float64 finite
differences; compiled against eager."""

from __future__ import annotations

import numpy as np
import pytest
from torch_parity import raises_like_torch

import irgrad

_rng = np.random.default_rng(5)
SPECIAL = np.array([-np.inf, -2.5, -1.0, -0.0, 0.0, 0.3, 1.0, 2.0, np.inf, np.nan], np.float32)


def R(*shape):
    """Normal float32 values away from 0 (no kinks)."""
    x = _rng.standard_normal(shape).astype(np.float32)
    return np.where(np.abs(x) < 0.1, np.float32(0.4), x).astype(np.float32)


def P(*shape):
    return _rng.uniform(0.2, 2.0, shape).astype(np.float32)


def U(*shape):
    """In (0, 1), away from the ends (logit)."""
    return _rng.uniform(0.05, 0.95, shape).astype(np.float32)


UNARY = [
    ("deg2rad", lambda L, x: L.deg2rad(x), R),
    ("rad2deg", lambda L, x: x.rad2deg(), R),
    ("sinc", lambda L, x: L.sinc(x), R),
    ("logit", lambda L, x: L.logit(x), U),
    ("logit_eps", lambda L, x: L.logit(x * 1.2 - 0.1, eps=0.1), U),
    ("frac", lambda L, x: L.frac(x * 3), R),
    ("positive", lambda L, x: L.positive(x), R),
    ("float_power", lambda L, x: L.float_power(x, 3), R),
    ("float_power_scalar_base", lambda L, x: L.float_power(2, x), R),
    ("signbit", lambda L, x: L.signbit(x), R),
    ("erfc", lambda L, x: L.erfc(x * 2), R),
    ("copysign_number", lambda L, x: L.copysign(x, -1.0), R),
]


@pytest.mark.parametrize("shape", [(), (5,), (3, 4)])
@pytest.mark.parametrize("fn,make", [pytest.param(f, m, id=n) for n, f, m in UNARY])
def test_unary_matches_torch(compare, fn, make, shape):
    compare(fn, make(*shape))


@pytest.mark.parametrize(
    "fn", [pytest.param(f, id=n) for n, f, _ in UNARY if n != "positive"] + [pytest.param(None, id="sgn")]
)
def test_unary_special_values_match_torch(compare, fn):
    # (sgn's gradient is PyTorch's ZeroTensor: values only; its NaN is sign's, irgrad's NaN)
    data = SPECIAL if fn else SPECIAL[~np.isnan(SPECIAL)]
    fn = fn or (lambda L, x: x.sgn())
    compare(fn, data, grad=False)
    compare(fn, data.astype(np.float64), grad=False)


@pytest.mark.parametrize(
    "name", ["deg2rad", "rad2deg", "sinc", "logit", "sgn", "positive", "signbit", "frac"]
)
@pytest.mark.parametrize(
    "data", [np.array([3, -2, 0, 7]), np.array([True, False]), np.array([1, -4], np.int32)], ids=str
)
def test_unary_on_integers_and_bools_match_torch(compare, name, data):
    torch = pytest.importorskip("torch")
    try:
        getattr(torch, name)(torch.tensor(data))
    except (RuntimeError, NotImplementedError):
        raises_like_torch(lambda lib: getattr(lib, name)(lib.tensor(data)))
        return
    compare(lambda lib, x: getattr(lib, name)(x), data)


BINARY = [
    ("copysign", lambda L, a, b: L.copysign(a, b), R, R),
    ("hypot", lambda L, a, b: L.hypot(a, b), R, R),
    ("fmax", lambda L, a, b: L.fmax(a, b), R, R),
    ("fmin", lambda L, a, b: a.fmin(b), R, R),
    ("logaddexp", lambda L, a, b: L.logaddexp(a, b), R, R),
    ("logaddexp2", lambda L, a, b: a.logaddexp2(b), R, R),
    ("xlogy", lambda L, a, b: L.xlogy(a, b), R, P),
    ("ldexp", lambda L, a, b: L.ldexp(a, b), R, R),
    ("float_power", lambda L, a, b: a.float_power(b), P, R),
]
BIN_SHAPES = [((), ()), ((4,), (4,)), ((3, 4), (4,)), ((3, 1), (1, 4)), ((2, 3, 4), ()), ((), (2, 3))]


@pytest.mark.parametrize("shapes", BIN_SHAPES, ids=str)
@pytest.mark.parametrize("fn,ma,mb", [pytest.param(f, a, b, id=n) for n, f, a, b in BINARY])
def test_binary_matches_torch(compare, fn, ma, mb, shapes):
    compare(fn, ma(*shapes[0]), mb(*shapes[1]))


@pytest.mark.parametrize("fn", [pytest.param(f, id=n) for n, f, _, _ in BINARY])
def test_binary_special_values_match_torch(compare, fn):
    a, b = np.meshgrid(SPECIAL, SPECIAL, indexing="ij")
    compare(fn, a.copy(), b.copy(), grad=False)
    compare(fn, a.astype(np.float64), b.astype(np.float64), grad=False)


def test_binary_with_float64_and_mixed_dtypes_match_torch(compare):
    a, b = R(3, 4).astype(np.float64), np.arange(-6, 6).reshape(3, 4)
    # (not ldexp: PyTorch's gradient of an integer exponent's 2**other is computed in
    # integers, 0 for a negative one; see docs/pytorch-differences.md)
    for name in ("copysign", "hypot", "fmax", "fmin", "logaddexp", "logaddexp2", "xlogy"):
        compare(lambda lib, x, y, name=name: getattr(lib, name)(x, y), a, b)
        compare(lambda lib, x, y, name=name: getattr(lib, name)(y, x), a.astype(np.float32), b)


def test_ties_and_nan_gradients_of_fmax_fmin_match_torch(compare):
    a = np.array([1.0, 2.0, np.nan, 3.0, np.nan], np.float32)
    b = np.array([1.0, 5.0, 4.0, np.nan, np.nan], np.float32)
    compare(lambda lib, x, y: lib.fmax(x, y), a, b)
    compare(lambda lib, x, y: lib.fmin(x, y), a, b)


def test_xlogy_at_zero_matches_torch(compare):
    x = np.array([0.0, -0.0, 0.0, 0.0, 2.0, 0.0], np.float32)
    y = np.array([2.0, 3.0, np.nan, -1.0, 0.0, np.inf], np.float32)
    compare(lambda lib, a, b: lib.xlogy(a, b), x, y, grad=False)
    compare(lambda lib, a, b: lib.xlogy(a, b), x[:2], y[:2])  # x = 0 with y > 0: the gradient is log(y)
    compare(lambda lib, b: lib.xlogy(2, b), P(3))
    compare(lambda lib, a: lib.xlogy(a, 3.0), R(3))


def test_erfc_keeps_its_relative_accuracy_in_the_tail():
    torch = pytest.importorskip("torch")
    # float32 down to erfc(9) ~ 4e-37; below, PyTorch's float32 kernel flushes to 0 where
    # irgrad gives the (denormal) value
    for dtype, top, rtol in ((np.float32, 9.0, 2e-6), (np.float64, 26.0, 1e-10)):
        x = np.linspace(-7.0, top, 4001).astype(dtype)
        np.testing.assert_allclose(
            irgrad.erfc(irgrad.tensor(x)).numpy(), torch.erfc(torch.tensor(x)).numpy(), rtol=rtol, atol=0
        )


def test_sinc_and_logit_gradients_at_their_edges_match_torch(compare):
    compare(lambda lib, x: lib.sinc(x), np.array([0.0, -0.0, 1.0, 0.5], np.float32))
    compare(lambda lib, x: lib.logit(x, eps=0.25), np.array([0.1, 0.25, 0.5, 0.75, 0.9], np.float32))


INTEGER_PAIRS = (np.array([12, -18, 0, 0, 7, 35, -9]), np.array([18, 12, 5, 0, -13, 49, -6]))


@pytest.mark.parametrize("name", ["gcd", "lcm"])
@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.int16, np.uint8, np.int8])
def test_gcd_lcm_match_torch(compare, name, dtype):
    a, b = (x.astype(dtype) for x in INTEGER_PAIRS)
    compare(lambda lib, x, y: getattr(lib, name)(x, y), a, b)
    compare(lambda lib, x, y: getattr(x, name)(y), a[:, None], b[None, :])
    big = _rng.integers(1, 10**6, (2, 50)).astype(np.int64)
    compare(lambda lib, x, y: getattr(lib, name)(x, y), big[0], big[1])


def test_fmax_fmin_of_bools_match_torch(compare):
    a, b = np.array([True, False, True, False]), np.array([False, False, True, True])
    compare(lambda lib, x, y: (lib.fmax(x, y), lib.fmin(x, y)), a, b)


def test_heaviside_matches_torch(compare):
    compare(lambda lib, x, v: lib.heaviside(x, v), SPECIAL, np.array([0.5], np.float32), grad=False)
    compare(lambda lib, x, v: x.heaviside(v), np.array([[-2, 0, 3]]), np.array([[7], [8]]))


@pytest.mark.parametrize(
    "elements,test",
    [
        (np.array([1, 2, 3, 4]), np.array([2, 4, 9])),
        (np.array([[1.5, np.nan], [2.0, 0.0]], np.float32), np.array([np.nan, 0.0, 1.5], np.float32)),
        (np.array([1, 2, 3]), np.array([1.0, 2.5], np.float32)),
        (np.array([1, 2]), np.array([], np.int64)),
        (np.array(3), np.array([[3, 4]])),
    ],
)
@pytest.mark.parametrize("invert", [False, True])
def test_isin_matches_torch(compare, elements, test, invert):
    compare(lambda lib, e, t: lib.isin(e, t, invert=invert), elements, test, grad=False)
    compare(lambda lib, e: lib.isin(e, 2), elements, grad=False)
    compare(lambda lib, t: lib.isin(2, t), test, grad=False)


@pytest.mark.parametrize(
    "call",
    [
        lambda lib: lib.hypot(lib.ones(2), 2.0),
        lambda lib: lib.fmax(lib.ones(2), 1),
        lambda lib: lib.logaddexp(lib.ones(2), 1.0),
        lambda lib: lib.ldexp(lib.ones(2), 1),
        lambda lib: lib.gcd(lib.ones(2, dtype=lib.int64), 2),
        lambda lib: lib.hypot(lib.tensor([1, 2]), lib.tensor([3, 4])),
        lambda lib: lib.logaddexp(lib.tensor([1, 2]), lib.tensor([3, 4])),
        lambda lib: lib.logaddexp2(lib.tensor([1]), lib.tensor([3])),
        lambda lib: lib.gcd(lib.tensor([1.0]), lib.tensor([3])),
        lambda lib: lib.lcm(lib.tensor([True]), lib.tensor([False])),
        lambda lib: lib.heaviside(lib.ones(2), lib.tensor([1])),
        lambda lib: lib.heaviside(lib.ones(2), 1.0),
        lambda lib: lib.frac(lib.tensor([1, 2])),
        lambda lib: lib.positive(lib.tensor([True])),
        lambda lib: lib.hypot(lib.ones(2), lib.ones(3)),
        lambda lib: lib.ones(2, dtype=lib.int64).copysign_(lib.ones(2)),
        lambda lib: lib.ones(2).float_power_(2),
    ],
)
def test_errors_match_torch(call):
    raises_like_torch(call)


INPLACE = [
    ("copysign_", lambda L, x, y: x.copysign_(y)),
    ("hypot_", lambda L, x, y: x.hypot_(y)),
    ("xlogy_", lambda L, x, y: x.xlogy_(y.abs())),
    ("ldexp_", lambda L, x, y: x.ldexp_(y)),
    ("sinc_", lambda L, x, y: x.sinc_()),
    ("erfc_", lambda L, x, y: x.erfc_()),
    ("deg2rad_", lambda L, x, y: x.deg2rad_()),
    ("rad2deg_", lambda L, x, y: x.rad2deg_()),
    ("sgn_", lambda L, x, y: x.sgn_()),
    ("frac_", lambda L, x, y: x.frac_()),
    ("logit_", lambda L, x, y: x.sigmoid().logit_(eps=0.2)),
    ("heaviside_", lambda L, x, y: x.heaviside_(y)),
    ("float_power_", lambda L, x, y: x.double().float_power_(2)),
]


@pytest.mark.parametrize("fn", [pytest.param(f, id=n) for n, f in INPLACE])
def test_in_place_forms_match_torch(compare, fn):
    compare(lambda lib, x, y: fn(lib, x.clone(), y), R(3, 4), R(3, 4), grad=False)
    compare(lambda lib, x, y: fn(lib, x * 1, y), R(3, 4), R(3, 4), grad=False)


def test_gcd_lcm_in_place_match_torch(compare):
    a, b = INTEGER_PAIRS
    compare(lambda lib, x, y: (x.clone().gcd_(y), x.clone().lcm_(y)), a, b)


def test_gradients_match_finite_differences():
    def f64(make, *shape):
        return irgrad.tensor(make(*shape).astype(np.float64), requires_grad=True)

    a, b, p, u = f64(R, 3, 4), f64(R, 4), f64(P, 3, 4), f64(U, 3, 4)
    cases = [
        (lambda x, y: irgrad.hypot(x, y), (a, b)),
        (lambda x, y: irgrad.logaddexp(x, y) + irgrad.logaddexp2(y, x), (a, b)),
        (lambda x, y: irgrad.xlogy(x, y), (a, p)),
        (lambda x, y: irgrad.copysign(x, y) * irgrad.fmax(x, y) * irgrad.fmin(y, x), (a, b)),
        (lambda x, y: irgrad.ldexp(x, y), (a, b)),
        (lambda x: irgrad.sinc(x) + irgrad.deg2rad(x) * irgrad.frac(x) + irgrad.erfc(x), (a,)),
        (lambda x: irgrad.logit(x) + irgrad.logit(x, 0.2), (u,)),
        (lambda x, y: irgrad.float_power(x, y), (p, b)),
    ]
    for fn, inputs in cases:
        assert irgrad.autograd.gradcheck(fn, inputs)


def test_compiled_composites_match_eager(backend):
    def fn(x, y, n):
        return (
            irgrad.hypot(x, y) + irgrad.logaddexp(x, y) * irgrad.sinc(x),
            irgrad.copysign(irgrad.xlogy(x.abs(), y.abs()), y),
            irgrad.signbit(x - y),
            irgrad.fmax(x, y) - irgrad.fmin(x, y) + irgrad.logit(x.sigmoid(), 1e-3),
            irgrad.isin(n, n[:2]),
            irgrad.ldexp(x, n),
            irgrad.erfc(x * 4),
        )

    compiled = irgrad.compile(fn, backend=backend)
    for seed in range(3):
        rng = np.random.default_rng(seed)
        x = irgrad.tensor(rng.standard_normal((3, 4)).astype(np.float32))
        y = irgrad.tensor(
            np.where(rng.random((3, 4)) < 0.2, np.nan, rng.standard_normal((3, 4))).astype(np.float32)
        )
        n = irgrad.tensor(rng.integers(-3, 3, (3, 4)))
        for got, want in zip(compiled(x, y, n), fn(x, y, n)):
            np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6, atol=1e-6, equal_nan=True)
