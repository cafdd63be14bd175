"""F.adaptive_max_pool3d / nn.AdaptiveMaxPool3d (and adaptive_max_pool2d's indices, which it
computes) and F.fractional_max_pool2d /
nn.FractionalMaxPool2d against PyTorch 2.13: values, indices, float64 gradients by
torch.autograd (fractional pooling with the same ``_random_samples``, so the windows
are PyTorch's), NaN and tie picks, errors; finite differences and compiled-vs-eager
checks without torch."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import irgrad
import irgrad.nn.functional as F
from irgrad.autograd import gradcheck
from irgrad.testing.differential import check_compiled

_rng = np.random.default_rng(11)


def R(*shape, dtype=np.float64) -> np.ndarray:
    return _rng.standard_normal(shape).astype(dtype)


def _compare(fn, x: np.ndarray, *extra) -> None:
    """``fn(lib, x, *extra)`` (values, or values and indices) equals torch's, and so does
    the gradient of a random weighting of the values (float64 inputs)."""
    torch = pytest.importorskip("torch")
    grad = x.dtype == np.float64
    theirs_x, ours_x = torch.tensor(x, requires_grad=grad), irgrad.tensor(x, requires_grad=grad)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = fn(torch, theirs_x, *[torch.tensor(e) for e in extra])
        ours = fn(irgrad, ours_x, *[irgrad.tensor(e) for e in extra])
    theirs = theirs if isinstance(theirs, tuple) else (theirs,)
    ours = ours if isinstance(ours, tuple) else (ours,)
    for o, t in zip(ours, theirs):
        assert tuple(o.shape) == tuple(t.shape)
        assert str(o.dtype).split(".")[-1] == str(t.dtype).split(".")[-1]
        np.testing.assert_array_equal(o.detach().numpy(), t.detach().numpy())
    if grad:
        weights = R(*theirs[0].shape)
        (want,) = torch.autograd.grad(theirs[0], theirs_x, torch.tensor(weights))
        (got,) = irgrad.autograd.grad(ours[0], ours_x, irgrad.tensor(weights))
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12, atol=0)


def _with_ties_and_nans(x: np.ndarray) -> np.ndarray:
    x = np.round(x)  # many ties
    flat = x.reshape(-1)
    flat[_rng.choice(flat.size, max(1, flat.size // 15), replace=False)] = np.nan
    return x


ADAPTIVE = [
    ("cube", (2, 3, 5, 6, 7), 3, False),
    ("sizes_and_none", (2, 2, 5, 6, 7), (3, None, 2), True),
    ("grow", (1, 2, 2, 3, 2), (3, 4, 5), True),
    ("unbatched", (3, 4, 5, 6), (2, 5, 1), True),
    ("size1", (1, 1, 1, 4, 1), 1, True),
    ("empty_output", (2, 1, 3, 3, 3), (0, 2, 2), True),
]


@pytest.mark.parametrize("name, shape, size, indices", ADAPTIVE, ids=[c[0] for c in ADAPTIVE])
def test_adaptive_max_pool3d_matches_torch(name, shape, size, indices):
    # PyTorch's backward refuses an empty output (irgrad's gives zeros): values alone there
    x = R(*shape, dtype=np.float32 if name == "empty_output" else np.float64)
    _compare(lambda L, x: L.nn.functional.adaptive_max_pool3d(x, size, indices), x)
    _compare(
        lambda L, x: L.nn.AdaptiveMaxPool3d(size, return_indices=indices)(x), R(*shape, dtype=np.float32)
    )


def test_adaptive_max_pool3d_noncontiguous_ties_and_nans_match_torch():
    x = _with_ties_and_nans(R(2, 3, 6, 5, 4))
    _compare(lambda L, x: L.nn.functional.adaptive_max_pool3d(x.transpose(2, 4), (3, 2, 4), True), x)
    _compare(lambda L, x: L.nn.functional.adaptive_max_pool3d(x[:, ::2], (4, 3, 3), True), x)


ADAPTIVE_2D = [
    ("grid", (2, 3, 7, 9), (3, 4)),
    ("unbatched", (3, 5, 5), 2),
    ("grow", (1, 2, 3, 2), (6, 6)),
    ("none", (2, 1, 5, 7), (None, 3)),
    ("one", (1, 1, 4, 4), 1),
]


@pytest.mark.parametrize("name, shape, size", ADAPTIVE_2D, ids=[c[0] for c in ADAPTIVE_2D])
def test_adaptive_max_pool2d_returns_pytorchs_indices(name, shape, size):
    # irgrad raised NotImplementedError for return_indices=True
    _compare(lambda L, x: L.nn.functional.adaptive_max_pool2d(x, size, return_indices=True), R(*shape))
    _compare(
        lambda L, x: L.nn.AdaptiveMaxPool2d(size, return_indices=True)(x.transpose(-1, -2)),
        _with_ties_and_nans(R(*shape)),
    )


@pytest.mark.parametrize(
    "call",
    [
        lambda L: L.nn.functional.adaptive_max_pool3d(L.ones(2, 3, 4, 4, 4), (3, 2)),
        lambda L: L.nn.functional.adaptive_max_pool3d(L.ones(5, 6, 7), 3),
        lambda L: L.nn.functional.adaptive_max_pool3d(L.ones(2, 0, 3, 3, 3), 3),
        lambda L: L.nn.functional.adaptive_max_pool3d(L.ones(2, 2, 0, 3, 3), 3),
        lambda L: L.nn.functional.adaptive_max_pool3d(L.ones(2, 2, 3, 3, 3, dtype=L.int64), 3),
        lambda L: L.nn.functional.adaptive_max_pool3d(L.ones(2, 2, 3, 3, 3), -1),
        lambda L: L.nn.functional.fractional_max_pool2d(L.ones(2, 3, 9, 8), 2, output_ratio=0.5),
        lambda L: L.nn.functional.fractional_max_pool2d(L.ones(2, 3, 9, 8), 2, output_ratio=(0.5, 0.5, 0.5)),
        lambda L: L.nn.functional.fractional_max_pool2d(L.ones(2, 3, 9, 8), 2),
        lambda L: L.nn.functional.fractional_max_pool2d(L.ones(2, 3, 9, 8), 2, output_size=8),
        lambda L: L.nn.functional.fractional_max_pool2d(L.ones(2, 3, 9, 8), 3, output_size=(8, 4)),
        lambda L: L.nn.functional.fractional_max_pool2d(L.ones(2, 3, 9, 8), (2, 3, 4), output_size=(7, 6)),
        lambda L: L.nn.functional.fractional_max_pool2d(L.ones(2, 3, 9, 8), 2, output_size=(7, 6, 1)),
        lambda L: L.nn.functional.fractional_max_pool2d(L.ones(2, 3, 9, 8, dtype=L.int64), 2, output_size=4),
        lambda L: L.nn.functional.fractional_max_pool2d(L.ones(2, 0, 4, 4), 2, output_size=(2, 2)),
        lambda L: L.nn.functional.fractional_max_pool2d(
            L.ones(2, 3, 9, 8), 2, 4, _random_samples=L.rand(1, 3, 2)
        ),
        lambda L: L.nn.functional.fractional_max_pool2d(
            L.ones(2, 3, 9, 8), 2, 4, _random_samples=L.rand(2, 3, 3)
        ),
        lambda L: L.nn.functional.fractional_max_pool2d(
            L.ones(2, 3, 9, 8), 2, 4, _random_samples=L.rand(2, 3, 2, dtype=L.float64)
        ),
        lambda L: L.nn.FractionalMaxPool2d(2, output_ratio=1.5),
        lambda L: L.nn.FractionalMaxPool2d(2),
        lambda L: L.nn.FractionalMaxPool2d(2, 3, 0.5),
    ],
)
def test_errors_match_torch(call):
    torch = pytest.importorskip("torch")
    with pytest.raises(Exception) as theirs:
        call(torch)
    with pytest.raises(type(theirs.value)) as ours:
        call(irgrad)
    assert str(ours.value) == str(theirs.value)


FRACTIONAL = [
    ("square", (2, 3, 9, 8), 2, {"output_size": 4}),
    ("rect", (2, 2, 11, 7), (3, 2), {"output_size": (5, 4)}),
    ("ratio", (1, 3, 10, 12), 2, {"output_ratio": (0.5, 0.7)}),
    ("unbatched", (3, 7, 6), (2, 3), {"output_size": (4, 2)}),
    ("one_output", (2, 2, 5, 5), 3, {"output_size": 1}),
    ("full", (1, 2, 4, 5), 1, {"output_size": (4, 5)}),
    ("size1_kernel_row", (2, 1, 1, 9), (1, 2), {"output_size": (1, 6)}),
]


@pytest.mark.parametrize("name, shape, kernel, options", FRACTIONAL, ids=[c[0] for c in FRACTIONAL])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fractional_max_pool2d_matches_torch_given_the_samples(name, shape, kernel, options, dtype):
    x = R(*shape, dtype=dtype)
    samples = _rng.random((max(1, shape[0]) if len(shape) == 4 else 1, shape[-3], 2)).astype(dtype)

    def pool(L, x, s):
        return L.nn.functional.fractional_max_pool2d(
            x, kernel, return_indices=True, _random_samples=s, **options
        )

    def module(L, x, s):
        return L.nn.FractionalMaxPool2d(kernel, _random_samples=s, **options)(x)

    _compare(pool, x, samples)
    _compare(module, x, samples)


def test_fractional_max_pool2d_noncontiguous_ties_nans_and_large_samples_match_torch():
    x = _with_ties_and_nans(R(3, 2, 12, 10))
    samples = _rng.random((4, 2, 2)) * np.array([1.0, 2.9])  # more batches than needed; a sample above 1

    def pool(L, x, s):
        return L.nn.functional.fractional_max_pool2d(
            x.mT[:, :, ::2], 3, (3, 4), return_indices=True, _random_samples=s
        )

    _compare(pool, x, samples)


def test_fractional_max_pool2d_draws_its_samples_from_irgrads_generator():
    x = irgrad.randn(2, 3, 9, 9)
    irgrad.manual_seed(5)
    first = F.fractional_max_pool2d(x, 2, output_ratio=(0.5, 0.5), return_indices=True)
    irgrad.manual_seed(5)
    samples = irgrad.rand(2, 3, 2)
    given = F.fractional_max_pool2d(x, 2, (4, 4), return_indices=True, _random_samples=samples)
    for a, b in zip(first, given):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    indices = first[1].numpy()
    rows, cols = indices // 9, indices % 9
    assert (np.diff(rows, axis=2) >= 0).all() and (np.diff(cols, axis=3) >= 0).all()  # windows advance


def test_pools_pass_gradcheck():
    x = irgrad.tensor(R(1, 2, 4, 3, 5), requires_grad=True)
    assert gradcheck(lambda x: F.adaptive_max_pool3d(x, (3, 2, 4)), (x,))
    y = irgrad.tensor(R(2, 2, 7, 6), requires_grad=True)
    samples = irgrad.tensor(_rng.random((2, 2, 2)))
    assert gradcheck(lambda y: F.fractional_max_pool2d(y, 2, (4, 3), _random_samples=samples), (y,))


def test_adaptive_max_pool3d_compiles():
    def fn(x):
        values, indices = F.adaptive_max_pool3d(x * 2, (2, 3, 2), return_indices=True)
        return values, indices

    check_compiled(fn, [[R(2, 3, 4, 5, 3, dtype=np.float32)]], backend="llvm", train=True)


@pytest.mark.filterwarnings("ignore:.*graph break. fractional_max_pool2d")
def test_fractional_max_pool2d_under_compile_equals_eager():
    """Its windows come from the samples' values: a graph break, run eagerly."""
    samples = np.random.default_rng(1).random((2, 3, 2)).astype(np.float32)

    def fn(x):
        return F.fractional_max_pool2d(x, 2, (4, 3), _random_samples=irgrad.tensor(samples)) * 3

    check_compiled(fn, [[R(2, 3, 8, 7, dtype=np.float32)]], backend="llvm", train=True)
