"""A segment's entry function as a loop over a table of distinct step functions.

Each native step is emitted into a function of its own, ``i64 step(i8** operands)``,
which reads its operand pointers from an array and returns its status.  Steps whose
code is the same (an LSTM's time steps, a network's repeated blocks, a gradient and
its twin) share one function, recognized by the text of its body.  The entry function
``i32 segment(i8** slots)`` then walks a constant table with a row per step: which
function, and for each operand the slot holding its buffer and the byte offset into it
(slot 0 is the arena).  A slot holds the numpy array object (``id(array)``), whose
first element's address the entry function reads from it (see
:data:`irgrad.native.jit.ARRAY_DATA_OFFSET`): a call fills its slots with ``id(array)``.

A program with run-time sizes (:mod:`.run_time`) cannot know its offsets, nor where
its arena buffers lie, before a call: its table is then an argument (the slot after
the segment's buffers, then the sizes), which the caller fills for each size
(:func:`table_at`).

So the code LLVM compiles grows with the number of *distinct* steps, not with the
number of steps: a 32-step LSTM compiles about as fast as a 4-step one.  Dispatching a
step costs a table read and a call, nanoseconds beside its work.
"""

from __future__ import annotations

from typing import NamedTuple

import llvmlite.ir as ir
import numpy as np

from ..ir.run_time_sizes import Size
from ..ir.symbolic import resolve
from ..native import jit
from ..ops.scalar import Unsupported
from .emission import OK_STATUS, Emission, Lowering, Operand
from .layout import Place
from .parallel import wake_workers
from .run_time import store_sizes
from .scalars import storage_type

I32, I64 = ir.IntType(32), ir.IntType(64)
_I8P = ir.PointerType(ir.IntType(8))
_STEP = ir.FunctionType(I64, [ir.PointerType(_I8P)])


def array_data(builder: ir.IRBuilder, array: ir.Value) -> ir.Value:
    """The address of the first element of the numpy array object ``array`` (an i8*)."""
    if jit.ARRAY_DATA_OFFSET is None:
        raise Unsupported("numpy arrays are laid out otherwise than native code reads them")
    field = builder.gep(array, [ir.Constant(I64, jit.ARRAY_DATA_OFFSET)])
    return builder.load(builder.bitcast(field, ir.PointerType(_I8P)))


class Reference(NamedTuple):
    """Where an operand's first element is at run time: ``slots[slot] + offset`` bytes,
    plus, for a program with run-time sizes, the offset of arena buffer ``arena_buffer``
    (packed for each size)."""

    slot: int
    offset: int | Size
    arena_buffer: int | None = None


class StepTable:
    """The distinct step functions of one segment, and the row of each step.  A plain
    class: see :mod:`.plan`."""

    def __init__(
        self,
        module: ir.Module,
        emission: Emission,
        symbol: str,
        symbols: list[str] | None = None,
        slot_count: int = 0,
    ) -> None:
        self.module, self.emission, self.symbol = module, emission, symbol
        self.symbols = symbols  # run-time sizes: the table and the sizes are arguments
        self.slot_count = slot_count  # the segment's buffers: they come after the arena, before the table
        self.functions: list[ir.Function] = []
        self.rows: list[tuple[int, list[Reference]]] = []
        self._by_body: dict[str, int] = {}
        self._by_signature: dict[tuple, int] = {}
        self._attempts = 0

    def add(self, lowering: Lowering, places: list[Place], references: list[Reference]) -> None:
        """Emit the step computing ``places[-1]`` from ``places[:-1]`` (found at
        ``references``), reusing an identical step function when there is one."""
        signature = lowering.signature(places)
        known = self._by_signature.get(signature) if signature is not None else None
        if known is not None:
            self.rows.append((known, references))
            return
        fn = ir.Function(self.module, _STEP, f"{self.symbol}.step{self._attempts}")
        self._attempts += 1
        fn.linkage = "internal"
        builder = ir.IRBuilder(fn.append_basic_block("entry"))
        operands = []
        for k, place in enumerate(places):
            raw = builder.load(builder.gep(fn.args[0], [ir.Constant(I64, k)]))
            operands.append(Operand(builder.bitcast(raw, ir.PointerType(storage_type(place.dtype))), place))
        self.emission.builder = builder
        status = lowering.emit(self.emission, operands[:-1], operands[-1])
        if status is not None and not lowering.may_fail:
            raise RuntimeError(f"{type(lowering).__name__} returns a status: it must say may_fail")
        if status is None:
            status = ir.Constant(I64, OK_STATUS)
        elif status.type != I64:
            status = builder.sext(status, I64)
        builder.ret(status)
        lines: list[str] = []
        fn.descr_body(lines)  # the body alone: the header names the function (and is slow to format)
        body = "".join(lines)
        index = self._by_body.get(body)
        if index is None:
            index = self._by_body[body] = len(self.functions)
            self.functions.append(fn)
        else:
            del self.module.globals[fn.name]
        if signature is not None:
            self._by_signature[signature] = index
        self.rows.append((index, references))

    def emit_entry(self, wake: bool = False) -> ir.Function:
        """``i32 segment(i8** slots)``: every row's function on its operands in turn; 1 as
        soon as one returns a status other than ``OK_STATUS``, else 0.  A row of the table
        is ``function, operands, (slot, offset) per operand``.  With ``wake``, the
        thread pool's workers are woken first (see :data:`.parallel.SITES_TO_WAKE`)."""
        flat = self.flat()
        fn = ir.Function(self.module, ir.FunctionType(I32, [ir.PointerType(_I8P)]), self.symbol)
        slots = fn.args[0]
        entry = fn.append_basic_block("entry")
        head, body, fill, called, done = (
            fn.append_basic_block(n) for n in ("head", "body", "fill", "call", "done")
        )
        builder = ir.IRBuilder(entry)
        if self.symbols is None:
            array = ir.ArrayType(I64, len(flat))
            table = ir.GlobalVariable(self.module, array, f"{self.symbol}.table")
            table.linkage = "internal"
            table.global_constant = True
            # formatted at once: an ir.Constant per element costs seconds on a long program
            table.initializer = ir.FormattedConstant(array, "[" + ", ".join(f"i64 {v}" for v in flat) + "]")
            indices = [ir.Constant(I64, 0)]
        else:

            def argument(slot: int) -> ir.Value:
                array = builder.load(builder.gep(slots, [ir.Constant(I64, slot)]))
                return builder.bitcast(array_data(builder, array), I64.as_pointer())

            store_sizes(builder, argument(self.slot_count + 2), self.symbols)
            table = argument(self.slot_count + 1)
            indices = []
        if wake:
            wake_workers(builder)
        most = max((len(refs) for _, refs in self.rows), default=0)
        operands = builder.alloca(_I8P, size=max(most, 1), name="operands")
        builder.branch(head)

        def load(position: ir.Value) -> ir.Value:
            return builder.load(builder.gep(table, [*indices, position]))

        builder.position_at_end(head)  # at: the row's first field
        at = builder.phi(I64, name="at")
        at.add_incoming(ir.Constant(I64, 0), entry)
        builder.cbranch(builder.icmp_signed("<", at, ir.Constant(I64, len(flat))), body, done)

        builder.position_at_end(body)
        count = load(builder.add(at, ir.Constant(I64, 1)))
        builder.branch(fill)

        builder.position_at_end(fill)  # operands[k] = slots[slot] + offset, k < count
        k = builder.phi(I64, name="k")
        k.add_incoming(ir.Constant(I64, 0), body)
        more = fn.append_basic_block("operand")
        builder.cbranch(builder.icmp_signed("<", k, count), more, called)
        builder.position_at_end(more)
        field = builder.add(at, builder.add(ir.Constant(I64, 2), builder.shl(k, ir.Constant(I64, 1))))
        base = array_data(builder, builder.load(builder.gep(slots, [load(field)])))
        pointer = builder.gep(base, [load(builder.add(field, ir.Constant(I64, 1)))])
        builder.store(pointer, builder.gep(operands, [k]))
        k.add_incoming(builder.add(k, ir.Constant(I64, 1)), more)
        builder.branch(fill)

        builder.position_at_end(called)
        merge = fn.append_basic_block("called")
        unknown = fn.append_basic_block("unknown")
        switch = builder.switch(builder.trunc(load(at), I32), unknown)
        statuses = []
        for index, function in enumerate(self.functions):
            case = fn.append_basic_block(f"case{index}")
            switch.add_case(ir.Constant(I32, index), case)
            builder.position_at_end(case)
            statuses.append((builder.call(function, [operands]), case))
            builder.branch(merge)
        builder.position_at_end(unknown)
        builder.unreachable()

        builder.position_at_end(merge)
        status = builder.phi(I64, name="status")
        for value, block in statuses:
            status.add_incoming(value, block)
        failed, carry_on = fn.append_basic_block("failed"), fn.append_basic_block("next")
        builder.cbranch(builder.icmp_signed("!=", status, ir.Constant(I64, OK_STATUS)), failed, carry_on)
        builder.position_at_end(failed)
        builder.ret(ir.Constant(I32, 1))
        builder.position_at_end(carry_on)
        step = builder.add(ir.Constant(I64, 2), builder.shl(count, ir.Constant(I64, 1)))
        at.add_incoming(builder.add(at, step), carry_on)
        builder.branch(head)

        builder.position_at_end(done)
        builder.ret(ir.Constant(I32, 0))
        return fn

    def flat(self) -> list:
        """The table: per row its function, its operand count, and per operand its slot and
        offset (an int, or for run-time sizes a Size or an arena reference)."""
        flat: list = []
        for index, references in self.rows:
            flat += [index, len(references)]
            for ref in references:
                offset = ref.offset if ref.arena_buffer is None else (ref.arena_buffer, ref.offset)
                flat += [ref.slot, offset]
        return flat


def byte_offset(place: Place, buffer_offset: int) -> int:
    """The byte offset of ``place``'s first element in a buffer that starts ``buffer_offset``
    bytes into its slot (an arena buffer's offset; 0 for the others)."""
    return buffer_offset + place.offset * np.dtype(place.dtype).itemsize


def table_at(flat: list, env: dict[str, int], arena_offsets: dict[int, int]) -> np.ndarray:
    """The table (:meth:`StepTable.flat`) of a program with run-time sizes, at the sizes
    ``env`` with its arena buffers at ``arena_offsets``."""
    values = []
    for value in flat:
        if isinstance(value, tuple):
            buffer, offset = value
            value = arena_offsets[buffer] + resolve(offset, env)
        values.append(resolve(value, env))
    return np.array(values, np.int64)
