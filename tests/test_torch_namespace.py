"""The functions PyTorch exposes at ``torch.*`` that irgrad keeps elsewhere
(irgrad/torch_namespace.py): each against torch 2.13's top-level function, and every
name present on both."""

from __future__ import annotations

import numpy as np
import pytest

import irgrad as ir
from irgrad import torch_namespace


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def test_every_name_is_torchs(torch):
    missing = [name for name in torch_namespace.__all__ if not hasattr(torch, name)]
    assert not missing, f"not torch.* names: {missing}"
    assert all(hasattr(ir, name) for name in torch_namespace.__all__)


rng = np.random.default_rng(0)
X = rng.standard_normal((2, 4, 6, 6)).astype(np.float32)
W = rng.standard_normal((3, 4, 3, 3)).astype(np.float32)

CASES = {
    "conv2d": lambda L, x: L.conv2d(x, L.tensor(W), None, 1, 1),
    "max_pool2d": lambda L, x: L.max_pool2d(x, 2, 2),
    "avg_pool1d": lambda L, x: L.avg_pool1d(x.flatten(2), 3, 2),
    "adaptive_avg_pool1d": lambda L, x: L.adaptive_avg_pool1d(x.flatten(2), 5),
    "pixel_shuffle": lambda L, x: L.pixel_shuffle(x, 2),
    "channel_shuffle": lambda L, x: L.channel_shuffle(x, 2),
    "cosine_similarity": lambda L, x: L.cosine_similarity(x, x.flip(0)),
    "pairwise_distance": lambda L, x: L.pairwise_distance(x[0, 0], x[1, 0]),
    "prelu": lambda L, x: L.prelu(x, L.tensor([0.1, 0.2, 0.3, 0.4])),
    "hardshrink": lambda L, x: L.hardshrink(x, 0.7),
    "selu": lambda L, x: L.selu(x),
    "celu": lambda L, x: L.celu(x, 0.5),
    "threshold": lambda L, x: L.threshold(x, 0.1, -2.0),
    "rms_norm": lambda L, x: L.rms_norm(x, (6,)),
    "layer_norm": lambda L, x: L.layer_norm(x, (6, 6), None, None, 1e-5, True),
    "group_norm": lambda L, x: L.group_norm(x, 2, None, None, 1e-5, True),
    "dropout_eval": lambda L, x: L.dropout(x, 0.5, False),
    "alpha_dropout_eval": lambda L, x: L.alpha_dropout(x, 0.5, False),
    "arctan2": lambda L, x: L.arctan2(x, x.flip(1)),
    "ravel": lambda L, x: L.ravel(x.transpose(1, 2)),
    "narrow_copy": lambda L, x: L.narrow_copy(x, 2, 1, 3),
    "split_with_sizes": lambda L, x: L.split_with_sizes(x, [1, 3], 1)[1],
    "sin_": lambda L, x: L.sin_(x * 1),
    "clamp_min_": lambda L, x: L.clamp_min_(x * 1, 0.2),
    "scalar_tensor": lambda L, x: x * L.scalar_tensor(2.5),
    "vmap": lambda L, x: L.vmap(lambda row: row.sum(0))(x),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_torch(name, torch):
    ours = CASES[name](ir, ir.tensor(X, requires_grad=True))
    theirs = CASES[name](torch, torch.tensor(X, requires_grad=True))
    assert tuple(ours.shape) == tuple(theirs.shape)
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("shapes", [((2, 1), (3,), 1), (), ((0, 1), (3,)), ((5, 1, 4), (1, 3, 1))])
def test_broadcast_shapes(shapes, torch):
    assert tuple(ir.broadcast_shapes(*shapes)) == tuple(torch.broadcast_shapes(*shapes))


def test_errors_match_torch(torch):
    for L in (ir, torch):
        with pytest.raises(RuntimeError, match="Attempting to broadcast a dimension of length 3 at -1"):
            L.broadcast_shapes((2,), (3,))
        with pytest.raises(RuntimeError, match="split_with_sizes expects split_sizes to sum exactly to 4"):
            L.split_with_sizes(L.zeros(4), [1, 2])


def test_in_place_functions_write_their_argument():
    x = ir.ones(3)
    assert ir.exp_(x) is x
    np.testing.assert_allclose(x.numpy(), np.e, rtol=1e-6)
