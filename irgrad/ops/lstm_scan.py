"""A whole LSTM layer over time: ``lstm_scan``, one op forward, and ``lstm_scan_backward``.

An LSTM over T steps, traced step by step, is T copies of (matmul, add, lstm_cell,
narrows) forward and as many backward: the graph, every compiler pass over it and the
trace itself grow with T.  ``lstm_scan`` is the layer's loop as one op (nn.LSTM records
it when traced), so a 32-step LSTM is as many nodes as a 4-step one.  Its result keeps,
per step, what the gradient reads: ``[h_t | c_t | gates_t]`` (gates before their
activations), 6H wide.  ``lstm_scan_backward`` runs the steps in reverse: per step the
gate gradients (``lstm_cell``'s rule, :mod:`irgrad.ops.recurrent`) and ``dh = d_gates @
W_hh``; the weight gradient is then one matmul over all steps, outside the loop
(:mod:`irgrad.ops.recurrent_scan`).
"""

from __future__ import annotations

import numpy as np

from ..dtypes import from_numpy_dtype
from . import recurrent_scan
from .recurrent import lstm_cell_kernel, lstm_cell_vjp
from .registry import Kind, Meta, OpDef, Recurrence, VjpContext, register
from .shapes import fmt


def _lstm_scan(gx, h0, c0, w, *, reverse=False):
    steps, batch, width = gx.shape
    size = width // 4
    out = np.empty((steps, batch, 6 * size), dtype=gx.dtype)
    h, c = h0, c0
    for t in recurrent_scan.step_order(steps, reverse):
        gates = gx[t] + h @ w  # as eager's add(gx_t, matmul(h, W_hh.T))
        out[t, :, 2 * size :] = gates
        out[t, :, : 2 * size] = lstm_cell_kernel(gates, c)
        h, c = out[t, :, :size], out[t, :, size : 2 * size]
    return out


def _infer_lstm_scan(gx: Meta, h0: Meta, c0: Meta, w: Meta, *, reverse=False) -> Meta:
    size = h0.shape[-1] if len(h0.shape) == 2 else -1
    batch = h0.shape[0] if len(h0.shape) == 2 else -1
    expected = {"gx": (None, batch, 4 * size), "c0": (batch, size), "w": (size, 4 * size)}
    shapes_ok = (
        len(gx.shape) == 3
        and tuple(gx.shape[1:]) == expected["gx"][1:]
        and tuple(c0.shape) == expected["c0"]
        and tuple(w.shape) == expected["w"]
    )
    if not shapes_ok or len({gx.dtype, h0.dtype, c0.dtype, w.dtype}) != 1:
        raise RuntimeError(
            "lstm_scan: expected gate inputs [T, B, 4H], states [B, H], a recurrent weight [H, 4H] "
            f"of one dtype, got {fmt(gx.shape)} {gx.dtype}, {fmt(h0.shape)} {h0.dtype}, "
            f"{fmt(c0.shape)} {c0.dtype} and {fmt(w.shape)} {w.dtype}"
        )
    return Meta((gx.shape[0], batch, 6 * size), gx.dtype)


def _lstm_scan_vjp(F, grad, ctx):
    _, h0, c0, w = ctx.ins
    steps, batch, width = ctx.metas[0].shape
    size = width // 4
    reverse = ctx.attrs.get("reverse", False)
    if ctx.higher_order:
        grads = _lstm_gradients(F, grad, ctx.out, c0, w, (steps, batch, size), ctx.metas[0].dtype, reverse)
    else:
        grads = F.lstm_scan_backward(grad, ctx.out, c0, w, reverse=reverse)
    d_gates = F.slice(grads, index=(slice(0, steps, 1),))
    d_h0 = recurrent_scan.step_columns(F, grads, steps, 0, size)
    d_c0 = recurrent_scan.step_columns(F, grads, steps, size, 2 * size)
    d_w = None
    if ctx.needs[3]:
        d_w = recurrent_scan.weight_gradient(F, ctx.out, h0, w, d_gates, (steps, batch, width), size, reverse)
    return (
        d_gates if ctx.needs[0] else None,
        d_h0 if ctx.needs[1] else None,
        d_c0 if ctx.needs[2] else None,
        d_w,
    )


def _lstm_gradients(F, grad, out, c0, w, shape, dtype, reverse):
    """What ``lstm_scan_backward`` returns, [T+1, B, 4H]: per step, last first, the gate
    gradients by ``lstm_cell``'s gradient rule plus the saved gates' gradient, then
    ``dh = d_gates @ W_hh``; as row T, ``[dh0 | dc0 | 0 | 0]``.  Written against an op
    namespace: the kernel runs it on arrays, and under ``create_graph`` the scan's rule
    runs it on tensors, whose ops are differentiable themselves."""
    steps, batch, size = shape
    width = 4 * size
    cell = Meta((batch, size), dtype)
    gate_meta = Meta((batch, width), dtype)
    d_h = d_c = None
    rows: list = [None] * steps
    for t in recurrent_scan.step_order(steps, not reverse):  # the forward's steps, last first
        before = t + 1 if reverse else t - 1
        c_prev = recurrent_scan.step_columns(F, out, before, size, 2 * size) if 0 <= before < steps else c0
        grad_h, grad_c = (
            recurrent_scan.step_columns(F, grad, t, 0, size),
            recurrent_scan.step_columns(F, grad, t, size, 2 * size),
        )
        if d_h is not None:
            grad_h, grad_c = F.add(grad_h, d_h), F.add(grad_c, d_c)
        cell_ctx = VjpContext(
            ins=(recurrent_scan.step_columns(F, out, t, 2 * size, 6 * size), c_prev),
            out=recurrent_scan.step_columns(F, out, t, 0, 2 * size),
            metas=(gate_meta, cell),
            needs=(True, True),
            attrs={},
            higher_order=True,
        )
        d, d_c = lstm_cell_vjp(F, F.cat(grad_h, grad_c, dim=1), cell_ctx)
        d = F.add(d, recurrent_scan.step_columns(F, grad, t, 2 * size, 6 * size))
        d_h = F.matmul(d, F.permute(w, dims=(1, 0)))
        rows[t] = F.reshape(d, shape=(1, batch, width))
    if d_h is None:  # no steps
        d_h = d_c = F.full_like(c0, value=0.0)
    last = F.cat(d_h, d_c, recurrent_scan.zero_columns(F, c0, 2), dim=1)
    return F.cat(*rows, F.reshape(last, shape=(1, batch, width)), dim=0)


def _lstm_scan_backward(grad, out, c0, w, *, reverse=False):
    steps, batch, six = out.shape
    shape, dtype = (steps, batch, six // 6), from_numpy_dtype(out.dtype)
    return _lstm_gradients(recurrent_scan.numpy_ops(), grad, out, c0, w, shape, dtype, reverse)


def _infer_lstm_scan_backward(grad: Meta, out: Meta, c0: Meta, w: Meta, *, reverse=False) -> Meta:
    return recurrent_scan.infer_backward("lstm_scan_backward", grad, out, (c0,), w, (6, 4, 4))


register(
    OpDef(
        "lstm_scan",
        Kind.CELL,
        _lstm_scan,
        _infer_lstm_scan,
        _lstm_scan_vjp,
        save_inputs=(1, 2, 3),
        recurrence=Recurrence(states=(1, 2), backward="lstm_scan_backward", backward_args=(2, 3)),
        save_output=True,
        arity=4,
        doc="An LSTM layer's steps: from the projected inputs gx [T, B, 4H] (input times W_ih.T plus "
        "both biases), h0 and c0 [B, H] and W_hh.T [H, 4H], per step [h_t | c_t | gates_t], "
        "[T, B, 6H] (steps run from T-1 down with reverse=True).",
    )
)
register(
    OpDef(
        "lstm_scan_backward",
        Kind.CELL,
        _lstm_scan_backward,
        _infer_lstm_scan_backward,
        recurrent_scan.backward_vjp,
        arity=4,
        doc="lstm_scan's gradient: from the gradient of its result, the result, c0 and W_hh.T, the "
        "gate gradients of every step [T, B, 4H] and, as row T, [dh0 | dc0 | 0 | 0].",
    )
)
