"""Symbolic tracing with irgrad.fx: leaves, parameters and constants, control flow errors,
concrete_args and wrap; a traced module trains, keeps its state_dict and compiles; and
random chains of tensor ops, methods and functional calls traced into GraphModules whose
outputs and gradients equal the module's (compared with torch.fx where installed)."""

import gc
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import irgrad
from irgrad import fx, nn
from irgrad.nn import functional as F


def _double_it(x):
    return x * 2


fx.wrap("_double_it")


class _Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(4, 4)
        self.register_buffer("shift", irgrad.ones(4))
        self.const = irgrad.full((4,), 0.5)

    def forward(self, x):
        h = F.gelu(self.lin(x)) + self.shift
        return _double_it(h) * self.const + math.sqrt(x.shape[1])


def test_trace_nodes_and_code():
    gm = fx.symbolic_trace(_Block())
    assert [(n.op, n.name) for n in gm.graph.nodes] == [
        ("placeholder", "x"),
        ("call_module", "lin"),
        ("call_function", "gelu"),
        ("get_attr", "shift"),
        ("call_function", "add"),
        ("call_function", "_double_it"),
        ("get_attr", "const"),
        ("call_function", "mul"),
        ("call_function", "getattr_1"),
        ("call_function", "getitem"),
        ("call_function", "sqrt"),
        ("call_function", "add_1"),
        ("output", "output"),
    ]
    assert "gelu = irgrad.nn.functional.gelu(lin)" in gm.code
    assert "_double_it = test_fx_trace__double_it(add)" in gm.code.replace("tests_", "")
    assert "sqrt = math_sqrt(getitem)" in gm.code
    block = _Block()
    gm = fx.symbolic_trace(block)
    x = irgrad.randn(3, 4)
    np.testing.assert_allclose(gm(x).detach().numpy(), block(x).detach().numpy(), rtol=1e-6)


def test_control_flow_and_len_raise_as_torch():
    def branch(x):
        if x.sum() > 0:
            return x
        return -x

    with pytest.raises(
        fx.TraceError, match="symbolically traced variables cannot be used as inputs to control flow"
    ):
        fx.symbolic_trace(branch)
    with pytest.raises(fx.TraceError, match="Proxy object cannot be iterated"):
        fx.symbolic_trace(lambda x: [v for v in x])
    with pytest.raises(RuntimeError, match="'len' is not supported in symbolic tracing by default"):
        fx.symbolic_trace(lambda x: len(x))
    a, b = None, None

    def unpack(x):
        first, second = x
        return first + second

    gm = fx.symbolic_trace(unpack)
    assert [n.name for n in gm.graph.nodes] == ["x", "getitem", "getitem_1", "add", "output"]
    assert a is b is None


def test_concrete_args_specialize_and_assert():
    def f(x, flag):
        return x * 2 if flag else x

    gm = fx.symbolic_trace(f, concrete_args={"flag": True})
    assert [n.name for n in gm.graph.nodes] == ["x", "flag_1", "eq", "_assert", "mul", "output"]
    np.testing.assert_allclose(gm(irgrad.ones(2), True).numpy(), [2.0, 2.0])
    with pytest.raises(AssertionError, match="flag has been specialized to have value True"):
        gm(irgrad.ones(2), False)


def test_leaf_modules_and_non_leaf_sequential():
    class Custom(nn.Module):
        def __init__(self):
            super().__init__()
            self.seq = nn.Sequential(nn.Linear(2, 2), nn.ReLU())

        def forward(self, x):
            return self.seq(x).softmax(-1)

    gm = fx.symbolic_trace(Custom())
    assert [(n.op, n.target) for n in gm.graph.nodes][1:4] == [
        ("call_module", "seq.0"),
        ("call_module", "seq.1"),
        ("call_method", "softmax"),
    ]


def test_traced_module_trains_and_keeps_state():
    irgrad.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 1))

    class Wrapper(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = net

        def forward(self, x):
            return self.net(x).squeeze(-1)

    gm = fx.symbolic_trace(Wrapper())
    assert list(gm.state_dict()) == list(Wrapper().state_dict())
    x, y = irgrad.randn(16, 3), irgrad.randn(16)
    opt = irgrad.optim.SGD(gm.parameters(), lr=0.1)
    losses = []
    for _ in range(20):
        opt.zero_grad()
        loss = ((gm(x) - y) ** 2).mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
    np.testing.assert_allclose(gm(x).detach().numpy(), net(x).squeeze(-1).detach().numpy())


def test_compiled_graph_module_equals_eager(backend):
    gm = fx.symbolic_trace(_Block())
    compiled = irgrad.compile(gm, backend=backend)
    x = irgrad.randn(5, 4, requires_grad=True)
    np.testing.assert_allclose(compiled(x).detach().numpy(), gm(x).detach().numpy(), rtol=1e-5, atol=1e-6)
    compiled(x).sum().backward()
    ours = x.grad.numpy().copy()
    x.grad = None
    gm(x).sum().backward()
    np.testing.assert_allclose(ours, x.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_no_interception_once_proxies_are_gone():
    # (Proxies an earlier test left in a reference cycle keep the wrappers until the
    # cyclic collector frees them: collected first, so that only this trace counts)
    gc.collect()
    fx.symbolic_trace(_Block())
    assert type(irgrad.relu).__name__ == "function" and type(F.relu).__name__ == "function"


# --- random chains ----------------------------------------------------------------------------

STEPS = {
    "tanh": lambda t, x: t.tanh(x),
    "sigmoid_method": lambda t, x: x.sigmoid(),
    "relu_functional": lambda t, x: t.nn.functional.relu(x),
    "mul_scalar": lambda t, x: x * 1.5,
    "rsub": lambda t, x: 1.0 - x,
    "add_self": lambda t, x: x + x.exp().neg(),
    "sum_keepdim": lambda t, x: x - x.sum(dim=-1, keepdim=True),
    "transpose_back": lambda t, x: x.transpose(0, 1).contiguous().transpose(0, 1),
    "softmax": lambda t, x: t.softmax(x, -1),
    "getitem_cat": lambda t, x: t.cat([x[:, :1], x[:, 1:]], dim=1),
    "linear": lambda t, x: t.nn.functional.linear(x, x[:3, :3].t()),
    "matmul": lambda t, x: x @ x.T[:, :3] * 0.1,
    # (contiguous first: after transpose_back x is a transposed copy, which view refuses)
    "view": lambda t, x: x.contiguous().view(-1).view(x.shape[0], 3),
    "pow": lambda t, x: (x**2 + 1).sqrt(),
}


def _chain_module(library, steps):
    class Chain(library.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = library.nn.Linear(3, 3)

        def forward(self, x):
            x = self.lin(x)
            for step in steps:
                x = STEPS[step](library, x)
            return x

    return Chain()


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from(sorted(STEPS)), min_size=1, max_size=6), st.integers(0, 2**16))
def test_random_chains_trace_to_equal_outputs_and_gradients(steps, seed):
    irgrad.manual_seed(seed)
    module = _chain_module(irgrad, steps)
    gm = fx.symbolic_trace(module)
    data = np.random.default_rng(seed).standard_normal((4, 3)).astype(np.float32)
    outs = []
    for m in (module, gm):
        x = irgrad.tensor(data, requires_grad=True)
        m.zero_grad()
        out = m(x)
        (out * irgrad.linspace(-1, 1, 3)).sum().backward()
        outs.append((out.detach().numpy(), x.grad.numpy(), m.lin.weight.grad.numpy()))
    for a, b in zip(*outs):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


@settings(max_examples=15, deadline=None)
@given(st.lists(st.sampled_from(sorted(STEPS)), min_size=1, max_size=5))
def test_random_chains_give_torch_fx_code(steps):
    torch = pytest.importorskip("torch")

    ours = fx.symbolic_trace(_chain_module(irgrad, steps)).code.replace("irgrad.", "torch.")
    theirs = torch.fx.symbolic_trace(_chain_module(torch, steps)).code
    # torch.nn.functional.linear is bound from C++: torch.fx writes its C++ module
    assert ours == theirs.replace("torch._C._nn.linear", "torch.nn.functional.linear")
