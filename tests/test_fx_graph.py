"""irgrad.fx without torch: graphs built by hand, their generated code (texts torch.fx 2.13
generates for the same graphs), editing, lint and dead code elimination, GraphModule's
attributes, and Interpreter/Transformer/ShapeProp against direct module calls."""

import copy
import operator

import numpy as np
import pytest

import irgrad
from irgrad import fx, nn
from irgrad.fx.passes.shape_prop import ShapeProp


def _graph_xy():
    g = fx.Graph()
    x, y = g.placeholder("x"), g.placeholder("y")
    return g, x, y


def test_hand_built_graph_code_and_names():
    g, x, y = _graph_xy()
    a = g.call_function(operator.add, (x, y))
    b = g.call_function(operator.add, (a, 1.0))
    c = g.call_method("sum", (b,), {"dim": 1})
    d = g.call_function(irgrad.relu, (c,))
    g.output((d, [a]))
    gm = fx.GraphModule(nn.Module(), g)
    assert gm.code == (
        "\n\n\ndef forward(self, x, y):\n"
        "    add = x + y;  x = y = None\n"
        "    add_1 = add + 1.0\n"
        "    sum_1 = add_1.sum(dim = 1);  add_1 = None\n"
        "    relu = irgrad.relu(sum_1);  sum_1 = None\n"
        "    return (relu, [add])\n    "
    )
    assert [n.name for n in g.nodes] == ["x", "y", "add", "add_1", "sum_1", "relu", "output"]
    assert str(g) == (
        "graph():\n"
        "    %x : [num_users=1] = placeholder[target=x]\n"
        "    %y : [num_users=1] = placeholder[target=y]\n"
        "    %add : [num_users=2] = call_function[target=operator.add](args = (%x, %y), kwargs = {})\n"
        "    %add_1 : [num_users=1] = call_function[target=operator.add](args = (%add, 1.0), kwargs = {})\n"
        "    %sum_1 : [num_users=1] = call_method[target=sum](args = (%add_1,), kwargs = {dim: 1})\n"
        "    %relu : [num_users=1] = call_function[target=irgrad.relu](args = (%sum_1,), kwargs = {})\n"
        "    return (relu, [add])"
    )
    ones = irgrad.ones(2, 3)
    out, (added,) = gm(ones, ones)
    np.testing.assert_allclose(out.numpy(), [9.0, 9.0])
    np.testing.assert_allclose(added.numpy(), np.full((2, 3), 2.0))


def test_names_avoid_builtins_and_clean_paths():
    g = fx.Graph()
    x = g.placeholder("x")
    nodes = [g.create_node("call_method", "float", (x,)), g.create_node("call_method", "__len__", (x,))]
    nodes.append(g.call_function(getattr, (x, "shape")))
    nodes.append(g.create_node("get_attr", "layer1.0.weight"))
    nodes.append(g.create_node("call_method", "camelCase", (x,)))
    assert [n.name for n in nodes] == ["float_1", "len_1", "getattr_1", "layer1_0_weight", "camel_case"]


def test_inserting_replace_erase_and_dce():
    g, x, y = _graph_xy()
    a = g.call_function(operator.mul, (x, y))
    dead = g.call_function(operator.neg, (a,))
    g.output(a)
    with g.inserting_after(a):
        b = g.call_function(operator.add, (a, a))
    assert [n.name for n in g.nodes] == ["x", "y", "mul", "add", "neg", "output"]
    a.replace_all_uses_with(b, delete_user_cb=lambda user: user is not b)
    assert g.output_node.args == (b,) and dead.args == (b,) and list(a.users) == [b]
    with pytest.raises(RuntimeError, match="Tried to erase Node mul but it still had 1 users"):
        g.erase_node(a)
    assert g.eliminate_dead_code() is True
    assert [n.name for n in g.nodes] == ["x", "y", "mul", "add", "output"]
    assert g.eliminate_dead_code() is False
    with g.inserting_before(b):
        c = g.call_function(operator.sub, (x, 1))
    assert list(g.nodes)[3] is c and len(g.nodes) == 6
    assert [n.name for n in reversed(g.nodes)] == ["output", "add", "sub", "mul", "y", "x"]


def test_lint_errors():
    g, x, y = _graph_xy()
    a = g.call_function(operator.add, (x, y))
    g.output(a)
    g.lint()
    with g.inserting_before(a):
        g.call_function(operator.neg, (a,))
    with pytest.raises(
        RuntimeError, match="Argument 'add' of Node 'neg' was used before it has been defined"
    ):
        g.lint()
    other = fx.Graph()
    z = other.placeholder("z")
    g2, x2, _ = _graph_xy()
    g2.call_function(operator.neg, (z,))
    with pytest.raises(RuntimeError, match="does not belong to this Graph"):
        g2.lint()
    root = nn.Module()
    root.relu = nn.ReLU()
    g3 = fx.Graph()
    g3.output(g3.call_module("relu", (g3.placeholder("x"),)))
    gm = fx.GraphModule(root, g3)
    with pytest.warns(UserWarning, match="no underlying reference"):
        gm.graph.call_module("missing", ())
    with pytest.raises(RuntimeError, match="references nonexistent attribute missing"):
        gm.graph.lint()


def test_map_arg_and_node_args():
    g, x, y = _graph_xy()
    n = g.call_function(irgrad.cat, ([x, y],), {"dim": 0})
    assert n.all_input_nodes == [x, y]
    assert fx.map_arg(((x, [y, 3]), {"k": slice(x, None)}), lambda v: v.name) == (
        ("x", ["y", 3]),
        {"k": slice("x", None)},
    )
    n.args = ([y, y],)
    assert list(x.users) == [] and n.all_input_nodes == [y]
    n.update_kwarg("dim", 1)
    assert n.kwargs == {"dim": 1}


def test_graph_module_copies_attributes_and_recompiles():
    root = nn.Module()
    root.seq = nn.Sequential(nn.Linear(3, 2))
    root.register_buffer("scale", irgrad.tensor([2.0, 3.0]))
    g = fx.Graph()
    x = g.placeholder("x")
    h = g.call_module("seq.0", (x,))
    s = g.get_attr("scale")
    g.output(g.call_function(operator.mul, (h, s)))
    gm = fx.GraphModule(root, g, class_name="Scaled")
    assert type(gm).__name__ == "Scaled" and type(gm) is not type(fx.GraphModule(root, g))
    assert gm.get_submodule("seq.0") is root.seq[0] and type(gm.seq) is nn.Module
    assert set(gm.state_dict()) == {"seq.0.weight", "seq.0.bias", "scale"}
    x_val = irgrad.randn(4, 3)
    expected = root.seq(x_val) * root.scale
    np.testing.assert_allclose(gm(x_val).detach().numpy(), expected.detach().numpy(), rtol=1e-6)
    mul = next(n for n in gm.graph.nodes if n.target is operator.mul)
    mul.target = operator.add
    gm.recompile()
    assert "mul = seq_0 + scale;" in gm.code
    clone = copy.deepcopy(gm)
    assert clone.code == gm.code and clone.get_submodule("seq.0") is not gm.get_submodule("seq.0")
    np.testing.assert_allclose(clone(x_val).detach().numpy(), gm(x_val).detach().numpy(), rtol=1e-6)
    assert "class Scaled(irgrad.nn.Module):" in gm.print_readable(print_output=False)


def test_graph_module_from_dict_and_submodule_edits():
    g = fx.Graph()
    x = g.placeholder("x")
    g.output(g.call_module("a.b", (x,)))
    gm = fx.GraphModule({"a.b": nn.ReLU()}, g)
    assert isinstance(gm.a.b, nn.ReLU)
    assert gm.add_submodule("c.d", nn.Tanh()) and isinstance(gm.c.d, nn.Tanh)
    gm.delete_all_unused_submodules()
    assert not hasattr(gm, "c") and hasattr(gm.a, "b")
    with pytest.raises(RuntimeError, match="referenced target a.b but that target was not provided"):
        fx.GraphModule({}, g)


def test_print_tabular(capsys):
    g, x, y = _graph_xy()
    g.output(g.call_function(operator.add, (x, y)))
    g.print_tabular()
    assert [line.rstrip() for line in capsys.readouterr().out.splitlines()] == [
        "opcode         name    target                   args    kwargs",
        "-------------  ------  -----------------------  ------  --------",
        "placeholder    x       x                        ()      {}",
        "placeholder    y       y                        ()      {}",
        "call_function  add     <built-in function add>  (x, y)  {}",
        "output         output  output                   (add,)  {}",
    ]


class _Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(4, 3)

    def forward(self, x):
        return irgrad.relu(self.lin(x)).sum(dim=-1) * 2


def test_interpreter_equals_the_module_and_sees_every_node():
    net = _Net()
    gm = fx.symbolic_trace(net)
    x = irgrad.randn(5, 4)
    seen = []

    class Recording(fx.Interpreter):
        def run_node(self, n):
            seen.append(n.op)
            return super().run_node(n)

    np.testing.assert_allclose(Recording(gm).run(x).detach().numpy(), net(x).detach().numpy(), rtol=1e-6)
    assert seen == ["placeholder", "call_module", "call_function", "call_method", "call_function", "output"]
    assert fx.Interpreter(gm).boxed_run([x]).shape == (5,)


def test_transformer_rewrites_calls():
    gm = fx.symbolic_trace(_Net())

    class ReluToSigmoid(fx.Transformer):
        def call_function(self, target, args, kwargs):
            if target == irgrad.relu:  # (irgrad.relu is a wrapper while Proxies live: == holds, not is)
                target = irgrad.sigmoid
            return super().call_function(target, args, kwargs)

    new = ReluToSigmoid(gm).transform()
    assert "irgrad.sigmoid(lin)" in new.code
    x = irgrad.randn(2, 4)
    expected = irgrad.sigmoid(gm.lin(x)).sum(dim=-1) * 2
    np.testing.assert_allclose(new(x).detach().numpy(), expected.detach().numpy(), rtol=1e-6)


def test_shape_prop():
    gm = fx.symbolic_trace(_Net())
    ShapeProp(gm).propagate(irgrad.randn(5, 4))
    meta = {n.name: n.meta.get("tensor_meta") for n in gm.graph.nodes}
    assert meta["lin"].shape == (5, 3) and meta["sum_1"].shape == (5,)
    assert meta["mul"].dtype is irgrad.float32 and meta["mul"].requires_grad
