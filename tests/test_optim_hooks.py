"""Optimizer hooks against PyTorch's: step pre/post hooks (per optimizer and global),
state-dict and load-state-dict hooks, compared by the calls they record; and step hooks
in a compiled training step, which must run on every call exactly as in eager.
"""

from __future__ import annotations

import copy
import importlib
import warnings

import numpy as np
import pytest
from optim_cases import batch, training

import irgrad
from irgrad import optim
from irgrad.optim.optimizer import register_optimizer_step_post_hook, register_optimizer_step_pre_hook
from irgrad.trace import GraphBreakError


def _torch():
    return pytest.importorskip("torch")


def _hooked(lib, events: list):
    """An SGD with step hooks (per instance and global) recording ``events``; its
    parameter, and the handles to remove."""
    p = lib.ones(3, requires_grad=True)
    opt = lib.optim.SGD([p], lr=0.1)
    hooks = importlib.import_module(f"{lib.__name__}.optim.optimizer")
    handles = [
        opt.register_step_pre_hook(lambda o, a, k: events.append(("pre", len(a), sorted(k)))),
        opt.register_step_post_hook(lambda o, a, k: events.append(("post", len(a), sorted(k)))),
        hooks.register_optimizer_step_pre_hook(
            lambda o, a, k: events.append(("global pre", type(o).__name__))
        ),
        hooks.register_optimizer_step_post_hook(
            lambda o, a, k: events.append(("global post", type(o).__name__))
        ),
        opt.register_step_pre_hook(lambda o, a, k: events.append(("pre 2", a[0] is o))),
    ]
    return p, opt, handles


def test_step_hooks_run_in_torchs_order_with_torchs_arguments() -> None:
    torch = _torch()
    logs = []
    for lib in (irgrad, torch):
        events: list = []
        p, opt, handles = _hooked(lib, events)
        try:
            p.grad = lib.ones(3)
            opt.step()
            opt.step(closure=None)
            handles[0].remove()
            handles[2].remove()
            opt.step()
        finally:
            for h in handles:
                h.remove()
        opt.step()
        logs.append(events)
    assert logs[0] == logs[1]
    assert logs[0][:4] == [("global pre", "SGD"), ("pre", 1, []), ("pre 2", True), ("post", 1, [])]


def test_a_pre_hook_may_replace_the_arguments() -> None:
    torch = _torch()
    results = []
    for lib in (irgrad, torch):
        p = lib.ones(2, requires_grad=True)
        opt = lib.optim.Adamax([p], lr=0.1)
        seen = []

        def closure(p=p, opt=opt):
            opt.zero_grad()
            loss = (p * 3).sum()
            loss.backward()
            return loss

        opt.register_step_pre_hook(lambda o, a, k, closure=closure: ((a[0],), {"closure": closure}))
        opt.register_step_post_hook(lambda o, a, k, seen=seen: seen.append(sorted(k)))
        loss = opt.step()
        results.append((float(loss.detach()), p.detach().numpy().copy(), seen))
    assert results[0][0] == results[1][0] == 6.0
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-6)
    assert results[0][2] == results[1][2] == [["closure"]]


def test_a_pre_hook_returning_something_else_is_an_error() -> None:
    torch = _torch()
    for lib in (irgrad, torch):
        p = lib.ones(2, requires_grad=True)
        opt = lib.optim.NAdam([p])
        opt.register_step_pre_hook(lambda o, a, k: "new args")
        with pytest.raises(RuntimeError, match=r"must return None or a tuple of \(new_args, new_kwargs\)"):
            opt.step()


def test_hooks_run_once_when_a_step_calls_its_base_step() -> None:
    calls = []

    class Counting(optim.RAdam):
        def step(self, closure=None):
            calls.append("step")
            return super().step(closure)

    p = irgrad.ones(2, requires_grad=True)
    opt = Counting([p])
    with opt.register_step_pre_hook(lambda o, a, k: calls.append("pre")):
        p.grad = irgrad.ones(2)
        opt.step()
        lbfgs = optim.LBFGS([irgrad.ones(2, requires_grad=True)])
        lbfgs.register_step_post_hook(lambda o, a, k: calls.append("lbfgs post"))
        lbfgs.step(lambda: irgrad.tensor(0.0))
    opt.step()
    assert calls == ["pre", "step", "lbfgs post", "step"]


def test_step_hooks_survive_load_state_dict_and_a_scheduler() -> None:
    events = []
    p = irgrad.ones(2, requires_grad=True)
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    opt.register_step_post_hook(lambda o, a, k: events.append(o.param_groups[0]["lr"]))
    sched = optim.lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=5)
    opt.load_state_dict(copy.deepcopy(opt.state_dict()))
    for _ in range(3):
        p.grad = irgrad.ones(2)
        opt.step()
        sched.step()
    assert len(events) == 3 and events[0] == pytest.approx(0.04)
    assert not copy.deepcopy(opt)._optimizer_step_post_hooks  # as in torch: hooks are not state


def _state_dict_hook_events(lib) -> list:
    """What state-dict hooks of every kind (some prepended, one removed) record while an
    optimizer saves its state and loads it back."""
    events: list = []
    p = lib.ones(2, requires_grad=True)
    opt = lib.optim.RAdam([p], lr=0.1)
    p.grad = lib.ones(2)
    opt.step()

    def post(o, sd):
        events.append(("sd post", sorted(sd)))
        return {**sd, "extra": 1}

    def load_pre(o, sd):
        events.append(("load pre", sorted(sd), "extra" in sd))
        sd.pop("extra")
        sd["param_groups"][0]["lr"] = 0.25

    opt.register_state_dict_pre_hook(lambda o: events.append("sd pre"))
    opt.register_state_dict_pre_hook(lambda o: events.append("sd pre first"), prepend=True)
    opt.register_state_dict_post_hook(post)
    opt.register_state_dict_post_hook(lambda o, sd: events.append(("sd post 2", sorted(sd))))
    opt.register_state_dict_post_hook(lambda o, sd: events.append("removed"), prepend=True).remove()
    sd = opt.state_dict()
    events.append(sorted(sd))
    opt.register_load_state_dict_pre_hook(load_pre)
    opt.register_load_state_dict_pre_hook(
        lambda o, sd: events.append(("load pre first", sorted(sd))), prepend=True
    )
    opt.register_load_state_dict_post_hook(lambda o: events.append(("load post", o.param_groups[0]["lr"])))
    opt.register_load_state_dict_post_hook(lambda o: events.append("load post first"), prepend=True)
    opt.load_state_dict(sd)
    events.append(("caller's dict", "extra" in sd))
    return events


def test_state_dict_hooks_match_torch() -> None:
    """Call order (prepend included), arguments, and the dicts hooks may return instead."""
    torch = _torch()
    mine = _state_dict_hook_events(irgrad)
    assert mine == _state_dict_hook_events(torch)
    assert mine[:4] == [
        "sd pre first",
        "sd pre",
        ("sd post", ["param_groups", "state"]),
        ("sd post 2", ["extra", "param_groups", "state"]),
    ]
    assert mine[-2:] == [("load post", 0.25), ("caller's dict", True)]  # the pre-hooks see a shallow copy


def test_load_state_dict_pre_hook_may_return_the_dict_to_load() -> None:
    p = irgrad.ones(2, requires_grad=True)
    opt = optim.NAdam([p], lr=0.1)
    replacement = optim.NAdam([irgrad.ones(2, requires_grad=True)], lr=0.5).state_dict()
    opt.register_load_state_dict_pre_hook(lambda o, sd: replacement)
    opt.load_state_dict(opt.state_dict())
    assert opt.param_groups[0]["lr"] == 0.5


# --- hooks in a compiled training step ------------------------------------------------------------


def _compiled_hook_run(register, backend: str, calls: int = 5):
    """Eager and compiled runs of a training step whose optimizer gets hooks from
    ``register(opt, log)`` before the third call; both runs' (losses, hook logs,
    parameters), and the compiled function."""
    runs = []
    for compiled in (False, True):
        model, opt, step = training("Adamax")
        log: list = []
        fn = irgrad.compile(step, backend=backend) if compiled else step
        losses = []
        handles = []
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                for i in range(calls):
                    if i == 2:
                        handles = register(opt, log)
                    losses.append(float(fn(*batch(i))))
        finally:
            for h in handles:
                h.remove()
        runs.append((losses, log, [p.detach().numpy().copy() for p in model.parameters()]))
    return runs, fn


def _assert_runs_equal(runs) -> None:
    (eager_losses, eager_log, eager_params), (losses, log, params) = runs
    np.testing.assert_allclose(losses, eager_losses, rtol=1e-6)
    assert log == eager_log and len(log) > 0
    for a, b in zip(eager_params, params):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)


def test_a_step_hook_registered_after_compiling_runs_on_every_call(backend) -> None:
    def register(opt, log):
        return [
            opt.register_step_pre_hook(lambda o, a, k: log.append(("pre", len(o.state)))),
            opt.register_step_post_hook(lambda o, a, k: log.append("post")),
        ]

    runs, fn = _compiled_hook_run(register, backend)
    _assert_runs_equal(runs)
    assert runs[1][1] == [("pre", 4), "post"] * 3
    assert all("Adamax.step() with step hooks" in str(b) for b in fn._compiled.breaks)
    assert "graph break: Adamax.step() with step hooks" in str(fn.explain())


def test_a_global_step_hook_registered_after_compiling_runs_on_every_call(backend) -> None:
    def register(opt, log):
        return [
            register_optimizer_step_pre_hook(lambda o, a, k: log.append(("global pre", type(o).__name__))),
            register_optimizer_step_post_hook(lambda o, a, k: log.append("global post")),
        ]

    runs, fn = _compiled_hook_run(register, backend)
    _assert_runs_equal(runs)
    assert runs[1][1] == [("global pre", "Adamax"), "global post"] * 3
    assert fn._compiled.breaks and all("Adamax.step() with step hooks" in str(b) for b in fn._compiled.breaks)


def test_removing_the_step_hooks_compiles_the_step_again(backend) -> None:
    model, opt, step = training("NAdam")
    fn = irgrad.compile(step, backend=backend)
    log = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with opt.register_step_post_hook(lambda o, a, k: log.append(1)):
            for i in range(2):
                fn(*batch(i))
        entries = len(fn._compiled.cache)
        for i in range(2, 5):
            fn(*batch(i))
    assert log == [1, 1]
    graphs = [e for e in fn._compiled.cache if e.graph_break is None]
    assert len(fn._compiled.cache) == entries + 1 and len(graphs) == 1, fn._compiled.log


def test_a_step_hook_with_fullgraph_is_an_error(backend) -> None:
    model, opt, step = training("RAdam")
    opt.register_step_pre_hook(lambda o, a, k: None)
    fn = irgrad.compile(step, backend=backend, fullgraph=True)
    with pytest.raises(GraphBreakError, match="RAdam.step\\(\\) with step hooks"):
        fn(*batch(0))
