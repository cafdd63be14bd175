"""optim.Adafactor against torch.optim.Adafactor (PyTorch 2.13): parameters after every
one of 20 steps on a small model, the state at the end, option validation; and, without
torch, the state dict round trip and a step under irgrad.compile."""

from __future__ import annotations

import copy

import numpy as np
import pytest

import irgrad
import irgrad.nn as nn
import irgrad.nn.functional as F
from irgrad import optim

STEPS = 20
CONFIGS = [
    {},
    {"lr": 0.5, "weight_decay": 0.1},
    {"lr": 0.05, "beta2_decay": -0.5, "eps": (1e-3, 1e-2), "d": 2.0},
    {"maximize": True, "foreach": True},
    {"lr": 0.1, "eps": (None, 0.0), "d": 1.5, "foreach": False, "weight_decay": 0.01},
]


def _model(lib):
    """A small model with a matrix, a vector, a 3-d and a 0-d parameter (a batched
    factored moment, and the full one of size 1)."""
    lib.manual_seed(0)
    model = lib.nn.Linear(4, 3)
    rng = np.random.default_rng(3)
    model.cube = lib.nn.Parameter(lib.tensor(rng.standard_normal((2, 3, 5)).astype(np.float32)))
    model.scale = lib.nn.Parameter(lib.tensor(np.float32(0.7)))
    return model


def _loss(lib, model, step: int):
    rng = np.random.default_rng(100 + step)
    x = lib.tensor(rng.standard_normal((5, 4)).astype(np.float32))
    y = model(x) * model.scale
    return (y * y).mean() + (model.cube.sin() * model.cube).sum()


def _same_model(torch, ours, theirs) -> None:
    theirs.load_state_dict({k: torch.tensor(v.detach().numpy()) for k, v in ours.state_dict().items()})


@pytest.mark.parametrize("options", CONFIGS, ids=[str(i) for i in range(len(CONFIGS))])
@pytest.mark.parametrize("grouped", [False, True], ids=["one_group", "two_groups"])
def test_adafactor_matches_torch_step_for_step(options, grouped):
    torch = pytest.importorskip("torch")
    ours_m, theirs_m = _model(irgrad), _model(torch)
    _same_model(torch, ours_m, theirs_m)

    def build(lib, model):
        if not grouped:
            return lib.optim.Adafactor(model.parameters(), **options)
        groups = [
            {"params": [model.weight, model.cube]},
            {"params": [model.bias, model.scale], "lr": 0.02, "beta2_decay": -0.6},
        ]
        return lib.optim.Adafactor(groups, **options)

    ours, theirs = build(irgrad, ours_m), build(torch, theirs_m)
    for step in range(STEPS):
        for lib, model, opt in ((irgrad, ours_m, ours), (torch, theirs_m, theirs)):
            opt.zero_grad()
            _loss(lib, model, step).backward()
            if step % 7 == 3:
                model.bias.grad = None  # a parameter without a gradient is skipped
            opt.step()
        for (name, p), q in zip(ours_m.named_parameters(), theirs_m.parameters()):
            np.testing.assert_allclose(
                p.detach().numpy(), q.detach().numpy(), rtol=2e-5, atol=1e-6, err_msg=name
            )
    mine, want = ours.state_dict(), theirs.state_dict()
    assert sorted(mine["state"]) == sorted(want["state"])
    for index, their_state in want["state"].items():
        assert list(mine["state"][index]) == list(their_state)
        for key, value in their_state.items():
            got = mine["state"][index][key]
            assert str(got.dtype).split(".")[-1] == str(value.dtype).split(".")[-1]
            assert tuple(got.shape) == tuple(value.shape)
            np.testing.assert_allclose(got.numpy(), value.numpy(), rtol=2e-5, atol=1e-9, err_msg=key)
    assert [{k: v for k, v in g.items()} for g in mine["param_groups"]] == want["param_groups"]


@pytest.mark.parametrize(
    "options",
    [
        {"lr": -1.0},
        {"beta2_decay": 0.5},
        {"eps": (-1.0, 1e-3)},
        {"eps": (None, -1e-3)},
        {"d": 0.5},
        {"weight_decay": -0.1},
    ],
)
def test_adafactor_rejects_options_as_torch(options):
    torch = pytest.importorskip("torch")
    with pytest.raises(ValueError) as theirs:
        torch.optim.Adafactor([torch.zeros(2, requires_grad=True)], **options)
    with pytest.raises(ValueError) as ours:
        optim.Adafactor([irgrad.zeros(2, requires_grad=True)], **options)
    assert str(ours.value) == str(theirs.value)


def _train(model, opt, steps: range) -> None:
    for step in steps:
        opt.zero_grad()
        _loss(irgrad, model, step).backward()
        opt.step()


def test_adafactor_state_dict_round_trip_continues_identically():
    model = _model(irgrad)
    opt = optim.Adafactor(model.parameters(), lr=0.1, weight_decay=0.01)
    _train(model, opt, range(5))
    twin = copy.deepcopy(model)
    restored = optim.Adafactor(twin.parameters())
    restored.load_state_dict(opt.state_dict())
    assert restored.param_groups[0]["lr"] == 0.1
    _train(model, opt, range(5, 10))
    _train(twin, restored, range(5, 10))
    for p, q in zip(model.parameters(), twin.parameters()):
        np.testing.assert_array_equal(p.detach().numpy(), q.detach().numpy())
    assert float(restored.state[twin.weight]["step"]) == 10.0
    assert set(restored.state[twin.weight]) == {"step", "row_var", "col_var"}
    assert set(restored.state[twin.bias]) == {"step", "variance"}


@pytest.mark.filterwarnings("ignore:.*graph break. Adafactor.step")
def test_adafactor_step_under_compile_equals_eager():
    """The step is a graph break (norms read as numbers): the compiled call runs it eagerly."""
    x = irgrad.tensor(np.random.default_rng(0).standard_normal((6, 4)).astype(np.float32))
    y = irgrad.tensor([0, 1, 2, 0, 1, 2])

    def make():
        irgrad.manual_seed(0)
        model = nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 3))
        return model, optim.Adafactor(model.parameters(), lr=0.1)

    results = []
    for compiled in (False, True):
        model, opt = make()

        def step():
            opt.zero_grad()  # noqa: B023
            loss = F.cross_entropy(model(x), y)  # noqa: B023
            loss.backward()
            opt.step()  # noqa: B023
            return loss.detach()

        run = irgrad.compile(step, backend="llvm") if compiled else step
        losses = [float(run()) for _ in range(4)]
        results.append((losses, [p.detach().numpy().copy() for p in model.parameters()]))
    np.testing.assert_allclose(results[1][0], results[0][0], rtol=1e-6)
    for got, want in zip(results[1][1], results[0][1]):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
