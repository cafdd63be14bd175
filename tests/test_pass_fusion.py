"""The fusion pass: which ops are grouped, the printed result, and random-graph equivalence."""

from __future__ import annotations

import textwrap

import numpy as np
from hypothesis import given, settings
from ir_random import graphs, random_inputs

import irgrad
from irgrad.ir import FUSED, Graph, TensorType, interpret, parse_graph, verify
from irgrad.ops import OPS, Kind, Meta, OpDef
from irgrad.passes import fuse


def ir(text: str):
    return verify(parse_graph(textwrap.dedent(text)))


def check_same_values(g, f, seed: int = 0) -> None:
    xs = random_inputs(g, seed)
    with np.errstate(all="ignore"):  # random graphs may overflow to inf: the same inf both ways
        pairs = list(zip(interpret(g, xs), interpret(f, xs)))
    for want, got in pairs:
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def fused_nodes(g):
    return [n for n in g.op_nodes() if n.op == FUSED]


def test_matmul_bias_relu_epilogue_prints_its_body():
    g = ir("""
        graph f(%x: f32[4,3], param %w: f32[5,3], param %b: f32[5]) -> (f32[4,5])
          %0: f32[3,5] = permute(%w, dims=(1, 0))
          %1: f32[4,5] = matmul(%x, %0)
          %2: f32[4,5] = broadcast_to(%b, shape=(4, 5))
          %3: f32[4,5] = add(%1, %2)
          %4: f32[4,5] = relu(%3)
          %5: f32[] = constant(2.0)
          %6: f32[4,5] = mul(%4, %5)
          return %6
    """)
    f = verify(fuse(g))
    assert str(f) == textwrap.dedent("""\
        graph f(%x: f32[4,3], param %w: f32[5,3], param %b: f32[5]) -> (f32[4,5])
          %0: f32[3,5] = permute(%w, dims=(1, 0))
          %1: f32[4,5] = fused(%x, %0, %b) {
            graph f.fused0(%in0: f32[4,3], %in1: f32[3,5], %in2: f32[5]) -> (f32[4,5])
              %0: f32[4,5] = matmul(%in0, %in1)
              %1: f32[4,5] = broadcast_to(%in2, shape=(4, 5))
              %2: f32[4,5] = add(%0, %1)
              %3: f32[4,5] = relu(%2)
              %4: f32[] = constant(2.0)
              %5: f32[4,5] = mul(%3, %4)
              return %5
          }
          return %1""")
    assert str(parse_graph(str(f))) == str(f)
    check_same_values(g, f)


def test_diamond_is_fused_through_its_common_consumer():
    g = ir("""
        graph f(%x: f32[8]) -> (f32[8])
          %0: f32[8] = exp(%x)
          %1: f32[8] = neg(%0)
          %2: f32[8] = sin(%0)
          %3: f32[8] = add(%1, %2)
          return %3
    """)
    f = verify(fuse(g))
    (node,) = fused_nodes(f)
    assert [n.op for n in node.body.op_nodes()] == ["exp", "neg", "sin", "add"]
    assert len(f) == 2  # %x and the fused node
    check_same_values(g, f)


def test_value_used_outside_ends_the_group():
    g = ir("""
        graph f(%x: f32[8]) -> (f32[8], f32[8])
          %0: f32[8] = exp(%x)
          %1: f32[8] = neg(%0)
          %2: f32[8] = tanh(%1)
          %3: f32[8] = sin(%1)
          return %2, %0
    """)
    f = verify(fuse(g))
    # %0 is an output, so nothing may follow it in a group; %1 has two users (%3 is
    # dead), so a group {%1, %2} or {%1, %3} would leave %1 used outside it.
    assert fused_nodes(f) == []
    chain = ir("""
        graph f(%x: f32[8]) -> (f32[8], f32[8])
          %0: f32[8] = exp(%x)
          %1: f32[8] = neg(%0)
          %2: f32[8] = tanh(%1)
          %3: f32[8] = sin(%2)
          return %3, %0
    """)
    (node,) = fused_nodes(verify(fuse(chain)))
    assert [n.op for n in node.body.op_nodes()] == ["neg", "tanh", "sin"]


def test_independent_siblings_are_not_fused_horizontally():
    g = ir("""
        graph f(%x: f32[8]) -> (f32[8], f32[8])
          %0: f32[8] = exp(%x)
          %1: f32[8] = neg(%x)
          return %0, %1
    """)
    assert str(fuse(g)) == str(g)


def test_reduction_epilogue_but_no_prologue():
    g = ir("""
        graph f(%x: f32[4,6]) -> (f32[4,1])
          %0: f32[4,6] = exp(%x)
          %1: f32[4,1] = sum(%0, dims=(1,), keepdim=True)
          %2: f32[] = constant(6.0)
          %3: f32[4,1] = div(%1, %2)
          %4: f32[4,1] = tanh(%3)
          return %4
    """)
    f = verify(fuse(g))
    (node,) = fused_nodes(f)
    assert [n.op for n in node.body.op_nodes()] == ["sum", "div", "tanh"]
    assert f.node(f.args(node.id)[0]).op == "exp"  # the exp stays outside: sum is the group's entry
    check_same_values(g, f)


def test_one_anchor_per_group():
    g = ir("""
        graph f(%x: f32[4,4], %y: f32[4,4]) -> (f32[4,4])
          %0: f32[4,4] = matmul(%x, %y)
          %1: f32[4,4] = relu(%0)
          %2: f32[4,4] = matmul(%1, %y)
          %3: f32[4,4] = neg(%2)
          return %3
    """)
    f = verify(fuse(g))
    bodies = [[n.op for n in node.body.op_nodes()] for node in fused_nodes(f)]
    assert bodies == [["matmul", "relu"], ["matmul", "neg"]]
    check_same_values(g, f)


def test_broadcast_of_a_group_input_is_absorbed_unless_used_elsewhere():
    g = ir("""
        graph f(%x: f32[4,3], %b: f32[3]) -> (f32[4,3])
          %0: f32[4,3] = broadcast_to(%b, shape=(4, 3))
          %1: f32[4,3] = add(%x, %0)
          return %1
    """)
    f = verify(fuse(g))
    (node,) = fused_nodes(f)
    assert [n.op for n in node.body.op_nodes()] == ["broadcast_to", "add"]
    assert [f.node(a).name for a in f.args(node.id)] == ["b", "x"]  # arguments in order of first use
    shared = ir("""
        graph f(%x: f32[4,3], %b: f32[3]) -> (f32[4,3], f32[4,3])
          %0: f32[4,3] = broadcast_to(%b, shape=(4, 3))
          %1: f32[4,3] = add(%x, %0)
          %2: f32[4,3] = mul(%0, %0)
          return %1, %2
    """)
    assert str(fuse(shared)) == str(shared)


def test_scalar_constants_move_into_the_body():
    g = ir("""
        graph f(%x: f32[4]) -> (f32[4])
          %0: f32[] = constant(3.0)
          %1: f32[4] = constant([1.0, 2.0, 3.0, 4.0])
          %2: f32[4] = mul(%x, %0)
          %3: f32[4] = add(%2, %1)
          return %3
    """)
    f = verify(fuse(g))
    (node,) = fused_nodes(f)
    assert [f.node(a).op for a in f.args(node.id)] == ["input", "constant"]  # the vector stays an argument
    body_constants = [
        node.body.node(n).value for n in node.body.order() if node.body.node(n).op == "constant"
    ]
    assert [c.tolist() for c in body_constants] == [3.0]
    assert len(f) == 3  # %x, the vector constant, the fused node: the scalar left the outer graph
    check_same_values(g, f)


def test_random_ops_are_never_fused(monkeypatch):
    fake = OpDef("test_random", Kind.RANDOM, lambda x: x + 1.0, lambda x: Meta(x.shape, x.dtype))
    monkeypatch.setitem(OPS, "test_random", fake)
    g = ir("""
        graph f(%x: f32[8]) -> (f32[8])
          %0: f32[8] = exp(%x)
          %1: f32[8] = test_random(%0)
          %2: f32[8] = neg(%1)
          return %2
    """)
    f = verify(fuse(g))
    assert str(f) == str(g)


def test_pure_and_deterministic():
    text = """
        graph f(%x: f32[8]) -> (f32[8])
          %0: f32[8] = exp(%x)
          %1: f32[8] = neg(%0)
          return %1
    """
    g = ir(text)
    before = str(g)
    first = fuse(g)
    assert str(g) == before
    assert str(fuse(g)) == str(first)
    assert str(fuse(first)) == str(first)


@settings(max_examples=80, deadline=None)
@given(graphs())
def test_random_graphs_keep_their_values(g):
    f = verify(fuse(g))
    check_same_values(g, f)
    assert str(fuse(f)) == str(f)  # nothing left to fuse
    for node in fused_nodes(f):
        body = node.body
        assert len(body.outputs) == 1 and len(body.inputs) == len(f.args(node.id))
        kinds = [OPS[n.op].kind for n in body.op_nodes()]
        assert sum(k in (Kind.REDUCTION, Kind.MATMUL) for k in kinds) <= 1
        assert all(
            k in (Kind.ELEMENTWISE, Kind.REDUCTION, Kind.MATMUL) or n.op in ("broadcast_to", "reshape")
            for n, k in zip(body.op_nodes(), kinds)
        )
        assert sum(1 for _ in body.op_nodes()) >= 2


def test_long_chain_becomes_one_group():
    g = Graph("chain")
    v = g.add_input("x", TensorType((4,), irgrad.float32))
    for i in range(300):
        v = g.add_op(("neg", "sin", "tanh")[i % 3], [v], {}, TensorType((4,), irgrad.float32))
    g.set_outputs([v])
    f = verify(fuse(g))
    assert len(f) == 2
    check_same_values(g, f)
