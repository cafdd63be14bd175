"""Loop fusion: loops over one space become one loop with several results.

Elementwise fusion (:mod:`irgrad.passes.fusion`) gives every group one result, so a
value read by two groups is written to memory by its own loop and read back by both.
A training step of ``sum(tanh(x) * sigmoid(x) + 0.5 * x * x)`` then runs six loops
over ``x``'s million elements: tanh, sigmoid and ``0.5 * x`` are stored because both
the loss and its gradient read them, and the gradient and the SGD update are loops
of their own.  Here those loops become one, which reads ``x`` once and writes the
gradient, the new ``x`` and the loss:

* a *loop* is a fused elementwise group, a lone elementwise op, a ``copy``, or a
  reduction over every dimension (alone or with its fused prologue); its *space* is
  the shape it walks (an elementwise result's, a reduction's argument's);
* loops join when they walk the same space and one reads the other's result at the
  position it is at (or both read one input of that shape): a loop reading a
  reduction's result, or reading a result through a reshape or broadcast, does not;
* a joined loop is a ``fused`` node whose body has several results: its first result
  is the node's value, each other one a ``result(%group, index=k)`` node.  A member's
  value that nothing outside the loop reads is never stored.

Joining must not create a cycle: the loops are gathered in a topological order that
keeps a run of joinable loops together, and a loop may join the run only if none of
its arguments depends on a member through a node outside the run.  Contracting such a
run keeps the graph acyclic (checked once more at the end).  Every result keeps its
value: the body computes what the members computed, in the same scalar rules.
"""

from __future__ import annotations

import heapq
import math

import numpy as np

from ..ir.graph import CONSTANT, FUSED, RESULT, Graph, Node
from ..ops import OPS, Kind
from ..passes.fusion import all_args
from .elementwise import BODY_VIEWS
from .reduce import has_anchor, is_map_reduce, reduction_supported
from .scalars import has_native_type, without_native_code


def fuse_loops(g: Graph) -> Graph:
    """A copy of ``g`` whose runs of joinable loops are each one fused node (see the module doc)."""
    g = g.copy()
    spaces = {nid: space for nid in g.nx.nodes if (space := loop_space(g, nid)) is not None}
    gathering = _Runs(g, spaces)
    runs = gathering.gather()
    taken = {m for run in runs for m in run}
    for k, run in enumerate(runs):
        _absorb_producers(g, run, spaces, taken, gathering.index)
        _contract(g, run, spaces[run[0]], f"{g.name}.loop{k}")
    g.order()  # raises if contracting the runs made a cycle (the gathering rules exclude it)
    return g


def loop_space(g: Graph, nid: int) -> tuple | None:
    """The shape ``nid``'s loop walks, or None when it is not a loop that may join others."""
    node = g.node(nid)
    if not node.type.is_static or not (g.nx._succ[nid] or nid in g.outputs):
        return None  # symbolic, or dead code (the plan skips it)
    values = [node] + [g.node(a) for a in g.args(nid)]
    if node.op == FUSED:
        values += [node.body.node(n) for n in node.body.nx.nodes]
    if not all(has_native_type(v.type.dtype.np) for v in values):
        return None  # its loop stays in numpy: joined, it would take the run's other loops along
    if node.op == FUSED:
        body = node.body
        if len(body.outputs) != 1 or not all(body.node(n).type.is_static for n in body.nx.nodes):
            return None
        if not has_anchor(body):
            return tuple(node.type.shape)
        if not is_map_reduce(body):
            return None
        return _full_reduction(body.node(body.outputs[0]), body.node(body.args(body.outputs[0])[0]))
    op = OPS.get(node.op)
    if op is None or op.effectful:
        return None
    if node.op == "copy" or (op.kind is Kind.ELEMENTWISE and op.scalar is not None):
        return None if without_native_code(g, nid) else tuple(node.type.shape)
    if op.reduction is not None:
        return _full_reduction(node, g.node(g.args(nid)[0]))
    return None


def _full_reduction(node: Node, argument: Node) -> tuple | None:
    """The argument's shape when ``node`` reduces all of it (to one value) in a way a
    joined loop computes; else None."""
    space = tuple(argument.type.shape)
    if set(node.attrs.get("dims", ())) != set(range(len(space))) or math.prod(node.type.shape) != 1:
        return None
    if not reduction_supported(np.dtype(argument.type.dtype.np), np.dtype(node.type.dtype.np)):
        return None
    return space


class _Runs:
    """Gathers runs of joinable loops along a topological order (see the module doc)."""

    def __init__(self, g: Graph, spaces: dict[int, tuple]) -> None:
        self.g, self.spaces = g, spaces
        self.index = {nid: k for k, nid in enumerate(g.order())}
        self.args = all_args(g)
        self.shapes = {nid: tuple(g.node(nid).type.shape) for nid in self.index}
        self.reductions = {nid for nid in spaces if _reduces(g.node(nid))}

    def gather(self) -> list[list[int]]:
        succ = self.g.nx._succ
        waiting = {n: len(p) for n, p in self.g.nx._pred.items()}
        others: list[tuple[int, int]] = []  # ready nodes that are not loops (a heap)
        loops: dict[tuple, set[tuple[int, int]]] = {}  # ready loops by space
        runs: list[list[int]] = []

        def ready(nid: int) -> None:
            item = (self.index[nid], nid)
            if nid in self.spaces:
                loops.setdefault(self.spaces[nid], set()).add(item)
            else:
                heapq.heappush(others, item)

        for n, k in waiting.items():
            if k == 0:
                ready(n)
        self._start(None)
        while others or any(loops.values()):
            chosen = self._joinable(loops.get(self.space, ()))
            if chosen is not None:
                self._join(chosen)
            elif others:
                chosen = heapq.heappop(others)[1]
                if any(a in self.members or a in self.tainted for a in self.args[chosen]):
                    self.tainted.add(chosen)
            else:  # only loops that cannot join are ready: the run ends
                if len(self.run) >= 2:
                    runs.append(self.run)
                chosen = min(min(items) for items in loops.values() if items)[1]
                self._start(chosen)
            if chosen in self.spaces:
                loops[self.spaces[chosen]].discard((self.index[chosen], chosen))
            for m in succ[chosen]:
                waiting[m] -= 1
                if waiting[m] == 0:
                    ready(m)
        if len(self.run) >= 2:
            runs.append(self.run)
        return runs

    def _start(self, nid: int | None) -> None:
        self.run: list[int] = []
        self.members: set[int] = set()
        self.tainted: set[int] = set()  # nodes outside the run that depend on a member
        self.shared: set[int] = set()  # inputs of the run's space its members read
        self.refused: set[int] = set()  # loops that can never join this run
        self.related: set[int] = set()  # loops of the space reading a member or a shared input
        self.space = None
        if nid is not None:
            self.space = self.spaces[nid]
            self._join(nid)

    def _joinable(self, candidates) -> int | None:
        """The first ready loop (in the original order) that can join the run."""
        for _, nid in sorted(c for c in candidates if c[1] in self.related and c[1] not in self.refused):
            if self._can_join(nid):
                return nid
        return None

    def _join(self, nid: int) -> None:
        self.run.append(nid)
        self.members.add(nid)
        shared = [
            a
            for a in self.args[nid]
            if self.shapes[a] == self.space
            and a not in self.members
            and a not in self.shared
            and self.g.node(a).op != CONSTANT
        ]
        self.shared.update(shared)
        succ = self.g.nx._succ
        self.related.update(u for a in [nid, *shared] for u in succ[a] if self.spaces.get(u) == self.space)

    def _can_join(self, nid: int) -> bool:
        """Whether ``nid`` (a ready loop of the run's space) can join the run; one that
        never can is remembered in ``refused``."""
        args = self.args[nid]
        if any(a in self.tainted for a in args):
            self.refused.add(nid)
            return False  # it depends on a member through a node outside the run
        related = False
        for position, a in enumerate(args):
            if a in self.members:
                if a in self.reductions or not _reads_positionwise(self.g.node(nid), position, self.space):
                    self.refused.add(nid)
                    return False
                related = True
            elif a in self.shared:
                related = True
        return related


def _absorb_producers(g: Graph, run: list[int], spaces: dict, taken: set[int], index: dict) -> None:
    """Add to ``run`` the loops only its members read (at the position they are at): a
    value two fused groups read was stored by a loop of its own, and once the two groups
    are one run, it is computed in that run's registers (an LSTM's backward recomputes
    its gates' sigmoids so).  Such a loop depends on nothing the run computes, so the run
    stays contractible; the run is then sorted in the graph's order again."""
    members, space, outputs = set(run), spaces[run[0]], set(g.outputs)

    def absorbable(p: int) -> bool:
        if p in taken or spaces.get(p) != space or p in outputs or _reduces(g.node(p)):
            return False
        for u in g.users(p):
            if u not in members:
                return False
            positions = [k for k, a in enumerate(g.args(u)) if a == p]
            if not all(_reads_positionwise(g.node(u), k, space) for k in positions):
                return False
        return True

    waiting = list(run)
    while waiting:
        for p in dict.fromkeys(g.args(waiting.pop())):
            if absorbable(p):
                members.add(p)
                taken.add(p)
                waiting.append(p)
    run[:] = sorted(members, key=index.__getitem__)


def _reduces(node: Node) -> bool:
    """Whether a loop's value is a reduction (ready only when its loop ends)."""
    if node.op == FUSED:
        return has_anchor(node.body)
    return OPS[node.op].reduction is not None


def _reads_positionwise(node: Node, position: int, space: tuple) -> bool:
    """Whether ``node`` reads its argument ``position`` (of shape ``space``) at the
    position its loop is at: not through a view that changes its shape."""
    if node.op != FUSED:
        return True
    body = node.body
    inner = body.inputs[position]
    return all(
        tuple(body.node(u).type.shape) == space for u in body.users(inner) if body.node(u).op in BODY_VIEWS
    )


def _contract(g: Graph, run: list[int], space: tuple, name: str) -> None:
    """Replace the loops of ``run`` by one fused node with a result per member value
    read outside the run (the first is the node, the others ``result`` nodes)."""
    members = set(run)
    outputs = set(g.outputs)
    # every reduction is stored: no member reads one (``_Runs._can_join``)
    stored = [m for m in run if m in outputs or any(u not in members for u in g.users(m))]
    body = Graph(name)
    external: dict[int, int] = {}  # node outside the run -> body input
    value: dict[int, int] = {}  # member -> its value in the body

    def argument(a: int) -> int:
        if a in members:
            return value[a]
        node = g.node(a)
        if node.op == CONSTANT and node.value.size == 1:  # a literal in the kernel, as fusion does
            return body.add_constant(node.value, node.type)
        if a not in external:
            external[a] = body.add_input(f"in{len(external)}", g.node(a).type)
        return external[a]

    for m in run:
        node = g.node(m)
        args = [argument(a) for a in g.args(m)]
        if node.op == FUSED:
            (value[m],) = body.splice(node.body, args)
        elif node.op == "copy":
            value[m] = args[0]  # the member's own buffer is the copy, when it is stored
        else:
            value[m] = body.add_op(node.op, args, node.attrs, node.type, source=node.source)
    body.set_outputs([value[m] for m in stored])
    group = g.add_op(
        FUSED, list(external), {}, g.node(stored[0]).type, source=g.node(stored[0]).source, body=body
    )
    for k, m in enumerate(stored):
        result = group if k == 0 else g.add_op(RESULT, [group], {"index": k}, g.node(m).type)
        for user, position in g.uses(m):
            if user not in members:
                g.nx.remove_edge(m, user, key=position)
                g.nx.add_edge(result, user, key=position)
        g.outputs = [result if o == m else o for o in g.outputs]
    for m in run:
        g.remove(m)
