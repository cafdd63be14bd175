"""The Tensor API: creation, random, views sharing storage, in-place ops and versions,
``__setitem__``, conversions, DLPack, dtype conversion methods, Size/device and repr."""

from __future__ import annotations

import numpy as np
import pytest

import irgrad

# --- creation -------------------------------------------------------------------------


def test_tensor_dtype_inference():
    assert irgrad.tensor([[1, 2], [3, 4]]).dtype is irgrad.int64
    assert irgrad.tensor([1.0, 2]).dtype is irgrad.float32
    assert irgrad.tensor([True, False]).dtype is irgrad.bool
    assert irgrad.tensor(np.array([1, 2], np.int32)).dtype is irgrad.int32
    assert irgrad.tensor(np.array([1.0], np.float64)).dtype is irgrad.float64
    assert irgrad.tensor(np.float64(2.0)).dtype is irgrad.float64
    assert irgrad.tensor([irgrad.tensor(1.0), irgrad.tensor(2.0)]).tolist() == [1.0, 2.0]
    assert irgrad.tensor([1, 2], dtype=irgrad.float64).dtype is irgrad.float64
    assert irgrad.tensor(3).shape == () and irgrad.tensor([]).shape == (0,)
    with pytest.raises((TypeError, ValueError)):
        irgrad.tensor([[1, 2], [3]])


def test_tensor_copies_but_as_tensor_and_from_numpy_share():
    a = np.arange(4.0, dtype=np.float32)
    t = irgrad.tensor(a)
    a[0] = 9
    assert t[0].item() == 0.0
    shared = irgrad.as_tensor(a)
    zero_copy = irgrad.from_numpy(a)
    a[1] = 7
    assert shared[1].item() == 7 and zero_copy[1].item() == 7
    zero_copy[2] = -1
    assert a[2] == -1
    assert zero_copy.numpy() is a or np.shares_memory(zero_copy.numpy(), a)
    converted = irgrad.as_tensor(a, dtype=irgrad.float64)
    assert converted.dtype is irgrad.float64 and not np.shares_memory(converted.numpy(), a)
    with pytest.raises(TypeError):
        irgrad.from_numpy([1, 2])


def test_factories():
    assert irgrad.zeros(2, 3).shape == (2, 3) and irgrad.zeros((2, 3)).dtype is irgrad.float32
    assert irgrad.ones([4]).tolist() == [1.0] * 4
    assert irgrad.full((2,), 7).dtype is irgrad.int64
    assert irgrad.full((2,), 7.0).dtype is irgrad.float32
    assert irgrad.full((2,), True).dtype is irgrad.bool
    assert irgrad.empty(3, 2).shape == (3, 2)
    x = irgrad.ones(2, 3, dtype=irgrad.float64)
    for fn in (irgrad.zeros_like, irgrad.ones_like, irgrad.empty_like, irgrad.randn_like, irgrad.rand_like):
        y = fn(x)
        assert y.shape == x.shape and y.dtype is irgrad.float64
    assert irgrad.full_like(x, 3).tolist() == [[3.0] * 3] * 2
    assert irgrad.zeros_like(x, dtype=irgrad.int64).dtype is irgrad.int64
    assert irgrad.zeros(2, requires_grad=True).requires_grad
    with pytest.raises(RuntimeError):
        irgrad.zeros(-1)


def test_arange_linspace_eye():
    assert irgrad.arange(5).tolist() == [0, 1, 2, 3, 4] and irgrad.arange(5).dtype is irgrad.int64
    assert irgrad.arange(1, 2, 0.25).dtype is irgrad.float32
    assert irgrad.arange(1, 2, 0.25).tolist() == [1.0, 1.25, 1.5, 1.75]
    assert irgrad.arange(5.0).dtype is irgrad.float32
    assert irgrad.arange(0, 10, 3, dtype=irgrad.float64).tolist() == [0.0, 3.0, 6.0, 9.0]
    assert irgrad.linspace(0, 1, 5).tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert irgrad.linspace(0, 1, 5).dtype is irgrad.float32
    assert irgrad.eye(3).tolist() == np.eye(3).tolist()
    assert irgrad.eye(2, 3).shape == (2, 3)


def test_random_reproducible_with_manual_seed():
    # irgrad draws from numpy's PCG64: same seed, same numbers; not torch's numbers (documented).
    draws = []
    for _ in range(2):
        irgrad.manual_seed(123)
        draws.append([irgrad.randn(3, 2), irgrad.rand(4), irgrad.randint(0, 10, (5,)), irgrad.randperm(6)])
    for a, b in zip(*draws):
        assert a.tolist() == b.tolist() and a.dtype is b.dtype
    randn, rand, randint, perm = draws[0]
    assert randn.dtype is irgrad.float32 and rand.dtype is irgrad.float32
    assert randint.dtype is irgrad.int64 and ((randint >= 0) & (randint < 10)).all()
    assert sorted(perm.tolist()) == list(range(6))
    assert ((rand >= 0) & (rand < 1)).all()
    assert irgrad.randint(3, (2, 2)).shape == (2, 2)
    irgrad.manual_seed(1)
    first = irgrad.randn(5)
    assert irgrad.randn(5).tolist() != first.tolist()
    g = irgrad.Generator().manual_seed(5)
    assert (
        irgrad.randn(3, generator=g).tolist()
        == irgrad.randn(3, generator=irgrad.Generator().manual_seed(5)).tolist()
    )


def test_random_distributions():
    irgrad.manual_seed(0)
    x = irgrad.randn(20000, dtype=irgrad.float64)
    assert abs(x.mean().item()) < 0.05 and abs(x.std().item() - 1) < 0.05
    u = irgrad.rand(20000)
    assert abs(u.mean().item() - 0.5) < 0.02


# --- views share storage --------------------------------------------------------------

VIEWS = [
    ("view", lambda x: x.view(5, 4)),
    ("view_flat", lambda x: x.view(-1)),
    ("reshape", lambda x: x.reshape(2, 10)),
    ("transpose", lambda x: x.transpose(0, 1)),
    ("t", lambda x: x.t()),
    ("T", lambda x: x.T),
    ("permute", lambda x: x.permute(1, 0)),
    ("slice", lambda x: x[1:, ::2]),
    ("int_index", lambda x: x[1]),
    ("ellipsis", lambda x: x[..., 2]),
    ("squeeze", lambda x: x.unsqueeze(0).squeeze(0)),
    ("unsqueeze", lambda x: x.unsqueeze(1)),
    ("expand", lambda x: x[:, :1].expand(4, 5)),
    ("narrow", lambda x: x.narrow(1, 1, 3)),
    ("select", lambda x: x.select(0, 2) if hasattr(x, "select") else x[2]),
    ("chunk", lambda x: x.chunk(2, 1)[1]),
    ("split", lambda x: x.split(1, 0)[2]),
    ("unbind", lambda x: x.unbind(0)[1]),
    ("detach", lambda x: x.detach()),
    ("data", lambda x: x.data),
    ("flatten_contig", lambda x: x.flatten()),
    ("mT", lambda x: x.mT),
]


@pytest.mark.parametrize("make", [pytest.param(f, id=n) for n, f in VIEWS])
def test_views_share_storage_both_ways(make):
    base = irgrad.arange(20.0).reshape(4, 5)
    view = make(base)
    expected = make(irgrad.tensor(base.numpy().copy())).numpy()
    assert np.shares_memory(view.numpy(), base.numpy())
    base.mul_(2)  # write through the base: visible in the view
    np.testing.assert_array_equal(view.numpy(), expected * 2)
    if view.numpy().flags.writeable:
        view.add_(1)  # write through the view: visible in the base
        np.testing.assert_array_equal(make(base).numpy(), expected * 2 + 1)
        assert base._version == view._version


def test_view_on_non_contiguous_raises():
    x = irgrad.arange(6.0).reshape(2, 3).t()
    with pytest.raises(RuntimeError, match="view"):
        x.view(6)
    assert x.reshape(6).tolist() == [0.0, 3.0, 1.0, 4.0, 2.0, 5.0]
    assert not x.is_contiguous() and x.contiguous().is_contiguous()
    assert x.contiguous().view(6).tolist() == [0.0, 3.0, 1.0, 4.0, 2.0, 5.0]


def test_contiguous_and_clone_copy():
    x = irgrad.arange(6.0).reshape(2, 3)
    assert x.contiguous() is x
    c = x.clone()
    c[0, 0] = 100
    assert x[0, 0].item() == 0


# --- in-place ops and version counters -------------------------------------------------


def test_inplace_ops_values_and_versions():
    x = irgrad.ones(3)
    v = x._version
    assert x.add_(2) is x and x.tolist() == [3.0] * 3
    x.sub_(1).mul_(3).div_(2)
    assert x.tolist() == [3.0] * 3
    x.add_(irgrad.tensor([1.0, 2.0, 3.0]), alpha=2)
    assert x.tolist() == [5.0, 7.0, 9.0]
    x.clamp_(6, 8)
    assert x.tolist() == [6.0, 7.0, 8.0]
    x.fill_(2.5)
    assert x.tolist() == [2.5] * 3
    x.copy_(irgrad.tensor([1, 2, 3]))
    assert x.tolist() == [1.0, 2.0, 3.0] and x.dtype is irgrad.float32
    x.zero_()
    assert x.tolist() == [0.0] * 3
    assert x._version > v
    x += 1
    x *= irgrad.tensor([1.0, 2.0, 3.0])
    assert x.tolist() == [1.0, 2.0, 3.0]
    irgrad.manual_seed(0)
    x.uniform_(-1, 1)
    assert ((x >= -1) & (x < 1)).all()
    x.normal_(0, 1)
    assert x.shape == (3,)


def test_inplace_dtype_rules():
    x = irgrad.tensor([1, 2, 3])
    with pytest.raises(RuntimeError):
        x.add_(1.5)  # float result can't be cast to int64 in place
    x.mul_(2)
    assert x.tolist() == [2, 4, 6] and x.dtype is irgrad.int64
    with pytest.raises(RuntimeError):
        x.div_(2)


def test_inplace_on_saved_tensor_raises_at_backward():
    a = irgrad.tensor([1.0, 2.0], requires_grad=True)
    b = a * 1
    c = b * b
    b.add_(1)
    with pytest.raises(RuntimeError, match="inplace"):
        c.sum().backward()


def test_inplace_on_leaf_requiring_grad_raises():
    a = irgrad.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf"):
        a.add_(1)
    with irgrad.no_grad():
        a.add_(1)
    assert a.tolist() == [2.0, 3.0]
    a.data.mul_(2)
    assert a.tolist() == [4.0, 6.0]


# --- __setitem__ ----------------------------------------------------------------------

SETITEMS = [
    ("int", lambda x: (1,), lambda: 5.0),
    ("neg_int", lambda x: (-1,), lambda: 5.0),
    ("slice", lambda x: (slice(1, 3),), lambda: 2.0),
    ("slice_step", lambda x: (slice(None, None, 2), 1), lambda: -1.0),
    ("row_broadcast", lambda x: (slice(None),), lambda: np.arange(5.0)),
    ("column", lambda x: (slice(None), 2), lambda: np.arange(4.0)),
    ("ellipsis", lambda x: (Ellipsis, 0), lambda: 3.0),
    ("none", lambda x: (None, 1), lambda: 3.0),
    ("bool_mask", lambda x: (x > 0,), lambda: 0.0),
    ("bool_mask_rows", lambda x: (np.array([True, False, True, False]),), lambda: np.arange(5.0)),
    ("int_array", lambda x: (np.array([0, 2]),), lambda: 9.0),
    ("int_list", lambda x: ([3, 1],), lambda: np.arange(10.0).reshape(2, 5)),
    ("two_int_arrays", lambda x: (np.array([0, 1]), np.array([4, 0])), lambda: np.array([7.0, 8.0])),
    ("tensor_value_broadcast", lambda x: (slice(0, 2), slice(1, 3)), lambda: np.array([[1.0], [2.0]])),
    ("false", lambda x: (False,), lambda: 1.0),
]


@pytest.mark.parametrize("index,value", [pytest.param(i, v, id=n) for n, i, v in SETITEMS])
def test_setitem_matches_numpy(index, value):
    data = np.random.default_rng(0).standard_normal((4, 5)).astype(np.float32)
    x = irgrad.tensor(data)
    idx = index(data)
    idx_t = tuple(irgrad.tensor(i) if isinstance(i, np.ndarray) else i for i in idx)
    val = value()
    expected = data.copy()
    writes = idx != (False,) if not isinstance(idx[0], np.ndarray) else True
    if writes:
        expected[idx] = val
    version = x._version
    x[idx_t if len(idx_t) > 1 else idx_t[0]] = irgrad.tensor(val) if isinstance(val, np.ndarray) else val
    np.testing.assert_array_equal(x.numpy(), expected)
    assert x._version > version or not writes


def test_setitem_through_view_and_value_dtype():
    x = irgrad.zeros(2, 3)
    row = x[1]
    row[1:] = irgrad.tensor([1, 2])  # an int tensor is converted to x's dtype
    assert x.tolist() == [[0.0, 0.0, 0.0], [0.0, 1.0, 2.0]]
    with pytest.raises(IndexError):
        x[2] = 1.0
    with pytest.raises(RuntimeError):
        x[0] = irgrad.ones(4)


def test_setitem_with_autograd():
    w = irgrad.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = w * 1
    y[1] = 0.0
    y.sum().backward()
    assert w.grad.tolist() == [1.0, 0.0, 1.0]
    v = irgrad.tensor(5.0, requires_grad=True)
    z = irgrad.zeros(3)
    z[0] = v * 2
    z.sum().backward()
    assert v.grad.item() == 2.0


# --- conversions ---------------------------------------------------------------------


def test_numpy_item_tolist():
    x = irgrad.tensor([[1.5, 2.0]])
    assert isinstance(x.numpy(), np.ndarray) and np.shares_memory(x.numpy(), x.numpy())
    assert x[0, 0].item() == 1.5 and isinstance(x[0, 0].item(), float)
    assert isinstance(irgrad.tensor([3])[0].item(), int)
    assert isinstance(irgrad.tensor(True).item(), bool)
    assert x.tolist() == [[1.5, 2.0]] and irgrad.tensor(2).tolist() == 2
    assert irgrad.ones(1, 1).item() == 1.0
    with pytest.raises(RuntimeError):
        x.item()
    with pytest.raises(RuntimeError, match="detach"):
        irgrad.ones(2, requires_grad=True).numpy()
    assert irgrad.ones(2, requires_grad=True).detach().numpy().tolist() == [1.0, 1.0]


def test_array_protocol_and_python_scalars():
    x = irgrad.tensor([1.0, 2.0])
    a = np.asarray(x)
    assert a.dtype == np.float32 and np.shares_memory(a, x.numpy())
    assert np.asarray(x, dtype=np.float64).dtype == np.float64
    assert np.array(x).tolist() == [1.0, 2.0]
    assert float(irgrad.tensor([2.5])) == 2.5 and int(irgrad.tensor(3.9)) == 3
    assert bool(irgrad.tensor([0.0])) is False and bool(irgrad.tensor(1))
    for conv in (float, int, bool):
        with pytest.raises(RuntimeError):
            conv(x)
    assert [1, 2, 3][irgrad.tensor(1)] == 2
    with pytest.raises(TypeError):
        [1, 2][irgrad.tensor(1.0)]
    assert len(irgrad.zeros(4, 2)) == 4
    with pytest.raises(TypeError):
        len(irgrad.tensor(1.0))
    assert [t.tolist() for t in irgrad.tensor([[1, 2], [3, 4]])] == [[1, 2], [3, 4]]
    assert f"{irgrad.tensor(2.5):.2f}" == "2.50"


def test_dlpack_numpy_round_trip_shares_memory():
    x = irgrad.arange(6.0).reshape(2, 3)
    a = np.from_dlpack(x)
    assert np.shares_memory(a, x.numpy()) and a.shape == (2, 3)
    b = np.arange(4, dtype=np.int32)
    t = irgrad.from_dlpack(b)
    b[0] = 42
    assert t.dtype is irgrad.int32 and t[0].item() == 42
    with pytest.raises(RuntimeError):
        np.from_dlpack(irgrad.ones(2, requires_grad=True))


def test_dlpack_torch_round_trip_shares_memory():
    torch = pytest.importorskip("torch")
    x = irgrad.arange(6.0).reshape(2, 3)
    t = torch.from_dlpack(x)
    t[0, 0] = 100
    assert x[0, 0].item() == 100 and t.dtype == torch.float32
    src = torch.arange(4, dtype=torch.float64)
    mine = irgrad.from_dlpack(src)
    src[1] = -5
    assert mine.dtype is irgrad.float64 and mine[1].item() == -5
    mine[2] = 7
    assert src[2].item() == 7


def test_dtype_conversion_methods():
    x = irgrad.tensor([1.5, -2.5, 0.0])
    assert x.float() is x
    assert x.double().dtype is irgrad.float64
    assert x.long().tolist() == [1, -2, 0] and x.long().dtype is irgrad.int64
    assert x.int().dtype is irgrad.int32
    assert x.bool().tolist() == [True, True, False]
    assert x.to(irgrad.float64).dtype is irgrad.float64
    assert x.to(dtype=irgrad.int64).dtype is irgrad.int64
    assert x.to("cpu") is x and x.to(irgrad.device("cpu")) is x
    assert x.type(irgrad.int32).dtype is irgrad.int32 and x.type() == "torch.FloatTensor"
    assert x.to(irgrad.float32, copy=True) is not x
    g = irgrad.tensor([1.0, 2.0], requires_grad=True)
    g.double().sum().backward()
    assert g.grad.dtype is irgrad.float32 and g.grad.tolist() == [1.0, 1.0]


def test_T_mT_size_device_metadata():
    x = irgrad.zeros(2, 3, 4)
    assert x.mT.shape == (2, 4, 3) and x.T.shape == (4, 3, 2)
    assert irgrad.zeros(2, 3).T.shape == (3, 2)
    with pytest.raises(RuntimeError):
        _ = irgrad.zeros(3).mT
    assert repr(x.shape) == "irgrad.Size([2, 3, 4])" and x.shape == (2, 3, 4)
    assert isinstance(x.size(), irgrad.Size) and x.size(1) == 3 and x.size(-1) == 4
    assert x.shape.numel() == 24 and x.numel() == 24 and x.dim() == 3 and x.ndim == 3
    assert x.device == irgrad.device("cpu") and str(x.device) == "cpu" and x.device.type == "cpu"
    assert repr(x.device) == "device(type='cpu')"
    assert x.is_leaf and not x.requires_grad and x.grad_fn is None
    assert x.is_floating_point() and not irgrad.zeros(2, dtype=irgrad.int64).is_floating_point()
    with pytest.raises(RuntimeError):
        irgrad.zeros(2, device="cuda")


# --- repr (PyTorch's exact format) ------------------------------------------------------

REPRS = [
    ("irgrad.tensor([1., 2.])", "tensor([1., 2.])"),
    ("irgrad.tensor([0.1, -2.0])", "tensor([ 0.1000, -2.0000])"),
    ("irgrad.tensor([[1.5, -2.25], [3., 4.]])", "tensor([[ 1.5000, -2.2500],\n        [ 3.0000,  4.0000]])"),
    ("irgrad.tensor([1, 2, -3])", "tensor([ 1,  2, -3])"),
    ("irgrad.tensor([[1, 20], [300, -4]])", "tensor([[  1,  20],\n        [300,  -4]])"),
    ("irgrad.tensor([True, False])", "tensor([ True, False])"),
    ("irgrad.tensor([1., 2.], requires_grad=True)", "tensor([1., 2.], requires_grad=True)"),
    ("irgrad.tensor([1., 2.], requires_grad=True) * 2", "tensor([2., 4.], grad_fn=<MulBackward0>)"),
    ("irgrad.tensor([1., 2.], dtype=irgrad.float64)", "tensor([1., 2.], dtype=irgrad.float64)"),
    ("irgrad.tensor([1, 2], dtype=irgrad.int32)", "tensor([1, 2], dtype=irgrad.int32)"),
    ("irgrad.tensor(3.5)", "tensor(3.5000)"),
    ("irgrad.tensor(3)", "tensor(3)"),
    ("irgrad.tensor([])", "tensor([])"),
    ("irgrad.zeros(0, 3)", "tensor([], size=(0, 3))"),
    ("irgrad.zeros(0, dtype=irgrad.int64)", "tensor([], dtype=irgrad.int64)"),
    ("irgrad.tensor([1e-5, 1.0])", "tensor([1.0000e-05, 1.0000e+00])"),
    ("irgrad.tensor([float('nan'), 1.0, float('inf')])", "tensor([nan, 1., inf])"),
    ("irgrad.tensor([100., 2.5])", "tensor([100.0000,   2.5000])"),
    (
        "irgrad.arange(2000.)",
        "tensor([0.0000e+00, 1.0000e+00, 2.0000e+00,  ..., 1.9970e+03, 1.9980e+03,\n        1.9990e+03])",
    ),
    (
        "irgrad.arange(12.).reshape(3, 4)",
        "tensor([[ 0.,  1.,  2.,  3.],\n        [ 4.,  5.,  6.,  7.],\n        [ 8.,  9., 10., 11.]])",
    ),
    (
        "irgrad.tensor([1.5], dtype=irgrad.float64, requires_grad=True)",
        "tensor([1.5000], dtype=irgrad.float64, requires_grad=True)",
    ),
]


@pytest.mark.parametrize("expr,expected", REPRS, ids=[e for e, _ in REPRS])
def test_repr_known(expr, expected):
    assert repr(eval(expr)) == expected


REPR_EXPRS = [
    "L.tensor([[1e-5, 2.], [3., -4.]], requires_grad=True)",
    "L.arange(2000).reshape(40, 50)",
    "L.arange(2000.).reshape(40, 50) / 7",
    "L.arange(30.) / 3",
    "L.ones(2, 3, 4)",
    "L.tensor([1e20, -1.])",
    "L.arange(60.).reshape(3, 4, 5) - 20",
    "L.tensor([[0.001, 0.01]])",
    "L.tensor([-0.5], dtype=L.float16)",
    "L.tensor([1.123456789, -1e-3])",
    "L.tensor([[True], [False]])",
    "L.arange(5000).reshape(5, 10, 100)",
]


@pytest.mark.parametrize("expr", REPR_EXPRS)
def test_repr_matches_torch(expr):
    torch = pytest.importorskip("torch")
    mine = repr(eval(expr, {"L": irgrad})).replace("irgrad.", "")
    theirs = repr(eval(expr, {"L": torch})).replace("torch.", "")
    assert mine == theirs


def test_view_dtype_reinterprets_bits_and_shares_storage():
    torch = pytest.importorskip("torch")
    a = irgrad.ones(2, 4)
    for dt, tdt in (
        (irgrad.int32, torch.int32),
        (irgrad.float64, torch.float64),
        (irgrad.uint8, torch.uint8),
    ):
        ours, theirs = a.view(dt), torch.ones(2, 4).view(tdt)
        assert tuple(ours.shape) == tuple(theirs.shape)
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    bits = a.view(irgrad.int32)
    bits[0, 0] = 0
    assert a[0, 0].item() == 0.0
