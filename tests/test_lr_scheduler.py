"""irgrad.optim.lr_scheduler: learning-rate sequences against PyTorch, and scheduler state.

Each PyTorch comparison builds the same optimizer (two parameter groups with different
learning rates) in both libraries, steps optimizer and scheduler ~30 times and compares
``get_last_lr()`` and every group's ``lr`` after each step.
"""

from __future__ import annotations

import warnings

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import irgrad
from irgrad import optim
from irgrad.optim import lr_scheduler

STEPS = 30


class Halving:
    """A callable object: LambdaLR saves its ``__dict__`` in the state dict."""

    def __init__(self, every: int) -> None:
        self.every = every

    def __call__(self, epoch: int) -> float:
        return 0.5 ** (epoch // self.every)


SCHEDULERS = [
    ("StepLR", {"step_size": 4}),
    ("StepLR", {"step_size": 3, "gamma": 0.5}),
    ("MultiStepLR", {"milestones": [2, 5, 5, 11], "gamma": 0.3}),
    ("ExponentialLR", {"gamma": 0.9}),
    ("CosineAnnealingLR", {"T_max": 10}),
    ("CosineAnnealingLR", {"T_max": 7, "eta_min": 0.001}),
    ("LambdaLR", {"lr_lambda": lambda e: 1.0 / (1 + e)}),
    ("LambdaLR", {"lr_lambda": [lambda e: 0.95**e, Halving(4)]}),
    ("MultiplicativeLR", {"lr_lambda": lambda e: 0.97}),
    ("LinearLR", {}),
    ("LinearLR", {"start_factor": 0.1, "end_factor": 0.8, "total_iters": 12}),
    ("ConstantLR", {"factor": 0.25, "total_iters": 6}),
    ("PolynomialLR", {"total_iters": 12, "power": 2.0}),
]


def _optimizer(lib, name: str = "SGD"):
    a = lib.zeros(3, requires_grad=True)
    b = lib.zeros(2, requires_grad=True)
    return getattr(lib.optim, name)([{"params": [a]}, {"params": [b], "lr": 0.05}], lr=0.2), (a, b)


def _step_optimizer(lib, opt, params) -> None:
    for p in params:
        p.grad = lib.ones_like(p)
    opt.step()


def _lrs(opt) -> list[float]:
    return [g["lr"] for g in opt.param_groups]


def _assert_close(mine: list, theirs: list, what: str) -> None:
    assert mine == pytest.approx(theirs, rel=1e-12, abs=1e-15), what


@pytest.mark.parametrize("name,options", SCHEDULERS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(SCHEDULERS)])
def test_lr_sequence_matches_torch(name: str, options: dict) -> None:
    torch = pytest.importorskip("torch")
    mine_opt, mine_params = _optimizer(irgrad)
    theirs_opt, theirs_params = _optimizer(torch)
    mine = getattr(lr_scheduler, name)(mine_opt, **options)
    theirs = getattr(torch.optim.lr_scheduler, name)(theirs_opt, **options)
    _assert_close(mine.get_last_lr(), theirs.get_last_lr(), "initial")
    assert mine.base_lrs == theirs.base_lrs
    for step in range(STEPS):
        _step_optimizer(irgrad, mine_opt, mine_params)
        _step_optimizer(torch, theirs_opt, theirs_params)
        mine.step()
        theirs.step()
        _assert_close(mine.get_last_lr(), theirs.get_last_lr(), f"step {step}")
        _assert_close(_lrs(mine_opt), _lrs(theirs_opt), f"step {step}")
        assert mine.last_epoch == theirs.last_epoch
    assert [g["initial_lr"] for g in mine_opt.param_groups] == [
        g["initial_lr"] for g in theirs_opt.param_groups
    ]
    assert sorted(mine.state_dict()) == sorted(theirs.state_dict())


def test_chained_schedulers_match_torch() -> None:
    """Two chainable schedulers acting on one Adam optimizer, with the optimizer's steps."""
    torch = pytest.importorskip("torch")
    mine_opt, mine_params = _optimizer(irgrad, "Adam")
    theirs_opt, theirs_params = _optimizer(torch, "Adam")
    mine = [
        lr_scheduler.LinearLR(mine_opt, start_factor=0.2, total_iters=5),
        lr_scheduler.CosineAnnealingLR(mine_opt, T_max=12, eta_min=1e-3),
    ]
    theirs = [
        torch.optim.lr_scheduler.LinearLR(theirs_opt, start_factor=0.2, total_iters=5),
        torch.optim.lr_scheduler.CosineAnnealingLR(theirs_opt, T_max=12, eta_min=1e-3),
    ]
    for step in range(STEPS):
        _step_optimizer(irgrad, mine_opt, mine_params)
        _step_optimizer(torch, theirs_opt, theirs_params)
        for m, t in zip(mine, theirs):
            m.step()
            t.step()
        _assert_close(_lrs(mine_opt), _lrs(theirs_opt), f"step {step}")
        for p, q in zip(mine_params, theirs_params):
            assert p.detach().numpy() == pytest.approx(q.detach().numpy(), rel=1e-5, abs=1e-6)


def _composite(lib, opt, kind: str):
    sched = lib.optim.lr_scheduler
    warmup = sched.LinearLR(opt, start_factor=0.1, total_iters=4)
    if kind == "sequential":
        decay = sched.CosineAnnealingLR(opt, T_max=10, eta_min=1e-3)
        return sched.SequentialLR(opt, [warmup, decay], milestones=[4])
    if kind == "nested":
        inner = sched.SequentialLR(opt, [warmup, sched.ExponentialLR(opt, gamma=0.9)], milestones=[4])
        return sched.SequentialLR(opt, [inner, sched.StepLR(opt, step_size=3)], milestones=[12])
    return sched.ChainedScheduler([warmup, sched.ExponentialLR(opt, gamma=0.95)])


@pytest.mark.parametrize("kind", ["sequential", "nested", "chained"])
def test_composite_schedulers_match_torch(kind: str) -> None:
    torch = pytest.importorskip("torch")
    mine_opt, mine_params = _optimizer(irgrad)
    theirs_opt, theirs_params = _optimizer(torch)
    mine, theirs = _composite(irgrad, mine_opt, kind), _composite(torch, theirs_opt, kind)
    _assert_close(mine.get_last_lr(), theirs.get_last_lr(), "initial")
    for step in range(STEPS):
        _step_optimizer(irgrad, mine_opt, mine_params)
        _step_optimizer(torch, theirs_opt, theirs_params)
        mine.step()
        theirs.step()
        _assert_close(mine.get_last_lr(), theirs.get_last_lr(), f"step {step}")
        _assert_close(_lrs(mine_opt), _lrs(theirs_opt), f"step {step}")
    assert sorted(mine.state_dict()) == sorted(theirs.state_dict())
    assert len(mine.state_dict()["_schedulers"]) == len(theirs.state_dict()["_schedulers"])


@pytest.mark.parametrize("name,options", SCHEDULERS[:6] + SCHEDULERS[9:], ids=lambda x: str(x)[:20])
def test_step_with_epoch_uses_closed_form_like_torch(name: str, options: dict) -> None:
    torch = pytest.importorskip("torch")
    mine_opt, _ = _optimizer(irgrad)
    theirs_opt, _ = _optimizer(torch)
    mine = getattr(lr_scheduler, name)(mine_opt, **options)
    theirs = getattr(torch.optim.lr_scheduler, name)(theirs_opt, **options)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for epoch in (3, 7, 2, 15):
            mine.step(epoch)
            theirs.step(epoch)
            _assert_close(mine.get_last_lr(), theirs.get_last_lr(), f"epoch {epoch}")


@settings(max_examples=30, deadline=None)
@given(
    mode=st.sampled_from(["min", "max"]),
    threshold_mode=st.sampled_from(["rel", "abs"]),
    patience=st.integers(0, 3),
    cooldown=st.integers(0, 2),
    min_lr=st.sampled_from([0.0, 0.01, [0.0, 0.02]]),
    metrics=st.lists(st.floats(-2, 2), min_size=5, max_size=25),
)
def test_reduce_lr_on_plateau_matches_torch(
    mode, threshold_mode, patience, cooldown, min_lr, metrics
) -> None:
    torch = pytest.importorskip("torch")
    mine_opt, _ = _optimizer(irgrad)
    theirs_opt, _ = _optimizer(torch)
    kwargs = dict(
        mode=mode, threshold_mode=threshold_mode, patience=patience, cooldown=cooldown, min_lr=min_lr
    )
    mine = lr_scheduler.ReduceLROnPlateau(mine_opt, factor=0.5, **kwargs)
    theirs = torch.optim.lr_scheduler.ReduceLROnPlateau(theirs_opt, factor=0.5, **kwargs)
    for m in metrics:
        mine.step(irgrad.tensor(m, dtype=irgrad.float64))  # a 0-d tensor, as users pass a loss
        theirs.step(m)
        _assert_close(_lrs(mine_opt), _lrs(theirs_opt), f"metric {m}")
        assert mine.get_last_lr() == theirs.get_last_lr()
        assert mine.num_bad_epochs == theirs.num_bad_epochs and mine.best == theirs.best


def test_errors_match_torch() -> None:
    torch = pytest.importorskip("torch")
    cases = [
        ("LinearLR", {"start_factor": 0.0}, ValueError),
        ("LinearLR", {"end_factor": 1.5}, ValueError),
        ("ConstantLR", {"factor": 1.5}, ValueError),
        ("LambdaLR", {"lr_lambda": [lambda e: 1.0]}, ValueError),
        ("ReduceLROnPlateau", {"factor": 1.0}, ValueError),
        ("ReduceLROnPlateau", {"mode": "middle"}, ValueError),
        ("StepLR", {"step_size": 2, "last_epoch": 3}, KeyError),
        ("SequentialLR", {"schedulers": [], "milestones": []}, ValueError),
    ]
    for name, options, exc in cases:
        with pytest.raises(exc) as theirs:
            getattr(torch.optim.lr_scheduler, name)(_optimizer(torch)[0], **options)
        with pytest.raises(exc) as mine:
            getattr(lr_scheduler, name)(_optimizer(irgrad)[0], **options)
        if exc is ValueError:
            assert str(mine.value) == str(theirs.value), name
    with pytest.raises(TypeError, match="is not an Optimizer"):
        lr_scheduler.StepLR(object(), step_size=1)


# --- irgrad-only behaviour ------------------------------------------------------------------


def test_scheduler_state_dict_round_trip() -> None:
    opt, params = _optimizer(irgrad)
    sched = lr_scheduler.LambdaLR(opt, lr_lambda=[lambda e: 0.9**e, Halving(3)])
    for _ in range(5):
        _step_optimizer(irgrad, opt, params)
        sched.step()
    saved_opt, saved = opt.state_dict(), sched.state_dict()
    assert "optimizer" not in saved and saved["lr_lambdas"] == [None, {"every": 3}]
    expected = []
    for _ in range(5):
        _step_optimizer(irgrad, opt, params)
        sched.step()
        expected.append(sched.get_last_lr())

    opt2, params2 = _optimizer(irgrad)
    halving = Halving(100)
    sched2 = lr_scheduler.LambdaLR(opt2, lr_lambda=[lambda e: 0.9**e, halving])
    sched2.load_state_dict(saved)
    opt2.load_state_dict(saved_opt)
    assert halving.every == 3 and "lr_lambdas" in saved
    for want in expected:
        _step_optimizer(irgrad, opt2, params2)
        sched2.step()
        assert sched2.get_last_lr() == want


def test_initial_lr_and_resume_from_last_epoch() -> None:
    opt, _ = _optimizer(irgrad)
    sched = lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    assert [g["initial_lr"] for g in opt.param_groups] == [0.2, 0.05]
    assert sched.base_lrs == [0.2, 0.05] and sched.last_epoch == 0
    opt.param_groups[0]["lr"] = 0.1
    resumed = lr_scheduler.StepLR(opt, step_size=2, gamma=0.5, last_epoch=4)
    assert resumed.base_lrs == [0.2, 0.05] and resumed.last_epoch == 5


def test_warns_when_scheduler_steps_before_optimizer() -> None:
    opt, params = _optimizer(irgrad)
    sched = lr_scheduler.ExponentialLR(opt, gamma=0.5)
    with pytest.warns(UserWarning, match="before `optimizer.step\\(\\)`"):
        sched.step()
    opt2, params2 = _optimizer(irgrad)
    sched2 = lr_scheduler.ExponentialLR(opt2, gamma=0.5)
    _step_optimizer(irgrad, opt2, params2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sched2.step()
    with pytest.warns(UserWarning, match="get_last_lr"):
        sched2.get_lr()


def test_wrapped_step_still_returns_closure_loss() -> None:
    opt, params = _optimizer(irgrad)
    lr_scheduler.StepLR(opt, step_size=1)
    lr_scheduler.StepLR(opt, step_size=1)  # a second scheduler does not wrap twice
    assert opt.step(lambda: 3.5) == 3.5
    assert opt._opt_called
    assert isinstance(opt, optim.SGD)


def test_a_scheduler_subclassing_the_old_base_class_runs_as_torchs() -> None:
    """Older scripts subclass ``lr_scheduler._LRScheduler`` and write ``get_lr``."""
    torch = pytest.importorskip("torch")

    def warmup(lib):
        class Warmup(lib.optim.lr_scheduler._LRScheduler):
            def get_lr(self):
                return [base * min(1.0, (self.last_epoch + 1) / 4) for base in self.base_lrs]

        opt, params = _optimizer(lib)
        scheduler = Warmup(opt)
        lrs = []
        for _ in range(6):
            _step_optimizer(lib, opt, params)
            scheduler.step()
            lrs.append(_lrs(opt))
        return lrs, isinstance(scheduler, lib.optim.lr_scheduler.LRScheduler)

    _assert_close(warmup(irgrad), warmup(torch), "_LRScheduler subclass")
