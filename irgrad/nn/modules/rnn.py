"""Recurrent layers: ``RNN``, ``LSTM``, ``GRU``, as ``torch.nn`` (their single-step cells are in
:mod:`.rnn_cells`, the steps both run in :mod:`.rnn_steps`).

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

import numpy as np

from ... import _tracing
from ...creation import empty, zeros
from ...tensor import Tensor
from ...tensor_ops.shape import transpose
from ...tensor_ops.split_join import cat, stack
from .. import init
from ..functional.dropout import dropout
from ..parameter import Parameter
from ..utils.rnn import PackedSequence, packed_to_padded, padded_to_packed, step_mask
from .module import Module
from .rnn_steps import _GATES, _STEPS, _arrange, _run_direction, _Weights

__all__ = ["RNNBase", "RNN", "LSTM", "GRU"]


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
