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


def vector_constant(element: ir.Type, values: tuple) -> ir.Constant:
    """The vector constant of ``values``, one object per vector: llvmlite writes a
    constant's text once per object but element by element at each use of a new one
    (the broadcast kernel's splat masks and zeros took a third of the 22 ms of printing
    its module).  Keyed by each value's repr, so -0.0 is not 0.0."""
    key = (str(element), tuple(map(repr, values)))
    constant = _VECTORS.get(key)
    if constant is None:
        constant = _VECTORS[key] = ir.Constant(ir.VectorType(element, len(values)), list(values))
    return constant


_VECTORS: dict = {}


def entry_alloca(builder: ir.IRBuilder, type_: ir.Type) -> ir.Value:
    """A stack slot made at the start of the builder's function: an ``alloca`` inside a
    loop would take more stack at every iteration (a worker thread that loops forever
    would run out of it), and only entry-block slots become registers."""
    entry = builder.function.entry_basic_block
    if builder.block is entry:  # (another builder inserting here would misplace this one's next instructions)
        return builder.alloca(type_)
    at = ir.IRBuilder(entry)
    if entry.instructions:
        at.position_before(entry.instructions[0])
    return at.alloca(type_)


@contextmanager
def for_range(
    builder: ir.IRBuilder, count: ir.Value, name: str = "i", unroll: bool = True, lanes: int | None = None
) -> Iterator[ir.Value]:
    """``for i in range(count)``: the body is emitted inside the ``with``; yields ``i`` (i64).
    With ``unroll=False`` LLVM's loop unroller leaves the loop alone, with ``lanes`` its
    vectorizer widens it to that many lanes (see :func:`loop_hints`)."""
    with for_range_carrying(builder, count, [], name, unroll, lanes) as (index, _):
        yield index


@contextmanager
def for_range_carrying(
    builder: ir.IRBuilder,
    count: ir.Value,
    initial: list[ir.Value],
    name: str = "i",
    unroll: bool = True,
    lanes: int | None = None,
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
    back = builder.branch(head)
    if not unroll or lanes is not None:
        back.set_metadata("llvm.loop", loop_hints(builder.module, unroll, lanes))
    builder.position_at_end(done)
    carried[:] = phis


class _LoopID(ir.values.MDValue):
    """A loop's metadata node, which LLVM wants to name itself as its first operand:
    compared and hashed by identity (llvmlite's by-operands ones would recurse)."""

    __hash__ = object.__hash__

    def __eq__(self, other) -> bool:
        return self is other

    def __ne__(self, other) -> bool:
        return self is not other


def loop_hints(module: ir.Module, unroll: bool = False, lanes: int | None = None) -> ir.values.MDValue:
    """A new loop's ``llvm.loop`` metadata: without ``unroll``, asking LLVM's unroller to
    leave it alone; with ``lanes``, asking its vectorizer for vectors of that many.

    Unrolling: the loop vectorizer still widens and interleaves the loop; what this saves
    is the unroller copying the vector loop and its remainder again.  On a training step
    of 600 small elementwise loops (the LSTM's), unrolling them made a third of LLVM's
    time and no measurable speed.  Lanes: for loops whose trip counts are often below
    the host's full vector, whose iterations then all run in the scalar remainder."""
    hints = []
    if not unroll:
        hints.append(module.add_metadata([ir.MetaDataString(module, "llvm.loop.unroll.disable")]))
    if lanes is not None:
        width = ir.MetaDataString(module, "llvm.loop.vectorize.width")
        hints.append(module.add_metadata([width, ir.Constant(ir.IntType(32), lanes)]))
    loop_id = _LoopID(module, [], name=str(len(module.metadata)))
    loop_id.operands = (loop_id, *hints)
    return loop_id


def freeze(builder: ir.IRBuilder, value: ir.Value) -> ir.Value:
    """``freeze value``, which compiles to nothing, for an element loaded from an array
    (never poison, so it is the value itself).  A loop that stores ``select(c, x, other)``
    back where ``x`` was loaded (an in-place ``relu_`` or ``masked_fill_``, a running
    maximum kept in memory) would otherwise meet LLVM's instruction selection, which
    turns a store of a select of a load from the same address into a masked store
    (``vmaskmovps``), microcoded on AMD's cores: an in-place ``relu_`` of 1M floats took
    0.48 ms against 0.11 frozen, a compiled ``amax(0)`` of a 1000x1000 matrix 0.54 against
    0.10.  llvmlite's builder has no ``freeze``; its generic instruction prints it."""
    frozen = ir.instructions.Instruction(builder.block, value.type, "freeze", [value])
    builder._insert(frozen)
    return frozen


def mul_add(builder: ir.IRBuilder, *terms) -> ir.Value:
    """``a*b + c*d + ...`` for (a, b) pairs and single values, in i64."""
    total = None
    for term in terms:
        value = builder.mul(*term, flags=("nsw",)) if isinstance(term, tuple) else term
        total = value if total is None else builder.add(total, value, flags=("nsw",))
    return total
