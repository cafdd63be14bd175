"""Module.to_empty and the global registration hooks
(``nn.modules.module.register_module_{parameter,buffer,module}_registration_hook``)
against PyTorch: which registrations the hooks see, in what order, with what values,
and a hook's replacement value."""

from __future__ import annotations

import numpy as np
import pytest
from torch_parity import raises_like_torch

import irgrad

torch = pytest.importorskip("torch")


def _describe(value) -> str:
    if value is None:
        return "None"
    if isinstance(value, (torch.nn.Module, irgrad.nn.Module)):
        return type(value).__name__
    kind = "Parameter" if isinstance(value, (torch.nn.Parameter, irgrad.nn.Parameter)) else "Tensor"
    return f"{kind}{tuple(value.shape)}"


def _record(lib, build) -> list:
    """Every registration ``build(lib)`` makes, as the three global hooks see them."""
    mm = lib.nn.modules.module
    seen: list = []

    def hook(kind):
        return lambda module, name, value: seen.append((kind, type(module).__name__, name, _describe(value)))

    handles = [
        mm.register_module_parameter_registration_hook(hook("parameter")),
        mm.register_module_buffer_registration_hook(hook("buffer")),
        mm.register_module_module_registration_hook(hook("module")),
    ]
    try:
        build(lib)
    finally:
        for h in handles:
            h.remove()
    return seen


def _build_model(lib):
    n = lib.nn

    class Net(n.Module):
        def __init__(self):
            super().__init__()
            self.body = n.Sequential(n.Linear(3, 4), n.BatchNorm1d(4), n.ReLU())
            self.heads = n.ModuleList([n.Linear(4, 2)])
            self.heads.append(n.Linear(4, 1))
            self.register_buffer("scale", lib.ones(2), persistent=False)
            self.register_parameter("gain", None)
            self.register_module("extra", None)

    net = Net()
    net.scale = lib.zeros(2)  # reassigning a buffer registers it again
    net.extra = n.Identity()
    net.extra = None
    net.gain = n.Parameter(lib.ones(1))
    net.body[0] = n.Linear(3, 4)
    return net


def _build_load_assign(lib):
    net = lib.nn.Sequential(lib.nn.Linear(2, 2), lib.nn.BatchNorm1d(2))
    state = {k: v.clone() for k, v in net.state_dict().items()}
    state["0.weight"] = lib.nn.Parameter(state["0.weight"], requires_grad=False)
    net.load_state_dict(state, assign=True)
    return net


@pytest.mark.parametrize("build", [_build_model, _build_load_assign])
def test_registration_hooks_see_what_pytorch_hooks_see(build) -> None:
    assert _record(irgrad, build) == _record(torch, build)


def test_load_state_dict_assign_keeps_a_parameter_given_and_its_requires_grad() -> None:
    for lib in (irgrad, torch):
        net = lib.nn.Linear(2, 2)
        new = lib.nn.Parameter(lib.ones(2, 2), requires_grad=False)
        net.load_state_dict({"weight": new, "bias": lib.zeros(2)}, assign=True)
        assert net.weight is new and net.weight.requires_grad
        assert isinstance(net.bias, lib.nn.Parameter) and net.bias.requires_grad


def test_registration_hooks_replace_values_in_registration_order() -> None:
    def build(lib):
        mm = lib.nn.modules.module
        calls: list = []

        def double(module, name, param):
            calls.append(("double", name))
            return lib.nn.Parameter(param.detach() * 2)

        def count(module, name, param):
            calls.append(("count", name))  # returns None: the value stays

        handles = [
            mm.register_module_parameter_registration_hook(double),
            mm.register_module_parameter_registration_hook(count),
            mm.register_module_buffer_registration_hook(lambda m, n, b: None if b is None else b + 1),
            mm.register_module_module_registration_hook(
                lambda m, n, sub: lib.nn.Tanh() if isinstance(sub, lib.nn.ReLU) else None
            ),
        ]
        try:
            layer = lib.nn.Module()
            layer.w = lib.nn.Parameter(lib.ones(2))
            layer.register_buffer("b", lib.zeros(3))
            layer.act = lib.nn.ReLU()
            layer.add_module("other", lib.nn.Sigmoid())
        finally:
            for h in handles:
                h.remove()
        layer.v = lib.nn.Parameter(lib.ones(1))  # after remove(): no hook runs
        return calls, layer

    (mine_calls, mine), (their_calls, theirs) = build(irgrad), build(torch)
    assert mine_calls == their_calls == [("double", "w"), ("count", "w")]
    for name in ("w", "b", "v"):
        np.testing.assert_array_equal(
            getattr(mine, name).detach().numpy(), getattr(theirs, name).detach().numpy()
        )
    assert [type(m).__name__ for m in mine.children()] == [type(m).__name__ for m in theirs.children()]
    assert type(mine.act).__name__ == "Tanh"


def test_to_empty_keeps_parameters_and_shapes() -> None:
    def build(lib):
        lib.manual_seed(0)
        net = lib.nn.Sequential(lib.nn.Linear(3, 4), lib.nn.BatchNorm1d(4)).double()
        net(lib.randn(5, 3, dtype=lib.float64)).sum().backward()
        return net

    for lib in (irgrad, torch):
        net = build(lib)
        params = {k: p for k, p in net.named_parameters()}
        before = {k: (tuple(t.shape), str(t.dtype).split(".")[-1]) for k, t in net.state_dict().items()}
        assert net.to_empty(device="cpu") is net
        after = {k: (tuple(t.shape), str(t.dtype).split(".")[-1]) for k, t in net.state_dict().items()}
        assert after == before
        for k, p in net.named_parameters():
            assert p is params[k] and p.requires_grad and p.grad.shape == p.shape
        net[0].reset_parameters()  # the materialize-then-initialize idiom
        assert float(net[0].weight.detach().abs().sum()) > 0


def test_to_empty_recurse_false_leaves_submodules() -> None:
    for lib in (irgrad, torch):
        outer = lib.nn.Linear(2, 2)
        outer.inner = lib.nn.Linear(2, 2)
        inner_data = outer.inner.weight.detach().clone()
        outer.to_empty(device=lib.device("cpu"), recurse=False)
        assert lib.equal(outer.inner.weight.detach(), inner_data)


def test_to_empty_requires_its_keyword_device() -> None:
    raises_like_torch(lambda lib: lib.nn.Linear(2, 2).to_empty())
    raises_like_torch(lambda lib: lib.nn.Linear(2, 2).to_empty("cpu"))


def test_to_empty_refuses_devices_irgrad_lacks() -> None:
    with pytest.raises(RuntimeError, match="only the cpu device"):
        irgrad.nn.Linear(2, 2).to_empty(device="cuda")
