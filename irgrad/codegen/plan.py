"""Planning a static graph's run: a schedule of native segments and numpy steps, and
every value's place.

The schedule is a topological order that keeps native nodes together: a node left to
numpy (a random draw, a check of the targets, an op without a lowering) runs as soon
as its arguments exist, so it splits the native code as little as it can.  Nodes with
effects keep their order among themselves (random draws draw in program order).
Consecutive native steps form one *segment*, compiled as one function.
"""

from __future__ import annotations

import heapq

import numpy as np

from ..ir.graph import CONSTANT, INPUT, RESULT, Graph, Node
from ..ir.interpreter import body_kernel
from ..ops import OPS
from ..passes.dce import effectful
from .layout import ARENA, CONSTANT_BUFFER, EXTERNAL, INPUT_BUFFER, Buffer, Place, pack_arena
from .steps import AnchoredLowering, Lowering, copy_lowering
from .write_back import candidates, ordering, written_in_place

# The records below are plain classes, not dataclasses: a dataclass execs its generated
# methods when the module is imported (about 0.5 ms each), and every llvm build, one whose
# program comes from the disk cache included, imports this module.


class NativeStep:
    """One native lowering: its arguments' places and its result's (a loop with several
    results takes the later ones among its arguments, and lists them in ``later``)."""

    def __init__(
        self, lowering: Lowering, args: list[Place], out: Place, node: int, later: list[Place] | None = None
    ) -> None:
        self.lowering, self.args, self.out = lowering, args, out
        self.node = node  # the graph node it computes, or whose argument it copies
        self.later = [] if later is None else later


class NumpyStep:
    """One node run by its numpy kernel (``kernel(*args, **attrs)``); a fused group with
    several results returns them all, the later ones going to ``later``."""

    def __init__(
        self,
        kernel: object,
        attrs: dict,
        args: list[Place],
        out: Place,
        node: int,
        later: list[Place] | None = None,
    ) -> None:
        self.kernel, self.attrs, self.args, self.out, self.node = kernel, attrs, args, out, node
        self.later = [] if later is None else later


class Plan:
    """A graph's run: steps in order, the buffers, the places of its outputs, the
    arena's size and why each node left to numpy is."""

    def __init__(self, numpy_reasons: dict[int, str] | None = None) -> None:
        self.steps: list = []
        self.buffers: list[Buffer] = []
        self.outputs: list[Place] = []
        self.arena_bytes = 0
        self.numpy_reasons: dict[int, str] = {} if numpy_reasons is None else numpy_reasons
        self.in_place: dict[int, int] = {}  # node -> the input it writes into
        self.defined: dict[int, int] = {}  # arena buffer -> the step defining it


def _dtype(node: Node) -> np.dtype:
    return np.dtype(node.type.dtype.np)


def schedule(graph: Graph, native: set[int], first: dict[int, set[int]] | None = None) -> list[int]:
    """A topological order running each kind (native, numpy) for as long as it can
    before switching to the other: inputs and constants first, views when nothing of
    the current kind is ready, effectful nodes in their original order, and every node
    of ``first[n]`` before ``n`` (the readers of an input ``n`` overwrites).

    The nodes that overwrite an input (the keys of ``first``) wait until nothing else is
    ready: a step that may fail and send the call to the interpreter (an embedding's
    gradient checks its indices) then runs before them, and they can write in place
    (see write_back)."""
    original = {nid: k for k, nid in enumerate(graph.order())}
    waiting = {nid: len(graph.nx._pred[nid]) for nid in original}
    then: dict[int, list[int]] = {}  # node -> the nodes waiting for it besides its users
    for late, early in (first or {}).items():
        for nid in early:
            then.setdefault(nid, []).append(late)
            waiting[late] += 1
    after: dict[int, int] = {}  # effectful node -> the effectful node following it
    previous = None
    for nid in original:
        if effectful(graph.node(nid)):
            if previous is not None:
                after[previous] = nid
                waiting[nid] += 1
            previous = nid

    def kind(nid: int) -> str:
        node = graph.node(nid)
        if node.op in (INPUT, CONSTANT, RESULT):
            return "source"
        if node.op in OPS and OPS[node.op].view is not None:
            return "view"  # no step, unless it needs a copy: when nothing of the current kind is ready
        if nid in native:
            return "overwrite" if nid in (first or {}) else "native"
        return "numpy"

    ready = {"source": [], "view": [], "native": [], "numpy": [], "overwrite": []}
    for nid, count in waiting.items():
        if count == 0:
            heapq.heappush(ready[kind(nid)], (original[nid], nid))
    order, current = [], "numpy"
    while any(ready.values()):
        if ready["source"]:
            source = "source"
        elif ready[current]:
            source = current
        elif ready["view"]:
            source = "view"
        elif ready["native" if current == "numpy" else "numpy"]:
            current = source = "native" if current == "numpy" else "numpy"
        else:
            current, source = "native", "overwrite"
        _, nid = heapq.heappop(ready[source])
        order.append(nid)
        for m in [*graph.nx._succ[nid], *([after[nid]] if nid in after else []), *then.get(nid, ())]:
            waiting[m] -= 1
            if waiting[m] == 0:
                heapq.heappush(ready[kind(m)], (original[m], m))
    if len(order) != len(original):
        raise RuntimeError(f"schedule of graph {graph.name}: the ordering constraints form a cycle")
    return order


class Planner:
    """Builds a :class:`Plan` for ``graph`` given each native node's lowering."""

    def __init__(
        self,
        graph: Graph,
        lowerings: dict[int, Lowering],
        reasons: dict[int, str],
        write_backs: dict[int, int] | None = None,
        pack: bool = True,
    ) -> None:
        """``pack``: give arena buffers their offsets now (a program with run-time sizes
        packs its arena for each size instead, see :meth:`.Program.at`)."""
        self.graph = graph
        self.pack = pack
        self.write_backs = write_backs or {}
        self.lowerings = lowerings
        self.plan = Plan(numpy_reasons=dict(reasons))
        self.places: dict[int, Place] = {}
        self.defined: dict[int, int] = {}

    def _buffer(self, kind: str, shape: tuple, dtype: np.dtype, **where) -> Place:
        buffer = Buffer(len(self.plan.buffers), kind, tuple(shape), np.dtype(dtype), **where)
        self.plan.buffers.append(buffer)
        return buffer.place()

    def _constant(self, value: np.ndarray) -> Place:
        value = (
            value if value.flags.c_contiguous else value.copy(order="C")
        )  # (ascontiguousarray makes 0-d 1-d)
        return self._buffer(CONSTANT_BUFFER, value.shape, value.dtype, value=value)

    def _new_value(self, shape: tuple, dtype: np.dtype) -> Place:
        place = self._buffer(ARENA, shape, dtype)
        self.defined[place.buffer] = len(self.plan.steps)
        return place

    def _native(
        self, lowering: Lowering, args: list[Place], out: Place, node: int, later: list[Place] = ()
    ) -> None:
        needs = lowering.contiguous_args(args)
        args = [self._contiguous(a, node) if need and not a.contiguous else a for a, need in zip(args, needs)]
        args += later
        args += [self._new_value(shape, dtype) for shape, dtype in lowering.scratch(args)]
        self._read(args)
        self.plan.steps.append(NativeStep(lowering, args, out, node, list(later)))

    def _contiguous(self, place: Place, node: int) -> Place:
        """A contiguous copy of ``place`` (an explicit copy step, for ``node``)."""
        copy = self._new_value(place.shape, place.dtype)
        self._native(copy_lowering(place, f"b{place.buffer}"), [place], copy, node)
        return copy

    def _read(self, args: list[Place]) -> None:
        for a in args:
            self.plan.buffers[a.buffer].uses.append(len(self.plan.steps))

    def build(self) -> Plan:
        graph, plan = self.graph, self.plan
        live = _live(graph)
        input_position = {nid: k for k, nid in enumerate(graph.inputs)}
        found = candidates(graph, self.lowerings, self.write_backs)
        order = schedule(graph, set(self.lowerings), ordering(graph, found))
        plan.in_place = written_in_place(graph, order, self.lowerings, found)
        for nid in order:
            node = graph.node(nid)
            if node.op == INPUT:  # placed even when nothing reads it: a write-back may target it
                self.places[nid] = self._buffer(
                    INPUT_BUFFER, node.type.shape, _dtype(node), position=input_position[nid]
                )
                continue
            if nid not in live:
                continue
            if node.op == CONSTANT:
                self.places[nid] = self._constant(node.value)
                continue
            if node.op == RESULT:  # placed by its group's step
                continue
            args = [self.places[a] for a in graph.args(nid)]
            op = OPS.get(node.op)
            if self._copy_of_temporary(node):
                self.places[nid] = args[0]
            elif op is not None and op.view is not None:
                self.places[nid] = self._view(node, op, args[0])
            elif nid in self.lowerings:
                self.places[nid] = self._lowered(node, self.lowerings[nid], args)
            else:
                out = self.places[nid] = self._new_value(node.type.shape, _dtype(node))
                later = self._later_results(nid)
                self._read(args)
                kernel = op.eval if op is not None else body_kernel(node.body, bool(later))
                plan.steps.append(NumpyStep(kernel, node.attrs, args, out, nid, later))
        plan.outputs = [self.places[o] for o in graph.outputs]
        self._externals()
        plan.defined = self.defined
        if self.pack:
            plan.arena_bytes = pack_arena(plan.buffers, self.defined)
        return plan

    def _copy_of_temporary(self, node: Node) -> bool:
        """A ``copy`` of a value a native step wrote into its own buffer, which nothing
        else reads: that buffer is already the fresh copy (a gradient handed to
        ``.grad`` is such a copy of the backward's result)."""
        if node.op != "copy":
            return False
        (source,) = self.graph.args(node.id)
        written = self.graph.args(source)[0] if self.graph.node(source).op == RESULT else source
        return (
            written in self.lowerings
            and source not in self.graph.outputs
            and self.graph.users(source) == [node.id]
            and self.places[source].contiguous
        )

    def _view(self, node: Node, op, source: Place) -> Place:
        layout = op.view(source.shape, source.strides, **node.attrs)
        if layout is None:  # numpy would copy: read a contiguous copy instead
            source = self._contiguous(source, node.id)
            layout = op.view(source.shape, source.strides, **node.attrs)
        offset, strides = layout
        return source.view(offset, tuple(node.type.shape), strides)

    def _lowered(self, node: Node, lowering: Lowering, args: list[Place]) -> Place:
        if isinstance(lowering, AnchoredLowering):
            shape, dtype = lowering.anchor_type
            temporary = self._new_value(shape, dtype)
            anchor_args = [args[s] if isinstance(s, int) else self._constant(s) for s in lowering.sources]
            self._native(lowering.anchor, anchor_args, temporary, node.id)
            out = self._new_value(node.type.shape, _dtype(node))
            self._native(lowering.epilogue, args + [temporary], out, node.id)
            return out
        out = self._result_place(node.id)
        self._native(lowering, args, out, node.id, self._later_results(node.id))
        return out

    def _result_place(self, nid: int) -> Place:
        """A new value's place: the input it updates when written in place (see write_back)."""
        if nid in self.plan.in_place:
            return self.places[self.plan.in_place[nid]]
        node = self.graph.node(nid)
        return self._new_value(node.type.shape, _dtype(node))

    def _later_results(self, nid: int) -> list[Place]:
        """The places of a fused group's results after its first (its ``result`` nodes')."""
        node = self.graph.node(nid)
        if node.body is None or len(node.body.outputs) == 1:
            return []
        results = [r for r in self.graph.users(nid) if self.graph.node(r).op == RESULT]
        by_index = {self.graph.node(r).attrs["index"]: r for r in results}
        later = []
        for k in range(1, len(node.body.outputs)):
            r = by_index.get(k)
            if r is None:
                out = node.body.node(node.body.outputs[k])
                later.append(self._new_value(out.type.shape, _dtype(out)))  # written, never read
            else:
                self.places[r] = self._result_place(r)
                later.append(self.places[r])
        return later

    def _externals(self) -> None:
        """Buffers a caller or a numpy step sees are allocated per call, not in the arena."""
        buffers = self.plan.buffers
        for place in self.plan.outputs:
            _make_external(buffers[place.buffer])
        for step in self.plan.steps:
            if isinstance(step, NumpyStep):
                for place in [*step.args, step.out, *step.later]:
                    _make_external(buffers[place.buffer])


def _live(graph: Graph) -> set[int]:
    """The nodes an output or an effectful node needs (the rest need not run)."""
    roots = [n for n in graph.order() if effectful(graph.node(n))]
    live: set[int] = set()
    stack = list(graph.outputs) + roots
    while stack:
        nid = stack.pop()
        if nid not in live:
            live.add(nid)
            stack.extend(graph.args(nid))
    return live


def _make_external(buffer: Buffer) -> None:
    if buffer.kind == ARENA:
        buffer.kind = EXTERNAL
