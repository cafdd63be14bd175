"""The forward/backward partition of joint graphs (min-cut rematerialisation).

Every test checks that both graphs verify and that running the forward and then the
backward on its saved values gives what the joint graph gives; the cost-model tests
check what is saved and what is recomputed.
"""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ir_random import graphs, random_inputs
from test_pass_autodiff import conv_net, lstm_cell, mlp, model_graph, model_inputs, programs, run_program

import irgrad
from irgrad.ir import Graph, interpret, parse_graph, verify
from irgrad.ir.builder import GraphOps
from irgrad.ops import OPS
from irgrad.passes import autodiff, partition
from irgrad.passes.partition import NEVER_RECOMPUTED


def split_and_check(joint: Graph, n_out: int, feeds: list[np.ndarray], seed: int = 0) -> tuple[Graph, Graph]:
    """Partition ``joint``, verify both halves and check forward-then-backward == joint."""
    forward, backward = partition(joint, n_out)
    verify(forward)
    verify(backward)
    n_grad_in = len(joint.inputs) - len(forward.inputs)
    assert n_grad_in == n_out
    assert len(backward.inputs) == len(forward.outputs) - n_out + n_grad_in
    assert len(backward.outputs) == len(joint.outputs) - n_out
    irgrad.manual_seed(seed)
    expected = interpret(joint, feeds)
    irgrad.manual_seed(seed)
    fw = interpret(forward, feeds[: len(forward.inputs)])
    bw = interpret(backward, fw[n_out:] + feeds[len(forward.inputs) :])
    for a, e in zip(fw[:n_out] + bw, expected):
        assert a.shape == e.shape and a.dtype == e.dtype
        np.testing.assert_array_equal(a, e)
    assert_no_expensive_recompute(backward, n_grad_in)
    return forward, backward


def assert_no_expensive_recompute(backward: Graph, n_grad_in: int) -> None:
    """Backward nodes not depending on an incoming gradient are recomputations: cheap ops only."""
    grad_inputs = backward.inputs[len(backward.inputs) - n_grad_in :]
    dependent = set(grad_inputs).union(*(nx.descendants(backward.nx, i) for i in grad_inputs))
    for node in backward.op_nodes():
        if node.id not in dependent:
            assert OPS[node.op].kind not in NEVER_RECOMPUTED, f"backward recomputes {node.op}"


def ops_of(g: Graph) -> list[str]:
    return [n.op for n in g.op_nodes()]


def test_cheap_elementwise_chain_is_recomputed_from_the_saved_matmul():
    # y = sum(exp(tanh(x @ w))).  The backward reads exp's output and 1 - tanh^2, two
    # [8,32] values, plus x and w for the matmul's gradient.  Saving the matmul result (one
    # [8,32] value; a matmul is never recomputed anyway) and recomputing tanh and exp
    # halves what is kept; x and w are forward inputs, saved as they are rather than
    # as their (equally large) transposes.
    g = parse_graph("""
    graph f(%x: f32[8,16], param %w: f32[16,32]) -> (f32[])
      %0: f32[8,32] = matmul(%x, %w)
      %1: f32[8,32] = tanh(%0)
      %2: f32[8,32] = exp(%1)
      %3: f32[] = sum(%2, dims=(0, 1), keepdim=False)
      return %3
    """)
    joint = autodiff(g)
    rng = np.random.default_rng(0)
    feeds = [
        rng.standard_normal((8, 16)).astype(np.float32),
        rng.standard_normal((16, 32)).astype(np.float32),
        np.array(1.0, np.float32),
    ]
    forward, backward = split_and_check(joint, 1, feeds)
    assert str(forward) == str(
        parse_graph("""
    graph forward(%x: f32[8,16], param %w: f32[16,32]) -> (f32[], f32[8,16], f32[16,32], f32[8,32])
      %0: f32[8,32] = matmul(%x, %w)
      %1: f32[8,32] = tanh(%0)
      %2: f32[8,32] = exp(%1)
      %3: f32[] = sum(%2, dims=(0, 1), keepdim=False)
      return %3, %x, %w, %0
    """)
    )
    assert [backward.node(i).name for i in backward.inputs] == ["x", "w", "saved2", "grad_out0"]
    assert ops_of(backward).count("tanh") == 1 and ops_of(backward).count("exp") == 1  # recomputed
    assert ops_of(backward).count("matmul") == 2  # the two gradient matmuls, no recomputed forward one


def test_random_ops_are_never_duplicated():
    # y = sum(x * u) with u uniform noise of x's shape: the backward needs u, and
    # recomputing it would be as cheap as saving it, but it must be drawn exactly once.
    g = Graph("f")
    F = GraphOps(g)
    x = F.input("x", (4, 5), irgrad.float64)
    noise = F.uniform(shape=(4, 5), dtype=irgrad.float64)
    g.set_outputs([F.sum(F.mul(F.mul(x, noise), F.tanh(noise)), dims=(0, 1), keepdim=False).id])
    joint = autodiff(verify(g))
    rng = np.random.default_rng(1)
    forward, backward = split_and_check(joint, 1, [rng.standard_normal((4, 5)), np.array(2.0)])
    assert ops_of(forward).count("uniform") == 1
    assert "uniform" not in ops_of(backward)
    assert any(forward.node(o).op == "uniform" for o in forward.outputs[1:])  # the noise is saved


def test_backward_that_needs_nothing_saves_nothing():
    g = parse_graph("""
    graph f(%x: f64[3,4]) -> (f64[])
      %0: f64[] = constant(2.5)
      %1: f64[3,4] = mul(%x, %0)
      %2: f64[] = sum(%1, dims=(0, 1), keepdim=False)
      return %2
    """)
    forward, backward = split_and_check(autodiff(g), 1, [np.ones((3, 4)), np.array(3.0)])
    assert len(forward.outputs) == 1
    assert [backward.node(i).name for i in backward.inputs] == ["grad_out0"]


def test_zero_gradient_of_unused_input_and_saved_forward_output():
    # exp's gradient reads its output; y = exp(x) is also a forward output.  The unused
    # input u gets full_like(u) zeros, computed in the backward from the saved u.
    g = parse_graph("""
    graph f(%x: f64[3], %u: f64[2]) -> (f64[3])
      %0: f64[3] = exp(%x)
      return %0
    """)
    rng = np.random.default_rng(2)
    feeds = [rng.standard_normal(3), rng.standard_normal(2), rng.standard_normal(3)]
    forward, backward = split_and_check(autodiff(g), 1, feeds)
    assert "full_like" in ops_of(backward) and "full_like" not in ops_of(forward)


@pytest.mark.parametrize("model", [mlp, conv_net, lstm_cell], ids=lambda m: m.__name__)
def test_models_split_into_equivalent_forward_and_backward(model):
    rng = np.random.default_rng(3)
    arrays = model_inputs(rng)[model]
    g = model_graph(model, arrays)
    gouts = [rng.standard_normal(g.node(o).type.shape) for o in g.outputs]
    forward, backward = split_and_check(autodiff(g), len(g.outputs), arrays + gouts)
    assert not any(forward.node(n).name and "grad_out" in forward.node(n).name for n in forward.inputs)


def test_second_order_joint_graph_partitions():
    rng = np.random.default_rng(4)
    arrays = model_inputs(rng)[mlp]
    g = model_graph(mlp, arrays)
    joint = autodiff(g)
    twice = autodiff(joint, wrt=[1, 2])
    n_out = len(joint.outputs)  # the loss and its gradients are the forward outputs now
    feeds = arrays + [np.array(1.0)] + [np.array(0.0)] + [rng.standard_normal(a.shape) for a in arrays]
    assert len(twice.inputs) == len(feeds)
    split_and_check(twice, n_out, feeds)


@settings(max_examples=30, deadline=None)
@given(program=programs, seed=st.integers(0, 2**16))
def test_random_programs_split_into_equivalent_graphs(program, seed):
    rng = np.random.default_rng(seed)
    g = Graph("program")
    F = GraphOps(g)
    outs = run_program(F, program, F.input("x", (3, 4), irgrad.float64), F.input("b", (4,), irgrad.float64))
    g.set_outputs([o.id for o in outs])
    feeds = [rng.standard_normal((3, 4)), rng.standard_normal(4)]
    feeds += [rng.standard_normal(g.node(o).type.shape) for o in g.outputs]
    split_and_check(autodiff(g), len(g.outputs), feeds)


@settings(max_examples=40, deadline=None)
@given(g=graphs(), seed=st.integers(0, 2**16))
def test_random_ir_graphs_split_into_equivalent_graphs(g, seed):
    rng = np.random.default_rng(seed)
    feeds = random_inputs(g, rng)
    feeds += [rng.standard_normal(g.node(o).type.shape).astype(np.float32) for o in g.outputs]
    with np.errstate(all="ignore"):
        split_and_check(autodiff(g), len(g.outputs), feeds)


def test_bad_layout_is_rejected():
    g = parse_graph("""
    graph f(%x: f64[3]) -> (f64[3])
      %0: f64[3] = exp(%x)
      return %0
    """)
    joint = autodiff(g)
    with pytest.raises(ValueError, match="cannot take 5 incoming gradients"):
        partition(joint, 1, n_grad_inputs=5)
    with pytest.raises(ValueError, match="depends on an incoming gradient"):
        partition(joint, 2)
