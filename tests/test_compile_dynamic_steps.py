"""``irgrad.compile(step, dynamic=True)`` of a whole training step (zero_grad, forward,
backward, optimizer step): the batch size becomes a symbol, so one graph serves every
size, and training over batches of varying size equals eager's, with the size probes
(which run the step again at other sizes) leaving no trace in the parameters, their
``.grad``, the optimizer's state or the random generator."""

from __future__ import annotations

import numpy as np
import pytest
from optim_cases import cross_entropy_step

import irgrad
from irgrad import nn

OPTIMIZERS = {
    "sgd-momentum": lambda p: irgrad.optim.SGD(p, lr=0.05, momentum=0.9, weight_decay=1e-3),
    "adam": lambda p: irgrad.optim.Adam(p, lr=0.01),
    "rmsprop": lambda p: irgrad.optim.RMSprop(p, lr=0.01),
}
SIZES = (8, 9, 12, 9, 3, 8, 16, 12, 3, 10)
# calls the symbolic graph (made at the second call, at 9, probed at 10 and 11) answers: a
# size it has run at, or a probe's; the first call at each other size is traced (eagerly)
GRAPH_CALLS = 4  # 9, 12, 3 again and 10


def setup(optimizer: str):
    irgrad.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Dropout(0.25), nn.Linear(16, 4)).double()
    opt = OPTIMIZERS[optimizer](model.parameters())
    return model, opt, cross_entropy_step(model, opt)


def batches():
    rng = np.random.default_rng(0)
    for n in SIZES:
        yield irgrad.tensor(rng.standard_normal((n, 6))), irgrad.tensor(rng.integers(0, 4, n))


def state_of(model, opt) -> list:
    """Everything a step changes, as arrays and numbers."""
    found = [p.detach().numpy().copy() for p in model.parameters()]
    found += [p.grad.numpy().copy() for p in model.parameters()]
    for p in model.parameters():
        for key, value in sorted(opt.state[p].items()):
            found.append((key, value.numpy().copy() if isinstance(value, irgrad.Tensor) else value))
    return found


def assert_same_state(got: list, want: list) -> None:
    assert len(got) == len(want)
    for g, w in zip(got, want):
        if isinstance(w, tuple):
            assert g[0] == w[0]
            g, w = g[1], w[1]
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("optimizer", sorted(OPTIMIZERS))
def test_a_dynamic_training_step_trains_as_eager_over_varying_batches(optimizer):
    eager = setup(optimizer)
    compiled = setup(optimizer)
    run = irgrad.compile(compiled[2], dynamic=True)
    irgrad.manual_seed(1)
    eager_losses = [float(eager[2](x, y)) for x, y in batches()]
    eager_state = state_of(*eager[:2])
    irgrad.manual_seed(1)
    losses = [float(run(x, y)) for x, y in batches()]
    np.testing.assert_allclose(losses, eager_losses, rtol=1e-10)
    assert_same_state(state_of(*compiled[:2]), eager_state)
    log = run._compiled.log
    assert "dynamic shapes: one graph for every size of B" in log, log
    # the second call traces again (.grad exists now; its size is new too): later calls
    # run the symbolic graph at every size it is known right at
    assert sum(e.startswith("recompiled") for e in log) == 1, log
    assert sum(entry.runs for entry in run._compiled.entries) == GRAPH_CALLS


def test_a_probe_that_raises_leaves_the_state_as_eager_left_it():
    # the step asserts on its batch size: the probes at other sizes raise, the graphs stay
    # per size, and the rebindings a probe made before raising (.grad set to None by
    # zero_grad) are undone
    irgrad.manual_seed(0)
    model = nn.Linear(3, 2).double()
    opt = irgrad.optim.SGD(model.parameters(), lr=0.1, momentum=0.5)

    def step(x):
        opt.zero_grad()
        loss = model(x).pow(2).sum()
        loss.backward()
        if x.shape[0] not in (4, 5):
            raise ValueError("unexpected batch")
        opt.step()
        return loss.detach()

    twin = nn.Linear(3, 2).double()
    twin.load_state_dict(model.state_dict())
    twin_opt = irgrad.optim.SGD(twin.parameters(), lr=0.1, momentum=0.5)

    def twin_step(x):
        twin_opt.zero_grad()
        loss = twin(x).pow(2).sum()
        loss.backward()
        twin_opt.step()
        return loss.detach()

    run = irgrad.compile(step, dynamic=True)
    rng = np.random.default_rng(0)
    for n in (4, 4, 5, 5, 4):
        x = irgrad.tensor(rng.standard_normal((n, 3)))
        np.testing.assert_allclose(float(run(x)), float(twin_step(x)), rtol=1e-12)
        for p, q in zip(model.parameters(), twin.parameters()):
            np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=1e-12)
            assert p.grad is not None
            np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-12)
    assert any("raised ValueError at another size" in e for e in run._compiled.log), run._compiled.log


def test_a_dynamic_step_with_a_scheduler_inside_generalizes_and_trains_as_eager():
    def make():
        model, opt, step = setup("sgd-momentum")
        sched = irgrad.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)

        def stepped(x, y):
            loss = step(x, y)
            sched.step()
            return loss

        return model, opt, sched, stepped

    eager, compiled = make(), make()
    run = irgrad.compile(compiled[3], dynamic=True)
    irgrad.manual_seed(1)
    eager_losses = [float(eager[3](x, y)) for x, y in batches()]
    irgrad.manual_seed(1)
    losses = [float(run(x, y)) for x, y in batches()]
    np.testing.assert_allclose(losses, eager_losses, rtol=1e-10)
    assert_same_state(state_of(*compiled[:2]), state_of(*eager[:2]))
    assert (
        compiled[2].last_epoch == eager[2].last_epoch and compiled[2].get_last_lr() == eager[2].get_last_lr()
    )
    assert "dynamic shapes: one graph for every size of B" in run._compiled.log, run._compiled.log
    assert sum(entry.runs for entry in run._compiled.entries) == GRAPH_CALLS


def _grads_set_to_none_outside():
    """A compiled forward and backward; the gradients are set to None between calls."""
    irgrad.manual_seed(0)
    lin = nn.Linear(3, 2)

    def call(x):
        loss = lin(x).sum()
        loss.backward()
        return loss.detach()

    def between():
        lin.weight.grad = lin.bias.grad = None

    return call, between, lambda: [lin.weight.grad, lin.bias.grad]


def _adam_step():
    """A whole Adam step: the first call makes the optimizer's state."""
    irgrad.manual_seed(0)
    model = nn.Linear(3, 2)
    opt = irgrad.optim.Adam(model.parameters(), lr=0.1)

    def call(x):
        opt.zero_grad()
        loss = (model(x) ** 2).mean()
        loss.backward()
        opt.step()
        return loss.detach()

    def state():
        return [*model.parameters(), *(t for s in opt.state.values() for t in s.values())]

    return call, lambda: None, state


def _statistic_made_by_the_first_call():
    """A module whose first call makes a running statistic that later calls add to."""
    irgrad.manual_seed(0)

    class Calibrated(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin, self.total = nn.Linear(3, 2), None

        def forward(self, x):
            y = self.lin(x)
            with irgrad.no_grad():
                seen = y.abs().sum(0)
                if self.total is None:
                    self.total = seen
                else:
                    self.total.add_(seen)
            return y.sum()

    model = Calibrated()
    return model, lambda: None, lambda: [model.total]


@pytest.mark.parametrize("case", [_grads_set_to_none_outside, _adam_step, _statistic_made_by_the_first_call])
def test_probes_at_other_sizes_leave_what_the_call_made_as_it_was(case):
    """Making a symbolic graph re-runs the function at other sizes (probes), and puts back
    what they change.  That includes what the call being probed has just made: its
    ``.grad`` (which a probe's backward accumulates into), an optimizer's state (which a
    probe's step updates), a statistic it stored.  Each call equals eager's, the first
    at each size too (it was off by the probes' updates)."""
    results = []
    for compiled in (False, True):
        call, between, values = case()
        run = irgrad.compile(call, backend="llvm") if compiled else call
        seen = []
        for rows in (4, 4, 2, 2, 3, 7, 7):
            between()
            x = irgrad.tensor(np.linspace(-1, 1, rows * 3, dtype=np.float32).reshape(rows, 3))
            irgrad.mark_dynamic(x, 0)  # the first call's graph is symbolic: it is the one probed
            seen.append([float(run(x))] + [t.detach().numpy().copy() for t in values()])
        results.append(seen)
    for call, (eager, compiled) in enumerate(zip(*results)):
        for want, got in zip(eager, compiled):
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6, err_msg=f"call {call}")


def test_a_probe_that_writes_what_the_call_does_not_leaves_it_as_it_was():
    """A probe runs the function at another size, where Python may take another branch
    and write a tensor the call at the traced size neither reads nor writes: every
    tensor the function reaches is put back after each probe."""
    buffer = irgrad.zeros(3)

    def grows(x):
        if x.shape[0] > 4:
            buffer.add_(1)
        return x * 2

    compiled = irgrad.compile(grows, backend="llvm")
    x = irgrad.ones(4, 3)
    irgrad.mark_dynamic(x, 0)
    np.testing.assert_array_equal(compiled(x).numpy(), np.full((4, 3), 2.0))
    np.testing.assert_array_equal(buffer.numpy(), np.zeros(3))  # as eager leaves it
    compiled(irgrad.ones(5, 3))
    np.testing.assert_array_equal(buffer.numpy(), np.ones(3))  # a call at 5 writes it, as eager


def test_a_probe_leaves_an_argument_it_writes_and_does_not_resize_as_it_was():
    """A probe gets the call's arguments resized along the dynamic dims; an argument
    without one (an accumulator) is the call's own memory, which the probe writes: it
    is put back, so the accumulator holds the calls' sums only."""

    def accumulate(x, total):
        total.add_(x.sum(0))
        return x * 2

    compiled = irgrad.compile(accumulate, backend="llvm")
    total, eager_total = irgrad.zeros(3), irgrad.zeros(3)
    for rows in (4, 5, 9, 9):
        x = irgrad.tensor(np.arange(rows * 3, dtype=np.float32).reshape(rows, 3))
        irgrad.mark_dynamic(x, 0)
        np.testing.assert_array_equal(compiled(x, total).numpy(), accumulate(x, eager_total).numpy())
        np.testing.assert_array_equal(total.numpy(), eager_total.numpy())
