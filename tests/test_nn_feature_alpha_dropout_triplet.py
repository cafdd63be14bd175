"""F.feature_alpha_dropout / nn.FeatureAlphaDropout (statistics and structure without
torch) and F.triplet_margin_with_distance_loss / nn.TripletMarginWithDistanceLoss
(values, gradients, errors and reprs against torch 2.13)."""

from __future__ import annotations

import numpy as np
import pytest

import irgrad as ir
import irgrad.nn as nn
import irgrad.nn.functional as F


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def test_feature_alpha_dropout_drops_whole_channels_and_keeps_selu_statistics():
    ir.manual_seed(0)
    x = ir.randn(400, 50, 6)
    y = F.feature_alpha_dropout(x, 0.3, training=True).numpy()
    per_channel = y.reshape(400 * 50, 6)
    dropped = np.all(per_channel == per_channel[:, :1], axis=1)
    assert abs(dropped.mean() - 0.3) < 0.02, "one draw per (item, channel)"
    assert abs(y.mean()) < 0.02 and abs(y.std() - 1.0) < 0.02  # SELU's fixed point kept
    assert F.feature_alpha_dropout(x, 0.3, training=False) is x
    assert np.all(F.feature_alpha_dropout(x, 1.0, training=True).numpy() == 0)


def test_feature_alpha_dropout_needs_two_dims():
    with pytest.raises(RuntimeError, match="Feature dropout requires at least 2 dimensions"):
        F.feature_alpha_dropout(ir.randn(5), 0.5, training=True)
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1"):
        F.feature_alpha_dropout(ir.randn(2, 5), 1.5, training=True)


@pytest.mark.parametrize(
    "shape, p, training", [((5,), 0.5, False), ((5,), 0.0, True), ((), 1.0, True), ((0,), 0.5, True)]
)
def test_feature_alpha_dropout_without_a_draw_needs_no_channel_dim(shape, p, training):
    x = ir.randn(*shape)
    out = F.feature_alpha_dropout(x, p, training=training)
    expected = np.zeros(shape) if p == 1.0 else x.numpy()
    np.testing.assert_array_equal(out.numpy(), expected)


def test_feature_alpha_dropout_compiled_draws_a_mask_per_call_from_the_generator():
    model = nn.Sequential(nn.Linear(4, 8), nn.SELU(), nn.FeatureAlphaDropout(0.5))
    compiled = ir.compile(model)
    x = ir.randn(3, 8, 4)
    ir.manual_seed(5)
    first = compiled(x).detach().numpy()
    ir.manual_seed(5)
    again = compiled(x).detach().numpy()
    ir.manual_seed(5)
    eager = model(x).detach().numpy()
    np.testing.assert_allclose(first, again, rtol=1e-6, atol=1e-6)  # the same mask
    np.testing.assert_allclose(first, eager, rtol=1e-6, atol=1e-6)


TRIPLET = [
    {},
    {"swap": True, "margin": 0.3},
    {"reduction": "none"},
    {"reduction": "sum", "distance": "cosine"},
]


@pytest.mark.parametrize("kwargs", TRIPLET)
def test_triplet_with_distance_matches_torch(kwargs, torch):
    rng = np.random.default_rng(1)
    data = [rng.standard_normal((6, 5)).astype(np.float32) for _ in range(3)]
    results = []
    for L in (ir, torch):
        kw = {k: v for k, v in kwargs.items() if k != "distance"}
        if "distance" in kwargs:
            kw["distance_function"] = lambda a, b, L=L: 1 - L.nn.functional.cosine_similarity(a, b)
        tensors = [L.tensor(d, requires_grad=True) for d in data]
        out = L.nn.functional.triplet_margin_with_distance_loss(*tensors, **kw)
        out.sum().backward()
        results.append([out.detach().numpy()] + [t.grad.numpy() for t in tensors])
    for ours, theirs in zip(*results):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


def test_triplet_with_distance_module_matches_torch(torch):
    rng = np.random.default_rng(2)
    data = [rng.standard_normal((3, 4)).astype(np.float32) for _ in range(3)]
    ours = nn.TripletMarginWithDistanceLoss(margin=0.7, swap=True)
    theirs = torch.nn.TripletMarginWithDistanceLoss(margin=0.7, swap=True)
    assert repr(ours) == repr(theirs)
    a = ours(*(ir.tensor(d) for d in data)).item()
    b = theirs(*(torch.tensor(d) for d in data)).item()
    assert abs(a - b) < 1e-6


ERRORS = [
    (lambda L: L.nn.functional.triplet_margin_with_distance_loss(*[L.ones(2, 3)] * 3, margin=0), ValueError),
    (
        lambda L: L.nn.functional.triplet_margin_with_distance_loss(L.ones(2, 3), L.ones(3), L.ones(3)),
        RuntimeError,
    ),
    (
        lambda L: L.nn.functional.triplet_margin_with_distance_loss(*[L.ones(2)] * 3, reduction="avg"),
        ValueError,
    ),
    (lambda L: L.nn.TripletMarginWithDistanceLoss(margin=-1.0), ValueError),
]


@pytest.mark.parametrize("call, error", ERRORS)
def test_triplet_errors_match_torch(call, error, torch):
    for L in (ir, torch):
        with pytest.raises(error):
            call(L)
