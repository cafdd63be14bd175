"""pytorch/examples' fx demos (tests/fx_demos.py) run with irgrad and with torch 2.13: the
same generated code (``irgrad.`` read as ``torch.``), graphs, node lists and results."""

import fx_demos as D
import numpy as np
import pytest


@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


def _both(source, torch):
    return D.load(source, "torch"), D.load(source, "irgrad")


def _nodes(graph):
    """(op, target's name, args' structure) of each node."""

    def name(t):
        return t if isinstance(t, str) else t.__name__

    return [
        (n.op, name(n.target), D.as_torch(str(n.args)), D.as_torch(str(n.kwargs)), n.name)
        for n in graph.nodes
    ]


def _same_code(theirs, ours):
    assert D.as_torch(ours) == theirs


def test_custom_tracer(torch):
    t, i = _both(D.CUSTOM_TRACER, torch)
    _same_code(t.default_traced.code, i.default_traced.code)
    assert _nodes(i.default_traced.graph) == _nodes(t.default_traced.graph)
    # ReLU traced through: F.relu(x, inplace=False) in both
    assert D.as_torch(str(i.custom_traced_graph)) == str(t.custom_traced_graph)
    assert _nodes(i.tagged_graph) == _nodes(t.tagged_graph)
    assert i.all_tagged is t.all_tagged is True


def test_inline_function(torch):
    t, i = _both(D.INLINE_FUNCTION, torch)
    _same_code(t.code_before, i.code_before)
    _same_code(t.m.code, i.m.code)
    assert _nodes(i.m.graph) == _nodes(t.m.graph)
    x = np.linspace(-2, 2, 12, dtype=np.float32).reshape(3, 4)
    np.testing.assert_allclose(i.m(i.torch.tensor(x)).numpy(), t.m(torch.tensor(x)).numpy())


def test_invert(torch):
    t, i = _both(D.INVERT, torch)
    # irgrad.arctan is irgrad.atan (one function): the node is named atan (docs/pytorch-differences.md)
    _same_code(t.res.code.replace("arctan", "atan"), i.res.code)
    np.testing.assert_allclose(i.roundtrip.numpy(), t.roundtrip.numpy(), rtol=1e-5)
    np.testing.assert_allclose(i.roundtrip.numpy(), [1, 2, 3, 4, 5], rtol=1e-5)


def test_module_tracer(torch):
    t, i = _both(D.MODULE_TRACER, torch)
    assert D.as_torch(str(i.traced_rn)) == str(t.traced_rn)
    assert _nodes(i.traced_rn) == _nodes(t.traced_rn)
    assert i.origins == t.origins
    assert ("add", "layer1.0") in i.origins and (
        "layer2_0_downsample_0",
        "layer2.0.downsample.0",
    ) in i.origins


def test_module_tracer_graph_module_runs_the_network(torch):
    i = D.load(D.MODULE_TRACER, "irgrad")
    irgrad = i.torch
    gm = irgrad.fx.GraphModule(i.rn, i.traced_rn)
    x = irgrad.randn(2, 3, 8, 8)
    i.rn.eval()
    gm.eval()
    np.testing.assert_allclose(gm(x).detach().numpy(), i.rn(x).detach().numpy(), rtol=1e-5, atol=1e-6)
    assert gm.state_dict().keys() == i.rn.state_dict().keys()


def test_primitive_library(torch):
    t, i = _both(D.PRIMITIVE_LIBRARY, torch)
    for attr in ("code_wrapped", "code_inlined", "code_tracer_inlined"):
        _same_code(getattr(t, attr), getattr(i, attr))
    assert 'irgrad.fx._symbolic_trace.wrap("fx_demo_sigmoid_lowp")' in i.code_wrapped
    assert _nodes(i.module.graph) == _nodes(t.module.graph)
    x, y = np.float32([[0.5, -1.0]]), np.float32([[2.0, 0.25]])
    ours = i.module(i.torch.tensor(x), i.torch.tensor(y))
    theirs = t.module(torch.tensor(x), torch.tensor(y))
    assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1] == "float16"
    np.testing.assert_allclose(ours.float().numpy(), theirs.float().numpy())


def test_proxy_based_graph_creation(torch):
    t, i = _both(D.PROXY_BASED_GRAPH_CREATION, torch)
    _same_code(t.mod.code, i.mod.code)
    assert _nodes(i.graph) == _nodes(t.graph)
    x, y = np.float32([[1.0, -2.0]]), np.float32([[0.5, 3.0]])
    np.testing.assert_allclose(
        i.mod(i.torch.tensor(x), i.torch.tensor(y)).numpy(),
        t.mod(torch.tensor(x), torch.tensor(y)).numpy(),
        rtol=1e-6,
    )


def test_replace_op(torch):
    t, i = _both(D.REPLACE_OP, torch)
    _same_code(t.traced.code, i.traced.code)
    x, y = np.int64([6, 5, 12]), np.int64([3, 4, 10])
    ours = i.traced(i.torch.tensor(x), i.torch.tensor(y))
    theirs = t.traced(torch.tensor(x), torch.tensor(y))
    for a, b in zip(ours, theirs):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_subgraph_rewriter(torch):
    t, i = _both(D.SUBGRAPH_REWRITER, torch)
    _same_code(t.code_before, i.code_before)
    _same_code(t.traced.code, i.traced.code)
    assert len(i.matches) == len(t.matches) == 2
    assert [m.anchor.name for m in i.matches] == [m.anchor.name for m in t.matches]
    x, w1, w2 = (np.float32(np.arange(k, k + 3)) for k in (0, 1, 2))
    ours = i.traced(*(i.torch.tensor(a) for a in (x, w1, w2)))
    theirs = t.traced(*(torch.tensor(a) for a in (x, w1, w2)))
    np.testing.assert_allclose(ours.numpy(), theirs.numpy())


def test_wrap_output_dynamically(torch):
    t, i = _both(D.WRAP_OUTPUT_DYNAMICALLY, torch)
    _same_code(t.traced.code, i.traced.code)
    assert _nodes(i.traced.graph) == _nodes(t.traced.graph)
