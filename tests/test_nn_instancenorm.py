"""InstanceNorm1d/2d/3d and ``F.instance_norm`` against PyTorch: outputs, gradients of input
and affine parameters, running statistics through training and evaluation, unbatched
input, errors; finite differences and a compiled training step without it."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import assert_same
from test_compile_state import Scenario, check

import irgrad
import irgrad.nn as nn
import irgrad.nn.functional as F

LAYERS = {"InstanceNorm1d": (5,), "InstanceNorm2d": (3, 4), "InstanceNorm3d": (2, 3, 2)}


def _pair(name: str, dtype, **kwargs):
    """The same layer in torch and irgrad, irgrad's loaded with torch's state (random affine)."""
    torch = pytest.importorskip("torch")
    theirs = getattr(torch.nn, name)(4, **kwargs).to(getattr(torch, dtype))
    if theirs.affine:
        with torch.no_grad():
            theirs.weight.normal_()
            theirs.bias.normal_()
    mine = getattr(nn, name)(4, **kwargs).to(getattr(irgrad, dtype))
    mine.load_state_dict({k: v.detach().numpy().copy() for k, v in theirs.state_dict().items()})
    return theirs, mine


@pytest.mark.parametrize("name", list(LAYERS))
@pytest.mark.parametrize("affine", [False, True])
@pytest.mark.parametrize("track_running_stats", [False, True])
@pytest.mark.parametrize("unbatched", [False, True])
def test_instance_norm_layers_match_torch(name, affine, track_running_stats, unbatched):
    """Three training steps then one in eval, each compared (output, gradients of input and
    affine parameters, running statistics), in float32 and float64."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(len(name) + 2 * affine + 4 * track_running_stats)
    for dtype in ("float32", "float64"):
        theirs, mine = _pair(
            name, dtype, affine=affine, track_running_stats=track_running_stats, momentum=0.3
        )
        assert list(mine.state_dict()) == list(theirs.state_dict())
        for step in range(4):
            if step == 3:
                theirs.eval()
                mine.eval()
            batch = () if unbatched else (3,)
            x = (rng.standard_normal(batch + (4,) + LAYERS[name]) * 2 + 1).astype(dtype)
            xt, xm = torch.tensor(x, requires_grad=True), irgrad.tensor(x, requires_grad=True)
            theirs.zero_grad()
            mine.zero_grad()
            out_t, out_m = theirs(xt), mine(xm)
            assert_same(out_m, out_t, 1e-5, 1e-4)
            cotangent = rng.standard_normal(x.shape).astype(dtype)
            out_t.backward(torch.tensor(cotangent))
            out_m.backward(irgrad.tensor(cotangent))
            assert_same(xm.grad, xt.grad, 1e-5, 1e-4, what=f"input grad, step {step}")
            params = dict(mine.named_parameters())
            for key, p in theirs.named_parameters():
                assert_same(params[key].grad, p.grad, 1e-5, 1e-4, what=f"{key} grad, step {step}")
            buffers = dict(mine.named_buffers())
            for key, b in theirs.named_buffers():
                assert_same(buffers[key], b, 1e-6, 1e-5, what=f"{key}, step {step}")


@pytest.mark.parametrize("use_input_stats", [True, False])
def test_functional_instance_norm_matches_torch(compare, use_input_stats):
    rng = np.random.default_rng(int(use_input_stats))
    x = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
    stats = (rng.standard_normal(3).astype(np.float32), rng.uniform(0.5, 2, 3).astype(np.float32))

    def run(lib, t, w, b):
        mean, var = lib.tensor(stats[0]), lib.tensor(stats[1])
        out = lib.nn.functional.instance_norm(t, mean, var, w, b, use_input_stats, momentum=0.2, eps=1e-3)
        return out, mean, var

    compare(run, x, rng.standard_normal(3).astype(np.float32), rng.standard_normal(3).astype(np.float32))


def test_momentum_none_keeps_running_statistics():
    """PyTorch passes momentum=None as 0 to instance_norm: the statistics never move."""
    layer = nn.InstanceNorm1d(2, momentum=None, track_running_stats=True)
    layer(irgrad.randn(3, 2, 6))
    np.testing.assert_array_equal(layer.running_mean.numpy(), [0, 0])
    np.testing.assert_array_equal(layer.running_var.numpy(), [1, 1])
    assert int(layer.num_batches_tracked) == 0


def test_known_values_normalise_each_instance():
    x = irgrad.tensor([[[1.0, 2.0, 3.0, 4.0], [10.0, 10.0, 14.0, 14.0]]])
    out = F.instance_norm(x, eps=0.0)
    std = np.sqrt(1.25)  # of 1, 2, 3, 4 (biased); the second row's is 2
    expected = [[[-1.5 / std, -0.5 / std, 0.5 / std, 1.5 / std], [-1, -1, 1, 1]]]
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-6)


@pytest.mark.parametrize("shape", [(2, 3, 4), (1, 2, 3, 3), (2, 1, 2, 2, 2)])
def test_gradients_equal_finite_differences(shape):
    rng = np.random.default_rng(0)
    x = irgrad.tensor(rng.standard_normal(shape), requires_grad=True)
    w = irgrad.tensor(rng.standard_normal(shape[1]), requires_grad=True)
    b = irgrad.tensor(rng.standard_normal(shape[1]), requires_grad=True)
    assert irgrad.autograd.gradcheck(lambda t, w, b: F.instance_norm(t, weight=w, bias=b), (x, w, b))


def test_instance_norm_errors_as_torch():
    with pytest.raises(ValueError, match="more than 1 spatial element"):
        F.instance_norm(irgrad.randn(2, 3, 1))
    with pytest.raises(ValueError, match="more than 1 spatial element"):
        nn.InstanceNorm2d(3)(irgrad.randn(2, 3, 1, 1))
    with pytest.raises(RuntimeError, match="running_mean and running_var to be defined"):
        F.instance_norm(irgrad.randn(2, 3, 4), use_input_stats=False)
    with pytest.raises(ValueError, match=r"expected 2D or 3D input \(got 4D input\)"):
        nn.InstanceNorm1d(3)(irgrad.randn(2, 3, 4, 4))
    with pytest.raises(ValueError, match=r"expected 4D or 5D input \(got 3D input\)"):
        nn.InstanceNorm3d(3)(irgrad.randn(2, 3, 4))
    with pytest.raises(
        ValueError, match=r"expected input's size at dim=1 to match num_features \(3\), but got: 5"
    ):
        nn.InstanceNorm2d(3, affine=True)(irgrad.randn(2, 5, 4, 4))
    with pytest.warns(UserWarning, match="does not match num_features"):
        out = nn.InstanceNorm2d(3)(irgrad.randn(2, 5, 4, 4))
    assert out.shape == (2, 5, 4, 4)


def test_layer_repr_and_state_dict():
    assert repr(nn.InstanceNorm2d(3)) == (
        "InstanceNorm2d(3, eps=1e-05, momentum=0.1, affine=False, bias=False, track_running_stats=False)"
    )
    assert list(nn.InstanceNorm2d(3).state_dict()) == []
    tracked = nn.InstanceNorm1d(3, affine=True, track_running_stats=True)
    assert list(tracked.state_dict()) == [
        "weight",
        "bias",
        "running_mean",
        "running_var",
        "num_batches_tracked",
    ]


def _styled_training():
    model = nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1),
        nn.InstanceNorm2d(4, affine=True, track_running_stats=True),
        nn.ReLU(),
        nn.Conv2d(4, 2, 3),
        nn.InstanceNorm2d(2),
    )
    opt = irgrad.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)

    def step(x):
        opt.zero_grad()
        loss = (model(x) * x[:, :, 1:-1, 1:-1]).mean()
        loss.backward()
        opt.step()
        return loss.detach()

    def batch(i):
        return (irgrad.tensor(np.random.default_rng(i).standard_normal((2, 2, 5, 5)).astype(np.float32)),)

    def between(i):
        model.train(i % 2 == 1)  # alternate evaluation (running stats) and training calls

    return Scenario(step, batch, lambda: model, between=between, calls=4)


def test_compiled_instance_norm_model_trains_as_eager():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a graph break would warn
        compiled = check(_styled_training)
    assert all(e.graph_break is None for e in compiled._compiled.cache), compiled._compiled.log
