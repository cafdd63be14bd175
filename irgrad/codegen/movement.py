"""Native data movement: copies through strides on both sides
(lowerings that read through index values are in :mod:`.indexing`).

``cat`` copies each input into its slab of the result, ``slice_grad`` zeroes its
result and copies the gradient into the slice (``diagonal_grad`` onto the diagonal;
``unfold_grad`` adds each window back, overlapping ones summed),
``pad`` fills its result and copies
its input into the middle: each a loop nest over the source reading and writing
through strides (the destination's from the result's view rules, so the copy lands
exactly where numpy's assignment would put it).  (LSTM cells are in :mod:`.lstm_scan`.)
"""

from __future__ import annotations

import math
from collections.abc import Callable

import llvmlite.ir as ir
import numpy as np

from ..ir.graph import Node
from ..ir.run_time_sizes import Size
from ..native.loops import const, for_range_carrying
from ..ops import OPS
from ..ops.movement import sliced_shape
from ..ops.reduction import float_accumulator
from ..ops.strides import contiguous_strides, slice_layout
from .emission import Emission, Lowering, Operand
from .index_loops import coalesce, loop_nest, offset_function
from .layout import Place
from .run_time import size_value
from .scalars import storage_type


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


def add_strided(at: Emission, source: Operand, target: Operand, shape: tuple, target_strides: tuple) -> None:
    """Add ``source`` (all of it, in its own dims' order) into ``target``'s memory seen
    with ``shape`` and ``target_strides``; positions the strides repeat accumulate, in
    that order."""
    if 0 in shape:
        return
    dims, (read, write) = coalesce(tuple(shape), [source.place.strides, tuple(target_strides)])
    floating = source.place.dtype.kind == "f"

    def build(builder: ir.IRBuilder, pointers) -> None:
        indices: list[ir.Value] = []
        offset = offset_function(builder, indices)

        def element() -> None:
            value = builder.load(builder.gep(pointers[0], [offset(read)]))
            where = builder.gep(pointers[1], [offset(write)])
            total = (builder.fadd if floating else builder.add)(builder.load(where), value)
            builder.store(total, where)

        loop_nest(builder, dims, indices, element, "add")

    key = ("add", dims, read, write, source.place.dtype.str)
    at.call(key, "add", [source.pointer, target.pointer], build)


def fill(at: Emission, out: Operand, value: float | int | Callable, says: str = "") -> None:
    """Write ``value`` into every element of ``out`` (contiguous): a number, or
    ``value(builder)`` giving it as code (a size known at run time), which ``says`` names
    (two fills with the same ``says`` share their code)."""
    size = math.prod(out.place.shape)
    if size == 0:
        return
    dtype = out.place.dtype
    if not callable(value):
        value = float(value) if dtype.kind == "f" else int(value)

    def build(builder: ir.IRBuilder, pointers) -> None:
        indices: list[ir.Value] = []
        constant = value(builder) if callable(value) else ir.Constant(storage_type(dtype), value)

        def element() -> None:
            builder.store(constant, builder.gep(pointers[0], list(indices)))

        loop_nest(builder, (size,), indices, element, "fill")

    at.call(("fill", size, dtype.str, says if callable(value) else repr(value)), "fill", [out.pointer], build)


def _offset_pointer(at: Emission, operand: Operand, offset: int) -> Operand:
    if not offset:
        return operand
    pointer = at.builder.gep(operand.pointer, [size_value(at.builder, offset)])
    return Operand(pointer, operand.place)


class CatLowering(Lowering):
    """``cat(xs, dim)``: each input copied into its slab of the result."""

    def __init__(self, node: Node) -> None:
        super().__init__(node)
        self.dim = node.attrs["dim"] % len(node.type.shape)

    def emit(self, at: Emission, args: list[Operand], out: Operand) -> None:
        strides = out.place.strides
        start = 0
        for x in args:
            copy_strided(at, x, _offset_pointer(at, out, start * strides[self.dim]), x.place.shape, strides)
            start += x.place.shape[self.dim]


class SliceGradLowering(Lowering):
    """``slice_grad(g, shape, index)``: zeros, with ``g`` copied into ``[index]``."""

    def emit(self, at: Emission, args: list[Operand], out: Operand) -> None:
        (g,) = args
        fill(at, out, 0)
        offset, strides = slice_layout(out.place.shape, out.place.strides, self.node.attrs["index"])
        copy_strided(at, g, _offset_pointer(at, out, offset), g.place.shape, strides)


class DiagonalGradLowering(Lowering):
    """``diagonal_grad(g, shape, offset, dim1, dim2)``: zeros, with ``g`` copied onto the
    diagonal, where ``diagonal``'s view rule puts it in the result."""

    def emit(self, at: Emission, args: list[Operand], out: Operand) -> None:
        (g,) = args
        fill(at, out, 0)
        where = {k: v for k, v in self.node.attrs.items() if k != "shape"}
        offset, strides = OPS["diagonal"].view(out.place.shape, out.place.strides, **where)
        copy_strided(at, g, _offset_pointer(at, out, offset), g.place.shape, strides)


class UnfoldGradLowering(Lowering):
    """``unfold_grad(g, shape, dim, size, step)``: zeros, with every window of ``g`` added
    where ``unfold``'s view rule puts it in the result, the window's element dim outermost
    so overlapping windows add up in the order numpy's kernel adds them."""

    def emit(self, at: Emission, args: list[Operand], out: Operand) -> None:
        (g,) = args
        fill(at, out, 0)
        where = {k: v for k, v in self.node.attrs.items() if k != "shape"}
        _, strides = OPS["unfold"].view(out.place.shape, out.place.strides, **where)
        shape, read = g.place.shape, g.place.strides
        first = lambda values: (values[-1], *values[:-1])  # noqa: E731
        window_first = Operand(g.pointer, g.place.view(0, first(shape), first(read)))
        add_strided(at, window_first, out, first(shape), first(strides))


class PadLowering(Lowering):
    """``pad(x, widths, value)``: ``value`` everywhere, ``x`` copied into the middle."""

    def emit(self, at: Emission, args: list[Operand], out: Operand) -> None:
        (x,) = args
        fill(at, out, self.node.attrs["value"])
        strides = out.place.strides
        offset = sum(before * s for (before, _), s in zip(self.node.attrs["widths"], strides))
        copy_strided(at, x, _offset_pointer(at, out, offset), x.place.shape, strides)


def matrix_strides(place: Place) -> tuple[int, int] | None:
    """A value's element strides seen as a matrix of rows (every dim but the last) and
    its last dim, or None when its leading dims do not walk as one."""
    if len(place.shape) < 2:
        return None
    rows, (steps,) = coalesce(place.shape[:-1], [place.strides[:-1]])
    if len(rows) > 1:
        return None
    return (steps[0] if rows else 0), place.strides[-1]


class ScanLowering(Lowering):
    """``cumsum(x, dim)``: along ``dim``, each element is the running sum so far, added
    in order in the type eager's adds it in (:func:`irgrad.ops.reduction.float_accumulator`:
    float32 in float64, float16 in float32, bools and integers in int64), so results are
    eager's bit for bit; ``x`` is read through its strides."""

    def emit(self, at: Emission, args: list[Operand], out: Operand) -> None:
        (x,) = args
        shape = x.place.shape
        if 0 in shape:
            return
        dim = self.node.attrs["dim"] % len(shape)
        outer = tuple(n for k, n in enumerate(shape) if k != dim)
        out_strides = contiguous_strides(shape)
        strides = x.place.strides
        source_dtype, dtype = x.place.dtype, out.place.dtype
        accumulator = float_accumulator(dtype)

        def build(builder: ir.IRBuilder, pointers) -> None:
            source, result = pointers
            indices: list[ir.Value] = []
            offset = offset_function(builder, indices)

            def row() -> None:
                read = offset(tuple(s for k, s in enumerate(strides) if k != dim))
                write = offset(tuple(s for k, s in enumerate(out_strides) if k != dim))
                zero = ir.Constant(storage_type(accumulator), 0.0 if dtype.kind == "f" else 0)
                with for_range_carrying(builder, size_value(builder, shape[dim]), [zero], "scan") as (
                    j,
                    running,
                ):
                    at_read = builder.add(read, builder.mul(j, size_value(builder, strides[dim])))
                    value = builder.load(builder.gep(source, [at_read]))
                    if dtype.kind == "f" and accumulator != dtype:
                        running[0] = builder.fadd(running[0], builder.fpext(value, running[0].type))
                        total = builder.fptrunc(running[0], storage_type(dtype))
                    elif dtype.kind == "f":
                        total = running[0] = builder.fadd(running[0], value)
                    else:
                        widened = (
                            value
                            if value.type == running[0].type
                            else (
                                builder.zext(value, running[0].type)
                                if source_dtype.kind in "bu"
                                else builder.sext(value, running[0].type)
                            )
                        )
                        total = builder.add(running[0], widened)
                        running[0] = total
                    at_write = builder.add(write, builder.mul(j, size_value(builder, out_strides[dim])))
                    builder.store(total, builder.gep(result, [at_write]))

            loop_nest(builder, outer, indices, row, "rows")

        key = ("cumsum", shape, dim, strides, source_dtype.str, dtype.str, accumulator.str)
        at.call(key, "cumsum", [x.pointer, out.pointer], build)


class FlipLowering(Lowering):
    """``flip(x, dims)``: a copy reading ``x`` from the far end of each flipped dim, with
    that dim's stride negated."""

    def emit(self, at: Emission, args: list[Operand], out: Operand) -> None:
        (x,) = args
        shape, strides = x.place.shape, list(x.place.strides)
        if 0 in shape:
            return
        start = 0
        for d in {d % len(shape) for d in self.node.attrs["dims"]}:
            start += (shape[d] - 1) * strides[d]
            strides[d] = -strides[d]
        reversed_x = Operand(
            _offset_pointer(at, x, start).pointer, x.place.view(start, shape, tuple(strides))
        )
        copy_strided(at, reversed_x, out, shape, out.place.strides)


def _cumsum(node: Node, arg_types: list) -> Lowering | str:
    source, dtype = np.dtype(arg_types[0].dtype.np), np.dtype(node.type.dtype.np)
    if not arg_types[0].shape or source.kind not in "biuf" or (dtype.kind == "f" and source != dtype):
        return f"cumsum of {source} {tuple(arg_types[0].shape)}"
    return ScanLowering(node)


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


class FullLowering(Lowering):
    """``full``: one value in every element, of a shape (and a value) known at run time."""

    def emit(self, at: Emission, args: list[Operand], out: Operand) -> None:
        attrs = self.node.attrs
        if not isinstance(attrs["value"], Size):
            fill(at, out, _sized_number(attrs["value"], attrs.get("numerator"), out.place.dtype))
            return
        says = f"{attrs.get('numerator')!r} / {attrs['value']!r}"  # (a Size's repr: its expression)
        fill(at, out, lambda builder: _sized_value(builder, attrs, out.place.dtype), says)


class SizeScalarLowering(Lowering):
    """``size_scalar``: a size known at run time (or a number over it), in the result's dtype."""

    def emit(self, at: Emission, args: list[Operand], out: Operand) -> None:
        at.builder.store(_sized_value(at.builder, self.node.attrs, out.place.dtype), out.pointer)


def _sized_number(value, numerator, dtype: np.dtype):
    return value if numerator is None else (np.asarray(numerator, dtype) / np.asarray(value, dtype)).item()


def _sized_value(builder: ir.IRBuilder, attrs: dict, dtype: np.dtype) -> ir.Value:
    """The value of a ``size_scalar`` or sized ``full``: the size converted to ``dtype``
    (a float division by it in ``dtype`` when it has a numerator, as numpy's kernel)."""
    value = _from_int64(builder, size_value(builder, attrs["value"]), dtype)
    if dtype.kind == "f" and attrs.get("numerator") is not None:
        value = builder.fdiv(_constant(storage_type(dtype), dtype, attrs["numerator"]), value)
    return value


def _from_int64(builder: ir.IRBuilder, value: ir.Value, dtype: np.dtype) -> ir.Value:
    """An int64 value converted to ``dtype`` (exact for the whole numbers sizes and counts are)."""
    target = storage_type(dtype)
    if dtype.kind == "f":
        return builder.sitofp(value, target)
    return builder.trunc(value, target) if target.width < 64 else value


class ArangeLowering(Lowering):
    """``arange``: ``start + step * i`` at each flat position ``i`` of a contiguous result
    whose length is known at run time, counted in int64 and converted to the dtype (the
    numbers are whole: exact, as numpy's kernel)."""

    def emit(self, at: Emission, args: list[Operand], out: Operand) -> None:
        attrs, dtype = self.node.attrs, out.place.dtype
        size = math.prod(out.place.shape)
        if size == 0:
            return
        start, step = attrs["start"], attrs["step"]

        def build(builder: ir.IRBuilder, pointers) -> None:
            indices: list[ir.Value] = []

            def element() -> None:
                value = builder.add(const(start), builder.mul(indices[0], const(step)))
                builder.store(_from_int64(builder, value, dtype), builder.gep(pointers[0], list(indices)))

            loop_nest(builder, (size,), indices, element, "arange")

        at.call(("arange", size, dtype.str, start, step), "arange", [out.pointer], build)


class TriLowering(Lowering):
    """``tri``: ``inside`` where column - row is at most (or, not ``lower``, at least)
    ``offset`` in the last two dims, ``outside`` elsewhere, over a contiguous result whose
    dims are known at run time."""

    def emit(self, at: Emission, args: list[Operand], out: Operand) -> None:
        attrs, dtype, shape = self.node.attrs, out.place.dtype, out.place.shape
        if math.prod(shape) == 0:
            return
        rows, columns = math.prod(shape[:-1]), shape[-1]  # the leading dims folded into the rows
        height = shape[-2]

        def build(builder: ir.IRBuilder, pointers) -> None:
            indices: list[ir.Value] = []
            target = storage_type(dtype)
            inside, outside = (_constant(target, dtype, attrs[k]) for k in ("inside", "outside"))

            def element() -> None:
                row, column = indices
                above = builder.sub(column, builder.urem(row, size_value(builder, height)))
                within = builder.icmp_signed("<=" if attrs["lower"] else ">=", above, const(attrs["offset"]))
                at_ = builder.add(builder.mul(row, size_value(builder, columns)), column)
                builder.store(builder.select(within, inside, outside), builder.gep(pointers[0], [at_]))

            loop_nest(builder, (rows, columns), indices, element, "tri")

        key = (
            "tri",
            tuple(shape),
            dtype.str,
            attrs["offset"],
            attrs["lower"],
            attrs["inside"],
            attrs["outside"],
        )
        at.call(key, "tri", [out.pointer], build)


def _constant(target: ir.Type, dtype: np.dtype, value) -> ir.Constant:
    return ir.Constant(target, float(value) if dtype.kind == "f" else int(value))


def _tri(node: Node, arg_types: list) -> Lowering | str:
    if np.dtype(node.type.dtype.np).kind not in "biuf":
        return f"tri of {node.type.dtype}"
    return TriLowering(node)


def _arange(node: Node, arg_types: list) -> Lowering | str:
    if np.dtype(node.type.dtype.np).kind not in "iuf":
        return f"arange of {node.type.dtype}"
    return ArangeLowering(node)


def _size_scalar(node: Node, arg_types: list) -> Lowering | str:
    if np.dtype(node.type.dtype.np).kind not in "iuf":
        return f"size_scalar of {node.type.dtype}"
    return SizeScalarLowering(node)


def _unfold_grad(node: Node, arg_types: list) -> Lowering | str:
    if not node.type.is_static:
        return "unfold_grad with sizes known at run time"
    return UnfoldGradLowering(node)


def _full(node: Node, arg_types: list) -> Lowering | str:
    if isinstance(node.attrs["value"], Size) and np.dtype(node.type.dtype.np).kind not in "iuf":
        return f"full of {node.type.dtype}"
    return FullLowering(node)


MOVEMENT_LOWERINGS = {
    "cat": _cat,
    "slice_grad": _slice_grad,
    "diagonal_grad": lambda node, arg_types: DiagonalGradLowering(node),
    "unfold_grad": _unfold_grad,
    "pad": _pad,
    "cumsum": _cumsum,
    "flip": lambda node, arg_types: FlipLowering(node) if arg_types[0].shape else "flip of a 0-d value",
    "size_scalar": _size_scalar,
    "full": _full,
    "arange": _arange,
    "tri": _tri,
}
