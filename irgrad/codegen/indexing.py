"""Native lowerings that read through index values: embeddings, gathers, range checks
(``x[i, j]``, the ``index`` op, is in :mod:`.advanced_indexing`, with these helpers).

Every index is checked before anything is read through it: an index out of range makes
the kernel return its position as a status, the graph's function returns, and the call
reruns in the interpreter, which raises the eager error.  ``index`` (``x[i]``) wraps
a negative index natively, as numpy and PyTorch do.  Native code never reads out of
bounds.
"""

from __future__ import annotations

import math

import llvmlite.ir as ir
import numpy as np

from ..ir.graph import Node
from ..native.loops import I64, for_range
from ..ops.strides import contiguous_strides
from .emission import OK_STATUS, Emission, FailureExit, Lowering, Operand
from .index_loops import loop_nest, offset_function
from .movement import fill
from .run_time import size_value
from .scalars import storage_type


def index_value(
    builder: ir.IRBuilder, ids: ir.Value, position: ir.Value, id_dtype: np.dtype, wraps_at: int | None = None
) -> ir.Value:
    """The index stored at ``position`` of ``ids``, as an i64 (unsigned types zero-extended);
    with ``wraps_at``, a negative index counts from that size back (as numpy's do)."""
    raw = builder.load(builder.gep(ids, [position]))
    widen = builder.zext if id_dtype.kind == "u" else builder.sext
    value = widen(raw, ir.IntType(64))
    if wraps_at is None or id_dtype.kind == "u":
        return value
    negative = builder.icmp_signed("<", value, ir.Constant(I64, 0))
    return builder.select(negative, builder.add(value, size_value(builder, wraps_at)), value)


def checked_ids(
    builder: ir.IRBuilder, ids, id_dtype: np.dtype, count: int, rows: int, each=None, wraps: bool = False
) -> None:
    """Loop over ``count`` ids (contiguous, of ``id_dtype``); return the position of the
    first outside ``[0, rows)`` (``[-rows, rows)`` if negative ids ``wraps``) from the
    function, before anything reads through it, or run ``each(position, id)`` for every
    id (as i64)."""
    failure = FailureExit(builder)
    indices: list[ir.Value] = []

    def element() -> None:
        (i,) = indices
        value = index_value(builder, ids, i, id_dtype)
        shifted = builder.add(value, size_value(builder, rows)) if wraps else value
        limit = size_value(builder, 2 * rows if wraps else rows)
        failure.fail_if(builder.icmp_unsigned(">=", shifted, limit), i)  # below the range: huge
        if each is not None:
            each(i, value)

    loop_nest(builder, (count,), indices, element, "ids")


class EmbeddingLowering(Lowering):
    """``embedding(weight, ids)``: the rows of ``weight`` at ``ids``; an id outside the
    table makes the entry return a status (the interpreter then raises the eager error)."""

    may_fail = True

    def contiguous_args(self, args) -> list[bool]:
        return [False, True]

    def emit(self, at: Emission, args: list[Operand], out: Operand) -> ir.Value | None:
        weight, ids = args
        rows, width = weight.place.shape
        count = math.prod(ids.place.shape)
        if count * width == 0:
            return None
        row_stride, column_stride = weight.place.strides
        id_dtype = ids.place.dtype

        def build(builder: ir.IRBuilder, pointers):
            table, picked, result = pointers

            def copy_row(i: ir.Value, row: ir.Value) -> None:
                source = builder.mul(row, size_value(builder, row_stride))
                target = builder.mul(i, size_value(builder, width))
                with for_range(builder, size_value(builder, width), "column") as j:
                    read = builder.add(source, builder.mul(j, size_value(builder, column_stride)))
                    value = builder.load(builder.gep(table, [read]))
                    builder.store(value, builder.gep(result, [builder.add(target, j)]))

            checked_ids(builder, picked, id_dtype, count, rows, copy_row)
            return ir.Constant(I64, OK_STATUS)

        key = (
            "embedding",
            rows,
            width,
            row_stride,
            column_stride,
            count,
            id_dtype.str,
            weight.place.dtype.str,
        )
        return at.call(key, "embedding", [weight.pointer, ids.pointer, out.pointer], build, status=True)


class EmbeddingGradLowering(Lowering):
    """``embedding_grad(g, ids, rows)``: zeros with ``g``'s rows added at ``ids`` in id
    order (repeats accumulate as numpy's ``add.at`` does), the padding row zero; every
    id is checked before anything is written."""

    may_fail = True

    def contiguous_args(self, args) -> list[bool]:
        return [True, True]

    def emit(self, at: Emission, args: list[Operand], out: Operand) -> ir.Value | None:
        g, ids = args
        rows, width = out.place.shape
        count = math.prod(ids.place.shape)
        id_dtype = ids.place.dtype
        padding = self.node.attrs.get("padding_idx")
        fill(at, out, 0)
        if count * width == 0:
            return None

        def build(builder: ir.IRBuilder, pointers):
            grads, picked, result = pointers
            checked_ids(builder, picked, id_dtype, count, rows)

            def add_row(i: ir.Value, row: ir.Value) -> None:
                source = builder.mul(i, size_value(builder, width))
                target = builder.mul(row, size_value(builder, width))
                with for_range(builder, size_value(builder, width), "column") as j:
                    slot = builder.gep(result, [builder.add(target, j)])
                    value = builder.load(builder.gep(grads, [builder.add(source, j)]))
                    builder.store(builder.fadd(builder.load(slot), value), slot)

            indices: list[ir.Value] = []

            def element() -> None:
                (i,) = indices
                add_row(i, index_value(builder, picked, i, id_dtype))

            loop_nest(builder, (count,), indices, element, "rows")
            if padding is not None:
                zero = ir.Constant(storage_type(out.place.dtype), 0.0)
                with for_range(builder, size_value(builder, width), "padding") as j:
                    offset = builder.add(ir.Constant(I64, (padding % rows) * width), j)
                    builder.store(zero, builder.gep(result, [offset]))
            return ir.Constant(I64, OK_STATUS)

        key = ("embedding_grad", rows, width, count, id_dtype.str, out.place.dtype.str, padding)
        return at.call(key, "embedding_grad", [g.pointer, ids.pointer, out.pointer], build, status=True)


class GatherLowering(Lowering):
    """``gather(x, index, dim)``: at each position of ``index``, ``x`` at that position
    with ``dim`` replaced by the index there.  ``x`` is read through its strides; an
    index outside ``[0, size)`` returns a status, and the interpreter's result (numpy
    wraps a negative index) is the call's."""

    may_fail = True

    def contiguous_args(self, args) -> list[bool]:
        return [False, True]

    def emit(self, at: Emission, args: list[Operand], out: Operand) -> ir.Value | None:
        x, index = args
        shape = index.place.shape
        if 0 in shape:
            return None
        dim = self.node.attrs["dim"] % len(shape)
        strides, size, id_dtype = x.place.strides, x.place.shape[dim], index.place.dtype
        positions = contiguous_strides(shape)  # the index's own strides

        def build(builder: ir.IRBuilder, pointers):
            source, picked, result = pointers
            failure = FailureExit(builder)
            indices: list[ir.Value] = []
            offset = offset_function(builder, indices)

            def element() -> None:
                at_index = offset(positions)
                value = index_value(builder, picked, at_index, id_dtype)
                failure.fail_if(builder.icmp_unsigned(">=", value, size_value(builder, size)), at_index)
                rest = offset(tuple(0 if d == dim else s for d, s in enumerate(strides)))
                read = builder.add(rest, builder.mul(value, size_value(builder, strides[dim])))
                builder.store(builder.load(builder.gep(source, [read])), builder.gep(result, [at_index]))

            loop_nest(builder, shape, indices, element, "gather")
            return ir.Constant(I64, OK_STATUS)

        key = ("gather", shape, dim, strides, size, id_dtype.str, x.place.dtype.str)
        return at.call(key, "gather", [x.pointer, index.pointer, out.pointer], build, status=True)


class ScatterAddLowering(Lowering):
    """``scatter_add(x, index, src, dim)``: ``x`` with each ``src`` value (at the
    positions of ``index``) added where ``index`` points along ``dim``, in the order
    numpy's ``add.at`` adds them; every index is checked before anything is written."""

    may_fail = True

    def contiguous_args(self, args) -> list[bool]:
        return [False, True, False]

    def emit(self, at: Emission, args: list[Operand], out: Operand) -> ir.Value | None:
        x, index, src = args
        shape, dim = index.place.shape, self.node.attrs["dim"] % len(index.place.shape)
        out_shape = out.place.shape
        out_strides = contiguous_strides(out_shape)
        positions = contiguous_strides(shape)
        size, id_dtype, dtype = out_shape[dim], index.place.dtype, out.place.dtype

        def build(builder: ir.IRBuilder, pointers):
            base, picked, values, result = pointers
            failure = FailureExit(builder)
            indices: list[ir.Value] = []
            offset = offset_function(builder, indices)

            def index_at() -> ir.Value:
                return index_value(builder, picked, offset(positions), id_dtype)

            def check() -> None:
                failure.fail_if(
                    builder.icmp_unsigned(">=", index_at(), size_value(builder, size)), offset(positions)
                )

            def copy() -> None:
                value = builder.load(builder.gep(base, [offset(x.place.strides)]))
                builder.store(value, builder.gep(result, [offset(out_strides)]))

            def add() -> None:
                rest = offset(tuple(0 if d == dim else s for d, s in enumerate(out_strides)))
                slot = builder.gep(
                    result,
                    [builder.add(rest, builder.mul(index_at(), size_value(builder, out_strides[dim])))],
                )
                value = builder.load(builder.gep(values, [offset(src.place.strides)]))
                total = (
                    builder.fadd(builder.load(slot), value)
                    if dtype.kind == "f"
                    else builder.add(builder.load(slot), value)
                )
                builder.store(total, slot)

            if 0 not in shape:
                loop_nest(builder, shape, indices, check, "check")
            if 0 not in out_shape:
                loop_nest(builder, out_shape, indices, copy, "copy")
            if 0 not in shape:
                loop_nest(builder, shape, indices, add, "add")
            return ir.Constant(I64, OK_STATUS)

        key = (
            "scatter_add",
            shape,
            dim,
            out_shape,
            x.place.strides,
            src.place.strides,
            id_dtype.str,
            dtype.str,
        )
        return at.call(
            key, "scatter_add", [x.pointer, index.pointer, src.pointer, out.pointer], build, status=True
        )


def _scatter_add(node: Node, arg_types: list) -> Lowering | str:
    ids, dtype = np.dtype(arg_types[1].dtype.np), np.dtype(node.type.dtype.np)
    if (
        ids.kind not in "iu"
        or dtype.kind not in "fiu"
        or any(t.dtype is not node.type.dtype for t in (arg_types[0], arg_types[2]))
    ):
        return f"scatter_add of {dtype} with {ids} indices"
    return ScatterAddLowering(node)


def _gather(node: Node, arg_types: list) -> Lowering | str:
    ids = np.dtype(arg_types[1].dtype.np)
    return GatherLowering(node) if ids.kind in "iu" else f"gather with {ids} indices"


def _embedding(node: Node, arg_types: list) -> Lowering | str:
    dtype, ids = np.dtype(node.type.dtype.np), np.dtype(arg_types[1].dtype.np)
    if ids.kind not in "iu":
        return f"embedding with {ids} ids"
    if node.op == "embedding_grad" and dtype.kind != "f":
        return f"embedding_grad of {dtype}"
    return EmbeddingLowering(node) if node.op == "embedding" else EmbeddingGradLowering(node)


class CheckLowering(Lowering):
    """``assert_range(x)``: ``x`` copied to the result while each value is checked; the
    first value out of range makes the entry return a status, and the call reruns in
    the interpreter, which raises the eager error with its message."""

    may_fail = True

    def contiguous_args(self, args) -> list[bool]:
        return [True]

    def emit(self, at: Emission, args: list[Operand], out: Operand) -> ir.Value | None:
        (x,) = args
        count = math.prod(x.place.shape)
        if count == 0:
            return None
        dtype, attrs = x.place.dtype, self.node.attrs

        def build(builder: ir.IRBuilder, pointers):
            source, target = pointers
            failure = FailureExit(builder)
            indices: list[ir.Value] = []

            def element() -> None:
                (i,) = indices
                value = builder.load(builder.gep(source, [i]))
                builder.store(value, builder.gep(target, [i]))
                failure.fail_if(_out_of_range(builder, value, dtype, attrs), i)

            loop_nest(builder, (count,), indices, element, "check")
            return ir.Constant(I64, OK_STATUS)

        key = ("assert_range", count, dtype.str, repr(sorted(attrs.items())))
        return at.call(key, "assert_range", [x.pointer, out.pointer], build, status=True)


def _out_of_range(builder: ir.IRBuilder, value: ir.Value, dtype: np.dtype, attrs: dict) -> ir.Value:
    """Whether ``value`` is outside ``[low, high)`` (``[low, high]`` if closed; NaN unless
    ``nan_ok``), and not the ``ignore`` value: ``assert_range``'s rule."""
    low, high, ignore = attrs["low"], attrs["high"], attrs.get("ignore")
    if dtype.kind == "f":

        def constant(v) -> ir.Value:
            return ir.Constant(value.type, float(v))

        below = builder.fcmp_ordered("<", value, constant(low))
        above = builder.fcmp_ordered(">" if attrs.get("closed") else ">=", value, constant(high))
        bad = builder.or_(below, above)
        if not attrs.get("nan_ok"):
            bad = builder.or_(bad, builder.fcmp_unordered("uno", value, value))
        if ignore is not None:
            bad = builder.and_(bad, builder.fcmp_unordered("!=", value, constant(ignore)))
        return bad
    info = np.iinfo(dtype)
    compare = builder.icmp_unsigned if dtype.kind == "u" else builder.icmp_signed
    false, true = ir.Constant(ir.IntType(1), 0), ir.Constant(ir.IntType(1), 1)

    def against(op: str, bound: int) -> ir.Value:
        """``value op bound`` for an integral bound that may lie outside the dtype's range."""
        if bound < info.min:
            return true if op in (">", ">=", "!=") else false
        if bound > info.max:
            return true if op in ("<", "<=", "!=") else false
        return compare(op, value, ir.Constant(value.type, int(bound)))

    bad = builder.or_(against("<", low), against(">" if attrs.get("closed") else ">=", high))
    if ignore is not None:
        bad = builder.and_(bad, against("!=", ignore))
    return bad


def _check(node: Node, arg_types: list) -> Lowering | str:
    kind = np.dtype(arg_types[0].dtype.np).kind
    bounds = [node.attrs[k] for k in ("low", "high", "ignore") if node.attrs.get(k) is not None]
    if kind == "f" or (kind in "iu" and all(float(b) == int(b) for b in bounds)):
        return CheckLowering(node)
    return f"assert_range of {arg_types[0].dtype} with bounds {bounds}"


INDEXING_LOWERINGS = {
    "embedding": _embedding,
    "embedding_grad": _embedding,
    "assert_range": _check,
    "gather": _gather,
    "scatter_add": _scatter_add,
}
