"""A compiled function whose returned values are differentiated after the call.

The graph's backward then comes from autodiff of the recorded ops, so the recording must
carry eager's gradient paths exactly: values computed under ``no_grad`` have none, and
backward code the traced call set up (a hook, ``retain_grad``, a custom
``autograd.Function``'s backward, a new leaf) cannot run inside a graph's backward, so
such a call is a graph break.  Each test compares gradients with eager over calls that
run the graph (or, after a break, eager code)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import irgrad
import irgrad.nn as nn
import irgrad.nn.functional as F


def _grads_as_eager(f, make_args, calls: int = 3):
    """``f`` compiled gives eager's loss and gradients for ``make_args()``'s leaves over
    ``calls`` calls; returns the compiled function."""
    compiled = irgrad.compile(f)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(calls):
            eager_args, compiled_args = make_args(), make_args()
            want, got = f(*eager_args), compiled(*compiled_args)
            want.backward()
            got.backward()
            np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), rtol=1e-6)
            for a, b in zip(eager_args, compiled_args):
                if isinstance(a, irgrad.Tensor) and a.requires_grad:
                    np.testing.assert_allclose(b.grad.numpy(), a.grad.numpy(), rtol=1e-5, atol=1e-7)
    return compiled


def _x_and_w():
    return irgrad.tensor([1.0, 2.0, 3.0]), irgrad.ones(3, requires_grad=True)


@pytest.mark.parametrize("mode", ["no_grad", "set_grad_enabled", "inference_mode"])
def test_values_computed_without_grad_have_no_gradient_path(mode):
    def f(x, w):
        a = x * w
        with {
            "no_grad": irgrad.no_grad,
            "set_grad_enabled": lambda: irgrad.set_grad_enabled(False),
            "inference_mode": irgrad.inference_mode,
        }[mode]():
            b = a * 2  # a constant for autograd
        return (a + b).sum()

    compiled = _grads_as_eager(f, _x_and_w)
    assert not compiled._compiled.breaks


def test_a_target_network_under_no_grad_inside_a_compiled_loss():
    irgrad.manual_seed(0)
    model = nn.Linear(3, 2)
    x, x2 = irgrad.randn(4, 3), irgrad.randn(4, 3)

    def loss_fn(x, x2):
        q = model(x).max(1).values
        with irgrad.no_grad():
            target = model(x2).max(1).values
        return F.mse_loss(q, 0.9 * target)

    compiled = irgrad.compile(loss_fn)
    for _ in range(3):
        model.zero_grad()
        loss_fn(x, x2).backward()
        want = model.weight.grad.numpy().copy()
        model.zero_grad()
        compiled(x, x2).backward()
        np.testing.assert_allclose(model.weight.grad.numpy(), want, rtol=1e-5, atol=1e-7)
    assert not compiled._compiled.breaks


def test_a_gradient_hook_set_inside_is_a_graph_break():
    def f(x, w):
        y = x * w
        y.register_hook(lambda g: g * 10)
        return (y * 2).sum()

    compiled = _grads_as_eager(f, _x_and_w)
    assert "register_hook()" in str(compiled._compiled.breaks[0])


def test_a_gradient_reversal_layer_in_a_compiled_module_reverses_the_gradient():
    class Reverse(nn.Module):
        def forward(self, x):
            y = x * 1.0
            y.register_hook(lambda g: -g)
            return y

    irgrad.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 4), Reverse(), nn.Linear(4, 1))
    compiled = irgrad.compile(model)
    x = irgrad.randn(2, 4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(3):
            model.zero_grad()
            model(x).sum().backward()
            want = model[0].weight.grad.numpy().copy()
            model.zero_grad()
            compiled(x).sum().backward()
            np.testing.assert_allclose(model[0].weight.grad.numpy(), want, rtol=1e-6)


def test_retain_grad_inside_fills_the_returned_tensors_grad():
    def f(x, w):
        y = x * w
        y.retain_grad()
        return (y * 2).sum(), y

    compiled = irgrad.compile(f)
    for _ in range(3):
        x, w = _x_and_w()
        loss, y = compiled(x, w)
        loss.backward()
        np.testing.assert_array_equal(y.grad.numpy(), np.full(3, 2.0, np.float32))
    assert "retain_grad()" in str(compiled._compiled.breaks[0])


class _Straight(irgrad.autograd.Function):
    """round() forward, a scaled identity backward: not the derivative of the forward."""

    @staticmethod
    def forward(ctx, x):
        return x.round()

    @staticmethod
    def backward(ctx, g):
        return g * 3


def test_a_custom_functions_backward_after_the_call_is_a_graph_break():
    def f(x, w):
        return (_Straight.apply(x * w) * 2).sum()

    compiled = _grads_as_eager(
        f, lambda: (irgrad.tensor([1.2, 2.7, 3.1]), irgrad.ones(3, requires_grad=True))
    )
    assert "_Straight" in str(compiled._compiled.breaks[0])


def test_a_custom_functions_backward_inside_the_call_is_compiled():
    w = irgrad.ones(3, requires_grad=True)
    w_eager = irgrad.ones(3, requires_grad=True)

    def step(x, w):
        w.grad = None
        loss = (_Straight.apply(x * w) * 2).sum()
        loss.backward()
        return loss.detach(), w.grad * 1

    compiled = irgrad.compile(step)
    for k in range(4):
        x = irgrad.tensor([1.2, 2.7, 3.1]) * (k + 1)
        np.testing.assert_allclose(compiled(x, w)[1].numpy(), step(x, w_eager)[1].numpy())
    assert not compiled._compiled.breaks
    assert compiled._compiled.entries[-1].runs >= 1  # a graph answered (no recompile per call)


def test_a_leaf_made_inside_gets_its_own_gradient():
    def f(x):
        z = irgrad.ones(3, requires_grad=True)
        return (z * x).sum(), z

    compiled = irgrad.compile(f)
    for _ in range(3):
        loss, z = compiled(irgrad.tensor([1.0, 2.0, 3.0]))
        loss.backward()
        np.testing.assert_array_equal(z.grad.numpy(), [1.0, 2.0, 3.0])
    assert "new leaf" in str(compiled._compiled.breaks[0])


@pytest.mark.parametrize("write", ["copy", "broadcast", "view_of_leaf"])
def test_writes_under_no_grad_keep_eagers_gradient_paths(write):
    # a write under no_grad gives its target the values without their gradient path, and
    # a target that requires grad keeps its own (a leaf written in place stays a leaf)
    def f(x, w):
        buf = irgrad.zeros(3)
        with irgrad.no_grad():
            if write == "copy":
                buf.copy_(w)
            elif write == "broadcast":
                buf.copy_(w[:1])
            else:
                w[:2].mul_(0.5)
        return (x * w + x * buf).sum()

    def make():
        return irgrad.tensor([1.0, 2.0, 3.0]), irgrad.tensor([1.0, 2.0, 3.0], requires_grad=True)

    compiled = _grads_as_eager(f, make)
    assert not compiled._compiled.breaks


def test_a_view_made_under_no_grad_and_returned_keeps_no_gradient_path():
    def f(w):
        with irgrad.no_grad():
            return w.view(3)

    compiled = irgrad.compile(f)
    for _ in range(3):
        w_e, w_c = irgrad.ones(3, requires_grad=True), irgrad.ones(3, requires_grad=True)
        t_e, t_c = f(w_e), compiled(w_c)
        assert t_c.requires_grad == t_e.requires_grad is False


def test_hooks_and_custom_functions_are_compiled_when_the_backward_runs_inside():
    model = nn.Linear(3, 1)
    opt = irgrad.optim.SGD(model.parameters(), lr=0.1)

    def step(x):
        opt.zero_grad()
        h = _Straight.apply(model(x))
        h.register_hook(lambda g: g * 0.5)
        loss = (h * h).sum()
        loss.backward()
        opt.step()
        return loss.detach()

    compiled = irgrad.compile(step)
    for k in range(4):
        compiled(irgrad.ones(2, 3) * k)
    assert not compiled._compiled.breaks and compiled._compiled.entries[-1].runs >= 1


def test_a_leaf_made_inside_for_an_input_gradient_is_compiled():
    # FGSM: the perturbed input is a new leaf whose gradient autograd.grad takes inside
    model = nn.Linear(3, 1)

    def attack(x):
        x_adv = x.detach().clone().requires_grad_()
        (g,) = irgrad.autograd.grad(model(x_adv).sum(), [x_adv])
        return (x + 0.1 * g.sign()).detach()

    compiled = irgrad.compile(attack)
    for k in range(4):
        x = irgrad.ones(2, 3) * (k - 1.5)
        np.testing.assert_array_equal(compiled(x).numpy(), attack(x).numpy())
    assert not compiled._compiled.breaks


@pytest.mark.parametrize("returned", ["other", "input"])
def test_an_argument_that_requires_grad_written_in_place_gets_eagers_history(returned):
    # eager gives h a new grad_fn (h.mul_(2) of a non-leaf); a compiled call wrote its
    # values but left its old history, so a gradient taken through h after the call
    # missed the factor 2 (now a graph break, so the call runs eagerly)
    def f(h):
        h.mul_(2)
        return h * 3 if returned == "other" else h

    compiled = irgrad.compile(f)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for k in range(3):
            grads = []
            for fn in (f, compiled):
                w = irgrad.tensor([1.0, 2.0], requires_grad=True)
                h = w * (k + 1)
                r = fn(h)
                ((h * h).sum() + r.sum()).backward()
                grads.append(w.grad.numpy())
            np.testing.assert_array_equal(grads[1], grads[0])


@pytest.mark.parametrize("setup", ["retain_grad", "hook on the argument", "hook on a parameter"])
def test_backward_code_set_up_on_a_tensor_made_outside_is_a_graph_break(setup):
    # a hook or retain_grad on an argument or a parameter outlives the call; compiled
    # calls did not set it up again, so h.grad stayed None and the hook did not scale

    def grads(compile: bool) -> list:
        w = irgrad.tensor([1.0, 2.0], requires_grad=True)

        def f(h):
            if setup == "retain_grad":
                h.retain_grad()
            elif setup == "hook on the argument":
                h.register_hook(lambda g: g * 10)
            else:
                w.register_hook(lambda g: g * 10)  # one more at every call
            return h * 2

        fn = irgrad.compile(f) if compile else f
        seen = []
        for k in range(3):
            w.grad = None
            h = w * (k + 1)
            fn(h).sum().backward()
            seen += [w.grad.numpy(), None if h.grad is None else h.grad.numpy()]
        return seen

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for got, want in zip(grads(True), grads(False)):
            np.testing.assert_array_equal(got, want)


def test_a_write_through_data_leaves_the_version_alone_as_eagers():
    # p.data has a version counter of its own: eager's write through it is not seen by
    # the saved-tensor check, but a compiled call bumped the tensor's own version, so a
    # backward through a graph that saved it raised "modified by an inplace operation"
    def f(y):
        y.data.mul_(2)
        return y.sum()

    compiled = irgrad.compile(f)
    for fn in (f, compiled, compiled):
        w = irgrad.tensor([1.0, 2.0], requires_grad=True)
        y = w.exp()  # saves its result
        fn(y)
        y.sum().backward()
        np.testing.assert_allclose(w.grad.numpy(), 2 * np.exp([1.0, 2.0]), rtol=1e-6)


def test_a_value_made_in_enable_grad_inside_a_call_under_no_grad_keeps_its_gradient():
    # called under no_grad, the function turns grad on for its loss: eager's loss requires
    # grad (through the second layer only); the compiled graph, built for a call without
    # grad, returned it without a backward ("does not require grad" at loss.backward())
    first, second = nn.Linear(3, 3), nn.Linear(3, 1)

    def f(x):
        h = first(x)
        with irgrad.enable_grad():
            return second(h * 2).sum(), h

    compiled = irgrad.compile(f)
    for k in range(3):
        grads = []
        for fn in (f, compiled):
            with irgrad.no_grad():
                loss, h = fn(irgrad.full((4, 3), float(k)))
            assert loss.requires_grad and not h.requires_grad
            second.zero_grad()
            loss.backward()
            assert first.weight.grad is None
            grads.append(second.weight.grad.numpy().copy())
        np.testing.assert_allclose(grads[1], grads[0], rtol=1e-6)
    # every call ran the graph (the first one's trace changes nothing a second run could see)
    assert not compiled._compiled.breaks and compiled._compiled.entries[-1].runs == 3
