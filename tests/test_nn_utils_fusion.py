"""nn.utils.fuse_*_bn_* (against PyTorch and against running the two layers),
nn.utils.skip_init and nn.utils.stateless.functional_call."""

import warnings

import numpy as np
import pytest

import irgrad
import irgrad.nn as nn


def _layers(lib):
    lib.manual_seed(0)
    return (
        lib.nn.Conv2d(3, 4, 3),
        lib.nn.ConvTranspose2d(3, 4, 3),
        lib.nn.Linear(5, 4, bias=False),
        lib.nn.BatchNorm2d(4),
        lib.nn.BatchNorm1d(4),
    )


def _randomised(layers, other=None, seed=0):
    """Random weights and statistics (positive variances), copied to ``other`` if given; eval mode."""
    rng = np.random.default_rng(seed)
    for i, layer in enumerate(layers):
        state = {}
        for k, v in layer.state_dict().items():
            a = v.numpy()
            if a.dtype.kind == "f":
                a = (np.abs(a) + 0.5 if "var" in k else a + 0.3 * rng.standard_normal(a.shape)).astype(
                    a.dtype
                )
            state[k] = a
        layer.load_state_dict({k: irgrad.tensor(v) for k, v in state.items()})
        layer.eval()
        if other is not None:
            import torch

            other[i].load_state_dict({k: torch.tensor(v) for k, v in state.items()})
            other[i].eval()


def test_fused_layers_compute_the_pair():
    conv, convt, lin, bn2, bn1 = layers = _layers(irgrad)
    _randomised(layers)
    x = irgrad.tensor(np.random.default_rng(1).standard_normal((2, 3, 6, 6)).astype(np.float32))
    for fused, pair in (
        (nn.utils.fuse_conv_bn_eval(conv, bn2), lambda t: bn2(conv(t))),
        (nn.utils.fuse_conv_bn_eval(convt, bn2, transpose=True), lambda t: bn2(convt(t))),
    ):
        np.testing.assert_allclose(fused(x).detach().numpy(), pair(x).detach().numpy(), rtol=1e-5, atol=1e-5)
    v = irgrad.tensor(np.random.default_rng(2).standard_normal((3, 5)).astype(np.float32))
    plain = nn.BatchNorm1d(4, affine=False)  # (PyTorch's fusion needs an affine BatchNorm here)
    _randomised([plain], seed=3)
    for bn in (bn1, plain):
        fused = nn.utils.fuse_linear_bn_eval(lin, bn)
        np.testing.assert_allclose(
            fused(v).detach().numpy(), bn(lin(v)).detach().numpy(), rtol=1e-5, atol=1e-5
        )
    assert isinstance(fused.bias, nn.Parameter) and lin.bias is None  # a copy: the original is untouched
    conv.train()
    with pytest.raises(AssertionError, match="Fusion only for eval!"):
        nn.utils.fuse_conv_bn_eval(conv, bn2)
    with pytest.raises(AssertionError, match="To fuse, linear.out_features"):
        nn.utils.fuse_linear_bn_eval(nn.Linear(2, 3).eval(), nn.BatchNorm1d(4).eval())


def test_fused_weights_as_torch():
    torch = pytest.importorskip("torch")
    mine, theirs = _layers(irgrad), _layers(torch)
    _randomised(mine, theirs)
    pairs = [((0, 3), False), ((1, 3), True)]
    for (layer, bn), transpose in pairs:
        m = nn.utils.fuse_conv_bn_eval(mine[layer], mine[bn], transpose)
        t = torch.nn.utils.fuse_conv_bn_eval(theirs[layer], theirs[bn], transpose)
        for a, b in ((m.weight, t.weight), (m.bias, t.bias)):
            np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-6, atol=1e-6)
            assert a.requires_grad == b.requires_grad
    m = nn.utils.fuse_linear_bn_eval(mine[2], mine[4])
    t = torch.nn.utils.fuse_linear_bn_eval(theirs[2], theirs[4])
    np.testing.assert_allclose(m.weight.detach().numpy(), t.weight.detach().numpy(), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(m.bias.detach().numpy(), t.bias.detach().numpy(), rtol=1e-6, atol=1e-6)


def test_skip_init_and_stateless():
    layer = nn.utils.skip_init(nn.Linear, 3, 4, bias=False)
    assert layer.weight.shape == (4, 3) and layer.bias is None

    class NoDevice(nn.Module):
        def __init__(self, n):
            super().__init__()

    with pytest.raises(RuntimeError, match="must support a 'device' arg"):
        nn.utils.skip_init(NoDevice, 3)
    m = nn.Linear(2, 2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = nn.utils.stateless.functional_call(m, {"bias": irgrad.zeros(2)}, irgrad.ones(1, 2))
    assert caught and caught[0].category is FutureWarning
    np.testing.assert_allclose(
        out.detach().numpy(), m.weight.detach().numpy().sum(1, keepdims=True).T, rtol=1e-6
    )
    assert not np.array_equal(m.bias.detach().numpy(), np.zeros(2))  # the module's own bias is back
