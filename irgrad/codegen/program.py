"""A static graph compiled whole: native segments around numpy steps, one call each.

:class:`Program` asks every node for its native lowering (:func:`.steps.choose`),
plans the run (:mod:`.plan`: the schedule, every value's place, the arena) and emits
each segment of consecutive native steps as one LLVM function::

    i32 segment(i8** slots)    ; slots[0]: the arena; then the segment's other buffers
                               ; (each a numpy array object: see .dispatch)

which computes every step in turn, reading views in place, and returns 0, or 1 when
a routine found bad input (a target out of range).  When the whole graph lowers,
a run is one native call; Python then only checks the inputs, allocates the outputs
and fills the slots.  A graph with a node the backend cannot lower runs that node's
numpy kernel between two segments: never an error, never a different answer.  A
status of 1 reruns the call with the interpreter, which raises the error the
eager op would; the program counts those calls (``interpreted``), so a test or
``explain()`` can tell a native answer from the interpreter's.

The arena (temporaries only native code touches) is allocated once per thread, so
two threads calling the same compiled model never share it.
"""

from __future__ import annotations

import copy
import ctypes
import hashlib
import threading
from collections.abc import Sequence

import llvmlite.ir as ir
import numpy as np

from ..ir import Graph
from ..ir.aliasing import writes_overlap
from ..ir.graph import CONSTANT, INPUT, RESULT
from ..ir.interpreter import body_kernel, compile_graph
from ..ir.printer import print_graph
from ..ir.run_time_sizes import Assumptions
from ..ir.symbolic import resolve, specialize
from ..native import jit
from ..ops import OPS
from ..ops.scalar import Unsupported
from . import program_cache
from .dispatch import Reference, StepTable, byte_offset, table_at
from .elementwise import RESERVED
from .emission import Emission, Lowering
from .fast_call import fast_call
from .layout import (
    ALIGNMENT,
    ARENA,
    CONSTANT_BUFFER,
    EXTERNAL,
    INPUT_BUFFER,
    Buffer,
    Place,
    covers_its_buffer,
    pack_arena,
    view_of,
)
from .parallel import SITES_TO_WAKE
from .plan import NativeStep, NumpyStep, Plan, Planner
from .run_time import lock_for
from .steps import choose
from .vector_emitter import separate_table_loads

_I8P = ir.PointerType(ir.IntType(8))
_SIGNATURE = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_void_p)


class Segment:
    """One compiled function: the buffers it takes in its slots (after the arena) and
    the external buffers it defines (allocated by the caller before the call).  (This
    module's records are plain classes: see :mod:`.plan`.)"""

    def __init__(
        self,
        symbol: str,
        llvm_ir: str,
        slot_buffers: list[int],
        allocations: list[tuple[int, tuple, np.dtype]],
        steps: int,
        function: object = None,
        table: list | None = None,
    ) -> None:
        self.symbol, self.llvm_ir, self.slot_buffers = symbol, llvm_ir, slot_buffers
        self.allocations, self.steps, self.function = allocations, steps, function
        self.table = table  # run-time sizes: the table (StepTable.flat) laid out for each size
        # the slot array's ctypes type, made once: making it per call creates a type
        # object (a reference cycle) at every run
        self.slots_type = ctypes.c_void_p * (len(slot_buffers) + 1)


class _Failed(Exception):
    def __init__(self, node: int, reason: str) -> None:
        super().__init__(node, reason)
        self.node, self.reason = node, reason


def _segment_symbol(digest: str, index: int) -> str:
    """The function of segment ``index`` of the program whose text has ``digest``."""
    return f"graph_{digest}_{index}"


def _native_runs(plan: Plan) -> list[list[NativeStep]]:
    """The plan's runs of consecutive native steps: one segment each."""
    runs, run = [], []
    for step in plan.steps + [None]:
        if isinstance(step, NativeStep):
            run.append(step)
        elif run:
            runs.append(run)
            run = []
    return runs


def _layout(plan: Plan, steps: list[NativeStep]) -> tuple[list[int], list[tuple]]:
    """A segment's slots (the buffers outside the arena it reads or writes, in the order
    its steps first use them) and the external buffers it defines (id, shape, dtype)."""
    slots: dict[int, None] = {}
    for step in steps:
        for place in [*step.args, step.out]:
            if plan.buffers[place.buffer].kind != ARENA:
                slots.setdefault(place.buffer)
    defined = {p.buffer for s in steps for p in [s.out, *s.later]}
    allocations = [(b.id, b.shape, b.dtype) for b in plan.buffers if b.kind == EXTERNAL and b.id in defined]
    return list(slots), allocations


class ProgramReport:
    """What lowering did: native steps, and each node left to numpy with the reason."""

    def __init__(
        self,
        native_steps: int = 0,
        segments: int = 0,
        numpy_nodes: list[str] | None = None,
        arena_bytes: int = 0,
    ) -> None:
        self.native_steps, self.segments, self.arena_bytes = native_steps, segments, arena_bytes
        self.numpy_nodes = [] if numpy_nodes is None else numpy_nodes


class Program:
    """``program(inputs) -> outputs`` for a graph whose shapes are all static.
    ``write_backs`` (output position -> input position) are the outputs the runtime
    copies into inputs: the program may write them there itself (see :mod:`.write_back`)."""

    def __init__(
        self, graph: Graph, write_backs: dict[int, int] | None = None, assumptions: Assumptions | None = None
    ) -> None:
        """``assumptions``: ``graph``'s sizes are run-time :class:`Size` objects of these
        assumptions; the program then serves every size where they hold (:meth:`at`)."""
        self.graph = graph
        self.assumptions = assumptions
        self.sizes: dict[str, int] | None = None  # the sizes a program with run-time sizes is laid out for
        self.symbols = None if assumptions is None else sorted(assumptions.hints)
        write_backs = write_backs or {}
        lowerings, reasons = _lowerings(graph)
        # printed once, without source lines (which do not change the code): it names the
        # segments and keys the disk cache, so a line moved in the script still finds them
        text = print_graph(graph, sources=False)
        # a graph with run-time sizes prints them as symbols: its programs built at other
        # sizes may differ in code, and must not share a symbol in the one JIT engine
        named = text if assumptions is None else f"{text}\nbuilt at {sorted(assumptions.hints.items())}"
        self._digest = hashlib.sha256(named.encode()).hexdigest()[:16]
        cache_key = program_cache.key(text, write_backs)
        cached = self._from_cache(program_cache.load(cache_key), lowerings, reasons, write_backs)
        if cached is not None:
            try:
                plan, self.segments = cached
                self._load_segments()
            except (RuntimeError, ValueError):  # a module that does not build: emit afresh
                cached = None
        self.from_cache = cached is not None  # emission skipped: the segments came from disk
        self.llvm_seconds, self.cache_hits = 0.0, 0  # (a program with run-time sizes: set by its builder)
        if cached is None:
            order = {nid: k for k, nid in enumerate(graph.order())}
            failed = []
            while True:
                plan = Planner(graph, lowerings, reasons, write_backs, pack=assumptions is None).build()
                try:
                    self.segments = self._emit(plan)
                    break
                except _Failed as failure:  # a lowering found more than its node shows: numpy runs it
                    del lowerings[failure.node]
                    reasons[failure.node] = failure.reason
                    failed.append([order[failure.node], failure.reason])
            self._load_segments()
            kept = program_cache.variant(self._digest, assumptions, failed, self.segments)
            program_cache.store(cache_key, kept)
        self.plan = plan
        self._fallback = None
        self.interpreted = 0  # calls a routine's status handed to the interpreter
        if assumptions is None:
            self._prepare()
        else:
            self._local = threading.local()  # each thread's arena, grown to the largest size run
            assumptions.frozen = True  # a size read from now on raises (see run_time_sizes)
            self._instances: dict[tuple, Program | None] = {}
            self.sizes_served = 0  # sizes laid out for so far (see at())
            self.report = self._report()

    def _prepare(self, new_arenas: bool = True) -> None:
        """What a call of a static program starts from (after its plan and segments);
        the sizes of a program with run-time sizes share its arenas (``new_arenas=False``)."""
        plan, graph = self.plan, self.graph
        if new_arenas:
            self._local = threading.local()
        self._run_steps = self._schedule()
        position = {nid: k for k, nid in enumerate(graph.inputs)}
        self._written_inputs = sorted(position[old] for old in plan.in_place.values())
        # what a call starts from: the constants in place, the input buffers to fill, and
        # per output whether it is its buffer's whole array (no view to make)
        self._env = [b.value if b.kind == CONSTANT_BUFFER else None for b in plan.buffers]
        self._input_buffers = [b for b in plan.buffers if b.kind == INPUT_BUFFER]
        self._outputs = [(place, covers_its_buffer(place)) for place in plan.outputs]
        self._fast, self.fast_call_source = fast_call(self)
        self.report = self._report()

    def _report(self) -> ProgramReport:
        plan, graph = self.plan, self.graph
        return ProgramReport(
            native_steps=sum(isinstance(s, NativeStep) for s in plan.steps),
            segments=len(self.segments),
            numpy_nodes=[_describe(graph, nid, why) for nid, why in plan.numpy_reasons.items()],
            arena_bytes=plan.arena_bytes,  # (0 for a program with run-time sizes: see at())
        )

    # --- run-time sizes ------------------------------------------------------------------------

    def at(self, env: dict[str, int]) -> Program | None:
        """This program with run-time sizes made a static program for the sizes ``env`` (its
        compiled code, laid out for them), or None where its assumptions do not hold."""
        key = tuple(env[name] for name in self.symbols)
        if key in self._instances:
            return self._instances[key]
        instance = None
        if self.assumptions.hold(env):
            instance = copy.copy(self)
            instance.assumptions = instance._instances = None
            instance.sizes = env  # (its graph stays the one with run-time sizes)
            instance.plan = _concrete_plan(self.plan, self.graph, env)
            offsets = {b.id: b.offset for b in instance.plan.buffers if b.kind == ARENA}
            sizes = np.array([env[name] for name in self.symbols], np.int64)
            instance.segments = [
                _concrete_segment(segment, instance.plan, env, offsets, sizes) for segment in self.segments
            ]
            instance._prepare(new_arenas=False)
            self.sizes_served += 1
        self._instances[key] = instance
        return instance

    def forget_layouts(self) -> None:
        """Drop the programs :meth:`at` laid out (memory for sizes that never repeat, as
        sequence lengths; one is laid out again in about 2.5 ms)."""
        self._instances.clear()

    def _load_segments(self) -> None:
        """Compile (or load from the disk cache) every segment's module."""
        for segment in self.segments:
            segment.function = jit.kernel(
                ("segment", segment.llvm_ir),
                lambda s=segment: jit.compile_function(s.llvm_ir, s.symbol, _SIGNATURE, reserve=RESERVED),
            )

    # --- emitting ------------------------------------------------------------------------------

    def _from_cache(self, variants: list[dict], lowerings: dict, reasons: dict, write_backs: dict):
        """(plan, segments) from the first of a cache entry's variants whose facts hold
        here (see :mod:`.program_cache`), or None: the plan is made afresh (with the nodes
        emission handed to numpy) and must lay out every segment as the variant says.
        ``lowerings`` and ``reasons`` are not changed (each variant works on copies)."""
        for variant in variants:
            try:
                facts = program_cache.decoded_facts(variant["facts"])
                if not (self.assumptions.agree(facts) if self.assumptions is not None else not facts):
                    continue
                found = self._variant(variant, dict(lowerings), dict(reasons), write_backs)
            except (KeyError, IndexError, TypeError, ValueError):
                continue
            if found is not None:
                if self.assumptions is not None:
                    self.assumptions.adopt(facts)
                return found
        return None

    def _variant(self, variant: dict, lowerings: dict, reasons: dict, write_backs: dict):
        order = self.graph.order()
        for position, reason in variant["failed"]:
            lowerings.pop(order[position], None)
            reasons[order[position]] = reason
        plan = Planner(self.graph, lowerings, reasons, write_backs, pack=self.assumptions is None).build()
        runs = _native_runs(plan)
        cached = variant["segments"]
        if len(runs) != len(cached):
            return None
        digest, segments = str(variant["digest"]), []
        for index, (steps, record) in enumerate(zip(runs, cached)):
            slots, allocations = _layout(plan, steps)
            if record["symbol"] != _segment_symbol(digest, index) or record["slot_buffers"] != slots:
                return None
            if record["allocations"] != program_cache.encoded_allocations(allocations):
                return None
            if record["steps"] != len(steps) or (record["table"] is None) != (self.assumptions is None):
                return None
            segment = Segment(record["symbol"], record["llvm_ir"], slots, allocations, len(steps))
            if record["table"] is not None:
                segment.table = program_cache.decoded_table(record["table"], self.assumptions)
            segments.append(segment)
        if not program_cache.provide_symbols([s.llvm_ir for s in segments]):
            return None
        self._digest = digest  # (a program with run-time sizes: that of the build that emitted it)
        return plan, segments

    def _symbol(self, index: int) -> str:
        return _segment_symbol(self._digest, index)

    def _emit(self, plan: Plan) -> list[Segment]:
        return [self._segment(plan, run, index) for index, run in enumerate(_native_runs(plan))]

    def _segment(self, plan: Plan, steps: list[NativeStep], index: int) -> Segment:
        symbol = self._symbol(index)
        module = jit.new_module(symbol)
        slots, allocations = _layout(plan, steps)
        table = StepTable(module, Emission(module, None), symbol, self.symbols, len(slots))
        slot_of = {buffer: k + 1 for k, buffer in enumerate(slots)}

        def reference(place: Place) -> Reference:
            buffer = plan.buffers[place.buffer]
            if buffer.kind == ARENA and self.assumptions is not None:  # packed for each size
                return Reference(0, byte_offset(place, 0), buffer.id)
            if buffer.kind == ARENA:
                return Reference(0, byte_offset(place, buffer.offset))
            return Reference(slot_of[buffer.id], byte_offset(place, 0))

        for step in steps:
            places = [*step.args, step.out]
            try:
                table.add(step.lowering, places, [reference(p) for p in places])
            except Unsupported as reason:
                raise _Failed(step.node, str(reason)) from None
        table.emit_entry(wake=sum(s.lowering.splits([*s.args, s.out]) for s in steps) >= SITES_TO_WAKE)
        separate_table_loads(module)
        segment = Segment(symbol, str(module), slots, allocations, len(steps))
        if self.assumptions is not None:
            segment.table = table.flat()
        return segment

    def _schedule(self) -> list:
        """The run: segments and numpy steps in plan order."""
        out, segments = [], iter(self.segments)
        previous_native = False
        for step in self.plan.steps:
            native = isinstance(step, NativeStep)
            if native and not previous_native:
                out.append(next(segments))
            elif not native:
                out.append(step)
            previous_native = native
        return out

    # --- running -------------------------------------------------------------------------------

    def _arena(self) -> int:
        """This thread's arena: the ``id`` of an array over its aligned bytes (a slot's
        value: see :mod:`.dispatch`), kept alive by the thread's state."""
        local = self._local
        arena = getattr(local, "arena", None)
        if arena is None or local.size < self.plan.arena_bytes:  # (a larger size of the program)
            memory = np.empty(self.plan.arena_bytes + ALIGNMENT, np.uint8)
            skip = -memory.ctypes.data % ALIGNMENT
            local.arena, local.size = memory[skip : skip + self.plan.arena_bytes], self.plan.arena_bytes
            local.slots = None  # (they named the old arena)
            return id(local.arena)
        return id(arena)

    def _slots(self, count: int) -> tuple:
        """This thread's slot array for the fast call (:mod:`.fast_call`): ``(its address,
        the array, the arena's id)``, the array filled by the call (with ``count`` slots,
        the arena's first)."""
        arena = self._arena()
        local = self._local
        slots = getattr(local, "slots", None)
        if slots is None or len(slots[1]) != count:
            array = (ctypes.c_void_p * count)()
            slots = local.slots = (ctypes.addressof(array), array, arena)
        return slots

    def __call__(self, inputs: Sequence[np.ndarray], sizes: dict | None = None) -> list[np.ndarray]:
        if self._fast is not None:
            outputs = self._fast(inputs, sizes)
            if outputs is not None:
                return outputs
        if len(inputs) != len(self.graph.inputs):
            raise TypeError(
                f"graph {self.graph.name} takes {len(self.graph.inputs)} inputs, got {len(inputs)}"
            )
        env = self._env.copy()
        checked = list(inputs)  # as the program reads them: C-contiguous arrays
        for buffer in self._input_buffers:
            array = _checked_input(self.graph.name, inputs[buffer.position], buffer)
            env[buffer.id] = checked[buffer.position] = array
        if writes_overlap(checked, self._written_inputs):
            return self._interpreted(inputs, sizes)  # an input written in place overlaps another
        if any(not checked[k].flags.writeable for k in self._written_inputs):
            return self._interpreted(inputs, sizes)  # (which raises where numpy refuses the write)
        arena = self._arena()
        for step in self._run_steps:
            if isinstance(step, Segment):
                for b, shape, dtype in step.allocations:
                    env[b] = np.empty(shape, dtype)
                slots = step.slots_type(arena, *[id(_array(env[b])) for b in step.slot_buffers])
                if step.function(slots):
                    return self._interpreted(inputs, sizes)
            elif step.later:
                results = step.kernel(*[view_of(env[p.buffer], p) for p in step.args])
                for place, result in zip([step.out, *step.later], results):
                    env[place.buffer] = _checked_result(self.graph, step, place, result)
            else:
                env[step.out.buffer] = _numpy_step(self.graph, step, env)
        return [
            env[place.buffer]
            if whole and env[place.buffer].shape == place.shape
            else view_of(env[place.buffer], place)
            for place, whole in self._outputs
        ]

    def _interpreted(self, inputs, sizes) -> list[np.ndarray]:
        """The call run by the interpreter: it raises the error a routine reported."""
        self.interpreted += 1
        if self._fallback is None:
            self._fallback = compile_graph(
                self.graph if self.sizes is None else specialize(self.graph, self.sizes)
            )
        return self._fallback(inputs, sizes)


def _array(value) -> np.ndarray:
    """``value`` as a slot takes it: a numpy array object (the native code reads its data
    pointer from the object, see :mod:`.dispatch`; anything else would be read as one)."""
    if not isinstance(value, np.ndarray):
        raise TypeError(f"compiled program: a buffer is a {type(value).__name__}, not a numpy array")
    return value


def _checked_input(name: str, array, buffer) -> np.ndarray:
    if type(array) is not np.ndarray:
        array = np.asarray(array)
    if array.shape != buffer.shape or array.dtype != buffer.dtype:
        raise RuntimeError(
            f"compiled graph {name}: input {buffer.position} is {array.dtype}{list(array.shape)}, "
            f"expected {buffer.dtype}{list(buffer.shape)}"
        )
    return array if array.flags.c_contiguous else np.ascontiguousarray(array)


def _numpy_step(graph: Graph, step: NumpyStep, env: list) -> np.ndarray:
    result = step.kernel(*[view_of(env[p.buffer], p) for p in step.args], **step.attrs)
    return _checked_result(graph, step, step.out, result)


def _checked_result(graph: Graph, step: NumpyStep, place: Place, result) -> np.ndarray:
    """A numpy step's result for ``place``, contiguous, after checking it is what its type says."""
    result = np.asarray(result)
    if result.shape != place.shape or result.dtype != place.dtype:
        node = graph.node(step.node)
        raise RuntimeError(
            f"compiled graph {graph.name}: {node.op} gave {result.dtype}{list(result.shape)}, "
            f"its type says {place.dtype}{list(place.shape)}"
        )
    return result if result.flags.c_contiguous else np.ascontiguousarray(result)


def _lowerings(graph: Graph) -> tuple[dict[int, Lowering], dict[int, str]]:
    """Each computing node's lowering, or the reason it has none."""
    lowerings, reasons = {}, {}
    for nid in graph.order():
        node = graph.node(nid)
        if node.op in (INPUT, CONSTANT, RESULT) or (node.op in OPS and OPS[node.op].view is not None):
            continue
        chosen = choose(node, [graph.node(a).type for a in graph.args(nid)])
        if isinstance(chosen, str):
            reasons[nid] = chosen
        else:
            lowerings[nid] = chosen
    return lowerings, reasons


def _describe(graph: Graph, nid: int, reason: str) -> str:
    node = graph.node(nid)
    name = node.body.name if node.body is not None else node.op
    return f"{name}: {reason}"


# --- a program with run-time sizes at one size ------------------------------------------------


def _concrete_place(place: Place, env: dict[str, int]) -> Place:
    return Place(
        place.buffer,
        resolve(place.offset, env),
        resolve(place.shape, env),
        resolve(place.strides, env),
        place.dtype,
    )


def _concrete_plan(plan: Plan, graph: Graph, env: dict[str, int]) -> Plan:
    """``plan`` (of a program with run-time sizes) at the sizes ``env``, its arena packed.
    Native steps keep their places: their code reads the sizes and offsets at run time
    (from the table), and only numpy steps and the outputs are laid out in Python."""
    at = lambda places: [_concrete_place(p, env) for p in places]  # noqa: E731
    buffers = []
    for buffer in plan.buffers:
        buffer = copy.copy(buffer)  # (its arena offset is set by pack_arena)
        buffer.shape, buffer.uses = resolve(buffer.shape, env), list(buffer.uses)
        buffers.append(buffer)
    steps = []
    for step in plan.steps:
        if isinstance(step, NumpyStep):
            node = graph.node(step.node)
            kernel = step.kernel
            if node.body is not None:
                kernel = body_kernel(specialize(node.body, env), bool(step.later))
            step = NumpyStep(
                kernel,
                resolve(step.attrs, env),
                at(step.args),
                _concrete_place(step.out, env),
                step.node,
                at(step.later),
            )
        steps.append(step)
    concrete_plan = copy.copy(plan)
    concrete_plan.steps, concrete_plan.buffers, concrete_plan.outputs = steps, buffers, at(plan.outputs)
    concrete_plan.arena_bytes = pack_arena(buffers, plan.defined)
    return concrete_plan


def _concrete_segment(segment: Segment, plan: Plan, env: dict, offsets: dict, sizes: np.ndarray) -> Segment:
    """``segment`` at the sizes ``env``: its allocations' shapes, and its table and the sizes
    as two more constant buffers of ``plan`` (the slots after its own buffers)."""
    extra = []
    for value in (table_at(segment.table, env, offsets), sizes):
        plan.buffers.append(Buffer(len(plan.buffers), CONSTANT_BUFFER, value.shape, value.dtype, value=value))
        extra.append(len(plan.buffers) - 1)
    allocations = [(b, resolve(shape, env), dtype) for b, shape, dtype in segment.allocations]
    native = segment.function
    lock = lock_for(native)

    def locked(slots) -> int:  # the sizes live in the module's globals (see .run_time)
        with lock:
            return native(slots)

    return Segment(
        segment.symbol, segment.llvm_ir, segment.slot_buffers + extra, allocations, segment.steps, locked
    )
