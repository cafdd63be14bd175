"""A whole GRU layer over time: ``gru_scan`` and ``gru_scan_backward``.

PyTorch's GRU step, as nn.GRU computes it eagerly: ``gh = h @ W_hh.T``, ``r, z =
sigmoid(gx[:2H] + gh[:2H])``, ``nh = gh[2H:] + b_hn``, ``n = tanh(gx[2H:] + r * nh)``,
``h' = n + z * (h - n)``.  The result keeps, per step, ``[h | r | z | n | nh]`` (5H
wide): the output, and what the gradient reads.
"""

from __future__ import annotations

import numpy as np

from . import recurrent_scan
from .registry import OPS, Kind, Meta, OpDef, Recurrence, register
from .shapes import fmt


def _gru_scan(gx, h0, w, b_hn, *, reverse=False):
    steps, batch, width = gx.shape
    size = width // 3
    sigmoid, tanh = OPS["sigmoid"].eval, OPS["tanh"].eval
    out = np.empty((steps, batch, 5 * size), dtype=gx.dtype)
    h = h0
    for t in recurrent_scan.step_order(steps, reverse):
        gh = h @ w
        rz = sigmoid(gx[t, :, : 2 * size] + gh[:, : 2 * size])
        r, z = rz[:, :size], rz[:, size:]
        nh = gh[:, 2 * size :] + b_hn
        n = tanh(gx[t, :, 2 * size :] + r * nh)
        row = out[t]
        row[:, :size] = n + z * (h - n)
        row[:, size : 3 * size] = rz
        row[:, 3 * size : 4 * size] = n
        row[:, 4 * size :] = nh
        h = row[:, :size]
    return out


def _infer_gru_scan(gx: Meta, h0: Meta, w: Meta, b_hn: Meta, *, reverse=False) -> Meta:
    batch, size = h0.shape if len(h0.shape) == 2 else (-1, -1)
    ok = (
        len(gx.shape) == 3
        and tuple(gx.shape[1:]) == (batch, 3 * size)
        and tuple(w.shape) == (size, 3 * size)
        and tuple(b_hn.shape) == (size,)
    )
    if not ok or len({gx.dtype, h0.dtype, w.dtype, b_hn.dtype}) != 1:
        raise RuntimeError(
            "gru_scan: expected gate inputs [T, B, 3H], a state [B, H], a recurrent weight [H, 3H] and a "
            f"bias [H] of one dtype, got {fmt(gx.shape)} {gx.dtype}, {fmt(h0.shape)} {h0.dtype}, "
            f"{fmt(w.shape)} {w.dtype} and {fmt(b_hn.shape)} {b_hn.dtype}"
        )
    return Meta((gx.shape[0], batch, 5 * size), gx.dtype)


def _gru_gradients(F, grad, out, h0, w, shape, reverse):
    """What ``gru_scan_backward`` returns, [T+1, B, 6H]: per step, last first, ``[d_gx |
    d_gh]`` from the step's saved ``[h | r | z | n | nh]`` row, then ``dh`` for the step
    before; as row T, ``[dh0 | 0]``.  Written against an op namespace, as
    :func:`irgrad.ops.lstm_scan._lstm_gradients` is."""
    steps, batch, size = shape

    def part(x, t, start, stop):
        return recurrent_scan.step_columns(F, x, t, start * size, stop * size)

    d_h = None
    rows: list = [None] * steps
    for t in recurrent_scan.step_order(steps, not reverse):
        before = t + 1 if reverse else t - 1
        h_prev = part(out, before, 0, 1) if 0 <= before < steps else h0
        r, z, n, nh = (part(out, t, k, k + 1) for k in (1, 2, 3, 4))
        g = part(grad, t, 0, 1) if d_h is None else F.add(part(grad, t, 0, 1), d_h)
        d_n = F.add(F.sub(g, F.mul(g, z)), part(grad, t, 3, 4))
        d_z = F.add(F.mul(g, F.sub(h_prev, n)), part(grad, t, 2, 3))
        d_a = F.mul(d_n, F.sub(1.0, F.mul(n, n)))
        d_r = F.add(F.mul(d_a, nh), part(grad, t, 1, 2))
        d_nh = F.add(F.mul(d_a, r), part(grad, t, 4, 5))
        d_pre_r = F.mul(d_r, F.mul(r, F.sub(1.0, r)))
        d_pre_z = F.mul(d_z, F.mul(z, F.sub(1.0, z)))
        d_gh = F.cat(d_pre_r, d_pre_z, d_nh, dim=1)
        d_h = F.add(F.mul(g, z), F.matmul(d_gh, F.permute(w, dims=(1, 0))))
        rows[t] = F.reshape(F.cat(d_pre_r, d_pre_z, d_a, d_gh, dim=1), shape=(1, batch, 6 * size))
    last = F.cat(
        F.full_like(h0, value=0.0) if d_h is None else d_h, recurrent_scan.zero_columns(F, h0, 5), dim=1
    )
    return F.cat(*rows, F.reshape(last, shape=(1, batch, 6 * size)), dim=0)


def _gru_scan_backward(grad, out, h0, w, *, reverse=False):
    steps, batch, five = out.shape
    return _gru_gradients(recurrent_scan.numpy_ops(), grad, out, h0, w, (steps, batch, five // 5), reverse)


def _infer_gru_scan_backward(grad: Meta, out: Meta, h0: Meta, w: Meta, *, reverse=False) -> Meta:
    return recurrent_scan.infer_backward("gru_scan_backward", grad, out, (h0,), w, (5, 3, 6))


def _gru_scan_vjp(F, grad, ctx):
    _, h0, w, _ = ctx.ins
    steps, batch, width = ctx.metas[0].shape
    size = width // 3
    reverse = ctx.attrs.get("reverse", False)
    if ctx.higher_order:
        grads = _gru_gradients(F, grad, ctx.out, h0, w, (steps, batch, size), reverse)
    else:
        grads = F.gru_scan_backward(grad, ctx.out, h0, w, reverse=reverse)
    every = slice(None, None, 1)
    rows = slice(0, steps, 1)
    d_gx = F.slice(grads, index=(rows, every, slice(0, width, 1)))
    d_gh = F.slice(grads, index=(rows, every, slice(width, 2 * width, 1)))
    d_h0 = recurrent_scan.step_columns(F, grads, steps, 0, size) if ctx.needs[1] else None
    d_w = (
        recurrent_scan.weight_gradient(F, ctx.out, h0, w, d_gh, (steps, batch, width), size, reverse)
        if ctx.needs[2]
        else None
    )
    d_b = None
    if ctx.needs[3]:
        d_b = F.sum(
            F.slice(d_gh, index=(every, every, slice(2 * size, width, 1))), dims=(0, 1), keepdim=False
        )
    return (d_gx if ctx.needs[0] else None), d_h0, d_w, d_b


register(
    OpDef(
        "gru_scan",
        Kind.CELL,
        _gru_scan,
        _infer_gru_scan,
        _gru_scan_vjp,
        save_inputs=(1, 2),
        recurrence=Recurrence(states=(1,), backward="gru_scan_backward", backward_args=(1, 2)),
        save_output=True,
        arity=4,
        doc="A GRU layer's steps from the projected inputs gx [T, B, 3H] (input times W_ih.T plus b_ih, "
        "and b_hh's r and z parts), h0 [B, H], W_hh.T [H, 3H] and b_hn [H]: per step "
        "[h | r | z | n | nh], [T, B, 5H] (steps from T-1 down with reverse=True).",
    )
)
register(
    OpDef(
        "gru_scan_backward",
        Kind.CELL,
        _gru_scan_backward,
        _infer_gru_scan_backward,
        recurrent_scan.backward_vjp,
        arity=4,
        doc="gru_scan's gradient: from the gradient of its result, the result, h0 and W_hh.T, per step "
        "[d_gx | d_gh] [T, B, 6H] and, as row T, [dh0 | 0].",
    )
)
