"""Float32 sums over many rows stay accurate, eager and compiled alike (a column sum
accumulates in float64; a sum along the last dim is numpy's pairwise tree).  Known
values: no torch needed."""

from __future__ import annotations

import numpy as np
import pytest

import irgrad


@pytest.mark.parametrize("backend", ["eager", "llvm", "numpy"])
@pytest.mark.parametrize("shape, dim", [((1 << 20, 2), 0), ((2, 1 << 20), 1), ((1 << 10, 1 << 10), 0)])
def test_a_float32_sum_of_a_million_tenths_is_exact_to_rounding(backend, shape, dim):
    x = irgrad.full(shape, 0.1)
    f = (
        (lambda t: t.sum(dim))
        if backend == "eager"
        else irgrad.compile(lambda t: t.sum(dim), backend=backend)
    )
    for _ in range(2):
        got = f(x).numpy()
    exact = shape[dim] * float(np.float32(0.1))
    np.testing.assert_allclose(got, exact, rtol=1e-6)
    np.testing.assert_allclose(x.mean(dim).numpy(), float(np.float32(0.1)), rtol=1e-6)


def test_a_compiled_column_sum_equals_eager_bit_for_bit():
    rng = np.random.default_rng(0)
    y = irgrad.tensor(rng.standard_normal((3000, 40)).astype(np.float32))
    compiled = irgrad.compile(lambda t: (t * 2).sum(0))
    for _ in range(2):
        got = compiled(y)
    np.testing.assert_array_equal(got.numpy(), (y * 2).sum(0).numpy())


@pytest.mark.parametrize("backend", ["eager", "llvm", "numpy"])
@pytest.mark.parametrize(
    "shape, dims",
    [
        ((1 << 20, 3, 1, 1), (0, 2, 3)),  # BatchNorm's sum over 1x1 maps: all rows
        ((4096, 3, 16, 16), (0, 2, 3)),  # over the batch and each map
        ((1000, 3, 1000), (0, 2)),
        ((1 << 20, 1), (0,)),
        ((1000, 1000, 2), (0, 1)),
    ],
)
def test_a_float32_sum_over_outer_and_inner_dims_is_exact_to_rounding(backend, shape, dims):
    """Rows outside the run of reduced dims at the end are added in float64, the run by
    numpy's pairwise tree: within a few ulps of the float64 sum, as PyTorch's cascade."""
    x = irgrad.tensor(np.random.default_rng(0).random(shape, dtype=np.float32) + 0.5)
    f = (
        (lambda t: t.sum(dims))
        if backend == "eager"
        else irgrad.compile(lambda t: t.sum(dims), backend=backend)
    )
    for _ in range(2):
        got = f(x).numpy()
    exact = x.numpy().astype(np.float64).sum(dims)
    np.testing.assert_allclose(got, exact, rtol=4e-7)
    np.testing.assert_allclose(x.mean(dims).numpy(), exact / (x.numel() // exact.size), rtol=4e-7)


@pytest.mark.parametrize("backend", ["eager", "llvm", "numpy"])
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_a_running_sum_accumulates_in_a_wider_type(backend, dtype):
    """A running sum adds float32 in float64 and float16 in float32 (PyTorch's CPU
    accumulation types), rounding each element once: a million float32 tenths in float32
    drifted by 1%."""
    n = 1 << 20 if dtype != np.float16 else 1 << 12
    x = irgrad.full((n,), 0.1, dtype=getattr(irgrad, np.dtype(dtype).name))
    f = (
        (lambda t: t.cumsum(0))
        if backend == "eager"
        else irgrad.compile(lambda t: t.cumsum(0), backend=backend)
    )
    for _ in range(2):
        got = f(x).numpy()
    wide = np.float32 if dtype == np.float16 else np.float64
    np.testing.assert_array_equal(got, np.cumsum(x.numpy(), dtype=wide).astype(dtype))


@pytest.mark.parametrize("op", ["cumsum", "cumprod"])
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.int32])
@pytest.mark.parametrize("shape, dim", [((4096,), 0), ((100, 30), 0), ((7, 5, 9), 1)])
def test_running_sums_and_products_equal_pytorchs_bit_for_bit(op, dtype, shape, dim):
    torch = pytest.importorskip("torch")
    x = (np.random.default_rng(0).standard_normal(shape) * (1.2 if op == "cumprod" else 3)).astype(dtype)
    want = getattr(torch.from_numpy(x), op)(dim).numpy()
    eager = getattr(irgrad.tensor(x), op)(dim)
    compiled = irgrad.compile(lambda t: getattr(t, op)(dim))
    for _ in range(2):
        got = compiled(irgrad.tensor(x))
    np.testing.assert_array_equal(eager.numpy(), want)
    np.testing.assert_array_equal(got.numpy(), want)


@pytest.mark.parametrize("backend", ["eager", "llvm", "numpy"])
@pytest.mark.parametrize("shape", [(1 << 17, 8), (1 << 14, 8, 8)])  # rows (native kernel); spatial (numpy's)
def test_a_mean_loss_over_many_rows_is_exact_to_rounding(backend, shape):
    """nll_loss adds its picked values in float64: in float32, the mean cross-entropy of
    131,072 rows was off by 4e-6 of itself."""
    F = irgrad.nn.functional
    rng = np.random.default_rng(0)
    logits = irgrad.tensor(rng.standard_normal(shape).astype(np.float32))
    target = irgrad.tensor(rng.integers(0, shape[1], (shape[0], *shape[2:])))
    f = F.cross_entropy if backend == "eager" else irgrad.compile(F.cross_entropy, backend=backend)
    for _ in range(2):
        got = float(f(logits, target))
    exact = float(F.cross_entropy(logits.double(), target))
    assert abs(got - exact) <= 2e-7 * abs(exact)
