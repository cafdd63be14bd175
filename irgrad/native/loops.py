"""Loop nests for kernels written with ``llvmlite.ir``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import llvmlite.ir as ir

I64 = ir.IntType(64)


def const(value: int) -> ir.Constant:
    return ir.Constant(I64, value)


@contextmanager
def for_range(builder: ir.IRBuilder, count: ir.Value, name: str = "i") -> Iterator[ir.Value]:
    """``for i in range(count)``: the body is emitted inside the ``with``; yields ``i`` (i64)."""
    entry = builder.block
    head = builder.append_basic_block(f"{name}.head")
    body = builder.append_basic_block(f"{name}.body")
    done = builder.append_basic_block(f"{name}.done")
    builder.branch(head)
    builder.position_at_end(head)
    index = builder.phi(I64, name)
    index.add_incoming(const(0), entry)
    builder.cbranch(builder.icmp_signed("<", index, count), body, done)
    builder.position_at_end(body)
    yield index
    index.add_incoming(builder.add(index, const(1), flags=("nsw",)), builder.block)
    builder.branch(head)
    builder.position_at_end(done)


def mul_add(builder: ir.IRBuilder, *terms) -> ir.Value:
    """``a*b + c*d + ...`` for (a, b) pairs and single values, in i64."""
    total = None
    for term in terms:
        value = builder.mul(*term, flags=("nsw",)) if isinstance(term, tuple) else term
        total = value if total is None else builder.add(total, value, flags=("nsw",))
    return total
