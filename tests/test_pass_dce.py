"""Dead-code elimination: before/after graphs as IR text, inputs kept as the signature,
fused bodies, and the properties that DCE (and the whole fold -> simplify -> cse -> dce
pipeline) never changes what a random graph computes."""

from __future__ import annotations

import textwrap

import networkx as nx
from hypothesis import given, settings
from hypothesis import strategies as st
from ir_random import assert_equivalent, graphs, random_graph, random_inputs

from irgrad.ir import parse_graph, verify
from irgrad.passes import cse, dce, fold, simplify


def ir(text: str) -> str:
    return textwrap.dedent(text).strip()


def check(before: str, after: str) -> None:
    g = verify(parse_graph(ir(before)))
    out = verify(dce(g))
    assert str(out) == ir(after)
    assert str(g) == ir(before), "dce mutated its argument"
    assert str(dce(out)) == ir(after)  # idempotent


def test_dead_branches_go_unused_inputs_stay():
    check(
        """
        graph f(%x: f32[3], param %w: f32[3], buffer %b: f32[3]) -> (f32[3])
          %0: f32[3] = mul(%x, %w)
          %1: f32[3] = exp(%0)
          %2: f32[3] = tanh(%1)
          %3: f32[] = constant(2.0)
          %4: f32[3] = add(%b, %3)
          return %1
        """,
        """
        graph f(%x: f32[3], param %w: f32[3], buffer %b: f32[3]) -> (f32[3])
          %0: f32[3] = mul(%x, %w)
          %1: f32[3] = exp(%0)
          return %1
        """,
    )


def test_outputs_that_are_inputs():
    check(
        """
        graph f(%x: f32[3], %y: f32[3]) -> (f32[3], f32[3])
          %0: f32[3] = neg(%x)
          return %y, %y
        """,
        """
        graph f(%x: f32[3], %y: f32[3]) -> (f32[3], f32[3])
          return %y, %y
        """,
    )


def test_fused_bodies_are_cleaned():
    check(
        """
        graph f(%x: f32[3]) -> (f32[3])
          %0: f32[3] = fused(%x) {
            graph body(%a: f32[3]) -> (f32[3])
              %0: f32[3] = exp(%a)
              %1: f32[3] = neg(%a)
              return %0
          }
          %1: f32[3] = fused(%x) {
            graph body(%a: f32[3]) -> (f32[3])
              %0: f32[3] = tanh(%a)
              return %0
          }
          return %0
        """,
        """
        graph f(%x: f32[3]) -> (f32[3])
          %0: f32[3] = fused(%x) {
            graph body(%a: f32[3]) -> (f32[3])
              %0: f32[3] = exp(%a)
              return %0
          }
          return %0
        """,
    )


def test_nothing_dead_gives_the_same_graph():
    text = ir(
        """
        graph f(%x: f32[2]) -> (f32[2], f32[])
          %0: f32[] = constant(1.0)
          %1: f32[2] = add(%x, %0)
          return %1, %0
        """
    )
    assert str(dce(parse_graph(text))) == text


def _pipeline(g):
    for p in (fold, simplify, cse, dce):
        g = verify(p(g))
    return g


@settings(max_examples=60, deadline=None)
@given(graphs(), st.integers(0, 2**32 - 1))
def test_dce_preserves_semantics(g, seed):
    out = dce(g)
    assert_equivalent(g, out, random_inputs(g, seed))
    assert str(dce(out)) == str(out)  # idempotent
    live = set(out.outputs).union(*(nx.ancestors(out.nx, o) for o in out.outputs))
    assert set(out.nx) == live | set(g.inputs)


@settings(max_examples=60, deadline=None)
@given(graphs(), st.integers(0, 2**32 - 1))
def test_pipeline_preserves_semantics(g, seed):
    out = _pipeline(g)
    assert_equivalent(g, out, random_inputs(g, seed))
    assert len(out) <= len(g)


def test_pipeline_on_seeded_graphs():
    for seed in range(25):
        g = random_graph(seed)
        assert_equivalent(g, _pipeline(g), random_inputs(g, seed))
