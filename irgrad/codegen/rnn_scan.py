"""Native code of a whole RNN layer (tanh or relu): ``rnn_scan`` and ``rnn_scan_backward``.

They follow :mod:`.lstm_scan`'s pattern with a simpler step: forward, ``gx_t`` is copied
into the result's step, the tiled product adds ``h_{t-1} @ W_hh.T`` to it and the
activation is applied in place; backward, last step first, a kernel computes the
pre-activation gradient with the activation's own gradient rule, then the dot form
``dh = d_pre @ W_hh``.
"""

from __future__ import annotations

from ..ops import OPS
from . import tiled_gemm
from .emission import Emission, Lowering, Operand
from .layout import Place
from .movement import fill
from .recurrent_scan import copy_rows, gemm_types, over_steps, row_kernel, scan_attrs, step_pointer
from .run_time import size_value
from .scalars import LlvmScalars, Value


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
        reverse, nonlinearity = scan_attrs(self.node)
        b = at.builder
        plain = (size, 1)
        product = tiled_gemm.GemmShape(batch, size, size, plain, plain, size, True)
        float_type, tiling = gemm_types(dtype)
        activation = OPS[nonlinearity].scalar

        def activate(S, read, write, args) -> None:
            write(args[0], plain, 0, activation(S, read(args[0], plain)))

        with over_steps(b, steps, reverse) as (t, previous_of):
            here = step_pointer(b, out.pointer, t, step_size)
            source = step_pointer(b, gx.pointer, t, step_size)
            copy_rows(at, (batch, size), dtype, (plain, plain), [source, here])
            previous = previous_of(h0.pointer, out.pointer, step_size)
            tiled_gemm.emit(b, [previous, w.pointer, here], float_type, product, tiling)
            key = ("rnn_activation", batch, size, dtype.str, nonlinearity)
            row_kernel(at, key, [here], (batch, size), dtype, activate, disjoint=False)


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
        reverse, nonlinearity = scan_attrs(self.node)
        b = at.builder
        plain = (size, 1)
        product = tiled_gemm.GemmShape(batch, size, size, plain, (1, size), size, False)
        float_type, tiling = gemm_types(dtype)

        def gradient(S, read, write, args) -> None:
            grad_at, out_at, dh_at, d_at = args
            g = S.add(read(grad_at, plain), read(dh_at, plain))
            write(d_at, plain, 0, _activation_derivative(S, nonlinearity, g, read(out_at, plain)))

        with over_steps(b, steps, reverse, last_first=True) as (t, _):
            d_pre = step_pointer(b, out.pointer, t, step_size)
            pointers = [
                step_pointer(b, grad.pointer, t, step_size),
                step_pointer(b, saved.pointer, t, step_size),
            ]
            key = ("rnn_gradient", batch, size, dtype.str, nonlinearity)
            row_kernel(at, key, pointers + [dh.pointer, d_pre], (batch, size), dtype, gradient)
            tiled_gemm.emit(b, [d_pre, w.pointer, dh.pointer], float_type, product, tiling)
        last = b.gep(out.pointer, [size_value(b, steps * step_size)])
        copy_rows(at, (batch, size), dtype, (plain, plain), [dh.pointer, last])
