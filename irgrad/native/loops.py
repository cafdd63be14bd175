"""Loop nests and element types for kernels written with ``llvmlite.ir``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import llvmlite.ir as ir
import numpy as np

I64 = ir.IntType(64)
FLOATS = {np.dtype(np.float32): ir.FloatType(), np.dtype(np.float64): ir.DoubleType()}


def const(value: int) -> ir.Constant:
    return ir.Constant(I64, value)


@contextmanager
def for_range(builder: ir.IRBuilder, count: ir.Value, name: str = "i") -> Iterator[ir.Value]:
    """``for i in range(count)``: the body is emitted inside the ``with``; yields ``i`` (i64)."""
    with for_range_carrying(builder, count, [], name) as (index, _):
        yield index


@contextmanager
def for_range_carrying(
    builder: ir.IRBuilder, count: ir.Value, initial: list[ir.Value], name: str = "i"
) -> Iterator[tuple[ir.Value, list[ir.Value]]]:
    """``for i in range(count)`` with loop-carried values (a running sum or maximum).

    Yields ``(i, carried)``: ``carried`` holds the values at the start of the
    iteration, and the body replaces its entries with the next iteration's values.
    After the ``with`` it holds the values the loop ends with (``initial`` if it runs
    no iteration).
    """
    entry = builder.block
    head = builder.append_basic_block(f"{name}.head")
    body = builder.append_basic_block(f"{name}.body")
    done = builder.append_basic_block(f"{name}.done")
    builder.branch(head)
    builder.position_at_end(head)
    index = builder.phi(I64, name)
    index.add_incoming(const(0), entry)
    phis = []
    for value in initial:
        phi = builder.phi(value.type)
        phi.add_incoming(value, entry)
        phis.append(phi)
    builder.cbranch(builder.icmp_signed("<", index, count), body, done)
    builder.position_at_end(body)
    carried = list(phis)
    yield index, carried
    latch = builder.block
    index.add_incoming(builder.add(index, const(1), flags=("nsw",)), latch)
    for phi, value in zip(phis, carried):
        phi.add_incoming(value, latch)
    builder.branch(head)
    builder.position_at_end(done)
    carried[:] = phis


def mul_add(builder: ir.IRBuilder, *terms) -> ir.Value:
    """``a*b + c*d + ...`` for (a, b) pairs and single values, in i64."""
    total = None
    for term in terms:
        value = builder.mul(*term, flags=("nsw",)) if isinstance(term, tuple) else term
        total = value if total is None else builder.add(total, value, flags=("nsw",))
    return total
