"""Elementwise fusion: group ops into ``fused`` nodes that a code generator lowers to one kernel.

``fuse(g)`` returns a new graph in which every legal group of two or more ops is one
FUSED node whose ``body`` is a Graph: the body's inputs are the fused node's arguments
in order, and its single output is the fused node's value.  What is grouped:

* vertical chains of ELEMENTWISE ops (a producer with its consumers), including
  diamonds: ``d = add(neg(a), sin(a))`` with ``a = exp(x)`` becomes one group, since
  the merged group still has one output;
* epilogues: elementwise ops consuming a REDUCTION or MATMUL result join its group
  (``matmul`` + bias ``add`` + ``relu``).  A group holds at most one such anchor and
  the anchor's arguments come from outside the group (it is the group's entry);
* ``broadcast_to``/``reshape`` of a group input whose users are all elementwise ops
  of the group are absorbed, so the broadcast value is never materialised;
* scalar (one-element) constants used by a group are copied into its body, so kernels
  see them as literals.

Horizontal fusion of independent siblings that share an input is *not* done: both
siblings' values are used outside such a group, and a fused node has exactly one
value.  Siblings that meet again in a common consumer (the diamond above) are fused
through that consumer.

Legality, checked for every merge: a group has exactly one sink, which is its output;
every other member's users are inside the group and it is not a graph output.  This
makes every group convex (no path leaves it and re-enters it), so contracting the
groups never creates a cycle; that is checked once more on the condensed graph.
RANDOM ops, movement ops other than the absorbed ones, convolutions, inputs, constants
and already-fused nodes are never group members, nor are the nodes a backend keeps
``apart`` (those it has no code for: a group never runs with numpy for one member).  The result is deterministic (groups
are grown in topological order) and interprets to the same values as ``g``.
"""

from __future__ import annotations

from collections.abc import Callable

from ..ir.graph import CONSTANT, FUSED, Graph, Node
from ..ops import OPS, Kind

ABSORBABLE = ("broadcast_to", "reshape")
ANCHOR_KINDS = (Kind.REDUCTION, Kind.MATMUL)


def fuse(g: Graph, apart: Callable[[Graph, int], bool] | None = None) -> Graph:
    """A copy of ``g`` with legal groups of ops replaced by FUSED nodes (see the module
    doc); ``apart(g, node_id)`` true keeps that node out of every group."""
    out = g.copy()
    grouping = _Grouping(out, apart)
    for k, members in enumerate(grouping.run()):
        _contract(out, members, grouping.args, f"{g.name}.fused{k}")
    return out


def all_args(g: Graph) -> dict[int, list[int]]:
    """Every node's arguments in position order, in one sweep over the edges
    (what ``g.args`` gives one node at a time, much faster for a whole graph)."""
    by_pos: dict[int, dict[int, int]] = {nid: {} for nid in g.nx}
    for u, v, pos in g.nx.edges(keys=True):
        by_pos[v][pos] = u
    return {nid: [slots[p] for p in sorted(slots)] for nid, slots in by_pos.items()}


def _kind(g: Graph, nid: int) -> Kind | None:
    op = OPS.get(g.node(nid).op)
    return op.kind if op is not None else None


class _Grouping:
    """Grows groups by merging producer/consumer pairs until no legal merge is left.

    Every group keeps the invariants of the module doc, so a merge only has to look at
    the two groups' sinks and anchors: whether a merge is legal costs the degree of two
    nodes, not the size of the groups.
    """

    def __init__(self, g: Graph, apart: Callable[[Graph, int], bool] | None) -> None:
        self.g = g
        self.order = g.order()
        self.index = {nid: i for i, nid in enumerate(self.order)}
        self.outputs = set(g.outputs)
        self.args = all_args(g)
        self.succ = {nid: g.users(nid) for nid in self.order}
        self.kind = {nid: _kind(g, nid) for nid in self.order}
        # every fusable op starts as its own group, whose id is the node id
        fusable = [n for n in self.order if self.kind[n] is Kind.ELEMENTWISE or self.kind[n] in ANCHOR_KINDS]
        if apart is not None:
            fusable = [n for n in fusable if not apart(g, n)]
        self.group_of = {n: n for n in fusable}
        self.members = {n: [n] for n in fusable}
        self.sink = {n: n for n in fusable}
        self.anchor = {n: n if self.kind[n] in ANCHOR_KINDS else None for n in fusable}

    def run(self) -> list[list[int]]:
        changed = True
        while changed:
            changed = False
            for v in self.order:
                if v not in self.group_of:
                    continue
                for p in self.args[v]:
                    if p in self.group_of and self.group_of[p] != self.group_of[v]:
                        changed |= self._try_merge(self.group_of[p], self.group_of[v])
        self._absorb_movement()
        groups = [sorted(m, key=self.index.__getitem__) for m in self.members.values() if len(m) >= 2]
        groups.sort(key=lambda m: self.index[m[-1]])
        self._check_contractible(groups)
        return groups

    def _try_merge(self, a: int, b: int) -> bool:
        """Merge groups ``a`` and ``b`` if the union keeps every invariant."""

        def inside(n: int) -> bool:
            return self.group_of.get(n) in (a, b)

        sinks = [s for s in (self.sink[a], self.sink[b]) if not any(inside(u) for u in self.succ[s])]
        if len(sinks) != 1:
            return False
        sink = sinks[0]
        other = self.sink[b] if sink == self.sink[a] else self.sink[a]
        if other in self.outputs or not all(inside(u) for u in self.succ[other]):
            return False
        if self.anchor[a] is not None and self.anchor[b] is not None:
            return False
        anchor = self.anchor[a] if self.anchor[a] is not None else self.anchor[b]
        if anchor is not None and any(inside(x) for x in self.args[anchor]):
            return False
        keep, gone = (a, b) if len(self.members[a]) >= len(self.members[b]) else (b, a)
        for n in self.members[gone]:
            self.group_of[n] = keep
        self.members[keep] += self.members.pop(gone)
        self.sink[keep], self.anchor[keep] = sink, anchor
        del self.sink[gone], self.anchor[gone]
        return True

    def _check_contractible(self, groups: list[list[int]]) -> None:
        """Contracting the groups must leave the graph acyclic (every group is convex).

        The merge rules imply it: only a group's sink is used outside, and a path from
        the sink back into the group would close a cycle through the sink.  It is
        checked on the condensed graph anyway, since a cycle would corrupt the program.
        """
        label = {n: ("group", i) for i, m in enumerate(groups) for n in m}
        users: dict = {label.get(n, n): set() for n in self.order}
        for u, v in self.g.nx.edges():
            if label.get(u, u) != label.get(v, v):
                users[label.get(u, u)].add(label.get(v, v))
        if not _acyclic(users):
            import networkx as nx  # (imported on first use: see irgrad.ir.graph.dataflow_graph)

            condensed = nx.DiGraph([(u, v) for u, vs in users.items() for v in vs])
            raise RuntimeError(
                f"fuse: grouping of graph {self.g.name} is not convex: {nx.find_cycle(condensed)}"
            )

    def _absorb_movement(self) -> None:
        """Pull ``broadcast_to``/``reshape`` of a group input into the group when all its
        users are elementwise members of that group.  (One sweep suffices: an absorbed
        node's own argument has a movement user, so it never qualifies in turn.)"""
        for m in self.order:
            if self.g.node(m).op not in ABSORBABLE or m in self.outputs:
                continue
            users = self.succ[m]
            if not users or any(u not in self.group_of for u in users):
                continue
            gid = self.group_of[users[0]]
            if all(self.group_of[u] == gid and self.kind[u] is Kind.ELEMENTWISE for u in users):
                self.members[gid].append(m)
                self.group_of[m] = gid


def _contract(g: Graph, members: list[int], args: dict[int, list[int]], name: str) -> None:
    """Replace ``members`` (in topological order; the last is the output) by one FUSED node.

    The fused node keeps the output's node id, so the group stays where its output was
    in the schedule, and ``args`` (every member's arguments, computed before any
    contraction) stays valid for the groups contracted after this one.
    """
    inside = set(members)
    output = members[-1]
    body = Graph(name)
    inputs: list[int] = []
    env: dict[int, int] = {}
    for nid in members:
        for a in args[nid]:
            if a in inside or a in env:
                continue
            node = g.node(a)
            if node.op == CONSTANT and node.value.size == 1:
                env[a] = body.add_constant(node.value.copy(), node.type)
            else:
                env[a] = body.add_input(f"in{len(inputs)}", node.type)
                inputs.append(a)
        node = g.node(nid)
        env[nid] = body.add_op(
            node.op, [env[a] for a in args[nid]], node.attrs, node.type, source=node.source
        )
    body.set_outputs([env[output]])

    used_constants = [a for nid in members for a in args[nid] if a not in inside and g.node(a).op == CONSTANT]
    out_node = g.node(output)
    for nid in members[:-1]:
        g.remove(nid)
    for u, v, k in list(g.nx.in_edges(output, keys=True)):
        g.nx.remove_edge(u, v, key=k)
    for pos, a in enumerate(inputs):
        g.nx.add_edge(a, output, key=pos)
    g.nx.nodes[output]["node"] = Node(output, FUSED, out_node.type, body=body, source=out_node.source)
    for c in dict.fromkeys(used_constants):
        if c in g and not g.users(c) and c not in g.outputs:
            g.remove(c)


def _acyclic(users: dict) -> bool:
    """Whether the graph with these successor sets has no cycle (Kahn's algorithm: a plain
    walk, where ``nx.is_directed_acyclic_graph`` costs a millisecond at its first call in a
    process)."""
    waiting = dict.fromkeys(users, 0)
    for vs in users.values():
        for v in vs:
            waiting[v] += 1
    ready = [n for n, count in waiting.items() if count == 0]
    done = 0
    while ready:
        done += 1
        for v in users[ready.pop()]:
            waiting[v] -= 1
            if waiting[v] == 0:
                ready.append(v)
    return done == len(users)


__all__ = ["fuse"]
