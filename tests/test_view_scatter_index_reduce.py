"""select_scatter, slice_scatter, diagonal_scatter, index_reduce (and their Tensor
methods) and ConvTranspose{1,2,3}d's ``output_size`` against PyTorch 2.13: values,
float64 gradients by torch.autograd, error types and messages; finite differences and
compiled-vs-eager checks need no torch."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import irgrad
from irgrad.autograd import gradcheck
from irgrad.testing.differential import check_compiled

_rng = np.random.default_rng(7)


def R(*shape) -> np.ndarray:
    return _rng.standard_normal(shape)


def _tensors(lib, arrays, grad: bool) -> list:
    return [lib.tensor(a, requires_grad=grad and a.dtype == np.float64) for a in arrays]


def _matches_torch(fn, *arrays, grad: bool = True) -> None:
    """``fn(lib, *tensors)`` gives torch's value and dtype, and the float64 inputs get
    torch's gradients of a random weighting of the output."""
    torch = pytest.importorskip("torch")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs_in, ours_in = _tensors(torch, arrays, grad), _tensors(irgrad, arrays, grad)
        theirs, ours = fn(torch, *theirs_in), fn(irgrad, *ours_in)
    assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1]
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-12)
    if not theirs.requires_grad:
        return
    weights = R(*theirs.shape)
    leaves = [i for i, t in enumerate(theirs_in) if t.requires_grad]
    want = torch.autograd.grad(theirs, [theirs_in[i] for i in leaves], torch.tensor(weights))
    got = irgrad.autograd.grad(ours, [ours_in[i] for i in leaves], irgrad.tensor(weights))
    for g, w in zip(got, want):
        np.testing.assert_allclose(g.numpy(), w.numpy(), rtol=1e-10, atol=1e-12)


def _raises_like_torch(fn) -> None:
    """``fn(lib)`` raises the same exception type on both, with the same message up to
    irgrad's op-name prefix on dimension errors and its ``irgrad.Size``."""
    torch = pytest.importorskip("torch")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(Exception) as theirs:
            fn(torch)
        with pytest.raises(type(theirs.value)) as ours:
            fn(irgrad)
    assert str(ours.value).replace("irgrad.Size", "torch.Size").endswith(str(theirs.value))


VIEW_CASES = [
    ("select", lambda L, x, s: L.select_scatter(x, s, 1, -1), R(3, 4, 2), R(3, 2)),
    ("select_size1", lambda L, x, s: L.select_scatter(x, s, 0, 0), R(1, 5), R(5)),
    ("select_method", lambda L, x, s: x.select_scatter(s, 2, 1), R(2, 3, 2), R(2, 3)),
    ("select_1d", lambda L, x, s: L.select_scatter(x, s, 0, 2), R(4), np.array(2.5)),
    ("select_noncontig", lambda L, x, s: L.select_scatter(x.t(), s[::2], 0, 1), R(3, 4), R(6)),
    ("slice_step", lambda L, x, s: L.slice_scatter(x, s, 1, 1, None, 2), R(3, 4, 2), R(3, 2, 2)),
    ("slice_all", lambda L, x, s: L.slice_scatter(x, s), R(3, 4), R(3, 4)),
    ("slice_negative", lambda L, x, s: x.slice_scatter(s, -1, -3, -1), R(2, 5), R(2, 2)),
    ("slice_past_end", lambda L, x, s: L.slice_scatter(x, s, 0, 2, 100), R(3, 1), R(1, 1)),
    ("slice_empty", lambda L, x, s: L.slice_scatter(x, s, 1, 5, 9), R(3, 4), R(3, 0)),
    (
        "slice_noncontig",
        lambda L, x, s: L.slice_scatter(x.permute(1, 0), s.t(), 0, 0, 4, 3),
        R(2, 5),
        R(2, 2),
    ),
    ("diagonal", lambda L, x, s: x.diagonal_scatter(s), R(3, 4), R(3)),
    ("diagonal_above", lambda L, x, s: L.diagonal_scatter(x, s, 1, 2, 0), R(3, 4, 2), R(4, 2)),
    ("diagonal_below", lambda L, x, s: L.diagonal_scatter(x, s, -1, 0, 2), R(3, 4, 2), R(4, 2)),
    ("diagonal_missed", lambda L, x, s: L.diagonal_scatter(x, s, 7), R(3, 4), R(0)),
    ("diagonal_size1", lambda L, x, s: L.diagonal_scatter(x, s, 0, -1, -2), R(2, 1, 1), R(2, 1)),
    ("diagonal_noncontig", lambda L, x, s: L.diagonal_scatter(x.mT, s[:, ::2], 0, 1, 2), R(2, 4, 3), R(2, 6)),
    ("select_casts_src", lambda L, x, s: L.select_scatter(x, s, 0, 1), np.arange(3), np.array(1.5)),
    ("slice_float32_src64", lambda L, x, s: L.slice_scatter(x.float(), s, 0, 1), R(3), R(2)),
]


@pytest.mark.parametrize("case", VIEW_CASES, ids=[c[0] for c in VIEW_CASES])
def test_view_scatters_match_torch(case):
    name, fn, *arrays = case
    _matches_torch(fn, *arrays, grad=name != "select_casts_src")


@pytest.mark.parametrize(
    "call",
    [
        lambda L: L.select_scatter(L.zeros(3, 4), L.ones(3), 0, 1),
        lambda L: L.select_scatter(L.zeros(3, 4), L.ones(4), 0, 5),
        lambda L: L.select_scatter(L.zeros(3, 4), L.ones(4), 2, 0),
        lambda L: L.select_scatter(L.zeros(()), L.ones(()), 0, 0),
        lambda L: L.slice_scatter(L.zeros(3, 4), L.ones(3, 3), 1, 0, 4, 2),
        lambda L: L.slice_scatter(L.zeros(3, 4), L.ones(3, 2), 1, 0, 4, 0),
        lambda L: L.slice_scatter(L.zeros(3, 4), L.ones(3, 2), 1, 0, 4, -1),
        lambda L: L.slice_scatter(L.tensor(1.0), L.tensor(2.0)),
        lambda L: L.diagonal_scatter(L.zeros(3, 4), L.ones(4), -1),
        lambda L: L.diagonal_scatter(L.zeros(3, 4), L.ones(3), 0, 0, 0),
        lambda L: L.diagonal_scatter(L.zeros(2, 3, 4), L.ones(2, 3), 0, 0, 2),
        lambda L: L.select_scatter(L.arange(3), L.tensor(1.5, dtype=L.float64, requires_grad=True), 0, 1),
    ],
)
def test_view_scatter_errors_match_torch(call):
    _raises_like_torch(call)


def test_view_scatters_pass_gradcheck():
    x = irgrad.tensor(R(3, 4, 2), requires_grad=True)
    assert gradcheck(
        lambda x, s: irgrad.select_scatter(x, s, 1, 2), (x, irgrad.tensor(R(3, 2), requires_grad=True))
    )
    assert gradcheck(
        lambda x, s: irgrad.slice_scatter(x, s, 1, 0, 3, 2),
        (x, irgrad.tensor(R(3, 2, 2), requires_grad=True)),
    )
    assert gradcheck(
        lambda x, s: irgrad.diagonal_scatter(x, s, -1, 1, 0), (x, irgrad.tensor(R(2, 3), requires_grad=True))
    )


def test_view_scatters_compile():
    def fn(x, a, b, c):
        y = irgrad.select_scatter(x, a, 0, 1)
        y = irgrad.slice_scatter(y, b, 1, 1, None, 2)
        return irgrad.diagonal_scatter(y * 2, c, 1)

    arrays = [R(3, 5).astype(np.float32), R(5).astype(np.float32), R(3, 2).astype(np.float32)]
    arrays.append(R(3).astype(np.float32))
    check_compiled(fn, [arrays], backend="llvm", train=True)


ZEROS_X = np.array([[1.0, 0, 2], [3, 4, 0], [0, 0, 5], [2, 2, 2]])
ZEROS_SRC = np.array([[1.0, 0, 3], [2, 2, 0], [1, 5, 0], [0, 1, 2], [1, 0, 2]])
TIES_X = np.array([[1.0, 2, 2], [3, 3, 0]])
TIES_SRC = np.array([[1.0, 2, 3], [3, 2, 2], [1, 2, 0]])
REDUCES = ["prod", "mean", "amax", "amin"]


@pytest.mark.parametrize("reduce", REDUCES)
@pytest.mark.parametrize("include_self", [True, False])
def test_index_reduce_matches_torch(reduce, include_self):
    kw = {"include_self": include_self}
    _matches_torch(
        lambda L, x, s: L.index_reduce(x, 0, L.tensor([0, 2, 0, 3, 0]), s, reduce, **kw), ZEROS_X, ZEROS_SRC
    )
    _matches_torch(lambda L, x, s: x.index_reduce(0, L.tensor([1, 0, 1]), s, reduce, **kw), TIES_X, TIES_SRC)
    _matches_torch(lambda L, x, s: x.index_reduce(1, L.tensor([0, 0]), s, reduce, **kw), R(4, 3), R(4, 2))
    _matches_torch(lambda L, x, s: x.index_reduce(-1, L.tensor([0]), s, reduce, **kw), R(2, 1, 1), R(2, 1, 1))
    _matches_torch(
        lambda L, x, s: x.mT.index_reduce(0, L.tensor([2, 0, 2], dtype=L.int32), s[::2], reduce, **kw),
        R(2, 3),
        R(6, 2),
        grad=include_self,
    )
    _matches_torch(lambda L, x, s: L.index_reduce(x, 0, L.tensor(1), s, reduce, **kw), R(3), R(1))
    _matches_torch(
        lambda L, x, s: x.index_reduce(0, L.tensor([1, 1, 2]), s, reduce, **kw),
        np.array([1, -7, 3]),
        np.array([3, 4, -9]),
    )


def test_index_reduce_backward_without_self_refuses_an_int32_index_as_torch():
    def call(L):
        x = L.ones(3, 2, dtype=L.float64, requires_grad=True)
        y = x.index_reduce(
            0, L.tensor([2, 0], dtype=L.int32), L.ones(2, 2, dtype=L.float64), "amax", include_self=False
        )
        y.sum().backward()

    _raises_like_torch(call)


@pytest.mark.parametrize("reduce", REDUCES)
def test_index_reduce_in_place_matches_torch(reduce):
    def fn(L, x, s):
        y = x * 1
        y.index_reduce_(1, L.tensor([2, 0, 2]), s, reduce, include_self=False)
        return y

    _matches_torch(fn, R(3, 4), R(3, 3))


@pytest.mark.parametrize(
    "call",
    [
        lambda L: L.index_reduce(L.zeros(3, 4), 0, L.tensor([0, 1]), L.ones(2, 4), "sum"),
        lambda L: L.index_reduce(L.zeros(3, 4), 0, L.tensor([0, 1]), L.ones(2, 4), "prod", include_self=1),
        lambda L: L.index_reduce(L.zeros(3, 4), 0, L.tensor([0, 5]), L.ones(2, 4), "prod"),
        lambda L: L.index_reduce(L.zeros(3, 4), 0, L.tensor([0, -1]), L.ones(2, 4), "prod"),
        lambda L: L.index_reduce(L.zeros(3, 4), 0, L.tensor([0, 1]), L.ones(3, 4), "prod"),
        lambda L: L.index_reduce(L.zeros(3, 4), 0, L.tensor([0, 1]), L.ones(2, 3), "prod"),
        lambda L: L.index_reduce(L.zeros(3, 4), 0, L.tensor([[0, 1]]), L.ones(2, 4), "prod"),
        lambda L: L.index_reduce(L.zeros(3, 4), 0, L.tensor([0.0, 1]), L.ones(2, 4), "prod"),
        lambda L: L.index_reduce(L.zeros(3, 4), 0, L.tensor([0, 1]), L.ones(2, 4, dtype=L.float64), "amax"),
        lambda L: L.index_reduce(
            L.tensor([True, False]), 0, L.tensor([1, 1]), L.tensor([True, True]), "mean"
        ),
        lambda L: L.index_reduce(L.tensor(3.0), 0, L.tensor([0]), L.tensor([2.0]), "prod"),
        lambda L: L.zeros(3).index_reduce(2, L.tensor([0]), L.ones(1), "amin"),
    ],
)
def test_index_reduce_errors_match_torch(call):
    _raises_like_torch(call)


@pytest.mark.parametrize("reduce", REDUCES)
@pytest.mark.parametrize("include_self", [True, False])
def test_index_reduce_passes_gradcheck(reduce, include_self):
    x = irgrad.tensor(R(3, 4), requires_grad=True)
    src = irgrad.tensor(R(5, 3), requires_grad=True)
    index = irgrad.tensor([2, 0, 2, 3, 2])
    assert gradcheck(lambda x, s: x.index_reduce(1, index, s.mT, reduce, include_self=include_self), (x, src))


@pytest.mark.parametrize("reduce", REDUCES)
def test_index_reduce_compiles(reduce):
    def fn(x, s):
        return (x * 2).index_reduce(0, irgrad.tensor([1, 0, 1]), s, reduce, include_self=reduce != "mean")

    check_compiled(fn, [[R(2, 3).astype(np.float32), R(3, 3).astype(np.float32)]], backend="llvm", train=True)


@pytest.mark.parametrize("n", [1, 2, 3])
def test_conv_transpose_output_size_matches_torch(n):
    torch = pytest.importorskip("torch")
    ours = getattr(irgrad.nn, f"ConvTranspose{n}d")(
        2, 3, (3, 2, 3)[:n], stride=(3, 2, 1)[:n], padding=1, dilation=2
    )
    theirs = getattr(torch.nn, f"ConvTranspose{n}d")(
        2, 3, (3, 2, 3)[:n], stride=(3, 2, 1)[:n], padding=1, dilation=2
    )
    theirs.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ours.state_dict().items()})
    x = R(1, 2, *(4, 3, 2)[:n]).astype(np.float32)
    low = [(s - 1) * t - 2 + 2 * (k - 1) + 1 for s, t, k in zip((4, 3, 2), (3, 2, 1), (3, 2, 3))][:n]
    for extra in range(3):
        size = [v + min(extra, t - 1) for v, t in zip(low, (3, 2, 1))]
        for given in (size, [1, 3, *size]):
            got = ours(irgrad.tensor(x), output_size=given)
            want = theirs(torch.tensor(x), output_size=given)
            np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), rtol=1e-5, atol=1e-6)
    unbatched = ours(irgrad.tensor(x[0]), output_size=[3, *low])
    assert tuple(unbatched.shape) == tuple(theirs(torch.tensor(x[0]), output_size=[3, *low]).shape)
    for wrong in ([v + 3 for v in low], [v - 1 for v in low], low + [1]):
        _raises_like_torch(
            lambda L: (ours if L is irgrad else theirs)(L.tensor(x), output_size=wrong)  # noqa: B023
        )


def test_conv_transpose_output_size_compiles():
    layer = irgrad.nn.ConvTranspose2d(2, 3, 3, stride=2)

    def fn(x):
        return layer(x, output_size=[8, 7])

    check_compiled(fn, [[R(2, 2, 3, 3).astype(np.float32)]], backend="llvm", train=True)
