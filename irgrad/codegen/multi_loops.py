"""One loop nest with several results: what :mod:`.loop_fusion` makes of joined loops.

A body with several outputs over one space (see :func:`.loop_fusion.fuse_loops`)
computes all of them in one pass: each elementwise result is stored at every
position, and each reduction (over the whole space) folds the value it reduces into
a running value.  The inputs are read once, and values only the body uses never
reach memory.

Reductions are folded in fixed *units* of the space (whole rows of its outermost
dimension, about :data:`UNIT` elements): each unit's innermost loop adds blocks of
``reduce._BLOCK`` values in vector lanes of the data's own width, block sums in the
wide type (float64 for a float sum), and the units' values are combined in order.
A loop large enough to be split across the thread pool gives each unit's value its
own slot of a scratch array, and combines them after the split loop, in the same
order: the result does not depend on the number of threads.
"""

from __future__ import annotations

import math

import llvmlite.ir as ir
import numpy as np

from ..dtypes import from_numpy_dtype
from ..ir.graph import Graph
from ..native.loops import const, for_range, for_range_carrying
from ..ops import OPS, Kind
from ..ops.scalar import Unsupported
from ..ops.strides import broadcast_strides
from .elementwise import BODY_VIEWS, LoopKernel, Positionwise, body_loads, grain_of
from .index_loops import coalesce, loop_nest, offset_function, static_shape, store
from .parallel import WAKE_ELEMENTS, is_split_when_built, split_outer_loop, split_when_large
from .reduce import _BLOCK, identity_of, reduction_supported
from .run_time import size_value
from .scalars import LlvmScalars, Value, llvm_type

# Elements of a unit of a reduction's space (whole rows of its outermost dimension).
UNIT = 16 * _BLOCK

_F32, _F64 = np.dtype(np.float32), np.dtype(np.float64)


class _Fold:
    """How one reduction result is computed: values of ``value`` folded in the ``low``
    type within a block, blocks and units in the ``wide`` type, stored as ``out``."""

    def __init__(self, node, value_dtype: np.dtype) -> None:
        reduction = OPS[node.op].reduction
        self.out = np.dtype(node.type.dtype.np)
        if not reduction_supported(value_dtype, self.out):
            raise Unsupported(f"a native {node.op} of {value_dtype} into {self.out}")
        self.combine = OPS[reduction.combine].scalar
        self.float_sum = reduction.combine == "add" and self.out.kind == "f"
        if self.float_sum:
            self.low = _F32 if self.out.itemsize <= 4 else _F64
            self.wide = _F64
        else:
            self.low = self.wide = self.out
        # the running values' starts: the reduction's identity in each type
        self.low_start = ir.Constant(llvm_type(self.low), identity_of(reduction, self.low))
        self.wide_start = ir.Constant(llvm_type(self.wide), identity_of(reduction, self.wide))

    def fold(self, S: LlvmScalars, running: ir.Value, value: Value) -> ir.Value:
        """``running`` (low) with one more value."""
        if value.dtype != self.low:
            value = S.cast(value, from_numpy_dtype(self.low))
        folded = self.combine(S, Value(running, self.low), value).ir
        if isinstance(folded, ir.Instruction) and folded.opname == "fadd":
            folded.flags.append("reassoc")  # partial sums in vector lanes
        return folded

    def merge(self, S: LlvmScalars, total: ir.Value, part: ir.Value, part_dtype: np.dtype) -> ir.Value:
        """``total`` (wide) with a part's value (of ``part_dtype``) combined in."""
        value = Value(part, part_dtype)
        if part_dtype != self.wide:
            value = S.cast(value, from_numpy_dtype(self.wide))
        return self.combine(S, Value(total, self.wide), value).ir

    def result(self, S: LlvmScalars, total: ir.Value) -> ir.Value:
        value = Value(total, self.wide)
        return S.cast(value, from_numpy_dtype(self.out)).ir if self.wide != self.out else total


class MultiLoops(LoopKernel):
    """A body with several results over one space (see the module doc).  Its code takes
    the body's inputs, then its results after the first, then one scratch array per
    reduction when it is split; the first result is ``out``."""

    def __init__(self, body: Graph) -> None:
        self.body, self.name = body, body.name
        self.input_types = [
            (static_shape(body.node(i)), np.dtype(body.node(i).type.dtype.np)) for i in body.inputs
        ]
        self.sinks: list[int] = []  # per result: the value stored, or the value reduced
        self.folds: list[_Fold | None] = []
        for node in body.op_nodes():
            op = OPS.get(node.op)
            loop_op = op is not None and (op.kind is Kind.ELEMENTWISE or node.op in BODY_VIEWS)
            if not loop_op and not (op is not None and op.reduction is not None and node.id in body.outputs):
                raise Unsupported(f"{node.op} in a loop with several results")
        space = None
        for o in body.outputs:
            node = body.node(o)
            op = OPS.get(node.op)
            if op is not None and op.reduction is not None:
                (sink,) = body.args(o)
                shape = static_shape(body.node(sink))
                if set(node.attrs["dims"]) != set(range(len(shape))) or math.prod(node.type.shape) != 1:
                    raise Unsupported(f"{node.op} over dims {node.attrs['dims']} with other results")
                self.folds.append(_Fold(node, np.dtype(body.node(sink).type.dtype.np)))
            else:
                sink, shape = o, static_shape(node)
                self.folds.append(None)
            if space is not None and shape != space:
                raise Unsupported(f"results over shapes {space} and {shape} in one loop")
            space = shape
            self.sinks.append(sink)
        self.space = space
        self.out_shape = static_shape(body.node(body.outputs[0]))
        self.out_dtype = np.dtype(body.node(body.outputs[0]).type.dtype.np)
        self.out_dtypes = [np.dtype(body.node(o).type.dtype.np) for o in body.outputs]
        reshaped = {load.position for load in body_loads(body).values() if load.reshaped}
        self.strided_ok = [k not in reshaped for k in range(len(self.input_types))]

    @property
    def reduces(self) -> bool:
        return any(f is not None for f in self.folds)

    def splits(self) -> bool:
        return is_split_when_built(math.prod(self.space))

    def work(self):
        """What decides waking a sleeping worker for the loop: its elements times the ops
        computed at each (a loop of tanh and sigmoid costs several copies' time)."""
        ops = sum(1 for n in self.body.nx.nodes if self.body.node(n).is_op)
        return math.prod(self.space) * max(1, ops)

    def wakes(self) -> bool:
        """Whether the loop is worth waking a sleeping worker for (see :meth:`work`)."""
        return self.work() >= WAKE_ELEMENTS

    def _dims(self, layout: tuple) -> tuple[Positionwise, tuple, tuple]:
        """The values' loads (their strides along the nest set), the loop nest's
        dimensions and the results' strides along them, for inputs of ``layout``."""
        n = len(self.input_types)
        at = Positionwise(self.body, self.sinks, self.space, self.input_types, layout[:n])
        operands = at.strides + [broadcast_strides(self.space, self.space)]
        dims, coalesced = coalesce(self.space, operands)
        if not dims:  # one position: a nest of one
            dims, coalesced = (1,), [(0,)] * len(operands)
        at.strides = coalesced[:-1]
        return at, dims, coalesced[-1]

    def _units(self, dims: tuple) -> tuple[int, int]:
        """(rows of the outermost dimension per unit, units)."""
        rows = max(1, UNIT // math.prod(dims[1:]))
        return rows, -(-dims[0] // rows)

    def scratch(self, layout: tuple) -> list[tuple]:
        """A reduction's units' values when the loop is split: (shape, dtype) of each."""
        if not (self.reduces and self.splits()) or 0 in self.space:
            return []
        _, units = self._units(self._dims(layout)[1])
        return [((units,), f.wide) for f in self.folds if f is not None]

    def emit(self, builder: ir.IRBuilder, args, out, layout: tuple) -> None:
        n, k = len(self.input_types), len(self.sinks)
        inputs, outs = list(args[:n]), [out, *args[n : n + k - 1]]
        scratch = list(args[n + k - 1 :])
        S = LlvmScalars(builder)
        if 0 in self.space:
            for fold, pointer in zip(self.folds, outs):
                if fold is not None:
                    store(builder, fold.result(S, fold.wide_start), fold.out, pointer)
            return
        at, dims, out_strides = self._dims(layout)
        if not self.reduces:
            self._elementwise(builder, at, dims, out_strides, inputs, outs)
        else:
            self._reducing(builder, at, dims, out_strides, inputs, outs, scratch)

    def _store_all(self, b: ir.IRBuilder, values: list[Value], pointers: list, offset, out_strides) -> None:
        for value, fold, pointer, dtype in zip(values, self.folds, pointers, self.out_dtypes):
            if fold is None:
                store(b, value.ir, dtype, b.gep(pointer, [offset(out_strides)], inbounds=True))

    def _elementwise(self, builder, at, dims, out_strides, inputs, outs) -> None:
        n = len(inputs)

        def nest(b: ir.IRBuilder, pointers: list, start=None, count=None) -> None:
            indices: list[ir.Value] = []
            offset = offset_function(b, indices)

            def element() -> None:
                self._store_all(b, at.values(b, pointers[:n], offset), pointers[n:], offset, out_strides)

            loop_nest(b, dims, indices, element, "i", start, count)

        split_when_large(builder, [*inputs, *outs], dims, grain_of(dims), nest, self.work())

    def _reducing(self, builder, at, dims, out_strides, inputs, outs, scratch) -> None:
        n, folds = len(inputs), [f for f in self.folds if f is not None]
        rows, units = self._units(dims)

        def unit_values(b: ir.IRBuilder, pointers: list, unit: ir.Value) -> list[ir.Value]:
            """The unit's value of every reduction (wide), its elementwise results stored."""
            S = LlvmScalars(b)
            first = b.mul(unit, size_value(b, rows))
            left = b.sub(size_value(b, dims[0]), first)
            count = b.select(b.icmp_signed("<", left, size_value(b, rows)), left, size_value(b, rows))
            indices: list[ir.Value] = []
            offset = offset_function(b, indices)

            def element(partials: list[ir.Value]) -> list[ir.Value]:
                values = at.values(b, pointers[:n], offset)
                self._store_all(b, values, pointers[n:], offset, out_strides)
                reduced = [v for v, f in zip(values, self.folds) if f is not None]
                return [f.fold(S, p, v) for f, p, v in zip(folds, partials, reduced)]

            def level(depth: int, carried: list[ir.Value]) -> list[ir.Value]:
                extent = count if depth == 0 else size_value(b, dims[depth])
                base = first if depth == 0 else None
                if depth == len(dims) - 1:
                    return _blocks(b, extent, base, indices, carried, folds, S, element)
                with for_range_carrying(b, extent, carried, f"u{depth}", unroll=False) as (i, running):
                    indices.append(b.add(i, base) if base is not None else i)
                    running[:] = level(depth + 1, list(running))
                    indices.pop()
                return list(running)

            start = [f.wide_start for f in folds]
            return level(0, start)

        if self.splits() and units > 1:

            def part(b: ir.IRBuilder, pointers: list, start: ir.Value, count: ir.Value) -> None:
                with for_range(b, count, "unit", unroll=False) as u:
                    unit = b.add(start, u)
                    for value, slots in zip(unit_values(b, pointers, unit), pointers[n + len(outs) :]):
                        b.store(value, b.gep(slots, [unit], inbounds=True))

            split_outer_loop(builder, [*inputs, *outs, *scratch], units, 1, part, self.wakes())
            S = LlvmScalars(builder)
            totals = [f.wide_start for f in folds]
            with for_range_carrying(builder, size_value(builder, units), totals, "units", unroll=False) as (
                u,
                running,
            ):
                slots = [builder.load(builder.gep(p, [u], inbounds=True)) for p in scratch]
                running[:] = [f.merge(S, t, v, f.wide) for f, t, v in zip(folds, running, slots)]
        else:
            S = LlvmScalars(builder)
            totals = [f.wide_start for f in folds]
            with for_range_carrying(builder, size_value(builder, units), totals, "units", unroll=False) as (
                u,
                running,
            ):
                parts = unit_values(builder, [*inputs, *outs], u)
                running[:] = [f.merge(S, t, v, f.wide) for f, t, v in zip(folds, running, parts)]
        reduced_outs = [p for p, f in zip(outs, self.folds) if f is not None]
        S = LlvmScalars(builder)
        for fold, total, pointer in zip(folds, running, reduced_outs):
            store(builder, fold.result(S, total), fold.out, pointer)


def _blocks(
    b, extent: ir.Value, base, indices: list, carried: list, folds: list, S, element
) -> list[ir.Value]:
    """The innermost loop over ``extent`` positions (from ``base``): blocks of
    ``_BLOCK`` folded in the low types, each block's values merged into ``carried``."""
    blocks = b.udiv(b.add(extent, const(_BLOCK - 1)), const(_BLOCK))
    with for_range_carrying(b, blocks, carried, "blocks", unroll=False) as (block, running):
        first = b.mul(block, const(_BLOCK))
        left = b.sub(extent, first)
        size = b.select(b.icmp_signed("<", left, const(_BLOCK)), left, const(_BLOCK))
        lows = [f.low_start for f in folds]
        with for_range_carrying(b, size, lows, "block") as (j, partials):
            position = b.add(first, j)
            indices.append(b.add(position, base) if base is not None else position)
            partials[:] = element(list(partials))
            indices.pop()
        running[:] = [f.merge(S, t, p, f.low) for f, t, p in zip(folds, running, partials)]
    return list(running)
