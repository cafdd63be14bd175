"""The regularized incomplete gamma functions ``torch.igamma`` / ``special.gammainc`` and
``torch.igammac`` / ``special.gammaincc`` (and their Tensor methods and in-place forms).

Against PyTorch 2.13 (skipped without it): values over every method's regime (the power
series, the continued fraction, Temme's expansion for large ``a`` near ``x``, small and
huge operands) and the boundary values (zeros, infinities, NaN, negative operands) in
float32 and float64, promotion and broadcasting, float64 gradients of ``x`` through
``torch.autograd``, and the errors (the gradient of ``a``, integral operands, a Python
number).  Without PyTorch: finite differences and compiled (llvm, train) against eager.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import run_both

import irgrad
from irgrad.autograd import gradcheck, gradgradcheck
from irgrad.testing import check_compiled

rng = np.random.default_rng(7)
NAMES = ["igamma", "igammac"]


def grid() -> tuple[np.ndarray, np.ndarray]:
    """(a, x) pairs covering each method's regime and the boundaries."""
    a = [
        rng.uniform(0, 5, 200),
        rng.uniform(0, 60, 200),
        rng.uniform(100, 1000, 100),
        10 ** rng.uniform(-4, 5, 200),
    ]
    x = [rng.uniform(0, 8, 200), rng.uniform(0, 80, 200), rng.uniform(50, 1200, 100)]
    x.append(a[3] * rng.uniform(0.7, 1.3, 200))  # a ~ x: Temme's expansion
    edges_a = [0.0, 0.0, 1.0, np.inf, np.inf, 2.0, -1.0, 2.0, np.nan, 0.0, 3.0, 1e-300, 1e300, 0.5, 25.0]
    edges_x = [0.0, 1.0, 0.0, 1.0, np.inf, np.inf, 1.0, -1.0, 1.0, np.inf, np.nan, 1.0, 1e300, 1e-300, 25.0]
    return np.concatenate(a + [edges_a]), np.concatenate(x + [edges_x])


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_values_match_torch(name, dtype):
    torch = pytest.importorskip("torch")
    a, x = (v.astype(dtype) for v in grid())
    ours = getattr(irgrad, name)(irgrad.tensor(a), irgrad.tensor(x)).numpy()
    theirs = getattr(torch, name)(torch.tensor(a), torch.tensor(x)).numpy()
    assert ours.dtype == theirs.dtype
    if dtype == np.float64:
        # the same algorithm; its exp(a log x - x - lgamma(a)) of large arguments amplifies
        # lgamma's last-bit differences
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-300, equal_nan=True)
        return
    # float32: irgrad rounds its float64 result once (PyTorch computes in float32, losing
    # up to 5e-4 of itself in the far tails): probabilities within float32 rounding of
    # PyTorch's, and its float64 result rounded
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=3e-7, equal_nan=True)
    exact = getattr(torch, name)(torch.tensor(a, dtype=torch.float64), torch.tensor(x, dtype=torch.float64))
    np.testing.assert_allclose(ours, exact.numpy().astype(np.float32), rtol=3e-7, atol=1e-37, equal_nan=True)


@pytest.mark.parametrize("name", NAMES)
def test_gradient_of_x_matches_torch(name):
    a = np.concatenate([rng.uniform(0.2, 5, 20), rng.uniform(20, 60, 10)])
    x = np.concatenate([rng.uniform(0.1, 8, 20), rng.uniform(15, 70, 10)])
    run_both(lambda lib, x, a=a: getattr(lib, name)(lib.tensor(a), x), x, atol=1e-12, rtol=1e-9)


def test_aliases_methods_promotion_and_broadcasting():
    a = np.array([[0.5], [3.0]])
    run_both(lambda lib, x: lib.special.gammainc(lib.tensor(a), x), np.array([0.5, 2.0, 9.0]))
    run_both(
        lambda lib, a, x: lib.special.gammaincc(a, x), np.array(2.0), np.array([0.5, 2.0, 9.0]), grad=False
    )
    run_both(lambda lib, a, x: a.igamma(x), np.array([1.0, 2.0], np.float32), np.array([1, 3]), grad=False)
    run_both(
        lambda lib, a, x: a.igammac(x), np.array([1.0, 2.0], np.float32), np.array([1.0, 3.0]), grad=False
    )
    run_both(
        lambda lib, a, x: lib.igamma(a, x),
        np.array([1.5], np.float16),
        np.array([1.0], np.float16),
        grad=False,
    )

    def in_place(name):
        def call(lib, a, x):
            b = a.clone()
            getattr(b, name)(x)
            return b

        return call

    for name in ("igamma_", "igammac_"):
        run_both(in_place(name), np.array([1.0, 2.0, 30.0]), np.array([0.5, 2.0, 28.0]), grad=False)


@pytest.mark.parametrize("name", NAMES)
def test_errors_match_torch(name):
    torch = pytest.importorskip("torch")
    for lib in (irgrad, torch):
        a = lib.tensor([2.0, 3.0], requires_grad=True)
        x = lib.tensor([1.0, 4.0], requires_grad=True)
        with pytest.raises(
            NotImplementedError, match=f"the derivative for '{name}: input' is not implemented."
        ):
            getattr(lib, name)(a, x).sum().backward()
        with pytest.raises(NotImplementedError, match=f"\"{name}_cpu\" not implemented for 'Long'"):
            getattr(lib, name)(lib.tensor([1, 2]), lib.tensor([1, 2]))
        with pytest.raises(TypeError, match="argument 'other' \\(position 2\\) must be Tensor, not float"):
            getattr(lib, name)(lib.tensor([1.0]), 2.0)


# --- without PyTorch --------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_finite_differences(name):
    a = irgrad.tensor(np.array([0.5, 2.0, 7.0, 30.0, 250.0]))
    x = irgrad.tensor(np.array([0.3, 3.0, 6.0, 33.0, 240.0]), requires_grad=True)
    fn = getattr(irgrad, name)
    assert gradcheck(lambda x: fn(a, x), (x,))
    assert gradgradcheck(lambda x: fn(a, x), (x,))


def test_compiled_matches_eager():
    a = irgrad.tensor(np.array([[0.5, 2.0, 25.0]]))

    def f(x):
        return irgrad.igamma(a, x.abs() + 0.1) * irgrad.special.gammaincc(a, x * x + 1.0)

    check_compiled(f, [[rng.uniform(-30, 30, (4, 3))]], backend="llvm", train=True)
