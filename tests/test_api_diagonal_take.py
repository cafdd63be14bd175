"""diagonal (a view), diag_embed, diag, fill_diagonal_, take, and index_select of a 0-d
tensor: values, dtypes, gradients, aliasing and errors as PyTorch's, finite differences
in float64, and compiled without graph breaks."""

from __future__ import annotations

import numpy as np
import pytest
from graph_calls import assert_graphs_answered
from torch_parity import raises_like_torch

import irgrad
from irgrad.autograd import gradcheck, gradgradcheck

RNG = np.random.default_rng(21)


def normal(*shape, dtype=np.float32) -> np.ndarray:
    return RNG.standard_normal(shape).astype(dtype)


def leaf(a: np.ndarray) -> irgrad.Tensor:
    return irgrad.tensor(a.astype(np.float64), requires_grad=True)


# --- diagonal ------------------------------------------------------------------------------

DIAGONALS = [
    ((3, 4), (0, 0, 1)),
    ((3, 4), (1, 0, 1)),
    ((3, 4), (-2, 1, 0)),
    ((3, 4), (4, 0, 1)),  # past the matrix: empty
    ((3, 4), (-3, 0, 1)),
    ((2, 3, 4), (1, 2, 0)),
    ((2, 3, 4), (-1, -1, 1)),
    ((2, 3, 4), (0, 0, -1)),
    ((2, 0, 3), (0, 0, 2)),
]


@pytest.mark.parametrize("shape,args", DIAGONALS)
def test_diagonal_matches_torch(compare, shape, args):
    x = normal(*shape)
    compare(lambda lib, x: lib.diagonal(x, *args), x)
    compare(lambda lib, x: x.diagonal(*args), x)
    compare(lambda lib, x: x.mT.diagonal(*args), x)  # a transposed input
    compare(lambda lib, x: x.diagonal(*args), (x * 4).astype(np.int64), grad=False)


def test_diagonal_keywords_match_torch(compare):
    compare(lambda lib, x: x.diagonal(offset=1, dim1=-1, dim2=-2), normal(2, 3, 3))
    compare(lambda lib, x: lib.diagonal(x, dim2=2), normal(2, 3, 3))


def test_diagonal_is_a_view_of_its_input():
    torch = pytest.importorskip("torch")
    values = normal(3, 4)
    results = []
    for lib in (irgrad, torch):
        x = lib.tensor(values.copy())
        d = x.diagonal(1)
        assert d._base is x
        d.mul_(10)  # written through the view
        x[0, 1] = -1.0  # and read back through it
        results.append((x.numpy().copy(), d.numpy().copy(), d.stride()))
    (x_mine, d_mine, s_mine), (x_theirs, d_theirs, s_theirs) = results
    np.testing.assert_array_equal(x_mine, x_theirs)
    np.testing.assert_array_equal(d_mine, d_theirs)
    assert s_mine == s_theirs


def test_writes_through_a_diagonal_of_an_expanded_tensor_reach_its_row():
    """The diagonal of an expanded row repeats no element (numpy's view of it is read-only,
    as the expanded tensor's is): torch writes each into the row, and so does irgrad."""
    torch = pytest.importorskip("torch")
    rows = []
    for lib in (irgrad, torch):
        row = lib.arange(3.0)
        row.expand(3, 3).diagonal().add_(1)
        row.expand(2, 3).diagonal(1, 1, 0).fill_(7)
        rows.append(row.tolist())
    assert rows[0] == rows[1]


def test_in_place_ops_through_a_diagonal_are_differentiated_as_torch(compare):
    def fn(lib, x, v):
        y = x * 2
        y.diagonal(-1).mul_(v[:2])
        y.diagonal(1, 1, 0).add_(v[1:])  # the same elements, rows and columns swapped
        return y

    compare(fn, normal(3, 3), normal(3))


def test_a_diagonal_of_a_leaf_that_requires_grad_refuses_in_place_ops():
    x = irgrad.ones(3, 3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        x.diagonal().zero_()


# --- diag_embed and diag -------------------------------------------------------------------


@pytest.mark.parametrize(
    "shape,args",
    [((3,), ()), ((2, 3), ()), ((2, 3), (1,)), ((2, 3), (-2, 0, 2)), ((2, 3), (1, -1, 0)), ((2, 0), ())],
)
def test_diag_embed_matches_torch(compare, shape, args):
    x = normal(*shape)
    compare(lambda lib, x: lib.diag_embed(x, *args), x)
    compare(lambda lib, x: x.diag_embed(*args), x > 0, grad=False)


@pytest.mark.parametrize("shape", [(3,), (3, 4), (4, 3), (0,)])
@pytest.mark.parametrize("offset", [0, 1, -2])
def test_diag_matches_torch(compare, shape, offset):
    compare(lambda lib, x: lib.diag(x, offset), normal(*shape))
    compare(lambda lib, x: x.diag(diagonal=offset), (normal(*shape) * 4).astype(np.int64), grad=False)


def test_diag_of_a_matrix_is_a_copy():
    x = irgrad.zeros(3, 3)
    d = irgrad.diag(x)
    d += 1
    assert d._base is None and x.sum().item() == 0.0


# --- fill_diagonal_ ------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(3, 3), (3, 5), (5, 3), (7, 2), (4, 3), (3, 3, 3), (2, 2, 2, 2)])
@pytest.mark.parametrize("wrap", [False, True])
def test_fill_diagonal_matches_torch(compare, shape, wrap):
    compare(lambda lib, x: (x * 1).fill_diagonal_(-2.5, wrap=wrap), normal(*shape))
    compare(
        lambda lib, x: (x * 1).fill_diagonal_(2.7, wrap), (normal(*shape) * 4).astype(np.int64), grad=False
    )
    compare(lambda lib, x: x.fill_diagonal_(True, wrap=wrap), np.zeros(shape, bool), grad=False)


def test_fill_diagonal_of_a_view_writes_into_its_base():
    torch = pytest.importorskip("torch")
    results = []
    for lib in (irgrad, torch):
        x = lib.zeros(4, 6)
        x[:, 1:].fill_diagonal_(1.0)
        results.append(x.numpy())
    np.testing.assert_array_equal(*results)


# --- take ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "shape,index",
    [
        ((2, 3), [[0, 5], [-1, -6]]),
        ((2, 3), [1, 1, 4, 1]),  # repeats add up in the gradient
        ((4,), 2),
        ((), [0, -1, 0]),
        ((3, 0), np.zeros((0, 2), np.int64)),
        ((3, 2), np.zeros(0, np.int64)),
    ],
)
def test_take_matches_torch(compare, shape, index):
    index = np.asarray(index, np.int64)
    x = normal(*shape)
    compare(lambda lib, x, i: lib.take(x, i), x, index)
    compare(lambda lib, x, i: x.mT.take(i) if x.ndim == 2 else x.take(i), x, index)  # non-contiguous
    compare(lambda lib, x, i: x.take(i), np.asarray(x * 4).astype(np.int64), index, grad=False)


# --- index_select of a 0-d tensor ----------------------------------------------------------


@pytest.mark.parametrize("index", [0, [0]])
@pytest.mark.parametrize("dim", [0, -1])
def test_index_select_of_a_0d_tensor_gives_its_element(compare, index, dim):
    compare(lambda lib, x: lib.index_select(x, dim, lib.tensor(index)), np.array(1.5, np.float32))
    compare(lambda lib, x: x.index_select(dim, lib.tensor(index, dtype=lib.int32)), np.array(3), grad=False)


# --- errors --------------------------------------------------------------------------------

ERRORS = [
    ("diagonal-1d", lambda L: L.ones(3).diagonal(), r"diagonal: Dimension out of range.*got 1\)"),
    ("diagonal-0d", lambda L: L.tensor(1.0).diagonal(), r"diagonal: Dimension out of range.*got 1\)"),
    (
        "diagonal-same",
        lambda L: L.ones(2, 3).diagonal(0, 0, -2),
        "diagonal dimensions cannot be identical 0, -2",
    ),
    ("diagonal-dim", lambda L: L.ones(2, 3).diagonal(0, 0, 2), r"\[-2, 1\], but got 2\)"),
    ("diag_embed-0d", lambda L: L.diag_embed(L.tensor(1.0)), r"diag_embed: Dimension out of range.*got -2\)"),
    ("diag_embed-same", lambda L: L.diag_embed(L.ones(3), 0, -2, 0), "cannot be identical -2, 0"),
    ("diag_embed-dim", lambda L: L.diag_embed(L.ones(2, 3), 0, 0, 3), r"\[-3, 2\], but got 3\)"),
    ("diag-0d", lambda L: L.diag(L.tensor(1.0)), r"diag\(\): Supports 1D or 2D tensors. Got 0D"),
    ("diag-3d", lambda L: L.diag(L.ones(2, 2, 2)), r"diag\(\): Supports 1D or 2D tensors. Got 3D"),
    ("fill_diagonal-1d", lambda L: L.ones(3).fill_diagonal_(0), "dimensions must larger than 1"),
    ("fill_diagonal-unequal", lambda L: L.ones(2, 2, 3).fill_diagonal_(0), "must be of equal length"),
    ("take-float", lambda L: L.ones(3).take(L.tensor([1.0])), r"take\(\): Expected a long tensor.*got Float"),
    ("take-int32", lambda L: L.ones(3).take(L.tensor([1], dtype=L.int32)), "got Int"),
    ("take-high", lambda L: L.ones(2, 3).take(L.tensor([1, 6])), "tried to access index 6 on a tensor of 6"),
    ("take-low", lambda L: L.ones(2, 3).take(L.tensor(-7)), "tried to access index -7 on a tensor of 6"),
    ("take-empty", lambda L: L.ones(0).take(L.tensor([0])), r"take\(\): tried to take from an empty tensor"),
    (
        "index_select-0d-many",
        lambda L: L.tensor(1.0).index_select(0, L.tensor([0, 0])),
        r"Index to scalar can have only 1 value, got 2 value\(s\)",
    ),
    (
        "index_select-0d-none",
        lambda L: L.tensor(1.0).index_select(0, L.tensor([], dtype=L.int64)),
        r"only 1 value, got 0 value\(s\)",
    ),
    ("index_select-0d-range", lambda L: L.tensor(1.0).index_select(0, L.tensor([-1])), "out of range"),
    ("index_select-0d-one", lambda L: L.tensor(1.0).index_select(0, L.tensor(1)), "out of range"),
    ("index_select-0d-dim", lambda L: L.tensor(1.0).index_select(1, L.tensor(0)), "Dimension out of range"),
    ("index_select-0d-matrix", lambda L: L.tensor(1.0).index_select(0, L.tensor([[0]])), "a vector"),
    (
        "index_select-float",
        lambda L: L.ones(3).index_select(0, L.tensor([0.0])),
        r"index_select\(\): Expected dtype int32 or int64 for index",
    ),
    (
        "index_select-uint8",
        lambda L: L.tensor(1.0).index_select(0, L.tensor([0], dtype=L.uint8)),
        "Expected dtype int32 or int64",
    ),
]


@pytest.mark.parametrize("name,fn,match", ERRORS, ids=[c[0] for c in ERRORS])
def test_errors_as_torch(name, fn, match):
    raises_like_torch(fn, match)


# --- finite differences --------------------------------------------------------------------


def test_gradients_by_finite_differences():
    index = irgrad.tensor([[5, -1], [0, 5]])
    assert gradcheck(lambda x: x.diagonal(1, 2, 0), (leaf(normal(3, 2, 4)),))
    assert gradgradcheck(lambda x: x.diagonal(-1) ** 2, (leaf(normal(3, 4)),))
    assert gradcheck(lambda x: irgrad.diag_embed(x, -1, 0, 2), (leaf(normal(2, 3)),))
    assert gradcheck(lambda x: irgrad.diag(x, 1), (leaf(normal(3)),))
    assert gradcheck(lambda x: irgrad.diag(x, -1), (leaf(normal(3, 4)),))
    assert gradcheck(lambda x: (x * 1).fill_diagonal_(0.5, wrap=True), (leaf(normal(5, 2)),))
    assert gradcheck(lambda x: x.take(index), (leaf(normal(2, 3)),))
    assert gradgradcheck(lambda x: x.take(index) ** 2, (leaf(normal(2, 3)),))
    assert gradcheck(lambda x: x.index_select(0, irgrad.tensor([0])), (leaf(np.array(0.7)),))


# --- compiled ------------------------------------------------------------------------------


def _diagonal_ops(x, i):
    y = x * 1
    y.diagonal(0, -1, 0).mul_(3)  # written through the view
    embedded = irgrad.diag_embed(x.diagonal(1, 0, 2), -1)
    filled = (x[0] * 1).fill_diagonal_(0.5, wrap=True)
    diags = irgrad.diag(x[1, 0], 1)[:4, :5] + irgrad.diag(x[2])[:, None]
    return y.sum(0) + embedded.sum(0)[:, :1] * diags + filled


def _take_ops(x, i):
    scalar = x[0, 0, 0]
    picked = scalar.index_select(0, irgrad.tensor([0])) * x.take(i)
    return picked + x.sum(0).diagonal()[:3]


@pytest.mark.parametrize("fn", [_diagonal_ops, _take_ops])
def test_compiled_functions_match_eager_without_graph_breaks(backend, fn):
    compiled = irgrad.compile(fn, backend=backend)
    for seed in range(3):
        rng = np.random.default_rng(seed)
        x = rng.standard_normal((3, 4, 5)).astype(np.float32)
        index = irgrad.tensor(rng.integers(-60, 60, (2, 3)))
        eager_in, compiled_in = (irgrad.tensor(x, requires_grad=True) for _ in range(2))
        want = fn(eager_in, index)
        got = compiled(compiled_in, index)
        np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), rtol=1e-5, atol=1e-6)
        cotangent = irgrad.tensor(rng.standard_normal(tuple(want.shape)).astype(np.float32))
        want.backward(cotangent)
        got.backward(cotangent)
        np.testing.assert_allclose(compiled_in.grad.numpy(), eager_in.grad.numpy(), rtol=1e-5, atol=1e-6)
    assert_graphs_answered(compiled)


def test_compiled_take_checks_its_indices_as_eager(backend):
    compiled = irgrad.compile(lambda x, i: x.take(i) * 2, backend=backend)
    x = irgrad.ones(2, 3)
    for _ in range(3):
        compiled(x, irgrad.tensor([0, -6]))
    with pytest.raises(IndexError, match="tried to access index 6 on a tensor of 6 elements"):
        compiled(x, irgrad.tensor([0, 6]))
