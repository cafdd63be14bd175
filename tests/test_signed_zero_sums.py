"""Sums of -0.0 values are +0.0, as PyTorch's are (its sums start from +0.0): in eager
code, in a running sum, and in native code at every length of numpy's pairwise
algorithm's paths (fewer than 8 values, up to 128, split halves, float32 blocks)."""

import math

import numpy as np
import pytest

import irgrad


def _sign(value) -> float:
    return math.copysign(1.0, float(value))


@pytest.mark.parametrize("n", [1, 5, 8, 9, 127, 128, 129, 1000, 5000])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_compiled_sum_of_negative_zeros_is_positive_zero(n, dtype):
    x = irgrad.tensor(np.ones(n, dtype))
    for function in (lambda a: (a * -0.0).sum(), lambda a: (a * -0.0).reshape(1, n).sum(1)[0]):
        compiled = irgrad.compile(function, backend="llvm")
        results = [compiled(x) for _ in range(3)]  # the first call is traced, the others run the graph
        assert _sign(function(x).item()) == 1.0
        assert all(_sign(r.item()) == 1.0 for r in results)


def test_a_running_sum_starts_from_positive_zero():
    """numpy's cumsum keeps a leading -0.0; PyTorch's (and irgrad's) gives +0.0, and the
    rest is unchanged."""
    x = irgrad.tensor(np.array([-0.0, -0.0, 1.5, -0.0], np.float32))
    for result in (x.cumsum(0), irgrad.compile(lambda a: a.cumsum(0), backend="llvm")(x)):
        np.testing.assert_array_equal(result.numpy(), [0.0, 0.0, 1.5, 1.5])
        assert [_sign(v) for v in result.numpy()] == [1.0, 1.0, 1.0, 1.0]
    integers = irgrad.tensor(np.array([3, -4, 5]))
    np.testing.assert_array_equal(integers.cumsum(0).numpy(), [3, -1, 4])
