"""Native ``index`` (``x[i, j]``, ``x[:, i, 1:3, j]``, ``x[0, :, i]``), its gradient
``index_grad`` and the assignment ``index_put`` (``x[i, j] = v``), for any index spec of
ints, slices, ``None`` and index arrays.

numpy's rule places the result's dims: the index arrays broadcast together to one
shape; ints count as 0-d index arrays once there is an array; when those advanced
items are adjacent in the spec, the broadcast dims replace them where they stand,
otherwise they come first, before every dim the slices and ``None`` make.  Each result
position then reads one element of the indexed array, whose offset is a constant (the
ints and the slices' starts), plus a stride per slice dim, plus each index array's
value (at its broadcast position) times its dim's stride: :class:`IndexPlan`.

Indices are checked before anything is read or written through them, with the helpers
of :mod:`.indexing`: a negative one counts from the end, as numpy's and PyTorch's do;
one outside ``[-size, size)`` makes the kernel return a status, and the interpreter's
answer (the eager error) is the call's.  ``index_grad`` adds ``g`` into zeros in the order of ``g``'s positions,
which is the order ``np.add.at`` adds repeats in, so its sums are eager's bit for bit;
``index_put`` stores in the same order, so a position written twice keeps the last value.
"""

from __future__ import annotations

import math
from numbers import Integral
from typing import NamedTuple

import llvmlite.ir as ir
import numpy as np

from ..ir.graph import Node
from ..native.loops import I64
from ..ops.strides import broadcast_strides, contiguous_strides, range_length, slice_indices
from .emission import OK_STATUS, Emission, Lowering, Operand
from .index_loops import loop_nest, offset_function
from .indexing import checked_ids, index_value
from .movement import copy_strided, fill
from .run_time import size_value


class IndexPlan(NamedTuple):
    """Where ``x[spec]`` reads: at a position ``p`` of the result (a loop nest over
    ``shape``), the element ``offset + sum(p * steps) + sum(ids_k[sum(p * positions_k)]
    * scales_k)`` of ``x``, for each index array ``ids_k`` (bounded by ``bounds_k``)."""

    shape: tuple[int, ...]  # the result's
    broadcast: tuple[int, ...]  # the index arrays' broadcast shape
    offset: int  # the ints' and the slice starts' part of every offset
    steps: tuple[int, ...]  # per result dim, the stride a step along it moves by in x
    positions: tuple[tuple[int, ...], ...]  # per index array, its strides along the result's dims
    scales: tuple[int, ...]  # per index array, the stride of the dim of x it indexes
    bounds: tuple[int, ...]  # per index array, the size of that dim


def index_plan(
    spec: tuple, shape: tuple[int, ...], strides: tuple[int, ...], array_shapes: list[tuple[int, ...]]
) -> IndexPlan:
    """The :class:`IndexPlan` of ``x[spec]`` for ``x`` of ``shape`` laid out with
    ``strides`` and index arrays of ``array_shapes`` (``spec`` valid for ``shape``:
    see :func:`_valid_spec`)."""
    items = tuple(spec) + (slice(None),) * (len(shape) - sum(item is not None for item in spec))
    advanced = [k for k, item in enumerate(items) if item is Ellipsis or isinstance(item, Integral)]
    adjacent = advanced[-1] - advanced[0] == len(advanced) - 1
    broadcast = tuple(np.broadcast_shapes(*array_shapes))
    before: list[tuple[int, int]] = []  # (size, step) of each result dim before the broadcast dims
    after: list[tuple[int, int]] = []
    offset, scales, bounds, d = 0, [], [], 0
    for k, item in enumerate(items):
        basic = before if adjacent and k < advanced[0] else after
        if item is None:
            basic.append((1, 0))
            continue
        if item is Ellipsis:
            scales.append(strides[d])
            bounds.append(shape[d])
        elif isinstance(item, slice):
            start, stop, step = slice_indices(item, shape[d])
            basic.append((range_length(start, stop, step), step * strides[d]))
            offset += start * strides[d]
        else:
            offset += item % shape[d] * strides[d]
        d += 1
    lead, trail = (0,) * len(before), (0,) * len(after)
    return IndexPlan(
        shape=tuple(n for n, _ in before) + broadcast + tuple(n for n, _ in after),
        broadcast=broadcast,
        offset=offset,
        steps=tuple(s for _, s in before) + (0,) * len(broadcast) + tuple(s for _, s in after),
        positions=tuple(lead + broadcast_strides(s, broadcast) + trail for s in array_shapes),
        scales=tuple(scales),
        bounds=tuple(bounds),
    )


class AdvancedIndexLowering(Lowering):
    """``index(x, *ids, spec)``: the result read through :func:`index_plan` from ``x``
    where it lies (its strides); ``index_grad(g, *ids, shape, spec)``: zeros with each
    element of ``g`` (contiguous) added where ``index`` would have read it; or
    ``index_put(x, v, *ids, spec)``: a copy of ``x`` with each element of ``v`` stored
    there, in order, so that a position written twice keeps the last value."""

    may_fail = True

    def contiguous_args(self, args) -> list[bool]:
        if self.node.op == "index_grad":
            return [True] * len(args)
        return [False] + [True] * (len(args) - 1)  # x read through its strides

    def emit(self, at: Emission, args: list[Operand], out: Operand) -> ir.Value | None:
        op = self.node.op
        writes = op != "index"  # into out, through the plan (index_grad adds, index_put stores)
        first_id = 2 if op == "index_put" else 1
        ids = args[first_id:]
        table = out.place if writes else args[0].place  # the indexed array
        strides = contiguous_strides(table.shape) if writes else table.strides
        plan = index_plan(self.node.attrs["spec"], table.shape, strides, [i.place.shape for i in ids])
        arrays = tuple((i.place.shape, i.place.dtype) for i in ids)
        dtype = out.place.dtype
        if op == "index_grad":
            fill(at, out, 0)
        elif op == "index_put":
            copy_strided(at, args[0], out, table.shape, strides)
        if 0 in plan.broadcast:  # numpy reads (and checks) no index then
            return None
        # where each result (index) or value (index_grad, index_put) is: index_put's values
        # broadcast to the picked positions (one value, one row for every picked row, ...)
        if writes:
            picked = broadcast_strides(args[first_id - 1].place.shape, plan.shape)
        else:
            picked = contiguous_strides(plan.shape)

        def build(builder: ir.IRBuilder, pointers):
            values, *picks, result = pointers[first_id - 1 :]
            for pick, (array_shape, id_dtype), bound in zip(picks, arrays, plan.bounds):
                checked_ids(builder, pick, id_dtype, math.prod(array_shape), bound, wraps=True)
            if 0 in plan.shape:
                return ir.Constant(I64, OK_STATUS)
            indices: list[ir.Value] = []
            offset = offset_function(builder, indices)

            def element() -> None:
                in_table = builder.add(size_value(builder, plan.offset), offset(plan.steps))
                for pick, (_, id_dtype), positions, scale, bound in zip(
                    picks, arrays, plan.positions, plan.scales, plan.bounds
                ):
                    value = index_value(builder, pick, offset(positions), id_dtype, wraps_at=bound)
                    in_table = builder.add(in_table, builder.mul(value, size_value(builder, scale)))
                at_picked = offset(picked)
                if writes:
                    slot = builder.gep(result, [in_table])
                    value = builder.load(builder.gep(values, [at_picked]))
                    if op == "index_grad":
                        add = builder.fadd if dtype.kind == "f" else builder.add
                        value = add(builder.load(slot), value)
                    builder.store(value, slot)
                else:
                    builder.store(
                        builder.load(builder.gep(values, [in_table])), builder.gep(result, [at_picked])
                    )

            loop_nest(builder, plan.shape, indices, element, "index")
            return ir.Constant(I64, OK_STATUS)

        key = (op, plan, picked, tuple((s, d.str) for s, d in arrays), dtype.str)
        pointers = [a.pointer for a in args] + [out.pointer]
        return at.call(key, op, pointers, build, status=True)


def _valid_spec(spec: tuple, shape: tuple[int, ...], arrays: int) -> bool:
    """Whether ``spec`` (ints, slices, None, and an ``...`` per index array) indexes an
    array of ``shape`` with ``arrays`` index arrays, every int within its dim (numpy
    raises for one outside)."""
    d = 0
    for item in spec:
        if item is None or item is Ellipsis or isinstance(item, slice):
            d += item is not None
        elif isinstance(item, Integral) and not isinstance(item, bool) and d < len(shape):
            if not -shape[d] <= item < shape[d]:
                return False
            d += 1
        else:
            return False
    return d <= len(shape) and arrays > 0 and sum(item is Ellipsis for item in spec) == arrays


def _index(node: Node, arg_types: list) -> Lowering | str:
    """A lowering for ``index``/``index_grad`` with integer index arrays (of any integer
    dtypes), or why there is none."""
    grad = node.op == "index_grad"
    spec, dtype = node.attrs["spec"], np.dtype(node.type.dtype.np)
    ids = [np.dtype(t.dtype.np) for t in arg_types[2 if node.op == "index_put" else 1 :]]
    if any(i.kind not in "iu" for i in ids) or (node.op != "index" and dtype.kind not in "fiu"):
        return f"{node.op} of {dtype} with {', '.join(map(str, ids))} indices"
    shape = tuple(node.attrs["shape"]) if grad else tuple(arg_types[0].shape)
    if not _valid_spec(spec, shape, len(ids)):
        return f"{node.op} with the index spec {spec} of shape {shape}"
    return AdvancedIndexLowering(node)


INDEX_LOWERINGS = {"index": _index, "index_grad": _index, "index_put": _index}
