"""Layers and functional layers against PyTorch: outputs and gradients of inputs and
parameters with the weights copied across, BatchNorm running statistics, Dropout
statistics, Embedding padding, and reprs."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import assert_same, run_both
from hypothesis import given, settings
from hypothesis import strategies as st

import irgrad
import irgrad.nn as nn
import irgrad.nn.functional as F

torch = pytest.importorskip("torch")
tnn = torch.nn

SETTINGS = settings(max_examples=15, deadline=None, derandomize=True)


def _rand(rng, *shape, dtype=np.float32):
    return rng.standard_normal(shape).astype(dtype)


def copy_weights(theirs, mine) -> None:
    """Load torch module ``theirs``' state into irgrad module ``mine`` (through numpy)."""
    mine.load_state_dict({k: v.detach().numpy().copy() for k, v in theirs.state_dict().items()})


def check_module(theirs, mine, *arrays, atol=1e-5, rtol=1e-4, seed=0):
    """Copy weights, run both on ``arrays`` and compare outputs, input grads and parameter grads."""
    copy_weights(theirs, mine)
    xt = [torch.tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays]
    xm = [irgrad.tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays]
    ot, om = theirs(*xt), mine(*xm)
    assert_same(om, ot, atol, rtol)
    cot = np.random.default_rng(seed).standard_normal(tuple(ot.shape)).astype(ot.detach().numpy().dtype)
    ot.backward(torch.tensor(cot))
    om.backward(irgrad.tensor(cot))
    for a, b in zip(xm, xt):
        if b.requires_grad:
            assert_same(a.grad, b.grad, atol, rtol, what="input grad")
    params_m = dict(mine.named_parameters())
    for name, p in theirs.named_parameters():
        if p.grad is None:
            assert params_m[name].grad is None, name
        else:
            assert_same(params_m[name].grad, p.grad, atol, rtol, what=f"grad of {name}")
    for name, b in theirs.named_buffers():
        assert_same(dict(mine.named_buffers())[name], b, atol, rtol, what=f"buffer {name}")
    return om, ot


# --- linear family ---------------------------------------------------------------------


@SETTINGS
@given(
    lead=st.lists(st.integers(1, 3), min_size=0, max_size=2),
    fin=st.integers(1, 6),
    fout=st.integers(1, 6),
    bias=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_linear_matches_torch(lead, fin, fout, bias, seed):
    rng = np.random.default_rng(seed)
    check_module(tnn.Linear(fin, fout, bias=bias), nn.Linear(fin, fout, bias=bias), _rand(rng, *lead, fin))


def test_linear_float64_and_repr():
    rng = np.random.default_rng(1)
    check_module(
        tnn.Linear(4, 3).double(), nn.Linear(4, 3).double(), _rand(rng, 5, 4, dtype=np.float64), atol=1e-12
    )
    assert repr(nn.Linear(4, 3, bias=False)) == repr(tnn.Linear(4, 3, bias=False))


def test_linear_init_bounds():
    irgrad.manual_seed(0)
    m = nn.Linear(50, 400)
    bound = 1 / np.sqrt(50)
    w = m.weight.detach().numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.95 * bound
    assert abs(w.std() - bound / np.sqrt(3)) < 0.01 * bound
    assert np.abs(m.bias.detach().numpy()).max() <= bound


@pytest.mark.parametrize("bias", [True, False])
def test_bilinear_matches_torch(bias):
    rng = np.random.default_rng(2)
    check_module(
        tnn.Bilinear(3, 4, 5, bias=bias),
        nn.Bilinear(3, 4, 5, bias=bias),
        _rand(rng, 2, 6, 3),
        _rand(rng, 2, 6, 4),
    )
    assert repr(nn.Bilinear(3, 4, 5)) == repr(tnn.Bilinear(3, 4, 5))


def test_identity_flatten_unflatten():
    rng = np.random.default_rng(3)
    x = _rand(rng, 2, 3, 4, 5)
    check_module(tnn.Identity(7, k=1), nn.Identity(7, k=1), x)
    check_module(tnn.Flatten(), nn.Flatten(), x)
    check_module(tnn.Flatten(0, 2), nn.Flatten(0, 2), x)
    check_module(tnn.Unflatten(1, (3, 1)), nn.Unflatten(1, (3, 1)), x)
    for t, m in [(tnn.Flatten(0, 2), nn.Flatten(0, 2)), (tnn.Unflatten(1, (3, 1)), nn.Unflatten(1, (3, 1)))]:
        assert repr(m) == repr(t)


# --- activations ----------------------------------------------------------------------

ACTIVATIONS = [
    ("ReLU", ()),
    ("ReLU6", ()),
    ("LeakyReLU", (0.2,)),
    ("GELU", ()),
    ("GELU", ("tanh",)),
    ("SiLU", ()),
    ("Mish", ()),
    ("Sigmoid", ()),
    ("Tanh", ()),
    ("Softmax", (1,)),
    ("LogSoftmax", (-1,)),
    ("Softmin", (0,)),
    ("ELU", (0.7,)),
    ("SELU", ()),
    ("CELU", (1.3,)),
    ("Softplus", ()),
    ("Softplus", (2.0, 3.0)),
    ("Hardtanh", (-0.5, 0.8)),
    ("Hardsigmoid", ()),
    ("Hardswish", ()),
    ("LogSigmoid", ()),
    ("Softsign", ()),
    ("Tanhshrink", ()),
    ("Threshold", (0.1, -2.0)),
    ("GLU", (1,)),
    ("Hardshrink", (0.3,)),
    ("Softshrink", (0.3,)),
]


@pytest.mark.parametrize("name,args", ACTIVATIONS)
def test_activation_modules_match_torch(name, args):
    rng = np.random.default_rng(4)
    x = _rand(rng, 3, 4, 5) * 4
    x[0, 0, :3] = [0.0, 30.0, -30.0]  # the kink and far tails
    check_module(getattr(tnn, name)(*args), getattr(nn, name)(*args), x)
    assert repr(getattr(nn, name)(*args)) == repr(getattr(tnn, name)(*args))


SPECIAL = [np.nan, np.inf, -np.inf, 0.0, -0.0, 3.0, -3.0, 6.0, 0.3, -0.3, 1.3, 30.0, -30.0]


@pytest.mark.parametrize(
    "name,args", [a for a in ACTIVATIONS if a[0] not in ("Softmax", "LogSoftmax", "Softmin", "GLU")]
)
def test_activations_at_special_values_match_torch(name, args):
    """NaN, infinities, signed zeros and the kinks: values and gradients as torch's
    kernels give them (a NaN input passes relu's gradient, for instance).  Exact GELU
    is left out at +-inf, where torch's kernel returns NaN."""
    x = np.array(SPECIAL, dtype=np.float32)
    if name == "GELU" and not args:
        x = x[np.isfinite(x) | np.isnan(x)]
    xt = torch.tensor(x, requires_grad=True)
    xi = irgrad.tensor(x, requires_grad=True)
    ot, oi = getattr(tnn, name)(*args)(xt), getattr(nn, name)(*args)(xi)
    np.testing.assert_allclose(oi.detach().numpy(), ot.detach().numpy(), rtol=1e-5, atol=1e-6)
    ot.backward(torch.ones_like(ot))
    oi.backward(irgrad.ones(*oi.shape))
    np.testing.assert_allclose(xi.grad.numpy(), xt.grad.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["ReLU", "ReLU6", "LeakyReLU", "SiLU", "ELU", "Hardtanh", "Mish", "SELU"])
def test_activation_inplace_flag(name):
    rng = np.random.default_rng(5)
    x = _rand(rng, 4, 3)
    t = getattr(tnn, name)(inplace=True)
    m = getattr(nn, name)(inplace=True)
    assert repr(m) == repr(t)
    xt, xm = torch.tensor(x), irgrad.tensor(x)
    ot, om = t(xt), m(xm)
    assert om is xm
    assert_same(xm, xt, 1e-6, 1e-5)
    # in place on a non-leaf keeps autograd correct
    a = irgrad.tensor(x, requires_grad=True)
    b = torch.tensor(x, requires_grad=True)
    ym, yt = m(a * 1.0), t(b * 1.0)
    ym.sum().backward()
    yt.sum().backward()
    assert_same(a.grad, b.grad, 1e-5, 1e-4)
    del ot, om


def test_prelu_matches_torch():
    rng = np.random.default_rng(6)
    check_module(tnn.PReLU(), nn.PReLU(), _rand(rng, 2, 3, 4))
    check_module(tnn.PReLU(3, 0.1), nn.PReLU(3, 0.1), _rand(rng, 2, 3, 4))
    assert repr(nn.PReLU(3)) == repr(tnn.PReLU(3))


def test_softmax_implicit_dim_warns():
    x = irgrad.randn(2, 3)
    with pytest.warns(UserWarning, match="Implicit dimension"):
        y = F.softmax(x)
    np.testing.assert_allclose(y.sum(1).numpy(), 1.0, rtol=1e-6)


def test_gelu_rejects_unknown_approximation():
    with pytest.raises(RuntimeError):
        F.gelu(irgrad.randn(3), approximate="fast")


# --- functional layers ----------------------------------------------------------------


def test_functional_linear_bilinear():
    rng = np.random.default_rng(7)
    run_both(
        lambda L, x, w, b: L.nn.functional.linear(x, w, b), _rand(rng, 3, 4), _rand(rng, 5, 4), _rand(rng, 5)
    )
    run_both(lambda L, x, w: L.nn.functional.linear(x, w), _rand(rng, 2, 3, 4), _rand(rng, 5, 4))
    run_both(
        lambda L, a, b, w, c: L.nn.functional.bilinear(a, b, w, c),
        _rand(rng, 4, 2),
        _rand(rng, 4, 3),
        _rand(rng, 5, 2, 3),
        _rand(rng, 5),
    )


def test_normalize_cosine_pairwise():
    rng = np.random.default_rng(8)
    x, y = _rand(rng, 4, 5), _rand(rng, 4, 5)
    x[1] = 0.0  # a zero vector: finite values and gradients
    run_both(lambda L, a: L.nn.functional.normalize(a), x)
    run_both(lambda L, a: L.nn.functional.normalize(a, p=1, dim=0), x)
    run_both(lambda L, a, b: L.nn.functional.cosine_similarity(a, b), x, y)
    run_both(lambda L, a, b: L.nn.functional.cosine_similarity(a, b, dim=0), x + 0.5, y)
    run_both(lambda L, a, b: L.nn.functional.pairwise_distance(a, b), x, y)


def test_layer_norm_functional_errors():
    with pytest.raises(RuntimeError, match="normalized_shape"):
        F.layer_norm(irgrad.randn(2, 5), (4,))


# --- normalisation --------------------------------------------------------------------


@SETTINGS
@given(
    shape=st.sampled_from([(4, 6), (2, 3, 6), (2, 3, 2, 6)]),
    ndims=st.integers(1, 2),
    affine=st.booleans(),
    bias=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_layer_norm_matches_torch(shape, ndims, affine, bias, seed):
    rng = np.random.default_rng(seed)
    normalized = shape[-ndims:]
    t = tnn.LayerNorm(normalized, elementwise_affine=affine, bias=bias)
    m = nn.LayerNorm(normalized, elementwise_affine=affine, bias=bias)
    with torch.no_grad():
        for p in t.parameters():
            p.normal_()
    check_module(t, m, _rand(rng, *shape) * 3 + 1)
    assert repr(m) == repr(t)


def test_rms_norm_and_group_norm_match_torch():
    rng = np.random.default_rng(9)
    check_module(tnn.RMSNorm(6), nn.RMSNorm(6), _rand(rng, 3, 6))
    check_module(tnn.RMSNorm((2, 6), eps=1e-3), nn.RMSNorm((2, 6), eps=1e-3), _rand(rng, 3, 2, 6))
    t, m = tnn.GroupNorm(2, 6), nn.GroupNorm(2, 6)
    with torch.no_grad():
        t.weight.normal_()
        t.bias.normal_()
    check_module(t, m, _rand(rng, 3, 6, 4, 2))
    check_module(tnn.GroupNorm(3, 6, affine=False), nn.GroupNorm(3, 6, affine=False), _rand(rng, 2, 6, 5))
    for t, m in [(tnn.RMSNorm(6), nn.RMSNorm(6)), (tnn.GroupNorm(2, 6), nn.GroupNorm(2, 6))]:
        assert repr(m) == repr(t)


BN_CASES = [
    ("BatchNorm1d", (8, 5), {}),
    ("BatchNorm1d", (4, 5, 3), {}),
    ("BatchNorm2d", (4, 5, 3, 2), {}),
    ("BatchNorm2d", (4, 5, 3, 2), {"momentum": None}),
    ("BatchNorm2d", (4, 5, 3, 2), {"affine": False}),
    ("BatchNorm1d", (6, 5), {"track_running_stats": False}),
    ("BatchNorm1d", (6, 5), {"momentum": 0.3, "eps": 1e-3}),
    ("BatchNorm3d", (2, 5, 2, 2, 2), {}),
]


@pytest.mark.parametrize("name,shape,kwargs", BN_CASES)
def test_batch_norm_train_steps_then_eval(name, shape, kwargs):
    rng = np.random.default_rng(10)
    t = getattr(tnn, name)(5, **kwargs)
    m = getattr(nn, name)(5, **kwargs)
    if t.affine:
        with torch.no_grad():
            t.weight.normal_()
            t.bias.normal_()
    copy_weights(t, m)
    for step in range(4):
        x = _rand(rng, *shape) * 2 + step
        t.zero_grad()
        m.zero_grad()
        check_module(t, m, x, seed=step)  # compares buffers (running stats, num_batches_tracked) too
    t.eval()
    m.eval()
    check_module(t, m, _rand(rng, *shape))
    assert repr(m) == repr(t)


def test_batch_norm_errors():
    with pytest.raises(ValueError, match="expected 4D input"):
        nn.BatchNorm2d(3)(irgrad.randn(2, 3))
    with pytest.raises(ValueError, match="expected 2D or 3D input"):
        nn.BatchNorm1d(3)(irgrad.randn(2, 3, 2, 2))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        nn.BatchNorm1d(3)(irgrad.randn(1, 3))


def test_functional_batch_norm_updates_running_stats_in_place():
    rng = np.random.default_rng(11)
    x = _rand(rng, 6, 3, 2)
    rm_m, rv_m = irgrad.zeros(3), irgrad.ones(3)
    rm_t, rv_t = torch.zeros(3), torch.ones(3)
    ids = id(rm_m), id(rv_m)
    F.batch_norm(irgrad.tensor(x), rm_m, rv_m, training=True, momentum=0.2)
    torch.nn.functional.batch_norm(torch.tensor(x), rm_t, rv_t, training=True, momentum=0.2)
    assert (id(rm_m), id(rv_m)) == ids
    assert_same(rm_m, rm_t, 1e-6, 1e-5)
    assert_same(rv_m, rv_t, 1e-6, 1e-5)


# --- dropout --------------------------------------------------------------------------


@pytest.mark.parametrize("p", [0.0, 0.2, 0.5, 0.9])
def test_dropout_statistics_and_scaling(p):
    irgrad.manual_seed(0)
    m = nn.Dropout(p)
    x = irgrad.ones(200, 500, requires_grad=True)
    y = m(x)
    out = y.detach().numpy()
    kept = out != 0
    np.testing.assert_allclose(out[kept], 1 / (1 - p), rtol=1e-6)
    assert abs(kept.mean() - (1 - p)) < 0.01
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), out)  # gradient uses the same mask
    m.eval()
    assert m(x) is x


def test_dropout_edge_cases_and_reproducibility():
    x = irgrad.randn(10, 10)
    assert (nn.Dropout(1.0)(x).numpy() == 0).all()
    for bad in (-0.1, 1.5):
        with pytest.raises(ValueError, match="dropout probability"):
            nn.Dropout(bad)
        with pytest.raises(ValueError, match="dropout probability"):
            F.dropout(x, bad)
    irgrad.manual_seed(3)
    a = F.dropout(x, 0.5).numpy()
    irgrad.manual_seed(3)
    b = F.dropout(x, 0.5).numpy()
    np.testing.assert_array_equal(a, b)
    assert F.dropout(x, 0.5, training=False) is x
    assert repr(nn.Dropout(0.3)) == repr(tnn.Dropout(0.3))


def test_dropout2d_zeroes_whole_channels():
    irgrad.manual_seed(1)
    y = nn.Dropout2d(0.5)(irgrad.ones(8, 16, 3, 3)).numpy()
    per_channel = y.reshape(8, 16, -1)
    assert ((per_channel == 0).all(-1) | (per_channel == 2).all(-1)).all()
    assert 0.3 < (per_channel[..., 0] == 0).mean() < 0.7


def test_dropout_inplace():
    irgrad.manual_seed(2)
    x = irgrad.ones(50, 50)
    y = F.dropout(x, 0.5, inplace=True)
    assert y is x and (x.numpy() == 0).any()


# --- embedding ------------------------------------------------------------------------


@pytest.mark.parametrize("padding_idx", [None, 0, 3, -1])
def test_embedding_matches_torch(padding_idx):
    rng = np.random.default_rng(12)
    idx = rng.integers(0, 7, size=(3, 5)).astype(np.int64)
    idx[0, :2] = 0
    idx[1, 0] = 6
    t = tnn.Embedding(7, 4, padding_idx=padding_idx)
    m = nn.Embedding(7, 4, padding_idx=padding_idx)
    if padding_idx is not None:
        row = padding_idx % 7
        assert (m.weight.detach().numpy()[row] == 0).all()
        with torch.no_grad():
            t.weight[row] = 1.5  # a non-zero padding row still gets no gradient
    check_module(t, m, idx)
    assert repr(m) == repr(t)


def test_embedding_scale_grad_by_freq_and_max_norm():
    rng = np.random.default_rng(13)
    idx = np.array([[1, 1, 2], [3, 1, 2]], dtype=np.int64)
    check_module(
        tnn.Embedding(5, 3, scale_grad_by_freq=True), nn.Embedding(5, 3, scale_grad_by_freq=True), idx
    )
    t, m = tnn.Embedding(5, 3, max_norm=1.0), nn.Embedding(5, 3, max_norm=1.0)
    copy_weights(t, m)
    ot, om = t(torch.tensor(idx)), m(irgrad.tensor(idx))
    assert_same(om, ot, 1e-5, 1e-4)
    assert_same(m.weight, t.weight, 1e-5, 1e-4)
    assert repr(m) == repr(t)
    del rng


def test_embedding_from_pretrained_and_errors():
    w = irgrad.randn(4, 3)
    m = nn.Embedding.from_pretrained(w)
    assert not m.weight.requires_grad
    np.testing.assert_array_equal(m(irgrad.tensor([2])).numpy()[0], w.numpy()[2])
    assert nn.Embedding.from_pretrained(w, freeze=False).weight.requires_grad
    with pytest.raises(IndexError, match="index out of range"):
        m(irgrad.tensor([4]))
    with pytest.raises(AssertionError):
        nn.Embedding(4, 2, padding_idx=4)
    with pytest.raises(RuntimeError):
        m(irgrad.tensor([1.0]))


@pytest.mark.parametrize(
    "name,args", [("ReLU", ()), ("ReLU6", ()), ("Hardtanh", ()), ("Hardtanh", (0.0, 2.0))]
)
def test_clamping_activations_keep_the_sign_of_zero_as_torch(name, args):
    """ReLU, ReLU6 and Hardtanh are PyTorch's clamp: ``x`` unless it is beyond a bound, so
    a -0.0 at the bound 0.0 stays -0.0 (``max(-0.0, 0)`` gave +0.0), and NaN stays NaN."""
    x = np.array([-0.0, 0.0, np.nan, -1.0, -0.5, 0.5, 1.0, 3.0, 7.0], dtype=np.float32)
    ot = getattr(tnn, name)(*args)(torch.tensor(x)).numpy()
    oi = getattr(nn, name)(*args)(irgrad.tensor(x)).numpy()
    np.testing.assert_array_equal(oi, ot)
    np.testing.assert_array_equal(np.signbit(oi), np.signbit(ot))
