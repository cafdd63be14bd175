"""meshgrid, rot90, flipud/fliplr, moveaxis, atleast_*d, dstack/column_stack/row_stack,
hsplit/vsplit/dsplit, block_diag, cartesian_prod and combinations against PyTorch 2.13,
and PyTorch's legacy typed constructors (LongTensor, FloatTensor ...)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from torch_parity import raises_like_torch

import irgrad

_rng = np.random.default_rng(11)


def R(*shape):
    return _rng.standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize("indexing", ["ij", "xy"])
@pytest.mark.parametrize("shapes", [[(3,)], [(3,), (2,)], [(3,), (), (4,)], [(2,), (0,)], [()]], ids=str)
def test_meshgrid_matches_torch(compare, indexing, shapes):
    arrays = [R(*s) for s in shapes]
    compare(lambda lib, *ts: lib.meshgrid(*ts, indexing=indexing), *arrays)
    compare(lambda lib, *ts: lib.meshgrid(list(ts), indexing=indexing), *arrays)


def test_meshgrid_warns_without_indexing_and_checks_its_inputs():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        grids = irgrad.meshgrid(irgrad.arange(3), irgrad.arange(2))
    assert any("indexing argument" in str(w.message) for w in caught)
    assert [tuple(g.shape) for g in grids] == [(3, 2), (3, 2)]
    raises_like_torch(lambda lib: lib.meshgrid(lib.ones(2, 2), indexing="ij"), "0D or 1D")
    raises_like_torch(lambda lib: lib.meshgrid(lib.ones(2), lib.arange(2), indexing="ij"), "same dtype")
    raises_like_torch(lambda lib: lib.meshgrid(lib.ones(2), indexing="yx"), "indexing must be")
    raises_like_torch(lambda lib: lib.meshgrid(indexing="ij"), "non-empty")


@pytest.mark.parametrize("k", [-3, -1, 0, 1, 2, 3, 5])
@pytest.mark.parametrize("dims", [(0, 1), (1, 0), (-1, 0), (0, 2)])
def test_rot90_matches_torch(compare, k, dims):
    compare(lambda lib, x: lib.rot90(x, k, dims), R(2, 3, 4))
    compare(lambda lib, x: x.rot90(k, list(dims)), R(2, 3, 4))


@pytest.mark.parametrize(
    "call",
    [
        lambda lib: lib.rot90(lib.ones(2, 3, 4), 1, [0]),
        lambda lib: lib.rot90(lib.ones(2), 1, [0, 1]),
        lambda lib: lib.rot90(lib.ones(2, 3), 1, [0, 0]),
        lambda lib: lib.rot90(lib.ones(2, 3), 1, [0, 2]),
        lambda lib: lib.flipud(lib.tensor(1.0)),
        lambda lib: lib.fliplr(lib.ones(2)),
        lambda lib: lib.hsplit(lib.tensor(1.0), 2),
        lambda lib: lib.hsplit(lib.ones(2, 5), 2),
        lambda lib: lib.vsplit(lib.ones(5), 2),
        lambda lib: lib.dsplit(lib.ones(2, 2), 2),
        lambda lib: lib.dsplit(lib.ones(2, 2, 4), 0),
        lambda lib: lib.block_diag(lib.ones(2, 2, 2)),
        lambda lib: lib.cartesian_prod(lib.ones(2, 2)),
        lambda lib: lib.combinations(lib.ones(2, 2)),
        lambda lib: lib.combinations(lib.ones(3), -1),
        lambda lib: lib.column_stack([]),
        lambda lib: lib.dstack([]),
        lambda lib: lib.unravel_index(lib.tensor([1.0]), (2, 4)),
        lambda lib: lib.vander(lib.ones(2, 2)),
        lambda lib: lib.vander(lib.ones(2), N=-1),
        lambda lib: lib.unravel_index(lib.tensor([1]), (2, -4)),
    ],
)
def test_arrangement_errors_match_torch(call):
    raises_like_torch(call)


SHAPE_CASES = [
    ("flipud", lambda L, x: L.flipud(x), R(3, 4)),
    ("flipud_1d", lambda L, x: x.flipud(), R(5)),
    ("fliplr", lambda L, x: L.fliplr(x), R(3, 4, 2)),
    ("moveaxis", lambda L, x: L.moveaxis(x, (0, -1), (2, 0)), R(2, 3, 4)),
    ("moveaxis_method", lambda L, x: x.moveaxis(1, 0), R(2, 3, 4)),
    ("atleast_1d", lambda L, x: L.atleast_1d(x), R()),
    ("atleast_1d_many", lambda L, x, y: L.atleast_1d(x, y), R(), R(2, 3)),
    ("atleast_2d", lambda L, x, y: L.atleast_2d([x, y]), R(), R(4)),
    ("atleast_2d_one", lambda L, x: L.atleast_2d(x), R(3, 1, 2)),
    ("atleast_3d", lambda L, x, y, z, w: L.atleast_3d(x, y, z, w), R(), R(4), R(2, 3), R(2, 1, 3, 2)),
    ("dstack", lambda L, x, y, z: L.dstack([x, y, z]), R(), R(1), R(1, 1, 2)),
    ("dstack_2d", lambda L, x, y: L.dstack((x, y)), R(2, 3), R(2, 3)),
    ("column_stack", lambda L, x, y, z: L.column_stack([x, y, z]), R(), R(1), R(1, 2)),
    ("column_stack_1d", lambda L, x, y: L.column_stack([x, y]), R(4), R(4, 3)),
    ("row_stack", lambda L, x, y: L.row_stack([x, y]), R(2), R(3, 2)),
    ("hsplit", lambda L, x: L.hsplit(x, 2), R(3, 4)),
    ("hsplit_indices", lambda L, x: x.hsplit([1, 3]), R(5)),
    ("vsplit", lambda L, x: L.vsplit(x, [1, 4]), R(3, 4)),
    ("dsplit", lambda L, x: x.dsplit(2), R(2, 1, 4)),
    ("block_diag", lambda L, x, y, z: L.block_diag(x, y, z), R(), R(2), R(2, 3)),
    ("block_diag_empty_blocks", lambda L, x, y: L.block_diag(x, y), R(0, 2), R(2, 0)),
    ("block_diag_promotes", lambda L, x, y: L.block_diag(x, y), np.arange(4).reshape(2, 2), R(1, 2)),
    ("cartesian_prod", lambda L, x, y, z: L.cartesian_prod(x, y, z), R(3), R(2), R(2)),
    ("cartesian_prod_one", lambda L, x: L.cartesian_prod(x), R(3)),
    ("combinations", lambda L, x: L.combinations(x), R(4)),
    ("combinations_r3", lambda L, x: L.combinations(x, 3), R(5)),
    ("combinations_replacement", lambda L, x: L.combinations(x, 2, with_replacement=True), R(3)),
    ("combinations_r0", lambda L, x: L.combinations(x, 0), R(3)),
    ("combinations_too_many", lambda L, x: L.combinations(x, 4), R(3)),
    ("combinations_int", lambda L, x: L.combinations(x, 2), np.arange(4)),
    ("diagflat", lambda L, x: L.diagflat(x), R(2, 2)),
    ("vander_no_columns", lambda L, x: L.vander(x, N=0), np.arange(3)),
    ("vander_int32", lambda L, x: L.vander(x), np.array([1, -2, 3], np.int32)),
    ("vander_bool", lambda L, x: L.vander(x), np.array([True, False])),
    ("diagflat_offset", lambda L, x: x.diagflat(-1), np.arange(3)),
    ("unravel_index", lambda L, i: L.unravel_index(i, (2, 4)), np.array([4, 7, -1, 8, -9])),
    ("unravel_index_0d", lambda L, i: L.unravel_index(i, L.Size([3, 1, 5])), np.array(11)),
    ("unravel_index_int", lambda L, i: L.unravel_index(i, 6), np.array([[2, 13]])),
    ("unravel_index_empty_shape", lambda L, i: L.unravel_index(i, ()), np.array([1])),
]


@pytest.mark.parametrize("fn,inputs", [pytest.param(f, a, id=n) for n, f, *a in SHAPE_CASES])
def test_arrangements_match_torch(compare, fn, inputs):
    compare(fn, *inputs)


def test_vander_matches_torch(compare):
    # values only: PyTorch's vander writes its cumprod in place, so its own backward raises
    compare(lambda L, x: L.vander(x), R(4), grad=False)
    compare(lambda L, x: L.vander(x, N=6, increasing=True), R(3), grad=False)
    compare(lambda L, x: L.vander(x, N=1), R(3), grad=False)
    x = irgrad.tensor(R(4).astype(np.float64), requires_grad=True)
    assert irgrad.autograd.gradcheck(lambda t: irgrad.vander(t, N=5), (x,))


def test_block_diag_of_nothing_matches_torch(compare):
    compare(lambda lib: lib.block_diag())


def test_compiled_arrangements_match_eager(backend):
    def fn(x, y):
        gx, gy = irgrad.meshgrid(x, y, indexing="xy")
        return irgrad.rot90(gx * gy, 1), irgrad.block_diag(x, y), irgrad.combinations(x).sum(1)

    compiled = irgrad.compile(fn, backend=backend)
    for seed in range(3):
        rng = np.random.default_rng(seed)
        x, y = (irgrad.tensor(rng.standard_normal(n).astype(np.float32)) for n in (3, 4))
        for got, want in zip(compiled(x, y), fn(x, y)):
            np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_arrangement_gradients_match_finite_differences():
    x = irgrad.tensor(R(3, 4).astype(np.float64), requires_grad=True)
    y = irgrad.tensor(R(2).astype(np.float64), requires_grad=True)
    assert irgrad.autograd.gradcheck(lambda a, b: irgrad.block_diag(a, b), (x, y))
    assert irgrad.autograd.gradcheck(lambda a: irgrad.rot90(a, 3) * irgrad.fliplr(irgrad.rot90(a)), (x,))
    assert irgrad.autograd.gradcheck(lambda a, b: irgrad.cartesian_prod(a[0], b), (x, y))


LEGACY = ["FloatTensor", "DoubleTensor", "LongTensor", "IntTensor", "BoolTensor", "ByteTensor"]


@pytest.mark.parametrize("name", LEGACY)
def test_legacy_constructors_match_torch(name):
    torch = pytest.importorskip("torch")
    for args in ([[1, 0, 2]], [[[1.7, 2.0], [3.0, 0.0]]], [(2, 3)], [np.array([1, 0, 1])], []):
        mine, theirs = getattr(irgrad, name)(*args), getattr(torch, name)(*args)
        assert str(mine.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1]
        np.testing.assert_array_equal(mine.numpy(), theirs.numpy())
    for sizes in ([2, 3], [4], [irgrad.Size([2, 1])]):
        theirs = getattr(torch, name)(*(torch.Size(s) if isinstance(s, irgrad.Size) else s for s in sizes))
        assert tuple(getattr(irgrad, name)(*sizes).shape) == tuple(theirs.shape)
    x = irgrad.ones(2, dtype=getattr(irgrad, name).dtype)
    assert isinstance(x, getattr(irgrad, name)) and getattr(irgrad, name)(x).shape == (2,)
    assert not isinstance(irgrad.ones(2, dtype=irgrad.int8), getattr(irgrad, name))
    assert irgrad.ones(2).type(getattr(irgrad, name)).dtype is x.dtype
    assert irgrad.ones(2).type(f"torch.{name}").dtype is x.dtype


def test_legacy_constructor_errors_match_torch():
    raises_like_torch(lambda lib: lib.FloatTensor(lib.tensor([1, 2])))
    raises_like_torch(lambda lib: lib.FloatTensor(2.5), "must be a sequence")
    raises_like_torch(lambda lib: lib.LongTensor(-1), "negative dimension")
