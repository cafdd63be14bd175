"""cdist and pdist (torch. and F.), nn.CosineSimilarity, nn.PairwiseDistance, nn.Fold and
nn.Unfold, nn.Softmax2d, F.rrelu/nn.RReLU, F.gumbel_softmax, F.channel_shuffle and
nn.ChannelShuffle, F.adaptive_max_pool1d and nn.AdaptiveMaxPool1d,
F.local_response_norm and nn.LocalResponseNorm against PyTorch 2.13 (the random ones by
their distributions and properties: irgrad's generator draws other numbers)."""

from __future__ import annotations

import numpy as np
import pytest
from torch_parity import raises_like_torch

import irgrad
import irgrad.nn as nn
import irgrad.nn.functional as F

_rng = np.random.default_rng(44)


def R(*shape):
    return _rng.standard_normal(shape).astype(np.float32)


TWINS = np.array([[0.0, 1.0, 2.0], [0.0, 1.0, 2.0], [3.0, 1.0, 0.0], [-1.0, 2.0, 0.5]], np.float32)

CASES = [
    ("cdist", lambda L, a, b: L.cdist(a, b), R(4, 3), R(5, 3)),
    ("cdist_batched", lambda L, a, b: L.cdist(a, b), R(2, 4, 3), R(1, 5, 3)),
    ("cdist_twins", lambda L, a: L.cdist(a, a), TWINS),
    ("cdist_mm", lambda L, a, b: L.cdist(a, b), R(30, 3), R(4, 3)),
    ("cdist_mm_twins", lambda L, a: L.cdist(a, a, compute_mode="use_mm_for_euclid_dist"), TWINS),
    (
        "cdist_no_mm",
        lambda L, a, b: L.cdist(a, b, compute_mode="donot_use_mm_for_euclid_dist"),
        R(30, 3),
        R(26, 3),
    ),
    ("cdist_p1", lambda L, a, b: L.cdist(a, b, p=1), R(4, 3), R(5, 3)),
    ("cdist_p3", lambda L, a, b: L.cdist(a, b, p=3), R(4, 3), R(5, 3)),
    ("cdist_p0", lambda L, a, b: L.cdist(a, b, p=0), np.round(R(4, 3)), np.round(R(5, 3))),
    ("cdist_pinf", lambda L, a, b: L.cdist(a, b, p=float("inf")), R(4, 3), R(5, 3)),
    ("cdist_p_half", lambda L, a, b: L.cdist(a, b, p=0.5), R(4, 3), R(5, 3)),
    ("cdist_float64", lambda L, a, b: L.cdist(a, b), R(4, 3).astype(np.float64), R(5, 3).astype(np.float64)),
    ("cdist_empty", lambda L, a, b: L.cdist(a, b), R(0, 3), R(4, 3)),
    ("cdist_no_columns", lambda L, a, b: L.cdist(a, b), R(2, 0), R(4, 0)),
    ("cdist_pinf_no_columns", lambda L, a, b: L.cdist(a, b, p=float("inf")), R(2, 0), R(4, 0)),
    ("pdist_pinf_no_columns", lambda L, a: L.pdist(a, p=float("inf")), R(3, 0)),
    ("pdist", lambda L, a: L.pdist(a), R(5, 3)),
    ("pdist_twins", lambda L, a: L.nn.functional.pdist(a), TWINS),
    ("pdist_p1", lambda L, a: L.pdist(a, p=1), R(5, 3)),
    ("pdist_pinf", lambda L, a: L.pdist(a, p=float("inf")), R(5, 3)),
    ("pdist_one_row", lambda L, a: L.pdist(a), R(1, 3)),
    ("cosine_similarity", lambda L, a, b: L.nn.CosineSimilarity(dim=0)(a, b), R(4, 3), R(4, 3)),
    ("pairwise_distance", lambda L, a, b: L.nn.PairwiseDistance(p=1.5, keepdim=True)(a, b), R(4, 3), R(4, 3)),
    ("unfold", lambda L, x: L.nn.Unfold((2, 3), padding=1, stride=(1, 2))(x), R(2, 3, 5, 6)),
    ("fold", lambda L, x: L.nn.Fold((4, 5), 2, dilation=1, padding=0, stride=1)(x), R(2, 12, 12)),
    ("softmax2d", lambda L, x: L.nn.Softmax2d()(x), R(2, 3, 4, 5)),
    ("softmax2d_3d", lambda L, x: L.nn.Softmax2d()(x), R(3, 4, 5)),
    ("rrelu_eval", lambda L, x: L.nn.functional.rrelu(x), R(3, 4)),
    ("rrelu_module_eval", lambda L, x: L.nn.RReLU(0.1, 0.4).eval()(x), R(3, 4)),
    ("channel_shuffle", lambda L, x: L.nn.functional.channel_shuffle(x, 3), R(2, 6, 4, 5)),
    ("channel_shuffle_module", lambda L, x: L.nn.ChannelShuffle(2)(x), R(2, 4, 3)),
    ("adaptive_max_pool1d", lambda L, x: L.nn.functional.adaptive_max_pool1d(x, 3), R(2, 4, 7)),
    ("adaptive_max_pool1d_indices", lambda L, x: L.nn.AdaptiveMaxPool1d(5, return_indices=True)(x), R(4, 7)),
    ("adaptive_max_pool1d_grow", lambda L, x: L.nn.functional.adaptive_max_pool1d(x, 9), R(2, 3, 4)),
    (
        "adaptive_max_pool1d_ties",
        lambda L, x: L.nn.functional.adaptive_max_pool1d(x, 2),
        np.ones((1, 2, 5), np.float32),
    ),
    ("local_response_norm", lambda L, x: L.nn.functional.local_response_norm(x, 3), R(2, 5, 4, 3)),
    ("local_response_norm_3d", lambda L, x: L.nn.LocalResponseNorm(4, 0.01, 0.5, 2.0)(x), R(2, 5, 4)),
    ("local_response_norm_5d", lambda L, x: L.nn.LocalResponseNorm(2)(x), R(2, 3, 2, 2, 2)),
]


@pytest.mark.parametrize("fn,inputs", [pytest.param(f, a, id=n) for n, f, *a in CASES])
def test_matches_torch(compare, fn, inputs):
    compare(fn, *inputs, atol=1e-4)


def test_module_reprs_match_torch():
    torch = pytest.importorskip("torch")
    for make in (
        lambda L: L.nn.CosineSimilarity(),
        lambda L: L.nn.PairwiseDistance(),
        lambda L: L.nn.Fold(4, 2),
        lambda L: L.nn.Unfold((2, 3), stride=2),
        lambda L: L.nn.Softmax2d(),
        lambda L: L.nn.RReLU(),
        lambda L: L.nn.RReLU(0.1, 0.3, True),
        lambda L: L.nn.ChannelShuffle(2),
        lambda L: L.nn.AdaptiveMaxPool1d(3),
        lambda L: L.nn.LocalResponseNorm(2),
    ):
        assert repr(make(irgrad)) == repr(make(torch))


@pytest.mark.parametrize(
    "call",
    [
        lambda L: L.cdist(L.ones(3), L.ones(3)),
        lambda L: L.cdist(L.ones(2, 3), L.ones(2, 4)),
        lambda L: L.cdist(L.ones(2, 3), L.ones(2, 3), p=-1),
        lambda L: L.cdist(L.ones(2, 3, dtype=L.int64), L.ones(2, 3, dtype=L.int64)),
        lambda L: L.cdist(L.ones(2, 3), L.ones(4, 3, dtype=L.float64)),
        lambda L: L.pdist(L.ones(2, 3, 4)),
        lambda L: L.pdist(L.ones(3, 4), p=-1),
        lambda L: L.pdist(L.ones(3, 4, dtype=L.int64)),
        lambda L: L.nn.functional.channel_shuffle(L.ones(2, 5, 3), 2),
        lambda L: L.nn.functional.channel_shuffle(L.ones(2, 4), 2),
        lambda L: L.nn.functional.channel_shuffle(L.ones(2, 4, 3), 0),
        lambda L: L.nn.functional.local_response_norm(L.ones(2, 4), 2),
        lambda L: L.nn.Softmax2d()(L.ones(2, 4)),
        lambda L: L.nn.functional.adaptive_max_pool1d(L.ones(4), 3),
        lambda L: L.nn.functional.adaptive_max_pool1d(L.ones(2, 4, 0), 3),
        lambda L: L.nn.functional.adaptive_max_pool1d(L.ones(2, 4, 5, dtype=L.int64), 2),
        lambda L: L.nn.functional.rrelu(L.ones(2, 4, dtype=L.int64)),
    ],
)
def test_errors_match_torch(call):
    raises_like_torch(call)


def test_local_response_norm_of_an_empty_input_is_the_input():
    x = irgrad.ones(0, 4, 3)
    assert F.local_response_norm(x, 2) is x


def test_rrelu_in_training_draws_slopes_in_its_range():
    irgrad.manual_seed(0)
    x = -irgrad.rand(200, 300) - 0.5
    x.requires_grad_(True)
    y = F.rrelu(x, 0.1, 0.3, training=True)
    slopes = (y / x).detach().numpy()
    assert slopes.min() >= 0.1 and slopes.max() <= 0.3
    assert abs(slopes.mean() - 0.2) < 0.002 and abs(slopes.std() - 0.2 / np.sqrt(12)) < 0.002
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), slopes, rtol=1e-6)  # the gradient is the slope drawn
    positive = irgrad.rand(5) + 0.1
    assert irgrad.equal(F.rrelu(positive, training=True), positive)
    module = nn.RReLU()
    module.train()
    assert not irgrad.equal(module(-irgrad.ones(1000)), module(-irgrad.ones(1000)))


def test_rrelu_in_place_writes_into_its_input():
    x = irgrad.tensor([-1.0, 2.0])
    out = F.rrelu(x, 0.5, 0.5, training=True, inplace=True)
    assert out is x and x.tolist() == [-0.5, 2.0]
    assert F.rrelu_(irgrad.tensor([-4.0]), 0.25, 0.75).tolist() == [-2.0]


def test_rrelu_draws_repeat_with_the_seed():
    irgrad.manual_seed(3)
    first = F.rrelu(-irgrad.ones(10), training=True)
    irgrad.manual_seed(3)
    assert irgrad.equal(first, F.rrelu(-irgrad.ones(10), training=True))


def test_gumbel_softmax_samples_the_categorical_distribution():
    irgrad.manual_seed(1)
    probabilities = np.array([0.1, 0.2, 0.7])
    logits = irgrad.tensor(np.log(probabilities), dtype=irgrad.float32).expand(40000, 3)
    hard = F.gumbel_softmax(logits, tau=0.5, hard=True)
    assert set(np.unique(hard.numpy())) == {0.0, 1.0} and bool((hard.sum(-1) == 1).all())
    np.testing.assert_allclose(hard.mean(0).numpy(), probabilities, atol=0.01)
    soft = F.gumbel_softmax(logits[:5], tau=2.0, dim=-1)
    np.testing.assert_allclose(soft.sum(-1).numpy(), np.ones(5), rtol=1e-6)
    assert float(soft.min()) > 0


def test_gumbel_softmax_hard_passes_the_soft_gradient():
    irgrad.manual_seed(2)
    logits = irgrad.randn(4, 5, requires_grad=True)
    weights = irgrad.randn(4, 5)
    irgrad.manual_seed(7)
    (F.gumbel_softmax(logits, hard=True, dim=1) * weights).sum().backward()
    hard_grad = logits.grad.clone()
    logits.grad = None
    irgrad.manual_seed(7)
    (F.gumbel_softmax(logits, hard=False, dim=1) * weights).sum().backward()
    np.testing.assert_allclose(hard_grad.numpy(), logits.grad.numpy(), rtol=1e-6)


def test_gradients_match_finite_differences():
    a = irgrad.tensor(R(4, 3).astype(np.float64), requires_grad=True)
    b = irgrad.tensor(R(30, 3).astype(np.float64), requires_grad=True)
    assert irgrad.autograd.gradcheck(lambda x, y: irgrad.cdist(x, y), (a, b))
    assert irgrad.autograd.gradcheck(lambda x, y: irgrad.cdist(x, y, p=3), (a, b[:5]))
    assert irgrad.autograd.gradcheck(lambda x: F.pdist(x), (a,))
    x = irgrad.tensor(R(2, 6, 3).astype(np.float64), requires_grad=True)
    assert irgrad.autograd.gradcheck(lambda t: F.local_response_norm(t, 3, alpha=0.1), (x,))
    assert irgrad.autograd.gradcheck(
        lambda t: F.adaptive_max_pool1d(t, 2) * F.channel_shuffle(t, 2)[..., :2], (x,)
    )


def test_compiled_nn_additions_match_eager(backend):
    def fn(x, y):
        return (
            irgrad.cdist(x[0], y) + F.pdist(y).sum(),
            F.local_response_norm(x, 2),
            F.channel_shuffle(x, 2),
            F.adaptive_max_pool1d(x, 2),
            nn.Softmax2d()(x.unsqueeze(-1)),
            F.rrelu(x),
        )

    compiled = irgrad.compile(fn, backend=backend)
    for seed in range(3):
        rng = np.random.default_rng(seed)
        x = irgrad.tensor(rng.standard_normal((2, 4, 3)).astype(np.float32))
        y = irgrad.tensor(rng.standard_normal((5, 3)).astype(np.float32))
        for got, want in zip(compiled(x, y), fn(x, y)):
            np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-5, atol=1e-6)
    assert compiled.explain().graph_break_count == 0


def test_adaptive_max_pool1d_picks_the_last_nan_as_torch():
    """PyTorch's scan replaces its pick at every NaN (the last NaN wins) and keeps the
    first of equal maxima; the indices and the gradient follow the pick."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    for _ in range(50):
        x = rng.integers(0, 3, (2, 3, 9)).astype(np.float64)
        x[rng.random(x.shape) < 0.2] = np.nan
        n = int(rng.integers(1, 6))
        results = []
        for lib in (irgrad, torch):
            t = lib.tensor(x, requires_grad=True)
            values, indices = lib.nn.functional.adaptive_max_pool1d(t, n, return_indices=True)
            values.sum().backward()
            results.append((indices.numpy(), t.grad.numpy()))
        np.testing.assert_array_equal(results[0][0], results[1][0])
        np.testing.assert_array_equal(results[0][1], results[1][1])
