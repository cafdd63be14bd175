"""0-d and empty inputs of the running and normalising reductions, and ``copy_``'s
autograd, against PyTorch (found by the differential fuzzer)."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.mark.parametrize("shape", [(), (0, 3), (3, 0), (4,)])
@pytest.mark.parametrize("name", ["softmax", "log_softmax", "softmin", "cumsum"])
def test_zero_d_and_empty_inputs(compare, name, shape):
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)

    def fn(lib, t):
        if name == "cumsum":
            return t.cumsum(0)
        return getattr(lib.nn.functional, name)(t, dim=0)

    compare(fn, x)


def test_copy_into_a_computed_tensor_sends_the_gradient_to_the_source(compare):
    a, b, c = (np.random.default_rng(k).standard_normal((2, 3)).astype(np.float64) for k in range(3))

    def fn(lib, a, b, c):
        v = a + b
        v.copy_(c)
        return v * 2

    compare(fn, a, b, c)


def test_copy_from_a_leaf_gives_the_target_a_grad_fn():
    import irgrad

    src = irgrad.ones(3, requires_grad=True)
    target = irgrad.zeros(3)
    target.copy_(src)
    assert target.grad_fn is not None and not target.is_leaf
    (target * 3).sum().backward()
    np.testing.assert_array_equal(src.grad.numpy(), [3.0, 3.0, 3.0])
