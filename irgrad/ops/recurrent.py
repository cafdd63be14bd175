"""Fused recurrent cells (one op per time step instead of a dozen) and recurrent layers'
steps as one op (``lstm_scan``, ``gru_scan``, ``rnn_scan``, below).

An LSTM step is matmul + add (the gates) and then ``lstm_cell``: from the gate
pre-activations (i, f, g, o quarters, PyTorch's order) and the cell state it
computes ``c' = sigmoid(f) * c + sigmoid(i) * tanh(g)`` and ``h' = sigmoid(o) *
tanh(c')``, returned side by side as ``[h' | c']``.  As a composite that is 13
dispatched ops forward and as many backward nodes per time step; its gradient rule
is written with ordinary ops, so it is differentiable to any order and the IR
autodiff pass uses it unchanged.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from ..dtypes import from_numpy_dtype
from .registry import OPS, Kind, Meta, OpDef, Recurrence, VjpContext, register
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
    if ctx.higher_order:
        grads = _lstm_gradients(F, grad, ctx.out, c0, w, (steps, batch, size), ctx.metas[0].dtype, reverse)
    else:
        grads = F.lstm_scan_backward(grad, ctx.out, c0, w, reverse=reverse)
    d_gates = F.slice(grads, index=(slice(0, steps, 1),))
    d_h0 = _columns(F, grads, steps, 0, size)
    d_c0 = _columns(F, grads, steps, size, 2 * size)
    d_w = None
    if ctx.needs[3]:
        d_w = _recurrent_weight_gradient(F, ctx.out, h0, w, d_gates, (steps, batch, width), size, reverse)
    return (
        d_gates if ctx.needs[0] else None,
        d_h0 if ctx.needs[1] else None,
        d_c0 if ctx.needs[2] else None,
        d_w,
    )


def _columns(F, x, t, start, stop):
    """Step ``t`` of ``x`` [T, B, W], columns ``start:stop``."""
    return F.slice(x, index=(t, slice(None, None, 1), slice(start, stop, 1)))


def _zero_columns(F, like, count):
    """Zeros of ``like`` [B, H] repeated ``count`` times side by side: [B, count * H]."""
    return F.full_like(F.cat(*(like,) * count, dim=1), value=0.0)


def _recurrent_weight_gradient(F, out, h0, w, d_pre, shape, size, reverse):
    """``W_hh.T``'s (``w``'s) gradient, one product over all steps: the state each step
    read (h0, then the steps' own ``h``, columns ``:size`` of ``out``, in the order they
    ran), transposed, times the steps' pre-activation gradients ``d_pre`` (``shape``)."""
    steps, batch, width = shape
    if steps == 0:
        return F.full_like(w, value=0.0)
    first = F.reshape(h0, shape=(1, batch, size))
    if steps > 1:
        later = (
            slice(1, steps, 1) if reverse else slice(0, steps - 1, 1),
            slice(None, None, 1),
            slice(0, size, 1),
        )
        hs = F.slice(out, index=later)
        first = F.cat(hs, first, dim=0) if reverse else F.cat(first, hs, dim=0)
    read = F.reshape(first, shape=(steps * batch, size))
    return F.matmul(F.permute(read, dims=(1, 0)), F.reshape(d_pre, shape=(steps * batch, width)))


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
    for t in _steps(steps, not reverse):  # the forward's steps, last first
        before = t + 1 if reverse else t - 1
        c_prev = _columns(F, out, before, size, 2 * size) if 0 <= before < steps else c0
        grad_h, grad_c = _columns(F, grad, t, 0, size), _columns(F, grad, t, size, 2 * size)
        if d_h is not None:
            grad_h, grad_c = F.add(grad_h, d_h), F.add(grad_c, d_c)
        cell_ctx = VjpContext(
            ins=(_columns(F, out, t, 2 * size, 6 * size), c_prev),
            out=_columns(F, out, t, 0, 2 * size),
            metas=(gate_meta, cell),
            needs=(True, True),
            attrs={},
            higher_order=True,
        )
        d, d_c = _lstm_cell_vjp(F, F.cat(grad_h, grad_c, dim=1), cell_ctx)
        d = F.add(d, _columns(F, grad, t, 2 * size, 6 * size))
        d_h = F.matmul(d, F.permute(w, dims=(1, 0)))
        rows[t] = F.reshape(d, shape=(1, batch, width))
    if d_h is None:  # no steps
        d_h = d_c = F.full_like(c0, value=0.0)
    last = F.cat(d_h, d_c, _zero_columns(F, c0, 2), dim=1)
    return F.cat(*rows, F.reshape(last, shape=(1, batch, width)), dim=0)


def _lstm_scan_backward(grad, out, c0, w, *, reverse=False):
    steps, batch, six = out.shape
    shape, dtype = (steps, batch, six // 6), from_numpy_dtype(out.dtype)
    return _lstm_gradients(_numpy_ops(), grad, out, c0, w, shape, dtype, reverse)


def _infer_scan_backward(name: str, grad: Meta, out: Meta, states: tuple, w: Meta, widths: tuple) -> Meta:
    """The result of a scan's gradient op, [T+1, B, width * H], after checking its
    operands: the gradient and the scan's result [T, B, per_step * H], the states the
    rule reads [B, H] and W_hh.T [H, gates * H], all of one dtype (``widths`` is
    ``(per_step, gates, width)``)."""
    per_step, gates, width = widths
    shapes_ok = (
        len(out.shape) == 3 and tuple(grad.shape) == tuple(out.shape) and out.shape[-1] % per_step == 0
    )
    if shapes_ok:
        steps, batch, columns = out.shape
        size = columns // per_step
        shapes_ok = all(tuple(s.shape) == (batch, size) for s in states) and tuple(w.shape) == (
            size,
            gates * size,
        )
    if not shapes_ok or len({grad.dtype, out.dtype, w.dtype, *(s.dtype for s in states)}) != 1:
        operands = ", ".join(f"{fmt(m.shape)} {m.dtype}" for m in (grad, out, *states, w))
        raise RuntimeError(
            f"{name}: expected a gradient and a result of one shape [T, B, {per_step}H], states [B, H] "
            f"and a recurrent weight [H, {gates}H] of one dtype, got {operands}"
        )
    return Meta((steps + 1, batch, width * size), out.dtype)


def _infer_lstm_scan_backward(grad: Meta, out: Meta, c0: Meta, w: Meta, *, reverse=False) -> Meta:
    return _infer_scan_backward("lstm_scan_backward", grad, out, (c0,), w, (6, 4, 4))


def _scan_backward_vjp(F, grad, ctx):
    # a scan's rule computes step by step when its gradient is to be differentiated
    # (create_graph), so only a graph built with a scan's gradient op directly reaches here
    raise RuntimeError(
        "lstm_scan_backward, gru_scan_backward and rnn_scan_backward: no second derivative; differentiate the scan with "
        "create_graph=True, whose gradient is then computed with differentiable ops"
    )


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
        _scan_backward_vjp,
        arity=4,
        doc="lstm_scan's gradient: from the gradient of its result, the result, c0 and W_hh.T, the "
        "gate gradients of every step [T, B, 4H] and, as row T, [dh0 | dc0 | 0 | 0].",
    )
)


# --- a whole RNN layer (tanh or relu) over time ------------------------------------------
#
# ``h_t = act(gx_t + h_{t-1} @ W_hh.T)``: the result is the steps' ``h`` [T, B, H], which
# is also all its gradient reads (tanh's and relu's derivatives come from their output).
# The gradient is written once against an op namespace: ``rnn_scan_backward``'s kernel
# runs it on arrays, and under create_graph ``rnn_scan``'s rule runs it on tensors.

_ACTIVATIONS = ("tanh", "relu")


def _rnn_scan(gx, h0, w, *, nonlinearity="tanh", reverse=False):
    act = OPS[nonlinearity].eval
    out = np.empty(gx.shape, dtype=gx.dtype)
    h = h0
    for t in _steps(gx.shape[0], reverse):
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
    for t in _steps(steps, not reverse):
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


_NUMPY = None


def _numpy_ops():
    """The ops' kernels as a namespace (the ``F`` gradient rules run on arrays), made on
    first use, when every op module has registered its ops."""
    global _NUMPY
    if _NUMPY is None:
        _NUMPY = SimpleNamespace(**{name: op.eval for name, op in OPS.items()})
    return _NUMPY


def _rnn_scan_backward(grad, out, w, *, nonlinearity="tanh", reverse=False):
    steps, batch, size = out.shape
    if steps == 0:  # dh0 is 0
        return np.zeros((1, batch, size), dtype=out.dtype)
    dtype = from_numpy_dtype(out.dtype)
    return _rnn_gradients(_numpy_ops(), grad, out, w, out.shape, dtype, nonlinearity, reverse)


def _infer_rnn_scan_backward(grad: Meta, out: Meta, w: Meta, *, nonlinearity="tanh", reverse=False) -> Meta:
    return _infer_scan_backward("rnn_scan_backward", grad, out, (), w, (1, 1, 1))


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
        _recurrent_weight_gradient(F, ctx.out, h0, w, d_pre, ctx.metas[0].shape, size, reverse)
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
        _scan_backward_vjp,
        arity=3,
        doc="rnn_scan's gradient: from the gradient of its result, the result and W_hh.T, the "
        "pre-activation gradients of every step [T, B, H] and, as row T, dh0.",
    )
)


# --- a whole GRU layer over time ----------------------------------------------------------
#
# PyTorch's GRU step, as nn.GRU computes it eagerly: ``gh = h @ W_hh.T``, ``r, z =
# sigmoid(gx[:2H] + gh[:2H])``, ``nh = gh[2H:] + b_hn``, ``n = tanh(gx[2H:] + r * nh)``,
# ``h' = n + z * (h - n)``.  The result keeps, per step, ``[h | r | z | n | nh]`` (5H
# wide): the output, and what the gradient reads.


def _gru_scan(gx, h0, w, b_hn, *, reverse=False):
    steps, batch, width = gx.shape
    size = width // 3
    sigmoid, tanh = OPS["sigmoid"].eval, OPS["tanh"].eval
    out = np.empty((steps, batch, 5 * size), dtype=gx.dtype)
    h = h0
    for t in _steps(steps, reverse):
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
    :func:`_lstm_gradients` is."""
    steps, batch, size = shape

    def part(x, t, start, stop):
        return _columns(F, x, t, start * size, stop * size)

    d_h = None
    rows: list = [None] * steps
    for t in _steps(steps, not reverse):
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
    last = F.cat(F.full_like(h0, value=0.0) if d_h is None else d_h, _zero_columns(F, h0, 5), dim=1)
    return F.cat(*rows, F.reshape(last, shape=(1, batch, 6 * size)), dim=0)


def _gru_scan_backward(grad, out, h0, w, *, reverse=False):
    steps, batch, five = out.shape
    return _gru_gradients(_numpy_ops(), grad, out, h0, w, (steps, batch, five // 5), reverse)


def _infer_gru_scan_backward(grad: Meta, out: Meta, h0: Meta, w: Meta, *, reverse=False) -> Meta:
    return _infer_scan_backward("gru_scan_backward", grad, out, (h0,), w, (5, 3, 6))


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
    d_h0 = _columns(F, grads, steps, 0, size) if ctx.needs[1] else None
    d_w = (
        _recurrent_weight_gradient(F, ctx.out, h0, w, d_gh, (steps, batch, width), size, reverse)
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
        _scan_backward_vjp,
        arity=4,
        doc="gru_scan's gradient: from the gradient of its result, the result, h0 and W_hh.T, per step "
        "[d_gx | d_gh] [T, B, 6H] and, as row T, [dh0 | 0].",
    )
)
