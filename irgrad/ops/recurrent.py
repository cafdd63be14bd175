"""Fused recurrent cells: one op per time step instead of a dozen.

An LSTM step is matmul + add (the gates) and then ``lstm_cell``: from the gate
pre-activations (i, f, g, o quarters, PyTorch's order) and the cell state it
computes ``c' = sigmoid(f) * c + sigmoid(i) * tanh(g)`` and ``h' = sigmoid(o) *
tanh(c')``, returned side by side as ``[h' | c']``.  As a composite that is 13
dispatched ops forward and as many backward nodes per time step; its gradient rule
is written with ordinary ops, so it is differentiable to any order and the IR
autodiff pass uses it unchanged.
"""

from __future__ import annotations

import numpy as np

from .registry import OPS, Kind, Meta, OpDef, VjpContext, register
from .shapes import fmt


def _sigmoid(x):
    e = np.exp(-x)
    e += 1
    return np.reciprocal(e, out=e)


def _lstm_cell(gates, c):
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


def _lstm_cell_vjp(F, grad, ctx):
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
        _lstm_cell,
        _infer_lstm_cell,
        _lstm_cell_vjp,
        save_inputs=True,
        save_output=True,
        arity=2,
        doc="One LSTM step from gate pre-activations [..., 4H] (i, f, g, o) and cell state [..., H]: "
        "returns [h' | c'] of shape [..., 2H].",
    )
)


# --- a whole LSTM layer over time: one op forward, one backward -------------------------
#
# An LSTM over T steps, traced step by step, is T copies of (matmul, add, lstm_cell,
# narrows) forward and as many backward: the graph, every compiler pass over it and the
# trace itself grow with T.  ``lstm_scan`` is the layer's loop as one op (nn.LSTM records
# it when traced), so a 32-step LSTM is as many nodes as a 4-step one.  Its result keeps,
# per step, what the gradient reads: ``[h_t | c_t | gates_t]`` (gates before their
# activations), 6H wide.  ``lstm_scan_backward`` runs the steps in reverse: per step the
# gate gradients (``lstm_cell``'s rule) and ``dh = d_gates @ W_hh``; the weight gradient
# is then one matmul over all steps, outside the loop.


def _steps(count: int, reverse: bool) -> range:
    return range(count - 1, -1, -1) if reverse else range(count)


def _lstm_scan(gx, h0, c0, w, *, reverse=False):
    steps, batch, width = gx.shape
    size = width // 4
    out = np.empty((steps, batch, 6 * size), dtype=gx.dtype)
    h, c = h0, c0
    for t in _steps(steps, reverse):
        gates = gx[t] + h @ w  # as eager's add(gx_t, matmul(h, W_hh.T))
        out[t, :, 2 * size :] = gates
        out[t, :, : 2 * size] = _lstm_cell(gates, c)
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
    every = slice(None, None, 1)
    if ctx.higher_order:
        d_gates, d_h0, d_c0 = _gradients_step_by_step(F, grad, ctx)
    else:
        grads = F.lstm_scan_backward(grad, ctx.out, c0, w, reverse=reverse)
        d_gates = F.slice(grads, index=(slice(0, steps, 1),))
        last = F.slice(grads, index=(steps,))
        d_h0 = F.slice(last, index=(every, slice(0, size, 1)))
        d_c0 = F.slice(last, index=(every, slice(size, 2 * size, 1)))
    d_w = None
    if ctx.needs[3]:
        # the state each step read: h0, then the steps' own outputs in the order they ran
        first = F.reshape(h0, shape=(1, batch, size))
        if steps > 1:
            later = (slice(1, steps, 1) if reverse else slice(0, steps - 1, 1), every, slice(0, size, 1))
            hs = F.slice(ctx.out, index=later)
            first = F.cat(hs, first, dim=0) if reverse else F.cat(first, hs, dim=0)
        read = F.reshape(first, shape=(steps * batch, size))
        d_w = F.matmul(F.permute(read, dims=(1, 0)), F.reshape(d_gates, shape=(steps * batch, width)))
    return (
        d_gates if ctx.needs[0] else None,
        d_h0 if ctx.needs[1] else None,
        d_c0 if ctx.needs[2] else None,
        d_w,
    )


def _gradients_step_by_step(F, grad, ctx):
    """``(d_gates, d_h0, d_c0)`` as ``lstm_scan_backward`` computes them, but with one
    ``lstm_cell`` gradient rule and one matmul per step: ops that are differentiable
    themselves, for ``create_graph`` (a second derivative through an LSTM)."""
    _, h0, c0, w = ctx.ins
    steps, batch, width = ctx.metas[0].shape
    size = width // 4
    reverse = ctx.attrs.get("reverse", False)
    every = slice(None, None, 1)

    def part(x, t, start, stop):
        return F.slice(x, index=(t, every, slice(start, stop, 1)))

    cell = Meta((batch, size), ctx.metas[2].dtype)
    gate_meta = Meta((batch, width), ctx.metas[0].dtype)
    d_h = d_c = None
    d_gates: list = [None] * steps
    for t in _steps(steps, not reverse):  # the forward's steps, last first
        before = t + 1 if reverse else t - 1
        c_prev = part(ctx.out, before, size, 2 * size) if 0 <= before < steps else c0
        grad_h, grad_c = part(grad, t, 0, size), part(grad, t, size, 2 * size)
        if d_h is not None:
            grad_h, grad_c = F.add(grad_h, d_h), F.add(grad_c, d_c)
        cell_ctx = VjpContext(
            ins=(part(ctx.out, t, 2 * size, 6 * size), c_prev),
            out=part(ctx.out, t, 0, 2 * size),
            metas=(gate_meta, cell),
            needs=(True, True),
            attrs={},
            higher_order=True,
        )
        d, d_c = _lstm_cell_vjp(F, F.cat(grad_h, grad_c, dim=1), cell_ctx)
        d = F.add(d, part(grad, t, 2 * size, 6 * size))
        d_h = F.matmul(d, F.permute(w, dims=(1, 0)))
        d_gates[t] = F.reshape(d, shape=(1, batch, width))
    return F.cat(*d_gates, dim=0), d_h, d_c


def _lstm_scan_backward(grad, out, c0, w, *, reverse=False):
    steps, batch, six = out.shape
    size = six // 6
    sigmoid = OPS["sigmoid"].eval
    result = np.zeros((steps + 1, batch, 4 * size), dtype=out.dtype)
    d_h = np.zeros((batch, size), dtype=out.dtype)
    d_c = np.zeros((batch, size), dtype=out.dtype)
    for t in _steps(steps, not reverse):  # the forward's steps, last first
        before = t + 1 if reverse else t - 1
        c_prev = out[before, :, size : 2 * size] if 0 <= before < steps else c0
        gates = out[t, :, 2 * size :]
        i, f, o = (sigmoid(gates[:, k * size : (k + 1) * size]) for k in (0, 1, 3))
        g = np.tanh(gates[:, 2 * size : 3 * size])
        tanh_c = np.tanh(out[t, :, size : 2 * size])
        grad_h = grad[t, :, :size] + d_h
        grad_c = (grad[t, :, size : 2 * size] + d_c) + grad_h * o * (1.0 - tanh_c * tanh_c)
        d = result[t]
        d[:, :size] = grad_c * g * (i * (1.0 - i))
        d[:, size : 2 * size] = grad_c * c_prev * (f * (1.0 - f))
        d[:, 2 * size : 3 * size] = grad_c * i * (1.0 - g * g)
        d[:, 3 * size :] = grad_h * tanh_c * (o * (1.0 - o))
        d += grad[t, :, 2 * size :]
        d_h = d @ w.T
        d_c = grad_c * f
    result[steps, :, :size] = d_h
    result[steps, :, size : 2 * size] = d_c
    return result


def _infer_lstm_scan_backward(grad: Meta, out: Meta, c0: Meta, w: Meta, *, reverse=False) -> Meta:
    if len(out.shape) != 3 or tuple(grad.shape) != tuple(out.shape) or out.shape[-1] % 6:
        raise RuntimeError(
            f"lstm_scan_backward: expected a gradient and a result of one shape [T, B, 6H], "
            f"got {fmt(grad.shape)} and {fmt(out.shape)}"
        )
    steps, batch, six = out.shape
    return Meta((steps + 1, batch, 4 * (six // 6)), out.dtype)


def _lstm_scan_backward_vjp(F, grad, ctx):
    # lstm_scan's rule computes step by step when its gradient is to be differentiated
    # (create_graph), so only a graph built with this op directly reaches here
    raise RuntimeError(
        "lstm_scan_backward: no second derivative; differentiate lstm_scan with create_graph=True, "
        "whose gradient is then computed with differentiable ops"
    )


register(
    OpDef(
        "lstm_scan",
        Kind.CELL,
        _lstm_scan,
        _infer_lstm_scan,
        _lstm_scan_vjp,
        save_inputs=(1, 2, 3),
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
        _lstm_scan_backward_vjp,
        arity=4,
        doc="lstm_scan's gradient: from the gradient of its result, the result, c0 and W_hh.T, the "
        "gate gradients of every step [T, B, 4H] and, as row T, [dh0 | dc0 | 0 | 0].",
    )
)
