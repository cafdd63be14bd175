"""Inputs a compiled program updates in place (irgrad/codegen/write_back.py).

An optimizer's update is written straight into the parameter's storage when nothing
else needs the old value afterwards; otherwise into a result the runtime copies back.
Either way the tensors after a call equal eager execution's.
"""

import warnings

import numpy as np
import pytest
from graph_calls import graph_call
from optim_cases import fixed_batch_step

import irgrad
import irgrad.nn as nn
from irgrad.codegen import Program


def _in_place(compiled) -> list[dict]:
    """Per graph of ``compiled``: the nodes its program writes into an input."""
    programs = [entry.built.run_forward for entry in compiled._compiled.entries]
    assert all(isinstance(p, Program) for p in programs)
    return [p.plan.in_place for p in programs]


@pytest.mark.parametrize(
    "make_optimizer",
    [
        lambda p: irgrad.optim.SGD(p, lr=0.1),
        lambda p: irgrad.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True),
        lambda p: irgrad.optim.Adam(p, lr=0.01),
    ],
    ids=["sgd", "nesterov", "adam"],
)
@pytest.mark.parametrize("detach", [True, False])
def test_updates_are_written_into_the_parameters_and_train_as_eager(make_optimizer, detach):
    model, opt, step = fixed_batch_step(make_optimizer, detach)
    eager_model, eager_opt, eager_step = fixed_batch_step(make_optimizer, detach)
    compiled = irgrad.compile(step)
    for _ in range(5):
        assert compiled().item() == pytest.approx(eager_step().item(), rel=1e-5)
    for p, q in zip(model.parameters(), eager_model.parameters()):
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=1e-5, atol=1e-6)
    # every parameter's update (and the optimizer state's) is written in place, but the
    # weight saved for a backward of the returned loss
    written = _in_place(compiled)[-1]
    assert len(written) >= len(list(model.parameters())) - (not detach)
    assert f"{len(written)} updates written in place" in compiled._compiled.explain()


def test_the_program_writes_into_the_input_array():
    w = irgrad.randn(1000)

    def update(g):
        with irgrad.no_grad():
            total = g.sum()
            w.add_(g * -0.5)
        return total

    compiled = irgrad.compile(update)
    g = irgrad.randn(1000)
    compiled(g)
    before = w.numpy().copy()
    storage = w._data
    graph_call(compiled, g)
    assert w._data is storage
    np.testing.assert_allclose(w.numpy(), before + g.numpy() * -0.5, rtol=1e-6)
    assert _in_place(compiled)[-1]


def _updated_twice(w, g):
    with irgrad.no_grad():
        old = w.detach()  # a view of the old value, returned: it must keep the old values
        total = w.sum()
        w.mul_(0.5)
        w.add_(g)
    return old, total


def test_a_view_of_the_old_value_that_is_returned_keeps_it_out_of_place():
    w = irgrad.randn(64)
    eager_w = irgrad.tensor(w.numpy().copy())
    g = irgrad.randn(64)
    compiled = irgrad.compile(_updated_twice)
    for _ in range(3):
        got_old, got_total = compiled(w, g)
        want_old, want_total = _updated_twice(eager_w, g)
        np.testing.assert_allclose(got_old.numpy(), want_old.numpy(), rtol=1e-6)
        np.testing.assert_allclose(got_total.numpy(), want_total.numpy(), rtol=1e-5)
        np.testing.assert_allclose(w.numpy(), eager_w.numpy(), rtol=1e-6)


def test_no_write_in_place_before_a_step_that_can_hand_the_call_to_the_interpreter():
    table = nn.Embedding(10, 4)

    def update_then_look_up(ids):
        with irgrad.no_grad():
            table.weight.mul_(0.5)
        return table(ids)

    compiled = irgrad.compile(update_then_look_up)
    ids = irgrad.tensor([1, 2, 3])
    for _ in range(2):
        compiled(ids)
    before = table.weight.detach().numpy().copy()
    with pytest.raises(IndexError):
        compiled(irgrad.tensor([1, 20, 3]))  # out of range: the interpreter reruns and raises
    # a compiled call that fails changes nothing (eager would have halved the table
    # before failing): in particular the native code did not halve it in place before
    # the interpreter reran the call
    np.testing.assert_array_equal(table.weight.detach().numpy(), before)
    assert not any(_in_place(compiled))


def _step_and_difference(w, g):
    # a step reading both the old and the new value: the update stays out of place
    with irgrad.no_grad():
        old = w * 1.0
        w.add_(g)
        return (w - old).sum() + (w * old).sum()


def test_a_step_reading_the_old_and_the_new_value_gets_both():
    w, g = irgrad.randn(300), irgrad.randn(300)
    eager_w = irgrad.tensor(w.numpy().copy())
    compiled = irgrad.compile(_step_and_difference)
    for _ in range(3):
        got = compiled(w, g).item()
        want = _step_and_difference(eager_w, g).item()
        assert got == pytest.approx(want, rel=1e-5)
        np.testing.assert_allclose(w.numpy(), eager_w.numpy(), rtol=1e-6)


def _swap_step(x, v):
    # each update reads the other's old value: they cannot both be written in place
    with irgrad.no_grad():
        x_old = x * 1.0
        x.add_(v)
        v.sub_(x_old)
    return x.sum()


def test_updates_reading_each_others_old_values():
    x, v = irgrad.randn(50), irgrad.randn(50)
    ex, ev = irgrad.tensor(x.numpy().copy()), irgrad.tensor(v.numpy().copy())
    compiled = irgrad.compile(_swap_step)
    for _ in range(4):
        assert compiled(x, v).item() == pytest.approx(_swap_step(ex, ev).item(), rel=1e-5)
        np.testing.assert_allclose(x.numpy(), ex.numpy(), rtol=1e-6)
        np.testing.assert_allclose(v.numpy(), ev.numpy(), rtol=1e-6)
    assert_native_program(compiled)


def _scaled_by_other(w, other):
    with irgrad.no_grad():
        w.mul_(0.5)
        return (other * 2.0).sum()


def _compiled_in_place():
    base = np.arange(1, 41, dtype=np.float32)
    compiled = irgrad.compile(_scaled_by_other)
    for _ in range(2):
        compiled(irgrad.tensor(base.copy()), irgrad.tensor(base.copy()))
    assert _in_place(compiled)[-1]
    return compiled, base


def _tensors_over_one_array(base: np.ndarray, how: str) -> tuple:
    if how == "data":
        shared, alias = irgrad.tensor(base.copy()), irgrad.tensor([0.0])
        alias.data = shared.data  # two tensors over one array
        return shared, alias
    memory = base.copy()  # two distinct arrays over one memory (neither owns it alone)
    w, other = irgrad.from_numpy(memory[:]), irgrad.from_numpy(memory[::1])
    assert w._data is not other._data and np.shares_memory(w._data, other._data)
    return w, other


@pytest.mark.parametrize("how", ["data", "views"])
def test_inputs_over_one_memory_where_the_program_writes_run_as_eager(how):
    # eager reads `other` after halving `w` (the same memory): the call runs eagerly
    compiled, base = _compiled_in_place()
    w, other = _tensors_over_one_array(base, how)
    program = compiled._compiled.entries[-1].built.run_forward
    before = program.interpreted
    got = compiled(w, other).item()
    assert got == pytest.approx(float((base * 0.5 * 2.0).sum()))
    np.testing.assert_allclose(w.numpy(), base * 0.5)
    assert program.interpreted == before and compiled._compiled.entries[-1].aliased_calls == 1


@pytest.mark.parametrize("how", ["data", "views"])
def test_a_program_called_on_inputs_over_one_memory_is_not_run_in_place(how):
    # the program's own safety net: it never writes an input in place over memory
    # another input reads (it hands the call to the interpreter)
    compiled, base = _compiled_in_place()
    w, other = _tensors_over_one_array(base, how)
    program = compiled._compiled.entries[-1].built.run_forward
    before = program.interpreted
    (total,) = program([w._data, other._data])[:1]
    assert program.interpreted == before + 1
    assert float(total) == pytest.approx(float((base * 2.0).sum()))  # the graph reads other as given


def assert_native_program(compiled):
    programs = [entry.built.run_forward for entry in compiled._compiled.entries]
    assert programs and all(isinstance(p, Program) for p in programs)


def test_a_step_that_may_fail_runs_before_the_updates_so_they_are_written_in_place():
    """An embedding's gradient checks its indices, and a failed check hands the call to
    the interpreter, so no update may be written in place before it.  The schedule runs
    the updates last: every parameter's and AdamW state's update of a model with an
    embedding is written in place (3 of 20 were), and training equals eager's."""

    def trainer():
        irgrad.manual_seed(0)
        model = nn.Sequential(
            nn.Embedding(30, 8), nn.Flatten(), nn.Linear(24, 16), nn.Tanh(), nn.Linear(16, 30)
        )
        opt = irgrad.optim.AdamW(model.parameters(), lr=0.01)

        def step(tokens):
            opt.zero_grad()
            loss = irgrad.nn.functional.cross_entropy(model(tokens), tokens[:, 0])
            loss.backward()
            opt.step()
            return loss

        return model, opt, step

    model, opt, step = trainer()
    eager_model, _, eager_step = trainer()
    compiled = irgrad.compile(step, backend="llvm")
    tokens = irgrad.tensor(np.random.default_rng(0).integers(0, 30, (4, 3)))
    for _ in range(4):
        assert compiled(tokens).item() == pytest.approx(eager_step(tokens).item(), rel=1e-5)
    for p, q in zip(model.parameters(), eager_model.parameters()):
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=1e-5, atol=1e-6)
    written = _in_place(compiled)[-1]
    state = [t for s in opt.state.values() for t in s.values() if isinstance(t, irgrad.Tensor)]
    assert len(written) == len(list(model.parameters())) + len(state)
    with pytest.raises(IndexError):  # a bad index still raises eager's error, nothing half written
        before = [p.detach().numpy().copy() for p in model.parameters()]
        compiled(irgrad.tensor(np.array([[0, 31, 2], [1, 2, 3], [4, 5, 6], [7, 8, 9]])))
    for p, b in zip(model.parameters(), before):
        np.testing.assert_array_equal(p.detach().numpy(), b)


@pytest.mark.parametrize("how", ["copy_", "out="])
def test_an_input_only_written_is_placed_for_its_update(how):
    # the graph reads nothing of `b`, so the planner skipped its input node as dead and
    # then looked up its place for the update written into it (KeyError: the llvm code
    # generator failed with a CodegenWarning and the graph ran another way)
    def fill(a, b):
        if how == "copy_":
            b.copy_(a * 2)
        else:
            irgrad.mul(a, 2, out=b)

    compiled = irgrad.compile(fill)
    a = irgrad.randn(3, 4)
    compiled(a, irgrad.empty(3, 4))
    b = irgrad.zeros(3, 4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        compiled(a, b)
    np.testing.assert_allclose(b.numpy(), a.numpy() * 2)
    assert _in_place(compiled)[-1]
