"""A program's usual call as generated straight-line Python: checks, slots, one native call.

:meth:`.Program.__call__` is general: any mix of native segments and numpy steps, inputs
that need a contiguous copy, inputs that may share memory.  Most calls need none of it:
every input is a contiguous array of the expected shape and dtype, the graph is one
native segment, and the call is checks, allocations, the slot array and one native
call.  For such a program this module writes that call out as Python source, every
shape, dtype and slot a constant, as the guards do (:mod:`irgrad.compiler.guards`), so a
call pays no loop, dict or helper call per buffer: on W1's inference step it takes the
Python part of a call from 8 to 4 us.  The slots are the arrays' ids, packed into
the thread's slot array (the native code reads each array's address from the object):
a ctypes view per array and a new ctypes array per call took W1's training step 3.8 us.
Whatever the generated code does not expect (an array of another class, layout or
dtype instance; inputs that may share memory with one the program writes; read-only
memory it writes) returns None, and the general path takes the call.

``print(program.fast_call_source)`` shows it.
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Callable

import numpy as np

from .layout import CONSTANT_BUFFER, INPUT_BUFFER, view_of


def fast_call(program) -> tuple[Callable | None, str]:
    """``(call(inputs, sizes) -> outputs or None, its source)`` for a program whose run is
    one native segment; ``(None, "")`` for any other."""
    from .program import Segment  # a cycle: program imports this module

    steps = program._run_steps
    if len(steps) != 1 or not isinstance(steps[0], Segment):
        return None, ""
    segment = steps[0]
    plan = program.plan
    consts: list = []

    def const(value) -> str:
        consts.append(value)
        return f"K{len(consts) - 1}"

    lines = ["def call(inputs, sizes):", f"    if len(inputs) != {len(program.graph.inputs)}: return None"]
    local: dict[int, str] = {}
    buffers = {b.position: b for b in program._input_buffers}
    written = bool(program._written_inputs)
    written_positions = set(program._written_inputs)
    for position in range(len(program.graph.inputs)):
        buffer = buffers.get(position)
        if buffer is None and not written:
            continue  # an input the program does not read
        var = f"a{position}"
        lines.append(f"    {var} = inputs[{position}]")
        # distinct arrays that own their memory cannot overlap one the program writes
        # (the general path checks the rest); the flags are read once (each read makes an object)
        owned = [f"not {var}_f.owndata"] if written else []
        if position in written_positions:  # read-only memory: the general path (which does not write it)
            owned.append(f"not {var}_f.writeable")
        if buffer is None:
            lines.append(f"    if type({var}) is not ndarray: return None")
            if owned:
                lines.append(f"    {var}_f = {var}.flags")
                lines.append(f"    if {' or '.join(owned)}: return None")
            continue
        local[buffer.id] = var
        lines.append(
            f"    if type({var}) is not ndarray or {var}.dtype is not {const(buffer.dtype)}: return None"
        )
        lines.append(f"    {var}_f = {var}.flags")
        layout = [f"{var}.shape != {const(buffer.shape)}", f"not {var}_f.c_contiguous", *owned]
        lines.append(f"    if {' or '.join(layout)}: return None")
    if written:  # (every input was read into a local above)
        n_inputs = len(program.graph.inputs)
        ids = ", ".join(f"id(a{position})" for position in range(n_inputs))
        lines.append(f"    if len({{{ids}}}) != {n_inputs}: return None")
    for buffer_id, shape, dtype in segment.allocations:
        var = local[buffer_id] = f"b{buffer_id}"
        lines.append(f"    {var} = empty({const(shape)}, {const(dtype)})")
    slots = []  # each a numpy array object, whose data the native code finds (see .dispatch)
    for buffer_id in segment.slot_buffers:
        buffer = plan.buffers[buffer_id]
        if buffer.kind == CONSTANT_BUFFER:
            slots.append(const(id(program._env[buffer_id])))  # kept alive by the program
        else:
            slots.append(f"id({local[buffer_id]})")
    count = len(segment.slot_buffers) + 1
    lines.append(f"    s = SLOTS({count})  # this thread's: (address, array, the arena's id)")
    lines.append(f"    PACK(s[1], 0, s[2], {', '.join(slots)})")
    lines.append("    if NATIVE(s[0]): return INTERPRETED(inputs, sizes)")
    outputs = []
    for place, whole in program._outputs:
        buffer = plan.buffers[place.buffer]
        if buffer.kind == CONSTANT_BUFFER:
            array = const(program._env[place.buffer])
        elif buffer.kind == INPUT_BUFFER or place.buffer in local:
            array = local[place.buffer]
        else:
            return None, ""  # an output the segment does not define: not this simple case
        whole = whole and place.shape == buffer.shape
        outputs.append(array if whole else f"view_of({array}, {const(place)})")
    lines.append(f"    return [{', '.join(outputs)}]")
    source = "\n".join(lines)
    namespace = {
        "ndarray": np.ndarray,
        "empty": np.empty,
        "view_of": view_of,
        "SLOTS": program._slots,
        "PACK": struct.Struct(f"{count}Q").pack_into,
        "NATIVE": segment.function,
        "INTERPRETED": program._interpreted,
    }
    namespace.update((f"K{i}", value) for i, value in enumerate(consts))
    exec(_code(source, program.graph.name), namespace)
    return namespace["call"], source


@functools.lru_cache(maxsize=256)
def _code(source: str, name: str):
    """``source`` compiled: every shape, address and dtype is a name (``K3``) bound by the
    namespace, so the sizes a program with run-time sizes is laid out for (see
    :meth:`.Program.at`) share the code, and a new size costs an ``exec`` of it, not a
    compile (about 0.7 ms)."""
    return compile(source, f"<irgrad call {name}>", "exec")
