"""Sums of disjoint slice gradients assembled by concatenation (passes/slice_gradients.py):
what is assembled and what must not be, values against the interpreter (equal, up to
the sign of zero), and random graphs unchanged in value."""

from __future__ import annotations

import textwrap

import numpy as np
from hypothesis import given, settings
from ir_random import graphs, random_inputs

from irgrad.ir import interpret, parse_graph, verify
from irgrad.passes.slice_gradients import assemble_slice_gradients


def _graph(text: str):
    return verify(parse_graph(textwrap.dedent(text).strip()))


def _ops(graph) -> list[str]:
    return [n.op for n in graph.op_nodes()]


def _equal_values(before, after, seed: int = 0) -> None:
    inputs = random_inputs(before, seed)
    for want, got in zip(interpret(before, inputs), interpret(after, inputs)):
        np.testing.assert_array_equal(got, want)  # the same numbers (-0.0 == 0.0)


def test_time_steps_placed_by_integer_indices_are_stacked():
    before = _graph("""
        graph f(%a: f32[2,3], %b: f32[2,3], %c: f32[2,3]) -> (f32[3,2,3])
          %0: f32[3,2,3] = slice_grad(%a, shape=(3, 2, 3), index=(0,))
          %1: f32[3,2,3] = slice_grad(%b, shape=(3, 2, 3), index=(1,))
          %2: f32[3,2,3] = add(%0, %1)
          %3: f32[3,2,3] = slice_grad(%c, shape=(3, 2, 3), index=(2,))
          %4: f32[3,2,3] = add(%2, %3)
          return %4
    """)
    after = verify(assemble_slice_gradients(before))
    assert "slice_grad" not in _ops(after) and "add" not in _ops(after)
    assert _ops(after).count("cat") == 1
    _equal_values(before, after)


def test_an_lstm_state_split_into_halves_is_concatenated():
    before = _graph("""
        graph f(%h: f32[4,3], %c: f32[4,3]) -> (f32[4,6])
          %0: f32[4,6] = slice_grad(%c, shape=(4, 6), index=(slice(None, None, None), slice(3, 6, 1)))
          %1: f32[4,6] = slice_grad(%h, shape=(4, 6), index=(slice(None, None, None), slice(0, 3, 1)))
          %2: f32[4,6] = add(%0, %1)
          return %2
    """)
    after = verify(assemble_slice_gradients(before))
    assert _ops(after) == ["cat"]
    _equal_values(before, after)


def test_pieces_not_covering_the_axis_are_placed_by_one_slice_grad():
    before = _graph("""
        graph f(%a: f32[2,3], %b: f32[1,3]) -> (f32[6,3])
          %0: f32[6,3] = slice_grad(%a, shape=(6, 3), index=(slice(1, 3, 1),))
          %1: f32[6,3] = slice_grad(%b, shape=(6, 3), index=(slice(3, 4, 1),))
          %2: f32[6,3] = add(%1, %0)
          return %2
    """)
    after = verify(assemble_slice_gradients(before))
    assert sorted(_ops(after)) == ["cat", "slice_grad"]
    _equal_values(before, after)


def test_what_must_not_be_assembled():
    cases = {
        "overlapping": """
            graph f(%a: f32[2,3], %b: f32[2,3]) -> (f32[3,3])
              %0: f32[3,3] = slice_grad(%a, shape=(3, 3), index=(slice(0, 2, 1),))
              %1: f32[3,3] = slice_grad(%b, shape=(3, 3), index=(slice(1, 3, 1),))
              %2: f32[3,3] = add(%0, %1)
              return %2
        """,
        "a gap between them": """
            graph f(%a: f32[1,3], %b: f32[1,3]) -> (f32[3,3])
              %0: f32[3,3] = slice_grad(%a, shape=(3, 3), index=(slice(0, 1, 1),))
              %1: f32[3,3] = slice_grad(%b, shape=(3, 3), index=(slice(2, 3, 1),))
              %2: f32[3,3] = add(%0, %1)
              return %2
        """,
        "different axes": """
            graph f(%a: f32[1,3], %b: f32[3,1]) -> (f32[3,3])
              %0: f32[3,3] = slice_grad(%a, shape=(3, 3), index=(slice(0, 1, 1),))
              %1: f32[3,3] = slice_grad(%b, shape=(3, 3), index=(slice(None, None, None), slice(1, 2, 1)))
              %2: f32[3,3] = add(%0, %1)
              return %2
        """,
        "a strided slice": """
            graph f(%a: f32[2,3], %b: f32[1,3]) -> (f32[4,3])
              %0: f32[4,3] = slice_grad(%a, shape=(4, 3), index=(slice(0, 4, 2),))
              %1: f32[4,3] = slice_grad(%b, shape=(4, 3), index=(slice(3, 4, 1),))
              %2: f32[4,3] = add(%0, %1)
              return %2
        """,
        "another term in the sum": """
            graph f(%a: f32[1,3], %b: f32[1,3], %c: f32[2,3]) -> (f32[2,3])
              %0: f32[2,3] = slice_grad(%a, shape=(2, 3), index=(0,))
              %1: f32[2,3] = slice_grad(%b, shape=(2, 3), index=(1,))
              %2: f32[2,3] = add(%0, %1)
              %3: f32[2,3] = add(%2, %c)
              return %3
        """,
    }
    for name, text in cases.items():
        before = _graph(text)
        assert str(assemble_slice_gradients(before)) == str(before), name


@settings(max_examples=60, deadline=None)
@given(graphs())
def test_random_graphs_keep_their_values(graph):
    after = verify(assemble_slice_gradients(graph))
    inputs = random_inputs(graph, 2)
    for want, got in zip(interpret(graph, inputs), interpret(after, inputs)):
        np.testing.assert_array_equal(got, want)
