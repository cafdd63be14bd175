"""The tracer: graphs recorded from eager code, their inputs, constants and source lines."""

from __future__ import annotations

import numpy as np
import pytest

import irgrad
import irgrad.nn as nn
from irgrad.ir import BUFFER, PARAM, USER, interpret, verify


def _inputs(graph, tensors):
    return [t.detach().numpy() for t in tensors]


def test_module_parameters_and_buffers_become_inputs():
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU())
    model.eval()
    graph = irgrad.trace(model, irgrad.randn(3, 4))
    verify(graph)
    roles = [graph.node(i).role for i in graph.inputs]
    names = [graph.node(i).name for i in graph.inputs]
    assert roles[0] == USER and PARAM in roles and BUFFER in roles
    assert "1.running_mean" in names and "0.weight" in names
    assert all(graph.node(n).op != "constant" or graph.node(n).value.size <= 1 for n in graph.order())


def test_traced_graph_interprets_to_the_eager_result():
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2), nn.LogSoftmax(dim=1))
    x = irgrad.randn(5, 4)
    graph = irgrad.trace(model, x)
    state = [t for _, t in model.named_parameters()]
    (out,) = interpret(graph, _inputs(graph, [x, *state]))
    np.testing.assert_allclose(out, model(x).detach().numpy(), rtol=1e-5, atol=1e-6)


def test_nodes_remember_the_user_source_line():
    def f(x):
        y = x * 2  # the line recorded below
        return y.exp()

    graph = irgrad.trace(f, irgrad.randn(3))
    sources = [n.source for n in graph.op_nodes()]
    assert all(s and s.startswith("test_trace.py:") for s in sources)
    assert len(set(sources)) == 2


def test_tensors_made_inside_become_constants_and_scalars_fold_in():
    def f(x):
        return x + irgrad.tensor([1.0, 2.0, 3.0]) * 0.5

    graph = irgrad.trace(f, irgrad.randn(3))
    verify(graph)
    constants = [graph.node(n) for n in graph.order() if graph.node(n).op == "constant"]
    assert any(c.value.tolist() == [1.0, 2.0, 3.0] for c in constants)


def test_control_flow_on_shapes_is_specialised():
    def f(x):
        if x.shape[0] > 2:
            return x.sum(0)
        return x.mean(0)

    g1 = irgrad.trace(f, irgrad.randn(3, 2))
    g2 = irgrad.trace(f, irgrad.randn(2, 2))
    assert "sum" in str(g1) and "div" in str(g2)


def test_graph_prints_and_dots():
    graph = irgrad.trace(nn.Linear(3, 2), irgrad.randn(4, 3))
    text = str(graph)
    assert text.startswith("graph Linear(%input: f32[4,3], param %weight: f32[2,3], param %bias: f32[2])")
    assert "= linear(%input, %weight, %bias)" in text
    assert "digraph" in graph.to_dot()


def test_nested_tracing_is_refused():
    def inner(x):
        return irgrad.trace(lambda y: y * 2, x)

    with pytest.raises(RuntimeError, match="already active"):
        irgrad.trace(inner, irgrad.randn(2))
