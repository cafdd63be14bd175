"""A symbolic graph (``dynamic=True``) is trusted only at sizes where it is the program.

It is made from traces at three sizes, which cannot see Python branching on a size
(``if len(x) < 8``, ``x[:min(L, 16)]``, a constant slice bound): used beyond them it
would compute another program, or read past a buffer.  The first call at a new size is
traced (it runs eagerly) and compared with the symbolic graph at that size; sizes where
they differ get a graph of their own (symbolic again where it can be)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import irgrad
import irgrad.nn.functional as F

POS = irgrad.arange(16).float()


def _branch(x):
    return x * 2 if x.shape[0] < 8 else x * 3


def _constant_bound(x):
    return x[:8] * 2


def _truncated(x):
    length = min(x.shape[0], 16)
    return x[:length] + POS[:length].reshape(-1, 1)


def _padded(x):
    return F.pad(x, (0, 0, 0, 8 - len(x))) if len(x) < 8 else x[:8] + 0


@pytest.mark.parametrize("fn", [_branch, _constant_bound, _truncated, _padded])
def test_a_symbolic_graph_serves_only_sizes_where_it_is_the_program(fn):
    compiled = irgrad.compile(fn, dynamic=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for n in (2, 3, 4, 5, 9, 12, 20, 40, 3, 12, 6, 40):
            x = irgrad.arange(2.0 * n).reshape(n, 2)
            want, got = fn(x), compiled(x)
            assert got.shape == want.shape
            np.testing.assert_array_equal(got.numpy(), want.numpy())
    # the sizes below and above the branch each have a symbolic graph, not one per size
    assert len(compiled._compiled.entries) <= 3
    assert sum(e.runs for e in compiled._compiled.entries) >= 2


# --- sizes as values (found by a probe of the size_scalar and full generalisation) ----------


def _clamped_size(x):
    return x * irgrad.tensor(float(x.shape[0])).clamp(max=8.0)


def _quarter_size(x):
    return x * (irgrad.tensor(x.shape[0]) // 4)


@pytest.mark.parametrize("function", [_clamped_size, _quarter_size])
def test_an_op_of_a_size_is_not_taken_for_a_size(function):
    """A trace's constant that is a size, fed to an op of constants, is folded by the
    passes at each probe: ``clamp(B, max=8)`` is 5, 6, 7 there (it looks like ``B``) and
    ``B // 4`` 2, 2, 2 (it looks like a constant).  Such a graph keeps a graph per size."""
    compiled = irgrad.compile(function, dynamic=True, backend="llvm")
    for batch in (5, 6, 7, 8, 12, 12, 20, 20):
        x = irgrad.ones(batch, 2)
        np.testing.assert_array_equal(compiled(x).numpy(), function(x).numpy())


def test_a_returned_size_is_the_calls_own():
    """Python numbers in the returned structure (a batch size to weight a running loss)
    differ between sizes: they are the call's own, not the base size's; and a returned
    ``x.shape`` (an irgrad.Size) is rebuilt as one."""

    def step(x):
        return (x * 2).sum(), x.shape[0], x.shape

    compiled = irgrad.compile(step, dynamic=True, backend="llvm")
    for batch in (6, 7, 9, 9, 12, 12, 7):
        x = irgrad.ones(batch, 3)
        total, count, shape = compiled(x)
        assert (count, shape) == (batch, x.shape) and type(shape) is type(x.shape)
        assert total.item() == 6.0 * batch


def _vanishing_at_the_probes(x):
    t = irgrad.tensor(float(x.shape[0]))
    return x * ((t - 5.0) * (t - 6.0) * (t - 7.0))


def test_a_folded_size_is_checked_at_each_new_size():
    """What the passes make of the trace (folded constants) is compared at each new size
    too: (B-5)(B-6)(B-7) folds to 0 at the probes 5, 6, 7, and to 60 at 10."""
    compiled = irgrad.compile(_vanishing_at_the_probes, dynamic=True, backend="llvm")
    for batch in (5, 6, 7, 10, 10, 12, 12):
        x = irgrad.ones(batch, 2)
        np.testing.assert_array_equal(compiled(x).numpy(), _vanishing_at_the_probes(x).numpy())


def _negated_distance(x):
    return x * -(float(x.shape[0]) - 6.0)


def test_a_signed_zero_is_not_a_size():
    """-(B - 6) is -0.0 at 6: a size would give +0.0 there (and constants are compared
    with the signs of their zeros)."""
    compiled = irgrad.compile(_negated_distance, dynamic=True, backend="llvm")
    for batch in (4, 5, 6, 6, 7, 6):
        x = irgrad.ones(batch, 3)
        got, expected = compiled(x).numpy(), _negated_distance(x).numpy()
        np.testing.assert_array_equal(got, expected)
        np.testing.assert_array_equal(np.signbit(got), np.signbit(expected))
