"""Loops over an index space, shared by the lowerings of :mod:`irgrad.codegen`: an
operation's dimensions with size-1 ones dropped and contiguous neighbours merged
(:func:`coalesce`), the nest of ``for`` loops over them (:func:`loop_nest`), an
operand's element offset at the current indices (:func:`offset_function`) and the store
of one element (:func:`store`)."""

from __future__ import annotations

from collections.abc import Sequence

import llvmlite.ir as ir
import numpy as np

from ..ir.graph import Node
from ..native.loops import I64, for_range
from ..ops.scalar import Unsupported
from .run_time import size_value


def static_shape(node: Node) -> tuple[int, ...]:
    """The node's shape; :class:`Unsupported` where a size is known only at run time."""
    shape = node.type.shape
    if not node.type.is_static:
        raise Unsupported(f"symbolic shape {shape}")
    return tuple(shape)


def coalesce(shape: tuple[int, ...], strides: Sequence[tuple[int, ...]]) -> tuple[tuple, list[tuple]]:
    """Drop size-1 dimensions and merge neighbours every operand steps through as one
    (``stride[k] == stride[k+1] * shape[k+1]`` for all): the loop nest's dimensions."""
    dims = [(n, [s[k] for s in strides]) for k, n in enumerate(shape) if n != 1]
    merged: list[tuple[int, list[int]]] = []
    for n, st in dims:
        if merged and all(outer == inner * n for outer, inner in zip(merged[-1][1], st)):
            merged[-1] = (merged[-1][0] * n, st)
        else:
            merged.append((n, st))
    return tuple(n for n, _ in merged), [tuple(st[j] for _, st in merged) for j in range(len(strides))]


def offset_function(builder: ir.IRBuilder, indices: list[ir.Value]):
    """``offset(strides)``: the element offset ``sum(index * stride)`` at the current
    loop indices (``indices`` is read when called, so it follows the loop nest)."""

    def offset(strides: tuple[int, ...]) -> ir.Value:
        total = ir.Constant(I64, 0)
        for index, stride in zip(indices, strides):
            if stride:
                total = builder.add(total, builder.mul(index, size_value(builder, stride)))
        return total

    return offset


def loop_nest(
    builder: ir.IRBuilder,
    dims: Sequence[int],
    indices: list,
    body,
    name: str,
    start: ir.Value | None = None,
    count: ir.Value | None = None,
) -> None:
    """``for`` loops over ``dims`` (outermost first), each loop's index pushed on
    ``indices`` while its body runs, and ``body()`` emitted in the innermost one; with
    ``start`` and ``count``, the outermost loop runs over ``start .. start + count`` only
    (a part of the nest, see :mod:`.parallel`)."""

    def level(k: int) -> None:
        if k == len(dims):
            body()
            return
        extent = count if k == 0 and count is not None else size_value(builder, dims[k])
        with for_range(builder, extent, f"{name}{k}", unroll=False) as index:
            indices.append(index if k or start is None else builder.add(index, start))
            level(k + 1)
            indices.pop()

    level(0)


def store(builder: ir.IRBuilder, value: ir.Value, dtype: np.dtype, pointer: ir.Value) -> None:
    """Store one element (a bool as a byte)."""
    builder.store(builder.zext(value, ir.IntType(8)) if dtype == np.bool_ else value, pointer)
