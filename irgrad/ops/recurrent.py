"""Fused recurrent cells: one op per time step instead of a dozen.

An LSTM step is matmul + add (the gates) and then ``lstm_cell``: from the gate
pre-activations (i, f, g, o quarters, PyTorch's order) and the cell state it
computes ``c' = sigmoid(f) * c + sigmoid(i) * tanh(g)`` and ``h' = sigmoid(o) *
tanh(c')``, returned side by side as ``[h' | c']``.  As a composite that is 13
dispatched ops forward and as many backward nodes per time step; its gradient rule
is written with ordinary ops, so it is differentiable to any order and the IR
autodiff pass uses it unchanged.

A whole recurrent layer's steps are one op each, in their own modules:
:mod:`irgrad.ops.lstm_scan` (which runs this cell's kernel and rule per step),
:mod:`irgrad.ops.gru_scan` and :mod:`irgrad.ops.rnn_scan`.
"""

from __future__ import annotations

import numpy as np

from .registry import Kind, Meta, OpDef, register
from .shapes import fmt


def _sigmoid(x):
    e = np.exp(-x)
    e += 1
    return np.reciprocal(e, out=e)


def lstm_cell_kernel(gates, c):
    size = c.shape[-1]
    i = _sigmoid(gates[..., :size])
    f = _sigmoid(gates[..., size : 2 * size])
    g = np.tanh(gates[..., 2 * size : 3 * size])
    o = _sigmoid(gates[..., 3 * size :])
    out = np.empty(c.shape[:-1] + (2 * size,), dtype=c.dtype)
    c_new = out[..., size:]
    np.multiply(f, c, out=c_new)
    c_new += i * g
    np.multiply(o, np.tanh(c_new), out=out[..., :size])
    return out


def _infer_lstm_cell(gates: Meta, c: Meta) -> Meta:
    size = c.shape[-1] if c.shape else 0
    if not c.shape or tuple(gates.shape) != tuple(c.shape[:-1]) + (4 * size,) or gates.dtype is not c.dtype:
        raise RuntimeError(
            f"lstm_cell: expected gates of shape [..., 4*H] matching the cell state [..., H] and its dtype, "
            f"got gates {fmt(gates.shape)} {gates.dtype} and cell state {fmt(c.shape)} {c.dtype}"
        )
    return Meta(tuple(c.shape[:-1]) + (2 * size,), c.dtype)


def _quarter(F, x, k: int, size: int, ndim: int):
    index = (slice(None),) * (ndim - 1) + (slice(k * size, (k + 1) * size, 1),)
    return F.slice(x, index=index)


def lstm_cell_vjp(F, grad, ctx):
    gates, c = ctx.ins
    ndim = len(ctx.metas[1].shape)
    size = ctx.metas[1].shape[-1]
    i = F.sigmoid(_quarter(F, gates, 0, size, ndim))
    f = F.sigmoid(_quarter(F, gates, 1, size, ndim))
    g = F.tanh(_quarter(F, gates, 2, size, ndim))
    o = F.sigmoid(_quarter(F, gates, 3, size, ndim))
    tanh_c = F.tanh(_quarter(F, ctx.out, 1, size, ndim))
    grad_h = _quarter(F, grad, 0, size, ndim)
    # d c' collects the direct gradient and the one through h' = o * tanh(c').
    grad_c = F.add(
        _quarter(F, grad, 1, size, ndim), F.mul(F.mul(grad_h, o), F.sub(1.0, F.mul(tanh_c, tanh_c)))
    )
    d_i = F.mul(F.mul(grad_c, g), F.mul(i, F.sub(1.0, i)))
    d_f = F.mul(F.mul(grad_c, c), F.mul(f, F.sub(1.0, f)))
    d_g = F.mul(F.mul(grad_c, i), F.sub(1.0, F.mul(g, g)))
    d_o = F.mul(F.mul(grad_h, tanh_c), F.mul(o, F.sub(1.0, o)))
    d_gates = F.cat(d_i, d_f, d_g, d_o, dim=ndim - 1) if ctx.needs[0] else None
    d_c = F.mul(grad_c, f) if ctx.needs[1] else None
    return d_gates, d_c


register(
    OpDef(
        "lstm_cell",
        Kind.CELL,
        lstm_cell_kernel,
        _infer_lstm_cell,
        lstm_cell_vjp,
        save_inputs=True,
        save_output=True,
        arity=2,
        doc="One LSTM step from gate pre-activations [..., 4H] (i, f, g, o) and cell state [..., H]: "
        "returns [h' | c'] of shape [..., 2H].",
    )
)
