"""The word-language-model script: Embedding, an LSTM or a GRU (two layers, dropout between
them) and a Linear decoder whose weight is tied to the embedding; ``log_softmax`` +
NLLLoss; the hidden state is carried from batch to batch, detached (``repackage_hidden``);
``clip_grad_norm_`` and the manual update ``p.data.add_(p.grad, alpha=-lr)``.  Its
Transformer variant: a sinusoidal PositionalEncoding buffer, a TransformerEncoder with the
causal mask ``log(tril(ones))`` built on the first call and kept on the module.

Compared: losses and final parameters against torch (dropout 0); compiled module and
compiled step against eager irgrad (dropout on).
"""

from __future__ import annotations

import contextlib
import functools
import io
import math
import warnings

import numpy as np
import pytest

import irgrad
from irgrad.compiler.warnings import CompileWarning

from .common import Training, against_eager, against_torch, assert_breaks, assert_whole

NTOKEN, NINP, NHID, NLAYERS, BPTT, BSZ = 13, 8, 8, 2, 3, 3

# the causal mask is log(tril(ones)): irgrad's import-time filter for numpy's divide-by-zero
# warning (docs/pytorch-differences.md) does not survive pytest's per-test warning filters
pytestmark = pytest.mark.filterwarnings("ignore:divide by zero encountered in log:RuntimeWarning")


def build_rnn(lib, kind, dropout=0.2):
    nn, F = lib.nn, lib.nn.functional

    class RNNModel(nn.Module):
        def __init__(self):
            super().__init__()
            self.drop = nn.Dropout(dropout)
            self.encoder = nn.Embedding(NTOKEN, NINP)
            self.rnn = getattr(nn, kind)(NINP, NHID, NLAYERS, dropout=dropout)
            self.decoder = nn.Linear(NHID, NTOKEN)
            self.decoder.weight = self.encoder.weight
            nn.init.uniform_(self.encoder.weight, -0.1, 0.1)
            nn.init.zeros_(self.decoder.bias)

        def forward(self, input, hidden):
            emb = self.drop(self.encoder(input))
            output, hidden = self.rnn(emb, hidden)
            decoded = self.decoder(self.drop(output)).view(-1, NTOKEN)
            return F.log_softmax(decoded, dim=1), hidden

        def init_hidden(self, bsz):
            weight = next(self.parameters())
            if kind == "LSTM":
                return (weight.new_zeros(NLAYERS, bsz, NHID), weight.new_zeros(NLAYERS, bsz, NHID))
            return weight.new_zeros(NLAYERS, bsz, NHID)

    return RNNModel()


def build_transformer(lib, dropout=0.2, nhead=2):
    nn, F = lib.nn, lib.nn.functional

    class PositionalEncoding(nn.Module):
        def __init__(self, d_model, max_len=64):
            super().__init__()
            self.dropout = nn.Dropout(p=dropout)
            pe = lib.zeros(max_len, d_model)
            position = lib.arange(0, max_len, dtype=lib.float).unsqueeze(1)
            div_term = lib.exp(lib.arange(0, d_model, 2).float() * (-math.log(10000.0) / d_model))
            pe[:, 0::2] = lib.sin(position * div_term)
            pe[:, 1::2] = lib.cos(position * div_term)
            self.register_buffer("pe", pe.unsqueeze(0).transpose(0, 1))

        def forward(self, x):
            return self.dropout(x + self.pe[: x.size(0), :])

    class TransformerModel(nn.Module):
        def __init__(self):
            super().__init__()
            self.src_mask = None
            self.pos_encoder = PositionalEncoding(NINP)
            layer = nn.TransformerEncoderLayer(NINP, nhead, NHID, dropout)
            self.transformer_encoder = nn.TransformerEncoder(layer, NLAYERS, enable_nested_tensor=False)
            self.encoder = nn.Embedding(NTOKEN, NINP)
            self.decoder = nn.Linear(NINP, NTOKEN)
            nn.init.uniform_(self.encoder.weight, -0.1, 0.1)
            nn.init.zeros_(self.decoder.bias)
            nn.init.uniform_(self.decoder.weight, -0.1, 0.1)

        def forward(self, src):
            if self.src_mask is None or self.src_mask.size(0) != len(src):
                self.src_mask = lib.log(lib.tril(lib.ones(len(src), len(src))))
            src = self.pos_encoder(self.encoder(src) * math.sqrt(NINP))
            output = self.decoder(self.transformer_encoder(src, self.src_mask))
            return F.log_softmax(output, dim=-1)

    return TransformerModel()


def repackage_hidden(h):
    """Detach hidden states from their history (the previous batch's graph)."""
    if isinstance(h, tuple):
        return tuple(repackage_hidden(v) for v in h)
    return h.detach()


def trainer(lib, model, wrap, lr=0.5, clip=0.25):
    net = wrap(model)
    criterion = lib.nn.NLLLoss()
    recurrent = hasattr(model, "init_hidden")
    hidden = model.init_hidden(BSZ) if recurrent else None

    def train_step(data, targets):
        nonlocal hidden
        model.zero_grad()
        if recurrent:
            hidden = repackage_hidden(hidden)
            output, hidden = net(data, hidden)
        else:
            output = net(data).view(-1, NTOKEN)
        loss = criterion(output, targets)
        loss.backward()
        lib.nn.utils.clip_grad_norm_(model.parameters(), clip)
        for p in model.parameters():
            p.data.add_(p.grad, alpha=-lr)
        return loss.detach()

    return Training(train_step)


def batches(n: int = 3):
    """``get_batch`` over a batchified token stream: (BPTT, BSZ) inputs, the next tokens flat."""
    stream = np.random.default_rng(8).integers(0, NTOKEN, BSZ * (n * BPTT + 1))
    source = stream.reshape(BSZ, -1).T.copy()
    return [
        (source[i : i + BPTT], source[i + 1 : i + 1 + BPTT].reshape(-1)) for i in range(0, n * BPTT, BPTT)
    ]


BUILDS = {
    "lstm": functools.partial(build_rnn, kind="LSTM"),
    "gru": functools.partial(build_rnn, kind="GRU"),
    "transformer": build_transformer,
}


@pytest.mark.parametrize("name", list(BUILDS))
def test_trains_as_torch(torch, name):
    against_torch(torch, functools.partial(BUILDS[name], dropout=0.0), trainer, batches())


@pytest.mark.parametrize("name", list(BUILDS))
def test_compiled_trains_as_eager(name):
    explained = against_eager(BUILDS[name], trainer, batches())
    for explanation in explained["model"]:
        assert_whole(explanation)
    assert_whole(explained["step"])


def _explain(compiled):
    with contextlib.redirect_stdout(io.StringIO()):
        return compiled.explain()


def _update_through_data(compiled: bool):
    """Three steps of ``p.data.add_(p.grad, alpha=-lr)`` after a forward using ``w.t()``."""
    irgrad.manual_seed(0)
    w = irgrad.nn.Parameter(irgrad.randn(4, 3))

    def step(x):
        loss = (x @ w.t()).pow(2).mean()
        w.grad = None
        loss.backward()
        w.data.add_(w.grad, alpha=-0.1)
        return loss.detach()

    fn = irgrad.compile(step) if compiled else step
    x = irgrad.randn(5, 3)
    return [float(fn(x)) for _ in range(3)], w.detach().numpy().copy(), fn


def test_update_through_data_compiles_whole_with_views_of_the_parameter_alive():
    """Regression: ``p.data.add_(...)`` in a compiled step was a graph break whenever a view
    of ``p`` made earlier in the step (``w.t()`` in the forward) was still alive."""
    losses, weight, _ = _update_through_data(compiled=False)
    compiled_losses, compiled_weight, compiled = _update_through_data(compiled=True)
    assert compiled_losses == losses
    np.testing.assert_array_equal(compiled_weight, weight)
    assert_whole(_explain(compiled))


def test_reading_a_view_made_stale_by_a_write_through_data_is_a_graph_break():
    w = irgrad.randn(2, 3)
    holder = {"w": w}

    def f(x):
        wt = holder["w"].t()
        holder["w"].data.add_(x)
        return wt * 2  # eager reads the new values through the view

    compiled = irgrad.compile(f)
    x = irgrad.ones(2, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CompileWarning)
        expected = (w + 1).t() * 2
        np.testing.assert_array_equal(compiled(x).numpy(), expected.numpy())
    assert_breaks(_explain(compiled), "stale alias")


def test_a_causal_mask_kept_on_the_module_compiles_whole():
    """Regression: TransformerEncoder compared a free mask tensor with the causal mask in
    Python (``bool((mask == causal).all())``), a graph break once the mask came from state."""
    irgrad.manual_seed(0)
    layer = irgrad.nn.TransformerEncoderLayer(NINP, 2, NHID, 0.0)
    encoder = irgrad.nn.TransformerEncoder(layer, 1, enable_nested_tensor=False)
    mask = irgrad.nn.Transformer.generate_square_subsequent_mask(BPTT)
    compiled = irgrad.compile(lambda src: encoder(src, mask))
    src = irgrad.randn(BPTT, BSZ, NINP)
    for _ in range(2):
        got, want = compiled(src).detach().numpy(), encoder(src, mask).detach().numpy()
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert_whole(_explain(compiled), graphs=1)
