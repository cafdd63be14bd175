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
