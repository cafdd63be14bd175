"""The modified Bessel functions ``i0``, ``i0e``, ``i1``, ``i1e`` (``torch.i0``,
``torch.special.*``, ``Tensor.i0``, ``Tensor.i0_``).

Against PyTorch 2.13 (skipped without it): values over a wide range (tiny, large,
negative, signed zeros, both Chebyshev ranges and their seam at 8, overflow, +-inf and
NaN) in float32 and float64, dtypes of integer and float16 operands, and float64
gradients through ``torch.autograd`` (including the limit 1/2 of ``i1'`` and ``i1e'`` at
0).  Without PyTorch: finite differences (first and second order) and compiled (llvm,
train) against eager.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import run_both

import irgrad
from irgrad.autograd import gradcheck, gradgradcheck
from irgrad.testing import check_compiled

NAMES = ["i0", "i0e", "i1", "i1e"]
rng = np.random.default_rng(3)
EDGES = [0.0, -0.0, 1e-30, -1e-30, 1e-8, 0.5, -1.0, 7.999, 8.0, 8.001, -20.0, 50.0, 88.5, 89.0, 100.0]
EDGES += [700.0, 720.0, -720.0, np.inf, -np.inf, np.nan]
VALUES = np.concatenate([np.array(EDGES), rng.uniform(-30, 30, 200), rng.standard_normal(50) * 1e-3])


def fn(name):
    return lambda lib, x: getattr(lib.special, name)(x)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_values_match_torch(name, dtype):
    torch = pytest.importorskip("torch")
    x = VALUES.astype(dtype)
    ours = getattr(irgrad.special, name)(irgrad.tensor(x)).numpy()
    theirs = getattr(torch.special, name)(torch.tensor(x)).numpy()
    assert ours.dtype == theirs.dtype
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs))
    np.testing.assert_array_equal(np.signbit(ours), np.signbit(theirs))
    # the same Clenshaw sums, rounded differently (PyTorch's vectorized kernels, and for
    # float32 its shorter i1 series): up to 15 ulps apart (4e-15 relative in float64)
    ulps = 16
    finite = np.isfinite(theirs)
    np.testing.assert_array_equal(ours[~finite], theirs[~finite])
    error = np.abs(ours[finite].astype(np.float64) - theirs[finite])
    assert (error <= ulps * np.spacing(np.abs(theirs[finite]))).all(), name


@pytest.mark.parametrize("name", NAMES)
def test_gradients_match_torch(name):
    x = np.concatenate([[0.0, -0.0, 1e-20], rng.uniform(-15, 15, 40)])
    run_both(fn(name), x, atol=1e-12, rtol=1e-10)


def test_dtypes_methods_and_in_place():
    run_both(lambda lib, x: lib.i0(x), np.array([1, -2, 3]), grad=False)
    run_both(lambda lib, x: lib.special.i1(x), np.array([True, False]), grad=False)
    run_both(lambda lib, x: lib.special.i1e(x), np.array([0.5, -3.0, 9.0], np.float16), grad=False, rtol=1e-3)
    run_both(lambda lib, x: x.i0(), VALUES[:12], grad=False, atol=0, rtol=1e-14)

    def in_place(lib, x):
        y = x.clone()
        y.i0_()
        return y

    run_both(in_place, VALUES[:12], grad=False, atol=0, rtol=1e-14)
    run_both(lambda lib, x: lib.i0(x, out=lib.empty(3)), np.array([1.0, 2.0, 3.0]), grad=False)


# --- without PyTorch --------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_finite_differences(name):
    f = getattr(irgrad.special, name)
    x = irgrad.tensor(rng.uniform(-12, 12, (2, 5)), requires_grad=True)
    assert gradcheck(f, (x,))
    assert gradgradcheck(f, (x,))


def test_compiled_matches_eager():
    def f(x):
        return (
            irgrad.special.i0(x) * irgrad.special.i1e(x) + irgrad.special.i1(x).tanh() - irgrad.special.i0e(x)
        )

    check_compiled(
        f, [[rng.uniform(-12, 12, (3, 4))], [np.array([0.0, -0.0, 8.0, 30.0])]], backend="llvm", train=True
    )
