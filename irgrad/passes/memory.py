"""Memory planning: assign every computed value a buffer of a reusable arena.

``plan_memory(g)`` returns a copy of ``g`` whose attribute ``memory_plan`` is a
:class:`MemoryPlan` for the schedule ``g.order()`` (step ``s`` runs ``g.order()[s]``).

* Values that own memory are the results of op nodes other than views.  Graph inputs
  are owned by the caller and constants by the graph: neither is ever planned, written
  or reused.
* ``reshape``, ``permute``, ``broadcast_to`` and ``slice`` results are views (numpy
  returns views for them), so they get no buffer of their own: they alias the memory of
  the value they view (followed through chains of views).  That owner's buffer stays
  live as long as its longest-lived view.
* Liveness: an owner is live from the step defining it to the last step using it or
  any of its views; graph outputs (and owners they view) live to the end (step
  ``len(order)``).
* Buffers: at each step, buffers whose contents died at an earlier step are free.  A
  value takes a free buffer of exactly its byte size if there is one, else the smallest
  larger free buffer (best fit), else a new buffer; ties go to the lowest buffer id.
* In place: an elementwise op (or a fused node whose body is elementwise along that
  argument) writes into an argument's buffer when that argument owns its buffer, dies
  at this op (including its views), has the result's shape and dtype, and no other
  argument reads the same buffer through a view.  Each output element then depends
  only on the same element of that argument, so a streaming kernel can overwrite it.

Guarantees: two values whose live ranges overlap never share a buffer, except an
in-place result and the argument it overwrites, which meet at exactly one step; and
``peak_bytes <= arena_bytes <= total_bytes``.  Only static shapes can be planned.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from ..ir.graph import FUSED, INPUT, Graph, TensorType
from ..ir.printer import format_type
from ..ops import OPS, Kind
from .fusion import all_args

# Ops whose output is a view of their first argument (their registry entry has a view rule).
VIEW_OPS = frozenset(name for name, op in OPS.items() if op.view is not None)


@dataclass(frozen=True)
class MemoryPlan:
    """Where each value lives.  Node ids are those of the planned graph.

    ``buffer_of`` maps every value stored in the arena (owners and views of them) to a
    buffer id; inputs, constants and views of them are absent.  ``buffer_sizes[b]`` is
    buffer ``b``'s size in bytes.  ``in_place`` maps a node to the argument whose buffer
    it overwrites.  ``views`` maps each view to the value whose memory it aliases (an
    owner, input or constant).  ``live`` maps each owner to its (first, last) step.
    ``peak_bytes`` is the most bytes live at one step, ``arena_bytes`` the sum of the
    buffer sizes, ``total_bytes`` what the owners would need without any reuse.
    """

    order: tuple[int, ...]
    buffer_of: Mapping[int, int]
    buffer_sizes: tuple[int, ...]
    in_place: Mapping[int, int]
    views: Mapping[int, int]
    live: Mapping[int, tuple[int, int]]
    peak_bytes: int
    arena_bytes: int
    total_bytes: int
    labels: Mapping[int, str]

    def describe(self) -> str:
        """A readable dump: the totals, then one line a value in schedule order."""
        lines = [
            f"memory plan: {len(self.buffer_sizes)} buffers, arena {self.arena_bytes} B, "
            f"peak live {self.peak_bytes} B, {self.total_bytes} B without reuse",
            "  buffers: " + (", ".join(f"b{b}={n} B" for b, n in enumerate(self.buffer_sizes)) or "none"),
        ]
        width = max((len(v) for v in self.labels.values()), default=0)
        for nid in self.order:
            label = self.labels[nid].ljust(width)
            if nid in self.views:
                where = f"b{self.buffer_of[nid]}" if nid in self.buffer_of else "not planned"
                lines.append(f"  {label}  {where}, view of {self._name(self.views[nid])}")
            elif nid in self.buffer_of:
                first, last = self.live[nid]
                note = f", in place of {self._name(self.in_place[nid])}" if nid in self.in_place else ""
                lines.append(f"  {label}  b{self.buffer_of[nid]}, live [{first}, {last}]{note}")
            else:
                lines.append(f"  {label}  not planned (caller- or graph-owned)")
        return "\n".join(lines)

    def _name(self, nid: int) -> str:
        return self.labels[nid].split(" = ")[0]


def plan_memory(g: Graph) -> Graph:
    """A copy of ``g`` carrying ``memory_plan``: a :class:`MemoryPlan` for ``g.order()``."""
    out = g.copy()
    out.memory_plan = _Planner(out).plan()
    return out


def nbytes(t: TensorType) -> int:
    """The bytes a contiguous value of type ``t`` needs."""
    if not t.is_static:
        raise ValueError(f"plan_memory: cannot plan a value of symbolic shape {t.shape}")
    return t.numel() * t.dtype.itemsize


class _Planner:
    def __init__(self, g: Graph) -> None:
        self.g = g
        self.order = g.order()
        self.step = {nid: s for s, nid in enumerate(self.order)}
        self.end_of_schedule = len(self.order)
        self.args = all_args(g)
        self.users = {nid: g.users(nid) for nid in self.order}
        self.views: dict[int, int] = {}
        for nid in self.order:
            if g.node(nid).op in VIEW_OPS:
                arg = self.args[nid][0]
                self.views[nid] = self.views.get(arg, arg)
        self.owners = [nid for nid in self.order if g.node(nid).is_op and nid not in self.views]
        self.last = self._last_steps()

    def _last_steps(self) -> dict[int, int]:
        """The last step at which each owner's memory is read (through itself or a view)."""
        outputs = set(self.g.outputs)
        last = {nid: self.step[nid] for nid in self.owners}
        for nid in self.order:
            root = self.views.get(nid, nid)
            if root not in last:
                continue
            uses = [self.step[u] for u in self.users[nid]]
            if nid in outputs:
                uses.append(self.end_of_schedule)
            last[root] = max([last[root], *uses])
        return last

    def plan(self) -> MemoryPlan:
        g = self.g
        buffer_of: dict[int, int] = {}
        sizes: list[int] = []
        in_place: dict[int, int] = {}
        overwritten: set[int] = set()  # owners whose buffer passed to an in-place result
        free: list[int] = []  # buffer ids
        dying: dict[int, list[int]] = {}  # step -> owners whose buffer frees after it
        for s, nid in enumerate(self.order):
            for owner in dying.pop(s - 1, []):
                if owner not in overwritten:
                    free.append(buffer_of[owner])
            if nid in self.views:
                root = self.views[nid]
                if root in buffer_of:
                    buffer_of[nid] = buffer_of[root]
                continue
            if not g.node(nid).is_op:
                continue
            need = nbytes(g.node(nid).type)
            target = self._in_place_target(nid, s, buffer_of)
            if target is not None:
                in_place[nid] = target
                overwritten.add(target)
                bid = buffer_of[target]
            else:
                bid = _best_fit(free, sizes, need)
                if bid is None:
                    bid = len(sizes)
                    sizes.append(need)
                else:
                    free.remove(bid)
            buffer_of[nid] = bid
            dying.setdefault(self.last[nid], []).append(nid)

        live = {nid: (self.step[nid], self.last[nid]) for nid in self.owners}
        return MemoryPlan(
            order=tuple(self.order),
            buffer_of=MappingProxyType(buffer_of),
            buffer_sizes=tuple(sizes),
            in_place=MappingProxyType(in_place),
            views=MappingProxyType(dict(self.views)),
            live=MappingProxyType(live),
            peak_bytes=self._peak(in_place),
            arena_bytes=sum(sizes),
            total_bytes=sum(nbytes(g.node(nid).type) for nid in self.owners),
            labels=MappingProxyType(self._labels()),
        )

    def _in_place_target(self, nid: int, s: int, buffer_of: dict[int, int]) -> int | None:
        """The first argument ``nid`` may overwrite (see the module doc), or None."""
        node = self.g.node(nid)
        args = self.args[nid]
        for pos, a in enumerate(args):
            if (
                a in self.views
                or a not in buffer_of
                or self.last[a] != s
                or self.g.node(a).type != node.type
                or not _streams_along(node, pos)
            ):
                continue
            if all(b == a or buffer_of.get(b) != buffer_of[a] for b in args):
                return a
        return None

    def _peak(self, in_place: dict[int, int]) -> int:
        """The most bytes live at one step; an in-place result shares its argument's bytes."""
        delta = [0] * (self.end_of_schedule + 2)
        overwritten = set(in_place.values())
        for nid in self.owners:
            size = nbytes(self.g.node(nid).type)
            if nid not in in_place:
                delta[self.step[nid]] += size
            if nid not in overwritten:
                delta[self.last[nid] + 1] -= size
        peak = current = 0
        for d in delta:
            current += d
            peak = max(peak, current)
        return peak

    def _labels(self) -> dict[int, str]:
        """``%name = op: type`` per node, numbered as the printer numbers them."""
        labels = {}
        counter = 0
        for nid in self.order:
            node = self.g.node(nid)
            if node.op == INPUT:
                labels[nid] = f"%{node.name} = {node.role}: {format_type(node.type)}"
            else:
                labels[nid] = f"%{counter} = {node.op}: {format_type(node.type)}"
                counter += 1
        return labels


def _streams_along(node, pos: int) -> bool:
    """Whether each element of ``node``'s result depends only on the same element of
    argument ``pos`` (so the result may overwrite that argument while streaming)."""
    if node.op == FUSED:
        import networkx as nx  # (imported on first use: see irgrad.ir.graph.dataflow_graph)

        body = node.body
        reached = nx.descendants(body.nx, body.inputs[pos])
        return all(body.node(n).op in OPS and OPS[body.node(n).op].kind is Kind.ELEMENTWISE for n in reached)
    op = OPS.get(node.op)
    return op is not None and op.kind is Kind.ELEMENTWISE


def _best_fit(free: list[int], sizes: list[int], need: int) -> int | None:
    """A free buffer of exactly ``need`` bytes, else the smallest larger one (lowest id on ties)."""
    fitting = [b for b in free if sizes[b] >= need]
    return min(fitting, key=lambda b: (sizes[b], b)) if fitting else None


__all__ = ["MemoryPlan", "nbytes", "plan_memory"]
