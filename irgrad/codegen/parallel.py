"""Loops split across irgrad's thread pool (:mod:`irgrad.native.pool`).

A loop nest worth splitting is emitted as a *task*: an internal function
``task(context, part, parts)`` that reads the nest's pointers from ``context`` and runs
part ``part`` of ``parts`` of the outermost loop; the kernel itself only stores its
pointers in ``context`` and calls ``irgrad_parallel``.  With one thread the pool runs
the task once, whole, on the calling thread.  Each part writes its own slice of the
output, so parts never write the same element.
"""

from __future__ import annotations

from collections.abc import Callable

import llvmlite.ir as ir

from ..native import pool
from ..native.loops import I64, const

# Elements from which an elementwise loop nest is split: a copy of 2^17 floats takes
# about 30 us on one core, the time a sleeping worker takes to wake.
PARALLEL_ELEMENTS = 1 << 19

RangeBody = Callable[[ir.IRBuilder, list, ir.Value, ir.Value], None]


def split_outer_loop(builder: ir.IRBuilder, pointers: list, extent: int, grain: int, body: RangeBody) -> None:
    """Run ``body(builder, pointers, start, count)``, which emits the nest with its
    outermost loop over ``start .. start + count``, across the pool: parts of ``extent``
    rounded to multiples of ``grain``."""
    module = builder.module
    task = ir.Function(module, pool.TASK, module.get_unique_name(f"{builder.function.name}.part"))
    task.linkage = "internal"
    context, part, parts = task.args
    b = ir.IRBuilder(task.append_basic_block("entry"))
    slots = b.bitcast(context, I64.as_pointer())
    unpacked = [b.inttoptr(b.load(b.gep(slots, [const(k)])), p.type) for k, p in enumerate(pointers)]
    share = b.udiv(b.add(const(extent), b.sub(parts, const(1))), parts)  # ceil(extent / parts)
    share = b.mul(b.udiv(b.add(share, const(grain - 1)), const(grain)), const(grain))
    start = b.mul(part, share)
    with b.if_then(b.icmp_signed("<", start, const(extent))):
        rest = b.sub(const(extent), start)
        body(b, unpacked, start, b.select(b.icmp_signed("<", rest, share), rest, share))
    b.ret_void()

    stored = builder.alloca(ir.ArrayType(I64, len(pointers)))
    for k, p in enumerate(pointers):
        builder.store(builder.ptrtoint(p, I64), builder.gep(stored, [const(0), const(k)]))
    builder.call(parallel_function(module), [task, builder.bitcast(stored, pool.I8P)])


def parallel_function(module: ir.Module) -> ir.Function:
    """``irgrad_parallel`` declared in ``module`` (the pool started, so it links)."""
    if pool.PARALLEL not in module.globals:
        pool.ensure_started()
        ir.Function(module, ir.FunctionType(ir.VoidType(), [pool.TASK.as_pointer(), pool.I8P]), pool.PARALLEL)
    return module.globals[pool.PARALLEL]
