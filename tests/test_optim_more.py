"""NAdam, RAdam and Adamax against PyTorch, and the optimizer hooks.

The PyTorch comparisons build the same parameters in both libraries, feed the same
random gradients (assigned to ``.grad``, some steps leaving one parameter without) and
compare parameters after every step, then state dicts.  Compiled training steps are
compared with eager ones; hooks are compared with PyTorch's by the order of the calls
they record.
"""

from __future__ import annotations

import copy
import importlib
import warnings

import numpy as np
import pytest

import irgrad
import irgrad.nn as nn
import irgrad.nn.functional as F
from irgrad import optim
from irgrad.optim.optimizer import register_optimizer_step_post_hook, register_optimizer_step_pre_hook
from irgrad.trace import GraphBreakError

SHAPES = [(4, 3), (3,), (2, 2, 2)]
STEPS = 24

CONFIGS = [
    ("NAdam", {}),
    ("NAdam", {"lr": 0.01, "betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.1}),
    ("NAdam", {"lr": 0.01, "momentum_decay": 0.02, "maximize": True}),
    ("NAdam", {"lr": 0.02, "weight_decay": 0.1, "decoupled_weight_decay": True}),
    ("NAdam", {"lr": 0.01, "weight_decay": 0.05, "momentum_decay": 0.0, "foreach": False}),
    ("RAdam", {}),
    ("RAdam", {"lr": 0.01, "betas": (0.8, 0.9), "eps": 1e-6, "weight_decay": 0.1}),
    ("RAdam", {"lr": 0.01, "betas": (0.9, 0.6), "maximize": True}),  # rho_inf = 4: never rectified
    ("RAdam", {"lr": 0.02, "weight_decay": 0.1, "decoupled_weight_decay": True}),
    ("RAdam", {"lr": 0.01, "betas": (0.5, 0.95), "weight_decay": 0.01, "maximize": True}),
    ("Adamax", {}),
    ("Adamax", {"lr": 0.01, "betas": (0.8, 0.99), "eps": 1e-4, "weight_decay": 0.1}),
    ("Adamax", {"lr": 0.05, "betas": (0.0, 0.5), "maximize": True}),
    ("Adamax", {"lr": 0.01, "weight_decay": 0.01, "maximize": True, "foreach": False}),
]
IDS = [f"{name}-{i}" for i, (name, _) in enumerate(CONFIGS)]


def _values(seed: int, dtype=np.float32) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s).astype(dtype) for s in SHAPES]


def _params(lib, values: list[np.ndarray]) -> list:
    return [lib.tensor(v.copy()).requires_grad_(True) for v in values]


def _grads(seed: int, step: int, dtype=np.float32) -> list[np.ndarray | None]:
    rng = np.random.default_rng(seed * 1000 + step)
    grads = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    if step % 5 == 3:
        grads[step % len(SHAPES)] = None
    return grads


def _assign(lib, params: list, grads: list) -> None:
    for p, g in zip(params, grads):
        p.grad = None if g is None else lib.tensor(g.copy())


def _build(lib, name: str, params: list, options: dict, grouped: bool):
    """One group with ``options``, or two where the second overrides lr and betas."""
    cls = getattr(lib.optim, name)
    if not grouped:
        return cls(params, **options)
    return cls([{"params": params[:2]}, {"params": params[2:], "lr": 0.003, "betas": (0.7, 0.95)}], **options)


def _steps_match(mine, theirs, mine_p, theirs_p, steps: range, seed: int, dtype, rtol, atol) -> None:
    for step in steps:
        grads = _grads(seed, step, dtype)
        _assign(irgrad, mine_p, grads)
        _assign(_torch(), theirs_p, grads)
        mine.step()
        theirs.step()
        for i, (m, t) in enumerate(zip(mine_p, theirs_p)):
            np.testing.assert_allclose(
                m.detach().numpy(),
                t.detach().numpy(),
                rtol=rtol,
                atol=atol,
                err_msg=f"step {step}, param {i}",
            )


def _torch():
    return pytest.importorskip("torch")


def _compare_state_dicts(mine: dict, theirs: dict, rtol: float = 1e-5, atol: float = 1e-6) -> None:
    """Same structure (keys in order, state tensors of the same dtypes and shapes) and values."""
    assert list(mine) == list(theirs) == ["state", "param_groups"]
    assert sorted(mine["state"]) == sorted(theirs["state"])
    for idx, t_state in theirs["state"].items():
        m_state = mine["state"][idx]
        assert list(m_state) == list(t_state), (idx, list(m_state), list(t_state))
        for key, t_val in t_state.items():
            m_val = m_state[key]
            assert isinstance(m_val, irgrad.Tensor), (idx, key)
            assert str(m_val.dtype).split(".")[-1] == str(t_val.dtype).split(".")[-1], (key, m_val.dtype)
            assert tuple(m_val.shape) == tuple(t_val.shape), key
            np.testing.assert_allclose(m_val.numpy(), t_val.numpy(), rtol=rtol, atol=atol, err_msg=key)
    for m_group, t_group in zip(mine["param_groups"], theirs["param_groups"], strict=True):
        assert list(m_group) == list(t_group)
        for key in t_group:
            assert m_group[key] == t_group[key], (key, m_group[key], t_group[key])


# --- update rules against PyTorch ------------------------------------------------------------


@pytest.mark.parametrize("grouped", [False, True], ids=["one_group", "two_groups"])
@pytest.mark.parametrize("name,options", CONFIGS, ids=IDS)
def test_matches_torch_step_for_step(name: str, options: dict, grouped: bool) -> None:
    torch = _torch()
    values = _values(1)
    mine_p, theirs_p = _params(irgrad, values), _params(torch, values)
    mine = _build(irgrad, name, mine_p, options, grouped)
    theirs = _build(torch, name, theirs_p, options, grouped)
    _steps_match(mine, theirs, mine_p, theirs_p, range(STEPS), 2, np.float32, 1e-5, 1e-6)
    _compare_state_dicts(mine.state_dict(), theirs.state_dict())
    assert repr(mine) == repr(theirs)


@pytest.mark.parametrize("name,options", CONFIGS, ids=IDS)
def test_matches_torch_in_float64(name: str, options: dict) -> None:
    torch = _torch()
    values = _values(3, np.float64)
    mine_p, theirs_p = _params(irgrad, values), _params(torch, values)
    mine = getattr(optim, name)(mine_p, **options)
    theirs = getattr(torch.optim, name)(theirs_p, **options)
    _steps_match(mine, theirs, mine_p, theirs_p, range(STEPS), 4, np.float64, 1e-12, 1e-13)
    assert all(p.dtype == irgrad.float64 for p in mine_p)
    _compare_state_dicts(mine.state_dict(), theirs.state_dict(), 1e-12, 1e-13)


def test_float64_default_dtype_makes_float64_step_and_mu_product() -> None:
    torch = _torch()
    values = _values(5, np.float64)
    old_mine, old_theirs = irgrad.get_default_dtype(), torch.get_default_dtype()
    irgrad.set_default_dtype(irgrad.float64)
    torch.set_default_dtype(torch.float64)
    try:
        mine_p, theirs_p = _params(irgrad, values), _params(torch, values)
        mine, theirs = optim.NAdam(mine_p, lr=0.01), torch.optim.NAdam(theirs_p, lr=0.01)
        _steps_match(mine, theirs, mine_p, theirs_p, range(6), 6, np.float64, 1e-12, 1e-13)
    finally:
        irgrad.set_default_dtype(old_mine)
        torch.set_default_dtype(old_theirs)
    _compare_state_dicts(mine.state_dict(), theirs.state_dict(), 1e-12, 1e-13)
    assert mine.state[mine_p[0]]["mu_product"].dtype == irgrad.float64


@pytest.mark.parametrize("seed", range(6))
def test_random_options_match_torch(seed: int) -> None:
    torch = _torch()
    rng = np.random.default_rng(seed)
    name = ["NAdam", "RAdam", "Adamax"][seed % 3]
    options = {
        "lr": float(rng.uniform(1e-4, 0.1)),
        "betas": (float(rng.uniform(0.0, 0.95)), float(rng.choice([0.5, 0.9, 0.99, 0.999]))),
        "eps": float(rng.choice([1e-8, 1e-4])),
        "weight_decay": float(rng.choice([0.0, 1e-3, 0.1])),
        "maximize": bool(rng.integers(2)),
    }
    if name == "NAdam":
        options["momentum_decay"] = float(rng.uniform(0.0, 0.05))
    if name != "Adamax":
        options["decoupled_weight_decay"] = bool(rng.integers(2))
    values = _values(seed + 10)
    mine_p, theirs_p = _params(irgrad, values), _params(torch, values)
    mine = getattr(optim, name)(mine_p, **options)
    theirs = getattr(torch.optim, name)(theirs_p, **options)
    _steps_match(mine, theirs, mine_p, theirs_p, range(12), seed + 20, np.float32, 1e-5, 1e-6)


@pytest.mark.parametrize("name", ["NAdam", "RAdam", "Adamax"])
@pytest.mark.parametrize("shape", [(), (1,)], ids=["0d", "1elem"])
def test_tensor_learning_rate_matches_torch(name: str, shape: tuple) -> None:
    torch = _torch()
    values = _values(7)
    mine_p, theirs_p = _params(irgrad, values), _params(torch, values)
    options = {"weight_decay": 0.1} | ({} if name == "Adamax" else {"decoupled_weight_decay": True})
    mine = getattr(optim, name)(mine_p, lr=irgrad.full(shape, 0.01), **options)
    theirs = getattr(torch.optim, name)(theirs_p, lr=torch.full(shape, 0.01), **options)
    _steps_match(mine, theirs, mine_p, theirs_p, range(10), 8, np.float32, 1e-5, 1e-6)
    assert isinstance(mine.param_groups[0]["lr"], irgrad.Tensor)


@pytest.mark.parametrize("name", ["NAdam", "RAdam", "Adamax"])
def test_foreach_is_accepted_and_matches_torch(name: str) -> None:
    torch = _torch()
    values = _values(9)
    mine_p, theirs_p = _params(irgrad, values), _params(torch, values)
    mine = getattr(optim, name)(mine_p, lr=0.01, foreach=True)
    theirs = getattr(torch.optim, name)(theirs_p, lr=0.01, foreach=True)
    _steps_match(mine, theirs, mine_p, theirs_p, range(10), 10, np.float32, 1e-5, 1e-6)
    assert mine.defaults["foreach"] is True


@pytest.mark.parametrize("name", ["NAdam", "RAdam", "Adamax"])
def test_defaults_match_torch(name: str) -> None:
    torch = _torch()
    mine = getattr(optim, name)([irgrad.zeros(2, requires_grad=True)])
    theirs = getattr(torch.optim, name)([torch.zeros(2, requires_grad=True)])
    assert mine.defaults == theirs.defaults
    assert repr(mine) == repr(theirs)


@pytest.mark.parametrize(
    "name,options",
    [
        (name, options)
        for name in ("NAdam", "RAdam", "Adamax")
        for options in (
            {"lr": -1e-3},
            {"eps": -1.0},
            {"betas": (1.0, 0.999)},
            {"betas": (-0.1, 0.999)},
            {"betas": (0.9, 1.0)},
            {"weight_decay": -0.1},
        )
    ]
    + [("NAdam", {"momentum_decay": -0.1})],
)
def test_validation_errors_match_torch(name: str, options: dict) -> None:
    torch = _torch()
    with pytest.raises(ValueError) as theirs:
        getattr(torch.optim, name)([torch.zeros(2, requires_grad=True)], **options)
    with pytest.raises(ValueError) as mine:
        getattr(optim, name)([irgrad.zeros(2, requires_grad=True)], **options)
    assert str(mine.value) == str(theirs.value)


@pytest.mark.parametrize("name", ["NAdam", "RAdam", "Adamax"])
def test_tensor_lr_must_have_one_element(name: str) -> None:
    with pytest.raises(ValueError, match="Tensor lr must be 1-element"):
        getattr(optim, name)([irgrad.zeros(2, requires_grad=True)], lr=irgrad.tensor([0.1, 0.2]))


@pytest.mark.parametrize("name", ["NAdam", "RAdam", "Adamax", "Adam", "AdamW", "RMSprop", "Adadelta"])
def test_capturable_is_refused_at_step_on_the_cpu_as_in_torch(name: str) -> None:
    torch = _torch()
    theirs_p, mine_p = torch.ones(2, requires_grad=True), irgrad.ones(2, requires_grad=True)
    theirs = getattr(torch.optim, name)([theirs_p], capturable=True)
    mine = getattr(optim, name)([mine_p], capturable=True)
    theirs_p.grad, mine_p.grad = torch.ones(2), irgrad.ones(2)
    with pytest.raises(AssertionError, match="capturable=True"):
        theirs.step()
    with pytest.raises(AssertionError, match=f"{name}: if capturable=True"):
        mine.step()
    np.testing.assert_array_equal(mine_p.detach().numpy(), [1.0, 1.0])  # nothing was updated
    assert list(mine.state[mine_p]) == list(theirs.state[theirs_p])
    assert float(mine.state[mine_p]["step"]) == float(theirs.state[theirs_p]["step"]) == 0.0


@pytest.mark.parametrize("name", ["NAdam", "RAdam", "Adamax"])
def test_differentiable_is_not_implemented(name: str) -> None:
    with pytest.raises(NotImplementedError, match=f"{name}: differentiable=True"):
        getattr(optim, name)([irgrad.zeros(2, requires_grad=True)], differentiable=True)


@pytest.mark.parametrize("name", ["NAdam", "RAdam", "Adamax"])
def test_params_without_grad_get_no_state(name: str) -> None:
    a, b = _params(irgrad, _values(0)[:2])
    before = b.detach().numpy().copy()
    opt = getattr(optim, name)([a, b], lr=0.1)
    a.grad = irgrad.ones_like(a)
    opt.step()
    assert b not in opt.state and a in opt.state
    np.testing.assert_array_equal(b.detach().numpy(), before)


def test_radam_is_momentum_sgd_until_rectified() -> None:
    """Known values: at step 1 (rho_t = 1) RAdam's step is ``lr * exp_avg / (1 - beta1)`` = lr * grad."""
    (p,) = _params(irgrad, [np.zeros(3, np.float64)])
    opt = optim.RAdam([p], lr=0.5)
    p.grad = irgrad.tensor(np.array([1.0, -2.0, 4.0]))
    opt.step()
    np.testing.assert_allclose(p.detach().numpy(), [-0.5, 1.0, -2.0], rtol=1e-15)


def test_adamax_first_step_is_lr_times_sign() -> None:
    """Known values: step 1 moves each coordinate by lr * g / (|g| + eps), about lr * sign(g)."""
    (p,) = _params(irgrad, [np.zeros(3, np.float64)])
    opt = optim.Adamax([p], lr=0.1, eps=0.0)
    p.grad = irgrad.tensor(np.array([3.0, -0.5, 2.0]))
    opt.step()
    np.testing.assert_allclose(p.detach().numpy(), [-0.1, 0.1, -0.1], rtol=1e-15)


# --- state dicts ----------------------------------------------------------------------------------


def _from_torch(value):
    """A torch state dict (or part of one) with irgrad tensors in place of torch's."""
    torch = _torch()
    if isinstance(value, torch.Tensor):
        return irgrad.tensor(value.detach().numpy().copy())
    if isinstance(value, dict):
        return {k: _from_torch(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_torch(v) for v in value]
    return value


@pytest.mark.parametrize("name,options", CONFIGS[::2], ids=IDS[::2])
def test_state_dict_round_trip_continues_identically(name: str, options: dict) -> None:
    reference = _params(irgrad, _values(11))
    ref_opt = _build(irgrad, name, reference, options, grouped=True)
    first = _params(irgrad, _values(11))
    opt = _build(irgrad, name, first, options, grouped=True)
    for step in range(7):
        for params, o in ((reference, ref_opt), (first, opt)):
            _assign(irgrad, params, _grads(12, step))
            o.step()
    resumed = _params(irgrad, [p.detach().numpy().copy() for p in first])
    fresh = _build(irgrad, name, resumed, {k: v for k, v in options.items() if k != "lr"}, grouped=True)
    fresh.load_state_dict(opt.state_dict())
    for step in range(7, 14):
        for params, o in ((reference, ref_opt), (resumed, fresh)):
            _assign(irgrad, params, _grads(12, step))
            o.step()
    for r, p in zip(resumed, reference):
        np.testing.assert_array_equal(r.detach().numpy(), p.detach().numpy())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,options", CONFIGS[1::3], ids=IDS[1::3])
def test_loading_torchs_state_dict_continues_as_torch(name: str, options: dict, dtype) -> None:
    """A torch state dict, tensors converted, loads into irgrad's optimizer: its layout is
    irgrad's, and stepping on from it follows torch's trajectory (float64 parameters take
    the float32 state in their dtype, except ``step``, as in torch)."""
    torch = _torch()
    values = _values(13)
    theirs_p = _params(torch, values)
    theirs = _build(torch, name, theirs_p, options, grouped=True)
    for step in range(6):
        _assign(torch, theirs_p, _grads(14, step))
        theirs.step()
    saved = theirs.state_dict()
    mine_p = _params(irgrad, [p.detach().numpy().astype(dtype) for p in theirs_p])
    theirs_p = _params(torch, [p.detach().numpy().astype(dtype) for p in theirs_p])
    mine = _build(irgrad, name, mine_p, options, grouped=True)
    theirs = _build(torch, name, theirs_p, options, grouped=True)
    mine.load_state_dict(_from_torch(saved))
    theirs.load_state_dict(saved)
    _compare_state_dicts(mine.state_dict(), theirs.state_dict())
    _steps_match(mine, theirs, mine_p, theirs_p, range(6, 12), 14, dtype, 1e-5, 1e-6)


# --- compiled training steps -------------------------------------------------------------------

COMPILED = {
    "NAdam": {"lr": 1e-2, "weight_decay": 0.1, "decoupled_weight_decay": True},
    "RAdam": {"lr": 1e-2, "betas": (0.9, 0.9), "weight_decay": 0.01},
    "Adamax": {"lr": 1e-2, "weight_decay": 0.01},
}


def _batch(i: int):
    g = np.random.default_rng(i)
    return irgrad.tensor(g.standard_normal((5, 6)).astype(np.float32)), irgrad.tensor(g.integers(0, 3, 5))


def _training(name: str, options: dict, lr_tensor: bool = False):
    irgrad.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3))
    if lr_tensor:
        options = options | {"lr": irgrad.tensor(options["lr"])}
    opt = getattr(optim, name)(model.parameters(), **options)

    def step(x, y):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss.detach()

    return model, opt, step


def _snapshot(model, opt) -> list[np.ndarray]:
    state = [t.numpy().copy() for s in opt.state_dict()["state"].values() for t in s.values()]
    return [p.detach().numpy().copy() for p in model.parameters()] + state


@pytest.mark.parametrize("lr_tensor", [False, True], ids=["float_lr", "tensor_lr"])
@pytest.mark.parametrize("name", list(COMPILED))
def test_compiled_step_equals_eager_and_a_new_lr_does_not_recompile(
    name: str, lr_tensor: bool, backend
) -> None:
    """Eager and compiled training with the learning rate changed between calls (as a
    scheduler would): same losses, parameters and state after every call, two graphs (the
    first step, which creates the state, then every step)."""
    runs = []
    for compiled in (False, True):
        model, opt, step = _training(name, COMPILED[name], lr_tensor)
        fn = irgrad.compile(step, backend=backend) if compiled else step
        seen = []
        for i in range(8):  # RAdam rectifies from step 6 on
            loss = fn(*_batch(i))
            seen.append([loss.numpy().copy(), *_snapshot(model, opt)])
            for group in opt.param_groups:
                if lr_tensor:
                    group["lr"].mul_(0.7)
                else:
                    group["lr"] *= 0.7
        runs.append(seen)
    for i, (eager, got) in enumerate(zip(*runs)):
        for k, (a, b) in enumerate(zip(eager, got, strict=True)):
            np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6, err_msg=f"call {i}, value {k}")
    assert len(fn._compiled.cache) == 2, fn._compiled.log
    assert not fn._compiled.breaks


def test_compiled_radam_makes_no_nan_in_the_branch_it_does_not_take() -> None:
    """The compiled graph computes the rectified update also before it applies: under
    debug_nans a NaN there would be an error."""
    model, opt, step = _training("RAdam", COMPILED["RAdam"])
    fn = irgrad.compile(step, backend="numpy")
    with irgrad.debug_nans():
        for i in range(7):
            fn(*_batch(i))
    assert len(fn._compiled.cache) == 2 and not fn._compiled.breaks


# --- hooks ----------------------------------------------------------------------------------------


def _hooked(lib, events: list, opt_factory=None):
    """An optimizer with step hooks (per instance and global) recording ``events``; the
    handles to remove."""
    p = lib.ones(3, requires_grad=True)
    opt = (opt_factory or (lambda ps: lib.optim.SGD(ps, lr=0.1)))([p])
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

        def closure(lib=lib, p=p, opt=opt):
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


def _compiled_hook_run(register, calls: int = 4):
    """Eager and compiled runs of a training step whose optimizer gets hooks from
    ``register(opt, log)`` before the third call; both runs' (losses, hook logs,
    parameters), and the compiled function."""
    runs = []
    for compiled in (False, True):
        model, opt, step = _training("Adamax", COMPILED["Adamax"])
        log: list = []
        fn = irgrad.compile(step, backend="numpy") if compiled else step
        losses = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for i in range(calls):
                if i == 2:
                    handles = register(opt, log)
                losses.append(float(fn(*_batch(i))))
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


def test_a_step_hook_registered_after_compiling_runs_on_every_call() -> None:
    def register(opt, log):
        return [
            opt.register_step_pre_hook(
                lambda o, a, k: log.append(("pre", float(o.state_dict()["state"][0]["step"])))
            ),
            opt.register_step_post_hook(lambda o, a, k: log.append("post")),
        ]

    runs, fn = _compiled_hook_run(register)
    _assert_runs_equal(runs)
    assert runs[1][1] == [("pre", 2.0), "post", ("pre", 3.0), "post"]
    assert fn._compiled.breaks
    assert "Adamax.step() with step hooks" in str(fn.explain())


def test_a_global_step_hook_registered_after_compiling_runs_on_every_call() -> None:
    def register(opt, log):
        return [
            register_optimizer_step_pre_hook(lambda o, a, k: log.append(("global pre", type(o).__name__))),
            register_optimizer_step_post_hook(lambda o, a, k: log.append("global post")),
        ]

    runs, fn = _compiled_hook_run(register)
    _assert_runs_equal(runs)
    assert runs[1][1] == [("global pre", "Adamax"), "global post"] * 2
    assert "step hooks" in str(fn._compiled.breaks[0])


def test_removing_the_step_hooks_compiles_the_step_again() -> None:
    model, opt, step = _training("NAdam", COMPILED["NAdam"])
    fn = irgrad.compile(step, backend="numpy")
    log = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with opt.register_step_post_hook(lambda o, a, k: log.append(1)):
            for i in range(2):
                fn(*_batch(i))
        entries = len(fn._compiled.cache)
        for i in range(2, 5):
            fn(*_batch(i))
    assert log == [1, 1]
    graphs = [e for e in fn._compiled.cache if e.graph_break is None]
    assert len(fn._compiled.cache) == entries + 1 and len(graphs) == 1, fn._compiled.log


def test_a_step_hook_with_fullgraph_is_an_error() -> None:
    model, opt, step = _training("RAdam", COMPILED["RAdam"])
    opt.register_step_pre_hook(lambda o, a, k: None)
    fn = irgrad.compile(step, backend="numpy", fullgraph=True)
    with pytest.raises(GraphBreakError, match="RAdam.step\\(\\) with step hooks"):
        fn(*_batch(0))
