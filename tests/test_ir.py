"""The IR core: text round trips, the verifier's checks, the interpreter, Graphviz output."""

from __future__ import annotations

import numpy as np
import pytest

import irgrad
from irgrad.ir import (
    FUSED,
    Graph,
    IRParseError,
    TensorType,
    VerificationError,
    interpret,
    parse_graph,
    verify,
)

MLP = """graph forward(%x: f32[4,3], param %w: f32[5,3], param %b: f32[5]) -> (f32[4,5])
  %0: f32[3,5] = permute(%w, dims=(1, 0))
  %1: f32[4,5] = matmul(%x, %0)  # model.py:12
  %2: f32[4,5] = add(%1, %b)
  %3: f32[] = constant(2.0)
  %4: f32[4,5] = mul(%2, %3)
  %5: f32[4,5] = relu(%4)
  return %5"""


def test_print_parse_round_trip_is_exact():
    g = parse_graph(MLP)
    assert str(g) == MLP
    assert str(parse_graph(str(g))) == MLP


def test_attributes_of_every_kind_round_trip():
    text = """graph f(%x: f32[6,4], %i: i64[3]) -> (f32[2,4], f32[3,4], f64[6,4], f32[3,1])
  %0: f32[2,4] = slice(%x, index=(slice(0, 4, 2), slice(0, 4, 1)))
  %1: f32[3,4] = index(%x, %i, spec=(..., slice(None, None, None)))
  %2: f64[6,4] = cast(%x, dtype=f64)
  %3: f32[3,1] = sum(%1, dims=(1,), keepdim=True)
  return %0, %1, %2, %3"""
    g = parse_graph(text)
    verify(g)
    assert str(g) == text
    x = np.arange(24, dtype=np.float32).reshape(6, 4)
    i = np.array([5, 0, 2])
    out = interpret(g, [x, i])
    np.testing.assert_array_equal(out[0], x[0:4:2])
    np.testing.assert_array_equal(out[1], x[i])
    assert out[2].dtype == np.float64
    np.testing.assert_array_equal(out[3], x[i].sum(1, keepdims=True))


def test_large_constants_round_trip_as_splat_or_base64():
    g = Graph("c")
    g.set_outputs(
        [g.add_constant(np.zeros((10, 10), np.float32)), g.add_constant(np.arange(100, dtype=np.int64))]
    )
    text = str(g)
    assert "splat=0.0" in text and "b64=" in text
    back = parse_graph(text)
    for a, b in zip(interpret(g, []), interpret(back, [])):
        np.testing.assert_array_equal(a, b)


def test_interpreter_matches_numpy():
    g = parse_graph(MLP)
    rng = np.random.default_rng(0)
    x, w, b = (rng.standard_normal(s).astype(np.float32) for s in [(4, 3), (5, 3), (5,)])
    (out,) = interpret(g, [x, w, b])
    np.testing.assert_allclose(out, np.maximum((x @ w.T + b) * 2, 0), rtol=1e-6)


def test_fused_bodies_print_parse_and_run():
    text = """graph f(%x: f32[3], %y: f32[3]) -> (f32[3])
  %0: f32[3] = fused(%x, %y) {
    graph body(%a: f32[3], %b: f32[3]) -> (f32[3])
      %0: f32[3] = add(%a, %b)
      %1: f32[3] = tanh(%0)
      return %1
  }
  return %0"""
    g = parse_graph(text)
    verify(g)
    assert str(g) == text
    assert g.node(g.outputs[0]).op == FUSED
    x, y = np.ones(3, np.float32), np.arange(3, dtype=np.float32)
    np.testing.assert_allclose(interpret(g, [x, y])[0], np.tanh(x + y))


@pytest.mark.parametrize(
    "bad, message",
    [
        (MLP.replace("f32[4,5] = relu", "f32[4,6] = relu"), "shape rule gives"),
        (MLP.replace("f32[4,5] = add(%1, %b)", "f32[4,5] = frobnicate(%1, %b)"), "unknown op"),
        (MLP.replace("relu(%4)", "relu(%4, %4)"), "takes 1 arguments"),
        (MLP.replace("f32[4,5] = add(%1, %b)", "f64[4,5] = add(%1, %b)"), "declared type"),
    ],
)
def test_verifier_rejects_broken_graphs(bad, message):
    with pytest.raises(VerificationError, match=message):
        verify(parse_graph(bad))


def test_verifier_rejects_cycles_and_gaps():
    g = parse_graph(MLP)
    relu = g.outputs[0]
    first = g.order()[3]
    g.nx.add_edge(relu, first, key=1)
    with pytest.raises(VerificationError):
        verify(g)


@pytest.mark.parametrize(
    "text",
    [
        "graph f(%x: f32[3]) -> (f32[3])\n  %0: f32[3] = exp(%y)\n  return %0",
        "graph f(%x: q9[3]) -> (f32[3])\n  return %x",
        "graph f(%x: f32[3]) -> (f32[3])\n  %0: f32[3] = exp(%x, k=__import__('os'))\n  return %0",
        "graph f(%x: f32[3]) -> (f32[3])\n  %0: f32[3] = exp(%x)",
    ],
)
def test_parser_rejects_bad_text_without_evaluating_it(text):
    with pytest.raises(IRParseError):
        parse_graph(text)


def test_symbolic_dims_parse_and_print():
    g = parse_graph("graph f(%x: f32[B,3]) -> (f32[B,3])\n  %0: f32[B,3] = exp(%x)\n  return %0")
    assert g.node(g.inputs[0]).type == TensorType(("B", 3), irgrad.float32)
    verify(g)
    assert "f32[B,3]" in str(g)


def test_to_dot_names_every_node_and_edge():
    g = parse_graph(MLP)
    dot = g.to_dot()
    assert dot.startswith('digraph "forward"')
    assert dot.count("->") == g.nx.number_of_edges() + len(g.outputs)
    assert "matmul" in dot and "f32[4,5]" in dot


def test_a_copy_is_equal_and_independent():
    g = parse_graph(MLP)
    twin = g.copy()
    assert str(twin) == str(g)
    assert sorted(twin.nx.in_edges(keys=True)) == sorted(g.nx.in_edges(keys=True))
    for nid in g.order():
        assert twin.args(nid) == g.args(nid) and twin.node(nid) is not g.node(nid)
    # editing the copy (an edge both ways, a node's attributes) leaves the original as it was
    u, v, key = next(iter(twin.nx.in_edges(g.outputs[0], keys=True)))
    twin.nx.remove_edge(u, v, key=key)
    twin.node(g.order()[-4]).attrs["dims"] = (0, 1)
    assert not twin.nx.has_edge(u, v, key) and not twin.nx.pred[v].get(u)
    assert g.nx.has_edge(u, v, key) and key in g.nx.pred[v][u]
    assert str(g) == MLP
    verify(g)


def test_a_copy_stays_consistent_under_networkx_edits():
    # networkx's add_edge updates the successor side of a multigraph only: a copy must share
    # each pair's edge dict between both sides, as networkx does
    twin = parse_graph(MLP).copy()
    u, v = twin.order()[3], twin.order()[4]
    twin.nx.add_edge(u, v, key=7)
    assert 7 in twin.nx.pred[v][u] and 7 in twin.nx.succ[u][v]
    twin.nx.remove_edge(u, v, key=7)
    assert 7 not in twin.nx.pred[v][u]
