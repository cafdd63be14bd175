"""nn.init: gains and fans equal PyTorch's, and each initialiser's distribution has the
bounds / standard deviation of PyTorch's formula (statistical checks on large tensors).
Only the gain/fan comparisons need torch."""

from __future__ import annotations

import math

import numpy as np
import pytest

import irgrad
import irgrad.nn as nn
from irgrad.nn import init


def _w(*shape):
    return nn.Parameter(irgrad.empty(*shape))


@pytest.mark.parametrize(
    "name,param",
    [
        ("linear", None),
        ("conv2d", None),
        ("sigmoid", None),
        ("tanh", None),
        ("relu", None),
        ("leaky_relu", None),
        ("leaky_relu", 0.2),
        ("leaky_relu", math.sqrt(5)),
        ("leaky_relu", 3),
        ("selu", None),
    ],
)
def test_calculate_gain_matches_torch(name, param):
    torch = pytest.importorskip("torch")
    assert init.calculate_gain(name, param) == pytest.approx(torch.nn.init.calculate_gain(name, param))


def test_calculate_gain_errors():
    with pytest.raises(ValueError, match="Unsupported nonlinearity"):
        init.calculate_gain("swish")
    with pytest.raises(ValueError, match="not a valid number"):
        init.calculate_gain("leaky_relu", True)


@pytest.mark.parametrize("shape", [(5, 3), (8, 4, 3), (16, 3, 5, 5), (4, 2, 3, 3, 3)])
def test_fans_match_torch(shape):
    torch = pytest.importorskip("torch")
    expected = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
    assert init._calculate_fan_in_and_fan_out(irgrad.empty(*shape)) == expected


def test_fans_need_two_dims():
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init._calculate_fan_in_and_fan_out(irgrad.empty(3))
    with pytest.raises(ValueError, match="not supported"):
        init.kaiming_uniform_(_w(3, 3), mode="fan_avg")


def _check_uniform(values: np.ndarray, bound: float) -> None:
    assert np.abs(values).max() <= bound
    assert np.abs(values).max() > 0.98 * bound
    assert abs(values.mean()) < 0.02 * bound
    assert abs(values.std() - bound / math.sqrt(3)) < 0.02 * bound


def _check_normal(values: np.ndarray, mean: float, std: float) -> None:
    assert abs(values.mean() - mean) < 0.03 * std
    assert abs(values.std() - std) < 0.03 * std


@pytest.mark.parametrize("shape", [(200, 300), (64, 32, 3, 3)])
def test_kaiming_and_xavier_distributions(shape):
    irgrad.manual_seed(0)
    fan_in = shape[1] * int(np.prod(shape[2:]))
    fan_out = shape[0] * int(np.prod(shape[2:]))
    w = _w(*shape)
    init.kaiming_uniform_(w, a=math.sqrt(5))
    _check_uniform(w.detach().numpy(), math.sqrt(6 / ((1 + 5) * fan_in)))
    init.kaiming_uniform_(w, mode="fan_out", nonlinearity="relu")
    _check_uniform(w.detach().numpy(), math.sqrt(6 / fan_out))
    init.kaiming_normal_(w, nonlinearity="relu")
    _check_normal(w.detach().numpy(), 0.0, math.sqrt(2 / fan_in))
    init.kaiming_normal_(w, a=0.1, mode="fan_out")
    _check_normal(w.detach().numpy(), 0.0, math.sqrt(2 / (1.01 * fan_out)))
    init.xavier_uniform_(w, gain=2.0)
    _check_uniform(w.detach().numpy(), 2.0 * math.sqrt(6 / (fan_in + fan_out)))
    init.xavier_normal_(w)
    _check_normal(w.detach().numpy(), 0.0, math.sqrt(2 / (fan_in + fan_out)))
    assert w.requires_grad and w.is_leaf and w.grad_fn is None


def test_simple_initialisers():
    irgrad.manual_seed(1)
    w = _w(300, 200)
    assert init.uniform_(w, -2.0, 3.0) is w
    values = w.detach().numpy()
    assert values.min() >= -2.0 and values.max() <= 3.0 and abs(values.mean() - 0.5) < 0.05
    init.normal_(w, 1.5, 0.5)
    _check_normal(w.detach().numpy(), 1.5, 0.5)
    init.constant_(w, 0.3)
    assert (w.detach().numpy() == np.float32(0.3)).all()
    init.ones_(w)
    assert (w.detach().numpy() == 1).all()
    init.zeros_(w)
    assert not w.detach().numpy().any()
    e = _w(3, 5)
    init.eye_(e)
    np.testing.assert_array_equal(e.detach().numpy(), np.eye(3, 5))
    with pytest.raises(ValueError, match="2 dimensions"):
        init.eye_(_w(2, 2, 2))


def test_trunc_normal_and_orthogonal_and_dirac():
    irgrad.manual_seed(2)
    w = _w(400, 250)
    init.trunc_normal_(w, mean=0.5, std=1.0, a=-1.0, b=1.5)
    v = w.detach().numpy()
    assert v.min() >= -1.0 and v.max() <= 1.5
    # truncated N(0.5, 1) on [-1, 1.5]: mean = 0.5 + (phi(-1.5) - phi(1)) / (Phi(1) - Phi(-1.5))
    phi = lambda z: math.exp(-z * z / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    cdf = lambda z: 0.5 * (1 + math.erf(z / math.sqrt(2)))  # noqa: E731
    expected = 0.5 + (phi(-1.5) - phi(1.0)) / (cdf(1.0) - cdf(-1.5))
    assert abs(v.mean() - expected) < 0.01
    for shape in [(6, 4), (4, 6), (5, 2, 3)]:
        q = _w(*shape)
        init.orthogonal_(q, gain=2.0)
        flat = q.detach().numpy().reshape(shape[0], -1)
        gram = flat @ flat.T if shape[0] <= flat.shape[1] else flat.T @ flat
        np.testing.assert_allclose(gram, 4.0 * np.eye(gram.shape[0]), atol=1e-5)
    d = _w(4, 2, 3, 3)
    init.dirac_(d, groups=2)
    x = irgrad.randn(1, 4, 5, 5)
    y = nn.functional.conv2d(x, d.detach(), padding=1, groups=2)  # identity on the first channel per group
    np.testing.assert_allclose(y.numpy()[0, [0, 2]], x.numpy()[0, [0, 2]], atol=1e-6)
    assert d.detach().numpy().sum() == 4


def test_init_is_reproducible_and_zero_size_warns():
    irgrad.manual_seed(5)
    a = nn.Linear(4, 3).weight.detach().numpy().copy()
    irgrad.manual_seed(5)
    b = nn.Linear(4, 3).weight.detach().numpy()
    np.testing.assert_array_equal(a, b)
    with pytest.warns(UserWarning, match="zero-element"):
        init.kaiming_uniform_(_w(0, 3))


def test_layers_initialise_like_torch():
    """Distribution parameters of the default init of each layer (PyTorch's formulas)."""
    irgrad.manual_seed(3)
    bil = nn.Bilinear(40, 30, 50)
    _check_uniform(bil.weight.detach().numpy(), 1 / math.sqrt(40))
    emb = nn.Embedding(500, 64)
    _check_normal(emb.weight.detach().numpy(), 0.0, 1.0)
    bn = nn.BatchNorm2d(7)
    assert (bn.weight.detach().numpy() == 1).all() and not bn.bias.detach().numpy().any()
    assert not bn.running_mean.numpy().any() and (bn.running_var.numpy() == 1).all()
    assert bn.num_batches_tracked.dtype == irgrad.int64 and bn.num_batches_tracked.item() == 0
    ln = nn.LayerNorm((3, 4))
    assert ln.weight.shape == (3, 4) and (ln.weight.detach().numpy() == 1).all()
    prelu = nn.PReLU(3)
    assert (prelu.weight.detach().numpy() == np.float32(0.25)).all()


def test_sparse_zeroes_the_share_of_each_column_and_draws_the_rest():
    irgrad.manual_seed(0)
    w = init.sparse_(_w(200, 30), sparsity=0.25, std=0.5)
    values = w.detach().numpy()
    assert ((values == 0).sum(axis=0) == 50).all()  # ceil(0.25 * 200) per column
    assert abs(values[values != 0].std() - 0.5) < 0.02
    with pytest.raises(ValueError, match="Only tensors with 2 dimensions are supported"):
        init.sparse_(_w(2, 3, 4), 0.1)


@pytest.mark.parametrize(
    "old, args",
    [
        ("uniform", ()),
        ("normal", ()),
        ("constant", (0.3,)),
        ("eye", ()),
        ("dirac", ()),
        ("xavier_uniform", ()),
        ("xavier_normal", ()),
        ("kaiming_uniform", ()),
        ("kaiming_normal", ()),
        ("orthogonal", ()),
        ("sparse", (0.5,)),
    ],
)
def test_deprecated_names_warn_and_initialize_as_the_new_ones(old, args):
    shape = (3, 3, 1) if old == "dirac" else (3, 3)
    irgrad.manual_seed(1)
    expected = getattr(init, old + "_")(_w(*shape), *args).detach().numpy()
    irgrad.manual_seed(1)
    with pytest.warns(FutureWarning, match=f"`nn.init.{old}` is now deprecated in favor of `nn.init.{old}_`"):
        got = getattr(init, old)(_w(*shape), *args)
    np.testing.assert_array_equal(got.detach().numpy(), expected)
    assert getattr(init, old).__name__ == old
