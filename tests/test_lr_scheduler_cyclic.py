"""CyclicLR, OneCycleLR and CosineAnnealingWarmRestarts against PyTorch: the learning rates and momenta of every step,
``get_last_lr()``, state dicts and errors.

Each comparison builds the same optimizer (two parameter groups) and scheduler in both
libraries and steps them together; the schedules are Python arithmetic in both, so the
rates must be equal, not merely close.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import irgrad
from irgrad.optim import lr_scheduler


def _torch():
    return pytest.importorskip("torch")


def _optimizer(lib, name: str, options: dict | None = None):
    a, b = lib.zeros(2, requires_grad=True), lib.zeros(3, requires_grad=True)
    options = {"lr": 0.1, "momentum": 0.9} if options is None and name == "SGD" else options or {}
    return getattr(lib.optim, name)([{"params": [a]}, {"params": [b], "lr": 0.05}], **options)


def _momenta(opt) -> list:
    return [g["betas"][0] if "betas" in g else g.get("momentum") for g in opt.param_groups]


def _lrs(values: list) -> list[float]:
    return [float(v) for v in values]


def _run(lib, opt_name: str, sched_name: str, kwargs: dict, steps: int, opt_options: dict | None = None):
    """Per step (the constructor's first): get_last_lr(), the groups' rates and momenta."""
    opt = _optimizer(lib, opt_name, opt_options)
    scheduler = getattr(lib.optim.lr_scheduler, sched_name)(opt, **kwargs)
    seen = [(_lrs(scheduler.get_last_lr()), _lrs(g["lr"] for g in opt.param_groups), _momenta(opt))]
    for _ in range(steps):
        opt.step()
        scheduler.step()
        seen.append((_lrs(scheduler.get_last_lr()), _lrs(g["lr"] for g in opt.param_groups), _momenta(opt)))
    return seen, scheduler, opt


def _assert_same_schedule(sched_name: str, kwargs: dict, steps: int, opt_name: str = "SGD", opt_options=None):
    torch = _torch()
    mine, mine_sched, _ = _run(irgrad, opt_name, sched_name, kwargs, steps, opt_options)
    theirs, theirs_sched, _ = _run(torch, opt_name, sched_name, kwargs, steps, opt_options)
    for step, (m, t) in enumerate(zip(mine, theirs, strict=True)):
        assert m == t, f"step {step}: irgrad {m}, torch {t}"
    assert list(mine_sched.state_dict()) == list(theirs_sched.state_dict())
    return mine


class Halving:
    """A callable scale function with state, as PyTorch saves it (its ``__dict__``)."""

    def __init__(self, base: float = 0.5) -> None:
        self.base = base

    def __call__(self, x: float) -> float:
        return self.base**x


# --- CyclicLR -----------------------------------------------------------------------------------

CYCLIC = [
    {"base_lr": 0.01, "max_lr": 0.1, "step_size_up": 4},
    {"base_lr": [0.01, 0.02], "max_lr": [0.1, 0.3], "step_size_up": 3, "step_size_down": 5},
    {"base_lr": 0.001, "max_lr": 0.1, "step_size_up": 2, "step_size_down": 7, "mode": "triangular2"},
    {"base_lr": 0.01, "max_lr": 0.1, "step_size_up": 3, "mode": "exp_range", "gamma": 0.9},
    {"base_lr": 0.01, "max_lr": 0.1, "step_size_up": 5, "scale_fn": Halving(), "scale_mode": "cycle"},
    {"base_lr": 0.01, "max_lr": 0.1, "step_size_up": 2, "scale_fn": Halving(0.9), "scale_mode": "iterations"},
    {"base_lr": 0.01, "max_lr": 0.1, "step_size_up": 3, "base_momentum": 0.7, "max_momentum": [0.9, 0.95]},
    {"base_lr": 0.01, "max_lr": 0.1, "step_size_up": 4, "cycle_momentum": False},
]


@pytest.mark.parametrize("opt_name", ["SGD", "Adam"])
@pytest.mark.parametrize("kwargs", CYCLIC, ids=range(len(CYCLIC)))
def test_cyclic_lr_matches_torch(kwargs: dict, opt_name: str) -> None:
    seen = _assert_same_schedule("CyclicLR", kwargs, 30, opt_name)
    lrs = [lr[0] for lr, _, _ in seen]
    assert min(lrs) < max(lrs)


@pytest.mark.parametrize("seed", range(6))
def test_random_cyclic_schedules_match_torch(seed: int) -> None:
    rng = np.random.default_rng(seed)
    kwargs = {
        "base_lr": float(rng.uniform(1e-4, 0.01)),
        "max_lr": float(rng.uniform(0.02, 1.0)),
        "step_size_up": int(rng.integers(1, 8)),
        "step_size_down": int(rng.integers(1, 8)) if rng.integers(2) else None,
        "mode": str(rng.choice(["triangular", "triangular2", "exp_range"])),
        "gamma": float(rng.uniform(0.8, 1.0)),
        "base_momentum": float(rng.uniform(0.5, 0.8)),
        "max_momentum": float(rng.uniform(0.85, 0.99)),
    }
    _assert_same_schedule("CyclicLR", kwargs, 40, str(rng.choice(["SGD", "Adam", "RMSprop", "NAdam"])))


def test_cyclic_lr_sets_the_groups_as_torch() -> None:
    """A fresh CyclicLR starts each group at base_lr and max_momentum, and records both
    momentum bounds in the groups."""
    torch = _torch()
    groups = []
    for lib in (irgrad, torch):
        opt = _optimizer(lib, "Adam")
        lib.optim.lr_scheduler.CyclicLR(opt, base_lr=[0.01, 0.02], max_lr=0.1, base_momentum=0.7)
        groups.append([{k: v for k, v in g.items() if k != "params"} for g in opt.param_groups])
    assert groups[0] == groups[1]
    assert groups[0][1]["lr"] == 0.02 and groups[0][1]["betas"] == (0.9, 0.999)


def test_cyclic_lr_with_a_tensor_learning_rate_writes_into_it() -> None:
    torch = _torch()
    rates = []
    for lib in (irgrad, torch):
        p = lib.zeros(2, requires_grad=True)
        opt = lib.optim.SGD([p], lr=lib.tensor(0.5), momentum=0.9)
        lr = opt.param_groups[0]["lr"]
        scheduler = lib.optim.lr_scheduler.CyclicLR(opt, base_lr=0.01, max_lr=0.1, step_size_up=3)
        seen = []
        for _ in range(8):
            opt.step()
            scheduler.step()
            seen.append(float(lr))
        assert opt.param_groups[0]["lr"] is lr
        rates.append(seen)
    np.testing.assert_allclose(rates[0], rates[1], rtol=1e-7)


def test_cyclic_lr_state_dict_round_trip() -> None:
    """A scheduler loaded from a state dict continues the schedule; a callable scale_fn's
    attributes are saved and restored, the built-in one is not saved."""
    reference, _, _ = _run(irgrad, "SGD", "CyclicLR", {**CYCLIC[4], "scale_fn": Halving(0.7)}, 20)
    opt = _optimizer(irgrad, "SGD")
    scheduler = lr_scheduler.CyclicLR(opt, **{**CYCLIC[4], "scale_fn": Halving(0.7)})
    for _ in range(9):
        opt.step()
        scheduler.step()
    saved = scheduler.state_dict()
    assert saved["_scale_fn_custom"] == {"base": 0.7} and "_scale_fn_ref" not in saved
    resumed_opt = _optimizer(irgrad, "SGD")
    resumed_opt.load_state_dict(opt.state_dict())
    resumed = lr_scheduler.CyclicLR(resumed_opt, **{**CYCLIC[4], "scale_fn": Halving(0.2)})
    resumed.load_state_dict(saved)
    assert resumed._scale_fn_custom.base == 0.7 and "_scale_fn_custom" in saved
    seen = []
    for _ in range(11):
        resumed_opt.step()
        resumed.step()
        seen.append((_lrs(resumed.get_last_lr()), _momenta(resumed_opt)))
    assert seen == [(lrs, momenta) for lrs, _, momenta in reference[10:]]

    built_in = lr_scheduler.CyclicLR(_optimizer(irgrad, "SGD"), **CYCLIC[3]).state_dict()
    assert built_in["_scale_fn_custom"] is None and "_scale_fn_ref" not in built_in


# --- OneCycleLR ---------------------------------------------------------------------------------

ONE_CYCLE = [
    ({"max_lr": 0.1, "total_steps": 20}, 20),
    ({"max_lr": [0.1, 0.2], "epochs": 3, "steps_per_epoch": 7, "anneal_strategy": "linear"}, 21),
    ({"max_lr": 0.1, "total_steps": 30, "three_phase": True}, 30),
    ({"max_lr": 1.0, "total_steps": 25, "pct_start": 0.4, "div_factor": 10.0, "final_div_factor": 100.0}, 25),
    (
        {
            "max_lr": 0.5,
            "total_steps": 17,
            "three_phase": True,
            "anneal_strategy": "linear",
            "base_momentum": 0.8,
        },
        17,
    ),
    ({"max_lr": 0.1, "total_steps": 12, "max_momentum": [0.9, 0.99], "cycle_momentum": True}, 12),
    ({"max_lr": 0.1, "total_steps": 12, "cycle_momentum": False}, 12),
]


@pytest.mark.parametrize("opt_name", ["SGD", "Adam"])
@pytest.mark.parametrize("kwargs,steps", ONE_CYCLE, ids=range(len(ONE_CYCLE)))
def test_one_cycle_lr_matches_torch(kwargs: dict, steps: int, opt_name: str) -> None:
    seen = _assert_same_schedule("OneCycleLR", kwargs, steps, opt_name)
    peak = kwargs["max_lr"][0] if isinstance(kwargs["max_lr"], list) else kwargs["max_lr"]
    assert max(lr[0] for lr, _, _ in seen) == pytest.approx(peak, rel=0.05)


@pytest.mark.parametrize("seed", range(6))
def test_random_one_cycle_schedules_match_torch(seed: int) -> None:
    rng = np.random.default_rng(seed)
    total = int(rng.integers(4, 60))
    kwargs = {
        "max_lr": float(rng.uniform(0.01, 2.0)),
        "total_steps": total,
        "pct_start": float(rng.uniform(0.05, 0.45)),
        "anneal_strategy": str(rng.choice(["cos", "linear"])),
        "div_factor": float(rng.uniform(2.0, 50.0)),
        "final_div_factor": float(rng.uniform(10.0, 1e5)),
        "three_phase": bool(rng.integers(2)),
    }
    _assert_same_schedule("OneCycleLR", kwargs, total, str(rng.choice(["SGD", "Adam", "RAdam", "Adamax"])))


def test_one_cycle_lr_stepped_past_total_steps_raises_torchs_error() -> None:
    torch = _torch()
    errors = []
    for lib in (irgrad, torch):
        opt = _optimizer(lib, "SGD")
        scheduler = lib.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=4)
        for _ in range(4):
            opt.step()
            scheduler.step()
        with pytest.raises(ValueError) as err:
            scheduler.step()
        errors.append(str(err.value))
    assert errors[0] == errors[1] == "Tried to step 5 times. The specified number of total steps is 4"


def test_one_cycle_lr_state_dict_round_trip() -> None:
    kwargs = {"max_lr": 0.3, "total_steps": 16, "three_phase": True}
    reference, _, _ = _run(irgrad, "Adam", "OneCycleLR", kwargs, 16)
    opt = _optimizer(irgrad, "Adam")
    scheduler = lr_scheduler.OneCycleLR(opt, **kwargs)
    for _ in range(6):
        opt.step()
        scheduler.step()
    saved, opt_saved = scheduler.state_dict(), opt.state_dict()
    resumed_opt = _optimizer(irgrad, "Adam")
    resumed_opt.load_state_dict(opt_saved)  # restores initial_lr, max_lr, min_lr and the momenta
    resumed = lr_scheduler.OneCycleLR(resumed_opt, max_lr=9.0, total_steps=99, last_epoch=6)
    resumed.load_state_dict(saved)
    seen = []
    for _ in range(10):
        resumed_opt.step()
        resumed.step()
        seen.append((_lrs(resumed.get_last_lr()), _momenta(resumed_opt)))
    assert seen == [(lrs, momenta) for lrs, _, momenta in reference[7:]]


# --- errors ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sched_name,opt_name,kwargs",
    [
        ("OneCycleLR", "SGD", {"max_lr": 0.1}),
        ("OneCycleLR", "SGD", {"max_lr": 0.1, "total_steps": 0}),
        ("OneCycleLR", "SGD", {"max_lr": 0.1, "total_steps": 10.0}),
        ("OneCycleLR", "SGD", {"max_lr": 0.1, "epochs": 0, "steps_per_epoch": 5}),
        ("OneCycleLR", "SGD", {"max_lr": 0.1, "epochs": 2, "steps_per_epoch": 2.5}),
        ("OneCycleLR", "SGD", {"max_lr": 0.1, "total_steps": 10, "pct_start": 1.5}),
        ("OneCycleLR", "SGD", {"max_lr": 0.1, "total_steps": 10, "pct_start": 1}),
        ("OneCycleLR", "SGD", {"max_lr": 0.1, "total_steps": 10, "anneal_strategy": "step"}),
        ("OneCycleLR", "SGD", {"max_lr": [0.1, 0.2, 0.3], "total_steps": 10}),
        ("OneCycleLR", "Adagrad", {"max_lr": 0.1, "total_steps": 10}),
        ("CyclicLR", "SGD", {"base_lr": 0.01, "max_lr": 0.1, "mode": "sawtooth"}),
        ("CyclicLR", "SGD", {"base_lr": [0.01], "max_lr": 0.1}),
        ("CyclicLR", "SGD", {"base_lr": 0.01, "max_lr": 0.1, "base_momentum": [0.8, 0.8, 0.8]}),
        ("CyclicLR", "Adagrad", {"base_lr": 0.01, "max_lr": 0.1}),
    ],
)
def test_constructor_errors_match_torch(sched_name: str, opt_name: str, kwargs: dict) -> None:
    torch = _torch()
    with pytest.raises(ValueError) as theirs:
        getattr(torch.optim.lr_scheduler, sched_name)(_optimizer(torch, opt_name), **kwargs)
    with pytest.raises(ValueError) as mine:
        getattr(lr_scheduler, sched_name)(_optimizer(irgrad, opt_name), **kwargs)
    assert str(theirs.value) in str(mine.value)


@pytest.mark.parametrize("sched_name", ["CyclicLR", "OneCycleLR"])
def test_a_non_optimizer_is_a_type_error(sched_name: str) -> None:
    with pytest.raises(TypeError, match="object is not an Optimizer"):
        getattr(lr_scheduler, sched_name)(object(), 0.1, 0.2)


def test_cycle_momentum_off_works_without_momentum() -> None:
    torch = _torch()
    kwargs = {"base_lr": 0.01, "max_lr": 0.1, "step_size_up": 2, "cycle_momentum": False}
    for sched_name, options in (
        ("CyclicLR", kwargs),
        ("OneCycleLR", {"max_lr": 0.1, "total_steps": 6, "cycle_momentum": False}),
    ):
        mine, _, _ = _run(irgrad, "Adagrad", sched_name, options, 6)
        theirs, _, _ = _run(torch, "Adagrad", sched_name, options, 6)
        assert mine == theirs


def test_get_lr_outside_step_warns() -> None:
    scheduler = lr_scheduler.OneCycleLR(_optimizer(irgrad, "SGD"), max_lr=0.1, total_steps=5)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        scheduler.get_lr()
    assert any("get_last_lr()" in str(w.message) for w in caught)


@pytest.mark.parametrize(
    "kwargs", [{"T_0": 3}, {"T_0": 2, "T_mult": 2, "eta_min": 0.001}, {"T_0": 1, "T_mult": 3}]
)
def test_cosine_annealing_warm_restarts_matches_torch(kwargs: dict) -> None:
    _assert_same_schedule("CosineAnnealingWarmRestarts", kwargs, 20)


def test_cosine_annealing_warm_restarts_at_fractional_epochs_matches_torch() -> None:
    # step(epoch + i / iters), PyTorch's per-batch use, and a jump back to an earlier epoch
    torch = _torch()
    epochs = [0.25, 0.5, 1.75, 2.0, 6.5, 13.0, 1.0, 30.25]
    rates = []
    for lib in (irgrad, torch):
        opt = _optimizer(lib, "SGD")
        scheduler = lib.optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=2, T_mult=2)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            seen = []
            for epoch in epochs:
                opt.step()
                scheduler.step(epoch)
                seen.append(
                    (_lrs(scheduler.get_last_lr()), scheduler.T_cur, scheduler.T_i, scheduler.last_epoch)
                )
        rates.append(seen)
    assert rates[0] == rates[1]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"T_0": 0},
        {"T_0": 2.0},
        {"T_0": 2, "T_mult": 0},
        {"T_0": 2, "T_mult": 1.5},
        {"T_0": 2, "eta_min": "0"},
    ],
)
def test_cosine_annealing_warm_restarts_errors_match_torch(kwargs: dict) -> None:
    torch = _torch()
    with pytest.raises(ValueError) as theirs:
        torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(_optimizer(torch, "SGD"), **kwargs)
    with pytest.raises(ValueError) as mine:
        lr_scheduler.CosineAnnealingWarmRestarts(_optimizer(irgrad, "SGD"), **kwargs)
    assert str(theirs.value) == str(mine.value)
