"""Algebraic simplification: each rule before/after as IR text, rewrites that must NOT
fire (inexact or type-changing), bit-exactness on inf/nan/-0.0, and the property that
simplification never changes what a random graph computes."""

from __future__ import annotations

import importlib
import textwrap

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ir_random import assert_equivalent, graphs, random_inputs

from irgrad.ir import interpret, parse_graph, verify
from irgrad.passes import simplify

simplify_module = importlib.import_module("irgrad.passes.simplify")


def ir(text: str) -> str:
    return textwrap.dedent(text).strip()


# (before, after): each fires one rule (or a chain of them, to a fixed point).
FIRES = {
    "mul-one": (
        """
        graph f(%x: f32[3]) -> (f32[3])
          %0: f32[] = constant(1.0)
          %1: f32[3] = mul(%x, %0)
          return %1
        """,
        """
        graph f(%x: f32[3]) -> (f32[3])
          return %x
        """,
    ),
    "one-mul-same-shape": (
        """
        graph f(%x: f32[3]) -> (f32[3])
          %0: f32[3] = constant([1.0, 1.0, 1.0])
          %1: f32[3] = mul(%0, %x)
          %2: f32[3] = exp(%1)
          return %2
        """,
        """
        graph f(%x: f32[3]) -> (f32[3])
          %0: f32[3] = exp(%x)
          return %0
        """,
    ),
    "div-one": (
        """
        graph f(%x: f64[2]) -> (f64[2])
          %0: f64[] = constant(1.0)
          %1: f64[2] = div(%x, %0)
          return %1
        """,
        """
        graph f(%x: f64[2]) -> (f64[2])
          return %x
        """,
    ),
    "add-negative-zero": (
        """
        graph f(%x: f32[3]) -> (f32[3], f32[3])
          %0: f32[] = constant(-0.0)
          %1: f32[3] = add(%x, %0)
          %2: f32[3] = add(%0, %x)
          return %1, %2
        """,
        """
        graph f(%x: f32[3]) -> (f32[3], f32[3])
          return %x, %x
        """,
    ),
    "add-integer-zero": (
        """
        graph f(%x: i32[3]) -> (i32[3])
          %0: i32[] = constant(0)
          %1: i32[3] = add(%0, %x)
          return %1
        """,
        """
        graph f(%x: i32[3]) -> (i32[3])
          return %x
        """,
    ),
    "sub-zero": (
        """
        graph f(%x: f32[3]) -> (f32[3])
          %0: f32[] = constant(0.0)
          %1: f32[3] = sub(%x, %0)
          return %1
        """,
        """
        graph f(%x: f32[3]) -> (f32[3])
          return %x
        """,
    ),
    "involutions": (
        """
        graph f(%x: f32[3], %b: bool[3], %i: i16[3]) -> (f32[3], bool[3], i16[3])
          %0: f32[3] = neg(%x)
          %1: f32[3] = neg(%0)
          %2: bool[3] = logical_not(%b)
          %3: bool[3] = logical_not(%2)
          %4: i16[3] = bitwise_not(%i)
          %5: i16[3] = bitwise_not(%4)
          return %1, %3, %5
        """,
        """
        graph f(%x: f32[3], %b: bool[3], %i: i16[3]) -> (f32[3], bool[3], i16[3])
          return %x, %b, %i
        """,
    ),
    "self-extrema-and-where": (
        """
        graph f(%x: f32[3], %c: bool[3]) -> (f32[3], f32[3], f32[3])
          %0: f32[3] = maximum(%x, %x)
          %1: f32[3] = minimum(%x, %x)
          %2: f32[3] = where(%c, %x, %x)
          return %0, %1, %2
        """,
        """
        graph f(%x: f32[3], %c: bool[3]) -> (f32[3], f32[3], f32[3])
          return %x, %x, %x
        """,
    ),
    "idempotent-unary": (
        """
        graph f(%x: f32[3]) -> (f32[3], f32[3])
          %0: f32[3] = abs(%x)
          %1: f32[3] = abs(%0)
          %2: f32[3] = relu(%x)
          %3: f32[3] = relu(%2)
          %4: f32[3] = relu(%3)
          return %1, %4
        """,
        """
        graph f(%x: f32[3]) -> (f32[3], f32[3])
          %0: f32[3] = abs(%x)
          %1: f32[3] = relu(%x)
          return %0, %1
        """,
    ),
    "permute-compose": (
        """
        graph f(%x: f32[2,3,4]) -> (f32[4,2,3])
          %0: f32[3,4,2] = permute(%x, dims=(1, 2, 0))
          %1: f32[4,2,3] = permute(%0, dims=(1, 2, 0))
          return %1
        """,
        """
        graph f(%x: f32[2,3,4]) -> (f32[4,2,3])
          %0: f32[4,2,3] = permute(%x, dims=(2, 0, 1))
          return %0
        """,
    ),
    "permute-inverse-and-identity": (
        """
        graph f(%x: f32[2,3,4]) -> (f32[2,3,4], f32[2,3,4])
          %0: f32[3,4,2] = permute(%x, dims=(1, 2, 0))
          %1: f32[2,3,4] = permute(%0, dims=(2, 0, 1))
          %2: f32[2,3,4] = permute(%x, dims=(0, 1, 2))
          return %1, %2
        """,
        """
        graph f(%x: f32[2,3,4]) -> (f32[2,3,4], f32[2,3,4])
          return %x, %x
        """,
    ),
    "permute-shared-inner-kept": (
        """
        graph f(%x: f32[2,3]) -> (f32[3,2], f32[2,3])
          %0: f32[3,2] = permute(%x, dims=(1, 0))
          %1: f32[2,3] = permute(%0, dims=(1, 0))
          %2: f32[2,3] = exp(%1)
          return %0, %2
        """,
        """
        graph f(%x: f32[2,3]) -> (f32[3,2], f32[2,3])
          %0: f32[3,2] = permute(%x, dims=(1, 0))
          %1: f32[2,3] = exp(%x)
          return %0, %1
        """,
    ),
    "reshape-chain": (
        """
        graph f(%x: f32[2,6]) -> (f32[3,4], f32[2,6])
          %0: f32[12] = reshape(%x, shape=(12,))
          %1: f32[4,3] = reshape(%0, shape=(4, 3))
          %2: f32[3,4] = reshape(%1, shape=(3, 4))
          %3: f32[2,6] = reshape(%1, shape=(2, 6))
          return %2, %3
        """,
        """
        graph f(%x: f32[2,6]) -> (f32[3,4], f32[2,6])
          %0: f32[3,4] = reshape(%x, shape=(3, 4))
          return %0, %x
        """,
    ),
    "broadcast": (
        """
        graph f(%x: f32[3]) -> (f32[3], f32[4,2,3])
          %0: f32[3] = broadcast_to(%x, shape=(3,))
          %1: f32[2,3] = broadcast_to(%x, shape=(2, 3))
          %2: f32[4,2,3] = broadcast_to(%1, shape=(4, 2, 3))
          return %0, %2
        """,
        """
        graph f(%x: f32[3]) -> (f32[3], f32[4,2,3])
          %0: f32[4,2,3] = broadcast_to(%x, shape=(4, 2, 3))
          return %x, %0
        """,
    ),
    "cast": (
        """
        graph f(%x: f32[3], %i: i8[3]) -> (f32[3], f32[3], f32[3])
          %0: f32[3] = cast(%x, dtype=f32)
          %1: f64[3] = cast(%x, dtype=f64)
          %2: f32[3] = cast(%1, dtype=f32)
          %3: i32[3] = cast(%i, dtype=i32)
          %4: f32[3] = cast(%3, dtype=f32)
          return %0, %2, %4
        """,
        """
        graph f(%x: f32[3], %i: i8[3]) -> (f32[3], f32[3], f32[3])
          %0: f32[3] = cast(%i, dtype=f32)
          return %x, %x, %0
        """,
    ),
    "chain-to-fixed-point": (
        """
        graph f(%x: f32[2,3]) -> (f32[2,3])
          %0: f32[3,2] = permute(%x, dims=(1, 0))
          %1: f32[3,2] = neg(%0)
          %2: f32[3,2] = neg(%1)
          %3: f32[] = constant(1.0)
          %4: f32[3,2] = mul(%3, %2)
          %5: f32[2,3] = permute(%4, dims=(1, 0))
          %6: f32[2,3] = reshape(%5, shape=(2, 3))
          return %6
        """,
        """
        graph f(%x: f32[2,3]) -> (f32[2,3])
          return %x
        """,
    ),
}

# Graphs simplify must leave exactly as they are.
KEEPS = {
    "float-plus-positive-zero": """
        graph f(%x: f32[3]) -> (f32[3])
          %0: f32[] = constant(0.0)
          %1: f32[3] = add(%x, %0)
          return %1
        """,
    "minus-negative-zero": """
        graph f(%x: f32[3]) -> (f32[3])
          %0: f32[] = constant(-0.0)
          %1: f32[3] = sub(%x, %0)
          return %1
        """,
    "times-zero": """
        graph f(%x: f32[3]) -> (f32[3])
          %0: f32[] = constant(0.0)
          %1: f32[3] = mul(%x, %0)
          return %1
        """,
    "one-that-broadcasts": """
        graph f(%x: f32[3]) -> (f32[2,3])
          %0: f32[2,3] = constant([[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]])
          %1: f32[2,3] = mul(%x, %0)
          return %1
        """,
    "not-all-ones": """
        graph f(%x: f32[2]) -> (f32[2])
          %0: f32[2] = constant([1.0, 2.0])
          %1: f32[2] = mul(%x, %0)
          return %1
        """,
    "int-float-int": """
        graph f(%x: i32[3]) -> (i32[3])
          %0: f32[3] = cast(%x, dtype=f32)
          %1: i32[3] = cast(%0, dtype=i32)
          return %1
        """,
    "int64-through-float64": """
        graph f(%x: i64[3]) -> (i64[3])
          %0: f64[3] = cast(%x, dtype=f64)
          %1: i64[3] = cast(%0, dtype=i64)
          return %1
        """,
    "f64-f32-f64": """
        graph f(%x: f64[3]) -> (f64[3])
          %0: f32[3] = cast(%x, dtype=f32)
          %1: f64[3] = cast(%0, dtype=f64)
          return %1
        """,
    "widened-float-to-int": """
        graph f(%x: f32[3]) -> (i32[3])
          %0: f64[3] = cast(%x, dtype=f64)
          %1: i32[3] = cast(%0, dtype=i32)
          return %1
        """,
    "log-exp": """
        graph f(%x: f32[3]) -> (f32[3])
          %0: f32[3] = exp(%x)
          %1: f32[3] = log(%0)
          return %1
        """,
    "square-transpose": """
        graph f(%x: f32[3,3]) -> (f32[3,3])
          %0: f32[3,3] = permute(%x, dims=(1, 0))
          return %0
        """,
    "x-minus-x": """
        graph f(%x: f32[3]) -> (f32[3])
          %0: f32[3] = sub(%x, %x)
          return %0
        """,
    "copy": """
        graph f(%x: f32[3]) -> (f32[3])
          %0: f32[3] = copy(%x)
          return %0
        """,
    "unrelated-dead-code-is-not-simplify's-job": """
        graph f(%x: f32[3]) -> (f32[3])
          %0: f32[3] = exp(%x)
          %1: f32[3] = tanh(%x)
          return %0
        """,
}


def _specials(shape: tuple, dt: np.dtype) -> np.ndarray:
    """An array of ``shape`` cycling through the values rewrites most often get wrong."""
    if dt.kind == "f":
        pool = np.array([np.inf, -np.inf, np.nan, -0.0, 0.0, 1e38, -3.5, 1e-45, 2.0], dtype=dt)
    elif dt.kind == "b":
        pool = np.array([True, False])
    else:
        info = np.iinfo(dt)
        pool = np.array([info.min, info.max, 0, -1 if info.min else 1, 7], dtype=dt)
    n = int(np.prod(shape))
    return np.resize(pool, n).reshape(shape)


def _bits(a: np.ndarray) -> bytes:
    return a.dtype.str.encode() + repr(a.shape).encode() + np.ascontiguousarray(a).tobytes()


@pytest.mark.parametrize("name", sorted(FIRES))
def test_rule_fires(name):
    before, after = (ir(t) for t in FIRES[name])
    g = verify(parse_graph(before))
    out = verify(simplify(g))
    assert str(out) == after
    assert str(g) == before, "simplify mutated its argument"
    assert str(simplify(out)) == after  # idempotent


@pytest.mark.parametrize("name", sorted(FIRES))
def test_rewrites_are_bit_exact_on_special_values(name):
    g = parse_graph(ir(FIRES[name][0]))
    inputs = [_specials(g.node(i).type.shape, g.node(i).type.dtype.np) for i in g.inputs]
    with np.errstate(all="ignore"):
        want = interpret(g, inputs)
        got = interpret(simplify(g), inputs)
    assert [_bits(a) for a in got] == [_bits(b) for b in want]


@pytest.mark.parametrize("name", sorted(KEEPS))
def test_inexact_or_type_changing_rewrites_do_not_fire(name):
    text = ir(KEEPS[name])
    assert str(simplify(verify(parse_graph(text)))) == text


def test_float_plus_zero_really_is_inexact():
    # Why "float-plus-positive-zero" must stay: -0.0 + 0.0 is +0.0.
    assert np.signbit(np.float32(-0.0)) and not np.signbit(np.float32(-0.0) + np.float32(0.0))


def test_adding_a_rule_is_one_line(monkeypatch):
    s = simplify_module
    extra = s.Rule("abs-neg", s.op("abs", s.op("neg", s.X)), s.op("abs", s.X))
    monkeypatch.setattr(s, "RULES", [*s.RULES, extra])
    g = parse_graph(
        ir(
            """
            graph f(%x: f32[3]) -> (f32[3])
              %0: f32[3] = neg(%x)
              %1: f32[3] = abs(%0)
              return %1
            """
        )
    )
    assert str(simplify(g)) == ir(
        """
        graph f(%x: f32[3]) -> (f32[3])
          %0: f32[3] = abs(%x)
          return %0
        """
    )


def test_rule_names_are_unique():
    names = [r.name for r in simplify_module.RULES]
    assert len(names) == len(set(names))


@settings(max_examples=60, deadline=None)
@given(graphs(), st.integers(0, 2**32 - 1))
def test_simplify_preserves_semantics(g, seed):
    out = simplify(g)
    assert_equivalent(g, out, random_inputs(g, seed))
    assert str(simplify(out)) == str(out)  # a fixed point
    assert len(out) <= len(g)
