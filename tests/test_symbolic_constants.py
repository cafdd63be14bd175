"""Constants that follow the sizes of a dynamic graph (``ir.symbolic.generalize``): each
probe's trace holds a constant of its own, and the symbolic graph a node that computes it
from the sizes, giving back every probe's constant bit for bit (``specialize``)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from irgrad.dtypes import from_numpy_dtype
from irgrad.ir import Graph, TensorType
from irgrad.ir.symbolic import generalize, specialize

BASE = 5  # the probes: B = 5, 6 and 7 (one symbol: base, base + 1, base + 2)


def _graph(value: np.ndarray) -> Graph:
    g = Graph("probe")
    c = g.add_constant(value)
    g.set_outputs([g.add_op("neg", [c], {}, TensorType(value.shape, from_numpy_dtype(value.dtype)))])
    return g


def _generalized(make) -> Graph | None:
    return generalize([_graph(make(BASE + k)) for k in range(3)], ["B"], [BASE])


def _constant_at(graph: Graph, size: int) -> np.ndarray:
    static = specialize(graph, {"B": size})
    (value,) = [static.node(n).value for n in static.order() if static.node(n).value is not None]
    return value


def _assert_one_node_gives_every_constant(make, op: str, dtype, sizes=(2, 9, 40)) -> None:
    """The probes' constants ``make(size)`` generalize to one ``op`` node, which gives
    ``make``'s constant back bit for bit (signed zeros too) at sizes far from the probes."""
    graph = _generalized(make)
    assert graph is not None
    assert [graph.node(n).op for n in graph.order()].count(op) == 1
    for size in sizes:
        value = _constant_at(graph, size)
        assert value.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(value, make(size))
        np.testing.assert_array_equal(np.signbit(value), np.signbit(make(size)))


@settings(max_examples=60, deadline=None)
@given(
    start=st.integers(-50, 50),
    step=st.integers(-4, 4).filter(bool),
    dtype=st.sampled_from([np.int64, np.int32, np.float32, np.float64]),
    rows=st.integers(1, 3),
)
def test_a_count_over_a_size_is_an_arange_that_gives_every_count_back(start, step, dtype, rows):
    """``start, start + step, ...`` over ``rows`` x (B + 1) elements at every probe: an
    ``arange`` node, equal to numpy's count at sizes far from the probes too."""

    def count(size: int) -> np.ndarray:
        return (start + step * np.arange(rows * (size + 1))).reshape(rows, size + 1).astype(dtype)

    _assert_one_node_gives_every_constant(count, "arange", dtype, sizes=(1, 9, 40))


@pytest.mark.parametrize(
    "make",
    [
        lambda n: np.arange(n, dtype=np.float32) * 0.5,  # not whole numbers
        lambda n: np.arange(n) * (1 if n == BASE else 2),  # the step changes with the size
        lambda n: np.arange(n)[::-1].copy() + (n - BASE),  # counts down from a size: the start moves
        lambda n: np.r_[np.arange(n - 1), 100],  # not a count at its end
        lambda n: -np.arange(n, dtype=np.float32),  # starts at -0.0
        lambda n: np.arange(1) + n * 0,  # one element: no step (and not a size either)
    ],
)
def test_what_is_not_one_count_over_the_sizes_is_not_an_arange(make):
    graph = _generalized(make)
    assert graph is None or all(graph.node(n).op != "arange" for n in graph.order())


@settings(max_examples=60, deadline=None)
@given(
    offset=st.integers(-2, 2),
    lower=st.booleans(),
    values=st.sampled_from([(True, False), (False, True), (0.0, float("-inf")), (1.0, 0.0), (3, -2)]),
    lead=st.sampled_from([(), (2,), (1, 3)]),
    square=st.booleans(),
)
def test_a_triangle_over_a_size_is_a_tri_that_gives_every_mask_back(offset, lower, values, lead, square):
    """One value on one side of a diagonal of the last two dims and another elsewhere
    (a causal mask ``tril(ones(T, T))``), over (B + 1) x (B + 1) or x (B + 3) at every
    probe: a ``tri`` node, equal to numpy's mask at sizes far from the probes too."""
    inside, outside = values
    dtype = np.bool_ if isinstance(inside, bool) else np.int64 if isinstance(inside, int) else np.float32

    def mask(size: int) -> np.ndarray:
        rows, columns = size + 1, size + (1 if square else 3)
        above = np.arange(columns)[None, :] - np.arange(rows)[:, None]
        within = above <= offset if lower else above >= offset
        matrix = np.where(within, np.asarray(inside, dtype), np.asarray(outside, dtype))
        return np.ascontiguousarray(np.broadcast_to(matrix, (*lead, rows, columns)))

    _assert_one_node_gives_every_constant(mask, "tri", dtype)


@pytest.mark.parametrize(
    "make",
    [
        lambda n: np.triu(np.ones((n, n), bool), n - BASE),  # its diagonal moves with the size
        lambda n: np.eye(n, dtype=bool) | np.eye(n, k=2, dtype=bool),  # two diagonals
        lambda n: np.tril(np.full((n, n), 2.0), 0) + np.eye(n),  # three values
        lambda n: np.where(np.tril(np.ones((n, n), bool)), 1.0, -0.0).astype(np.float32),  # -0.0
    ],
)
def test_what_is_not_one_triangle_over_the_sizes_is_not_a_tri(make):
    graph = _generalized(make)
    assert graph is None or all(graph.node(n).op != "tri" for n in graph.order())


def test_two_values_not_in_every_matrix_are_not_a_triangle():
    """Two values where the first matrix of the leading dims holds only one of them (a
    slice assignment's mask) are no triangle, and no error either (it raised)."""

    def mask(size: int) -> np.ndarray:
        value = np.zeros((size, 2, 2), bool)
        value[1:] = True
        return value

    graph = _generalized(mask)
    assert graph is None or all(graph.node(n).op != "tri" for n in graph.order())
