"""Native data movement and recurrent cells: copies through strides on both sides.

``cat`` copies each input into its slab of the result, ``slice_grad`` zeroes its
result and copies the gradient into the slice, ``pad`` fills its result and copies
its input into the middle: each a loop nest over the source reading and writing
through strides (the destination's from the result's view rules, so the copy lands
exactly where numpy's assignment would put it).  ``lstm_cell`` is one loop over the
cell's rows and units, computing the gates with the scalar rules of ``sigmoid`` and
``tanh`` (the same definitions every elementwise kernel uses).
"""

from __future__ import annotations

import llvmlite.ir as ir
import numpy as np

from ..ir.graph import Node
from ..native.loops import for_range
from ..ops import OPS
from ..ops.movement import sliced_shape
from ..ops.strides import slice_layout
from .elementwise import coalesce, loop_nest, offset_function, store
from .emission import OK_STATUS, Emission, Lowering, Operand
from .scalars import LlvmScalars, Value, storage_type


def copy_strided(at: Emission, source: Operand, target: Operand, shape: tuple, target_strides: tuple) -> None:
    """Copy ``source`` (all of it, through its strides) into ``target``'s memory seen
    with ``shape`` and ``target_strides``."""
    if 0 in shape:
        return
    dims, (read, write) = coalesce(tuple(shape), [source.place.strides, tuple(target_strides)])

    def build(builder: ir.IRBuilder, pointers) -> None:
        indices: list[ir.Value] = []
        offset = offset_function(builder, indices)

        def element() -> None:
            value = builder.load(builder.gep(pointers[0], [offset(read)]))
            builder.store(value, builder.gep(pointers[1], [offset(write)]))

        loop_nest(builder, dims, indices, element, "copy")

    key = ("copy", dims, read, write, source.place.dtype.str)
    at.call(key, "copy", [source.pointer, target.pointer], build)


def fill(at: Emission, out: Operand, value: float | int) -> None:
    """Write ``value`` into every element of ``out`` (contiguous)."""
    size = int(np.prod(out.place.shape, dtype=np.int64))
    if size == 0:
        return
    dtype = out.place.dtype
    value = float(value) if dtype.kind == "f" else int(value)

    def build(builder: ir.IRBuilder, pointers) -> None:
        indices: list[ir.Value] = []
        constant = ir.Constant(storage_type(dtype), value)

        def element() -> None:
            builder.store(constant, builder.gep(pointers[0], list(indices)))

        loop_nest(builder, (size,), indices, element, "fill")

    at.call(("fill", size, dtype.str, repr(value)), "fill", [out.pointer], build)


def _offset_pointer(at: Emission, operand: Operand, offset: int) -> Operand:
    if not offset:
        return operand
    pointer = at.builder.gep(operand.pointer, [ir.Constant(ir.IntType(64), offset)])
    return Operand(pointer, operand.place)


class CatLowering(Lowering):
    """``cat(xs, dim)``: each input copied into its slab of the result."""

    def __init__(self, node: Node) -> None:
        self.node, self.name = node, "cat"
        self.dim = node.attrs["dim"] % len(node.type.shape)

    def emit(self, at: Emission, args: list[Operand], out: Operand) -> None:
        strides = out.place.strides
        start = 0
        for x in args:
            copy_strided(at, x, _offset_pointer(at, out, start * strides[self.dim]), x.place.shape, strides)
            start += x.place.shape[self.dim]


class SliceGradLowering(Lowering):
    """``slice_grad(g, shape, index)``: zeros, with ``g`` copied into ``[index]``."""

    def __init__(self, node: Node) -> None:
        self.node, self.name = node, "slice_grad"

    def emit(self, at: Emission, args: list[Operand], out: Operand) -> None:
        (g,) = args
        fill(at, out, 0)
        offset, strides = slice_layout(out.place.shape, out.place.strides, self.node.attrs["index"])
        copy_strided(at, g, _offset_pointer(at, out, offset), g.place.shape, strides)


class PadLowering(Lowering):
    """``pad(x, widths, value)``: ``value`` everywhere, ``x`` copied into the middle."""

    def __init__(self, node: Node) -> None:
        self.node, self.name = node, "pad"

    def emit(self, at: Emission, args: list[Operand], out: Operand) -> None:
        (x,) = args
        fill(at, out, self.node.attrs["value"])
        strides = out.place.strides
        offset = sum(before * s for (before, _), s in zip(self.node.attrs["widths"], strides))
        copy_strided(at, x, _offset_pointer(at, out, offset), x.place.shape, strides)


class LstmCellLowering(Lowering):
    """``lstm_cell(gates, c)``: per row and unit, ``c' = σ(f)·c + σ(i)·tanh(g)`` and
    ``h' = σ(o)·tanh(c')``, written as ``[h' | c']``; the gates and the cell state are
    read contiguous."""

    def __init__(self, node: Node) -> None:
        self.node, self.name = node, "lstm_cell"

    def contiguous_args(self, args) -> list[bool]:
        return [True, True]

    def emit(self, at: Emission, args: list[Operand], out: Operand) -> None:
        gates, c = args
        size = c.place.shape[-1]
        rows = int(np.prod(c.place.shape[:-1], dtype=np.int64))
        if rows * size == 0:
            return
        dtype = c.place.dtype

        def build(builder: ir.IRBuilder, pointers) -> None:
            gates_at, c_at, out_at = pointers
            S = LlvmScalars(builder)
            sigmoid, tanh = OPS["sigmoid"].scalar, OPS["tanh"].scalar
            indices: list[ir.Value] = []

            def position(row_length: int, column: int) -> ir.Value:
                row, unit = indices
                start = builder.mul(row, ir.Constant(ir.IntType(64), row_length))
                return builder.add(start, builder.add(unit, ir.Constant(ir.IntType(64), column)))

            def gate(k: int) -> Value:
                return Value(builder.load(builder.gep(gates_at, [position(4 * size, k * size)])), dtype, 1)

            def element() -> None:
                i, f, o = (sigmoid(S, gate(k)) for k in (0, 1, 3))
                g = tanh(S, gate(2))
                cell = Value(builder.load(builder.gep(c_at, [position(size, 0)])), dtype, 1)
                c_new = S.add(S.mul(f, cell), S.mul(i, g))
                h_new = S.mul(o, tanh(S, c_new))
                store(builder, c_new.ir, dtype, builder.gep(out_at, [position(2 * size, size)]))
                store(builder, h_new.ir, dtype, builder.gep(out_at, [position(2 * size, 0)]))

            loop_nest(builder, (rows, size), indices, element, "cell")

        at.call(
            ("lstm_cell", rows, size, dtype.str), "lstm_cell", [gates.pointer, c.pointer, out.pointer], build
        )


def _checked_ids(builder: ir.IRBuilder, ids, id_dtype: np.dtype, count: int, rows: int, each=None) -> None:
    """Loop over ``count`` ids (contiguous, of ``id_dtype``); return the position of the
    first outside ``[0, rows)`` from the function, before anything reads through it, or
    run ``each(position, id)`` for every id (as i64)."""
    I64 = ir.IntType(64)
    bad = builder.function.append_basic_block("bad_id")
    position = builder.block
    builder.position_at_end(bad)
    where = builder.phi(I64)
    builder.ret(where)
    builder.position_at_end(position)
    indices: list[ir.Value] = []

    def element() -> None:
        (i,) = indices
        raw = builder.load(builder.gep(ids, [i]))
        value = builder.zext(raw, I64) if id_dtype.kind == "u" else builder.sext(raw, I64)
        outside = builder.icmp_unsigned(">=", value, ir.Constant(I64, rows))  # negatives are huge unsigned
        where.add_incoming(i, builder.block)
        fine = builder.append_basic_block("id_ok")
        builder.cbranch(outside, bad, fine)
        builder.position_at_end(fine)
        if each is not None:
            each(i, value)

    loop_nest(builder, (count,), indices, element, "ids")


class EmbeddingLowering(Lowering):
    """``embedding(weight, ids)``: the rows of ``weight`` at ``ids``; an id outside the
    table makes the entry return a status (the interpreter then raises the eager error)."""

    def __init__(self, node: Node) -> None:
        self.node, self.name = node, "embedding"

    def contiguous_args(self, args) -> list[bool]:
        return [False, True]

    def emit(self, at: Emission, args: list[Operand], out: Operand) -> ir.Value | None:
        weight, ids = args
        rows, width = weight.place.shape
        count = int(np.prod(ids.place.shape, dtype=np.int64))
        if count * width == 0:
            return None
        row_stride, column_stride = weight.place.strides
        id_dtype = ids.place.dtype

        def build(builder: ir.IRBuilder, pointers):
            table, picked, result = pointers
            I64 = ir.IntType(64)

            def copy_row(i: ir.Value, row: ir.Value) -> None:
                source = builder.mul(row, ir.Constant(I64, row_stride))
                target = builder.mul(i, ir.Constant(I64, width))
                with for_range(builder, ir.Constant(I64, width), "column") as j:
                    read = builder.add(source, builder.mul(j, ir.Constant(I64, column_stride)))
                    value = builder.load(builder.gep(table, [read]))
                    builder.store(value, builder.gep(result, [builder.add(target, j)]))

            _checked_ids(builder, picked, id_dtype, count, rows, copy_row)
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

    def __init__(self, node: Node) -> None:
        self.node, self.name = node, "embedding_grad"

    def contiguous_args(self, args) -> list[bool]:
        return [True, True]

    def emit(self, at: Emission, args: list[Operand], out: Operand) -> ir.Value | None:
        g, ids = args
        rows, width = out.place.shape
        count = int(np.prod(ids.place.shape, dtype=np.int64))
        id_dtype = ids.place.dtype
        padding = self.node.attrs.get("padding_idx")
        fill(at, out, 0)
        if count * width == 0:
            return None

        def build(builder: ir.IRBuilder, pointers):
            grads, picked, result = pointers
            I64 = ir.IntType(64)
            _checked_ids(builder, picked, id_dtype, count, rows)

            def add_row(i: ir.Value, row: ir.Value) -> None:
                source = builder.mul(i, ir.Constant(I64, width))
                target = builder.mul(row, ir.Constant(I64, width))
                with for_range(builder, ir.Constant(I64, width), "column") as j:
                    slot = builder.gep(result, [builder.add(target, j)])
                    value = builder.load(builder.gep(grads, [builder.add(source, j)]))
                    builder.store(builder.fadd(builder.load(slot), value), slot)

            indices: list[ir.Value] = []

            def element() -> None:
                (i,) = indices
                raw = builder.load(builder.gep(picked, [i]))
                add_row(i, builder.zext(raw, I64) if id_dtype.kind == "u" else builder.sext(raw, I64))

            loop_nest(builder, (count,), indices, element, "rows")
            if padding is not None:
                zero = ir.Constant(storage_type(out.place.dtype), 0.0)
                with for_range(builder, ir.Constant(I64, width), "padding") as j:
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

    def __init__(self, node: Node) -> None:
        self.node, self.name = node, "gather"

    def contiguous_args(self, args) -> list[bool]:
        return [False, True]

    def emit(self, at: Emission, args: list[Operand], out: Operand) -> ir.Value | None:
        x, index = args
        shape = index.place.shape
        if 0 in shape:
            return None
        dim = self.node.attrs["dim"] % len(shape)
        strides, size, id_dtype = x.place.strides, x.place.shape[dim], index.place.dtype
        positions = tuple(int(s) for s in np.cumprod((1,) + shape[::-1])[:-1][::-1])  # index's own strides

        def build(builder: ir.IRBuilder, pointers):
            source, picked, result = pointers
            I64 = ir.IntType(64)
            bad = builder.function.append_basic_block("bad_index")
            here = builder.block
            builder.position_at_end(bad)
            where = builder.phi(I64)
            builder.ret(where)
            builder.position_at_end(here)
            indices: list[ir.Value] = []
            offset = offset_function(builder, indices)

            def element() -> None:
                at_index = offset(positions)
                raw = builder.load(builder.gep(picked, [at_index]))
                value = builder.zext(raw, I64) if id_dtype.kind == "u" else builder.sext(raw, I64)
                where.add_incoming(at_index, builder.block)
                fine = builder.append_basic_block("index_ok")
                builder.cbranch(builder.icmp_unsigned(">=", value, ir.Constant(I64, size)), bad, fine)
                builder.position_at_end(fine)
                rest = offset(tuple(0 if d == dim else s for d, s in enumerate(strides)))
                read = builder.add(rest, builder.mul(value, ir.Constant(I64, strides[dim])))
                builder.store(builder.load(builder.gep(source, [read])), builder.gep(result, [at_index]))

            loop_nest(builder, shape, indices, element, "gather")
            return ir.Constant(I64, OK_STATUS)

        key = ("gather", shape, dim, strides, size, id_dtype.str, x.place.dtype.str)
        return at.call(key, "gather", [x.pointer, index.pointer, out.pointer], build, status=True)


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

    def __init__(self, node: Node) -> None:
        self.node, self.name = node, "assert_range"

    def contiguous_args(self, args) -> list[bool]:
        return [True]

    def emit(self, at: Emission, args: list[Operand], out: Operand) -> ir.Value | None:
        (x,) = args
        count = int(np.prod(x.place.shape, dtype=np.int64))
        if count == 0:
            return None
        dtype, attrs = x.place.dtype, self.node.attrs

        def build(builder: ir.IRBuilder, pointers):
            source, target = pointers
            I64 = ir.IntType(64)
            bad_block = builder.function.append_basic_block("out_of_range")
            here = builder.block
            builder.position_at_end(bad_block)
            where = builder.phi(I64)
            builder.ret(where)
            builder.position_at_end(here)
            indices: list[ir.Value] = []

            def element() -> None:
                (i,) = indices
                value = builder.load(builder.gep(source, [i]))
                builder.store(value, builder.gep(target, [i]))
                bad = _out_of_range(builder, value, dtype, attrs)
                where.add_incoming(i, builder.block)
                fine = builder.append_basic_block("in_range")
                builder.cbranch(bad, bad_block, fine)
                builder.position_at_end(fine)

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


def _cat(node: Node, arg_types: list) -> Lowering | str:
    if any(t.dtype is not node.type.dtype for t in arg_types):
        return "cat of mixed dtypes"
    return CatLowering(node)


def _slice_grad(node: Node, arg_types: list) -> Lowering | str:
    expected = sliced_shape(tuple(node.attrs["shape"]), node.attrs["index"])
    if tuple(arg_types[0].shape) != expected:
        return f"slice_grad of a {tuple(arg_types[0].shape)} gradient broadcast into {expected}"
    return SliceGradLowering(node)


def _pad(node: Node, arg_types: list) -> Lowering | str:
    dtype, value = np.dtype(node.type.dtype.np), node.attrs["value"]
    if dtype.kind == "b" or (dtype.kind in "iu" and value != int(value)):
        return f"pad of {dtype} with {value!r}"
    return PadLowering(node)


def _lstm_cell(node: Node, arg_types: list) -> Lowering | str:
    dtype = np.dtype(node.type.dtype.np)
    return LstmCellLowering(node) if dtype.kind == "f" else f"lstm_cell of {dtype}"


MOVEMENT_LOWERINGS = {
    "cat": _cat,
    "slice_grad": _slice_grad,
    "pad": _pad,
    "lstm_cell": _lstm_cell,
    "embedding": _embedding,
    "embedding_grad": _embedding,
    "assert_range": _check,
    "gather": _gather,
}
