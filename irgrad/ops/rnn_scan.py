"""A whole RNN layer (tanh or relu) over time: ``rnn_scan`` and ``rnn_scan_backward``.

``h_t = act(gx_t + h_{t-1} @ W_hh.T)``: the result is the steps' ``h`` [T, B, H], which
is also all its gradient reads (tanh's and relu's derivatives come from their output).
The gradient is written once against an op namespace: ``rnn_scan_backward``'s kernel
runs it on arrays, and under create_graph ``rnn_scan``'s rule runs it on tensors.
"""

from __future__ import annotations

import numpy as np

from ..dtypes import from_numpy_dtype
from . import recurrent_scan
from .registry import OPS, Kind, Meta, OpDef, Recurrence, VjpContext, register
from .shapes import fmt

_ACTIVATIONS = ("tanh", "relu")


def _rnn_scan(gx, h0, w, *, nonlinearity="tanh", reverse=False):
    act = OPS[nonlinearity].eval
    out = np.empty(gx.shape, dtype=gx.dtype)
    h = h0
    for t in recurrent_scan.step_order(gx.shape[0], reverse):
        out[t] = act(gx[t] + h @ w)  # as eager's act(add(gx_t, matmul(h, W_hh.T)))
        h = out[t]
    return out


def _infer_rnn_scan(gx: Meta, h0: Meta, w: Meta, *, nonlinearity="tanh", reverse=False) -> Meta:
    batch, size = h0.shape if len(h0.shape) == 2 else (-1, -1)
    ok = len(gx.shape) == 3 and tuple(gx.shape[1:]) == (batch, size) and tuple(w.shape) == (size, size)
    if not ok or len({gx.dtype, h0.dtype, w.dtype}) != 1 or nonlinearity not in _ACTIVATIONS:
        raise RuntimeError(
            "rnn_scan: expected inputs [T, B, H], a state [B, H] and a recurrent weight [H, H] of one "
            f"dtype and a tanh or relu nonlinearity, got {fmt(gx.shape)} {gx.dtype}, {fmt(h0.shape)} "
            f"{h0.dtype}, {fmt(w.shape)} {w.dtype} and {nonlinearity!r}"
        )
    return Meta(tuple(gx.shape), gx.dtype)


def _rnn_gradients(F, grad, out, w, shape, dtype, nonlinearity, reverse):
    """What ``rnn_scan_backward`` returns, [T+1, B, H], for T > 0: per step, last first,
    the activation's gradient rule on the step's output, then ``dh = d_pre @ W_hh``; as
    row T, ``dh0``."""
    steps, batch, size = shape
    rule = OPS[nonlinearity].vjp
    step_meta = Meta((batch, size), dtype)
    d_h = None
    rows: list = [None] * steps
    for t in recurrent_scan.step_order(steps, not reverse):
        g = F.slice(grad, index=(t,))
        if d_h is not None:
            g = F.add(g, d_h)
        context = VjpContext(
            ins=(None,), out=F.slice(out, index=(t,)), metas=(step_meta,), needs=(True,), attrs={}
        )
        (d_pre,) = rule(F, g, context)
        d_h = F.matmul(d_pre, F.permute(w, dims=(1, 0)))
        rows[t] = F.reshape(d_pre, shape=(1, batch, size))
    return F.cat(*rows, F.reshape(d_h, shape=(1, batch, size)), dim=0)


def _rnn_scan_backward(grad, out, w, *, nonlinearity="tanh", reverse=False):
    steps, batch, size = out.shape
    if steps == 0:  # dh0 is 0
        return np.zeros((1, batch, size), dtype=out.dtype)
    dtype = from_numpy_dtype(out.dtype)
    return _rnn_gradients(recurrent_scan.numpy_ops(), grad, out, w, out.shape, dtype, nonlinearity, reverse)


def _infer_rnn_scan_backward(grad: Meta, out: Meta, w: Meta, *, nonlinearity="tanh", reverse=False) -> Meta:
    return recurrent_scan.infer_backward("rnn_scan_backward", grad, out, (), w, (1, 1, 1))


def _rnn_scan_vjp(F, grad, ctx):
    _, h0, w = ctx.ins
    steps, batch, size = ctx.metas[0].shape
    nonlinearity = ctx.attrs.get("nonlinearity", "tanh")
    reverse = ctx.attrs.get("reverse", False)
    if ctx.higher_order and steps:  # (no steps: the fused op gives dh0's zeros)
        grads = _rnn_gradients(
            F, grad, ctx.out, w, ctx.metas[0].shape, ctx.metas[0].dtype, nonlinearity, reverse
        )
    else:
        grads = F.rnn_scan_backward(grad, ctx.out, w, nonlinearity=nonlinearity, reverse=reverse)
    d_pre, d_h0 = F.slice(grads, index=(slice(0, steps, 1),)), F.slice(grads, index=(steps,))
    d_w = (
        recurrent_scan.weight_gradient(F, ctx.out, h0, w, d_pre, ctx.metas[0].shape, size, reverse)
        if ctx.needs[2]
        else None
    )
    return (d_pre if ctx.needs[0] else None), (d_h0 if ctx.needs[1] else None), d_w


register(
    OpDef(
        "rnn_scan",
        Kind.CELL,
        _rnn_scan,
        _infer_rnn_scan,
        _rnn_scan_vjp,
        save_inputs=(1, 2),
        recurrence=Recurrence(states=(1,), backward="rnn_scan_backward", backward_args=(2,)),
        save_output=True,
        arity=3,
        doc="An RNN layer's steps: h_t = act(gx_t + h_{t-1} @ w) from the projected inputs gx [T, B, H] "
        "(input times W_ih.T plus both biases), h0 [B, H] and W_hh.T [H, H]; act is tanh or relu "
        "(nonlinearity); [T, B, H] (steps from T-1 down with reverse=True).",
    )
)
register(
    OpDef(
        "rnn_scan_backward",
        Kind.CELL,
        _rnn_scan_backward,
        _infer_rnn_scan_backward,
        recurrent_scan.backward_vjp,
        arity=3,
        doc="rnn_scan's gradient: from the gradient of its result, the result and W_hh.T, the "
        "pre-activation gradients of every step [T, B, H] and, as row T, dh0.",
    )
)
