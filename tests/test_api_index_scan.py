"""index_add / index_copy / index_fill, scatter (with reduce=), scatter_reduce,
masked_scatter, cumprod / cummax / cummin and histc (issue: the missing indexing,
scatter and scan ops): values, dtypes, gradients and errors as PyTorch's, finite
differences in float64, and compiled without graph breaks."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from graph_calls import assert_graphs_answered
from torch_parity import raises_like_torch

import irgrad
from irgrad.autograd import gradcheck, gradgradcheck

RNG = np.random.default_rng(14)


def normal(*shape, dtype=np.float32) -> np.ndarray:
    return RNG.standard_normal(shape).astype(dtype)


def ints(high: int, *shape) -> np.ndarray:
    return RNG.integers(0, high, shape).astype(np.int64)


def with_zeros(*shape, dtype=np.float32) -> np.ndarray:
    """Normals with about a third of the elements exactly zero (several per row)."""
    x = normal(*shape, dtype=dtype)
    return np.where(RNG.random(shape) < 0.35, 0, x).astype(dtype)


def ties(*shape, dtype=np.float32) -> np.ndarray:
    """Small integers as floats: many equal elements."""
    return RNG.integers(-2, 3, shape).astype(dtype)


SHAPES_AND_DIMS = [
    (shape, dim) for shape in [(5,), (4, 3), (2, 3, 4)] for dim in range(-len(shape), len(shape))
]


# --- index_add / index_copy / index_fill -------------------------------------------------


@pytest.mark.parametrize("shape,dim", SHAPES_AND_DIMS)
@pytest.mark.parametrize("alpha", [1, -2.5])
def test_index_add_matches_torch(compare, shape, dim, alpha):
    index = ints(shape[dim], 2 * shape[dim])  # repeats add up
    source = list(shape)
    source[dim] = index.size
    x, s = normal(*shape), normal(*source)
    compare(lambda lib, x, i, s: lib.index_add(x, dim, i, s, alpha=alpha), x, index, s)
    compare(lambda lib, x, i, s: (x * 1).index_add_(dim, i.int(), s, alpha=alpha), x, index, s)
    as_ints = (x * 4).astype(np.int64), index, (s * 4).astype(np.int64)
    compare(lambda lib, x, i, s: x.index_add(dim, i, s, alpha=3), *as_ints, grad=False)


@pytest.mark.parametrize("shape,dim", SHAPES_AND_DIMS)
def test_index_copy_matches_torch(compare, shape, dim):
    index = RNG.permutation(shape[dim])[: max(shape[dim] - 1, 1)]
    source = list(shape)
    source[dim] = index.size
    x, s = normal(*shape), normal(*source)
    compare(lambda lib, x, i, s: lib.index_copy(x, dim, i, s), x, index, s)
    compare(lambda lib, x, i, s: (x + 0).index_copy_(dim, i, s), x, index, s)
    compare(lambda lib, x, i, s: x.index_copy(dim, i, s), x > 0, index, s > 0, grad=False)


def test_index_copy_with_repeated_indices_keeps_the_last_slice(compare):
    # the overwritten slice still gets source's gradient, as PyTorch defines it
    compare(lambda lib, x, s: x.index_copy(0, lib.tensor([1, 1, 0]), s), normal(3, 2), normal(3, 2))
    out = irgrad.zeros(3).index_copy(0, irgrad.tensor([2, 0, 2]), irgrad.tensor([1.0, 2.0, 3.0]))
    assert out.tolist() == [2.0, 0.0, 3.0]


@pytest.mark.parametrize("shape,dim", SHAPES_AND_DIMS)
def test_index_fill_matches_torch(compare, shape, dim):
    index = np.array([0, -1, 0], dtype=np.int64)  # negatives count from the end; repeats fill once
    x = normal(*shape)
    compare(lambda lib, x, i: lib.index_fill(x, dim, i, -1.5), x, index)
    # a tensor value gets the gradient of every filled element (torch's backward rejects a
    # negative index there: "index out of range in self")
    index = index % shape[dim]
    compare(lambda lib, x, i, v: x.index_fill(dim, i, v), x, index, np.array(2.0, np.float32))
    compare(lambda lib, x, i, v: x.index_fill(dim, i, v), x, index, np.array(2.0, np.float64))
    compare(lambda lib, x, i, v: (x * 2).index_fill_(dim, i, v), x, index, np.array(3.0, np.float32))
    compare(lambda lib, x, i: x.index_fill(dim, i, 2.7), (x * 3).astype(np.int64), index, grad=False)
    compare(lambda lib, x, i: x.index_fill(dim, i, 1), x > 0, index, grad=False)


def test_index_ops_of_0d_and_empty_tensors(compare):
    scalar = np.array(1.5, np.float32)
    compare(lambda lib, x, s: x.index_add(0, lib.tensor([0]), s), scalar, np.array(2.0, np.float32))
    compare(lambda lib, x, s: x.index_add(-1, lib.tensor(0), s, alpha=2), scalar, np.array(2.0, np.float32))
    flags = np.array([False, True, False]), np.array([0, 2]), np.array([True, True])
    for alpha in (0, 1, 2):
        compare(lambda lib, x, i, s, alpha=alpha: x.index_add(0, i, s, alpha=alpha), *flags, grad=False)
    compare(
        lambda lib, x, s: x.index_copy(0, lib.tensor([0, 0]), s), scalar, normal(2), grad=False
    )  # torch: no backward
    compare(lambda lib, x, s: x.index_copy(0, lib.tensor(1), s), normal(3), np.array(4.0, np.float32))
    compare(lambda lib, x: x.index_fill(0, lib.tensor(-1), 2.0), scalar)
    empty = np.zeros(0, np.int64)
    compare(lambda lib, x, i, s: x.index_add(1, i, s), normal(2, 3), empty, normal(2, 0))
    compare(lambda lib, x, i, s: x.index_copy(1, i, s), normal(2, 3), empty, normal(2, 0))
    compare(lambda lib, x, i: x.index_fill(0, i, 1.0), normal(0, 3), empty)


INDEX_ERRORS = [
    (
        "index_add-dtype",
        lambda L: L.zeros(3, 4).index_add(0, L.tensor([0, 1]), L.ones(2, 4, dtype=L.float64)),
        "same scalar type",
    ),
    (
        "index_add-float-index",
        lambda L: L.zeros(3, 4).index_add(0, L.tensor([0.0, 1.0]), L.ones(2, 4)),
        "int32/int64",
    ),
    (
        "index_add-range",
        lambda L: L.zeros(3, 4).index_add(0, L.tensor([0, 3]), L.ones(2, 4)),
        "out of bounds",
    ),
    (
        "index_add-negative",
        lambda L: L.zeros(3, 4).index_add(0, L.tensor([0, -1]), L.ones(2, 4)),
        "out of bounds",
    ),
    (
        "index_add-count",
        lambda L: L.zeros(3, 4).index_add(0, L.tensor([0, 1]), L.ones(3, 4)),
        "Number of indices",
    ),
    ("index_add-shape", lambda L: L.zeros(3, 4).index_add(0, L.tensor([0, 1]), L.ones(2, 3)), r"\[2, 3\]"),
    ("index_add-2d-index", lambda L: L.zeros(3, 4).index_add(0, L.tensor([[0, 1]]), L.ones(2, 4)), "vector"),
    ("index_add-dim", lambda L: L.zeros(3, 4).index_add(2, L.tensor([0, 1]), L.ones(2, 4)), "out of range"),
    (
        "index_add-0d-source",
        lambda L: L.zeros(3).index_add(0, L.tensor(1), L.tensor(2.0)),
        "shape must match",
    ),
    (
        "index_copy-dtype",
        lambda L: L.zeros(3, 4).index_copy(0, L.tensor([0, 1]), L.ones(2, 4, dtype=L.float64)),
        "same dtype",
    ),
    (
        "index_copy-int32",
        lambda L: L.zeros(3, 4).index_copy(0, L.tensor([0, 1], dtype=L.int32), L.ones(2, 4)),
        "long",
    ),
    (
        "index_copy-range",
        lambda L: L.zeros(3, 4).index_copy(0, L.tensor([0, 3]), L.ones(2, 4)),
        "out of bounds",
    ),
    (
        "index_copy-negative",
        lambda L: L.zeros(3, 4).index_copy(0, L.tensor([-1, 0]), L.ones(2, 4)),
        "out of bounds",
    ),
    (
        "index_copy-count",
        lambda L: L.zeros(3, 4).index_copy(0, L.tensor([0, 1]), L.ones(3, 4)),
        "Number of indices",
    ),
    (
        "index_copy-slices",
        lambda L: L.zeros(3, 4).index_copy(0, L.tensor([0, 1]), L.ones(2, 3)),
        "slice shape",
    ),
    ("index_copy-rank", lambda L: L.zeros(3, 2).index_copy(0, L.tensor([1]), L.ones(2)), "dimensionality"),
    (
        "index_copy-2d-index",
        lambda L: L.zeros(3, 4).index_copy(0, L.tensor([[0, 1]]), L.ones(2, 4)),
        "dimension 1 or 0",
    ),
    ("index_fill-int32", lambda L: L.zeros(3, 4).index_fill(0, L.tensor([0], dtype=L.int32), 2), "int64"),
    ("index_fill-range", lambda L: L.zeros(3, 4).index_fill(0, L.tensor([0, 3]), 2), "out of bounds"),
    ("index_fill-below", lambda L: L.zeros(3, 4).index_fill(0, L.tensor([-4]), 2), "out of bounds"),
    ("index_fill-2d-index", lambda L: L.zeros(3, 4).index_fill(1, L.tensor([[0, 1]]), 2), "vector/scalar"),
    (
        "index_fill-1d-value",
        lambda L: L.zeros(3, 4).index_fill(1, L.tensor([0]), L.tensor([2.0])),
        "0-dimensional",
    ),
]


@pytest.mark.parametrize("name,fn,match", INDEX_ERRORS, ids=[c[0] for c in INDEX_ERRORS])
def test_index_ops_raise_as_torch(name, fn, match):
    raises_like_torch(fn, match)


def test_index_ops_gradients_by_finite_differences():
    def leaf(a):
        return irgrad.tensor(a.astype(np.float64), requires_grad=True)

    index = irgrad.tensor([2, 0, 2])
    assert gradcheck(
        lambda x, s: x.index_add(1, index, s, alpha=0.5), (leaf(normal(2, 3)), leaf(normal(2, 3)))
    )
    assert gradcheck(
        lambda x, s: x.index_copy(0, irgrad.tensor([3, 0]), s), (leaf(normal(4, 2)), leaf(normal(2, 2)))
    )
    assert gradcheck(lambda x, v: x.index_fill(-1, index, v), (leaf(normal(2, 3)), leaf(np.array(0.3))))


# --- scatter, scatter_reduce -------------------------------------------------------------


def scatter_case(shape, dim, src_larger: bool = False):
    """An index no larger than ``shape`` apart from ``dim`` (with repeats along it), and a src
    of the index's shape (or larger)."""
    index_shape = tuple(max(s - 1, 1) if k != dim % len(shape) else s + 1 for k, s in enumerate(shape))
    index = ints(shape[dim], *index_shape)
    src_shape = tuple(s + 1 for s in index_shape) if src_larger else index_shape
    return index, src_shape


@pytest.mark.parametrize("shape,dim", SHAPES_AND_DIMS)
def test_scatter_matches_torch(compare, shape, dim):
    index, src_shape = scatter_case(shape, dim)
    x, s = normal(*shape), normal(*src_shape)
    compare(lambda lib, x, i, s: lib.scatter(x, dim, i, s), x, index, s)
    compare(lambda lib, x, i: x.scatter(dim, i, -0.5), x, index)
    compare(lambda lib, x, i: x.scatter(dim, i, value=2), x, index)
    compare(lambda lib, x, i, s: (x * 1).scatter_(dim, i.int(), s), x, index, s)
    compare(lambda lib, x, i, s: lib.scatter_add(x, dim, i, s), x, index, s)
    compare(lambda lib, x, i, s: (x * 1).scatter_add_(dim, i, s), x, index, s)
    compare(lambda lib, x, i: x.scatter(dim, i, 2.5), (x * 3).astype(np.int64), index, grad=False)
    # a src larger than the index: its leading corner is read (torch's backward rejects it)
    larger = normal(*(n + 1 for n in src_shape))
    compare(lambda lib, x, i, s: x.scatter(dim, i, s), x, index, larger, grad=False)
    compare(lambda lib, x, i, s: x.scatter_add(dim, i, s), x, index, larger, grad=False)


def test_scatter_with_repeated_indices_keeps_the_last_write():
    out = irgrad.zeros(3).scatter(0, irgrad.tensor([1, 1, 1, 2]), irgrad.tensor([1.0, 2.0, 3.0, 4.0]))
    assert out.tolist() == [0.0, 3.0, 4.0]
    rows = irgrad.zeros(2, 2).scatter(
        1, irgrad.tensor([[0, 0], [1, 1]]), irgrad.tensor([[5.0, 6.0], [7.0, 8.0]])
    )
    assert rows.tolist() == [[6.0, 0.0], [0.0, 8.0]]


@pytest.mark.parametrize("reduce", ["add", "multiply"])
def test_scatter_with_reduce_matches_torch_and_has_no_derivative(compare, reduce):
    index, _ = scatter_case((4, 3), 0)
    x, s = normal(4, 3), normal(*index.shape)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        compare(lambda lib, x, i, s: x.scatter(0, i, s, reduce=reduce), x, index, s, grad=False)
        compare(lambda lib, x, i: x.scatter(0, i, 1.5, reduce=reduce), x, index, grad=False)
        compare(lambda lib, x, i, s: x.scatter_(0, i, s, reduce=reduce), x, index, s, grad=False)
        compare(
            lambda lib, x, i: x.scatter(0, i, 3, reduce=reduce), (x * 3).astype(np.int64), index, grad=False
        )
    with pytest.warns(UserWarning, match="deprecated"):
        irgrad.zeros(3).scatter(0, irgrad.tensor([0]), irgrad.ones(1), reduce=reduce)
    x_leaf = irgrad.ones(3, requires_grad=True)
    out = x_leaf.scatter(0, irgrad.tensor([0, 0]), 2.0, reduce=reduce)
    assert out.requires_grad and out.grad_fn is not None
    with pytest.raises(RuntimeError, match="derivative for aten::scatter is not implemented"):
        out.sum().backward()


@pytest.mark.parametrize("reduce", ["sum", "prod", "mean", "amax", "amin"])
@pytest.mark.parametrize("include_self", [True, False])
@pytest.mark.parametrize("shape,dim", [((5,), 0), ((4, 3), -2), ((4, 3), 1), ((2, 3, 4), 2)])
def test_scatter_reduce_matches_torch(compare, reduce, include_self, shape, dim):
    index, src_shape = scatter_case(shape, dim)
    # ties (amax/amin share the gradient among equal elements) and zeros (prod)
    make = with_zeros if reduce == "prod" else ties

    def fn(lib, x, i, s):
        return x.scatter_reduce(dim, i, s, reduce, include_self=include_self)

    x, s = make(*shape), make(*src_shape)
    compare(fn, x, index, s)
    compare(lambda lib, x, i, s: fn(lib, x * 1, i, s), normal(*shape), index, normal(*src_shape))
    compare(
        lambda lib, x, i, s: (x * 1).scatter_reduce_(dim, i, s, reduce, include_self=include_self),
        x,
        index,
        s,
    )
    compare(fn, (x * 3).astype(np.int64), index, (s * 3).astype(np.int64), grad=False)
    larger = make(
        *(n + 1 for n in src_shape)
    )  # only its leading corner is read (torch's backward rejects it)
    compare(fn, x, index, larger, grad=False)


def test_scatter_reduce_special_values_and_integer_means(compare):
    x = np.array([1.0, np.nan, 2.0, 0.0], np.float32)
    src = np.array([np.nan, 5.0, 1.0, np.inf, -np.inf, 0.0], np.float32)
    index = np.array([0, 0, 1, 2, 3, 3])
    for reduce in ("sum", "prod", "mean", "amax", "amin"):
        for include_self in (True, False):
            compare(
                lambda lib, x, i, s, reduce=reduce, include_self=include_self: x.scatter_reduce(
                    0, i, s, reduce, include_self=include_self
                ),
                x,
                index,
                src,
                grad=False,
            )
    means = np.array([0, 0, 7], np.int64), np.array([0, 0, 2, 2]), np.array([-1, -4, 1, 4], np.int64)
    for include_self in (True, False):  # integers round down
        compare(
            lambda lib, x, i, s, include_self=include_self: x.scatter_reduce(
                0, i, s, "mean", include_self=include_self
            ),
            *means,
            grad=False,
        )
    compare(lambda lib, x, i, s: x.scatter_reduce(0, i, s, "sum"), x > 0, index, src > 0, grad=False)


def test_scatter_reduce_gradient_ties_are_split_as_in_torch(compare):
    # x's element equals the maximum of the written values although not included: torch
    # still counts it in the split, so src gets half
    compare(
        lambda lib, x, s: x.scatter_reduce(0, lib.tensor([0, 0]), s, "amax", include_self=False),
        np.array([3.0, 0.0], np.float32),
        np.array([3.0, 1.0], np.float32),
    )
    compare(
        lambda lib, x, s: x.scatter_reduce(0, lib.tensor([1, 1, 1, 0]), s, "amin"),
        np.array([2.0, 1.0], np.float32),
        np.array([1.0, 4.0, 1.0, 2.0], np.float32),
    )


def test_scatter_and_scatter_reduce_of_0d_and_empty_tensors(compare):
    scalar = np.array(2.0, np.float32)
    compare(lambda lib, x, s: x.scatter(0, lib.tensor([0, 0]), s), scalar, np.array([5.0, 6.0], np.float32))
    compare(lambda lib, x, s: x.scatter_add(0, lib.tensor(0), s), scalar, np.array(5.0, np.float32))
    compare(lambda lib, x, s: x.scatter(0, lib.tensor(1), s), normal(2), np.array(4.0, np.float32))
    compare(lambda lib, x, s: x.scatter_reduce(0, lib.tensor([0, 0]), s, "prod"), scalar, normal(2))
    compare(lambda lib, x: x.gather(0, lib.tensor([0, 0])), scalar)
    compare(lambda lib, x: x.scatter(1, lib.zeros(0, 5, dtype=lib.int64), 4.0), normal(2, 3))
    compare(
        lambda lib, x, s: x.scatter_reduce(
            1, lib.zeros(2, 0, dtype=lib.int64), s, "amax", include_self=False
        ),
        normal(2, 3),
        normal(2, 0),
    )


SCATTER_ERRORS = [
    (
        "scatter-dtype",
        lambda L: L.zeros(3, 4).scatter(0, L.tensor([[0, 1]]), L.ones(1, 2, dtype=L.float64)),
        "dtype",
    ),
    (
        "scatter-float-index",
        lambda L: L.zeros(3, 4).scatter(0, L.tensor([[1.0]]), L.ones(1, 1)),
        "int32/int64",
    ),
    ("scatter-negative", lambda L: L.zeros(3, 4).scatter(0, L.tensor([[-1]]), L.ones(1, 1)), "out of bounds"),
    ("scatter-range", lambda L: L.zeros(3, 4).scatter(0, L.tensor([[3]]), 1.0), "out of bounds"),
    (
        "scatter-rank",
        lambda L: L.zeros(3, 4).scatter(0, L.tensor([0, 1]), L.ones(2, 2)),
        "number of dimensions",
    ),
    (
        "scatter-src-rank",
        lambda L: L.zeros(2, 3).scatter(0, L.tensor([[1]]), L.tensor(4.0)),
        "number of dimensions",
    ),
    (
        "scatter-size",
        lambda L: L.zeros(3, 4).scatter(0, L.tensor([[0, 1, 1, 1, 1]]), L.ones(2, 5)),
        "no larger",
    ),
    (
        "scatter-src-size",
        lambda L: L.zeros(3, 4).scatter(0, L.tensor([[0, 1, 1]]), L.ones(2, 2)),
        "no larger",
    ),
    (
        "scatter-reduce-name",
        lambda L: L.zeros(3).scatter(0, L.tensor([0]), 1.0, reduce="sum"),
        "add or multiply",
    ),
    (
        "scatter_add-dtype",
        lambda L: L.zeros(3).scatter_add(0, L.tensor([0]), L.ones(1, dtype=L.float64)),
        "dtype",
    ),
    ("scatter_add-negative", lambda L: L.zeros(3).scatter_add(0, L.tensor([-1]), L.ones(1)), "out of bounds"),
    ("gather-negative", lambda L: L.zeros(3).gather(0, L.tensor([-1])), "out of bounds"),
    (
        "scatter_reduce-name",
        lambda L: L.zeros(3).scatter_reduce(0, L.tensor([0]), L.ones(1), "add"),
        "sum, prod",
    ),
    (
        "scatter_reduce-dim",
        lambda L: L.zeros(3).scatter_reduce(1, L.tensor([0]), L.ones(1), "sum"),
        "out of range",
    ),
    (
        "scatter_reduce-range",
        lambda L: L.zeros(3).scatter_reduce(0, L.tensor([3]), L.ones(1), "amax"),
        "out of bounds",
    ),
    (
        "scatter_reduce-bool-mean",
        lambda L: L.zeros(2, dtype=L.bool).scatter_reduce(0, L.tensor([0]), L.ones(1, dtype=L.bool), "mean"),
        "Bool",
    ),
    (
        "scatter_reduce-include_self",
        lambda L: L.zeros(3).scatter_reduce(0, L.tensor([0]), L.ones(1), "sum", include_self=0),
        "bool",
    ),
]


@pytest.mark.parametrize("name,fn,match", SCATTER_ERRORS, ids=[c[0] for c in SCATTER_ERRORS])
def test_scatters_raise_as_torch(name, fn, match):
    raises_like_torch(fn, match)


def test_take_along_dim_still_counts_negative_indices_from_the_end(compare):
    compare(lambda lib, x, i: lib.take_along_dim(x, i, 0), normal(3, 2), np.array([[-1, -3], [0, 2]]))
    raises_like_torch(lambda L: L.take_along_dim(L.ones(3, 2), L.tensor([[1]], dtype=L.int32), 0), "Long")


def test_gather_and_scatter_take_int32_indices(compare):
    index = ints(3, 2, 2).astype(np.int32)
    compare(lambda lib, x, i: x.gather(0, i), normal(3, 2), index)
    compare(lambda lib, x, i, s: x.scatter_reduce(0, i, s, "amax"), normal(3, 2), index, normal(2, 2))


# --- masked_scatter ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "x_shape,mask_shape",
    [((2, 3), (2, 3)), ((3,), (2, 3)), ((2, 1), (2, 3)), ((2, 3), (3,)), ((), ()), ((4,), ())],
)
def test_masked_scatter_matches_torch(compare, x_shape, mask_shape):
    mask = np.asarray(RNG.random(mask_shape) < 0.5)
    source = normal(int(np.prod(np.broadcast_shapes(x_shape, mask_shape))) + 2)  # more than needed
    compare(lambda lib, x, m, s: x.masked_scatter(m, s), normal(*x_shape), mask, source)
    compare(lambda lib, x, m, s: lib.masked_scatter(x, m, s.reshape(-1, 1)), normal(*x_shape), mask, source)
    as_bool = np.asarray(normal(*x_shape) > 0)
    compare(lambda lib, x, m, s: x.masked_scatter(m, s), as_bool, mask, source > 0, grad=False)
    if np.broadcast_shapes(x_shape, mask_shape) == x_shape:
        compare(lambda lib, x, m, s: (x * 1).masked_scatter_(m, s), normal(*x_shape), mask, source)


def test_masked_scatter_with_nothing_to_write(compare):
    compare(lambda lib, x, m, s: x.masked_scatter(m, s), normal(2, 3), np.zeros((2, 3), bool), normal(0))
    compare(lambda lib, x, m, s: x.masked_scatter(m, s), normal(0, 3), np.zeros((0, 3), bool), normal(4))


MASKED_SCATTER_ERRORS = [
    ("too-few", lambda L: L.zeros(2, 3).masked_scatter(L.ones(2, 3, dtype=L.bool), L.ones(5)), "source"),
    ("empty-source", lambda L: L.zeros(2, 3).masked_scatter(L.ones(2, 3, dtype=L.bool), L.ones(0)), "source"),
    (
        "dtype",
        lambda L: L.zeros(2, 3).masked_scatter(L.ones(2, 3, dtype=L.bool), L.ones(6, dtype=L.float64)),
        "same dtypes",
    ),
    (
        "mask-dtype",
        lambda L: L.zeros(2, 3).masked_scatter(L.ones(2, 3, dtype=L.int32), L.ones(6)),
        "boolean masks",
    ),
    ("broadcast", lambda L: L.zeros(2, 3).masked_scatter(L.ones(4, 1, dtype=L.bool), L.ones(12)), None),
    ("inplace-grow", lambda L: L.zeros(2, 1).masked_scatter_(L.ones(2, 3, dtype=L.bool), L.ones(6)), None),
]


@pytest.mark.parametrize("name,fn,match", MASKED_SCATTER_ERRORS, ids=[c[0] for c in MASKED_SCATTER_ERRORS])
def test_masked_scatter_raises_as_torch(name, fn, match):
    raises_like_torch(fn, match)


def test_masked_scatter_gradients_by_finite_differences():
    mask = irgrad.tensor([[True, False, True], [False, True, True]])
    x = irgrad.tensor(normal(2, 1, dtype=np.float64), requires_grad=True)
    source = irgrad.tensor(normal(3, 2, dtype=np.float64), requires_grad=True)
    assert gradcheck(lambda x, s: x.masked_scatter(mask, s), (x, source))


# --- cumprod, cummax, cummin -------------------------------------------------------------


@pytest.mark.parametrize("shape,dim", SHAPES_AND_DIMS)
def test_cumprod_matches_torch_with_zeros(compare, shape, dim):
    compare(lambda lib, x: lib.cumprod(x, dim), normal(*shape))
    compare(lambda lib, x: x.cumprod(dim), with_zeros(*shape), atol=1e-5)
    compare(lambda lib, x: x.cumprod(dim, dtype=lib.float64), with_zeros(*shape))
    compare(lambda lib, x: x.cumprod(dim), ints(4, *shape).astype(np.int32), grad=False)
    compare(lambda lib, x: x.cumprod(dim), ints(2, *shape).astype(bool), grad=False)
    compare(lambda lib, x: x.cumprod(dim, dtype=lib.float32), ints(4, *shape), grad=False)


def test_cumprod_gradient_with_zeros_is_exact():
    rows = np.array([[0.5, 0.0, 2.0, 0.0, 3.0], [0.0, 0.0, 1.5, 2.0, -1.0], [1.5, -2.0, 0.5, 1.2, 0.0]])
    for dim, x in ((1, rows), (0, rows.T.copy())):
        leaf = irgrad.tensor(x, requires_grad=True)
        assert gradcheck(lambda t, dim=dim: t.cumprod(dim), (leaf,))
        assert gradgradcheck(lambda t, dim=dim: t.cumprod(dim), (leaf,))
    # known values: d/dx sum(cumprod([2, 0, 3])) = [1, 2 + 2*3, 0]
    leaf = irgrad.tensor([2.0, 0.0, 3.0], requires_grad=True)
    leaf.cumprod(0).sum().backward()
    assert leaf.grad.tolist() == [1.0, 8.0, 0.0]


def test_cumprod_second_derivative_matches_torch_with_zeros(compare):
    def hessian_vector(lib, x):
        (g,) = lib.autograd.grad(x.cumprod(1).sum(), x, create_graph=True)
        return g

    compare(hessian_vector, np.array([[0.5, 0.0, 2.0, 0.0, 3.0], [1.0, 2.0, 0.0, 1.5, 2.0]], np.float32))


@pytest.mark.parametrize("name", ["cummax", "cummin"])
@pytest.mark.parametrize("shape,dim", SHAPES_AND_DIMS)
def test_cummax_and_cummin_match_torch(compare, name, shape, dim):
    compare(lambda lib, x: getattr(lib, name)(x, dim), ties(*shape))  # ties: the last equal element
    compare(lambda lib, x: getattr(x, name)(dim), normal(*shape))
    compare(lambda lib, x: getattr(x, name)(dim).values, ints(5, *shape), grad=False)
    compare(lambda lib, x: getattr(x, name)(dim), ints(2, *shape).astype(bool), grad=False)


@pytest.mark.parametrize("name", ["cummax", "cummin"])
def test_cummax_and_cummin_special_values(compare, name):
    x = np.array([1.0, 1.0, 0.0, 2.0, -0.0, np.nan, 3.0, np.nan, -np.inf, np.inf], np.float32)
    compare(lambda lib, x: getattr(x, name)(0), x)
    compare(lambda lib, x: getattr(x, name)(0), np.array([-0.0, 0.0, -0.0], np.float32))
    compare(lambda lib, x: getattr(lib, name)(x, -1), np.array(2.5, np.float32))
    compare(lambda lib, x: getattr(lib, name)(x, 1), np.zeros((0, 3), np.float32))
    result = getattr(irgrad, name)(irgrad.tensor([1.0, 2.0]), 0)
    assert result._fields == ("values", "indices") and result.indices.dtype is irgrad.int64


def test_scans_of_0d_and_empty_tensors(compare):
    compare(lambda lib, x: x.cumprod(0), np.array(2.5, np.float32))
    compare(lambda lib, x: x.cumprod(-1), np.zeros((2, 0), np.float32))
    raises_like_torch(lambda L: L.ones(2, 3).cumprod(2), "out of range")
    raises_like_torch(lambda L: L.ones(2, 3).cummax(-3), "out of range")


# --- histc --------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
def test_histc_matches_torch(compare, dtype):
    x = normal(50, dtype=dtype)
    compare(lambda lib, x: lib.histc(x, bins=7, min=-1, max=1.5), x, grad=False)
    compare(lambda lib, x: x.histc(10), x, grad=False)  # the data's range
    compare(lambda lib, x: x.histc(4, min=3, max=3), x.reshape(5, 10), grad=False)  # min == max: the data's
    compare(lambda lib, x: x.histc(5), np.full(6, 2.0, dtype), grad=False)  # all equal: widened by 1
    compare(lambda lib, x: x.histc(3, 0, 3), np.array([np.nan, 0.0, 3.0, 3.5, -1.0, 1.0], dtype), grad=False)
    compare(lambda lib, x: x.histc(4), np.zeros(0, dtype), grad=False)
    compare(lambda lib, x: x.histc(4), np.array(2.0, dtype), grad=False)


def test_histc_puts_bin_edges_where_torch_does(compare):
    for bins, low, high in [(3, 0.0, 1.0), (7, 0.1, 0.9), (13, -3.3, 7.1)]:
        edges = np.linspace(low, high, bins + 1).astype(np.float32)
        x = np.concatenate(
            [edges, np.nextafter(edges, np.float32(-10)), np.nextafter(edges, np.float32(10)), normal(200)]
        )
        compare(lambda lib, x, bins=bins, low=low, high=high: x.histc(bins, low, high), x, grad=False)


def test_histc_output_does_not_require_grad():
    out = irgrad.histc(irgrad.tensor([1.0, 2.0], requires_grad=True), bins=3)
    assert not out.requires_grad and out.dtype is irgrad.float32


HISTC_ERRORS = [
    ("int", lambda L: L.histc(L.tensor([1, 2]), bins=3), "not implemented for 'Long'"),
    ("bins", lambda L: L.histc(L.ones(3), bins=0), "bins must be > 0"),
    ("order", lambda L: L.histc(L.ones(3), bins=4, min=3, max=1), "max must be larger than min"),
    ("infinite", lambda L: L.histc(L.ones(3), bins=4, min=0, max=float("inf")), "not finite"),
    ("nan-data", lambda L: L.histc(L.tensor([1.0, float("nan")]), bins=4), "not finite"),
    ("inf-data", lambda L: L.histc(L.tensor([1.0, float("-inf")]), bins=4), "not finite"),
]


@pytest.mark.parametrize("name,fn,match", HISTC_ERRORS, ids=[c[0] for c in HISTC_ERRORS])
def test_histc_raises_as_torch(name, fn, match):
    raises_like_torch(fn, match)


# --- in-place forms and autograd ---------------------------------------------------------


def test_in_place_forms_write_into_the_tensor_and_its_history():
    base = irgrad.zeros(3, 2, requires_grad=True)
    source = irgrad.ones(2, 2, requires_grad=True)
    y = base * 2
    out = y.index_add_(0, irgrad.tensor([0, 2]), source, alpha=3.0)
    assert out is y and y.tolist() == [[3.0, 3.0], [0.0, 0.0], [3.0, 3.0]]
    y.sum().backward()
    assert base.grad.tolist() == [[2.0, 2.0]] * 3 and source.grad.tolist() == [[3.0, 3.0]] * 2
    with pytest.raises(RuntimeError, match="leaf Variable"):
        irgrad.zeros(3, requires_grad=True).index_fill_(0, irgrad.tensor([0]), 1.0)
    view = irgrad.zeros(2, 3)[:, 1]
    view.scatter_(0, irgrad.tensor([1]), 5.0)
    assert view._base.tolist() == [[0.0, 0.0, 0.0], [0.0, 5.0, 0.0]]


# --- compiled ----------------------------------------------------------------------------


def _index_ops(x, s, i, mask):
    added = x.index_add(0, i, s, alpha=0.5).index_fill(1, i[:1], -1.0)
    copied = x.index_copy(0, i[:2], s[:2])
    return added + copied.masked_scatter(mask, s * 3)


def _scatter_ops(x, s, i, mask):
    index = i[:, None].expand(4, 3)
    out = x.scatter_reduce(0, index, s, "amax", include_self=False)
    out = out + x.scatter_reduce(0, index, s, "mean") * x.scatter(0, index, s)
    return out + x.scatter_reduce(0, index, s, "prod")


def _scan_ops(x, s, i, mask):
    values, indices = x.cummax(1)
    return x.cumprod(0) + values * s.cummin(0).values + indices + irgrad.histc(s, bins=3).sum()


@pytest.mark.parametrize("fn", [_index_ops, _scatter_ops, _scan_ops])
def test_compiled_functions_match_eager_without_graph_breaks(backend, fn):
    compiled = irgrad.compile(fn, backend=backend)
    for seed in range(3):
        rng = np.random.default_rng(seed)
        arrays = (
            rng.standard_normal((4, 3)).astype(np.float32),
            rng.standard_normal((4, 3)).astype(np.float32),
        )
        index = irgrad.tensor(rng.permutation(4))
        mask = irgrad.tensor(rng.random((4, 3)) < 0.5)
        eager_in = [irgrad.tensor(a, requires_grad=True) for a in arrays]
        compiled_in = [irgrad.tensor(a, requires_grad=True) for a in arrays]
        want = fn(*eager_in, index, mask)
        got = compiled(*compiled_in, index, mask)
        np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), rtol=1e-5, atol=1e-5)
        want.sum().backward()
        got.sum().backward()
        for mine, theirs in zip(compiled_in, eager_in):
            np.testing.assert_allclose(mine.grad.numpy(), theirs.grad.numpy(), rtol=1e-4, atol=1e-5)
    assert_graphs_answered(compiled)


def test_compiled_index_check_raises_as_eager(backend):
    compiled = irgrad.compile(lambda x, i: x.index_add(0, i, irgrad.ones(2, 3)), backend=backend)
    x = irgrad.zeros(3, 3)
    compiled(x, irgrad.tensor([0, 2]))
    with pytest.raises(RuntimeError, match="out of bounds"):
        compiled(x, irgrad.tensor([0, 3]))


@pytest.mark.parametrize(
    "x_shape, i_shape, dim",
    [((3, 4), (1, 2), 1), ((1, 5), (3, 2), 1), ((2, 1, 4), (1, 3, 2), 2), ((3, 4), (2, 4), 0)],
)
def test_take_along_dim_broadcasts_the_other_dims_as_torch(compare, x_shape, i_shape, dim):
    """The dims other than ``dim`` broadcast between the input and the indices (the
    result took the indices' rows only, and the gradient with it)."""
    rng = np.random.default_rng(0)
    indices = rng.integers(-x_shape[dim], x_shape[dim], i_shape)
    compare(lambda lib, x, i: lib.take_along_dim(x, i, dim), normal(*x_shape), indices)


@pytest.mark.parametrize(
    "split",
    [
        [1, 5],
        (2,),
        [-1, 3],  # Python slices: an index counts from the end, a piece may be empty
        [5, 1, 9],
        [],
        3,
        np.array([1, 5]),  # a tensor of indices
        np.array(3),  # a 0-d tensor: the number of sections
    ],
)
@pytest.mark.parametrize("dim", [0, 1])
def test_tensor_split_by_indices_and_tensors_matches_torch(compare, split, dim):
    def fn(lib, x):
        s = lib.tensor(split) if isinstance(split, np.ndarray) else split
        return x.tensor_split(s, dim=dim) if dim else lib.tensor_split(x, s)

    compare(fn, normal(7, 7))


def test_tensor_split_refuses_what_torch_refuses():
    raises_like_torch(lambda L: L.tensor_split(L.ones(4), L.tensor([1], dtype=L.int32)), "long")
    raises_like_torch(lambda L: L.tensor_split(L.ones(4), L.tensor([[1]])), "dim")
    raises_like_torch(lambda L: L.tensor_split(L.ones(4), 0), "sections")


def test_flip_takes_dims_as_separate_ints(compare):
    compare(lambda lib, x: x.flip(0, 2), normal(2, 3, 4))
    compare(lambda lib, x: x.flip(1) + lib.flip(x, dims=[0, -1]) + lib.flip(x, (2,)), normal(2, 3, 4))


def test_take_along_dim_without_dim_reads_the_flattened_input(compare):
    compare(lambda lib, x, i: lib.take_along_dim(x, i), normal(3, 2), np.array([5, 0, 4, 2]))
    compare(lambda lib, x, i: x.take_along_dim(i), normal(3, 2), np.array([[3], [0]]))
    raises_like_torch(lambda L: L.take_along_dim(L.ones(3, 2), L.tensor([-1])), "out of bounds")


@pytest.mark.parametrize("diagonal", [0, 1, -1])
def test_tril_and_triu_in_place_match_torch(compare, diagonal):
    compare(lambda lib, x: (x * 1).tril_(diagonal) + (x * 2).triu_(diagonal), normal(2, 3, 4))


@pytest.mark.parametrize(
    "shapes",
    [((3,), (3,)), ((2, 3), (4, 3)), ((2, 2, 3), (4, 3)), ((3,), (2, 5, 3)), ((), (2, 3)), ((2, 3), ())],
)
def test_inner_over_the_last_dims_matches_torch(compare, shapes):
    compare(lambda lib, a, b: lib.inner(a, b) + a.inner(b), normal(*shapes[0]), normal(*shapes[1]))


def test_inner_refuses_unequal_last_dims():
    raises_like_torch(lambda L: L.inner(L.ones(2, 3), L.ones(4, 2)), r"\[2, 3\]")


INDEX_PUT_CASES = [
    ((6,), lambda L: (L.tensor([1, 4, 1]),), (3,), True),  # a position twice: both add
    ((6,), lambda L: (L.tensor([1, 4]),), (2,), False),
    ((3, 4), lambda L: (L.tensor([2, 0]), L.tensor([1, 3])), (2,), False),
    ((3, 4), lambda L: (L.tensor([2, 0, 2]), L.tensor([1, 3, 1])), (3,), True),
    ((3, 4), lambda L: (L.tensor([2, 0]),), (2, 4), True),  # whole rows
    ((3, 4), lambda L: (L.tensor([0, 2]),), (4,), True),  # values broadcast to the rows
    ((3, 4), lambda L: (L.tensor([[True, False, True, False]] * 3),), (), False),  # a mask, a 0-d value
    ((3, 4), lambda L: (L.tensor([[True, False, True, False]] * 3),), (6,), True),
]


@pytest.mark.parametrize("shape, indices, values_shape, accumulate", INDEX_PUT_CASES)
def test_index_put_matches_torch(compare, shape, indices, values_shape, accumulate):
    """``index_put`` / ``index_put_`` (``accumulate`` adds, a repeated position adding
    every value), values and gradients."""
    x, v = normal(*shape), normal(*values_shape)
    compare(lambda L, a, b: a.index_put(indices(L), b, accumulate=accumulate), x, v)
    compare(lambda L, a, b: L.index_put(a, indices(L), b, accumulate), x, v)
    compare(lambda L, a, b: (a * 1).index_put_(indices(L), b, accumulate=accumulate), x, v)


def test_index_put_of_integers_accumulates():
    x = irgrad.zeros(3, dtype=irgrad.int64).index_put(
        (irgrad.tensor([0, 0, 2]),), irgrad.tensor([2, 3, 4]), True
    )
    assert x.tolist() == [5, 0, 4]


def test_index_put_refuses_what_torch_refuses():
    raises_like_torch(
        lambda L: L.zeros(4).index_put((L.tensor([1]),), L.tensor([1.0], dtype=L.float64)), "dtypes match"
    )
    raises_like_torch(lambda L: L.zeros(4).index_put((1,), L.tensor(2.0)), "expected Tensor")
