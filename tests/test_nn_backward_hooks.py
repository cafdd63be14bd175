"""Module full backward hooks (irgrad/nn/modules/backward_hooks.py): known values, and
against PyTorch where it is installed."""

from __future__ import annotations

import numpy as np
import pytest

import irgrad


def _hooked_linear(lib, seen: list, replace: bool):
    lin = lib.nn.Linear(3, 2)
    with lib.no_grad():
        lin.weight.copy_(lib.tensor([[1.0, 2.0, 3.0], [-1.0, 0.5, 2.0]]))
        lin.bias.copy_(lib.tensor([0.1, -0.2]))

    def pre(module, grad_output):
        seen.append(("pre", [g.detach().numpy().copy() for g in grad_output]))
        return (grad_output[0] * 2,) if replace else None

    def hook(module, grad_input, grad_output):
        seen.append(
            (
                "hook",
                [None if g is None else g.detach().numpy().copy() for g in grad_input],
                [g.detach().numpy().copy() for g in grad_output],
            )
        )
        return (grad_input[0] + 1,) if replace else None

    lin.register_full_backward_pre_hook(pre)
    lin.register_full_backward_hook(hook)
    return lin


def _run(lib, replace: bool):
    seen: list = []
    lin = _hooked_linear(lib, seen, replace)
    x = lib.tensor([[1.0, -1.0, 2.0], [0.5, 0.5, 0.5]], requires_grad=True)
    (lin(x) * lib.tensor([[1.0, 2.0], [3.0, 4.0]])).sum().backward()
    return seen, x.grad.numpy().copy(), lin.weight.grad.numpy().copy()


@pytest.mark.parametrize("replace", [False, True])
def test_the_hooks_see_and_replace_the_gradients(replace):
    seen, x_grad, w_grad = _run(irgrad, replace)
    scale = np.array([[1.0, 2.0], [3.0, 4.0]], np.float32)
    grad_output = scale * (2 if replace else 1)
    weight = np.array([[1.0, 2.0, 3.0], [-1.0, 0.5, 2.0]], np.float32)
    assert [entry[0] for entry in seen] == ["pre", "hook"]
    np.testing.assert_allclose(seen[0][1][0], scale)  # the pre-hook sees the gradient first
    np.testing.assert_allclose(seen[1][2][0], grad_output)  # the hook, the (replaced) one
    np.testing.assert_allclose(seen[1][1][0], grad_output @ weight)
    np.testing.assert_allclose(x_grad, grad_output @ weight + (1 if replace else 0))
    x = np.array([[1.0, -1.0, 2.0], [0.5, 0.5, 0.5]], np.float32)
    np.testing.assert_allclose(w_grad, grad_output.T @ x)  # the weight's gradient follows grad_output


def test_without_an_input_that_requires_grad_the_hook_fires_with_none_and_warns():
    seen = []
    lin = irgrad.nn.Linear(3, 2)
    lin.register_full_backward_hook(lambda m, gi, go: seen.append((gi, [tuple(g.shape) for g in go])))
    with pytest.warns(UserWarning, match="no inputs require gradients"):
        lin(irgrad.ones(2, 3)).sum().backward()
    assert seen == [((None,), [(2, 2)])]
    lin.register_full_backward_hook(lambda m, gi, go: (irgrad.ones(2, 3),))
    with pytest.raises(RuntimeError, match="no input requires gradient should always return None"):
        with pytest.warns(UserWarning):
            lin(irgrad.ones(2, 3)).sum().backward()


def test_a_removed_hook_no_longer_runs_and_no_grad_calls_run_none():
    seen = []
    lin = irgrad.nn.Linear(2, 2)
    handle = lin.register_full_backward_hook(lambda m, gi, go: seen.append(1))
    x = irgrad.ones(1, 2, requires_grad=True)
    with irgrad.no_grad():
        lin(x)
    lin(x).sum().backward()
    handle.remove()
    lin(x).sum().backward()
    assert seen == [1]


def test_a_compiled_module_with_a_backward_hook_runs_it_at_every_call():
    seen = []
    irgrad.manual_seed(0)
    model = irgrad.nn.Sequential(irgrad.nn.Linear(3, 4), irgrad.nn.Tanh(), irgrad.nn.Linear(4, 2))
    model[0].register_full_backward_hook(lambda m, gi, go: seen.append(go[0].detach().numpy().copy()))
    compiled = irgrad.compile(model)
    x = irgrad.randn(5, 3, requires_grad=True)
    for _ in range(3):
        compiled(x).sum().backward()
    assert len(seen) == 3
    eager_seen = []
    model[0]._backward_hooks.clear()
    model[0].register_full_backward_hook(lambda m, gi, go: eager_seen.append(go[0].detach().numpy().copy()))
    model(x).sum().backward()
    np.testing.assert_allclose(seen[-1], eager_seen[0], rtol=1e-6)


@pytest.mark.parametrize("replace", [False, True])
def test_the_hooks_match_pytorch(replace):
    torch = pytest.importorskip("torch")
    ours, theirs = _run(irgrad, replace), _run(torch, replace)
    assert [e[0] for e in ours[0]] == [e[0] for e in theirs[0]]
    for mine, other in zip(ours[0], theirs[0]):
        for a, b in zip(mine[1:], other[1:]):
            for x, y in zip(a, b):
                assert (x is None) == (y is None)
                if x is not None:
                    np.testing.assert_allclose(x, y, rtol=1e-6)
    np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-6)
    np.testing.assert_allclose(ours[2], theirs[2], rtol=1e-6)


def _with_global_hooks(lib, calls: list):
    module_api = lib.nn.modules.module
    handles = [
        module_api.register_module_forward_pre_hook(lambda m, a: calls.append(("pre", type(m).__name__))),
        module_api.register_module_forward_hook(lambda m, a, out: calls.append(("fwd", type(m).__name__))),
        module_api.register_module_full_backward_pre_hook(
            lambda m, go: calls.append(("bpre", type(m).__name__))
        ),
        module_api.register_module_full_backward_hook(
            lambda m, gi, go: calls.append(("bwd", type(m).__name__))
        ),
    ]
    return handles


def _global_hook_calls(lib) -> list:
    calls: list = []
    lib.manual_seed(0)
    model = lib.nn.Sequential(lib.nn.Linear(3, 4), lib.nn.Tanh())
    model[0].register_forward_hook(lambda m, a, out: calls.append(("own fwd", type(m).__name__)))
    handles = _with_global_hooks(lib, calls)
    try:
        model(lib.ones(2, 3, requires_grad=True)).sum().backward()
    finally:
        for handle in handles:
            handle.remove()
    model(lib.ones(2, 3, requires_grad=True)).sum().backward()  # removed: none run
    return calls


def test_global_module_hooks_run_for_every_module_before_its_own():
    calls = _global_hook_calls(irgrad)
    assert calls == [
        ("pre", "Sequential"),
        ("pre", "Linear"),
        ("fwd", "Linear"),
        ("own fwd", "Linear"),
        ("pre", "Tanh"),
        ("fwd", "Tanh"),
        ("fwd", "Sequential"),
        ("bpre", "Sequential"),
        ("bpre", "Tanh"),
        ("bwd", "Tanh"),
        ("bpre", "Linear"),
        ("bwd", "Linear"),
        ("bwd", "Sequential"),
        ("own fwd", "Linear"),  # (the second call: the global hooks are removed)
    ]


def test_global_module_hooks_match_pytorch():
    torch = pytest.importorskip("torch")
    assert _global_hook_calls(irgrad) == _global_hook_calls(torch)


def test_a_compiled_call_runs_eagerly_while_a_global_hook_is_registered():
    calls: list = []
    irgrad.manual_seed(0)
    model = irgrad.nn.Sequential(irgrad.nn.Linear(3, 4), irgrad.nn.Tanh())
    compiled = irgrad.compile(model)
    x = irgrad.ones(2, 3)
    for _ in range(2):
        compiled(x)
    handle = irgrad.nn.modules.module.register_module_forward_hook(
        lambda m, a, out: calls.append(type(m).__name__)
    )
    compiled(x)
    handle.remove()
    compiled(x)
    assert calls == ["Linear", "Tanh", "Sequential"]
