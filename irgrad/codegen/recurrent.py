"""Native recurrent code: one LSTM step (``lstm_cell``) and a whole layer's steps
(``lstm_scan``, ``gru_scan``, ``rnn_scan`` and their gradients).

A cell is one loop over its rows and units, computing the gates with the scalar rules of
``sigmoid`` and ``tanh`` (the definitions every elementwise kernel uses).

``lstm_scan`` is a loop over the time steps inside the program: per step, the projected
input ``gx_t`` is copied into the step's gate columns, the tiled product adds
``h_{t-1} @ W_hh.T`` to them (read in place, C's rows 6H apart), and the cell writes
``[h_t | c_t]`` beside them.  ``h_{t-1}`` and ``c_{t-1}`` are read from the previous
step's row, or, before the first step, from a scratch row holding ``[h0 | c0]`` in the
same layout, so one product shape and one cell kernel serve every step.

``lstm_scan_backward`` runs the steps last first: a kernel computes the step's gate
gradients (``lstm_cell``'s rule, from the saved pre-activations) and the cell state's
gradient for the step before, then ``dh = d_gates @ W_hh`` (the dot form: W_hh.T read
transposed in place).  ``rnn_scan`` and ``gru_scan`` follow the same pattern (the GRU's
product goes to a scratch buffer, since its ``n`` gate needs ``r * (h @ W_hn.T + b_hn)``).
So the program holds each kernel once whatever the sequence's length, and LLVM compiles
the layer once.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import llvmlite.ir as ir
import numpy as np

from ..ir.graph import Node
from ..native.loops import I64, const, for_range
from ..ops import OPS
from . import tiled_gemm
from .elementwise import loop_nest, store
from .emission import Emission, Lowering, Operand
from .gemm_kernels import Tiling, host_tiling
from .layout import Place
from .movement import fill, matrix_strides
from .run_time import size_value
from .scalars import LlvmScalars, Value, storage_type

Strides = tuple[int, int]
# element(S, read, write, kernel pointers): one (row, unit) of a row kernel
Element = Callable[..., None]


def _position(builder: ir.IRBuilder, indices: list, strides: Strides, column: int) -> ir.Value:
    row, unit = indices
    start = builder.mul(row, ir.Constant(I64, strides[0]))
    return builder.add(
        start, builder.mul(builder.add(unit, ir.Constant(I64, column)), ir.Constant(I64, strides[1]))
    )


def _row_kernel(
    at: Emission,
    key: tuple,
    pointers: list,
    shape: tuple[int, int],
    dtype: np.dtype,
    element: Element,
    disjoint: bool = True,
) -> None:
    """Call the kernel for ``key`` (named ``key[0]``) on ``pointers``: a loop over the
    (row, unit) positions of ``shape`` running ``element(S, read, write, args)`` at each,
    with the scalar ISA ``S``, ``read(pointer, strides, column=0)`` loading the element
    ``column`` units on in a matrix of these element strides, ``write(pointer, strides,
    column, value)`` storing one, and the kernel's pointer arguments ``args``
    (``disjoint``: see :meth:`.Emission.kernel`)."""

    def build(builder: ir.IRBuilder, args) -> None:
        indices: list[ir.Value] = []

        def read(pointer: ir.Value, strides: Strides, column: int = 0) -> Value:
            address = builder.gep(pointer, [_position(builder, indices, strides, column)])
            return Value(builder.load(address), dtype, 1)

        def write(pointer: ir.Value, strides: Strides, column: int, value: Value) -> None:
            store(
                builder, value.ir, dtype, builder.gep(pointer, [_position(builder, indices, strides, column)])
            )

        S = LlvmScalars(builder)
        loop_nest(builder, shape, indices, lambda: element(S, read, write, args), key[0])

    at.call(key, key[0], list(pointers), build, disjoint=disjoint)


def _copy_rows(
    at: Emission, shape: tuple[int, int], dtype: np.dtype, strides: tuple[Strides, Strides], pointers
) -> None:
    """Copy a rows x units matrix between two strided places (source, target)."""
    source_strides, target_strides = strides

    def element(S, read, write, args) -> None:
        write(args[1], target_strides, 0, read(args[0], source_strides))

    _row_kernel(at, ("recurrent_rows", shape, dtype.str, strides), pointers, shape, dtype, element)


def _step_pointer(
    builder: ir.IRBuilder, base: ir.Value, step: ir.Value, step_size: int, column: int = 0
) -> ir.Value:
    """Element ``column`` of step ``step``'s rows (``step_size`` elements a step) from ``base``."""
    return builder.gep(base, [builder.add(builder.mul(step, size_value(builder, step_size)), const(column))])


@contextmanager
def _over_steps(
    b: ir.IRBuilder, steps: int, reverse: bool, last_first: bool = False
) -> Iterator[tuple[ir.Value, Callable[..., ir.Value]]]:
    """A loop over a scan's steps in the order its forward ran them (``last_first``: the
    order its gradient runs them).  Yields the step ``t`` and ``previous(first, base,
    step_size)``: where the state the step read is, ``first`` for the forward's first
    step, else the step before's rows in ``base``."""
    with for_range(b, size_value(b, steps), "step", unroll=False) as i:
        t = b.sub(size_value(b, steps - 1), i) if reverse != last_first else i
        before = b.add(t, const(1)) if reverse else b.sub(t, const(1))
        opening = b.icmp_signed("==", i, size_value(b, steps - 1) if last_first else const(0))

        def previous(first: ir.Value, base: ir.Value, step_size: int) -> ir.Value:
            return b.select(opening, first, _step_pointer(b, base, before, step_size))

        yield t, previous


def _scan_attrs(node: Node) -> tuple[bool, str]:
    return node.attrs.get("reverse", False), node.attrs.get("nonlinearity", "tanh")


def _gemm(dtype: np.dtype) -> tuple[ir.Type, Tiling]:
    return storage_type(dtype), host_tiling(dtype)


# --- LSTM ---------------------------------------------------------------------------------


def _call_cell(
    at: Emission,
    shape: tuple[int, int],
    dtype: np.dtype,
    strides: tuple[Strides, Strides, Strides],
    pointers: list[ir.Value],
    disjoint: bool,
) -> None:
    """Call the forward cell on ``pointers`` (gates, c, out): per row and unit,
    ``c' = σ(f)·c + σ(i)·tanh(g)`` and ``h' = σ(o)·tanh(c')``, written as ``[h' | c']``
    along out's row; each operand is read or written through its (row, unit) strides."""
    gate_strides, cell_strides, out_strides = strides
    size = shape[1]
    sigmoid, tanh = OPS["sigmoid"].scalar, OPS["tanh"].scalar

    def element(S, read, write, args) -> None:
        gates_at, c_at, out_at = args
        i, f, o = (sigmoid(S, read(gates_at, gate_strides, k * size)) for k in (0, 1, 3))
        g = tanh(S, read(gates_at, gate_strides, 2 * size))
        c_new = S.add(S.mul(f, read(c_at, cell_strides)), S.mul(i, g))
        write(out_at, out_strides, size, c_new)
        write(out_at, out_strides, 0, S.mul(o, tanh(S, c_new)))

    key = ("lstm_cell", shape, dtype.str, strides, disjoint)
    _row_kernel(at, key, pointers, shape, dtype, element, disjoint)


class LstmCellLowering(Lowering):
    """``lstm_cell(gates, c)`` as one cell call.  The gates and the cell state are read
    through their strides as 2-D (rows, units): the state is usually the ``c`` half of the
    previous step's result, a view with rows twice as long."""

    def contiguous_args(self, args) -> list[bool]:
        return [matrix_strides(a) is None for a in args]

    def emit(self, at: Emission, args: list[Operand], out: Operand) -> None:
        gates, c = args
        size = c.place.shape[-1]
        rows = math.prod(c.place.shape[:-1])
        if rows * size == 0:
            return
        strides = (matrix_strides(gates.place), matrix_strides(c.place), (2 * size, 1))
        pointers = [gates.pointer, c.pointer, out.pointer]
        _call_cell(at, (rows, size), c.place.dtype, strides, pointers, False)


class LstmScanLowering(Lowering):
    """``lstm_scan(gx, h0, c0, w)``: the layer's time steps as a loop in the program."""

    def contiguous_args(self, args: list[Place]) -> list[bool]:
        return [True] * 4

    def scratch(self, args: list[Place]) -> list[tuple]:
        batch, size = args[1].shape
        return [((batch, 6 * size), args[0].dtype)]  # [h0 | c0] laid out as a step's row

    def splits(self, places: list[Place]) -> bool:
        _, batch, width = places[0].shape
        return batch * width * (width // 4) >= tiled_gemm.PARALLEL_MACS

    def emit(self, at: Emission, args: list[Operand], out: Operand) -> None:
        gx, h0, c0, w, first = args
        steps, batch, width = gx.place.shape
        size = width // 4
        if steps * batch * size == 0:
            return
        dtype, row = gx.place.dtype, 6 * size
        b = at.builder
        plain, in_row = (size, 1), (row, 1)
        _copy_rows(at, (batch, size), dtype, (plain, in_row), [h0.pointer, first.pointer])
        _copy_rows(
            at, (batch, size), dtype, (plain, in_row), [c0.pointer, b.gep(first.pointer, [const(size)])]
        )
        product = tiled_gemm.GemmShape(batch, width, size, in_row, (width, 1), row, True)
        float_type, tiling = _gemm(dtype)
        reverse, _ = _scan_attrs(self.node)
        with _over_steps(b, steps, reverse) as (t, previous_of):
            previous = previous_of(first.pointer, out.pointer, batch * row)
            gates = _step_pointer(b, out.pointer, t, batch * row, 2 * size)
            source = _step_pointer(b, gx.pointer, t, batch * width)
            _copy_rows(at, (batch, width), dtype, ((width, 1), in_row), [source, gates])
            tiled_gemm.emit(b, [previous, w.pointer, gates], float_type, product, tiling)
            pointers = [gates, b.gep(previous, [const(size)]), _step_pointer(b, out.pointer, t, batch * row)]
            _call_cell(at, (batch, size), dtype, (in_row, in_row, in_row), pointers, True)


def _call_cell_backward(
    at: Emission, shape: tuple[int, int], dtype: np.dtype, pointers: list[ir.Value]
) -> None:
    """Call the backward cell on ``pointers`` (the step's result gradient and result rows,
    the previous cell state's row, dh, dc, the step's gate gradients): ``lstm_cell``'s
    gradient rule per row and unit, plus the gradient of the saved gates; ``dc`` becomes the
    previous step's cell gradient."""
    size = shape[1]
    in_row, plain, gate_row = (6 * size, 1), (size, 1), (4 * size, 1)
    sigmoid, tanh = OPS["sigmoid"].scalar, OPS["tanh"].scalar

    def element(S, read, write, args) -> None:
        grad_at, out_at, c_prev_at, dh_at, dc_at, d_at = args
        i, f, o = (sigmoid(S, read(out_at, in_row, (2 + k) * size)) for k in (0, 1, 3))
        g = tanh(S, read(out_at, in_row, 4 * size))
        tanh_c = tanh(S, read(out_at, in_row, size))
        one = S.const(1, i)
        grad_h = S.add(read(grad_at, in_row), read(dh_at, plain))
        through_h = S.mul(S.mul(grad_h, o), S.sub(one, S.mul(tanh_c, tanh_c)))
        grad_c = S.add(S.add(read(grad_at, in_row, size), read(dc_at, plain)), through_h)
        d = (
            S.mul(S.mul(grad_c, g), S.mul(i, S.sub(one, i))),
            S.mul(S.mul(grad_c, read(c_prev_at, in_row)), S.mul(f, S.sub(one, f))),
            S.mul(S.mul(grad_c, i), S.sub(one, S.mul(g, g))),
            S.mul(S.mul(grad_h, tanh_c), S.mul(o, S.sub(one, o))),
        )
        for k, value in enumerate(d):
            write(d_at, gate_row, k * size, S.add(value, read(grad_at, in_row, (2 + k) * size)))
        write(dc_at, plain, 0, S.mul(grad_c, f))

    _row_kernel(at, ("lstm_cell_backward", shape, dtype.str), pointers, shape, dtype, element)


class LstmScanBackwardLowering(Lowering):
    """``lstm_scan_backward(grad, out, c0, w)``: the steps' gradients as a loop in the
    program, last step first; row T of the result gets ``[dh0 | dc0 | 0 | 0]``."""

    def contiguous_args(self, args: list[Place]) -> list[bool]:
        return [True] * 4

    def scratch(self, args: list[Place]) -> list[tuple]:
        _, batch, row = args[1].shape
        size, dtype = row // 6, args[1].dtype
        return [((batch, row), dtype), ((batch, size), dtype), ((batch, size), dtype)]  # c0's row, dh, dc

    def splits(self, places: list[Place]) -> bool:
        _, batch, row = places[1].shape
        return batch * (row // 6) * (4 * row // 6) >= tiled_gemm.PARALLEL_MACS

    def emit(self, at: Emission, args: list[Operand], out: Operand) -> None:
        grad, saved, c0, w, first, dh, dc = args
        steps, batch, row = saved.place.shape
        size = row // 6
        width, dtype = 4 * size, saved.place.dtype
        if batch * size == 0:
            return
        fill(at, out, 0.0)
        if steps == 0:
            return
        fill(at, dh, 0.0)
        fill(at, dc, 0.0)
        b = at.builder
        plain, gate_row = (size, 1), (width, 1)
        _copy_rows(
            at, (batch, size), dtype, (plain, (row, 1)), [c0.pointer, b.gep(first.pointer, [const(size)])]
        )
        product = tiled_gemm.GemmShape(batch, size, width, gate_row, (1, width), size, False)
        float_type, tiling = _gemm(dtype)
        reverse, _ = _scan_attrs(self.node)
        with _over_steps(b, steps, reverse, last_first=True) as (t, previous_of):
            previous = previous_of(first.pointer, saved.pointer, batch * row)
            d_gates = _step_pointer(b, out.pointer, t, batch * width)
            pointers = [
                _step_pointer(b, grad.pointer, t, batch * row),
                _step_pointer(b, saved.pointer, t, batch * row),
                b.gep(previous, [const(size)]),
                dh.pointer,
                dc.pointer,
                d_gates,
            ]
            _call_cell_backward(at, (batch, size), dtype, pointers)
            tiled_gemm.emit(b, [d_gates, w.pointer, dh.pointer], float_type, product, tiling)
        last = b.gep(out.pointer, [size_value(b, steps * batch * width)])
        _copy_rows(at, (batch, size), dtype, (plain, gate_row), [dh.pointer, last])
        _copy_rows(at, (batch, size), dtype, (plain, gate_row), [dc.pointer, b.gep(last, [const(size)])])


# --- RNN (tanh, relu) -----------------------------------------------------------------------


def _activation_derivative(S: LlvmScalars, nonlinearity: str, g: Value, h: Value) -> Value:
    """The gradient through tanh or relu from the incoming ``g`` and the activation's
    output ``h``, as their gradient rules compute it (``g * (1 - h*h)``; ``relu_grad``)."""
    if nonlinearity == "tanh":
        return S.mul(g, S.sub(S.const(1, h), S.mul(h, h)))
    return OPS["relu_grad"].scalar(S, g, h)


class RnnScanLowering(Lowering):
    """``rnn_scan(gx, h0, w)``: per step, ``gx_t`` copied into the result's step, the
    tiled product adding ``h_{t-1} @ W_hh.T`` to it, and the activation applied in place."""

    def contiguous_args(self, args: list[Place]) -> list[bool]:
        return [True] * 3

    def splits(self, places: list[Place]) -> bool:
        _, batch, size = places[0].shape
        return batch * size * size >= tiled_gemm.PARALLEL_MACS

    def emit(self, at: Emission, args: list[Operand], out: Operand) -> None:
        gx, h0, w = args
        steps, batch, size = gx.place.shape
        if steps * batch * size == 0:
            return
        dtype, step_size = gx.place.dtype, batch * size
        reverse, nonlinearity = _scan_attrs(self.node)
        b = at.builder
        plain = (size, 1)
        product = tiled_gemm.GemmShape(batch, size, size, plain, plain, size, True)
        float_type, tiling = _gemm(dtype)
        activation = OPS[nonlinearity].scalar

        def activate(S, read, write, args) -> None:
            write(args[0], plain, 0, activation(S, read(args[0], plain)))

        with _over_steps(b, steps, reverse) as (t, previous_of):
            here = _step_pointer(b, out.pointer, t, step_size)
            source = _step_pointer(b, gx.pointer, t, step_size)
            _copy_rows(at, (batch, size), dtype, (plain, plain), [source, here])
            previous = previous_of(h0.pointer, out.pointer, step_size)
            tiled_gemm.emit(b, [previous, w.pointer, here], float_type, product, tiling)
            key = ("rnn_activation", batch, size, dtype.str, nonlinearity)
            _row_kernel(at, key, [here], (batch, size), dtype, activate, disjoint=False)


class RnnScanBackwardLowering(Lowering):
    """``rnn_scan_backward(grad, out, w)``: per step, last first, the pre-activation
    gradient from ``grad_t + dh`` and the step's output, then ``dh = d_pre @ W_hh``."""

    def contiguous_args(self, args: list[Place]) -> list[bool]:
        return [True] * 3

    def scratch(self, args: list[Place]) -> list[tuple]:
        _, batch, size = args[1].shape
        return [((batch, size), args[1].dtype)]  # dh

    def splits(self, places: list[Place]) -> bool:
        _, batch, size = places[1].shape
        return batch * size * size >= tiled_gemm.PARALLEL_MACS

    def emit(self, at: Emission, args: list[Operand], out: Operand) -> None:
        grad, saved, w, dh = args
        steps, batch, size = saved.place.shape
        if batch * size == 0:
            return
        fill(at, dh, 0.0)
        dtype, step_size = saved.place.dtype, batch * size
        reverse, nonlinearity = _scan_attrs(self.node)
        b = at.builder
        plain = (size, 1)
        product = tiled_gemm.GemmShape(batch, size, size, plain, (1, size), size, False)
        float_type, tiling = _gemm(dtype)

        def gradient(S, read, write, args) -> None:
            grad_at, out_at, dh_at, d_at = args
            g = S.add(read(grad_at, plain), read(dh_at, plain))
            write(d_at, plain, 0, _activation_derivative(S, nonlinearity, g, read(out_at, plain)))

        with _over_steps(b, steps, reverse, last_first=True) as (t, _):
            d_pre = _step_pointer(b, out.pointer, t, step_size)
            pointers = [
                _step_pointer(b, grad.pointer, t, step_size),
                _step_pointer(b, saved.pointer, t, step_size),
            ]
            key = ("rnn_gradient", batch, size, dtype.str, nonlinearity)
            _row_kernel(at, key, pointers + [dh.pointer, d_pre], (batch, size), dtype, gradient)
            tiled_gemm.emit(b, [d_pre, w.pointer, dh.pointer], float_type, product, tiling)
        last = b.gep(out.pointer, [size_value(b, steps * step_size)])
        _copy_rows(at, (batch, size), dtype, (plain, plain), [dh.pointer, last])


# --- GRU ----------------------------------------------------------------------------------


class GruScanLowering(Lowering):
    """``gru_scan(gx, h0, w, b_hn)``: per step, ``gh = h_{t-1} @ W_hh.T`` into a scratch
    buffer, then one kernel computing the gates and ``h_t`` into the step's
    ``[h | r | z | n | nh]`` row (``h0`` is first copied into a row of that layout)."""

    def contiguous_args(self, args: list[Place]) -> list[bool]:
        return [True] * 4

    def scratch(self, args: list[Place]) -> list[tuple]:
        _, batch, width = args[0].shape
        size, dtype = width // 3, args[0].dtype
        return [((batch, width), dtype), ((batch, 5 * size), dtype)]  # gh, h0 as a step's row

    def splits(self, places: list[Place]) -> bool:
        _, batch, width = places[0].shape
        return batch * width * (width // 3) >= tiled_gemm.PARALLEL_MACS

    def emit(self, at: Emission, args: list[Operand], out: Operand) -> None:
        gx, h0, w, b_hn, gh, first = args
        steps, batch, width = gx.place.shape
        size = width // 3
        if steps * batch * size == 0:
            return
        dtype, row = gx.place.dtype, 5 * size
        b = at.builder
        gates, in_row = (width, 1), (row, 1)
        _copy_rows(at, (batch, size), dtype, ((size, 1), in_row), [h0.pointer, first.pointer])
        product = tiled_gemm.GemmShape(batch, width, size, in_row, gates, width, False)
        float_type, tiling = _gemm(dtype)
        reverse, _ = _scan_attrs(self.node)
        sigmoid, tanh = OPS["sigmoid"].scalar, OPS["tanh"].scalar

        def cell(S, read, write, args) -> None:
            gx_at, gh_at, bias_at, h_at, out_at = args
            r = sigmoid(S, S.add(read(gx_at, gates), read(gh_at, gates)))
            z = sigmoid(S, S.add(read(gx_at, gates, size), read(gh_at, gates, size)))
            nh = S.add(read(gh_at, gates, 2 * size), read(bias_at, (0, 1)))
            n = tanh(S, S.add(read(gx_at, gates, 2 * size), S.mul(r, nh)))
            h = S.add(n, S.mul(z, S.sub(read(h_at, in_row), n)))
            for k, value in enumerate((h, r, z, n, nh)):
                write(out_at, in_row, k * size, value)

        with _over_steps(b, steps, reverse) as (t, previous_of):
            previous = previous_of(first.pointer, out.pointer, batch * row)
            tiled_gemm.emit(b, [previous, w.pointer, gh.pointer], float_type, product, tiling)
            pointers = [
                _step_pointer(b, gx.pointer, t, batch * width),
                gh.pointer,
                b_hn.pointer,
                previous,
                _step_pointer(b, out.pointer, t, batch * row),
            ]
            _row_kernel(at, ("gru_cell", batch, size, dtype.str), pointers, (batch, size), dtype, cell)


class GruScanBackwardLowering(Lowering):
    """``gru_scan_backward(grad, out, h0, w)``: per step, last first, one kernel computing
    ``[d_gx | d_gh]`` and the direct part of ``dh`` (``dh * z``), then the dot form adding
    ``d_gh @ W_hh`` to ``dh``; row T gets ``[dh0 | 0]``."""

    def contiguous_args(self, args: list[Place]) -> list[bool]:
        return [True] * 4

    def scratch(self, args: list[Place]) -> list[tuple]:
        _, batch, five = args[1].shape
        size, dtype = five // 5, args[1].dtype
        return [((batch, size), dtype), ((batch, five), dtype)]  # dh, h0 as a step's row

    def splits(self, places: list[Place]) -> bool:
        _, batch, five = places[1].shape
        return batch * (five // 5) * (3 * five // 5) >= tiled_gemm.PARALLEL_MACS

    def emit(self, at: Emission, args: list[Operand], out: Operand) -> None:
        grad, saved, h0, w, dh, first = args
        steps, batch, row = saved.place.shape
        size = row // 5
        width, dtype = 3 * size, saved.place.dtype
        if batch * size == 0:
            return
        fill(at, out, 0.0)
        if steps == 0:
            return
        fill(at, dh, 0.0)
        b = at.builder
        in_row, plain, d_row = (row, 1), (size, 1), (2 * width, 1)
        _copy_rows(at, (batch, size), dtype, (plain, in_row), [h0.pointer, first.pointer])
        product = tiled_gemm.GemmShape(batch, size, width, d_row, (1, width), size, True)
        float_type, tiling = _gemm(dtype)
        reverse, _ = _scan_attrs(self.node)

        def gradient(S, read, write, args) -> None:
            grad_at, out_at, h_at, dh_at, d_at = args
            r, z, n, nh = (read(out_at, in_row, k * size) for k in (1, 2, 3, 4))
            one = S.const(1, r)
            g = S.add(read(grad_at, in_row), read(dh_at, plain))
            d_n = S.add(S.sub(g, S.mul(g, z)), read(grad_at, in_row, 3 * size))
            d_z = S.add(S.mul(g, S.sub(read(h_at, in_row), n)), read(grad_at, in_row, 2 * size))
            d_a = S.mul(d_n, S.sub(one, S.mul(n, n)))
            d_r = S.add(S.mul(d_a, nh), read(grad_at, in_row, size))
            d_nh = S.add(S.mul(d_a, r), read(grad_at, in_row, 4 * size))
            d_pre_r = S.mul(d_r, S.mul(r, S.sub(one, r)))
            d_pre_z = S.mul(d_z, S.mul(z, S.sub(one, z)))
            for k, value in enumerate((d_pre_r, d_pre_z, d_a, d_pre_r, d_pre_z, d_nh)):
                write(d_at, d_row, k * size, value)
            write(dh_at, plain, 0, S.mul(g, z))

        with _over_steps(b, steps, reverse, last_first=True) as (t, previous_of):
            d_gx = _step_pointer(b, out.pointer, t, batch * 2 * width)
            pointers = [
                _step_pointer(b, grad.pointer, t, batch * row),
                _step_pointer(b, saved.pointer, t, batch * row),
                previous_of(first.pointer, saved.pointer, batch * row),
                dh.pointer,
                d_gx,
            ]
            key = ("gru_cell_backward", batch, size, dtype.str)
            _row_kernel(at, key, pointers, (batch, size), dtype, gradient)
            tiled_gemm.emit(
                b, [b.gep(d_gx, [const(width)]), w.pointer, dh.pointer], float_type, product, tiling
            )
        last = b.gep(out.pointer, [size_value(b, steps * batch * 2 * width)])
        _copy_rows(at, (batch, size), dtype, (plain, d_row), [dh.pointer, last])


def _for(lowering: type[Lowering], dtypes: str) -> Callable[[Node, list], Lowering | str]:
    """The lowering factory for ``lowering``, for results of these numpy dtype characters
    (the scans' products are the tiled loops', which are float32 and float64 only)."""

    def make(node: Node, arg_types: list) -> Lowering | str:
        dtype = np.dtype(node.type.dtype.np)
        return lowering(node) if dtype.char in dtypes else f"{node.op} of {dtype}"

    return make


RECURRENT_LOWERINGS = {
    "lstm_cell": _for(LstmCellLowering, np.typecodes["Float"]),
    "lstm_scan": _for(LstmScanLowering, "fd"),
    "lstm_scan_backward": _for(LstmScanBackwardLowering, "fd"),
    "gru_scan": _for(GruScanLowering, "fd"),
    "gru_scan_backward": _for(GruScanBackwardLowering, "fd"),
    "rnn_scan": _for(RnnScanLowering, "fd"),
    "rnn_scan_backward": _for(RnnScanBackwardLowering, "fd"),
}
