"""NAdam, RAdam and Adamax against PyTorch, eagerly and in compiled training steps.

The PyTorch comparisons build the same parameters in both libraries, feed the same
random gradients (assigned to ``.grad``, some steps leaving one parameter without) and
compare parameters after every step, then state dicts.  Compiled training steps are
compared with eager ones.  (The optimizer hooks: ``test_optim_hooks.py``.)
"""

from __future__ import annotations

import numpy as np
import pytest
from graph_calls import assert_graphs_answered
from optim_cases import TRAINED, batch, snapshot, training

import irgrad
from irgrad import optim

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


@pytest.mark.parametrize("lr_tensor", [False, True], ids=["float_lr", "tensor_lr"])
@pytest.mark.parametrize("name", list(TRAINED))
def test_compiled_step_equals_eager_and_a_new_lr_does_not_recompile(
    name: str, lr_tensor: bool, backend
) -> None:
    """Eager and compiled training with the learning rate changed between calls (as a
    scheduler would): same losses, parameters and state after every call, two graphs (the
    first step, which creates the state, then every step)."""
    runs = []
    for compiled in (False, True):
        model, opt, step = training(name, lr_tensor)
        fn = irgrad.compile(step, backend=backend) if compiled else step
        seen = []
        for i in range(8):  # RAdam rectifies from step 6 on
            loss = fn(*batch(i))
            seen.append([loss.numpy().copy(), *snapshot(model, opt)])
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
    assert_graphs_answered(fn)


def test_compiled_radam_makes_no_nan_in_the_branch_it_does_not_take(backend) -> None:
    """The compiled graph computes the rectified update also before it applies: under
    debug_nans a NaN there would be an error."""
    model, opt, step = training("RAdam")
    fn = irgrad.compile(step, backend=backend)
    with irgrad.debug_nans():
        for i in range(7):
            fn(*batch(i))
    assert len(fn._compiled.cache) == 2 and not fn._compiled.breaks


@pytest.mark.parametrize(
    "make",
    [irgrad.optim.Adam, irgrad.optim.SGD, irgrad.optim.RMSprop, irgrad.optim.NAdam, irgrad.optim.RAdam],
)
def test_a_state_dict_without_newer_options_loads_with_their_defaults(make):
    w = irgrad.ones(2, requires_grad=True)
    saved = make([w], lr=0.1).state_dict()
    for name in make.restored_defaults:
        saved["param_groups"][0].pop(name)
    restored = make([w], lr=0.5)
    restored.load_state_dict(saved)
    group = restored.param_groups[0]
    assert group["lr"] == 0.1
    assert all(group[name] == value for name, value in make.restored_defaults.items())
