"""Constant folding: before/after graphs as IR text, the cases it must skip, and the
property that folding never changes what a random graph computes."""

from __future__ import annotations

import textwrap

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from ir_random import assert_equivalent, graphs, random_graph, random_inputs

from irgrad.ir import interpret, parse_graph, verify
from irgrad.ops import OPS, Kind, Meta, OpDef
from irgrad.passes import fold


def ir(text: str) -> str:
    return textwrap.dedent(text).strip()


def check(before: str, after: str) -> None:
    g = verify(parse_graph(ir(before)))
    folded = verify(fold(g))
    assert str(folded) == ir(after)
    assert str(g) == ir(before), "fold mutated its argument"


def test_constant_subgraph_collapses_and_orphans_go():
    check(
        """
        graph f(%x: f32[3]) -> (f32[3])
          %0: f32[] = constant(2.0)
          %1: f32[] = constant(3.0)
          %2: f32[] = mul(%0, %1)
          %3: f32[] = neg(%2)
          %4: f32[3] = add(%x, %3)
          return %4
        """,
        """
        graph f(%x: f32[3]) -> (f32[3])
          %0: f32[] = constant(-6.0)
          %1: f32[3] = add(%x, %0)
          return %1
        """,
    )


def test_constant_still_used_elsewhere_is_kept():
    check(
        """
        graph f(%x: f32[2]) -> (f32[2], f32[2])
          %0: f32[2] = constant([1.0, 2.0])
          %1: f32[2] = exp(%0)
          %2: f32[2] = mul(%x, %0)
          return %1, %2
        """,
        f"""
        graph f(%x: f32[2]) -> (f32[2], f32[2])
          %0: f32[2] = constant([1.0, 2.0])
          %1: f32[2] = constant([{float(np.exp(np.float32(1)))!r}, {float(np.exp(np.float32(2)))!r}])
          %2: f32[2] = mul(%x, %0)
          return %1, %2
        """,
    )


def test_movement_and_cast_of_constants_fold():
    check(
        """
        graph f(%x: f64[3,2]) -> (f64[3,2])
          %0: f32[2,3] = constant([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
          %1: f32[3,2] = permute(%0, dims=(1, 0))
          %2: f32[6] = reshape(%1, shape=(6,))
          %3: f32[3,2] = reshape(%2, shape=(3, 2))
          %4: f64[3,2] = cast(%3, dtype=f64)
          %5: f32[] = constant(7.0)
          %6: f32[3,2] = broadcast_to(%5, shape=(3, 2))
          %7: f64[3,2] = cast(%6, dtype=f64)
          %8: f64[3,2] = add(%4, %7)
          %9: f64[3,2] = add(%x, %8)
          return %9
        """,
        """
        graph f(%x: f64[3,2]) -> (f64[3,2])
          %0: f64[3,2] = constant([[8.0, 11.0], [9.0, 12.0], [10.0, 13.0]])
          %1: f64[3,2] = add(%x, %0)
          return %1
        """,
    )


def test_folded_value_owns_contiguous_memory():
    g = parse_graph(
        ir(
            """
            graph f() -> (f32[3,2])
              %0: f32[2,3] = constant([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
              %1: f32[3,2] = permute(%0, dims=(1, 0))
              return %1
            """
        )
    )
    value = fold(g).node(fold(g).outputs[0]).value
    assert value.flags.c_contiguous and value.flags.owndata and value.flags.writeable
    np.testing.assert_array_equal(value, [[1, 4], [2, 5], [3, 6]])


def test_inf_and_nan_results_fold_without_warnings():
    g = parse_graph(
        ir(
            """
            graph f() -> (f32[2])
              %0: f32[2] = constant([1000.0, -1.0])
              %1: f32[2] = exp(%0)
              %2: f32[2] = sub(%1, %1)
              return %2
            """
        )
    )
    with np.errstate(all="raise"):
        folded = fold(g)
    value = folded.node(folded.outputs[0]).value
    assert np.isnan(value[0]) and value[1] == 0.0


def test_result_over_the_size_limit_is_left_to_run_time():
    text = ir(
        """
        graph f() -> (f32[2048,1024])
          %0: f32[] = constant(1.0)
          %1: f32[2048,1024] = broadcast_to(%0, shape=(2048, 1024))
          return %1
        """
    )
    assert str(fold(parse_graph(text))) == text


def test_a_kernel_that_raises_is_left_to_run_time():
    text = ir(
        """
        graph f() -> (f32[1])
          %0: f32[3] = constant([1.0, 2.0, 3.0])
          %1: i64[1] = constant([7])
          %2: f32[1] = index(%0, %1, spec=(...,))
          return %2
        """
    )
    assert str(fold(parse_graph(text))) == text


def test_random_ops_are_never_folded(monkeypatch):
    def infer(x: Meta) -> Meta:
        return Meta(x.shape, x.dtype)

    rand = OpDef(
        "test_rand_like", Kind.RANDOM, lambda x: np.random.random_sample(x.shape).astype(x.dtype), infer
    )
    monkeypatch.setitem(OPS, rand.name, rand)
    text = ir(
        """
        graph f() -> (f32[2], f32[2])
          %0: f32[2] = constant([1.0, 2.0])
          %1: f32[2] = test_rand_like(%0)
          %2: f32[2] = fused(%0) {
            graph body(%a: f32[2]) -> (f32[2])
              %0: f32[2] = test_rand_like(%a)
              return %0
          }
          return %1, %2
        """
    )
    assert str(fold(parse_graph(text))) == text


def test_fused_node_of_constants_folds():
    check(
        """
        graph f(%x: f32[2]) -> (f32[2])
          %0: f32[2] = constant([1.0, 2.0])
          %1: f32[] = constant(3.0)
          %2: f32[2] = fused(%0, %1) {
            graph body(%a: f32[2], %b: f32[]) -> (f32[2])
              %0: f32[2] = mul(%a, %b)
              %1: f32[2] = neg(%0)
              return %1
          }
          %3: f32[2] = add(%x, %2)
          return %3
        """,
        """
        graph f(%x: f32[2]) -> (f32[2])
          %0: f32[2] = constant([-3.0, -6.0])
          %1: f32[2] = add(%x, %0)
          return %1
        """,
    )


def test_outputs_that_are_inputs_or_constants():
    check(
        """
        graph f(%x: f32[2]) -> (f32[2], f32[], f32[])
          %0: f32[] = constant(2.0)
          %1: f32[] = neg(%0)
          return %x, %0, %1
        """,
        """
        graph f(%x: f32[2]) -> (f32[2], f32[], f32[])
          %0: f32[] = constant(2.0)
          %1: f32[] = constant(-2.0)
          return %x, %0, %1
        """,
    )


def test_nothing_to_fold_gives_the_same_graph():
    text = ir(
        """
        graph f(%x: f32[2], param %w: f32[2]) -> (f32[2])
          %0: f32[2] = mul(%x, %w)
          %1: f32[] = constant(1.0)
          %2: f32[2] = add(%0, %1)
          return %2
        """
    )
    assert str(fold(parse_graph(text))) == text


@settings(max_examples=60, deadline=None)
@given(graphs(), st.integers(0, 2**32 - 1))
def test_fold_preserves_semantics(g, seed):
    folded = fold(g)
    assert_equivalent(g, folded, random_inputs(g, seed))
    assert str(fold(folded)) == str(folded)  # idempotent
    assert not any(
        all(folded.node(a).op == "constant" for a in folded.args(n.id)) for n in folded.op_nodes()
    ), "an all-constant op was left unfolded"


def test_fold_on_seeded_graphs_matches_the_interpreter():
    for seed in range(20):
        g = random_graph(seed)
        inputs = random_inputs(g, seed)
        with np.errstate(all="ignore"):
            want = interpret(g, inputs)
            got = interpret(fold(g), inputs)
        for a, b in zip(got, want):
            np.testing.assert_array_equal(a, b)  # folding runs the same kernels: bit-identical
