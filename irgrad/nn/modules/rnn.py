"""Recurrent layers: ``RNN``, ``LSTM``, ``GRU`` and their single-step cells, as ``torch.nn``.

Parameters are named, shaped, ordered and initialised as PyTorch's (so state dicts
load both ways) and the gate layouts are PyTorch's (LSTM ``i, f, g, o``; GRU
``r, z, n`` with ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``).

Everything is composed from public tensor ops, so autograd (and the tracer) get it
for free. Per layer and direction the input projection of ALL time steps is one
matmul; each step then costs one ``h @ W_hh.T`` for all gates together, sliced.
A ``PackedSequence`` is run as a zero-padded batch in which each step's state update
is masked (``where``) for the sequences that have ended (or, running backwards,
not yet begun), so final states sit at each sequence's true last step and gradients
are exact, with no Python loop over sequences.
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from ... import _tracing
from ...creation import empty, zeros
from ...dispatch import apply
from ...ops import OPS
from ...recording.grad_mode import is_grad_enabled
from ...tensor import Tensor
from ...tensor_ops.linalg import matmul
from ...tensor_ops.pointwise import add, relu, sigmoid, tanh, where
from ...tensor_ops.shape import cat, narrow, reshape, stack, transpose, unbind
from .. import init
from ..functional.dropout import dropout
from ..parameter import Parameter
from ..utils.rnn import PackedSequence, packed_to_padded, padded_to_packed, step_mask
from .module import Module

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]

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


class RNNBase(Module):
    """The shared machinery of ``RNN``, ``LSTM`` and ``GRU`` (``mode`` picks the cell)."""

    def __init__(
        self,
        mode: str,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        _check_config(input_size, hidden_size, num_layers, bias, batch_first, dropout, proj_size)
        if mode not in _GATES:
            raise ValueError("Unrecognized RNN mode: " + mode)
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        gate_size = _GATES[mode] * hidden_size
        real_hidden = proj_size if proj_size > 0 else hidden_size
        directions = 2 if bidirectional else 1
        self._flat_weights_names: list[str] = []
        self._all_weights: list[list[str]] = []
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else real_hidden * directions
            for direction in range(directions):
                suffix = "_reverse" if direction == 1 else ""
                shapes = {"weight_ih": (gate_size, layer_input), "weight_hh": (gate_size, real_hidden)}
                if bias:
                    shapes.update(bias_ih=(gate_size,), bias_hh=(gate_size,))
                if proj_size > 0:
                    shapes["weight_hr"] = (proj_size, hidden_size)
                names = []
                for kind, shape in shapes.items():
                    name = f"{kind}_l{layer}{suffix}"
                    setattr(self, name, Parameter(empty(shape, dtype=dtype)))
                    names.append(name)
                self._flat_weights_names.extend(names)
                self._all_weights.append(names)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every weight and bias ~ U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)), as PyTorch."""
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def flatten_parameters(self) -> None:
        """Accepted for compatibility (a cuDNN memory-layout hint in PyTorch); nothing to do."""

    @property
    def _flat_weights(self) -> list:
        return [getattr(self, name) for name in self._flat_weights_names]

    @property
    def all_weights(self) -> list[list[Parameter]]:
        return [[getattr(self, name) for name in names] for names in self._all_weights]

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size != 0:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s

    # --- forward ------------------------------------------------------------------------
    def _state_sizes(self) -> list[int]:
        """The last dim of each state tensor: (h,) or, for LSTM, (h, c)."""
        real_hidden = self.proj_size if self.proj_size > 0 else self.hidden_size
        return [real_hidden, self.hidden_size] if self.mode == "LSTM" else [real_hidden]

    def _name(self) -> str:
        return "RNN" if self.mode.startswith("RNN") else self.mode

    def forward(self, input, hx=None):
        """``(output, h_n)`` (LSTM: ``(output, (h_n, c_n))``) for a tensor or a PackedSequence."""
        lstm = self.mode == "LSTM"
        states = None if hx is None else (tuple(hx) if lstm else (hx,))
        packed = isinstance(input, PackedSequence)
        batched = True
        masks = None
        if packed:
            data, batch_sizes, sorted_indices, unsorted_indices = input
            _tracing.materialize(batch_sizes, "a packed sequence's batch sizes")  # they shape the loop
            sizes = np.asarray(batch_sizes._data, dtype=np.int64)
            self._check_input(data, 2)
            x = packed_to_padded(data, sizes)
            full = sizes == sizes[0]
            masks = [None if f else Tensor._wrap(m) for f, m in zip(full, step_mask(sizes))]
            if states is not None and sorted_indices is not None:
                states = tuple(s.index_select(1, sorted_indices) for s in states)
        else:
            if input.dim() not in (2, 3):
                tail = " tensor" if self.mode.startswith("RNN") else ""
                raise ValueError(
                    f"{self._name()}: Expected input to be 2D or 3D, got {input.dim()}D{tail} instead"
                )
            batched = input.dim() == 3
            x = input if batched else input.unsqueeze(0 if self.batch_first else 1)
            if states is not None:
                _check_state_dims(states, batched, lstm)
                if not batched:
                    states = tuple(s.unsqueeze(1) for s in states)
            self._check_input(x, 3)
            if self.batch_first:
                x = transpose(x, 0, 1)
        batch = x.shape[1]
        directions = 2 if self.bidirectional else 1
        if states is None:
            states = tuple(
                zeros((self.num_layers * directions, batch, size), dtype=x.dtype)
                for size in self._state_sizes()
            )
        else:
            self._check_states(states, batch)
        out, finals = self._run(x, states, masks)
        if packed:
            data_out = padded_to_packed(out, sizes)
            if unsorted_indices is not None:
                finals = tuple(s.index_select(1, unsorted_indices) for s in finals)
            return PackedSequence(data_out, batch_sizes, sorted_indices, unsorted_indices), (
                finals if lstm else finals[0]
            )
        if self.batch_first:
            out = transpose(out, 0, 1)
        if not batched:
            out = out.squeeze(0 if self.batch_first else 1)
            finals = tuple(s.squeeze(1) for s in finals)
        return out, (finals if lstm else finals[0])

    def _run(self, x: Tensor, states: tuple, masks: list | None) -> tuple[Tensor, tuple]:
        """All layers over time-major ``x``; returns (last layer's output, stacked final states)."""
        step = _STEPS[self.mode]
        directions = 2 if self.bidirectional else 1
        finals: list[list[Tensor]] = [[] for _ in states]
        for layer in range(self.num_layers):
            outs = []
            for direction in range(directions):
                k = layer * directions + direction
                w = self._layer_weights(k)
                out, final = _run_direction(step, x, tuple(s[k] for s in states), w, direction == 1, masks)
                outs.append(out)
                for store, s in zip(finals, final):
                    store.append(s)
            x = outs[0] if directions == 1 else cat(outs, 2)
            if self.dropout > 0 and self.training and layer < self.num_layers - 1:
                x = dropout(x, self.dropout, training=True)
        return x, tuple(stack(s, 0) for s in finals)

    def _layer_weights(self, k: int) -> _Weights:
        """The weights of layer-direction ``k`` (``layer * num_directions + direction``)."""
        params = dict(zip(("weight_ih", "weight_hh"), (getattr(self, n) for n in self._all_weights[k])))
        for name in self._all_weights[k][2:]:
            params[name.split("_l")[0]] = getattr(self, name)
        return _arrange(
            self.mode,
            params["weight_ih"],
            params["weight_hh"],
            params.get("bias_ih"),
            params.get("bias_hh"),
            params.get("weight_hr"),
        )

    def _check_input(self, x: Tensor, expected_dim: int) -> None:
        weight = getattr(self, self._flat_weights_names[0])
        if x.dtype != weight.dtype:
            raise ValueError(
                f"RNN input dtype ({x.dtype}) does not match weight dtype ({weight.dtype}). Convert input: "
                f"input.to({weight.dtype}), or convert model: model.to({x.dtype})"
            )
        if x.dim() != expected_dim:
            raise RuntimeError(f"input must have {expected_dim} dimensions, got {x.dim()}")
        if x.shape[-1] != self.input_size:
            raise RuntimeError(
                f"input.size(-1) must be equal to input_size. Expected {self.input_size}, got {x.shape[-1]}"
            )

    def _check_states(self, states: tuple, batch: int) -> None:
        layers = self.num_layers * (2 if self.bidirectional else 1)
        for i, (s, size) in enumerate(zip(states, self._state_sizes())):
            expected = (layers, batch, size)
            if tuple(s.shape) != expected:
                what = f"hidden[{i}] size" if self.mode == "LSTM" else "hidden size"
                raise RuntimeError(f"Expected {what} {expected}, got {list(s.shape)}")


def _check_state_dims(states: tuple, batched: bool, lstm: bool) -> None:
    want = 3 if batched else 2
    if all(s.dim() == want for s in states):
        return
    kind = "batched 3-D" if batched else "unbatched 2-D"
    if lstm:
        dims = ", ".join(f"{s.dim()}-D" for s in states)
        raise RuntimeError(f"For {kind} input, hx and cx should also be {want}-D but got ({dims}) tensors")
    raise RuntimeError(f"For {kind} input, hx should also be {want}-D but got {states[0].dim()}-D tensor")


def _check_config(input_size, hidden_size, num_layers, bias, batch_first, dropout, proj_size) -> None:
    if not isinstance(dropout, numbers.Number) or isinstance(dropout, bool) or not 0 <= dropout <= 1:
        raise ValueError(
            "dropout should be a number in range [0, 1] representing the probability of an element being zeroed"
        )
    if dropout > 0 and num_layers == 1:
        warnings.warn(
            "dropout option adds dropout after all but last recurrent layer, so non-zero dropout expects "
            f"num_layers greater than 1, but got dropout={dropout} and num_layers={num_layers}",
            stacklevel=3,
        )
    for name, value, kind in (
        ("bias", bias, bool),
        ("batch_first", batch_first, bool),
        ("input_size", input_size, int),
        ("hidden_size", hidden_size, int),
    ):
        if not isinstance(value, kind):
            raise TypeError(f"{name} should be of type {kind.__name__}, got: {type(value).__name__}")
    if input_size <= 0:
        raise ValueError("input_size must be greater than zero")
    if hidden_size <= 0:
        raise ValueError("hidden_size must be greater than zero")
    if num_layers <= 0:
        raise ValueError("num_layers must be greater than zero")
    if proj_size < 0:
        raise ValueError("proj_size should be a positive integer or zero to disable projections")
    if proj_size >= hidden_size:
        raise ValueError("proj_size has to be smaller than hidden_size")


class RNN(RNNBase):
    """Elman RNN: ``h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)`` (or ``relu``)."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device=None,
        dtype=None,
    ) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'.")
        self.nonlinearity = nonlinearity
        super().__init__(
            "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU",
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            0,
            device,
            dtype,
        )


class LSTM(RNNBase):
    """Long short-term memory; with ``proj_size > 0`` the hidden state is projected by ``W_hr``."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__(
            "LSTM",
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            proj_size,
            device,
            dtype,
        )


class GRU(RNNBase):
    """Gated recurrent unit (gates ``r, z, n`` as PyTorch)."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__(
            "GRU",
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            0,
            device,
            dtype,
        )


# --- cells ----------------------------------------------------------------------------------


class RNNCellBase(Module):
    """One step of a recurrent layer: parameters ``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh``."""

    _mode = ""

    def __init__(
        self, input_size: int, hidden_size: int, bias: bool, num_chunks: int, device=None, dtype=None
    ) -> None:
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        self.weight_ih = Parameter(empty((num_chunks * hidden_size, input_size), dtype=dtype))
        self.weight_hh = Parameter(empty((num_chunks * hidden_size, hidden_size), dtype=dtype))
        if bias:
            self.bias_ih = Parameter(empty((num_chunks * hidden_size,), dtype=dtype))
            self.bias_hh = Parameter(empty((num_chunks * hidden_size,), dtype=dtype))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity}"
        return s

    def reset_parameters(self) -> None:
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def _step(self, input: Tensor, state: tuple) -> tuple:
        mode = (
            self._mode if self._mode != "RNN" else ("RNN_TANH" if self.nonlinearity == "tanh" else "RNN_RELU")
        )
        w = _arrange(mode, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        step = _STEPS[mode]
        sequence = input.unsqueeze(0)
        if _scans(step, sequence, state, w, None):
            # traced: a scan of one step, which passes/roll_scans.py joins with the cell's
            # other steps of a Python loop into one scan over the whole sequence
            return _scan(step, _project(sequence, w), state, w, False)[1]
        return step(_project(input, w), state, w)

    def _prepare(self, input: Tensor, hx, n_states: int) -> tuple[Tensor, tuple, bool]:
        name = type(self).__name__
        if input.dim() not in (1, 2):
            raise ValueError(f"{name}: Expected input to be 1D or 2D, got {input.dim()}D instead")
        states = None if hx is None else (tuple(hx) if n_states == 2 else (hx,))
        if states is not None:
            for i, s in enumerate(states):
                if s.dim() not in (1, 2):
                    what = f"hx[{i}]" if n_states == 2 else "hidden"
                    raise ValueError(f"{name}: Expected {what} to be 1D or 2D, got {s.dim()}D instead")
        batched = input.dim() == 2
        if not batched:
            input = input.unsqueeze(0)
        if states is None:
            zero = zeros((input.shape[0], self.hidden_size), dtype=input.dtype)
            states = (zero,) * n_states
        elif not batched:
            states = tuple(s.unsqueeze(0) for s in states)
        return input, states, batched


class RNNCell(RNNCellBase):
    """``h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)`` (or ``relu``)."""

    _mode = "RNN"

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: str = "tanh",
        device=None,
        dtype=None,
    ) -> None:
        super().__init__(input_size, hidden_size, bias, num_chunks=1, device=device, dtype=dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        if self.nonlinearity not in ("tanh", "relu"):
            raise RuntimeError(f"Unknown nonlinearity: {self.nonlinearity}")
        input, states, batched = self._prepare(input, hx, 1)
        (h,) = self._step(input, states)
        return h if batched else h.squeeze(0)


class LSTMCell(RNNCellBase):
    """One LSTM step: returns ``(h', c')``."""

    _mode = "LSTM"

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None, dtype=None) -> None:
        super().__init__(input_size, hidden_size, bias, num_chunks=4, device=device, dtype=dtype)

    def forward(self, input: Tensor, hx: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, Tensor]:
        input, states, batched = self._prepare(input, hx, 2)
        h, c = self._step(input, states)
        return (h, c) if batched else (h.squeeze(0), c.squeeze(0))


class GRUCell(RNNCellBase):
    """One GRU step: returns ``h'``."""

    _mode = "GRU"

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None, dtype=None) -> None:
        super().__init__(input_size, hidden_size, bias, num_chunks=3, device=device, dtype=dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        input, states, batched = self._prepare(input, hx, 1)
        (h,) = self._step(input, states)
        return h if batched else h.squeeze(0)
