"""Loops split across irgrad's thread pool (:mod:`irgrad.native.pool`).

A loop nest worth splitting is emitted as a *task*: an internal function
``task(context, part, parts)`` that reads the nest's pointers from ``context`` and runs
part ``part`` of ``parts`` of the outermost loop; the kernel itself only stores its
pointers in ``context`` and calls ``irgrad_parallel``.  With one thread the pool runs
the task once, whole, on the calling thread.  Each part writes its own slice of the
output, so parts never write the same element.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import llvmlite.ir as ir

from ..ir.run_time_sizes import Size
from ..native import pool
from ..native.loops import I64, const, entry_alloca
from .run_time import size_value

# Elements from which an elementwise loop nest is split (when a worker is awake), and
# from which it wakes a sleeping one: a copy of 2^20 floats takes about 200 us on one
# core, a wake-up about 20 us.
PARALLEL_ELEMENTS = 1 << 19
WAKE_ELEMENTS = 1 << 20

# Split loops a program must have for its native call to wake the workers as it starts:
# then they are spinning when its tasks come one after another (an LSTM step's 64
# products: 1.51 against 1.72 ms), while a program with one medium task (W1's
# inference) does not pay for a wake-up it cannot use.
SITES_TO_WAKE = 3

RangeBody = Callable[[ir.IRBuilder, list, ir.Value, ir.Value], None]


def split_outer_loop(
    builder: ir.IRBuilder, pointers: list, extent: int, grain: int, body: RangeBody, wake: bool | ir.Value
) -> None:
    """Run ``body(builder, pointers, start, count)``, which emits the nest with its
    outermost loop over ``start .. start + count``, across the pool: parts of ``extent``
    rounded to multiples of ``grain``.  ``wake``: the work is large enough to wake a
    sleeping worker (:data:`WAKE_ELEMENTS` elements, ``tiled_gemm.WAKE_MACS``)."""
    module = builder.module
    task = ir.Function(module, pool.TASK, module.get_unique_name(f"{builder.function.name}.part"))
    task.linkage = "internal"
    context, part, parts = task.args
    b = ir.IRBuilder(task.append_basic_block("entry"))
    slots = b.bitcast(context, I64.as_pointer())
    # a pointer passed twice (an input that is the result itself) is one value in the task
    # too, so LLVM still sees one address per element
    distinct = list(dict.fromkeys(pointers))
    loaded = {p: b.inttoptr(b.load(b.gep(slots, [const(k)])), p.type) for k, p in enumerate(distinct)}
    unpacked = [loaded[p] for p in pointers]
    share = b.udiv(b.add(size_value(b, extent), b.sub(parts, const(1))), parts)  # ceil(extent / parts)
    share = b.mul(b.udiv(b.add(share, size_value(b, grain - 1)), size_value(b, grain)), size_value(b, grain))
    start = b.mul(part, share)
    with b.if_then(b.icmp_signed("<", start, size_value(b, extent))):
        rest = b.sub(size_value(b, extent), start)
        body(b, unpacked, start, b.select(b.icmp_signed("<", rest, share), rest, share))
    b.ret_void()

    call_parallel(builder, task, [builder.ptrtoint(p, I64) for p in distinct], wake)


def split_when_large(
    builder: ir.IRBuilder,
    pointers: list,
    dims: tuple,
    grain: int,
    body: RangeBody,
    work: int | Size,
) -> None:
    """``body`` over the whole nest of ``dims``, or split across the pool by
    :func:`split_outer_loop` when it has :data:`PARALLEL_ELEMENTS` elements or more
    (waking a worker from ``work``, its elements weighted by its cost, of
    :data:`WAKE_ELEMENTS`).  With sizes known at run time the choice is a branch of the
    code, not a fact of the program (see :mod:`.run_time`)."""
    elements = math.prod(dims)
    if not isinstance(elements, Size):
        if dims and elements >= PARALLEL_ELEMENTS:
            split_outer_loop(builder, pointers, dims[0], grain, body, work >= WAKE_ELEMENTS)
        else:
            body(builder, pointers, None, None)
        return
    total = size_value(builder, elements)
    with builder.if_else(builder.icmp_signed(">=", total, const(PARALLEL_ELEMENTS))) as (large, small):
        with large:
            wake = builder.zext(
                builder.icmp_signed(">=", size_value(builder, work), const(WAKE_ELEMENTS)), I64
            )
            split_outer_loop(builder, pointers, dims[0], grain, body, wake)
        with small:
            body(builder, pointers, None, None)


def is_split_when_built(elements: int | Size) -> bool:
    """Whether a nest of ``elements`` is split across the pool as a matter of the
    program (not of a run-time branch: see :func:`split_when_large`), which decides
    whether its native call wakes the workers as it starts."""
    return not isinstance(elements, Size) and elements >= PARALLEL_ELEMENTS


def call_parallel(
    builder: ir.IRBuilder, task: ir.Function, context: list[ir.Value], wake: bool | ir.Value
) -> None:
    """Call ``irgrad_parallel(task, context, wake)``, declared in the builder's module (the
    pool started, so the module links), ``context`` (i64 values) stored in a stack array;
    ``wake`` may be an i64 decided at run time."""
    stored = entry_alloca(builder, ir.ArrayType(I64, len(context)))
    for k, value in enumerate(context):
        builder.store(value, builder.gep(stored, [const(0), const(k)]))
    parallel = _declared(builder.module, pool.PARALLEL, pool.PARALLEL_TYPE)
    wake = wake if isinstance(wake, ir.Value) else const(int(wake))
    builder.call(parallel, [task, builder.bitcast(stored, pool.I8P), wake])


def wake_workers(builder: ir.IRBuilder) -> None:
    """Call ``irgrad_pool_wake()`` (see :data:`SITES_TO_WAKE`)."""
    builder.call(_declared(builder.module, pool.WAKE, ir.FunctionType(ir.VoidType(), [])), [])


def _declared(module: ir.Module, name: str, type_: ir.FunctionType) -> ir.Function:
    if name not in module.globals:
        pool.ensure_started()
        ir.Function(module, type_, name)
    return module.globals[name]
