"""RNN, LSTM, GRU and their cells against PyTorch: with torch's weights copied in through a
state dict, outputs, final states and the gradients of the input, the initial states and
every parameter must agree, for padded and packed (variable-length) batches."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest

import irgrad
import irgrad.nn as nn
from irgrad.nn.utils import rnn as irnn

torch = pytest.importorskip("torch")

KINDS = ["RNN", "LSTM", "GRU"]
TOL = dict(rtol=1e-4, atol=1e-5)


def copy_weights(tm, im) -> None:
    assert list(tm.state_dict()) == list(im.state_dict())
    im.load_state_dict({k: irgrad.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})


def make_pair(kind: str, *args, seed: int = 0, **kwargs):
    torch.manual_seed(seed)
    tm = getattr(torch.nn, kind)(*args, **kwargs)
    im = getattr(nn, kind)(*args, **kwargs)
    copy_weights(tm, im)
    return tm, im


def as_states(kind: str, states: list):
    return tuple(states) if kind in ("LSTM", "LSTMCell") else states[0]


def flat_states(kind: str, out) -> list:
    return list(out) if kind in ("LSTM", "LSTMCell") else [out]


def close(a, b) -> None:
    np.testing.assert_allclose(np.asarray(b.detach()), a.detach().numpy(), **TOL)


def backward_both(touts: list, iouts: list, rng) -> None:
    """Backpropagate the same random cotangents through both sets of outputs."""
    tloss, iloss = 0, 0
    for t, i in zip(touts, iouts):
        g = rng.standard_normal(tuple(t.shape)).astype(np.float32)
        tloss = tloss + (t * torch.tensor(g)).sum()
        iloss = iloss + (i * irgrad.tensor(g)).sum()
    tloss.backward()
    iloss.backward()


def check_param_grads(tm, im) -> None:
    for (tn, tp), (iname, ip) in zip(tm.named_parameters(), im.named_parameters()):
        assert tn == iname
        np.testing.assert_allclose(ip.grad.numpy(), tp.grad.numpy(), err_msg=tn, **TOL)


def state_shapes(kind, layers, directions, batch, hidden, proj=0):
    h = (layers * directions, batch, proj or hidden)
    return [h, (layers * directions, batch, hidden)] if kind == "LSTM" else [h]


@pytest.mark.parametrize(
    "kind,layers,batch_first,bidirectional,with_state",
    list(itertools.product(KINDS, [1, 2], [False, True], [False, True], [False, True])),
)
def test_matches_torch(kind, layers, batch_first, bidirectional, with_state):
    rng = np.random.default_rng(layers * 8 + batch_first * 4 + bidirectional * 2 + with_state)
    T, B, I, H = 5, 3, 4, 6
    tm, im = make_pair(kind, I, H, num_layers=layers, batch_first=batch_first, bidirectional=bidirectional)
    x = rng.standard_normal((B, T, I) if batch_first else (T, B, I)).astype(np.float32)
    tx, ix = torch.tensor(x, requires_grad=True), irgrad.tensor(x, requires_grad=True)
    tstates, istates = [], []
    if with_state:
        for shape in state_shapes(kind, layers, 2 if bidirectional else 1, B, H):
            s = rng.standard_normal(shape).astype(np.float32)
            tstates.append(torch.tensor(s, requires_grad=True))
            istates.append(irgrad.tensor(s, requires_grad=True))
    tout, tfinal = tm(tx, as_states(kind, tstates) if with_state else None)
    iout, ifinal = im(ix, as_states(kind, istates) if with_state else None)
    assert tuple(iout.shape) == tuple(tout.shape)
    close(tout, iout)
    for t, i in zip(flat_states(kind, tfinal), flat_states(kind, ifinal)):
        assert tuple(i.shape) == tuple(t.shape)
        close(t, i)
    backward_both([tout, *flat_states(kind, tfinal)], [iout, *flat_states(kind, ifinal)], rng)
    np.testing.assert_allclose(ix.grad.numpy(), tx.grad.numpy(), **TOL)
    for t, i in zip(tstates, istates):
        np.testing.assert_allclose(i.grad.numpy(), t.grad.numpy(), **TOL)
    check_param_grads(tm, im)


@pytest.mark.parametrize(
    "kind,layers,bidirectional,enforce_sorted,with_state",
    list(itertools.product(KINDS, [1, 2], [False, True], [True, False], [False, True])),
)
def test_packed_matches_torch(kind, layers, bidirectional, enforce_sorted, with_state):
    rng = np.random.default_rng(layers * 8 + bidirectional * 4 + enforce_sorted * 2 + with_state)
    T, I, H = 6, 3, 5
    lengths = [6, 4, 4, 2, 1] if enforce_sorted else [2, 6, 1, 4, 4]
    B = len(lengths)
    tm, im = make_pair(kind, I, H, num_layers=layers, bidirectional=bidirectional)
    x = rng.standard_normal((T, B, I)).astype(np.float32)
    tx, ix = torch.tensor(x, requires_grad=True), irgrad.tensor(x, requires_grad=True)
    tpacked = torch.nn.utils.rnn.pack_padded_sequence(tx, lengths, enforce_sorted=enforce_sorted)
    ipacked = irnn.pack_padded_sequence(ix, lengths, enforce_sorted=enforce_sorted)
    tstates, istates = [], []
    if with_state:
        for shape in state_shapes(kind, layers, 2 if bidirectional else 1, B, H):
            s = rng.standard_normal(shape).astype(np.float32)
            tstates.append(torch.tensor(s, requires_grad=True))
            istates.append(irgrad.tensor(s, requires_grad=True))
    tout, tfinal = tm(tpacked, as_states(kind, tstates) if with_state else None)
    iout, ifinal = im(ipacked, as_states(kind, istates) if with_state else None)
    assert isinstance(iout, irnn.PackedSequence)
    assert iout.batch_sizes.tolist() == tout.batch_sizes.tolist()
    if enforce_sorted:
        assert iout.sorted_indices is None and iout.unsorted_indices is None
    else:
        assert iout.sorted_indices.tolist() == tout.sorted_indices.tolist()
        assert iout.unsorted_indices.tolist() == tout.unsorted_indices.tolist()
    close(tout.data, iout.data)
    for t, i in zip(flat_states(kind, tfinal), flat_states(kind, ifinal)):
        close(t, i)
    backward_both([tout.data, *flat_states(kind, tfinal)], [iout.data, *flat_states(kind, ifinal)], rng)
    np.testing.assert_allclose(ix.grad.numpy(), tx.grad.numpy(), **TOL)
    for t, i in zip(tstates, istates):
        np.testing.assert_allclose(i.grad.numpy(), t.grad.numpy(), **TOL)
    check_param_grads(tm, im)


@pytest.mark.parametrize("kind", KINDS)
def test_unbatched_input(kind):
    rng = np.random.default_rng(1)
    tm, im = make_pair(kind, 3, 4, num_layers=2, bidirectional=True)
    x = rng.standard_normal((5, 3)).astype(np.float32)
    states = [rng.standard_normal((4, 4)).astype(np.float32) for _ in range(2 if kind == "LSTM" else 1)]
    tout, tfinal = tm(torch.tensor(x), as_states(kind, [torch.tensor(s) for s in states]))
    iout, ifinal = im(irgrad.tensor(x), as_states(kind, [irgrad.tensor(s) for s in states]))
    assert tuple(iout.shape) == (5, 8)
    close(tout, iout)
    for t, i in zip(flat_states(kind, tfinal), flat_states(kind, ifinal)):
        assert tuple(i.shape) == tuple(t.shape)
        close(t, i)


@pytest.mark.parametrize("kind", KINDS)
def test_no_bias_and_long_sequence(kind):
    """bias=False registers no biases; a sequence long enough to use the halving split of time steps."""
    rng = np.random.default_rng(2)
    tm, im = make_pair(kind, 3, 4, bias=False)
    assert [n for n, _ in im.named_parameters()] == ["weight_ih_l0", "weight_hh_l0"]
    x = rng.standard_normal((37, 2, 3)).astype(np.float32)
    tx, ix = torch.tensor(x, requires_grad=True), irgrad.tensor(x, requires_grad=True)
    tout, _ = tm(tx)
    iout, _ = im(ix)
    close(tout, iout)
    backward_both([tout], [iout], rng)
    np.testing.assert_allclose(ix.grad.numpy(), tx.grad.numpy(), **TOL)
    check_param_grads(tm, im)


def test_rnn_relu_nonlinearity():
    rng = np.random.default_rng(3)
    tm, im = make_pair("RNN", 3, 4, num_layers=2, nonlinearity="relu")
    x = rng.standard_normal((6, 2, 3)).astype(np.float32)
    tx, ix = torch.tensor(x, requires_grad=True), irgrad.tensor(x, requires_grad=True)
    tout, th = tm(tx)
    iout, ih = im(ix)
    close(tout, iout)
    close(th, ih)
    backward_both([tout, th], [iout, ih], rng)
    np.testing.assert_allclose(ix.grad.numpy(), tx.grad.numpy(), **TOL)
    check_param_grads(tm, im)


@pytest.mark.parametrize("bidirectional", [False, True])
def test_lstm_proj_size(bidirectional):
    rng = np.random.default_rng(4)
    tm, im = make_pair("LSTM", 3, 6, num_layers=2, proj_size=2, bidirectional=bidirectional, batch_first=True)
    x = rng.standard_normal((2, 5, 3)).astype(np.float32)
    tx, ix = torch.tensor(x, requires_grad=True), irgrad.tensor(x, requires_grad=True)
    tout, (th, tc) = tm(tx)
    iout, (ih, ic) = im(ix)
    for t, i in ((tout, iout), (th, ih), (tc, ic)):
        assert tuple(i.shape) == tuple(t.shape)
        close(t, i)
    backward_both([tout, th, tc], [iout, ih, ic], rng)
    np.testing.assert_allclose(ix.grad.numpy(), tx.grad.numpy(), **TOL)
    check_param_grads(tm, im)


@pytest.mark.parametrize("kind", KINDS)
def test_parameters_as_torch(kind):
    """Names, shapes, order and the U(-1/sqrt(H), 1/sqrt(H)) initialisation."""
    torch.manual_seed(0)
    irgrad.manual_seed(0)
    tm = getattr(torch.nn, kind)(5, 16, num_layers=3, bidirectional=True)
    im = getattr(nn, kind)(5, 16, num_layers=3, bidirectional=True)
    tshapes = [(n, tuple(p.shape)) for n, p in tm.named_parameters()]
    assert [(n, tuple(p.shape)) for n, p in im.named_parameters()] == tshapes
    assert [tuple(w.shape) for ws in im.all_weights for w in ws] == [s for _, s in tshapes]
    bound = 1 / np.sqrt(16)
    values = np.concatenate([p.detach().numpy().ravel() for p in im.parameters()])
    assert values.min() >= -bound and values.max() <= bound
    assert values.std() == pytest.approx(2 * bound / np.sqrt(12), rel=0.1)
    assert all(p.requires_grad for p in im.parameters())
    assert repr(im) == repr(tm)


def test_torch_state_dict_round_trip():
    """irgrad weights load into torch and give torch's outputs."""
    im = nn.GRU(3, 4, num_layers=2, batch_first=True)
    tm = torch.nn.GRU(3, 4, num_layers=2, batch_first=True)
    tm.load_state_dict({k: torch.tensor(v.detach().numpy()) for k, v in im.state_dict().items()})
    x = np.random.default_rng(5).standard_normal((2, 4, 3)).astype(np.float32)
    close(tm(torch.tensor(x))[0], im(irgrad.tensor(x))[0])


def test_dropout_between_layers():
    rnn = nn.LSTM(3, 8, num_layers=3, dropout=0.5)
    x = irgrad.randn(4, 2, 3)
    rnn.eval()
    a, _ = rnn(x)
    b, _ = rnn(x)
    np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    rnn.train()
    c, _ = rnn(x)
    assert not np.allclose(a.detach().numpy(), c.detach().numpy())
    c.sum().backward()
    assert all(p.grad is not None for p in rnn.parameters())


def test_single_layer_dropout_warns():
    with pytest.warns(UserWarning, match="non-zero dropout expects num_layers greater than 1"):
        nn.GRU(2, 3, dropout=0.2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nn.GRU(2, 3, num_layers=2, dropout=0.2)


def test_errors():
    with pytest.raises(ValueError, match="dropout should be a number in range"):
        nn.LSTM(2, 3, dropout=1.5)
    with pytest.raises(ValueError, match="Unknown nonlinearity"):
        nn.RNN(2, 3, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="hidden_size must be greater than zero"):
        nn.GRU(2, 0)
    with pytest.raises(ValueError, match="proj_size has to be smaller than hidden_size"):
        nn.LSTM(2, 3, proj_size=3)
    lstm = nn.LSTM(3, 4, num_layers=2)
    with pytest.raises(ValueError, match="Expected input to be 2D or 3D, got 4D"):
        lstm(irgrad.randn(2, 2, 2, 3))
    with pytest.raises(
        RuntimeError, match="input.size\\(-1\\) must be equal to input_size. Expected 3, got 5"
    ):
        lstm(irgrad.randn(4, 2, 5))
    with pytest.raises(RuntimeError, match=re_escape("Expected hidden[0] size (2, 2, 4), got [1, 2, 4]")):
        lstm(irgrad.randn(4, 2, 3), (irgrad.zeros(1, 2, 4), irgrad.zeros(2, 2, 4)))
    with pytest.raises(RuntimeError, match="For batched 3-D input, hx and cx should also be 3-D"):
        lstm(irgrad.randn(4, 2, 3), (irgrad.zeros(2, 4), irgrad.zeros(2, 4)))
    with pytest.raises(ValueError, match="does not match weight dtype"):
        lstm(irgrad.randn(4, 2, 3, dtype=irgrad.float64))
    gru = nn.GRU(3, 4)
    with pytest.raises(RuntimeError, match=re_escape("Expected hidden size (1, 2, 4), got [1, 3, 4]")):
        gru(irgrad.randn(5, 2, 3), irgrad.zeros(1, 3, 4))


def re_escape(text: str) -> str:
    import re

    return re.escape(text)


@pytest.mark.parametrize("kind", ["RNNCell", "LSTMCell", "GRUCell"])
@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("with_state", [True, False])
def test_cells_match_torch(kind, batched, with_state):
    rng = np.random.default_rng(6)
    torch.manual_seed(0)
    tm = getattr(torch.nn, kind)(3, 5)
    im = getattr(nn, kind)(3, 5)
    copy_weights(tm, im)
    shape = (4, 3) if batched else (3,)
    x = rng.standard_normal(shape).astype(np.float32)
    tx, ix = torch.tensor(x, requires_grad=True), irgrad.tensor(x, requires_grad=True)
    tstates, istates = [], []
    if with_state:
        for _ in range(2 if kind == "LSTMCell" else 1):
            s = rng.standard_normal((4, 5) if batched else (5,)).astype(np.float32)
            tstates.append(torch.tensor(s, requires_grad=True))
            istates.append(irgrad.tensor(s, requires_grad=True))
    tout = flat_states(kind, tm(tx, as_states(kind, tstates) if with_state else None))
    iout = flat_states(kind, im(ix, as_states(kind, istates) if with_state else None))
    for t, i in zip(tout, iout):
        assert tuple(i.shape) == tuple(t.shape)
        close(t, i)
    backward_both(tout, iout, rng)
    np.testing.assert_allclose(ix.grad.numpy(), tx.grad.numpy(), **TOL)
    for t, i in zip(tstates, istates):
        np.testing.assert_allclose(i.grad.numpy(), t.grad.numpy(), **TOL)
    check_param_grads(tm, im)


def test_cell_parameters_and_relu():
    tm, im = (
        torch.nn.RNNCell(3, 4, bias=False, nonlinearity="relu"),
        nn.RNNCell(3, 4, bias=False, nonlinearity="relu"),
    )
    assert [n for n, _ in im.named_parameters()] == [n for n, _ in tm.named_parameters()]
    assert repr(im) == repr(tm)
    copy_weights(tm, im)
    x = np.random.default_rng(7).standard_normal((2, 3)).astype(np.float32)
    close(tm(torch.tensor(x)), im(irgrad.tensor(x)))
