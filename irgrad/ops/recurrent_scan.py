"""What the recurrent layers' scan ops (``lstm_scan``, ``gru_scan``, ``rnn_scan``) share.

A recurrent layer over T steps, traced step by step, is T copies of its step forward and
as many backward: the graph, every compiler pass over it and the trace itself grow with
T.  Each ``*_scan`` op is a layer's loop as one op (nn.LSTM, nn.GRU and nn.RNN record it
when traced), with a ``*_scan_backward`` op that runs the steps in reverse.  They share
the pieces here: the order the steps run in, a step's columns of a ``[T, B, W]`` result,
the recurrent weight's gradient as one product over all steps, the shape rule of the
backward ops, the backward ops' (missing) gradient rule, and the ops' kernels as an op
namespace, on which the backward kernels run their gradients written once against ``F``.
"""

from __future__ import annotations

from types import SimpleNamespace

from .registry import OPS, Meta
from .shapes import fmt


def step_order(count: int, reverse: bool) -> range:
    """The steps ``0..count-1`` in the order a scan runs them (last first with ``reverse``)."""
    return range(count - 1, -1, -1) if reverse else range(count)


def step_columns(F, x, t, start, stop):
    """Step ``t`` of ``x`` [T, B, W], columns ``start:stop``."""
    return F.slice(x, index=(t, slice(None, None, 1), slice(start, stop, 1)))


def zero_columns(F, like, count):
    """Zeros of ``like`` [B, H] repeated ``count`` times side by side: [B, count * H]."""
    return F.full_like(F.cat(*(like,) * count, dim=1), value=0.0)


def weight_gradient(F, out, h0, w, d_pre, shape, size, reverse):
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


def infer_backward(name: str, grad: Meta, out: Meta, states: tuple, w: Meta, widths: tuple) -> Meta:
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


def backward_vjp(F, grad, ctx):
    # a scan's rule computes step by step when its gradient is to be differentiated
    # (create_graph), so only a graph built with a scan's gradient op directly reaches here
    raise RuntimeError(
        "lstm_scan_backward, gru_scan_backward and rnn_scan_backward: no second derivative; differentiate the scan with "
        "create_graph=True, whose gradient is then computed with differentiable ops"
    )


_NUMPY = None


def numpy_ops():
    """The ops' kernels as a namespace (the ``F`` gradient rules run on arrays), made on
    first use, when every op module has registered its ops."""
    global _NUMPY
    if _NUMPY is None:
        _NUMPY = SimpleNamespace(**{name: op.eval for name, op in OPS.items()})
    return _NUMPY
