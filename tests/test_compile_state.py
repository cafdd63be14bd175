"""A compiled function is observably the same function as the eager one, call after call.

Each scenario builds its state twice from the same seed, runs it eagerly on one copy and
compiled on the other, and compares every output, every tensor the program can change,
every gradient and parameter, after each of several calls (state changed between calls
where the scenario says so).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from graph_calls import assert_graphs_answered
from optim_cases import cross_entropy_step

import irgrad
import irgrad.nn as nn
import irgrad.nn.functional as F
from irgrad.tensor import Tensor

SCALE = 2.0
TABLE: dict = {}
COUNTER: Tensor | None = None


@dataclass
class Scenario:
    fn: Callable
    args: Callable[[int], tuple] = lambda i: ()
    observe: Callable[[], Any] = lambda: None
    between: Callable[[int], None] = lambda i: None
    calls: int = 4
    extra: dict = field(default_factory=dict)
    graphs_run: bool = True  # whether calls after the captures run graphs (not recaptures)


def _freeze(x):
    """A comparable copy of outputs and state: tensors as (array, requires_grad, grad)."""
    if isinstance(x, Tensor):
        grad = x._grad
        return ("tensor", x._data.copy(), x._rg, None if grad is None else grad._data.copy())
    if isinstance(x, (list, tuple)):
        return tuple(_freeze(v) for v in x)
    if isinstance(x, dict):
        return tuple((k, _freeze(v)) for k, v in x.items())
    if isinstance(x, nn.Module):
        return _freeze({n: t for n, t in list(x.named_parameters()) + list(x.named_buffers())})
    return x


def _assert_same(a, b, where: str) -> None:
    if isinstance(a, tuple) and a and a[0] == "tensor":
        assert isinstance(b, tuple) and b[0] == "tensor", f"{where}: tensor vs {b!r}"
        np.testing.assert_allclose(b[1], a[1], rtol=1e-5, atol=1e-6, err_msg=where)
        assert a[1].dtype == b[1].dtype and a[1].shape == b[1].shape, where
        assert a[2] == b[2], f"{where}: requires_grad eager={a[2]} compiled={b[2]}"
        assert (a[3] is None) == (b[3] is None), f"{where}: grad presence differs"
        if a[3] is not None:
            np.testing.assert_allclose(b[3], a[3], rtol=1e-5, atol=1e-6, err_msg=where + ".grad")
    elif isinstance(a, tuple):
        assert isinstance(b, tuple) and len(a) == len(b), f"{where}: {a!r} vs {b!r}"
        for k, (x, y) in enumerate(zip(a, b)):
            _assert_same(x, y, f"{where}[{k}]")
    else:
        assert a == b, f"{where}: eager {a!r}, compiled {b!r}"


def check(build: Callable[[], Scenario]) -> Any:
    """Run ``build()``'s scenario eagerly and compiled on each backend, and compare
    everything after each call (the calls after the captures must have run graphs);
    returns the last compiled function."""
    records = []
    compiled_fn = None
    for mode in ("eager", "numpy", "llvm"):
        irgrad.manual_seed(0)
        scenario = build()
        fn = scenario.fn
        if mode != "eager":
            fn = compiled_fn = irgrad.compile(scenario.fn, backend=mode)
        seen = []
        for i in range(scenario.calls):
            irgrad.manual_seed(1000 + i)
            out = fn(*scenario.args(i))
            seen.append((_freeze(out), _freeze(scenario.observe())))
            scenario.between(i)
        if mode != "eager" and scenario.graphs_run:
            assert_graphs_answered(compiled_fn)
        records.append((mode, seen))
    (_, eager), *compiled = records
    for mode, seen in compiled:
        for i, (expected, actual) in enumerate(zip(eager, seen)):
            _assert_same(expected[0], actual[0], f"{mode}: call {i} output")
            _assert_same(expected[1], actual[1], f"{mode}: call {i} state")
    return compiled_fn


def _mlp():
    return nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3))


def _batch(i):
    g = np.random.default_rng(i)
    x = irgrad.tensor(g.standard_normal((5, 6)).astype(np.float32))
    y = irgrad.tensor(g.integers(0, 3, 5))
    return x, y


def _train_step(make_opt, clip=None, scheduler=None, model_fn=_mlp, calls=5):
    def build():
        model = model_fn()
        opt = make_opt(model.parameters())
        step = cross_entropy_step(model, opt, clip, scheduler(opt) if scheduler else None)

        def observe():
            return model, opt.state_dict()["state"]

        # a scheduler's step runs after each compiled call (compiler/deferred.py): graphs run
        return Scenario(step, _batch, observe, calls=calls)

    return build


TRAIN_STEPS = {
    "sgd": _train_step(lambda p: irgrad.optim.SGD(p, lr=0.1)),
    "sgd-momentum": _train_step(lambda p: irgrad.optim.SGD(p, lr=0.1, momentum=0.9)),
    "sgd-nesterov-wd": _train_step(
        lambda p: irgrad.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-2)
    ),
    "adam": _train_step(lambda p: irgrad.optim.Adam(p, lr=1e-2)),
    "adam-amsgrad": _train_step(lambda p: irgrad.optim.Adam(p, lr=1e-2, amsgrad=True, weight_decay=0.1)),
    "adamw-clip-scheduler": _train_step(
        lambda p: irgrad.optim.AdamW(p, lr=1e-2),
        clip=0.5,
        scheduler=lambda o: irgrad.optim.lr_scheduler.StepLR(o, step_size=2, gamma=0.5),
    ),
    "adamw-clip": _train_step(lambda p: irgrad.optim.AdamW(p, lr=1e-2), clip=0.05),
    "rmsprop-centered-momentum": _train_step(
        lambda p: irgrad.optim.RMSprop(p, lr=1e-2, centered=True, momentum=0.5)
    ),
    "adagrad": _train_step(lambda p: irgrad.optim.Adagrad(p, lr=0.1, lr_decay=0.01)),
    "adadelta": _train_step(lambda p: irgrad.optim.Adadelta(p, lr=0.5, weight_decay=0.01)),
    "nadam": _train_step(lambda p: irgrad.optim.NAdam(p, lr=1e-2, weight_decay=0.01)),
    "nadamw": _train_step(
        lambda p: irgrad.optim.NAdam(p, lr=1e-2, weight_decay=0.1, decoupled_weight_decay=True, maximize=True)
    ),
    # RAdam rectifies from step 6 (betas[1]=0.9) or 7 (0.8) on: one graph for steps before and after
    "radam": _train_step(
        lambda p: irgrad.optim.RAdam(p, lr=1e-2, betas=(0.9, 0.9), weight_decay=0.01), calls=8
    ),
    "radamw": _train_step(
        lambda p: irgrad.optim.RAdam(
            p, lr=1e-2, betas=(0.8, 0.8), weight_decay=0.1, decoupled_weight_decay=True
        ),
        calls=8,
    ),
    "adamax": _train_step(lambda p: irgrad.optim.Adamax(p, lr=1e-2, weight_decay=0.01, maximize=True)),
    "rprop": _train_step(lambda p: irgrad.optim.Rprop(p, lr=1e-2, etas=(0.4, 1.3))),
    # ASGD starts averaging at step t0: one graph for steps before and after
    "asgd": _train_step(
        lambda p: irgrad.optim.ASGD(p, lr=1e-2, lambd=1e-2, t0=3, weight_decay=0.01), calls=6
    ),
    "dropout": _train_step(
        lambda p: irgrad.optim.SGD(p, lr=0.1),
        model_fn=lambda: nn.Sequential(nn.Linear(6, 8), nn.Dropout(0.5), nn.ReLU(), nn.Linear(8, 3)),
    ),
    "batchnorm": _train_step(
        lambda p: irgrad.optim.SGD(p, lr=0.1, momentum=0.9),
        model_fn=lambda: nn.Sequential(nn.Linear(6, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3)),
    ),
}


@pytest.mark.parametrize("name", list(TRAIN_STEPS))
def test_compiled_training_step_equals_eager(name):
    compiled = check(TRAIN_STEPS[name])
    entries = compiled._compiled.cache
    assert all(e.graph_break is None for e in entries), compiled._compiled.log
    assert len(entries) == 2, compiled._compiled.log  # the first step (no state yet), then every step


def test_the_issue_training_step_trains_and_explains_its_free_inputs(backend):
    model = nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 5))
    opt = irgrad.optim.SGD(model.parameters(), lr=0.1)

    step = irgrad.compile(backend=backend)(cross_entropy_step(model, opt))

    x, y = irgrad.randn(16, 20), irgrad.randint(0, 5, (16,))
    losses = [float(step(x, y)) for _ in range(6)]
    assert all(b < a for a, b in zip(losses, losses[1:])), losses
    report = step.explain()
    last = report.graphs[-1]
    assert "model.0.weight" in last["free_inputs"] and "model.0.weight" in last["writes"]
    assert any(r.startswith("model.0.weight.grad") for r in last["replays"])
    assert "opt.param_groups[0]['lr']: a graph input (any float)" in last["guards"]
    assert "opt.param_groups.0.lr" in last["free_inputs"]


def test_changing_the_learning_rate_does_not_recompile_a_training_step():
    def build():
        model = _mlp()
        opt = irgrad.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)

        step = cross_entropy_step(model, opt)

        def between(i):
            for group in opt.param_groups:
                group["lr"] *= 0.5

        return Scenario(step, _batch, lambda: model, between, calls=6)

    compiled = check(build)
    assert len(compiled._compiled.cache) == 2, compiled._compiled.log


def test_a_lifted_learning_rate_is_one_read_only_tensor_until_the_rate_changes():
    # the guard keeps the 0-d tensor of a lifted number while the number is the same
    # object; each new object, of a new value, of an equal one, or the first rate again,
    # gets its own, and the step uses it as eager uses the rate
    model, twin = _mlp(), _mlp()
    twin.load_state_dict(model.state_dict())
    opt = irgrad.optim.SGD(model.parameters(), lr=0.1)
    eager_opt = irgrad.optim.SGD(twin.parameters(), lr=0.1)
    step = irgrad.compile(cross_entropy_step(model, opt))
    eager = cross_entropy_step(twin, eager_opt)
    first = opt.param_groups[0]["lr"]
    rates = [first, first, 0.05, float("0.05"), float("0.05"), first]  # (two equal, distinct floats)

    def lifted_rate(x, y) -> Tensor:
        """The tensor the guard hands the step for the rate (the first lifted number; momentum's follows)."""
        roots = (step._compiled.target, (x, y), {})
        (inputs,) = [found for e in step._compiled.entries if (found := e.guard(roots)) is not None]
        return [t for t in inputs if t.shape == () and t.dtype == irgrad.float64][0]

    lifted = []
    for i, rate in enumerate(rates):
        opt.param_groups[0]["lr"] = eager_opt.param_groups[0]["lr"] = rate
        x, y = _batch(i)
        np.testing.assert_allclose(step(x, y).numpy(), eager(x, y).numpy(), rtol=1e-6)
        if i == 0:
            continue  # (the first call's graph wants no .grad: the next one's is the step's)
        tensor = lifted_rate(x, y)
        assert tensor.item() == rate and not tensor._data.flags.writeable
        assert lifted_rate(x, y) is tensor  # the same float object: the same tensor
        lifted.append(tensor)
    for a, b in zip(model.parameters(), twin.parameters()):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-5, atol=1e-7)
    assert len({id(t) for t in lifted}) == len(lifted)  # first, 0.05, the two equal floats, first again
    assert len(step._compiled.entries) == 2, step._compiled.log  # (the first call's, without .grad)


def test_a_learning_rate_the_step_also_reads_as_a_number_is_guarded_by_its_value():
    # the rate is a graph input the guard accepts at any value only while nothing else
    # reads it: a step returning it (or computing with it in Python) must see each new
    # rate, so it recompiles for one rather than return the rate it was traced with
    def build():
        model = _mlp()
        opt = irgrad.optim.SGD(model.parameters(), lr=0.1)

        def step(x, y):
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            group = opt.param_groups[0]
            return loss.detach(), group["lr"], group.get("lr") * 2, dict(group)["lr"]

        rates = [0.1, 0.1, 0.1, 0.2, 0.2, 0.1, 0.2]  # per call: graphs run for rates seen before

        def between(i):
            opt.param_groups[0]["lr"] = rates[i + 1]

        return Scenario(step, _batch, lambda: model, between, calls=len(rates) - 1, graphs_run=False)

    compiled = check(build)
    assert sum(entry.runs for entry in compiled._compiled.entries) >= 3, compiled._compiled.log


def test_a_param_group_is_a_dict_and_its_state_dict_holds_plain_dicts():
    opt = irgrad.optim.SGD(_mlp().parameters(), lr=0.1)
    group = opt.param_groups[0]
    assert isinstance(group, dict) and group["lr"] == 0.1 and dict(group)["lr"] == 0.1
    assert all(type(g) is dict for g in opt.state_dict()["param_groups"])
    opt.load_state_dict(opt.state_dict())
    assert type(opt.param_groups[0]).__name__ == "ParamGroup"


def test_loss_closure_with_eager_backward_and_step_outside(backend):
    # compile only the loss closure: backward and step run eagerly outside
    records = []
    for compiled in (False, True):
        irgrad.manual_seed(0)
        model = _mlp()
        opt = irgrad.optim.SGD(model.parameters(), lr=0.1)
        fwd = lambda x, model=model: model(x).pow(2).mean()  # noqa: E731
        if compiled:
            fwd = irgrad.compile(fwd, backend=backend)
        seen = []
        for i in range(4):
            loss = fwd(_batch(i)[0])
            opt.zero_grad()
            loss.backward()
            opt.step()
            seen.append((_freeze(loss), _freeze(model)))
        if compiled:
            assert_graphs_answered(fwd)
        records.append(seen)
    for i, (a, b) in enumerate(zip(*records)):
        _assert_same(a, b, f"call {i}")


def test_module_passed_as_an_argument(backend):
    a, b = _mlp(), _mlp()
    f = irgrad.compile(lambda m, x: m(x).sum(), backend=backend)
    x = irgrad.randn(2, 6)
    with irgrad.no_grad():
        for m in (a, b, a, b):
            np.testing.assert_allclose(f(m, x).numpy(), m(x).sum().numpy(), rtol=1e-6)
    assert_graphs_answered(f)


def test_closure_tensor_changed_in_place_and_rebound():
    def build():
        box = {"w": irgrad.ones(3)}
        g = irgrad.ones(3)

        def f(x):
            return x * g + box["w"]

        def between(i):
            g.add_(1)
            if i == 1:
                box["w"] = irgrad.full((3,), 7.0)
            if i == 2:
                box["w"] = irgrad.full((4,), 1.0)[:3] * 2  # another tensor of the same shape

        return Scenario(f, lambda i: (irgrad.arange(3.0),), lambda: (g, box["w"]), between, calls=5)

    check(build)


def test_globals_read_by_the_function_are_guarded():
    def build():
        global SCALE
        SCALE = 2.0

        def f(x):
            return x * SCALE

        def between(i):
            global SCALE
            SCALE = 3.0 if i == 1 else SCALE

        return Scenario(f, lambda i: (irgrad.ones(2),), between=between)

    compiled = check(build)
    assert "SCALE changed from 2.0 to 3.0" in "\n".join(compiled._compiled.log)


def test_counter_updated_in_place_happens_once_per_call():
    def build():
        cnt = irgrad.zeros(())

        def c(x):
            cnt.add_(1)
            return x * cnt

        return Scenario(c, lambda i: (irgrad.ones(()),), lambda: cnt, calls=5)

    check(build)


def test_global_counter_and_ema_updated_in_place():
    def build():
        global COUNTER
        COUNTER = irgrad.zeros(())
        ema = irgrad.zeros(3)

        def f(x):
            COUNTER.add_(1)
            ema.mul_(0.5).add_(x)
            return ema * 2

        return Scenario(f, lambda i: (irgrad.full((3,), float(i)),), lambda: (COUNTER, ema))

    check(build)


def test_attribute_assignment_in_a_compiled_module_forward(backend):
    class Remember(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(3, 3)
            self.last = None

        def forward(self, x):
            y = self.fc(x).tanh()
            self.last = y
            return y * 2

    def build():
        m = Remember()
        return Scenario(m, lambda i: (irgrad.full((2, 3), float(i)),), lambda: m.last)

    records = []
    for compiled in (False, True):
        irgrad.manual_seed(0)
        m = Remember()
        f = irgrad.compile(m, backend=backend) if compiled else m
        seen = []
        with irgrad.no_grad():
            for i in range(4):
                out = f(irgrad.full((2, 3), float(i)))
                seen.append((_freeze(out), _freeze(m.last)))
        if compiled:
            assert_graphs_answered(f)
        records.append(seen)
    for i, (a, b) in enumerate(zip(*records)):
        _assert_same(a, b, f"call {i}")


def test_autograd_grad_inside_with_a_closure_leaf():
    def build():
        w = irgrad.randn(3, requires_grad=True)

        def f(x):
            y = (x * w).sin().sum()
            (g,) = irgrad.autograd.grad(y, w)
            return g

        def between(i):
            with irgrad.no_grad():
                w.mul_(1.5)

        return Scenario(f, lambda i: (irgrad.full((3,), float(i + 1)),), lambda: w, between)

    check(build)


def test_zero_argument_function_and_bound_method():
    class Holder:
        def __init__(self) -> None:
            self.w = irgrad.arange(4.0)

        def total(self):
            return (self.w * 2).sum()

    def build():
        h = Holder()

        def between(i):
            h.w.add_(1)
            if i == 2:
                h.w = irgrad.ones(4)

        return Scenario(h.total, observe=lambda: h.w, between=between)

    check(build)


def test_side_effects_of_validation_never_show():
    def build():
        seen = irgrad.zeros(())

        def f(x):
            seen.add_(x.sum())
            return x * 2

        return Scenario(f, lambda i: (irgrad.full((2,), float(i + 1)),), lambda: seen)

    check(build)


def test_dropout_draws_as_eager_in_a_seeded_run():
    def build():
        model = nn.Sequential(nn.Linear(4, 16), nn.Dropout(0.5))
        return Scenario(lambda x: model(x), lambda i: (irgrad.ones(3, 4),), lambda: model)

    check(build)


def test_returning_an_input_keeps_its_identity_and_gradient(backend):
    def f(x, v):
        return v

    compiled = irgrad.compile(f, backend=backend)
    for _ in range(3):
        x, v = irgrad.randn(2, requires_grad=True), irgrad.randn(2, requires_grad=True)
        out = compiled(x, v)
        assert out is v
        out.sum().backward()
        np.testing.assert_array_equal(v.grad.numpy(), np.ones(2, np.float32))


def test_ones_like_does_not_require_grad(backend):
    compiled = irgrad.compile(lambda v: irgrad.ones_like(v), backend=backend)
    for _ in range(3):
        out = compiled(irgrad.randn(2, requires_grad=True))
        assert not out.requires_grad


def test_returned_constant_is_a_fresh_tensor_every_call(backend):
    compiled = irgrad.compile(lambda x: (x * 2, irgrad.zeros(3)), backend=backend)
    with irgrad.no_grad():
        for _ in range(3):
            _, z = compiled(irgrad.ones(3))
            np.testing.assert_array_equal(z.numpy(), np.zeros(3, np.float32))
            z.add_(1)  # must not change what the next call returns


def test_compiler_api(backend):
    calls = []

    @irgrad.compiler.disable
    def eager_only(x):
        calls.append(irgrad.compiler.is_compiling())
        return x + 1

    f = irgrad.compile(lambda x: eager_only(x) * 2, backend=backend)
    for _ in range(3):
        np.testing.assert_array_equal(f(irgrad.ones(2)).numpy(), [4.0, 4.0])
    assert "irgrad.compiler.disable" in f.explain()
    assert irgrad.compile(_mlp, disable=True) is _mlp
    irgrad.compiler.reset()
    assert not f._compiled.cache

    model = _mlp()
    model.compile(backend=backend)
    x = irgrad.randn(2, 6)
    with irgrad.no_grad():
        model(x)
        out = model(x)
        expected = model._call_impl(x)
    assert model._compiled_call.cache
    np.testing.assert_allclose(out.numpy(), expected.numpy(), rtol=1e-6)


def test_compiled_module_methods_keep_the_wrapper(backend):
    compiled = irgrad.compile(_mlp(), backend=backend)
    assert isinstance(compiled.to("cpu"), type(compiled))
    assert isinstance(compiled.train(), type(compiled)) and isinstance(compiled.eval(), type(compiled))
    assert isinstance(compiled.float(), type(compiled))
    assert isinstance(compiled.requires_grad_(False), type(compiled))
    assert len(list(compiled.parameters())) == 4 and "0.weight" in compiled.state_dict()


def test_a_graph_that_writes_its_arguments_is_not_reused_when_they_alias(backend):
    def f(a, b):
        a.add_(1)
        return b * 2  # eager reads b after the write: the same tensor as a means a's new value

    c = irgrad.compile(f, backend=backend)
    with irgrad.no_grad():
        for _ in range(2):
            c(irgrad.zeros(2), irgrad.zeros(2))
        x, y = irgrad.zeros(2), irgrad.zeros(2)
        np.testing.assert_array_equal(c(x, x).numpy(), f(y, y).numpy())


def test_a_step_that_pulls_its_batch_from_an_iterator_runs_as_eager():
    # next(it) hands the step a tensor no walked path reaches, and advances the iterator:
    # a graph could neither fetch next call's batch nor advance it, so the call is a break
    def build():
        model = _mlp()
        opt = irgrad.optim.SGD(model.parameters(), lr=0.1)
        batches = iter([_batch(i) for i in range(8)])

        def step():
            x, y = next(batches)
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            return loss.detach()

        return Scenario(step, observe=lambda: model, calls=5, graphs_run=False)

    compiled = check(build)
    assert "reached through no argument" in str(compiled._compiled.breaks[0])


def test_a_value_read_through_dlpack_is_a_graph_break():
    def build():
        total = irgrad.zeros(1)

        def f(x):
            total.add_(float(np.from_dlpack(x)[0]))  # the value steers Python: not a constant
            return total * 1

        return Scenario(f, lambda i: (irgrad.tensor([i + 1.0]),), lambda: total, graphs_run=False)

    compiled = check(build)
    assert "DLPack" in str(compiled._compiled.breaks[0])


@pytest.mark.parametrize(
    "draw",
    [
        lambda x: x[irgrad.randperm(3)],
        lambda x: x * irgrad.normal(0.0, 1.0, (3,)),
        lambda x: x * irgrad.bernoulli(irgrad.full((3,), 0.5)),
        lambda x: x * irgrad.randn(3, generator=irgrad.Generator().manual_seed(1)),
        lambda x: (irgrad.manual_seed(0), F.dropout(x))[1],
    ],
)
def test_random_draws_a_graph_cannot_replay_break_the_graph(draw, backend):
    """Draws from a generator outside the random ops (and reseeding) would be frozen into a
    graph: they make the call run eagerly, with a fresh draw each time."""
    c = irgrad.compile(draw, backend=backend)
    with irgrad.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(3):
            x = irgrad.ones(3)
            irgrad.manual_seed(7)
            got = c(x)
            irgrad.manual_seed(7)
            np.testing.assert_array_equal(got.numpy(), draw(x).numpy())
    assert c._compiled.breaks and "random" in str(c._compiled.breaks[0])


def test_alpha_dropout_is_a_random_op_drawn_as_eager():
    def build():
        return Scenario(lambda x: F.alpha_dropout(x, 0.3, training=True), lambda i: (irgrad.ones(4, 5),))

    compiled = check(build)
    assert not compiled._compiled.breaks


def test_a_hook_registered_after_compiling_is_seen(backend):
    w = irgrad.ones(3, requires_grad=True)
    model_step = irgrad.compile(lambda x: (x * w).sum().backward(), backend=backend)
    for _ in range(2):
        w.grad = None
        model_step(irgrad.ones(3))
    np.testing.assert_array_equal(w.grad.numpy(), [1.0, 1.0, 1.0])
    w.register_hook(lambda g: g * 10)
    w.grad = None
    model_step(irgrad.ones(3))
    np.testing.assert_array_equal(w.grad.numpy(), [10.0, 10.0, 10.0])


def test_a_backward_from_one_output_leaves_other_inputs_gradients_alone(backend):
    g0, g2 = irgrad.randn(3, requires_grad=True), irgrad.randn(3, requires_grad=True)
    S = {}

    def f():
        v0 = g0 * 2
        S["last"] = v0  # a stored value that requires grad (through g0)
        return g2.exp()

    c = irgrad.compile(f, backend=backend)
    for _ in range(3):
        c().sum().backward()
    assert g0.grad is None and g2.grad is not None


def test_a_no_grad_write_keeps_a_leafs_gradient_path(backend):
    """After ``with no_grad(): x.mul_(0.9)``, the gradient of ``x - y`` still reaches x with 1."""

    def f(x, y):
        with irgrad.no_grad():
            x.mul_(0.9)
        return x - y

    c = irgrad.compile(f, backend=backend)
    for _ in range(3):
        x, y = irgrad.randn(3, requires_grad=True), irgrad.randn(3)
        c(x, y).sum().backward()
        np.testing.assert_array_equal(x.grad.numpy(), np.ones(3, np.float32))


def test_a_returned_loss_whose_backward_ran_inside_gets_no_backward_graph():
    # ``loss.backward(); return loss``: eager's graph is released, so a second backward
    # raises; the compiled call builds no backward for it and raises the same way
    def make(retain: bool):
        irgrad.manual_seed(0)
        model = _mlp()
        opt = irgrad.optim.SGD(model.parameters(), lr=0.1)

        def step(x, y):
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward(retain_graph=retain)
            opt.step()
            return loss

        return model, step

    for retain in (False, True):
        (eager_model, eager_step), (model, step) = make(retain), make(retain)
        run = irgrad.compile(step)
        for i in range(4):
            want, got = eager_step(*_batch(i)), run(*_batch(i))
            np.testing.assert_allclose(got.item(), want.item(), rtol=1e-6)
            assert got.requires_grad
            if i >= 2:  # the first two calls capture (and return eager's tensor)
                assert got.grad_fn.name() == "CompiledFunctionBackward"
            if not retain:  # (with retain_graph a second backward meets the updated parameters)
                for loss in (want, got):
                    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
                        loss.backward()
            for p, q in zip(model.parameters(), eager_model.parameters()):
                np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=1e-5, atol=1e-7)
                np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-5, atol=1e-7)
        assert (run._compiled.entries[-1].built.backward is None) is not retain


def test_a_loss_whose_top_node_saves_nothing_is_released_when_every_path_below_is():
    # a sum's node saves nothing, so the backward never marks it freed; eager's second
    # backward still raises at the nodes below it that did save (tanh, sigmoid, mul): the
    # compiled call builds no backward graph for it either, and raises the same way
    def make():
        irgrad.manual_seed(0)
        x = irgrad.randn(64, dtype=irgrad.float64, requires_grad=True)
        opt = irgrad.optim.SGD([x], lr=0.01)

        def step():
            opt.zero_grad()
            loss = (x.tanh() * x.sigmoid() + 0.5 * x * x).sum()
            loss.backward()
            opt.step()
            return loss

        return x, step

    (eager_x, eager_step), (x, step) = make(), make()
    run = irgrad.compile(step)
    for _ in range(4):
        want, got = eager_step(), run()
        np.testing.assert_allclose(got.item(), want.item(), rtol=1e-12)
        np.testing.assert_allclose(x.detach().numpy(), eager_x.detach().numpy(), rtol=1e-12)
        assert got.requires_grad
    assert run._compiled.entries[-1].built.backward is None
    for loss in (want, got):
        with pytest.raises(RuntimeError, match="backward through the graph a second time"):
            loss.backward()


def test_a_backward_through_a_path_released_inside_the_call_raises_as_eager():
    # ``loss.backward(); return loss + (w * x).sum()``: eager's returned value still has a
    # live path to w, but its path to x goes through nodes the inner backward freed, so a
    # gradient to x raises while one to w alone does not; the compiled backward, which
    # could compute both, refuses the same way
    def make():
        irgrad.manual_seed(0)
        x = irgrad.randn(8, dtype=irgrad.float64, requires_grad=True)
        w = irgrad.randn(8, dtype=irgrad.float64, requires_grad=True)

        def step():
            loss = (x.tanh() * x).sum()
            loss.backward()
            return loss + (w * x).sum()

        return x, w, step

    (ex, ew, eager_step), (x, w, step) = make(), make()
    run = irgrad.compile(step)
    for _ in range(3):
        want, got = eager_step(), run()
        np.testing.assert_allclose(got.item(), want.item(), rtol=1e-12)
    assert got.grad_fn.name() == "CompiledFunctionBackward"
    for out, leaf_x, leaf_w in ((want, ex, ew), (got, x, w)):
        (gw,) = irgrad.autograd.grad(out, [leaf_w], retain_graph=True)
        np.testing.assert_allclose(gw.numpy(), leaf_x.detach().numpy(), rtol=1e-12)
        for inputs in ([leaf_x], [leaf_w, leaf_x], None):
            with pytest.raises(RuntimeError, match="backward through the graph a second time"):
                if inputs is None:
                    out.backward(retain_graph=True)
                else:
                    irgrad.autograd.grad(out, inputs, retain_graph=True)


def test_a_value_computed_from_an_activation_an_inner_backward_released_raises_as_eager():
    # ``h.sum().backward(); return h * 2``: the path from h * 2 goes through the nodes
    # below h that the backward freed (tanh's output, the linear layer's input), so a
    # backward from it raises in eager, and from the compiled call's result too
    def make():
        irgrad.manual_seed(0)
        lin = nn.Linear(4, 3)

        def step(x):
            h = lin(x).tanh()
            h.sum().backward()
            return h * 2

        return step

    x = irgrad.randn(2, 4)
    eager_step, step = make(), make()
    run = irgrad.compile(step)
    for _ in range(3):
        want, got = eager_step(x), run(x)
        np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), rtol=1e-6)
    assert got.grad_fn.name() == "CompiledFunctionBackward"
    for out in (want, got):
        with pytest.raises(RuntimeError, match="backward through the graph a second time"):
            out.sum().backward()
