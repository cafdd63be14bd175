"""median, nanmedian, quantile and nanquantile against PyTorch 2.13: values, indices,
dtypes, shapes, gradients, NaN rows, errors; float64 finite differences; compiled."""

from __future__ import annotations

import numpy as np
import pytest
from torch_parity import raises_like_torch

import irgrad

_rng = np.random.default_rng(7)
DISTINCT = (_rng.permutation(60).reshape(3, 5, 4).astype(np.float32) - 30) / 7
TIES = _rng.integers(0, 4, (3, 5, 4)).astype(np.float32)
WITH_NAN = TIES.copy()
WITH_NAN[0, 1, 2] = np.nan
WITH_NAN[1, :, 3] = np.nan  # a row of NaN only along dim 1


@pytest.mark.parametrize("name", ["median", "nanmedian"])
@pytest.mark.parametrize("dim", [0, 1, 2, -1])
@pytest.mark.parametrize("keepdim", [False, True])
def test_median_along_a_dim_matches_torch(compare, name, dim, keepdim):
    compare(lambda lib, x: getattr(lib, name)(x, dim, keepdim), DISTINCT)
    compare(lambda lib, x: getattr(x, name)(dim=dim, keepdim=keepdim), DISTINCT)


@pytest.mark.parametrize("name", ["median", "nanmedian"])
@pytest.mark.parametrize("data", [TIES, WITH_NAN], ids=["ties", "nan"])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_median_values_with_ties_and_nan_match_torch(compare, name, data, dim):
    # among equal values (and among NaN) PyTorch's index is unspecified; irgrad's is the
    # stable sort's, and it points at an element holding the value
    mine, _ = compare(lambda lib, x: getattr(lib, name)(x, dim).values, data, grad=False)
    values, indices = getattr(irgrad, name)(irgrad.tensor(data), dim, keepdim=True)
    np.testing.assert_array_equal(np.take_along_axis(data, indices.numpy(), dim), values.numpy())


@pytest.mark.parametrize("name", ["median", "nanmedian"])
@pytest.mark.parametrize(
    "data",
    [
        DISTINCT,
        TIES,
        WITH_NAN,
        np.array([1.0, 2.0, 2.0, 2.0, 5.0], np.float32),  # gradient shared by the ties
        np.array([1.0, np.nan, 2.0, np.nan], np.float32),  # ... by the NaN when it is NaN
        np.array([np.nan, np.nan], np.float32),
        np.array(2.5, np.float32),
        np.array([-np.inf, 3.0, np.inf], np.float32),
    ],
)
def test_median_of_all_elements_matches_torch(compare, name, data):
    compare(lambda lib, x: getattr(lib, name)(x), data)


@pytest.mark.parametrize("name", ["median", "nanmedian"])
def test_median_of_integers_zero_d_and_empty_rows_match_torch(compare, name):
    ints = _rng.integers(-9, 9, (4, 7))
    compare(lambda lib, x: getattr(lib, name)(x), ints)
    compare(lambda lib, x: getattr(lib, name)(x, 1)[0], ints)
    compare(lambda lib, x: getattr(lib, name)(x, 0), np.array(3.0, np.float32))
    compare(lambda lib, x: getattr(lib, name)(x, 1), np.zeros((0, 3), np.float32))
    compare(lambda lib, x: getattr(lib, name)(x), np.zeros((0,), np.float32))


@pytest.mark.parametrize("name", ["median", "nanmedian"])
def test_median_errors_match_torch(name):
    raises_like_torch(lambda lib: getattr(lib, name)(lib.ones(2, 0), 1), "non-zero size")
    raises_like_torch(lambda lib: getattr(lib, name)(lib.ones(2, 3), 2))
    raises_like_torch(lambda lib: getattr(lib, name)(lib.tensor([True, False])))
    raises_like_torch(lambda lib: getattr(lib, name)(lib.tensor([True, False]), 0))


INTERPOLATIONS = ["linear", "lower", "higher", "midpoint", "nearest"]


@pytest.mark.parametrize("name", ["quantile", "nanquantile"])
@pytest.mark.parametrize("interpolation", INTERPOLATIONS)
@pytest.mark.parametrize("dim,keepdim", [(None, False), (None, True), (0, False), (1, True), (-1, False)])
def test_quantile_matches_torch(compare, name, interpolation, dim, keepdim):
    for q in (0.3, 0.5, [0.0, 0.25, 0.6, 1.0]):

        def fn(lib, x, q=q):
            levels = lib.tensor(q, dtype=x.dtype) if isinstance(q, list) else q
            return getattr(lib, name)(x, levels, dim, keepdim, interpolation=interpolation)

        compare(fn, DISTINCT)
        compare(fn, WITH_NAN, grad=False)
    # (which of equal elements takes the gradient is the sort's choice: values only)
    compare(lambda lib, x: getattr(x, name)(0.75, dim=dim, interpolation=interpolation), TIES, grad=False)


def test_quantile_of_float64_zero_d_and_a_0d_q_match_torch(compare):
    compare(lambda lib, x: lib.quantile(x, 0.4), DISTINCT.astype(np.float64))
    compare(lambda lib, x: lib.quantile(x, lib.tensor([0.2, 0.7])), np.array(3.0, np.float32))
    compare(lambda lib, x: lib.quantile(x, lib.tensor(0.5), dim=0), np.array(3.0, np.float32))
    compare(lambda lib, x: lib.quantile(x, lib.tensor([]), dim=1), DISTINCT)


@pytest.mark.parametrize(
    "call",
    [
        lambda lib: lib.quantile(lib.tensor([]), 0.5),
        lambda lib: lib.quantile(lib.ones(2, 0), 0.5, dim=0),
        lambda lib: lib.quantile(lib.tensor([1, 2]), 0.5),
        lambda lib: lib.quantile(lib.tensor([1.0, 2.0]), 1.5),
        lambda lib: lib.quantile(lib.tensor([1.0, 2.0]), float("nan")),
        lambda lib: lib.quantile(lib.tensor([1.0, 2.0]), lib.tensor([0.5], dtype=lib.float64)),
        lambda lib: lib.quantile(lib.tensor([1.0, 2.0]), lib.tensor([[0.5]])),
        lambda lib: lib.quantile(lib.tensor([1.0, 2.0]), lib.tensor([-0.1, 0.5])),
        lambda lib: lib.quantile(lib.tensor([1.0, 2.0]), 0.5, interpolation="cubic"),
        lambda lib: lib.nanquantile(lib.ones(2, 3), 0.5, dim=2),
    ],
)
def test_quantile_errors_match_torch(call):
    raises_like_torch(call)


def test_out_arguments_write_into_the_given_tensors(compare):
    def fn(lib, x):
        values, indices = lib.empty(0), lib.empty(0, dtype=lib.int64)
        result = lib.median(x, 1, out=(values, indices))
        assert result.values is values and result.indices is indices
        level = lib.empty(4)
        assert lib.nanquantile(x, 0.3, dim=-1, out=level) is level
        return values, indices, level, lib.logcumsumexp(x, 0, out=lib.empty(4, 5))

    compare(fn, DISTINCT[0].T.copy(), grad=False)


@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("keepdim", [False, True])
def test_mode_matches_torch(compare, dim, keepdim):
    ints = _rng.integers(0, 4, (5, 7, 3))
    compare(lambda lib, x: lib.mode(x, dim, keepdim), ints)
    compare(lambda lib, x: x.mode(dim=dim, keepdim=keepdim), TIES)
    compare(lambda lib, x: lib.mode(x, dim), DISTINCT)


def test_mode_of_nan_zero_d_and_out_match_torch(compare):
    rows = np.array(
        [[np.nan, np.nan, 1.0, 1.0], [np.nan, 2.0, np.nan, 1.0], [3.0, np.nan, 3.0, 3.0]], np.float32
    )
    compare(lambda lib, x: lib.mode(x, 1).values, rows, grad=False)
    compare(lambda lib, x: lib.mode(x), np.array(2.5, np.float32))

    def into(lib, x):
        values, indices = lib.empty(0), lib.empty(0, dtype=lib.int64)
        result = lib.mode(x, 0, out=(values, indices))
        assert result.values is values
        return values, indices

    compare(into, TIES[:, 0], grad=False)


def test_msort_matches_torch(compare):
    compare(lambda lib, x: lib.msort(x), DISTINCT)
    compare(lambda lib, x: x.msort(), WITH_NAN, grad=False)


def test_order_statistics_gradients_match_finite_differences():
    x = irgrad.tensor(DISTINCT.astype(np.float64), requires_grad=True)
    assert irgrad.autograd.gradcheck(lambda t: irgrad.median(t, 1).values, (x,))
    assert irgrad.autograd.gradcheck(lambda t: irgrad.nanmedian(t), (x,))
    assert irgrad.autograd.gradcheck(lambda t: irgrad.quantile(t, 0.37, dim=-1), (x,))
    assert irgrad.autograd.gradcheck(lambda t: irgrad.mode(t, 0).values, (x,))
    levels = irgrad.tensor([0.1, 0.5, 0.9], dtype=irgrad.float64)
    assert irgrad.autograd.gradcheck(lambda t: irgrad.nanquantile(t, levels, interpolation="midpoint"), (x,))


def test_compiled_order_statistics_match_eager(backend):
    def fn(x):
        values, indices = x.median(dim=1)
        return values * 2, indices, x.quantile(0.3, dim=0), irgrad.nanmedian(x), irgrad.mode(x.round(), 0)[0]

    compiled = irgrad.compile(fn, backend=backend)
    for seed in range(3):
        data = np.random.default_rng(seed).standard_normal((4, 6)).astype(np.float32)
        data[seed, seed] = np.nan
        x = irgrad.tensor(data)
        for got, want in zip(compiled(x), fn(x)):
            np.testing.assert_array_equal(got.numpy(), want.numpy())


@pytest.mark.parametrize(
    "data",
    [[-np.inf, -np.inf, 1.0], [np.inf, np.inf, -1.0, 5.0, np.inf], [-np.inf, 2.0], [np.nan, 1.0, np.nan]],
)
def test_global_median_gradient_goes_to_the_equal_elements_at_infinities(data):
    """The gradient of a median that is -inf or +inf is shared by the elements equal to it
    only (it once went 1/n to each of them, summing below 1), as PyTorch's."""
    x = irgrad.tensor(data, requires_grad=True)
    value = irgrad.median(x)
    value.backward()
    equal = (np.array(data) == value.item()) | (np.isnan(data) & np.isnan(value.item()))
    np.testing.assert_allclose(x.grad.numpy(), np.where(equal, 1.0 / equal.sum(), 0.0))
