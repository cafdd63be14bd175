"""A backward that differentiates only some outputs of a compiled call (``loss, aux =
step(x); loss.backward()``) gets eager's gradients: the outputs without a gradient add
nothing, even where their derivatives are infinite (passes/absent_gradients.py).  Before,
their gradients were zeros multiplied into the backward graph: ``0 * inf = NaN``."""

from __future__ import annotations

import numpy as np
import pytest

import irgrad
from irgrad.dtypes import float32
from irgrad.ir.builder import GraphOps
from irgrad.ir.graph import Graph
from irgrad.ops import OPS
from irgrad.passes.absent_gradients import without_gradients
from irgrad.testing import check_compiled


def _grads(fn, inputs, pick):
    """The gradients of ``pick(outputs)`` with respect to ``inputs``."""
    outputs = fn(*inputs)
    return [g.numpy() for g in irgrad.autograd.grad(pick(outputs), inputs)]


def _twice(compiled, inputs):
    compiled(*inputs)  # the first call traces (eagerly); the second runs the graphs
    return compiled


CASES = {
    # name: (function, inputs, which outputs the backward differentiates)
    "sqrt at zero": (
        lambda x: (x * 2, x.sqrt()),
        lambda: [irgrad.tensor([0.0, 4.0, 1.0])],
        lambda o: o[0].sum(),
    ),
    "log at zero, through a product": (
        lambda x, w: ((x @ w).sum(1), (x @ w).abs().log()),
        lambda: [irgrad.tensor([[0.0, 1.0], [2.0, 3.0]]), irgrad.tensor([[1.0, 0.0], [0.0, 1.0]])],
        lambda o: o[0].sum(),
    ),
    "the other output only": (
        lambda x: (x.sqrt(), x * 3),
        lambda: [irgrad.tensor([0.0, 9.0])],
        lambda o: o[1].sum(),
    ),
    "a where reads the absent gradient": (
        lambda x: ((x * x).sum(), irgrad.where(x > 0, x.rsqrt(), x)),
        lambda: [irgrad.tensor([0.0, -1.0, 4.0])],
        lambda o: o[0],
    ),
    "both outputs": (
        lambda x: (x * 2, x.sqrt()),
        lambda: [irgrad.tensor([1.0, 4.0])],
        lambda o: o[0].sum() + o[1].sum(),
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_the_outputs_a_backward_leaves_out_add_nothing(name, backend):
    fn, make_inputs, pick = CASES[name]
    inputs = [t.requires_grad_() for t in make_inputs()]
    expected = _grads(fn, inputs, pick)
    compiled = _twice(irgrad.compile(fn, backend=backend), inputs)
    for _ in range(2):  # the second backward reuses the graph built for the first
        got = _grads(compiled, inputs, pick)
        for g, e in zip(got, expected):
            np.testing.assert_array_equal(g, e, err_msg=name)


def test_with_dynamic_sizes_too():
    compiled = irgrad.compile(lambda x: (x * 2, x.sqrt()), dynamic=True)
    for n in (2, 3, 5):
        x = irgrad.tensor(np.arange(n, dtype=np.float32), requires_grad=True)
        (got,) = irgrad.autograd.grad(compiled(x)[0].sum(), x)
        np.testing.assert_array_equal(got.numpy(), np.full(n, 2.0, np.float32))


def test_a_training_step_returning_its_logits_trains_as_eager(backend):
    """``loss, logits = model_step(x)`` with only the loss differentiated: a ReLU's
    output through ``log`` is infinite in the unused path."""
    irgrad.manual_seed(0)
    models = [irgrad.nn.Sequential(irgrad.nn.Linear(4, 5), irgrad.nn.ReLU()) for _ in range(2)]
    models[1].load_state_dict(models[0].state_dict())

    def step(model, x):
        h = model(x)
        return h.sum(), h.log()

    compiled = irgrad.compile(lambda x: step(models[1], x), backend=backend)
    rng = np.random.default_rng(0)
    for _ in range(4):
        x = irgrad.tensor(rng.standard_normal((6, 4)).astype(np.float32))
        for model, run in ((models[0], lambda x: step(models[0], x)), (models[1], compiled)):
            model.zero_grad()
            run(x)[0].backward()
        for a, b in zip(models[0].parameters(), models[1].parameters()):
            assert np.isfinite(b.grad.numpy()).all()
            np.testing.assert_allclose(b.grad.numpy(), a.grad.numpy(), rtol=1e-6, atol=1e-7)


def test_the_pass_drops_the_absent_gradients_products_and_keeps_the_interface():
    g = Graph("backward")
    F = GraphOps(g)
    x, g0, g1 = (F.input(name, (3,), float32) for name in ("x", "grad_out0", "grad_out1"))
    g.set_outputs([F.add(F.mul(g0, 2.0), F.div(g1, F.sqrt(x))).id])
    pruned = without_gradients(g, [2])
    assert pruned.inputs == g.inputs  # the call's interface
    assert not pruned.users(g.inputs[2])  # nothing reads the absent gradient
    assert "div" not in {node.op for node in pruned.op_nodes()}


@pytest.mark.parametrize("name", [name for name, op in OPS.items() if op.linear_in])
def test_an_op_is_linear_in_the_argument_groups_its_registry_entry_names(name):
    """``OpDef.linear_in``'s claim, checked on the op's own kernel in float64:
    ``f(a x + b y) = a f(x) + b f(y)`` in one group's arguments, the others fixed."""
    op = OPS[name]
    attrs = {"sum": {"dims": (1,), "keepdim": False}}.get(name, {})
    rng = np.random.default_rng(0)
    fixed = [rng.standard_normal((3, 3)) + 2.0 for _ in range(op.arity)]  # no zero denominator
    if name == "where":
        fixed[0] = rng.random((3, 3)) > 0.5
    for group in op.linear_in:
        x, y = ([rng.standard_normal((3, 3)) for _ in group] for _ in range(2))

        def f(values, group=group):
            args = list(fixed)
            for pos, value in zip(group, values):
                args[pos] = value
            return op.eval(*args, **attrs)

        mixed = f([2.0 * a - 3.0 * b for a, b in zip(x, y)])
        np.testing.assert_allclose(
            mixed, 2.0 * f(x) - 3.0 * f(y), rtol=1e-12, atol=1e-12, err_msg=f"{name} {group}"
        )


def rolled_clamped_expanded(x0, i1, x2):
    """The fuzzer's program 85 of seed 20240611: with dynamic sizes, a backward that
    leaves ``v2``/``v0`` without gradients read zeros of a symbolic shape (a ``full`` of
    the type's symbol names, which numpy refused, before they became a broadcast)."""
    v0 = irgrad.roll(x2, 3, 1)
    v1 = v0.clamp_(-1)
    v2 = v1.expand(1, -1, 3)
    return (i1, v2, x0, v0)


def test_zeros_for_an_absent_gradient_of_symbolic_shape(backend):
    tall, short = (np.ones((n, 1)) for n in (4, 3))
    calls = [[np.ones((1, 1, 1)), np.zeros((1, 1), np.int64), x2] for x2 in (tall, short, tall)]
    check_compiled(rolled_clamped_expanded, calls, backend=backend, train=True, dynamic=True, seed=79695)
