"""irgrad.special against torch.special 2.13: ndtr, log_ndtr, erfcx, entr, xlog1py over
their tails and special values, gradients, and the names shared with irgrad's own ops."""

from __future__ import annotations

import math

import numpy as np
import pytest

import irgrad
import irgrad.special as special

SPECIAL = np.array(
    [-np.inf, -30.0, -10.0, -1.5, -1.0, -0.5, -0.0, 0.0, 0.5, 1.0, 3.0, 8.0, 30.0, np.inf, np.nan]
)
SPREAD = np.linspace(-38.0, 38.0, 3001)


@pytest.mark.parametrize("name", ["ndtr", "log_ndtr", "erfcx", "entr"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_unary_special_functions_match_torch(compare, name, dtype):
    compare(lambda L, x: getattr(L.special, name)(x), SPECIAL.astype(dtype), grad=False)
    # (float32 erfcx: PyTorch's exp(x^2) rounds x^2 in float32 first, 5e-6 off near -9)
    rtol = (1e-5 if name == "erfcx" else 2e-6) if dtype == np.float32 else 1e-10
    # (ndtr's lower tail: PyTorch's (1 + erf) / 2 loses it; irgrad's is checked below)
    spread = SPREAD[SPREAD > -1.0] if name == "ndtr" else SPREAD
    compare(lambda L, x: getattr(L.special, name)(x), spread.astype(dtype), grad=False, rtol=rtol, atol=0)


def test_ndtr_keeps_the_lower_tail():
    x = np.linspace(-37.0, 0.0, 371)
    exact = np.array([0.5 * math.erfc(-v / math.sqrt(2)) for v in x])
    np.testing.assert_allclose(special.ndtr(irgrad.tensor(x)).numpy(), exact, rtol=1e-11, atol=0)
    single = x[x > -13].astype(np.float32)
    exact_single = np.array([0.5 * math.erfc(-float(v) / math.sqrt(2)) for v in single])
    # (x / sqrt 2 rounds to float32 first, as in PyTorch: a relative error of 2 z^2 ulps)
    np.testing.assert_allclose(special.ndtr(irgrad.tensor(single)).numpy(), exact_single, rtol=2e-5, atol=0)


@pytest.mark.parametrize("name", ["ndtr", "log_ndtr", "erfcx", "entr"])
def test_unary_special_gradients_match_torch(compare, name):
    x = np.random.default_rng(0).uniform(0.1, 4.0, 20) * np.where(np.arange(20) % 2, 1, -1)
    x = np.abs(x) if name == "entr" else x
    compare(lambda L, t: getattr(L.special, name)(t), x.astype(np.float32), rtol=1e-4)
    compare(lambda L, t: getattr(L.special, name)(t), x.astype(np.float64), rtol=1e-9)


def test_erfcx_gradient_where_it_overflows_matches_torch(compare):
    # (exp(x^2) is inf and exp(-x^2) 0 below -27.3: the gradient is -inf, not inf * 0)
    x = np.array([-40.0, -30.0, -27.0, -8.0, -6.5, -6.0, -5.9])
    compare(lambda L, t: L.special.erfcx(t), x, rtol=1e-9)
    compare(lambda L, t: L.special.erfcx(t), x.astype(np.float32), rtol=1e-5)


def test_integer_inputs_give_floats_as_torch(compare):
    for name in ("ndtr", "log_ndtr", "erfcx", "entr", "expit", "erfc"):
        compare(lambda L, t, name=name: getattr(L.special, name)(t), np.array([-2, 0, 1, 3]))


def test_xlog1py_matches_torch(compare):
    x = np.array([0.0, 0.0, 0.0, 1.0, -2.0, 0.5, np.nan], np.float32)
    y = np.array([-1.0, np.nan, 2.0, 2.0, -0.5, np.inf, 1.0], np.float32)
    compare(lambda L, a, b: L.special.xlog1py(a, b), x, y, grad=False)
    compare(lambda L, a, b: L.special.xlog1py(a, b), x[2:6], np.abs(y[2:6]).clip(0, 5))
    compare(lambda L, b: L.special.xlog1py(3, b), np.array([0.5, 2.0], np.float32))


def test_shared_names_are_irgrads_own_ops(compare):
    x = np.random.default_rng(1).standard_normal((3, 4)).astype(np.float32)
    for fn in (
        lambda L, t: L.special.expit(t),
        lambda L, t: L.special.logit(t.sigmoid(), eps=1e-3),
        lambda L, t: L.special.erf(t) + L.special.erfc(t),
        lambda L, t: L.special.exp2(t) * L.special.expm1(t) + L.special.log1p(t.abs()),
        lambda L, t: L.special.sinc(t) + L.special.round(t * 3),
        lambda L, t: L.special.logsumexp(t, 1),
        lambda L, t: L.special.softmax(t, 0) + L.special.log_softmax(t, 1),
        lambda L, t: L.special.xlogy(t.abs(), t.abs()),
    ):
        compare(fn, x)


@pytest.mark.parametrize("n", [1.0, True])
def test_polygamma_order_must_be_an_int(n):
    torch = pytest.importorskip("torch")
    for L in (irgrad, torch):
        with pytest.raises(TypeError, match="must be int"):
            L.special.polygamma(n, L.tensor([1.0]))


def test_gamma_family_names_match_torch(compare):
    x = np.random.default_rng(2).uniform(0.6, 4.0, (3, 4))
    compare(lambda L, t: L.special.gammaln(t) + L.special.psi(t) * L.special.digamma(t), x)
    compare(lambda L, t: L.special.polygamma(1, t), x)
    compare(lambda L, t: L.special.multigammaln(t + 1, 2), x)
    compare(lambda L, t: L.special.erfinv(t / 5), x)
    # at or below (p - 1) / 2 too: PyTorch 2.13 computes it there
    compare(lambda L, t: L.special.multigammaln(t - 0.45, 3), x)


def test_gradients_match_finite_differences():
    x = irgrad.tensor(np.linspace(-5.0, 5.0, 11), requires_grad=True)
    assert irgrad.autograd.gradcheck(lambda t: special.ndtr(t) + special.log_ndtr(t), (x,))
    assert irgrad.autograd.gradcheck(lambda t: special.erfcx(t), (x,))
    assert irgrad.autograd.gradcheck(lambda t: special.erfcx(t), (x - 3,))
    assert irgrad.autograd.gradcheck(lambda t: special.entr(t.abs() + 0.1), (x,))


def test_compiled_special_functions_match_eager(backend):
    def fn(x):
        return special.ndtr(x), special.log_ndtr(x * 10), special.erfcx(x * 4), special.entr(x.abs())

    compiled = irgrad.compile(fn, backend=backend)
    for seed in range(3):
        x = irgrad.tensor(np.random.default_rng(seed).standard_normal(16).astype(np.float32))
        for got, want in zip(compiled(x), fn(x)):
            np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-5, atol=1e-7)
