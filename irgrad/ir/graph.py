"""The IR: a typed dataflow graph stored in a networkx ``MultiDiGraph``.

Each networkx node is one value-producing :class:`Node`: a graph input (a user
argument, a parameter or a buffer), a constant, or an application of a registered
primitive op (or of a fused group, whose body is itself a Graph).  An edge
``u -> v`` with key ``pos`` says "u is argument ``pos`` of v"; a multigraph, because
an op may take the same value twice (``mul(%x, %x)``).  Outputs are listed
explicitly, in order.

Types are :class:`TensorType` (shape + dtype).  A dimension is an int or a symbol
(a string such as ``"B"``) for graphs compiled with dynamic shapes.
"""

from __future__ import annotations

import functools
import heapq
import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from ..dtypes import from_numpy_dtype
from .printer import print_graph, to_dot
from .types import BUFFER, CONSTANT, FUSED, INPUT, PARAM, RESULT, STATE_ROLE, USER, Dim, TensorType

if TYPE_CHECKING:
    import networkx as nx

__all__ = [
    "BUFFER",
    "CONSTANT",
    "FUSED",
    "RESULT",
    "INPUT",
    "PARAM",
    "STATE_ROLE",
    "USER",
    "Dim",
    "Graph",
    "Node",
    "TensorType",
]


@dataclass
class Node:
    """One value of the graph.  ``op`` is a registered op name, or INPUT/CONSTANT/FUSED/RESULT."""

    id: int
    op: str
    type: TensorType
    attrs: dict = field(default_factory=dict)
    name: str | None = None  # inputs: the printed name; others: None (numbered when printed)
    role: str | None = None  # inputs: USER, PARAM or BUFFER
    value: np.ndarray | None = None  # constants
    body: Graph | None = None  # fused groups
    source: str | None = None  # "file.py:12" of the user code that created it

    @property
    def is_op(self) -> bool:
        return self.op not in (INPUT, CONSTANT)

    def copy(self) -> Node:
        """A copy with its own ``attrs`` dict (a pass may edit them); the rest is shared.
        (Faster than ``copy.copy``, which a graph copy calls for every node.)"""
        twin = object.__new__(Node)
        twin.__dict__.update(self.__dict__)
        twin.attrs = dict(self.attrs)
        return twin


@functools.cache
def dataflow_graph() -> type:
    """networkx's ``MultiDiGraph`` whose edge and degree views are made on each use.

    networkx caches those views in the graph's ``__dict__`` (``functools.cached_property``)
    and each view refers back to its graph: a reference cycle, so a graph whose
    ``out_edges`` or ``in_degree`` had been read, with all its nodes' dicts, was freed only
    by the cyclic collector, never by reference counting.  A compile discards dozens of
    graph copies; the collection after the 32-step LSTM's training step compile scanned
    and freed 116K such objects in 78 ms.  Made afresh, a view costs well under a
    microsecond.

    The class is made, and networkx imported, on first use: importing networkx takes
    about 130 ms, a fifth of ``import irgrad``, and only the compiler needs it
    (``irgrad.compile`` asks for it when a function is compiled, before its first call)."""
    import networkx as nx

    class DataflowGraph(nx.MultiDiGraph):
        """See :func:`dataflow_graph`."""

    for view in ("edges", "out_edges", "in_edges", "degree", "in_degree", "out_degree"):
        setattr(DataflowGraph, view, property(getattr(nx.MultiDiGraph, view).func))
    return DataflowGraph


def _copy_multidigraph(graph: nx.MultiDiGraph) -> nx.MultiDiGraph:
    """``graph.copy()`` with each node's :class:`Node` copied, built straight into networkx's
    adjacency dicts (``MultiDiGraph.copy`` adds edge by edge: twice the time).  Each pair's
    dict of edges (key -> attributes) is one object seen from both the successor and the
    predecessor map, as networkx keeps it (its ``add_edge`` updates one side only)."""
    copied = dataflow_graph()()
    copied.graph.update(graph.graph)
    copied._node.update((n, {**d, "node": d["node"].copy()}) for n, d in graph._node.items())
    successors, predecessors = copied._succ, copied._pred
    for u, targets in graph._succ.items():
        successors[u] = {v: {k: dict(d) for k, d in keys.items()} for v, keys in targets.items()}
    for v, sources in graph._pred.items():
        predecessors[v] = {u: successors[u][v] for u in sources}
    return copied


class Graph:
    """A typed dataflow graph: inputs, constants, op nodes and ordered outputs."""

    def __init__(self, name: str = "forward") -> None:
        self.name = name
        self.nx = dataflow_graph()()
        self.inputs: list[int] = []
        self.outputs: list[int] = []
        self._ids = itertools.count()

    # --- building ----------------------------------------------------------------------
    def _add(self, node: Node, args: Iterable[int] = ()) -> int:
        self.nx.add_node(node.id, node=node)
        for pos, arg in enumerate(args):
            if arg not in self.nx:
                raise KeyError(f"argument {arg} of {node.op} is not a node of graph {self.name}")
            self.nx.add_edge(arg, node.id, key=pos)
        return node.id

    def add_input(self, name: str, type: TensorType, role: str = USER) -> int:
        nid = self._add(Node(next(self._ids), INPUT, type, name=name, role=role))
        self.inputs.append(nid)
        return nid

    def add_constant(self, value: np.ndarray, type: TensorType | None = None) -> int:
        value = np.asarray(value)
        type = type or TensorType(tuple(value.shape), from_numpy_dtype(value.dtype))
        return self._add(Node(next(self._ids), CONSTANT, type, value=value))

    def add_op(
        self,
        op: str,
        args: Iterable[int],
        attrs: dict,
        type: TensorType,
        source: str | None = None,
        body: Graph | None = None,
    ) -> int:
        args = list(args)
        return self._add(Node(next(self._ids), op, type, dict(attrs), body=body, source=source), args)

    def set_outputs(self, outputs: Iterable[int]) -> None:
        self.outputs = list(outputs)

    # --- reading -----------------------------------------------------------------------
    def node(self, nid: int) -> Node:
        return self.nx._node[nid]["node"]  # networkx's node map: half the time of .nodes[nid]

    def args(self, nid: int) -> list[int]:
        """The argument nodes of ``nid`` in position order."""
        # Read networkx's predecessor map directly: in_edges views cost ~100x more.
        positions = sorted((pos, u) for u, keys in self.nx._pred[nid].items() for pos in keys)
        return [u for _, u in positions]

    def users(self, nid: int) -> list[int]:
        """The nodes that take ``nid`` as an argument, each once, in the order of their
        first such edge (read from networkx's successor map, as :meth:`args` reads the
        predecessor one)."""
        return list(self.nx._succ[nid])

    def uses(self, nid: int) -> list[tuple[int, int]]:
        """``(user, position)`` of every argument slot that ``nid`` fills."""
        return [(user, pos) for user, keys in self.nx._succ[nid].items() for pos in keys]

    def order(self) -> list[int]:
        """A deterministic topological order (ties broken by creation order).

        Kahn's algorithm on networkx's adjacency maps with a heap of node ids: the same
        order as ``nx.lexicographical_topological_sort``, several times faster.
        """
        pred, succ = self.nx._pred, self.nx._succ
        waiting = {n: len(p) for n, p in pred.items()}
        ready = [n for n, k in waiting.items() if k == 0]
        heapq.heapify(ready)
        order = []
        while ready:
            n = heapq.heappop(ready)
            order.append(n)
            for m in succ[n]:
                waiting[m] -= 1
                if waiting[m] == 0:
                    heapq.heappush(ready, m)
        if len(order) != len(waiting):
            import networkx as nx

            raise nx.NetworkXUnfeasible(f"graph {self.name} contains a cycle")
        return order

    def op_nodes(self) -> Iterator[Node]:
        for nid in self.order():
            node = self.node(nid)
            if node.is_op:
                yield node

    def __len__(self) -> int:
        return self.nx.number_of_nodes()

    def __contains__(self, nid: int) -> bool:
        return nid in self.nx

    # --- editing (used by passes, which work on copies) ---------------------------------
    def copy(self) -> Graph:
        """An independent graph: passes edit copies.  Every pass makes one, so this is the
        compiler's most frequent large operation (a 1,500-node graph in 4 ms)."""
        g = Graph(self.name)
        g.nx = _copy_multidigraph(self.nx)
        g.inputs = list(self.inputs)
        g.outputs = list(self.outputs)
        g._ids = itertools.count(max(self.nx.nodes, default=-1) + 1)
        return g

    def splice(self, body: Graph, args: list[int]) -> list[int]:
        """Copy ``body``'s nodes into this graph with its inputs bound to ``args`` (nodes
        of this graph): the ids of its outputs here (inlining a fused group)."""
        env = dict(zip(body.inputs, args))
        for nid in body.order():
            node = body.node(nid)
            if node.op == INPUT:
                continue
            if node.op == CONSTANT:
                env[nid] = self.add_constant(node.value, node.type)
            else:
                args_here = [env[a] for a in body.args(nid)]
                env[nid] = self.add_op(node.op, args_here, node.attrs, node.type, node.source, node.body)
        return [env[o] for o in body.outputs]

    def replace_uses(self, old: int, new: int) -> None:
        """Make every user of ``old`` (and the outputs) use ``new`` instead."""
        if old == new:
            return
        for user, pos in self.uses(old):
            self.nx.remove_edge(old, user, key=pos)
            self.nx.add_edge(new, user, key=pos)
        self.outputs = [new if o == old else o for o in self.outputs]

    def set_source(self, nids: Iterable[int], source: str | None) -> None:
        """Give the nodes a rewrite created (those without one) the source line of the
        node they stand in for, so ``explain()`` and the dumps still name the user's code."""
        for nid in nids:
            node = self.node(nid)
            if node.source is None:
                node.source = source

    def remove(self, nid: int) -> None:
        self.nx.remove_node(nid)
        if nid in self.inputs:
            self.inputs.remove(nid)

    def __str__(self) -> str:
        return print_graph(self)

    __repr__ = __str__

    def to_dot(self) -> str:
        """Graphviz source of the graph (one box a node, edges labelled by position)."""
        return to_dot(self)
