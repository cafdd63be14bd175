"""Native code of a whole GRU layer: ``gru_scan`` and ``gru_scan_backward``.

They follow :mod:`.lstm_scan`'s pattern, except that a step's product goes to a scratch
buffer rather than into the step's row, since the ``n`` gate needs ``r * (h @ W_hn.T +
b_hn)``: one kernel then computes the gates and ``h_t`` from it.  Backward, last step
first, one kernel computes the gradients of ``gx`` and of that product, and the dot
form adds ``d_gh @ W_hh`` to ``dh``.
"""

from __future__ import annotations

from ..native.loops import const
from ..ops import OPS
from . import tiled_gemm
from .emission import Emission, Lowering, Operand
from .layout import Place
from .movement import fill
from .recurrent_scan import copy_rows, gemm_types, over_steps, row_kernel, scan_attrs, step_pointer
from .run_time import size_value


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
        copy_rows(at, (batch, size), dtype, ((size, 1), in_row), [h0.pointer, first.pointer])
        product = tiled_gemm.GemmShape(batch, width, size, in_row, gates, width, False)
        float_type, tiling = gemm_types(dtype)
        reverse, _ = scan_attrs(self.node)
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

        with over_steps(b, steps, reverse) as (t, previous_of):
            previous = previous_of(first.pointer, out.pointer, batch * row)
            tiled_gemm.emit(b, [previous, w.pointer, gh.pointer], float_type, product, tiling)
            pointers = [
                step_pointer(b, gx.pointer, t, batch * width),
                gh.pointer,
                b_hn.pointer,
                previous,
                step_pointer(b, out.pointer, t, batch * row),
            ]
            row_kernel(at, ("gru_cell", batch, size, dtype.str), pointers, (batch, size), dtype, cell)


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
        copy_rows(at, (batch, size), dtype, (plain, in_row), [h0.pointer, first.pointer])
        product = tiled_gemm.GemmShape(batch, size, width, d_row, (1, width), size, True)
        float_type, tiling = gemm_types(dtype)
        reverse, _ = scan_attrs(self.node)

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

        with over_steps(b, steps, reverse, last_first=True) as (t, previous_of):
            d_gx = step_pointer(b, out.pointer, t, batch * 2 * width)
            pointers = [
                step_pointer(b, grad.pointer, t, batch * row),
                step_pointer(b, saved.pointer, t, batch * row),
                previous_of(first.pointer, saved.pointer, batch * row),
                dh.pointer,
                d_gx,
            ]
            key = ("gru_cell_backward", batch, size, dtype.str)
            row_kernel(at, key, pointers, (batch, size), dtype, gradient)
            tiled_gemm.emit(
                b, [b.gep(d_gx, [const(width)]), w.pointer, dh.pointer], float_type, product, tiling
            )
        last = b.gep(out.pointer, [size_value(b, steps * batch * 2 * width)])
        copy_rows(at, (batch, size), dtype, (plain, d_row), [dh.pointer, last])
