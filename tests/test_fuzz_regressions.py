"""Programs the differential fuzzer found compiled code getting wrong (a 5,000-program
campaign of this session), shrunk, each run on both backends against eager.

* a random draw whose value is unused was removed by dead-code elimination, so the
  draws after it got other numbers than eagerly (random ops are effectful now);
* a write through ``x.detach()`` cut ``x``'s gradient path in the trace (it is a
  ``rebind`` now, as a no_grad write);
* ``m[-1, -1:] = x`` with ``x`` of shape [1, 1] into a [1] slice crashed the trace;
* a binary_cross_entropy whose value is unused lost its input check (a check raises
  even when unused, as eagerly).
"""

from __future__ import annotations

import numpy as np
import pytest

import irgrad as torch
import irgrad.nn.functional as F
from irgrad.testing import check_compiled


def unused_random_draw(x0, x1, x2, i3, i4, x5, x6, x7):
    v0 = i3 % 3
    v1 = x2.index_select(-2, i4)
    v2 = torch.addcdiv(x1, x5, x5.abs() + 1)
    v4 = v2.repeat(3, 3)[2, -6]
    v6 = x6 + torch.randn_like(x6)  # noqa: F841  (unused: the draw must still happen)
    v8 = torch.rand_like(v1) * v1
    return (v8, v0, v4)


RANDOM_CALL = [
    np.array([0.16149148, -1.2520552], dtype=np.float32),
    np.array(0.0, dtype=np.float32),
    np.arange(10, dtype=np.float64).reshape(5, 1, 2) / 7,
    np.array([[2, 2], [4, 4], [4, 2]], dtype=np.int64),
    np.array([0], dtype=np.int64),
    np.array([0.23992272, 0.004013161], dtype=np.float32),
    np.array(-5.0643563, dtype=np.float32),
    np.array([0.0], dtype=np.float64),
]


def write_through_detach(x0, x1):
    v0 = x0.detach()
    v0[-1, :, 2:] = 0.0
    v1 = x0[-1, 1:-3, None]
    return torch.sqrt(v1 * v1 + x1 * x1)


def assign_with_extra_leading_dims(m0, x1):
    m0[-1, -1:] = x1
    return x1


def unused_checked_loss(x0, x1):
    F.binary_cross_entropy(x0, x1)  # raises for an input outside [0, 1], used or not
    return x1 * 2


@pytest.mark.parametrize("backend", ["numpy", "llvm"])
def test_an_unused_random_draw_still_advances_the_generator(backend):
    check_compiled(unused_random_draw, [RANDOM_CALL, RANDOM_CALL], backend=backend, train=False, seed=25779)


@pytest.mark.parametrize("backend", ["numpy", "llvm"])
def test_a_write_through_a_detached_alias_keeps_the_gradient_path(backend):
    call = [np.array([[[[0.5]]]], dtype=np.float32), np.array(0.25, dtype=np.float32)]
    check_compiled(write_through_detach, [call, call], backend=backend, train=True, seed=18395)


@pytest.mark.parametrize("backend", ["numpy", "llvm"])
def test_an_assignment_drops_leading_size_one_dims(backend):
    call = [np.array([[False, True]]), np.array([[1.5]], dtype=np.float32)]
    check_compiled(assign_with_extra_leading_dims, [call, call], backend=backend, train=False, seed=43081)


@pytest.mark.parametrize("backend", ["numpy", "llvm"])
def test_an_unused_check_still_raises(backend):
    compiled = torch.compile(unused_checked_loss, backend=backend)
    good = [torch.full((3,), 0.5), torch.full((3,), 0.25)]
    np.testing.assert_array_equal(compiled(*good).numpy(), [0.5, 0.5, 0.5])
    with pytest.raises(RuntimeError, match="between 0 and 1"):
        compiled(torch.tensor([0.5, 1.5, 0.2]), good[1])


@pytest.mark.parametrize("backend", ["numpy", "llvm"])
def test_an_unused_integer_division_by_zero_still_raises(backend):
    def f(i, j, x):
        _ = i % j  # unused, as in the fuzzer's program: the zero divisor must still raise
        return x * 2

    compiled = torch.compile(f, backend=backend)
    np.testing.assert_array_equal(
        compiled(torch.tensor([3, 4]), torch.tensor([2, 1]), torch.ones(2)).numpy(), [2, 2]
    )
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        compiled(torch.tensor([3, 4]), torch.tensor([0, 1]), torch.ones(2))


def test_a_one_element_value_assigns_to_a_scalar_slot_eagerly(compare):
    """``x[-1] = v`` with ``v`` of shape [1]: PyTorch accepts it (eager irgrad raised)."""

    def fn(lib, x, v):
        y = x.clone()
        y[-1] = v
        y[0, -1:] = v[None] * 2
        z = x[0].clone()
        z[-1] = v * 3  # a [1] value into a 0-d slot
        return y, z

    compare(fn, np.zeros((2, 3), np.float32), np.array([5.0], np.float32))


def marked_input_unused(x0, i1, x2, i3, x4, x5):
    v0 = x5[i1]
    v1 = F.rms_norm(v0, (2,), x2)
    v2 = F.leaky_relu(v1)
    v3 = torch.scatter_add(v2, 0, i3, x4)
    return v3


M_CALL_0 = [
    np.array([[0.52999276, 0.1517584, -0.4045484], [0.81786054, -0.13304119, -0.56438506]], dtype=np.float32),
    np.array(0, dtype=np.int64),
    np.array([0.6142459, -0.27178073], dtype=np.float32),
    np.array([1], dtype=np.int64),
    np.array([-0.21903196], dtype=np.float32),
    np.array([[0.18838455, 0.61782116], [0.5243252, 0.60965437]], dtype=np.float32),
]
M_CALL_1 = [
    np.array(
        [
            [0.96493167, -0.60917866, -0.21126527],
            [-0.2967478, -0.1339921, -0.32064974],
            [-0.6916787, 0.3801177, 0.006806791],
        ],
        dtype=np.float32,
    ),
    np.array(0, dtype=np.int64),
    np.array([-0.50623715, 0.15790255], dtype=np.float32),
    np.array([0], dtype=np.int64),
    np.array([-2.1954408], dtype=np.float32),
    np.array([[0.23186788, 0.13377039], [0.027628358, 0.640224]], dtype=np.float32),
]
MARK_CALLS = [M_CALL_0, M_CALL_1]


@pytest.mark.parametrize("backend", ["numpy", "llvm"])
def test_a_graph_that_cannot_be_built_at_another_size_runs_per_size(backend):
    """mark_dynamic on an unused input: the probe at another size traced but its gradient
    graph could not be built (the program is only valid at the sizes it runs at); that
    is a reason to keep one graph per size, not a crash."""
    check_compiled(marked_input_unused, MARK_CALLS, backend=backend, train=True, mark_dynamic=[0], seed=32225)


# --- found running whole graphs as native programs (seed 2029, 400 programs) -------------------------


def zero_d_results(x0, i1, x2):
    v0 = F.nll_loss(F.log_softmax(x0, dim=1), i1)
    return torch.ones_like(x2), -v0, torch.div(i1.sum(), 3, rounding_mode="floor")


@pytest.mark.parametrize("backend", ["numpy", "llvm"])
def test_zero_d_constants_and_results_keep_their_shape(backend):
    """``np.ascontiguousarray`` turns a 0-d array into a 1-d one: a 0-d constant kept that
    way was returned as shape [1], and broadcast a 0-d integer division to [1]."""
    call = [np.zeros((2, 1), dtype=np.float32), np.array([0, 0]), np.array(0.0, dtype=np.float32)]
    check_compiled(zero_d_results, [call, call], backend=backend, train=False, seed=26202)


@pytest.mark.parametrize("backend", ["numpy", "llvm"])
def test_the_gradient_of_a_cat_of_empty_tensors(backend):
    """Slices of an empty gradient start past the end of its (empty) buffer."""
    call = [np.zeros((0, 1, 2, 2)), np.zeros((0, 1, 2, 2))]
    check_compiled(
        lambda x0, x1: torch.concat((x1, x0), -3), [call, call], backend=backend, train=True, seed=51144
    )
