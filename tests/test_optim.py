"""irgrad.optim: optimizers step for step against PyTorch, and their bookkeeping.

The PyTorch comparisons build the same parameters in both libraries, feed the same
random gradients (assigned to ``.grad``) and compare parameters after every step and
the state dicts at the end.  The other tests (state-dict round trip, zero_grad,
closures, validation) need only irgrad.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import irgrad
from irgrad import optim

SHAPES = [(4, 3), (3,), (2, 2, 2)]
STEPS = 20

CONFIGS = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.05, "momentum": 0.9}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "dampening": 0.3, "weight_decay": 0.01}),
    ("SGD", {"lr": 0.05, "momentum": 0.8, "nesterov": True, "weight_decay": 0.1}),
    ("SGD", {"lr": 0.05, "momentum": 0.5, "maximize": True}),
    ("Adam", {}),
    ("Adam", {"lr": 0.01, "betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.1}),
    ("Adam", {"lr": 0.01, "amsgrad": True}),
    ("Adam", {"lr": 0.01, "amsgrad": True, "maximize": True, "weight_decay": 0.05}),
    ("Adam", {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True}),
    ("AdamW", {}),
    ("AdamW", {"lr": 0.02, "weight_decay": 0.1, "amsgrad": True}),
    ("AdamW", {"lr": 0.02, "betas": (0.5, 0.9), "maximize": True}),
    ("RMSprop", {}),
    ("RMSprop", {"lr": 0.01, "alpha": 0.9, "weight_decay": 0.1}),
    ("RMSprop", {"lr": 0.01, "momentum": 0.9}),
    ("RMSprop", {"lr": 0.01, "centered": True}),
    ("RMSprop", {"lr": 0.01, "centered": True, "momentum": 0.5, "maximize": True, "eps": 1e-4}),
    ("Adagrad", {}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.01, "weight_decay": 0.1}),
    ("Adagrad", {"lr": 0.1, "initial_accumulator_value": 0.5, "eps": 1e-6, "maximize": True}),
    ("Adadelta", {}),
    ("Adadelta", {"lr": 0.5, "rho": 0.8, "eps": 1e-4, "weight_decay": 0.1}),
    ("Adadelta", {"lr": 0.3, "maximize": True}),
    ("Rprop", {}),
    ("Rprop", {"lr": 0.05, "etas": (0.3, 1.5), "step_sizes": (1e-3, 0.2)}),
    ("Rprop", {"lr": 0.02, "maximize": True}),
    ("ASGD", {}),
    ("ASGD", {"lr": 0.05, "lambd": 1e-3, "alpha": 0.5, "t0": 5, "weight_decay": 0.1}),
    ("ASGD", {"lr": 0.02, "t0": 0, "maximize": True}),
]


def _values(seed: int, dtype=np.float32) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s).astype(dtype) for s in SHAPES]


def _params(lib, values: list[np.ndarray]) -> list:
    return [lib.tensor(v.copy()).requires_grad_(True) for v in values]


def _build(lib, name: str, params: list, options: dict, grouped: bool):
    """Either one group with ``options``, or two groups where the second overrides lr (and more)."""
    cls = getattr(lib.optim, name)
    if not grouped:
        return cls(params, **options)
    second = {"params": params[2:], "lr": 0.003}
    if name == "SGD":
        second.update(momentum=0.7, weight_decay=0.02)
    elif name in ("Adam", "AdamW"):
        second.update(betas=(0.7, 0.95), amsgrad=not options.get("amsgrad", False))
    elif name == "RMSprop":
        second.update(centered=not options.get("centered", False))
    return cls([{"params": params[:2]}, second], **options)


def _grads(seed: int, step: int, dtype=np.float32) -> list[np.ndarray | None]:
    """Random gradients; on some steps one parameter has none (it must be skipped)."""
    rng = np.random.default_rng(seed * 1000 + step)
    grads = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    if step % 5 == 3:
        grads[step % len(SHAPES)] = None
    return grads


def _assign(lib, params: list, grads: list) -> None:
    for p, g in zip(params, grads):
        p.grad = None if g is None else lib.tensor(g.copy())


def _compare_state_dicts(mine: dict, theirs: dict, torch) -> None:
    assert set(mine) == set(theirs) == {"state", "param_groups"}
    assert sorted(mine["state"]) == sorted(theirs["state"])
    for idx, t_state in theirs["state"].items():
        m_state = mine["state"][idx]
        assert list(m_state) == list(t_state), (idx, list(m_state), list(t_state))
        for key, t_val in t_state.items():
            m_val = m_state[key]
            assert isinstance(m_val, irgrad.Tensor), (idx, key)
            assert str(m_val.dtype).split(".")[-1] == str(t_val.dtype).split(".")[-1], (key, m_val.dtype)
            np.testing.assert_allclose(m_val.numpy(), t_val.numpy(), rtol=1e-5, atol=1e-6, err_msg=key)
    assert len(mine["param_groups"]) == len(theirs["param_groups"])
    for m_group, t_group in zip(mine["param_groups"], theirs["param_groups"]):
        assert list(m_group) == list(t_group)
        for key in t_group:
            assert m_group[key] == t_group[key], (key, m_group[key], t_group[key])


@pytest.mark.parametrize("grouped", [False, True], ids=["one_group", "two_groups"])
@pytest.mark.parametrize("name,options", CONFIGS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CONFIGS)])
def test_matches_torch_step_for_step(name: str, options: dict, grouped: bool) -> None:
    torch = pytest.importorskip("torch")
    values = _values(1)
    mine_p, theirs_p = _params(irgrad, values), _params(torch, values)
    mine = _build(irgrad, name, mine_p, options, grouped)
    theirs = _build(torch, name, theirs_p, options, grouped)
    for step in range(STEPS):
        grads = _grads(2, step)
        _assign(irgrad, mine_p, grads)
        _assign(torch, theirs_p, grads)
        mine.step()
        theirs.step()
        for i, (m, t) in enumerate(zip(mine_p, theirs_p)):
            np.testing.assert_allclose(
                m.detach().numpy(),
                t.detach().numpy(),
                rtol=1e-5,
                atol=1e-6,
                err_msg=f"step {step}, param {i}",
            )
    _compare_state_dicts(mine.state_dict(), theirs.state_dict(), torch)
    assert repr(mine) == repr(theirs)


@pytest.mark.parametrize("name,options", [CONFIGS[3], CONFIGS[8], CONFIGS[17], CONFIGS[20]])
def test_matches_torch_in_float64(name: str, options: dict) -> None:
    torch = pytest.importorskip("torch")
    values = _values(3, np.float64)
    mine_p, theirs_p = _params(irgrad, values), _params(torch, values)
    mine = getattr(optim, name)(mine_p, **options)
    theirs = getattr(torch.optim, name)(theirs_p, **options)
    for step in range(STEPS):
        grads = _grads(4, step, np.float64)
        _assign(irgrad, mine_p, grads)
        _assign(torch, theirs_p, grads)
        mine.step()
        theirs.step()
    for m, t in zip(mine_p, theirs_p):
        assert m.dtype == irgrad.float64
        np.testing.assert_allclose(m.detach().numpy(), t.detach().numpy(), rtol=1e-12, atol=1e-13)
    _compare_state_dicts(mine.state_dict(), theirs.state_dict(), torch)


@settings(max_examples=25, deadline=None)
@given(
    name=st.sampled_from(["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta"]),
    lr=st.floats(1e-4, 0.2),
    coef=st.floats(0.0, 0.95),
    weight_decay=st.sampled_from([0.0, 1e-3, 0.1]),
    flag=st.booleans(),
    maximize=st.booleans(),
    seed=st.integers(0, 10_000),
)
def test_random_options_match_torch(name, lr, coef, weight_decay, flag, maximize, seed) -> None:
    torch = pytest.importorskip("torch")
    options = {"lr": lr, "weight_decay": weight_decay, "maximize": maximize}
    if name == "SGD":
        options.update(momentum=coef, nesterov=flag and coef > 0)
    elif name in ("Adam", "AdamW"):
        options.update(betas=(coef, 0.999), amsgrad=flag)
    elif name == "RMSprop":
        options.update(momentum=coef, centered=flag)
    elif name == "Adadelta":
        options.update(rho=coef)
    else:
        options.update(lr_decay=coef / 10)
    values = _values(seed)
    mine_p, theirs_p = _params(irgrad, values), _params(torch, values)
    mine = getattr(optim, name)(mine_p, **options)
    theirs = getattr(torch.optim, name)(theirs_p, **options)
    for step in range(8):
        grads = _grads(seed, step)
        _assign(irgrad, mine_p, grads)
        _assign(torch, theirs_p, grads)
        mine.step()
        theirs.step()
    for m, t in zip(mine_p, theirs_p):
        np.testing.assert_allclose(m.detach().numpy(), t.detach().numpy(), rtol=1e-5, atol=1e-6)


def _fit(lib, x: np.ndarray, y: np.ndarray, w0: np.ndarray):
    """Fit ``x @ w + b ~ y`` with Adam through a closure; return the losses and weights."""
    w = lib.tensor(w0.copy()).requires_grad_(True)
    b = lib.zeros(1, requires_grad=True)
    opt = lib.optim.Adam([w, b], lr=0.05)
    xt, yt = lib.tensor(x), lib.tensor(y)

    def closure():
        opt.zero_grad()
        loss = ((xt @ w + b - yt) ** 2).mean()
        loss.backward()
        return loss

    losses = [float(opt.step(closure).detach()) for _ in range(15)]
    return losses, w.detach().numpy().copy(), b.detach().numpy().copy()


def test_training_a_model_matches_torch() -> None:
    """A real loop (forward, backward, step, zero_grad) on a least-squares problem."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    x, y = rng.standard_normal((16, 4)).astype(np.float32), rng.standard_normal((16, 1)).astype(np.float32)
    w0 = rng.standard_normal((4, 1)).astype(np.float32)
    mine, theirs = _fit(irgrad, x, y, w0), _fit(torch, x, y, w0)
    np.testing.assert_allclose(mine[0], theirs[0], rtol=1e-5)
    np.testing.assert_allclose(mine[1], theirs[1], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(mine[2], theirs[2], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "name,options",
    [
        ("SGD", {"lr": -0.1}),
        ("SGD", {"momentum": -0.5}),
        ("SGD", {"weight_decay": -1.0}),
        ("SGD", {"nesterov": True}),
        ("SGD", {"nesterov": True, "momentum": 0.9, "dampening": 0.1}),
        ("Adam", {"lr": -1.0}),
        ("Adam", {"eps": -1.0}),
        ("Adam", {"betas": (1.0, 0.999)}),
        ("Adam", {"betas": (0.9, -0.1)}),
        ("Adam", {"weight_decay": -0.1}),
        ("AdamW", {"betas": (0.9, 1.5)}),
        ("RMSprop", {"alpha": -0.5}),
        ("RMSprop", {"momentum": -0.5}),
        ("RMSprop", {"eps": -0.5}),
        ("Adagrad", {"lr_decay": -0.5}),
        ("Adagrad", {"initial_accumulator_value": -0.5}),
        ("Adagrad", {"eps": -1e-10}),
        ("Rprop", {"lr": -0.1}),
        ("Rprop", {"etas": (1.5, 1.2)}),
        ("Rprop", {"etas": (0.5, 0.9)}),
        ("ASGD", {"lr": -0.1}),
        ("ASGD", {"weight_decay": -0.1}),
    ],
)
def test_validation_errors_match_torch(name: str, options: dict) -> None:
    torch = pytest.importorskip("torch")
    with pytest.raises(ValueError) as theirs:
        getattr(torch.optim, name)([torch.zeros(2, requires_grad=True)], **options)
    with pytest.raises(ValueError) as mine:
        getattr(optim, name)([irgrad.zeros(2, requires_grad=True)], **options)
    assert str(mine.value) == str(theirs.value)


def test_default_options_match_torch() -> None:
    torch = pytest.importorskip("torch")
    for name in ("SGD", "Adam", "AdamW", "RMSprop", "Adagrad"):
        mine = getattr(optim, name)([irgrad.zeros(2, requires_grad=True)])
        theirs = getattr(torch.optim, name)([torch.zeros(2, requires_grad=True)])
        assert mine.defaults == theirs.defaults, name


# --- irgrad-only behaviour ------------------------------------------------------------------


def _run(opt_factory, params, steps: range, seed: int = 7) -> None:
    opt = opt_factory(params)
    for step in steps:
        _assign(irgrad, params, _grads(seed, step))
        opt.step()
    return opt


@pytest.mark.parametrize("name,options", CONFIGS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CONFIGS)])
def test_state_dict_round_trip_continues_identically(name: str, options: dict) -> None:
    def factory(params):
        return _build(irgrad, name, params, options, grouped=True)

    reference = _params(irgrad, _values(9))
    _run(factory, reference, range(12))

    first = _params(irgrad, _values(9))
    opt = _run(factory, first, range(6))
    saved = opt.state_dict()
    resumed = _params(irgrad, [p.detach().numpy().copy() for p in first])
    fresh = factory(resumed)
    fresh.load_state_dict(saved)
    for step in range(6, 12):
        _assign(irgrad, resumed, _grads(7, step))
        fresh.step()
    for r, p in zip(resumed, reference):
        np.testing.assert_array_equal(r.detach().numpy(), p.detach().numpy())
    # The loaded state is a copy: stepping the original does not touch the new optimizer's state.
    loaded = {k: {n: v.numpy().copy() for n, v in s.items()} for k, s in fresh.state_dict()["state"].items()}
    _assign(irgrad, first, _grads(7, 50))
    opt.step()
    for k, s in fresh.state_dict()["state"].items():
        for n, v in s.items():
            np.testing.assert_array_equal(v.numpy(), loaded[k][n])


def test_state_dict_format() -> None:
    a, b, c = _params(irgrad, _values(0))
    opt = optim.SGD([{"params": [a, b]}, {"params": [c], "lr": 0.5}], lr=0.1, momentum=0.9)
    _assign(irgrad, [a, b, c], [np.ones(s, np.float32) for s in SHAPES])
    opt.step()
    sd = opt.state_dict()
    assert [g["params"] for g in sd["param_groups"]] == [[0, 1], [2]]
    assert [g["lr"] for g in sd["param_groups"]] == [0.1, 0.5]
    assert sorted(sd["state"]) == [0, 1, 2]
    assert sd["state"][0]["momentum_buffer"] is opt.state[a]["momentum_buffer"]
    assert opt.param_groups[0]["params"][0] is a  # packing does not touch the live groups


def test_load_state_dict_validates_layout() -> None:
    a, b, c = _params(irgrad, _values(0))
    two_groups = optim.Adam([{"params": [a]}, {"params": [b, c]}])
    one_group = optim.Adam([a, b, c])
    with pytest.raises(ValueError, match="different number of parameter groups"):
        one_group.load_state_dict(two_groups.state_dict())
    other = optim.Adam([{"params": [a, b]}, {"params": [c]}])
    with pytest.raises(ValueError, match="doesn't match the size of optimizer's group"):
        other.load_state_dict(two_groups.state_dict())


def test_load_state_dict_deep_copies_groups() -> None:
    a, b, c = _params(irgrad, _values(0))
    src = optim.SGD([a, b, c], lr=0.3)
    sd = src.state_dict()
    dst = optim.SGD(_params(irgrad, _values(0)), lr=0.1)
    dst.load_state_dict(sd)
    assert dst.param_groups[0]["lr"] == 0.3
    dst.param_groups[0]["lr"] = 0.7
    assert sd["param_groups"][0]["lr"] == 0.3 and src.param_groups[0]["lr"] == 0.3


def test_load_state_dict_casts_state_to_param_dtype() -> None:
    p32 = _params(irgrad, _values(0))
    opt32 = _run(lambda ps: optim.Adam(ps), p32, range(2))
    p64 = _params(irgrad, _values(0, np.float64))
    opt64 = optim.Adam(p64)
    opt64.load_state_dict(opt32.state_dict())
    state = opt64.state[p64[0]]
    assert state["exp_avg"].dtype == irgrad.float64
    assert state["step"].dtype == irgrad.float32  # step counters keep their dtype
    _assign(irgrad, p64, _grads(0, 3, np.float64))
    opt64.step()


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad"])
def test_params_without_grad_are_skipped(name: str) -> None:
    a, b, c = _params(irgrad, _values(0))
    before = b.detach().numpy().copy()
    opt = getattr(optim, name)([a, b, c], lr=0.1, **({"momentum": 0.9} if name == "SGD" else {}))
    a.grad, c.grad = irgrad.ones_like(a), irgrad.ones_like(c)
    opt.step()
    np.testing.assert_array_equal(b.detach().numpy(), before)
    assert b not in opt.state or name == "Adagrad"  # Adagrad creates all state up front
    assert not np.array_equal(a.detach().numpy(), _values(0)[0])


def test_step_bumps_version_and_is_not_recorded() -> None:
    (p,) = _params(irgrad, _values(0)[:1])
    opt = optim.SGD([p], lr=0.1)
    p.grad = irgrad.ones_like(p)
    version = p._version
    storage = p.detach().numpy()
    opt.step()
    assert p._version == version + 1
    assert p.is_leaf and p.requires_grad and p.grad_fn is None
    np.testing.assert_allclose(storage, _values(0)[0] - 0.1, rtol=1e-6)  # updated in place


def test_zero_grad_set_to_none_and_in_place() -> None:
    a, b = _params(irgrad, _values(0)[:2])
    opt = optim.SGD([a, b], lr=0.1)
    (a.sum() + (b * 2).sum()).backward()
    grad_a = a.grad
    opt.zero_grad(set_to_none=False)
    assert a.grad is grad_a and not a.grad.requires_grad
    np.testing.assert_array_equal(a.grad.numpy(), 0)
    np.testing.assert_array_equal(b.grad.numpy(), 0)
    opt.zero_grad()
    assert a.grad is None and b.grad is None
    opt.zero_grad()  # no grads: nothing to do


def test_zero_grad_detaches_a_graph_grad() -> None:
    (a,) = _params(irgrad, _values(0)[:1])
    opt = optim.SGD([a])
    (a**3).sum().backward(create_graph=True)
    assert a.grad.grad_fn is not None
    opt.zero_grad(set_to_none=False)
    assert a.grad.grad_fn is None
    np.testing.assert_array_equal(a.grad.numpy(), 0)


def test_closure_loss_is_returned_and_grad_enabled() -> None:
    (w,) = _params(irgrad, _values(0)[1:2])
    opt = optim.SGD([w], lr=0.1)
    seen = []

    def closure():
        seen.append(irgrad.is_grad_enabled())
        opt.zero_grad()
        loss = (w**2).sum()
        loss.backward()
        return loss

    with irgrad.no_grad():
        loss = opt.step(closure)
    assert seen == [True]
    assert float(loss) == pytest.approx(float((_values(0)[1] ** 2).sum()), rel=1e-6)
    np.testing.assert_allclose(w.detach().numpy(), _values(0)[1] * 0.8, rtol=1e-6)
    assert opt.step() is None


def test_param_groups_and_add_param_group() -> None:
    a, b, c = _params(irgrad, _values(0))
    opt = optim.Adam([a, b], lr=0.01, betas=(0.8, 0.9))
    opt.add_param_group({"params": c, "lr": 0.1})
    assert len(opt.param_groups) == 2
    assert opt.param_groups[1]["params"] == [c] or opt.param_groups[1]["params"][0] is c
    assert opt.param_groups[1]["lr"] == 0.1 and opt.param_groups[1]["betas"] == (0.8, 0.9)
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [a]})
    with pytest.raises(TypeError, match="ordered collections"):
        opt.add_param_group({"params": {irgrad.zeros(1, requires_grad=True)}})
    with pytest.raises(TypeError, match="param_group must be a dict"):
        opt.add_param_group([a])


def test_adagrad_group_added_later_gets_state() -> None:
    a, b, c = _params(irgrad, _values(0))
    opt = optim.Adagrad([a], initial_accumulator_value=0.25)
    opt.add_param_group({"params": [b]})
    b.grad = irgrad.ones_like(b)
    opt.step()
    np.testing.assert_allclose(opt.state[b]["sum"].numpy(), 1.25)


def test_constructor_errors() -> None:
    a = irgrad.zeros(2, requires_grad=True)
    with pytest.raises(TypeError, match="iterable of Tensors or dicts"):
        optim.SGD(a)
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([])
    with pytest.raises(TypeError, match="can only optimize Tensors"):
        optim.SGD([a, 1.0])
    with pytest.raises(ValueError, match="non-leaf"):
        optim.SGD([a * 2])
    with pytest.raises(NotImplementedError, match="differentiable"):
        optim.Adam([a], differentiable=True)


def test_named_parameters_record_names() -> None:
    a, b = _params(irgrad, _values(0)[:2])
    opt = optim.SGD([("w", a), ("b", b)], lr=0.1)
    assert opt.param_groups[0]["param_names"] == ["w", "b"]
    assert opt.state_dict()["param_groups"][0]["param_names"] == ["w", "b"]
