"""``nn.utils.rnn`` (pad_sequence, pack_padded_sequence, pad_packed_sequence, pack_sequence ...)
against PyTorch on hypothesis-generated batches: layouts, values, lengths, indices, gradients."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import irgrad
import irgrad.nn  # noqa: F401
from irgrad.nn.utils import rnn as irnn

torch = pytest.importorskip("torch")
trnn = torch.nn.utils.rnn

SETTINGS = settings(max_examples=30, deadline=None, derandomize=True)
lengths_st = st.lists(st.integers(1, 6), min_size=1, max_size=5)
trailing_st = st.sampled_from([(), (2,), (2, 3)])


def sequences(lengths, trailing, seed, dtype=np.float32):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((n, *trailing)).astype(dtype) for n in lengths]


@SETTINGS
@given(
    lengths=st.lists(st.integers(0, 5), min_size=1, max_size=5).filter(lambda ls: max(ls) > 0),
    trailing=trailing_st,
    batch_first=st.booleans(),
    side=st.sampled_from(["left", "right"]),
    value=st.sampled_from([0.0, -1.5]),
)
def test_pad_sequence(lengths, trailing, batch_first, side, value):
    seqs = sequences(lengths, trailing, len(lengths))
    tseqs = [torch.tensor(s, requires_grad=True) for s in seqs]
    iseqs = [irgrad.tensor(s, requires_grad=True) for s in seqs]
    t = trnn.pad_sequence(tseqs, batch_first=batch_first, padding_value=value, padding_side=side)
    i = irnn.pad_sequence(iseqs, batch_first=batch_first, padding_value=value, padding_side=side)
    assert tuple(i.shape) == tuple(t.shape)
    np.testing.assert_array_equal(i.detach().numpy(), t.detach().numpy())
    g = np.random.default_rng(0).standard_normal(tuple(t.shape)).astype(np.float32)
    (t * torch.tensor(g)).sum().backward()
    (i * irgrad.tensor(g)).sum().backward()
    for ts, is_ in zip(tseqs, iseqs):
        if ts.numel():  # an empty sequence takes no part in the result
            np.testing.assert_array_equal(is_.grad.numpy(), ts.grad.numpy())


def test_pad_sequence_integers_and_errors():
    seqs = [np.array([1, 2, 3]), np.array([4])]
    i = irnn.pad_sequence([irgrad.tensor(s) for s in seqs], batch_first=True, padding_value=-1)
    t = trnn.pad_sequence([torch.tensor(s) for s in seqs], batch_first=True, padding_value=-1)
    assert i.dtype == irgrad.int64
    assert i.tolist() == t.tolist()
    with pytest.raises(RuntimeError, match="Expected padding_side to be one of left or right, but got mid"):
        irnn.pad_sequence([irgrad.ones(2)], padding_side="mid")
    with pytest.raises(RuntimeError):
        irnn.pad_sequence([irgrad.ones(2), irgrad.ones(2, 3)])


@SETTINGS
@given(
    lengths=lengths_st,
    trailing=trailing_st,
    batch_first=st.booleans(),
    as_tensor=st.booleans(),
    extra=st.integers(0, 2),
)
def test_pack_pad_round_trip_unsorted(lengths, trailing, batch_first, as_tensor, extra):
    T = max(lengths) + extra
    rng = np.random.default_rng(len(lengths))
    shape = (len(lengths), T, *trailing) if batch_first else (T, len(lengths), *trailing)
    x = rng.standard_normal(shape).astype(np.float32)
    tx, ix = torch.tensor(x, requires_grad=True), irgrad.tensor(x, requires_grad=True)
    tl = torch.tensor(lengths) if as_tensor else lengths
    il = irgrad.tensor(lengths) if as_tensor else lengths
    tp = trnn.pack_padded_sequence(tx, tl, batch_first=batch_first, enforce_sorted=False)
    ip = irnn.pack_padded_sequence(ix, il, batch_first=batch_first, enforce_sorted=False)
    np.testing.assert_array_equal(ip.data.detach().numpy(), tp.data.detach().numpy())
    assert ip.batch_sizes.dtype == irgrad.int64
    assert ip.batch_sizes.tolist() == tp.batch_sizes.tolist()
    assert ip.sorted_indices.tolist() == tp.sorted_indices.tolist()
    assert ip.unsorted_indices.tolist() == tp.unsorted_indices.tolist()
    total = T + 1
    tpad, tlen = trnn.pad_packed_sequence(tp, batch_first=batch_first, padding_value=7.0, total_length=total)
    ipad, ilen = irnn.pad_packed_sequence(ip, batch_first=batch_first, padding_value=7.0, total_length=total)
    np.testing.assert_array_equal(ipad.detach().numpy(), tpad.detach().numpy())
    assert ilen.dtype == irgrad.int64 and ilen.tolist() == tlen.tolist()
    g = rng.standard_normal(tuple(tpad.shape)).astype(np.float32)
    (tpad * torch.tensor(g)).sum().backward()
    (ipad * irgrad.tensor(g)).sum().backward()
    np.testing.assert_array_equal(ix.grad.numpy(), tx.grad.numpy())


@SETTINGS
@given(lengths=lengths_st, trailing=trailing_st)
def test_pack_sorted_and_pack_sequence(lengths, trailing):
    lengths = sorted(lengths, reverse=True)
    seqs = sequences(lengths, trailing, 3)
    tp = trnn.pack_sequence([torch.tensor(s) for s in seqs])
    ip = irnn.pack_sequence([irgrad.tensor(s) for s in seqs])
    assert ip.sorted_indices is None and ip.unsorted_indices is None
    np.testing.assert_array_equal(ip.data.numpy(), tp.data.numpy())
    assert ip.batch_sizes.tolist() == tp.batch_sizes.tolist()
    for a, b in zip(irnn.unpack_sequence(ip), seqs):
        np.testing.assert_array_equal(a.numpy(), b)


def test_pack_sequence_unsorted_unpack_and_unpad():
    seqs = sequences([2, 5, 3], (2,), 4)
    ip = irnn.pack_sequence([irgrad.tensor(s) for s in seqs], enforce_sorted=False)
    tp = trnn.pack_sequence([torch.tensor(s) for s in seqs], enforce_sorted=False)
    np.testing.assert_array_equal(ip.data.numpy(), tp.data.numpy())
    for a, b in zip(irnn.unpack_sequence(ip), seqs):
        np.testing.assert_array_equal(a.numpy(), b)
    padded = irnn.pad_sequence([irgrad.tensor(s) for s in seqs])
    for a, b in zip(irnn.unpad_sequence(padded, irgrad.tensor([2, 5, 3])), seqs):
        np.testing.assert_array_equal(a.numpy(), b)


def test_packed_sequence_type():
    ip = irnn.pack_sequence([irgrad.ones(3, 2), irgrad.ones(1, 2)])
    assert isinstance(ip, tuple) and ip._fields == (
        "data",
        "batch_sizes",
        "sorted_indices",
        "unsorted_indices",
    )
    data, batch_sizes, sorted_indices, unsorted_indices = ip
    assert batch_sizes.tolist() == [2, 1, 1]
    assert ip.double().data.dtype == irgrad.float64
    assert ip.to(irgrad.float32) is ip
    assert irnn.PackedSequence(data, batch_sizes, irgrad.tensor([1, 0])).unsorted_indices.tolist() == [1, 0]
    assert irnn.invert_permutation(irgrad.tensor([2, 0, 1])).tolist() == [1, 2, 0]


def test_pack_errors():
    x = irgrad.randn(4, 3, 2)
    with pytest.raises(
        RuntimeError, match="must be sorted in decreasing order when `enforce_sorted` is True"
    ):
        irnn.pack_padded_sequence(x, [2, 3, 1])
    with pytest.raises(RuntimeError, match="Length of all samples has to be greater than 0"):
        irnn.pack_padded_sequence(x, [3, 1, 0])
    with pytest.raises(RuntimeError, match="Expected `len\\(lengths\\)` to be equal to batch_size"):
        irnn.pack_padded_sequence(x, [3, 2])
    with pytest.raises(RuntimeError, match="exceeds the input's time dimension"):
        irnn.pack_padded_sequence(x, [5, 2, 1])
    p = irnn.pack_padded_sequence(x, [4, 2, 1])
    with pytest.raises(ValueError, match="Expected total_length to be at least the length of the longest"):
        irnn.pad_packed_sequence(p, total_length=3)
