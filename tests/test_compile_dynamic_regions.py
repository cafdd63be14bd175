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
