"""Common-subexpression elimination: before/after graphs as IR text, what must not be
merged (different attrs, argument order, signed zeros, dtypes, random ops, inputs), and
the property that CSE never changes what a random graph computes."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ir_random import assert_equivalent, graphs, random_inputs

from irgrad.ir import parse_graph, verify
from irgrad.ops import OPS, Kind, Meta, OpDef
from irgrad.passes import cse


def ir(text: str) -> str:
    return textwrap.dedent(text).strip()


def check(before: str, after: str) -> None:
    g = verify(parse_graph(ir(before)))
    out = verify(cse(g))
    assert str(out) == ir(after)
    assert str(g) == ir(before), "cse mutated its argument"
    assert str(cse(out)) == ir(after)  # idempotent


def test_duplicates_merge_transitively_and_outputs_follow():
    check(
        """
        graph f(%x: f32[3], %y: f32[3]) -> (f32[3], f32[3])
          %0: f32[3] = mul(%x, %y)
          %1: f32[3] = mul(%x, %y)
          %2: f32[3] = exp(%0)
          %3: f32[3] = exp(%1)
          %4: f32[3] = add(%2, %3)
          return %4, %3
        """,
        """
        graph f(%x: f32[3], %y: f32[3]) -> (f32[3], f32[3])
          %0: f32[3] = mul(%x, %y)
          %1: f32[3] = exp(%0)
          %2: f32[3] = add(%1, %1)
          return %2, %1
        """,
    )


def test_equal_constants_merge():
    check(
        """
        graph f(%x: f32[2]) -> (f32[2])
          %0: f32[2] = constant([1.0, nan])
          %1: f32[2] = constant([1.0, nan])
          %2: f32[2] = add(%x, %0)
          %3: f32[2] = add(%x, %1)
          %4: f32[2] = mul(%2, %3)
          return %4
        """,
        """
        graph f(%x: f32[2]) -> (f32[2])
          %0: f32[2] = constant([1.0, nan])
          %1: f32[2] = add(%x, %0)
          %2: f32[2] = mul(%1, %1)
          return %2
        """,
    )


def test_commutative_ops_merge_in_either_order():
    # the backward of 0.5 * x * x has mul(0.5, x) and mul(x, 0.5): one value
    check(
        """
        graph f(%x: f32[3], %y: f32[3]) -> (f32[3], bool[3])
          %0: f32[] = constant(0.5)
          %1: f32[3] = mul(%0, %x)
          %2: f32[3] = mul(%x, %0)
          %3: f32[3] = add(%1, %2)
          %4: bool[3] = eq(%x, %y)
          %5: bool[3] = eq(%y, %x)
          %6: bool[3] = logical_and(%4, %5)
          return %3, %6
        """,
        """
        graph f(%x: f32[3], %y: f32[3]) -> (f32[3], bool[3])
          %0: f32[] = constant(0.5)
          %1: f32[3] = mul(%0, %x)
          %2: f32[3] = add(%1, %1)
          %3: bool[3] = eq(%x, %y)
          %4: bool[3] = logical_and(%3, %3)
          return %2, %4
        """,
    )


def test_structurally_equal_attrs_merge():
    check(
        """
        graph f(%x: f32[4,3]) -> (f32[2,3], f32[2,3], f64[4,3], f64[4,3])
          %0: f32[2,3] = slice(%x, index=(slice(0, 4, 2),))
          %1: f32[2,3] = slice(%x, index=(slice(0, 4, 2),))
          %2: f64[4,3] = cast(%x, dtype=f64)
          %3: f64[4,3] = cast(%x, dtype=f64)
          return %0, %1, %2, %3
        """,
        """
        graph f(%x: f32[4,3]) -> (f32[2,3], f32[2,3], f64[4,3], f64[4,3])
          %0: f32[2,3] = slice(%x, index=(slice(0, 4, 2),))
          %1: f64[4,3] = cast(%x, dtype=f64)
          return %0, %0, %1, %1
        """,
    )


KEEPS = {
    "argument-order": """
        graph f(%x: f32[3], %y: f32[3]) -> (f32[3], f32[3])
          %0: f32[3] = sub(%x, %y)
          %1: f32[3] = sub(%y, %x)
          return %0, %1
        """,
    "maximum-in-either-order": """
        graph f(%x: f32[3], %y: f32[3]) -> (f32[3], f32[3])
          %0: f32[3] = maximum(%x, %y)
          %1: f32[3] = maximum(%y, %x)
          return %0, %1
        """,
    "different-attrs": """
        graph f(%x: f32[2,3]) -> (f32[2], f32[2,1], f32[3])
          %0: f32[2] = sum(%x, dims=(1,), keepdim=False)
          %1: f32[2,1] = sum(%x, dims=(1,), keepdim=True)
          %2: f32[3] = sum(%x, dims=(0,), keepdim=False)
          return %0, %1, %2
        """,
    "int-versus-float-attr": """
        graph f(%x: f32[2]) -> (f32[2], f32[2])
          %0: f32[2] = full_like(%x, value=1)
          %1: f32[2] = full_like(%x, value=1.0)
          return %0, %1
        """,
    "signed-zero-attr": """
        graph f(%x: f32[2]) -> (f32[2], f32[2])
          %0: f32[2] = full_like(%x, value=0.0)
          %1: f32[2] = full_like(%x, value=-0.0)
          return %0, %1
        """,
    "signed-zero-constants": """
        graph f() -> (f32[], f32[])
          %0: f32[] = constant(0.0)
          %1: f32[] = constant(-0.0)
          return %0, %1
        """,
    "constants-of-different-dtype": """
        graph f() -> (f32[], f64[], i32[])
          %0: f32[] = constant(1.0)
          %1: f64[] = constant(1.0)
          %2: i32[] = constant(1)
          return %0, %1, %2
        """,
    "constants-of-different-shape": """
        graph f() -> (f32[1], f32[])
          %0: f32[1] = constant([1.0])
          %1: f32[] = constant(1.0)
          return %0, %1
        """,
    "inputs-of-equal-type": """
        graph f(%x: f32[2], %y: f32[2]) -> (f32[2], f32[2])
          %0: f32[2] = exp(%x)
          %1: f32[2] = exp(%y)
          return %0, %1
        """,
}


@pytest.mark.parametrize("name", sorted(KEEPS))
def test_distinct_computations_stay_apart(name):
    text = ir(KEEPS[name])
    assert str(cse(verify(parse_graph(text)))) == text


def test_random_ops_are_never_merged(monkeypatch):
    def infer(x: Meta) -> Meta:
        return Meta(x.shape, x.dtype)

    rand = OpDef(
        "test_rand_like", Kind.RANDOM, lambda x: np.random.random_sample(x.shape).astype(x.dtype), infer
    )
    monkeypatch.setitem(OPS, rand.name, rand)
    text = ir(
        """
        graph f(%x: f32[2]) -> (f32[2], f32[2], f32[2], f32[2])
          %0: f32[2] = test_rand_like(%x)
          %1: f32[2] = test_rand_like(%x)
          %2: f32[2] = fused(%x) {
            graph body(%a: f32[2]) -> (f32[2])
              %0: f32[2] = test_rand_like(%a)
              return %0
          }
          %3: f32[2] = fused(%x) {
            graph body(%a: f32[2]) -> (f32[2])
              %0: f32[2] = test_rand_like(%a)
              return %0
          }
          return %0, %1, %2, %3
        """
    )
    assert str(cse(parse_graph(text))) == text


def test_fused_nodes_merge_when_bodies_match():
    body = """
            graph body(%a: f32[2]) -> (f32[2])
              %0: f32[2] = {op}(%a)
              return %0
    """
    text = f"""
        graph f(%x: f32[2]) -> (f32[2], f32[2], f32[2])
          %0: f32[2] = fused(%x) {{{body.format(op="exp")}
          }}
          %1: f32[2] = fused(%x) {{{body.format(op="exp")}
          }}
          %2: f32[2] = fused(%x) {{{body.format(op="tanh")}
          }}
          return %0, %1, %2
        """
    out = verify(cse(parse_graph(ir(text))))
    assert len(out) == 3 and out.outputs[0] == out.outputs[1] != out.outputs[2]


def test_nothing_to_merge_gives_the_same_graph():
    text = ir(
        """
        graph f(%x: f32[2], param %w: f32[2]) -> (f32[2], f32[2])
          %0: f32[2] = mul(%x, %w)
          return %0, %x
        """
    )
    assert str(cse(parse_graph(text))) == text


@settings(max_examples=60, deadline=None)
@given(graphs(), st.integers(0, 2**32 - 1))
def test_cse_preserves_semantics(g, seed):
    out = cse(g)
    assert_equivalent(g, out, random_inputs(g, seed))
    assert str(cse(out)) == str(out)  # idempotent
    keys = [(n.op, tuple(out.args(n.id)), repr(n.attrs)) for n in out.op_nodes()]
    assert len(keys) == len(set(keys)), "a duplicate survived"
