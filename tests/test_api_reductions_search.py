"""aminmax, logcumsumexp, trapezoid/trapz, cov, corrcoef, searchsorted, bucketize,
is_complex, is_nonzero, can_cast and the window functions against PyTorch 2.13:
values, dtypes, gradients, errors; float64 finite differences; compiled against eager."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from torch_parity import raises_like_torch

import irgrad

_rng = np.random.default_rng(33)


def R(*shape):
    return _rng.standard_normal(shape).astype(np.float32)


def DISTINCT(*shape):
    return (_rng.permutation(int(np.prod(shape))).reshape(shape).astype(np.float32) - 5) / 3


WITH_SPECIALS = np.array([[1.0, -np.inf, 2.0, np.inf, 0.5], [np.nan, 1.0, -3.0, 100.0, -100.0]], np.float32)

CASES = [
    ("aminmax", lambda L, x: L.aminmax(x), DISTINCT(3, 4)),
    ("aminmax_dim", lambda L, x: L.aminmax(x, dim=1), DISTINCT(3, 4)),
    ("aminmax_keepdim", lambda L, x: x.aminmax(dim=-1, keepdim=True), DISTINCT(2, 3, 4)),
    ("aminmax_all_keepdim", lambda L, x: L.aminmax(x, keepdim=True), DISTINCT(2, 3)),
    ("aminmax_0d", lambda L, x: L.aminmax(x, dim=0), np.array(2.5, np.float32)),
    (
        "aminmax_ties",
        lambda L, x: L.aminmax(x, dim=0),
        np.array([[1.0, 2.0], [1.0, 0.0], [3.0, 2.0]], np.float32),
    ),
    ("aminmax_int", lambda L, x: L.aminmax(x, dim=0), np.arange(12).reshape(3, 4) % 5),
    ("aminmax_bool", lambda L, x: L.aminmax(x), np.array([True, False])),
    ("aminmax_empty_row", lambda L, x: L.aminmax(x, dim=1), np.zeros((0, 3), np.float32)),
    ("logcumsumexp", lambda L, x: L.logcumsumexp(x, 1), R(3, 9)),
    ("logcumsumexp_dim0", lambda L, x: x.logcumsumexp(0), R(5, 2, 3)),
    ("logcumsumexp_large", lambda L, x: L.logcumsumexp(x * 400, -1), R(2, 17)),
    ("logcumsumexp_0d", lambda L, x: L.logcumsumexp(x, 0), np.array(1.5, np.float32)),
    ("logcumsumexp_one", lambda L, x: L.logcumsumexp(x, 1), R(4, 1)),
    ("logcumsumexp_empty", lambda L, x: L.logcumsumexp(x, 0), np.zeros((0, 2), np.float32)),
    ("trapezoid", lambda L, y: L.trapezoid(y), R(3, 5)),
    ("trapezoid_dx", lambda L, y: L.trapezoid(y, dx=0.5, dim=0), R(3, 5)),
    ("trapezoid_x", lambda L, y, x: L.trapezoid(y, x), R(3, 5), R(5)),
    ("trapezoid_x_nd", lambda L, y, x: L.trapezoid(y, x, dim=0), R(3, 5), R(3, 5)),
    ("trapezoid_x_lower_rank", lambda L, y, x: L.trapezoid(y, x), R(2, 3, 5), R(3, 5)),
    ("trapezoid_int", lambda L, y: L.trapezoid(y), np.array([1, 2, 4])),
    ("trapezoid_int_x", lambda L, y, x: L.trapezoid(y, x), np.array([1, 2, 4]), np.array([0, 1, 3])),
    ("trapezoid_empty", lambda L, y: L.trapezoid(y), np.zeros((2, 0), np.float32)),
    ("trapz", lambda L, y, x: L.trapz(y, x), R(3, 5), R(5)),
    ("cov", lambda L, x: L.cov(x), R(3, 6)),
    ("cov_1d", lambda L, x: x.cov(correction=0), R(7)),
    ("cov_int", lambda L, x: L.cov(x), np.array([[1, 2, 4], [0, 1, 1]])),
    (
        "cov_weights",
        lambda L, x: L.cov(x, fweights=L.tensor([1, 2, 1, 3]), aweights=L.tensor([0.5, 1.0, 1.0, 0.25])),
        R(2, 4),
    ),
    ("cov_fweights", lambda L, x: L.cov(x, correction=2, fweights=L.tensor([1, 2, 1, 3])), R(2, 4)),
    ("corrcoef", lambda L, x: L.corrcoef(x), R(3, 6)),
    ("corrcoef_1d", lambda L, x: x.corrcoef(), R(6)),
    ("corrcoef_int", lambda L, x: L.corrcoef(x), np.array([[1, 2, 4], [0, 1, 1]])),
    (
        "nansum",
        lambda L, x: L.nansum(x),
        np.array([[1.0, np.nan, 3.0], [np.nan, np.nan, np.nan], [2.0, -1.0, 0.5]], np.float32),
    ),
    (
        "nansum_dim",
        lambda L, x: x.nansum(1, keepdim=True),
        np.array([[1.0, np.nan, 3.0], [np.nan, np.nan, np.nan], [2.0, -1.0, 0.5]], np.float32),
    ),
    ("nansum_int", lambda L, x: L.nansum(x, dtype=L.float32), np.arange(6)),
    ("nansum_bool", lambda L, x: L.nansum(x), np.array([True, True, False])),
    (
        "nanmean",
        lambda L, x: L.nanmean(x),
        np.array([[1.0, np.nan, 3.0], [np.nan, np.nan, np.nan], [2.0, -1.0, 0.5]], np.float32),
    ),
    (
        "nanmean_dim",
        lambda L, x: x.nanmean(dim=(0, 1)),
        np.array([[1.0, np.nan, 3.0], [np.nan, np.nan, np.nan], [2.0, -1.0, 0.5]], np.float32)[None],
    ),
    (
        "nanmean_rows",
        lambda L, x: L.nanmean(x, 1),
        np.array([[1.0, np.nan, 3.0], [2.0, -1.0, 0.5]], np.float32),
    ),
    ("cumulative_trapezoid", lambda L, y: L.cumulative_trapezoid(y), R(3, 5)),
    ("cumulative_trapezoid_dx", lambda L, y: L.cumulative_trapezoid(y, dx=0.5, dim=0), R(3, 5)),
    ("cumulative_trapezoid_x", lambda L, y, x: L.cumulative_trapezoid(y, x), R(3, 5), R(5)),
    ("cumulative_trapezoid_x_nd", lambda L, y, x: L.cumulative_trapezoid(y, x, dim=0), R(3, 5), R(3, 5)),
    ("cumulative_trapezoid_int", lambda L, y: L.cumulative_trapezoid(y), np.array([1, 2, 4])),
    ("cumulative_trapezoid_one", lambda L, y: L.cumulative_trapezoid(y), R(2, 1)),
    ("cumulative_trapezoid_empty", lambda L, y: L.cumulative_trapezoid(y), np.zeros((2, 0), np.float32)),
    ("renorm", lambda L, x: L.renorm(x, 2, 0, 1.5), R(4, 3)),
    ("renorm_p1_dim1", lambda L, x: x.renorm(1, 1, 2.0), R(4, 3, 2)),
    ("renorm_large", lambda L, x: L.renorm(x, 3, -1, 100.0), R(4, 3)),
]


@pytest.mark.parametrize("fn,inputs", [pytest.param(f, a, id=n) for n, f, *a in CASES])
def test_composite_reductions_match_torch(compare, fn, inputs):
    compare(fn, *inputs, atol=1e-4)


def test_logcumsumexp_special_values_match_torch(compare):
    compare(lambda L, x: L.logcumsumexp(x, 1), WITH_SPECIALS, grad=False)
    compare(lambda L, x: L.logcumsumexp(x, 1), WITH_SPECIALS.astype(np.float64), grad=False)


def test_nanmean_of_only_nan_is_nan_as_torch(compare):
    # (PyTorch's gradient there is NaN, irgrad's 0: docs/pytorch-differences.md)
    compare(lambda L, x: L.nanmean(x, 1), np.array([[np.nan, np.nan], [1.0, np.nan]], np.float32), grad=False)


def test_cov_with_no_degrees_of_freedom_warns_and_gives_nan(compare):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        compare(lambda L, x: L.cov(x), np.ones((2, 1), np.float32), grad=False)
    assert any("degrees of freedom" in str(w.message) for w in caught)


@pytest.mark.parametrize(
    "call",
    [
        lambda L: L.aminmax(L.ones(0, 3)),
        lambda L: L.aminmax(L.ones(0, 3), dim=0),
        lambda L: L.aminmax(L.ones(2, 3), dim=2),
        lambda L: L.logcumsumexp(L.tensor([1, 2]), 0),
        lambda L: L.trapezoid(L.ones(2, 3), L.ones(2)),
        lambda L: L.trapezoid(L.tensor([True, False])),
        lambda L: L.cumulative_trapezoid(L.ones(2, 3), L.ones(2)),
        lambda L: L.cov(L.ones(2, 3, 2)),
        lambda L: L.cov(L.tensor([True, False])),
        lambda L: L.cov(L.ones(2, 3), fweights=L.tensor([1.0, 2.0, 3.0])),
        lambda L: L.cov(L.ones(2, 3), fweights=L.tensor([1, 2])),
        lambda L: L.cov(L.ones(2, 3), aweights=L.tensor([1, 2, 3])),
        lambda L: L.cov(L.ones(2, 3), aweights=L.tensor([1.0, -2.0, 3.0])),
        lambda L: L.cov(L.ones(2, 3), fweights=L.tensor([0, 0, 0])),
        lambda L: L.corrcoef(L.ones(2, 3, 2)),
        lambda L: L.searchsorted(L.tensor([[1, 3, 5]]), L.tensor([3, 6])),
        lambda L: L.searchsorted(L.tensor([1, 3, 5]), L.tensor([3]), side="left", right=True),
        lambda L: L.searchsorted(L.tensor([1, 3, 5]), L.tensor([3]), side="middle"),
        lambda L: L.searchsorted(L.tensor([1, 3, 5]), L.tensor([3]), sorter=L.tensor([0, 1])),
        lambda L: L.bucketize(L.tensor([3, 6]), L.tensor([[1, 3, 5]])),
        lambda L: L.is_nonzero(L.tensor([])),
        lambda L: L.nanmean(L.tensor([1, 2])),
        lambda L: L.renorm(L.ones(3), 2, 0, 1.0),
        lambda L: L.renorm(L.ones(3, 2), -1, 0, 1.0),
        lambda L: L.is_nonzero(L.tensor([1, 2])),
        lambda L: L.hann_window(4, dtype=L.int64),
        lambda L: L.kaiser_window(-1),
        lambda L: L.blackman_window(-1),
    ],
)
def test_errors_match_torch(call):
    raises_like_torch(call)


SORTED = np.array([-2.0, 0.0, 0.0, 1.5, 3.0, np.nan], np.float32)
QUERIES = np.array([[-3.0, 0.0, 1.0], [3.0, 9.0, np.nan]], np.float32)


@pytest.mark.parametrize("right", [False, True])
@pytest.mark.parametrize("out_int32", [False, True])
def test_searchsorted_and_bucketize_match_torch(compare, right, out_int32):
    kw = {"right": right, "out_int32": out_int32}
    compare(lambda L, s, q: L.searchsorted(s, q, **kw), SORTED, QUERIES, grad=False)
    compare(
        lambda L, s, q: L.searchsorted(s, q, side="right" if right else "left"), SORTED, QUERIES, grad=False
    )
    compare(lambda L, q, s: L.bucketize(q, s, **kw), QUERIES, SORTED, grad=False)
    compare(lambda L, s: L.searchsorted(s, 0.0, **kw), SORTED, grad=False)
    compare(lambda L, s: L.bucketize(1, s, **kw), SORTED, grad=False)
    rows = np.sort(_rng.integers(-5, 5, (2, 3, 7)), axis=-1)
    compare(lambda L, s, q: L.searchsorted(s, q, **kw), rows, _rng.integers(-6, 6, (2, 3, 4)), grad=False)
    compare(
        lambda L, s, q: L.searchsorted(s, q, **kw), rows[0, 0], _rng.integers(-6, 6, (2, 3, 4)), grad=False
    )
    compare(lambda L, s, q: L.searchsorted(s, q, **kw), rows[0, 0].astype(np.float32), rows[0], grad=False)


def test_searchsorted_with_a_sorter_matches_torch(compare):
    values = _rng.permutation(9).astype(np.float32)
    compare(
        lambda L, s, q: L.searchsorted(s, q, sorter=L.argsort(s)),
        values,
        np.array([2.5, 0.0, 8.0], np.float32),
        grad=False,
    )


def test_predicates_match_torch():
    torch = pytest.importorskip("torch")
    for lib in (irgrad, torch):
        assert lib.is_complex(lib.ones(2)) is False
        assert lib.is_nonzero(lib.tensor([0.0])) is False and lib.is_nonzero(lib.tensor([[3]])) is True
        assert lib.ones(1).is_nonzero() and not lib.zeros(1).is_complex()
    names = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64"]
    special = irgrad.tensor([1.0, -np.inf, np.inf, np.nan])
    assert irgrad.isposinf(special).tolist() == [False, False, True, False]
    assert special.isneginf().tolist() == [False, True, False, False]
    assert irgrad.isreal(special).tolist() == [True] * 4 and not irgrad.isposinf(irgrad.arange(3)).any()
    for a in names:
        for b in names:
            assert irgrad.can_cast(getattr(irgrad, a), getattr(irgrad, b)) == torch.can_cast(
                getattr(torch, a), getattr(torch, b)
            ), (a, b)


@pytest.mark.parametrize("name", ["hann", "hamming", "bartlett", "blackman"])
@pytest.mark.parametrize("length", [0, 1, 2, 5, 8, 33])
@pytest.mark.parametrize("periodic", [True, False])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_windows_match_torch(name, length, periodic, dtype):
    torch = pytest.importorskip("torch")
    mine = getattr(irgrad, f"{name}_window")(length, periodic, dtype=getattr(irgrad, dtype))
    theirs = getattr(torch, f"{name}_window")(length, periodic, dtype=getattr(torch, dtype))
    assert str(mine.dtype).split(".")[-1] == dtype and tuple(mine.shape) == tuple(theirs.shape)
    np.testing.assert_allclose(
        mine.numpy(), theirs.numpy(), rtol=0, atol=2e-7 if dtype == "float32" else 1e-15
    )


@pytest.mark.parametrize("beta", [12.0, 3.0, 0.0])
@pytest.mark.parametrize("length", [0, 1, 2, 5, 33])
@pytest.mark.parametrize("periodic", [True, False])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_kaiser_window_matches_torch(beta, length, periodic, dtype):
    torch = pytest.importorskip("torch")
    mine = irgrad.kaiser_window(length, periodic, beta, dtype=getattr(irgrad, dtype))
    theirs = torch.kaiser_window(length, periodic, beta, dtype=getattr(torch, dtype))
    assert str(mine.dtype).split(".")[-1] == dtype and tuple(mine.shape) == tuple(theirs.shape)
    np.testing.assert_allclose(mine.numpy(), theirs.numpy(), rtol=1e-6 if dtype == "float32" else 1e-13)


def test_hamming_window_coefficients_and_requires_grad_match_torch():
    torch = pytest.importorskip("torch")
    mine = irgrad.hamming_window(7, False, 0.5, 0.3, requires_grad=True)
    theirs = torch.hamming_window(7, False, 0.5, 0.3, requires_grad=True)
    np.testing.assert_allclose(mine.detach().numpy(), theirs.detach().numpy(), atol=1e-7)
    assert mine.requires_grad and mine.is_leaf


def test_gradients_match_finite_differences():
    x = irgrad.tensor(R(3, 6).astype(np.float64), requires_grad=True)
    y = irgrad.tensor(R(6).astype(np.float64), requires_grad=True)
    assert irgrad.autograd.gradcheck(lambda t: irgrad.logcumsumexp(t, 1), (x,))
    assert irgrad.autograd.gradcheck(lambda t, s: irgrad.trapezoid(t, s), (x, y))
    assert irgrad.autograd.gradcheck(lambda t: irgrad.cov(t) + irgrad.corrcoef(t), (x,))
    assert irgrad.autograd.gradcheck(lambda t: irgrad.aminmax(t, dim=0).max * 2 + irgrad.aminmax(t).min, (x,))


def test_compiled_reductions_match_eager(backend):
    boundaries = irgrad.tensor([-1.0, 0.0, 0.5, 2.0])

    def fn(x):
        low, high = irgrad.aminmax(x, dim=1)
        return (
            low * high,
            irgrad.logcumsumexp(x, 1),
            irgrad.trapezoid(x, dx=0.3),
            irgrad.cov(x),
            irgrad.corrcoef(x),
            irgrad.bucketize(x, boundaries, right=True),
        )

    compiled = irgrad.compile(fn, backend=backend)
    for seed in range(3):
        x = irgrad.tensor(np.random.default_rng(seed).standard_normal((3, 7)).astype(np.float32))
        for got, want in zip(compiled(x), fn(x)):
            np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-5, atol=1e-6)
    assert compiled.explain().graph_break_count == 0
