"""What the native recurrent lowerings share: row kernels and the loop over the steps.

Every recurrent kernel (an LSTM, GRU or RNN cell, forward or backward, and the copies
between a step's rows) is a *row kernel* (:func:`row_kernel`): one loop over the (row,
unit) positions of a batch x units matrix, reading and writing its operands through
their own element strides, so a step's gates, state and result can be columns of one
wider row.  A scan's time steps are a loop inside the program (:func:`over_steps`),
whose step reads the state of the step before from the previous step's rows, or, at the
first step, from a scratch row in the same layout: one product shape and one kernel
serve every step, so the program holds each kernel once whatever the sequence's length.
The per-layer lowerings are in :mod:`.lstm_scan`, :mod:`.gru_scan` and :mod:`.rnn_scan`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import llvmlite.ir as ir
import numpy as np

from ..ir.graph import Node
from ..native.loops import I64, const, for_range
from .emission import Emission
from .gemm_kernels import Tiling, host_tiling
from .index_loops import loop_nest, store
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


def row_kernel(
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


def copy_rows(
    at: Emission, shape: tuple[int, int], dtype: np.dtype, strides: tuple[Strides, Strides], pointers
) -> None:
    """Copy a rows x units matrix between two strided places (source, target)."""
    source_strides, target_strides = strides

    def element(S, read, write, args) -> None:
        write(args[1], target_strides, 0, read(args[0], source_strides))

    row_kernel(at, ("recurrent_rows", shape, dtype.str, strides), pointers, shape, dtype, element)


def step_pointer(
    builder: ir.IRBuilder, base: ir.Value, step: ir.Value, step_size: int, column: int = 0
) -> ir.Value:
    """Element ``column`` of step ``step``'s rows (``step_size`` elements a step) from ``base``."""
    return builder.gep(base, [builder.add(builder.mul(step, size_value(builder, step_size)), const(column))])


@contextmanager
def over_steps(
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
            return b.select(opening, first, step_pointer(b, base, before, step_size))

        yield t, previous


def scan_attrs(node: Node) -> tuple[bool, str]:
    """A scan node's direction (``reverse``) and activation (``nonlinearity``, the RNN's)."""
    return node.attrs.get("reverse", False), node.attrs.get("nonlinearity", "tanh")


def gemm_types(dtype: np.dtype) -> tuple[ir.Type, Tiling]:
    """The element type and the host's tiling of the tiled products of ``dtype``."""
    return storage_type(dtype), host_tiling(dtype)
