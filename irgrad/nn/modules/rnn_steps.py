"""The recurrence shared by the recurrent layers and cells: weights arranged per mode,
the input projection of all time steps as one matmul, one step per mode (RNN, LSTM,
GRU, with PyTorch's gate layouts), and the loop over time, traced as one scan where a
mode has a scan op, masked for packed sequences."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from ... import _tracing
from ...creation import zeros
from ...dispatch import apply
from ...ops import OPS
from ...recording.grad_mode import is_grad_enabled
from ...tensor import Tensor
from ...tensor_ops.linalg import matmul
from ...tensor_ops.pointwise import add, relu, sigmoid, tanh, where
from ...tensor_ops.shape import reshape
from ...tensor_ops.split_join import cat, narrow, stack, unbind

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


class _Weights(NamedTuple):
    """One layer-direction's weights, arranged for the recurrence."""

    w_ih: Tensor
    bias: Tensor | None  # added to the input projection: b_ih + b_hh (GRU: only the r, z part of b_hh)
    hh_t: Tensor  # W_hh.T
    b_hn: Tensor | None  # GRU: b_hh's n part, which sits inside r * (...)
    hr_t: Tensor | None  # LSTM with proj_size: W_hr.T


def _arrange(mode: str, w_ih, w_hh, b_ih, b_hh, w_hr=None) -> _Weights:
    bias = b_hn = None
    if b_ih is not None:
        if mode == "GRU":
            two = 2 * (b_hh.shape[0] // 3)
            bias = cat(
                [
                    add(narrow(b_ih, 0, 0, two), narrow(b_hh, 0, 0, two)),
                    narrow(b_ih, 0, two, b_ih.shape[0] - two),
                ]
            )
            b_hn = narrow(b_hh, 0, two, b_hh.shape[0] - two)
        else:
            bias = add(b_ih, b_hh)
    return _Weights(w_ih, bias, w_hh.t(), b_hn, None if w_hr is None else w_hr.t())


def _project(x: Tensor, w: _Weights) -> Tensor:
    """``x @ W_ih.T + bias`` over all leading dims with one 2-D matmul."""
    lead = x.shape[:-1]
    out = matmul(reshape(x, (-1, x.shape[-1])), w.w_ih.t())
    if w.bias is not None:
        out = add(out, w.bias)
    return reshape(out, tuple(lead) + (out.shape[-1],))


# --- one time step: (projected input, state) -> new state; the output is state[0] ----------


def _rnn_step(act: Callable[[Tensor], Tensor]):
    def step(gx: Tensor, state: tuple, w: _Weights) -> tuple:
        return (act(add(gx, matmul(state[0], w.hh_t))),)

    return step


def _lstm_step(gx: Tensor, state: tuple, w: _Weights) -> tuple:
    h, c = state
    size = c.shape[-1]
    gates = add(gx, matmul(h, w.hh_t))
    # One fused op for the gate activations and the state update (see ops/recurrent.py).
    hc = apply(OPS["lstm_cell"], (gates, c))
    h, c = narrow(hc, -1, 0, size), narrow(hc, -1, size, size)
    if w.hr_t is not None:
        h = matmul(h, w.hr_t)
    return h, c


def _gru_step(gx: Tensor, state: tuple, w: _Weights) -> tuple:
    (h,) = state
    size = h.shape[-1]
    gh = matmul(h, w.hh_t)
    rz = sigmoid(add(narrow(gx, 1, 0, 2 * size), narrow(gh, 1, 0, 2 * size)))
    r, z = narrow(rz, 1, 0, size), narrow(rz, 1, size, size)
    nh = narrow(gh, 1, 2 * size, size)
    if w.b_hn is not None:
        nh = add(nh, w.b_hn)
    n = tanh(add(narrow(gx, 1, 2 * size, size), r * nh))
    return (add(n, z * (h - n)),)


_STEPS = {"RNN_TANH": _rnn_step(tanh), "RNN_RELU": _rnn_step(relu), "LSTM": _lstm_step, "GRU": _gru_step}


def _time_steps(x: Tensor) -> list[Tensor]:
    """``x``'s slices along dim 0.

    With autograd, each slice's gradient is a zero-filled tensor of its parent's full
    shape; splitting by recursive halving keeps the total of those O(T log T) where
    T plain slices would cost O(T^2).
    """
    n = x.shape[0]
    if n <= 4 or not (x._rg and is_grad_enabled()):
        return list(unbind(x, 0))
    mid = n // 2
    return _time_steps(narrow(x, 0, 0, mid)) + _time_steps(narrow(x, 0, mid, n - mid))


_SCANNED = {"RNN_TANH": "tanh", "RNN_RELU": "relu"}  # RNN modes traced as one rnn_scan, by activation
_MODE_OF_STEP = {step: mode for mode, step in _STEPS.items()}


def _scans(step, x: Tensor, state: tuple, w: _Weights, masks: list | None) -> bool:
    """Whether this direction runs as one scan op (``lstm_scan``, ``gru_scan``,
    ``rnn_scan``): when traced (for ``irgrad.compile``, whose graphs, passes and trace then
    do not grow with the sequence's length), for a plain LSTM, GRU or RNN over a batch.
    Eagerly the steps stay separate ops, each differentiable to any order."""
    return (
        _tracing.tracing()
        and _MODE_OF_STEP.get(step) is not None
        and w.hr_t is None
        and masks is None
        and x.dim() == 3
        and x.shape[0] > 0
        and all(s.dim() == 2 for s in state)
    )


def _scan(step, gx: Tensor, state: tuple, w: _Weights, reverse: bool) -> tuple[Tensor, tuple]:
    """The scan op (``lstm_scan``, ``gru_scan`` or ``rnn_scan``) over projected inputs
    ``gx``: its result, and the final state as views of its last step."""
    mode = _MODE_OF_STEP[step]
    last = 0 if reverse else gx.shape[0] - 1
    h0 = state[0]
    size = h0.shape[-1]
    if mode == "LSTM":
        out = apply(OPS["lstm_scan"], (gx, h0, state[1], w.hh_t), {"reverse": reverse})
    elif mode == "GRU":
        b_hn = w.b_hn if w.b_hn is not None else zeros(size, dtype=h0.dtype)
        out = apply(OPS["gru_scan"], (gx, h0, w.hh_t, b_hn), {"reverse": reverse})
    else:
        out = apply(OPS["rnn_scan"], (gx, h0, w.hh_t), {"nonlinearity": _SCANNED[mode], "reverse": reverse})
    final = reshape(narrow(out, 0, last, 1), (out.shape[1], out.shape[2]))
    states = (narrow(final, 1, 0, size),) + ((narrow(final, 1, size, size),) if mode == "LSTM" else ())
    return out, states


def _scan_direction(step, x: Tensor, state: tuple, w: _Weights, reverse: bool) -> tuple[Tensor, tuple]:
    """A direction as one scan op: its outputs and final state.  The outputs are a copy of
    the ``h`` columns of the op's result, fresh and contiguous as eager's stacked steps
    (the result itself is saved for the gradient, so it must not be written in place);
    the final state is a view of the last step (``_run`` stacks it)."""
    out, states = _scan(step, _project(x, w), state, w, reverse)
    return narrow(out, 2, 0, state[0].shape[-1]).clone(), states


def _run_direction(step, x: Tensor, state: tuple, w: _Weights, reverse: bool, masks: list | None):
    """Run one direction of one layer over time-major ``x``: (outputs ``T x B x H``, final state)."""
    if _scans(step, x, state, w, masks):
        return _scan_direction(step, x, state, w, reverse)
    steps = _time_steps(_project(x, w))
    outputs: list = [None] * len(steps)
    for t in reversed(range(len(steps))) if reverse else range(len(steps)):
        new = step(steps[t], state, w)
        if masks is not None and masks[t] is not None:
            new = tuple(where(masks[t], n, s) for n, s in zip(new, state))
        state = new
        outputs[t] = state[0]
    return stack(outputs, 0), state
