"""Native LSTM code: one step (``lstm_cell``) and a whole layer's steps (``lstm_scan``,
``lstm_scan_backward``).

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
transposed in place).
"""

from __future__ import annotations

import math

import llvmlite.ir as ir
import numpy as np

from ..native.loops import const
from ..ops import OPS
from . import tiled_gemm
from .emission import Emission, Lowering, Operand
from .layout import Place
from .movement import fill, matrix_strides
from .recurrent_scan import Strides, copy_rows, gemm_types, over_steps, row_kernel, scan_attrs, step_pointer
from .run_time import size_value


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
    row_kernel(at, key, pointers, shape, dtype, element, disjoint)


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
        copy_rows(at, (batch, size), dtype, (plain, in_row), [h0.pointer, first.pointer])
        copy_rows(
            at, (batch, size), dtype, (plain, in_row), [c0.pointer, b.gep(first.pointer, [const(size)])]
        )
        product = tiled_gemm.GemmShape(batch, width, size, in_row, (width, 1), row, True)
        float_type, tiling = gemm_types(dtype)
        reverse, _ = scan_attrs(self.node)
        with over_steps(b, steps, reverse) as (t, previous_of):
            previous = previous_of(first.pointer, out.pointer, batch * row)
            gates = step_pointer(b, out.pointer, t, batch * row, 2 * size)
            source = step_pointer(b, gx.pointer, t, batch * width)
            copy_rows(at, (batch, width), dtype, ((width, 1), in_row), [source, gates])
            tiled_gemm.emit(b, [previous, w.pointer, gates], float_type, product, tiling)
            pointers = [gates, b.gep(previous, [const(size)]), step_pointer(b, out.pointer, t, batch * row)]
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

    row_kernel(at, ("lstm_cell_backward", shape, dtype.str), pointers, shape, dtype, element)


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
        copy_rows(
            at, (batch, size), dtype, (plain, (row, 1)), [c0.pointer, b.gep(first.pointer, [const(size)])]
        )
        product = tiled_gemm.GemmShape(batch, size, width, gate_row, (1, width), size, False)
        float_type, tiling = gemm_types(dtype)
        reverse, _ = scan_attrs(self.node)
        with over_steps(b, steps, reverse, last_first=True) as (t, previous_of):
            previous = previous_of(first.pointer, saved.pointer, batch * row)
            d_gates = step_pointer(b, out.pointer, t, batch * width)
            pointers = [
                step_pointer(b, grad.pointer, t, batch * row),
                step_pointer(b, saved.pointer, t, batch * row),
                b.gep(previous, [const(size)]),
                dh.pointer,
                dc.pointer,
                d_gates,
            ]
            _call_cell_backward(at, (batch, size), dtype, pointers)
            tiled_gemm.emit(b, [d_gates, w.pointer, dh.pointer], float_type, product, tiling)
        last = b.gep(out.pointer, [size_value(b, steps * batch * width)])
        copy_rows(at, (batch, size), dtype, (plain, gate_row), [dh.pointer, last])
        copy_rows(at, (batch, size), dtype, (plain, gate_row), [dc.pointer, b.gep(last, [const(size)])])
