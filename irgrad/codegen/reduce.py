"""Reductions fused with the elementwise ops feeding them: a map-reduce in one pass.

``sum(tanh(x) * sigmoid(x) + ...)`` is, after fusion, a fused elementwise group whose
only user is a reduction.  :func:`fuse_reduction_prologues` (a lowering pass of the
LLVM backend) moves such a reduction into its producer's group, and
:class:`ReductionKernel` computes it in one loop nest: the outer loops walk the kept
dimensions, the inner ones the reduced dimensions, and the group's value at each
position is folded into a running value by the reduction's combiner (its registry
entry's ``Reduction``: the scalar rule of ``add``, ``maximum`` or ``minimum``, so NaN
propagation is theirs).  The group's values never reach memory.

A float sum follows eager's order where it can, so its result is eager's bit for bit:
numpy's pairwise tree over one run of values computed exactly (:func:`_pairwise`), rows
added in order for a sum over outer dims (:class:`_Columns`; a float32 one in float64, as
eager's, see :func:`irgrad.ops.reduction.float_sum`).  A sum whose prologue
uses an approximate primitive (its values differ from numpy's by an ulp anyway) adds
blocks in vector lanes and the block sums in float64 (:func:`_fold_blocks`).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

import llvmlite.ir as ir
import numpy as np

from ..dtypes import from_numpy_dtype
from ..ir.graph import FUSED, Graph, Node
from ..native.loops import I64, const, entry_alloca, for_range, for_range_carrying, freeze
from ..ops import OPS
from ..ops.scalar import Unsupported
from ..ops.strides import contiguous_strides
from ..passes.fusion import ANCHOR_KINDS
from .elementwise import LoopKernel, NativeKernel, Positionwise
from .index_loops import coalesce, loop_nest, offset_function, static_shape, store
from .run_time import size_value
from .scalars import LlvmScalars, Value, exact_natively, llvm_type

_F64 = np.dtype(np.float64)


def has_anchor(body: Graph) -> bool:
    """Whether a fused body holds a matmul or a reduction."""
    return any(OPS[n.op].kind in ANCHOR_KINDS for n in body.op_nodes() if n.op in OPS)


def fuse_reduction_prologues(g: Graph) -> Graph:
    """A copy of ``g`` in which each reduction with a combiner whose argument is a fused
    elementwise group used by nothing else becomes one fused node holding both."""
    g = g.copy()
    outputs = set(g.outputs)
    for nid in g.order():
        node = g.node(nid)
        op = OPS.get(node.op)
        if op is None or op.reduction is None:
            continue
        (arg,) = g.args(nid)
        producer = g.node(arg)
        if producer.op != FUSED or arg in outputs or g.users(arg) != [nid] or has_anchor(producer.body):
            continue
        if len(producer.body.outputs) != 1:  # a group with several results (see loop_fusion)
            continue
        body = producer.body.copy()
        body.name = f"{producer.body.name}.{node.op}"
        body.set_outputs([body.add_op(node.op, body.outputs, node.attrs, node.type, source=node.source)])
        producer_args = g.args(arg)
        for u, v, key in list(g.nx.in_edges(nid, keys=True)):
            g.nx.remove_edge(u, v, key=key)
        for pos, a in enumerate(producer_args):
            g.nx.add_edge(a, nid, key=pos)
        g.nx.nodes[nid]["node"] = Node(nid, FUSED, node.type, body=body, source=node.source)
        g.remove(arg)
    return g


def reduction_supported(value_dtype: np.dtype, out_dtype: np.dtype) -> bool:
    """Whether native code reduces values of ``value_dtype`` into ``out_dtype``: floats into
    their own type, bools and integers into an integer (sums run in int64)."""
    floats = out_dtype.kind == "f" and value_dtype == out_dtype
    return floats or (out_dtype.kind in "iu" and value_dtype.kind in "biu")


def is_map_reduce(body: Graph) -> bool:
    """A body whose output is a reduction with a combiner of a value computed in it."""
    out = body.node(body.outputs[0])
    op = OPS.get(out.op)
    return op is not None and op.reduction is not None and body.args(out.id)[0] not in body.inputs


class ReductionLoops(LoopKernel):
    """A map-reduce body: its reduction of the elementwise value computed in it."""

    def emit(self, builder: ir.IRBuilder, inputs, out, layout: tuple) -> None:
        body = self.body
        reduction_node = body.node(body.outputs[0])
        reduction = OPS[reduction_node.op].reduction
        (sink,) = body.args(reduction_node.id)
        space = static_shape(body.node(sink))
        sink_dtype = np.dtype(body.node(sink).type.dtype.np)
        if not reduction_supported(sink_dtype, self.out_dtype):
            raise Unsupported(f"a native {reduction_node.op} of {sink_dtype} into {self.out_dtype}")
        reduced = set(reduction_node.attrs["dims"])
        kept = [k for k in range(len(space)) if k not in reduced]
        at = Positionwise(body, sink, space, self.input_types, layout)
        out_contiguous = contiguous_strides([space[k] for k in kept])
        out_strides = [0] * len(space)
        for k, stride in zip(kept, out_contiguous):
            out_strides[k] = stride if space[k] != 1 else 0
        operands = at.strides + [tuple(out_strides)]
        outer, outer_strides = coalesce(
            tuple(space[k] for k in kept), [tuple(s[k] for k in kept) for s in operands]
        )
        inner, inner_strides = coalesce(
            tuple(space[k] for k in sorted(reduced)), [tuple(s[k] for k in sorted(reduced)) for s in operands]
        )
        if 0 in outer:
            return
        float_sum = reduction.combine == "add" and self.out_dtype.kind == "f"
        combine = OPS[reduction.combine].scalar
        indices: list[ir.Value] = []
        offset = offset_function(builder, indices)
        S = LlvmScalars(builder)
        kept_size = math.prod(outer)
        identity = identity_of(reduction, self.out_dtype)
        if kept_size <= _MOST_COLUMNS and _walks_kept_fastest(at.strides, kept, space):
            # the rows added in order, from +0.0, as eager's sum adds them: a float32 sum in
            # float64 (see ops.reduction.float_sum), others in the data's own type
            at.strides = [i + o for o, i in zip(outer_strides[:-1], inner_strides[:-1])]
            accumulator = _F64 if float_sum and self.out_dtype == np.float32 else self.out_dtype
            columns = _Columns(
                builder, S, accumulator, self.out_dtype, kept_size, identity_of(reduction, accumulator)
            )
            columns.fold(inner, outer, indices, offset, lambda: at.emit(builder, inputs, offset), combine)
            columns.store(out)
            return
        at.strides = [o + i for o, i in zip(outer_strides[:-1], inner_strides[:-1])]
        out_offset_strides = outer_strides[-1]
        if float_sum and len(inner) == 1 and inner[0] > 0 and exact_natively(body):
            # a sum of stored values over one run: numpy's pairwise tree, so numpy's sum bit
            # for bit (with a computed prologue, the blocked sum below keeps the loop vectorized)
            pairwise = _pairwise(builder, at, inputs, len(outer), self.out_dtype)

            def run_sum() -> None:
                total = builder.call(
                    pairwise, [*inputs, *indices, ir.Constant(I64, 0), size_value(builder, inner[0])]
                )
                store(
                    builder,
                    total,
                    self.out_dtype,
                    builder.gep(out, [offset(out_offset_strides)], inbounds=True),
                )

            loop_nest(builder, outer, indices, run_sum, "o")
            return
        # float sums over several runs accumulate in float64; integer sums wrap in their own type
        accumulator = _F64 if float_sum else self.out_dtype
        identity = identity_of(reduction, accumulator)

        blocked = reduction.combine == "add" and accumulator != self.out_dtype and inner

        def fold_value(running: Value) -> ir.Value:
            value = at.emit(builder, inputs, offset)
            if value.dtype != running.dtype:
                value = S.cast(value, from_numpy_dtype(running.dtype))
            folded = combine(S, running, value).ir
            if isinstance(folded, ir.Instruction) and folded.opname == "fadd":
                folded.flags.append("reassoc")  # lets the vectorizer keep partial sums in lanes
            return folded

        def fold(level: int, running: ir.Value) -> ir.Value:
            if level == len(inner):
                return fold_value(Value(running, accumulator))
            if blocked and level == len(inner) - 1:
                return _fold_blocks(builder, S, self.out_dtype, inner[level], indices, running, fold_value)
            if not float_sum and level == len(inner) - 1:
                return _fold_lanes(
                    builder, S, accumulator, identity, inner[level], indices, running, fold_value, combine
                )
            with for_range_carrying(builder, size_value(builder, inner[level]), [running], f"r{level}") as (
                i,
                carried,
            ):
                indices.append(i)
                carried[0] = fold(level + 1, carried[0])
                indices.pop()
            return carried[0]

        def element() -> None:
            total = Value(fold(0, ir.Constant(llvm_type(accumulator), identity)), accumulator)
            if accumulator != self.out_dtype:
                total = S.cast(total, from_numpy_dtype(self.out_dtype))
            pointer = builder.gep(out, [offset(out_offset_strides)], inbounds=True)
            store(builder, total.ir, self.out_dtype, pointer)

        loop_nest(builder, outer, indices, element, "o")


class ReductionKernel(ReductionLoops, NativeKernel):
    """:class:`ReductionLoops` compiled on its own."""

    prefix = "reduce"


def _fold_blocks(
    builder, S, low_dtype: np.dtype, count: int, indices: list, running: ir.Value, fold_value
) -> ir.Value:
    """The innermost reduced loop of a float32 sum: blocks of ``_BLOCK`` elements
    summed in float32 (vector lanes of the data's own width, so the loop vectorizes
    as widely as its elementwise prologue), each block's sum added in float64."""
    low = llvm_type(low_dtype)
    block_size = ir.Constant(I64, _BLOCK)
    blocks = builder.udiv(builder.add(size_value(builder, count), ir.Constant(I64, _BLOCK - 1)), block_size)
    with for_range_carrying(builder, blocks, [running], "blocks") as (block, carried):
        start = builder.mul(block, ir.Constant(I64, _BLOCK))
        left = builder.sub(size_value(builder, count), start)
        size = builder.select(
            builder.icmp_signed("<", left, ir.Constant(I64, _BLOCK)), left, ir.Constant(I64, _BLOCK)
        )
        with for_range_carrying(builder, size, [ir.Constant(low, 0.0)], "block") as (j, partial):
            indices.append(builder.add(start, j))
            partial[0] = fold_value(Value(partial[0], low_dtype))
            indices.pop()
        wide = S.cast(Value(partial[0], low_dtype), from_numpy_dtype(_F64)).ir
        carried[0] = builder.fadd(carried[0], wide)
    return carried[0]


class _Lanes:
    """``n`` running values in a stack array, each updated by one iteration of a loop over
    them (:meth:`each`), which the loop vectorizer widens into vectors.  Kept as ``n``
    scalar chains instead, LLVM leaves them scalar: its SLP vectorizer does not join
    them (a sum's, prologue included), and a loop-carried ``select`` chain (a maximum's,
    NaN propagation included) the loop vectorizer cannot widen."""

    def __init__(self, builder: ir.IRBuilder, type_: ir.Type, n: int) -> None:
        self.builder, self.n = builder, n
        self.array = entry_alloca(builder, ir.ArrayType(type_, n))

    def slot(self, j: ir.Value) -> ir.Value:
        return self.builder.gep(self.array, [const(0), j], inbounds=True)

    @contextmanager
    def each(self, name: str) -> Iterator[ir.Value]:
        """A loop over the lanes; yields the lane's index."""
        with for_range(self.builder, const(self.n), name, unroll=False, lanes=self.n) as j:
            yield j

    def values(self) -> list[ir.Value]:
        return [self.builder.load(self.slot(const(j))) for j in range(self.n)]


def _fold_lanes(
    builder, S, dtype: np.dtype, identity, count: int, indices: list, running: ir.Value, fold_value, combine
) -> ir.Value:
    """The innermost reduced loop of a reduction whose combiner is not a float sum (a
    maximum or minimum, an integer sum): ``n`` running values (:class:`_Lanes`, ``n``
    from :func:`_lanes_for`), each starting from ``identity``, value ``i`` folded into
    lane ``i % n``.  Then the lanes and the values past the last whole round are folded
    into ``running`` in order.  Such combiners are associative and commutative, so only
    which of two equal values is kept (``-0.0`` or ``+0.0``, a NaN's payload) may differ
    from a fold in order."""
    t = llvm_type(dtype)
    lanes = _Lanes(builder, t, _lanes_for(count))
    n = const(lanes.n)
    size = size_value(builder, count)
    with lanes.each("lanes.init") as j:
        builder.store(ir.Constant(t, identity), lanes.slot(j))
    rounds = builder.udiv(size, n)
    with for_range(builder, rounds, "rounds") as k:
        base = builder.mul(k, n)
        with lanes.each("lanes") as j:
            slot = lanes.slot(j)
            indices.append(builder.add(base, j))
            builder.store(fold_value(Value(builder.load(slot), dtype)), slot)
            indices.pop()
    for lane in lanes.values():
        running = combine(S, Value(running, dtype), Value(lane, dtype)).ir
    whole = builder.mul(rounds, n)
    with for_range_carrying(builder, builder.sub(size, whole), [running], "lanes.rest") as (i, carried):
        indices.append(builder.add(whole, i))
        carried[0] = fold_value(Value(carried[0], dtype))
        indices.pop()
    return carried[0]


def _pairwise(builder: ir.IRBuilder, at, inputs, n_outer: int, dtype: np.dtype) -> ir.Function:
    """``T sum(inputs..., outer indices..., start, n)``: the sum of the body's values at
    positions ``start .. start+n`` of the reduced run (at the given outer position) by
    numpy's pairwise algorithm, so results equal numpy's bit for bit: fewer than 8
    values in order from +0.0 (numpy 2's sums of -0.0s are +0.0, as PyTorch's); up to
    128 in 8 running sums (every 8th value) added as ((r0+r1)+(r2+r3))+((r4+r5)+(r6+r7))
    then the rest in order; more, split in two at half rounded down to a multiple of 8,
    each half summed so, the halves added."""
    module, parent = builder.module, builder.function
    ft = llvm_type(dtype)
    types = [p.type for p in inputs] + [I64] * (n_outer + 2)
    fn = ir.Function(module, ir.FunctionType(ft, types), f"{parent.name}.pairwise")
    fn.linkage = "internal"
    pointers, outer, (start, n) = fn.args[: len(inputs)], list(fn.args[len(inputs) : -2]), fn.args[-2:]
    b = ir.IRBuilder(fn.append_basic_block("entry"))

    def value(i: ir.Value) -> ir.Value:
        indices = [*outer, b.add(start, i)]
        return at.emit(b, pointers, offset_function(b, indices)).ir

    few, block, split = (fn.append_basic_block(name) for name in ("few", "block", "split"))
    b.cbranch(b.icmp_signed("<", n, const(8)), few, fn.append_basic_block("more"))
    b.position_at_end(fn.blocks[-1])
    b.cbranch(b.icmp_signed("<=", n, const(128)), block, split)

    b.position_at_end(few)
    with for_range_carrying(b, n, [ir.Constant(ft, 0.0)], "few") as (i, running):
        running[0] = b.fadd(running[0], value(i))
    b.ret(running[0])

    b.position_at_end(block)
    sums = _Lanes(b, ft, 8)  # (numpy's 8 running sums, in vector lanes)
    with sums.each("first") as j:
        b.store(value(j), sums.slot(j))
    whole = b.sub(n, b.srem(n, const(8)))
    with for_range(b, b.sub(b.sdiv(whole, const(8)), const(1)), "eights") as k:
        base = b.mul(b.add(k, const(1)), const(8))
        with sums.each("lanes") as j:
            slot = sums.slot(j)
            b.store(b.fadd(b.load(slot), value(b.add(base, j))), slot)
    r = sums.values()
    total = b.fadd(
        b.fadd(b.fadd(r[0], r[1]), b.fadd(r[2], r[3])), b.fadd(b.fadd(r[4], r[5]), b.fadd(r[6], r[7]))
    )
    with for_range_carrying(b, b.sub(n, whole), [total], "rest") as (i, running):
        running[0] = b.fadd(running[0], value(b.add(whole, i)))
    b.ret(b.fadd(running[0], ir.Constant(ft, 0.0)))  # -0.0 (all values -0.0) is +0.0

    b.position_at_end(split)
    half = b.sdiv(n, const(2))
    half = b.sub(half, b.srem(half, const(8)))
    left = b.call(fn, [*pointers, *outer, start, half])
    right = b.call(fn, [*pointers, *outer, b.add(start, half), b.sub(n, half)])
    b.ret(b.fadd(left, right))
    return fn


# A float32 sum's block: summed in float32 lanes, then added to a float64 total.
_BLOCK = 1024


def _lanes_for(count) -> int:
    """How many running values :func:`_fold_lanes` keeps for ``count`` values: 16 (two
    AVX2 vectors of floats, whose compare-and-select chains then overlap) over long runs,
    8 over short ones, where the values past the last whole round go one by one.
    Measured on one core (AMD EPYC, AVX2), float32: amax of 1M values 0.14 ms with 8
    lanes, 0.09-0.13 with 16 (numpy 0.08); amax(1) of 1000x1000, 0.138 and 0.098; but
    amax(1) of 200000x40, 1.9 ms with 8 and 2.9 with 16."""
    return 16 if isinstance(count, int) and count >= 256 else 8


# Kept positions whose running values a column-wise reduction keeps on the stack.
_MOST_COLUMNS = 8192


def identity_of(reduction, dtype: np.dtype) -> float | int:
    """The reduction's identity as a value of ``dtype``: an infinite identity (of a
    maximum or minimum) is the integer type's extreme.  (A float sum starts from +0.0,
    as numpy's do: a sum of -0.0s is +0.0.)"""
    identity = reduction.identity
    if dtype.kind == "f":
        return float(identity)
    if math.isinf(identity):
        info = np.iinfo(dtype)
        return int(info.min if identity < 0 else info.max)
    return int(identity)


def _walks_kept_fastest(strides: list[tuple[int, ...]], kept: list[int], space: tuple) -> bool:
    """Whether the inputs' smallest step is along a kept dimension: a sum over the rows
    of a row-major matrix then reads memory in order only when it walks the kept
    dimension innermost (all columns' running sums at once), not column by column."""
    best = None
    for load in strides:
        for k, stride in enumerate(load):
            if stride and space[k] > 1 and (best is None or abs(stride) < best[0]):
                best = (abs(stride), k)
    return best is not None and best[1] in kept


class _Columns:
    """A reduction that walks the reduced dimensions outside and the kept ones inside,
    with one running value per kept position in a stack array: each row of a
    row-major input is read in order and folded into every column's running value at
    once, which the loop vectorizer widens.  (The running values are loaded frozen, see
    :func:`~irgrad.native.loops.freeze`: a maximum's ``select`` stored back would be a
    masked store.)"""

    def __init__(self, builder, S, accumulator: np.dtype, out_dtype: np.dtype, size: int, identity) -> None:
        self.builder, self.S = builder, S
        self.accumulator, self.out_dtype, self.size = accumulator, out_dtype, size
        self.type = llvm_type(accumulator)
        count = size_value(builder, size)
        self.running = builder.alloca(self.type, size=count, name="columns")
        with for_range(builder, count, "init") as k:
            builder.store(ir.Constant(self.type, identity), builder.gep(self.running, [k], inbounds=True))

    def fold(self, reduced, kept, indices, offset, value_here, combine) -> None:
        builder, S = self.builder, self.S
        column_strides = contiguous_strides(kept)

        def element() -> None:
            column = offset((0,) * len(reduced) + column_strides)
            slot = builder.gep(self.running, [column], inbounds=True)
            value = value_here()
            if value.dtype != self.accumulator:
                value = S.cast(value, from_numpy_dtype(self.accumulator))
            running = Value(freeze(builder, builder.load(slot)), self.accumulator)
            builder.store(combine(S, running, value).ir, slot)

        loop_nest(builder, tuple(reduced) + tuple(kept), indices, element, "c")

    def store(self, out) -> None:
        builder, S = self.builder, self.S
        with for_range(builder, size_value(builder, self.size), "columns.out") as k:
            total = Value(builder.load(builder.gep(self.running, [k], inbounds=True)), self.accumulator)
            if self.accumulator != self.out_dtype:
                total = S.cast(total, from_numpy_dtype(self.out_dtype))
            store(builder, total.ir, self.out_dtype, builder.gep(out, [k], inbounds=True))
