"""``irgrad.amp`` (issue 14): GradScaler's loss scaling, step skipping and scale schedule
equal PyTorch's; disabled scalers and autocast pass everything through."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import irgrad

RNG = np.random.default_rng(21)
W = RNG.standard_normal((4, 3)).astype(np.float32)
X = RNG.standard_normal((6, 4)).astype(np.float32)


def _train(lib, enabled: bool, poison_steps=(), **scaler_options):
    """Scaled SGD steps on a linear model; at ``poison_steps`` one input is inf, so the
    gradient is and the scaler must skip the step and back off."""
    w = lib.tensor(W.copy(), requires_grad=True)
    opt = lib.optim.SGD([w], lr=0.1, momentum=0.9)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scaler = lib.amp.GradScaler("cpu", enabled=enabled, **scaler_options)
    trace = []
    for step in range(8):
        x = X.copy()
        if step in poison_steps:
            x[0, 0] = np.inf
        loss = (lib.tensor(x) @ w).square().mean()
        opt.zero_grad()
        scaler.scale(loss).backward()
        scaler.unscale_(opt)
        grad_norm = float(w.grad.norm())
        scaler.step(opt)
        scaler.update()
        trace.append((loss.item(), grad_norm, scaler.get_scale(), dict(scaler.state_dict())))
    return w.detach().numpy(), trace


@pytest.mark.parametrize("enabled", [True, False])
@pytest.mark.parametrize("poison_steps", [(), (2,), (0, 1, 5)])
def test_grad_scaler_trains_as_torchs(enabled, poison_steps):
    torch = pytest.importorskip("torch")
    options = {"init_scale": 1024.0, "growth_interval": 3}
    mine_w, mine = _train(irgrad, enabled, poison_steps, **options)
    theirs_w, theirs = _train(torch, enabled, poison_steps, **options)
    np.testing.assert_allclose(mine_w, theirs_w, rtol=1e-5, atol=1e-6)
    for (loss, norm, scale, state), (t_loss, t_norm, t_scale, t_state) in zip(mine, theirs):
        np.testing.assert_allclose([loss, norm], [t_loss, t_norm], rtol=1e-5)
        assert scale == t_scale
        assert state.keys() == t_state.keys()
        assert all(float(state[k]) == float(t_state[k]) for k in state)


def test_a_skipped_step_leaves_the_parameters():
    w, trace = _train(irgrad, True, poison_steps=tuple(range(8)), init_scale=8.0)
    np.testing.assert_array_equal(w, W)
    assert [t[2] for t in trace] == [4.0, 2.0, 1.0, 0.5, 0.25, 0.125, 0.0625, 0.03125]


def test_grad_scaler_misuse_raises_as_torchs():
    torch = pytest.importorskip("torch")
    for lib in (irgrad, torch):
        w = lib.ones(2, requires_grad=True)
        opt = lib.optim.SGD([w], lr=0.1)
        scaler = lib.amp.GradScaler("cpu")
        scaler.scale(w.sum()).backward()
        scaler.unscale_(opt)
        with pytest.raises(RuntimeError, match="already been called"):
            scaler.unscale_(opt)
        scaler.step(opt)
        with pytest.raises(RuntimeError, match="after step"):
            scaler.unscale_(opt)
        with pytest.raises(RuntimeError, match="Closure"):
            scaler.step(opt, closure=lambda: None)
        scaler.update()
        with pytest.raises(AssertionError, match="No inf checks"):
            scaler.update()
        with pytest.raises(AssertionError, match="growth factor"):
            lib.amp.GradScaler("cpu", growth_factor=1.0)


def test_a_cuda_scaler_without_a_gpu_is_disabled_with_torchs_warnings():
    with pytest.warns(UserWarning, match="CUDA is not available"):
        assert not irgrad.amp.GradScaler("cuda").is_enabled()
    with pytest.warns(FutureWarning, match="deprecated"):
        scaler = irgrad.cuda.amp.GradScaler(enabled=True)
    loss = irgrad.tensor(2.0)
    assert scaler.scale(loss) is loss and scaler.get_scale() == 1.0 and scaler.state_dict() == {}


def test_grad_scaler_state_round_trips():
    scaler = irgrad.amp.GradScaler("cpu", init_scale=16.0, growth_interval=5)
    other = irgrad.amp.GradScaler("cpu")
    other.load_state_dict(scaler.state_dict())
    assert other.state_dict() == scaler.state_dict()
    with pytest.raises(RuntimeError, match="empty"):
        other.load_state_dict({})


def test_autocast_runs_its_body_unchanged():
    x = irgrad.ones(2, 2)
    with irgrad.autocast("cpu", enabled=False):
        assert (x @ x).dtype is irgrad.float32
    with pytest.warns(UserWarning, match="no low-precision kernels"):
        irgrad.amp.autocast._warned = False
        context = irgrad.amp.autocast("cpu", dtype=irgrad.float16)
    with context:
        assert (x @ x).dtype is irgrad.float32

    @irgrad.autocast("cpu", dtype=irgrad.float32)
    def product(a):
        return a @ a

    assert product(x).dtype is irgrad.float32
    with pytest.raises(RuntimeError, match="unsupported autocast device_type"):
        irgrad.autocast("tpu")


def test_bfloat16_can_be_named_not_used():
    names = {"float32": irgrad.float32, "bfloat16": irgrad.bfloat16}
    assert repr(names["bfloat16"]) == "irgrad.bfloat16" and not irgrad.cuda.is_bf16_supported()
    with pytest.raises(TypeError, match="no bfloat16 tensors"):
        irgrad.zeros(2, dtype=irgrad.bfloat16)
