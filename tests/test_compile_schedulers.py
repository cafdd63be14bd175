"""A learning-rate scheduler stepped inside a compiled training step
(irgrad/compiler/deferred.py): its ``step()`` runs after every compiled call, so the
step compiles once (not once per epoch) and trains exactly as eager: parameters, rates,
the scheduler's counters and ``get_last_lr()`` after every call.  What would make the
repeated step wrong is refused: the traced code reading what the step rebinds (before
it: guarded; after it: a graph break), or an optimizer stepping after the scheduler."""

from __future__ import annotations

import numpy as np
import pytest

import irgrad
from irgrad import nn
from irgrad.nn import functional as F
from irgrad.optim import lr_scheduler as S

SCHEDULERS = {
    "step": lambda o: S.StepLR(o, step_size=2, gamma=0.5),
    "cosine": lambda o: S.CosineAnnealingLR(o, T_max=5, eta_min=0.001),
    "lambda-warmup": lambda o: S.LambdaLR(o, lambda e: min(1.0, (e + 1) / 3)),
    "linear": lambda o: S.LinearLR(o, start_factor=0.25, total_iters=4),
    "sequential": lambda o: S.SequentialLR(
        o, [S.ConstantLR(o, factor=0.5, total_iters=2), S.ExponentialLR(o, gamma=0.9)], milestones=[3]
    ),
    "chained": lambda o: S.ChainedScheduler([S.ExponentialLR(o, gamma=0.9), S.StepLR(o, 3, 0.5)]),
    # these cycle the momentum (SGD's momentum, Adam's beta1) too: a graph input like the rate
    "one-cycle": lambda o: S.OneCycleLR(o, max_lr=0.2, total_steps=12),
    "cyclic": lambda o: S.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=3),
    "warm-restarts": lambda o: S.CosineAnnealingWarmRestarts(o, T_0=2, T_mult=2, eta_min=0.001),
}
OPTIMIZERS = {
    "sgd-momentum": lambda p: irgrad.optim.SGD(p, lr=0.1, momentum=0.9),
    "adamw": lambda p: irgrad.optim.AdamW(p, lr=0.01),
}
CALLS = 9


def _train(model, opt, x, y):
    """A training step's first half: zero the gradients, the loss, its backward."""
    opt.zero_grad()
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    return loss


def setup(scheduler: str, optimizer: str, make_optimizer=None, make_scheduler=None, double: bool = True):
    """model, optimizer, scheduler and a training step over them (the named ones, or those
    the given functions make)."""
    irgrad.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3))
    model = model.double() if double else model
    opt = (make_optimizer or OPTIMIZERS[optimizer])(model.parameters())
    sched = (make_scheduler or SCHEDULERS[scheduler])(opt)

    def step(x, y):
        loss = _train(model, opt, x, y)
        opt.step()
        sched.step()
        return loss.detach()

    return model, opt, sched, step


def batch(i):
    rng = np.random.default_rng(i)
    return irgrad.tensor(rng.standard_normal((5, 6))), irgrad.tensor(rng.integers(0, 3, 5))


def observed(model, opt, sched) -> list:
    return (
        [p.detach().numpy().copy() for p in model.parameters()]
        + [g[key] for g in opt.param_groups for key in ("lr", "momentum", "betas") if key in g]
        + [list(sched.get_last_lr()), getattr(sched, "last_epoch", None)]
    )


def assert_same(got: list, want: list) -> None:
    assert len(got) == len(want)
    for g, w in zip(got, want):
        if w is None:
            assert g is None
        else:
            np.testing.assert_allclose(np.asarray(g, dtype=float), np.asarray(w, dtype=float), rtol=1e-12)


def broke_around_the_step(compiled, where: str) -> bool:
    """Whether a capture broke because the traced code touched, ``where`` (before or after)
    the scheduler's step, what the step rebinds or reads."""
    return any(
        e.startswith("graph break") and f"{where} " in e and "step" in e for e in compiled._compiled.log
    )


def runs(compiled) -> int:
    return sum(entry.runs for entry in compiled._compiled.entries)


@pytest.mark.parametrize("optimizer", sorted(OPTIMIZERS))
@pytest.mark.parametrize("scheduler", sorted(SCHEDULERS))
def test_a_scheduler_stepped_inside_a_compiled_step_trains_as_eager_without_recompiling(scheduler, optimizer):
    eager = setup(scheduler, optimizer)
    compiled = setup(scheduler, optimizer)
    run = irgrad.compile(compiled[3])
    for i in range(CALLS):
        np.testing.assert_allclose(float(run(*batch(i))), float(eager[3](*batch(i))), rtol=1e-12)
        assert_same(observed(*compiled[:3]), observed(*eager[:3]))
    # the first call traces, the second too (.grad exists then); every later call runs the
    # graph, but for SequentialLR's switch to its second scheduler: that one's counter was
    # not rebound by the step traced before (so it was guarded), and is after it
    traces = 3 if scheduler == "sequential" else 2
    assert runs(run) == CALLS - traces, run._compiled.log
    text = str(run.explain())
    assert "called after each call" in text and "sched.step()" in text


def check_as_eager(make, calls: int = 6):
    """``make()`` -> (state to observe, step): the compiled step matches eager's every call;
    returns the compiled step."""
    eager_state, eager_step = make()
    state, step = make()
    run = irgrad.compile(step)
    for i in range(calls):
        want, got = eager_step(*batch(i)), run(*batch(i))
        for a, b in zip(
            got if isinstance(got, tuple) else (got,), want if isinstance(want, tuple) else (want,)
        ):
            np.testing.assert_allclose(
                np.asarray(a.numpy() if hasattr(a, "numpy") else a),
                np.asarray(b.numpy() if hasattr(b, "numpy") else b),
                rtol=1e-12,
            )
        assert_same(observed(*state), observed(*eager_state))
    return run


def _variant(body, step_size: int = 2):
    def make():
        irgrad.manual_seed(0)
        model = nn.Linear(6, 3).double()
        opt = irgrad.optim.SGD(model.parameters(), lr=0.1, momentum=0.5)
        sched = S.StepLR(opt, step_size=step_size, gamma=0.5)
        return (model, opt, sched), lambda x, y: body(model, opt, sched, x, y)

    return make


def test_the_traced_code_reading_the_counter_before_the_step_keeps_it_guarded():
    def body(model, opt, sched, x, y):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y) * (2.0 if sched.last_epoch < 3 else 1.0)
        loss.backward()
        opt.step()
        sched.step()
        return loss.detach()

    run = check_as_eager(_variant(body))
    assert any("last_epoch changed" in e for e in run._compiled.log), run._compiled.log


def test_reading_the_rate_after_the_step_is_a_graph_break_not_a_stale_rate():
    def body(model, opt, sched, x, y):
        loss = _train(model, opt, x, y)
        opt.step()
        sched.step()
        return loss.detach(), sched.get_last_lr()[0], opt.param_groups[0]["lr"]

    run = check_as_eager(_variant(body))
    assert broke_around_the_step(run, "after"), run._compiled.log


def test_an_optimizer_stepping_after_the_scheduler_is_a_graph_break():
    # the graph would read the rate at the start of the call, eager reads the new one
    def body(model, opt, sched, x, y):
        loss = _train(model, opt, x, y)
        sched.step()
        opt.step()
        return loss.detach()

    run = check_as_eager(_variant(body))
    assert broke_around_the_step(run, "after"), run._compiled.log


def test_a_scheduler_stepped_with_a_metric_is_traced_as_before():
    # ReduceLROnPlateau reads its metric's value: a graph break, eager semantics
    def make():
        irgrad.manual_seed(0)
        model = nn.Linear(6, 3).double()
        opt = irgrad.optim.SGD(model.parameters(), lr=0.1)
        sched = S.ReduceLROnPlateau(opt, patience=0)

        def step(x, y):
            loss = _train(model, opt, x, y)
            opt.step()
            sched.step(loss)
            return loss.detach()

        return (model, opt, sched), step

    def observe(model, opt, sched):
        return [p.detach().numpy().copy() for p in model.parameters()] + [opt.param_groups[0]["lr"]]

    (eager_state, eager_step), (state, step) = make(), make()
    run = irgrad.compile(step)
    for i in range(5):
        np.testing.assert_allclose(float(run(*batch(i))), float(eager_step(*batch(i))), rtol=1e-12)
        assert_same(observe(*state), observe(*eager_state))


def test_check_mode_compares_what_the_repeated_step_rebinds():
    model, opt, sched, step = setup("step", "sgd-momentum")
    eager = setup("step", "sgd-momentum")
    run = irgrad.compile(step, check=True)
    for i in range(5):
        np.testing.assert_allclose(float(run(*batch(i))), float(eager[3](*batch(i))), rtol=1e-12)
        assert_same(observed(model, opt, sched), observed(*eager[:3]))


# --- what a review found (each compared with eager over calls on both sides of a rate change)


@pytest.mark.parametrize("step_size", [2, 3])
def test_the_scheduler_before_the_optimizer_is_a_graph_break_whether_or_not_the_traced_step_changes_the_rate(
    step_size,
):
    # a call between the schedule's decay points writes the same rate: the step still rebinds it
    def body(model, opt, sched, x, y):
        loss = _train(model, opt, x, y)
        sched.step()
        opt.step()
        return loss.detach()

    run = check_as_eager(_variant(body, step_size), calls=7)
    assert broke_around_the_step(run, "after"), run._compiled.log


@pytest.mark.parametrize("where", ["before", "after"])
def test_the_traced_code_rebinding_the_rate_around_the_step_is_a_graph_break(where):
    def body(model, opt, sched, x, y):
        loss = _train(model, opt, x, y)
        opt.step()
        if where == "before":
            opt.param_groups[0]["lr"] = 0.08
        sched.step()
        if where == "after":
            opt.param_groups[0]["lr"] = 0.01
        return loss.detach()

    run = check_as_eager(_variant(body, step_size=3), calls=5)
    assert broke_around_the_step(run, where), run._compiled.log


@pytest.mark.parametrize("how", ["get_last_lr", "state_dict"])
def test_scheduler_state_the_traced_code_reads_before_the_step_stays_guarded(how):
    def body(model, opt, sched, x, y):
        loss = _train(model, opt, x, y)
        opt.step()
        seen = sched.get_last_lr()[0] if how == "get_last_lr" else sched.state_dict()["last_epoch"]
        sched.step()
        return loss.detach(), seen

    check_as_eager(_variant(body, step_size=3), calls=6)


def test_a_compiled_function_updating_a_list_item_runs():
    counter = [0]
    w = irgrad.ones(3, requires_grad=True)

    def step(x):
        counter[0] += 1
        return (w * x).sum()

    run = irgrad.compile(step)
    for k in range(1, 5):
        assert float(run(irgrad.ones(3))) == 3.0 and counter == [k]


def test_check_mode_passes_a_step_between_the_schedules_decay_points():
    def body(model, opt, sched, x, y):
        loss = _train(model, opt, x, y)
        opt.step()
        sched.step()
        return loss.detach()

    (state, step), (eager_state, eager_step) = _variant(body, step_size=3)(), _variant(body, step_size=3)()
    run = irgrad.compile(step, check=True)
    for i in range(6):
        np.testing.assert_allclose(float(run(*batch(i))), float(eager_step(*batch(i))), rtol=1e-12)
        assert_same(observed(*state), observed(*eager_state))


def _pop_and_restore(group, key):
    value = group.pop(key)
    group[key] = value
    return value


@pytest.mark.parametrize("read", ["setdefault", "pop", "repr", "dict", "items"])
def test_every_way_of_reading_a_param_group_guards_the_rate(read):
    def body(model, opt, sched, x, y):
        loss = _train(model, opt, x, y)
        opt.step()
        group = opt.param_groups[0]
        seen = {
            "setdefault": lambda: group.setdefault("lr", 0.0),
            "pop": lambda: _pop_and_restore(group, "lr"),
            "repr": lambda: float(repr(group).split("'lr': ")[1].split(",")[0]),
            "dict": lambda: dict(group)["lr"],
            "items": lambda: dict(group.items())["lr"],
        }[read]()
        return loss.detach(), seen

    def make():
        irgrad.manual_seed(0)
        model = nn.Linear(6, 3).double()
        opt = irgrad.optim.SGD(model.parameters(), lr=0.1)
        return (model, opt, S.StepLR(opt, 2)), lambda x, y: body(model, opt, None, x, y)

    rates = [0.1, 0.1, 0.05, 0.05, 0.025, 0.1]

    # the rate changes between calls (outside the step): a read of it must see each new one
    (state, step), (eager_state, eager_step) = make(), make()
    run = irgrad.compile(step)
    for i, lr in enumerate(rates):
        for o in (state[1], eager_state[1]):
            o.param_groups[0]["lr"] = lr
        got, want = run(*batch(i)), eager_step(*batch(i))
        assert float(got[1]) == float(want[1]) == lr
        np.testing.assert_allclose(float(got[0]), float(want[0]), rtol=1e-12)


def test_a_graph_released_below_the_returned_value_still_differentiates_to_other_inputs():
    # eager: autograd.grad(out, [w2]) runs only w2's path, which the inner backward left alone
    def make():
        irgrad.manual_seed(0)
        w1 = irgrad.randn(4, dtype=irgrad.float64, requires_grad=True)
        w2 = irgrad.randn(4, dtype=irgrad.float64, requires_grad=True)

        def step(x):
            a = (w1 * x).sum()
            a.backward()
            return a + (w2 * x).sum()

        return w2, step

    x = irgrad.tensor(np.arange(4.0))
    (ew2, eager_step), (w2, step) = make(), make()
    run = irgrad.compile(step)
    for _ in range(3):
        want = irgrad.autograd.grad(eager_step(x), [ew2])[0]
        got = irgrad.autograd.grad(run(x), [w2])[0]
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12)


# --- a second review: what the repeated step may rely on


def test_a_tensor_rate_is_written_in_place_so_its_scheduler_is_traced():
    def make():
        irgrad.manual_seed(0)
        model = nn.Linear(6, 3).double()
        opt = irgrad.optim.SGD(model.parameters(), lr=irgrad.tensor(0.1, dtype=irgrad.float64))
        sched = S.StepLR(opt, step_size=1, gamma=0.5)

        def step(x, y):
            loss = _train(model, opt, x, y)
            sched.step()
            opt.step()
            return loss.detach(), opt.param_groups[0]["lr"] * 1.0

        return (model, opt, sched), step

    check_as_eager(make, calls=5)


def test_a_plain_dict_param_group_keeps_its_rate_guarded():
    # a group appended as a plain dict reports nothing: its rate is not lifted, and a
    # scheduler over it is traced
    def make():
        irgrad.manual_seed(0)
        model = nn.Linear(6, 3).double()
        opt = irgrad.optim.SGD(model.parameters(), lr=0.1)
        opt.param_groups[0] = dict(opt.param_groups[0])
        sched = S.StepLR(opt, step_size=3, gamma=0.5)

        def step(x, y):
            loss = _train(model, opt, x, y)
            sched.step()
            opt.step()
            return loss.detach(), opt.param_groups[0]["lr"]

        return (model, opt, sched), step

    check_as_eager(make, calls=7)


def test_a_user_scheduler_with_its_own_rule_is_traced():
    # its get_lr may read anything (here a gradient the step then drops): it is not repeated
    class GradNormLR(S.LRScheduler):
        def get_lr(self):
            p = self.optimizer.param_groups[0]["params"][0]
            scale = 1.0 if p.grad is None else 1.0 / (1.0 + float(p.grad.norm()))
            return [base * scale for base in self.base_lrs]

    def make():
        irgrad.manual_seed(0)
        model = nn.Linear(6, 3).double()
        opt = irgrad.optim.SGD(model.parameters(), lr=0.1)
        sched = GradNormLR(opt)

        def step(x, y):
            loss = _train(model, opt, x, y)
            opt.step()
            sched.step()
            opt.zero_grad()
            return loss.detach()

        return (model, opt, sched), step

    check_as_eager(make, calls=5)


def test_two_schedulers_on_one_optimizer_are_repeated_in_order():
    def make():
        irgrad.manual_seed(0)
        model = nn.Linear(6, 3).double()
        opt = irgrad.optim.SGD(model.parameters(), lr=0.1, momentum=0.5)
        first, second = S.StepLR(opt, step_size=1, gamma=0.5), S.ExponentialLR(opt, gamma=0.9)

        def step(x, y):
            loss = _train(model, opt, x, y)
            opt.step()
            first.step()
            second.step()
            return loss.detach()

        return (model, opt, second), step

    run = check_as_eager(make, calls=6)
    assert runs(run) == 6 - 2, run._compiled.log


# --- the third review's cases ---------------------------------------------------------------


def test_zero_grad_after_the_schedulers_step_still_runs_graphs():
    # zero_grad reads each group's params after the step: a slot the step does not rebind
    def body(model, opt, sched, x, y):
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        sched.step()
        opt.zero_grad()
        return loss.detach()

    run = check_as_eager(_variant(body), calls=8)
    assert runs(run) >= 5, run._compiled.log


def test_the_repeated_step_is_of_the_scheduler_the_traced_call_stepped():
    # the traced code moves box.cur after stepping it: the repeated step must find the
    # scheduler where it was when step() was called, not where the replays put the slot
    class Box:
        pass

    def make():
        irgrad.manual_seed(0)
        model = nn.Linear(6, 3).double()
        opt = irgrad.optim.SGD(model.parameters(), lr=0.1)
        box = Box()
        box.cur = S.StepLR(opt, step_size=1, gamma=0.5)  # the first path to it: box.cur
        box.warm = box.cur
        box.main = S.ExponentialLR(irgrad.optim.SGD(model.parameters(), lr=0.1), gamma=0.9)

        def step(x, y):
            loss = _train(model, opt, x, y)
            opt.step()
            box.cur.step()
            box.cur = box.main
            return loss.detach()

        return box, step

    (eager_box, eager_step), (box, step) = make(), make()
    run = irgrad.compile(step)
    for i in range(6):
        eager_box.cur, box.cur = eager_box.warm, box.warm  # the caller picks the warm-up schedule
        eager_step(*batch(i))
        run(*batch(i))
        assert (box.warm.last_epoch, box.main.last_epoch) == (
            eager_box.warm.last_epoch,
            eager_box.main.last_epoch,
        )
    assert runs(run) >= 3, run._compiled.log


def test_a_lambda_reading_state_the_step_writes_after_the_step_is_traced_not_repeated():
    # the lambda reads `flags`, which the traced code writes after sched.step(): repeated
    # after the call, it would read this call's value where eager read the last call's
    def make():
        irgrad.manual_seed(0)
        model = nn.Linear(6, 3).double()
        opt = irgrad.optim.SGD(model.parameters(), lr=0.1)
        flags = {"big": False}
        sched = S.LambdaLR(opt, lambda epoch: 0.5 if flags["big"] else 1.0)

        def step(x, y):
            loss = _train(model, opt, x, y)
            opt.step()
            sched.step()
            flags["big"] = bool(x.shape[0] > 4) and not flags["big"]
            return loss.detach()

        return (model, opt, sched), step

    check_as_eager(make)


def test_a_lambda_of_the_epoch_alone_is_repeated():
    from irgrad.compiler.deferred import _pure

    warmup = 3
    assert _pure(lambda e: min(1.0, (e + 1) / warmup))
    state = {"scale": 1.0}
    assert not _pure(lambda e: state["scale"])
    assert not _pure(lambda e, s=[1.0]: s[0])


def test_the_traced_code_reordering_the_groups_after_the_step_is_a_graph_break():
    def make():
        irgrad.manual_seed(0)
        model = nn.Linear(6, 3).double()
        opt = irgrad.optim.SGD([{"params": [model.weight]}, {"params": [model.bias], "lr": 0.01}], lr=0.1)
        sched = S.ExponentialLR(opt, gamma=0.9)

        def step(x, y):
            loss = _train(model, opt, x, y)
            opt.step()
            sched.step()
            opt.param_groups.reverse()
            return loss.detach()

        return (model, opt, sched), step

    run = check_as_eager(make)
    assert any("param_groups after a scheduler's step" in e for e in run._compiled.log), run._compiled.log


def test_a_scheduler_keeps_its_class_inside_a_compiled_step():
    # reads and writes are reported by hooks on LRScheduler for the trace only: code that
    # tests the scheduler's type, pickles it or copies it sees what eager code sees
    import copy
    import pickle

    copies = []

    def body(model, opt, sched, x, y):
        loss = _train(model, opt, x, y)
        opt.step()
        sched.step()
        copies.append(copy.copy(sched))
        exact = type(sched) is S.StepLR and sched.__class__ is S.StepLR
        pickled = pickle.loads(pickle.dumps(type(sched))) is S.StepLR
        return loss.detach() * (1.0 if exact and pickled else float("nan"))

    check_as_eager(_variant(body), calls=4)
    assert copies and all(type(c) is S.StepLR for c in copies)
    assert "__getattribute__" not in S.LRScheduler.__dict__  # the hooks are gone after the trace


@pytest.mark.parametrize("with_scheduler", [True, False])
def test_a_rate_that_is_no_longer_a_number_raises_as_eager_and_leaves_the_parameters(with_scheduler):
    # the lifted rate is a graph input; unguarded by value (any rate will do, and a
    # repeated step rebinds it), it must still be a number: None raised nothing and
    # wrote NaN into the parameters
    def body(model, opt, sched, x, y):
        loss = _train(model, opt, x, y)
        opt.step()
        if with_scheduler:
            sched.step()
        return loss.detach()

    (model, opt, sched), step = _variant(body)()
    run = irgrad.compile(step)
    for i in range(4):
        run(*batch(i))
    before = [p.detach().numpy().copy() for p in model.parameters()]
    opt.param_groups[0]["lr"] = None
    with pytest.raises(TypeError):
        run(*batch(4))
    for p, b in zip(model.parameters(), before):
        np.testing.assert_array_equal(p.detach().numpy(), b)
    opt.param_groups[0]["lr"] = 0.05
    assert np.isfinite(float(run(*batch(5))))
    assert all(np.isfinite(p.detach().numpy()).all() for p in model.parameters())


CYCLED_MOMENTUM = {
    "sgd-nesterov": lambda p: irgrad.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3),
    "adam-amsgrad": lambda p: irgrad.optim.Adam(p, lr=0.01, amsgrad=True),
    "adamw": lambda p: irgrad.optim.AdamW(p, lr=0.01),
    "rmsprop-centered": lambda p: irgrad.optim.RMSprop(p, lr=0.01, momentum=0.5, centered=True),
    "nadam": lambda p: irgrad.optim.NAdam(p, lr=0.01),
    "radam": lambda p: irgrad.optim.RAdam(p, lr=0.01),
    "adamax": lambda p: irgrad.optim.Adamax(p, lr=0.01),
}


@pytest.mark.parametrize("optimizer", sorted(CYCLED_MOMENTUM))
def test_a_cycled_momentum_is_a_graph_input_in_float32(optimizer):
    # OneCycleLR rewrites SGD's momentum / Adam's betas every step: lifted like the rate,
    # they no longer recompile every call (8 recaptures, then eager); in float32 the
    # compiled update rounds each coefficient to the parameter dtype as eager does
    def make():
        return setup(
            None,
            None,
            CYCLED_MOMENTUM[optimizer],
            lambda o: S.OneCycleLR(o, max_lr=0.02, total_steps=40),  # gentle: rounding is not amplified
            double=False,
        )

    eager, compiled = make(), make()
    run = irgrad.compile(compiled[3])
    for i in range(20):
        x, y = batch(i)
        x = x.float()
        np.testing.assert_allclose(float(run(x, y)), float(eager[3](x, y)), rtol=1e-5)
        for got, want in zip(compiled[0].parameters(), eager[0].parameters()):
            np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), rtol=2e-5, atol=1e-6)
        assert compiled[1].param_groups[0].get("momentum") == eager[1].param_groups[0].get("momentum")
        assert compiled[1].param_groups[0].get("betas") == eager[1].param_groups[0].get("betas")
    assert runs(run) == 20 - 2, run._compiled.log


@pytest.mark.parametrize(
    ("key", "values"),
    [
        ("momentum", [0.9, 0.5, 0.0, 0.0, 0.7, 0.95]),  # 0 takes the branch without a buffer
        ("betas", [(0.9, 0.999), (0.3, 0.99), (0.5, 0.9), (0.99, 0.999)]),  # lerp's two branches
    ],
)
def test_a_momentum_set_between_calls_is_read_afresh_and_zero_recompiles(key, values):
    def make():
        irgrad.manual_seed(0)
        model = nn.Linear(6, 3).double()
        opt = (
            irgrad.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
            if key == "momentum"
            else irgrad.optim.Adam(model.parameters(), lr=0.01)
        )

        def step(x, y):
            loss = _train(model, opt, x, y)
            opt.step()
            return loss.detach()

        return model, opt, step

    eager, compiled = make(), make()
    run = irgrad.compile(compiled[2])
    for i, value in enumerate(values * 2):
        for _, opt, _ in (eager, compiled):
            opt.param_groups[0][key] = value
        np.testing.assert_allclose(float(run(*batch(i))), float(eager[2](*batch(i))), rtol=1e-12)
        for got, want in zip(compiled[0].parameters(), eager[0].parameters()):
            np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), rtol=1e-12)
    # a momentum of 0 is another branch (a second graph), any other value is an input
    graphs = len(run._compiled.entries)
    assert graphs <= (3 if key == "momentum" else 2), run._compiled.log
    assert runs(run) >= len(values * 2) - graphs - 1, run._compiled.log


def test_a_list_the_traced_code_writes_before_the_step_is_not_the_steps():
    # the state diff copies a changed list: two copies of one write are the same change,
    # not a slot the scheduler's step rebound (which was a graph break on every call)
    last = [None]

    def body(model, opt, sched, x, y):
        loss = _train(model, opt, x, y)
        opt.step()
        last[0] = loss.detach()
        sched.step()
        return loss.detach()

    run = check_as_eager(_variant(body), calls=8)
    out = run(*batch(8))
    assert float(last[0]) == float(out)
    assert runs(run) >= 5, run._compiled.log


def test_the_guard_reads_a_param_group_directly_and_still_sees_every_change():
    # the guard reads a ParamGroup's items with dict.__getitem__ (its own __getitem__ only
    # reports reads to a tracer): a hyperparameter changed between calls still misses it
    def make():
        irgrad.manual_seed(0)
        model = nn.Linear(6, 3).double()
        opt = irgrad.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)

        def step(x, y):
            loss = _train(model, opt, x, y)
            opt.step()
            return loss.detach()

        return model, opt, step

    model, opt, step = make()
    eager_model, eager_opt, eager_step = make()
    run = irgrad.compile(step)
    changes = [
        {},
        {},
        {"weight_decay": 0.1},
        {},
        {"dampening": 0.5},
        {"nesterov": True, "dampening": 0.0},
        {},
    ]
    for i, change in enumerate(changes):
        for o in (opt, eager_opt):
            o.param_groups[0].update(change)
        np.testing.assert_allclose(float(run(*batch(i))), float(eager_step(*batch(i))), rtol=1e-12)
    for p, q in zip(model.parameters(), eager_model.parameters()):
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=1e-12)
    entries = run._compiled.entries
    assert len(entries) >= 4  # one graph per set of hyperparameters seen
    assert "_item(" in entries[-1].guard.source
