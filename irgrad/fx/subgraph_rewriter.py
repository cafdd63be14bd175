"""``replace_pattern``: every match of a pattern function in a GraphModule replaced, as torch.fx's.

The pattern and the replacement are traced.  A match is a set of nodes of the graph
with the pattern's ops, targets and data dependencies, its placeholders standing for
any values (literal arguments must be equal), found from the pattern's output back;
nodes inside a match other than its result may have no users outside it, and matches
do not overlap (the first in graph order wins).  Each match is replaced by a copy of
the replacement, inserted before the first user of the match's result.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from ..nn.modules.module import Module
from .graph import Graph
from .graph_module import GraphModule
from .node import Argument, Node
from .tracer import symbolic_trace


class Match(NamedTuple):
    anchor: Node  # the pattern's node of its output value
    nodes_map: dict[Node, Node]  # pattern nodes to graph nodes


def _graph_of(fn: Callable | Graph | GraphModule) -> Graph:
    if isinstance(fn, Graph):
        return fn
    if isinstance(fn, GraphModule):
        return fn.graph
    return symbolic_trace(fn).graph


class _Matcher:
    """Matches of one pattern graph, from its single output back through its arguments."""

    def __init__(self, pattern: Graph) -> None:
        self.pattern = pattern
        output = pattern.output_node
        assert isinstance(output.args[0], Node), "replace_pattern supports patterns with one output value"
        self.anchor = output.args[0]
        self.placeholders = [n for n in pattern.nodes if n.op == "placeholder"]
        self.inner = [n for n in pattern.nodes if n.op not in ("placeholder", "output")]

    @staticmethod
    def _nodes_are_equal(pn: Node, gn: Node) -> bool:
        if pn.op == "placeholder":
            return True
        return pn.op == gn.op and pn.target == gn.target

    def _match_args(self, pa: Argument, ga: Argument, nodes_map: dict[Node, Node]) -> bool:
        if isinstance(pa, Node) and isinstance(ga, Node):
            return self._match_nodes(pa, ga, nodes_map)
        if isinstance(pa, (list, tuple)) and isinstance(ga, (list, tuple)):
            return len(pa) == len(ga) and all(self._match_args(p, g, nodes_map) for p, g in zip(pa, ga))
        if isinstance(pa, dict) and isinstance(ga, dict):
            return pa.keys() == ga.keys() and all(self._match_args(pa[k], ga[k], nodes_map) for k in pa)
        return type(pa) is type(ga) and pa == ga

    def _match_nodes(self, pn: Node, gn: Node, nodes_map: dict[Node, Node]) -> bool:
        if pn in nodes_map:
            return nodes_map[pn] is gn
        if gn in nodes_map.values() or not self._nodes_are_equal(pn, gn):
            return False
        nodes_map[pn] = gn
        if pn.op == "placeholder":
            return True
        return self._match_args(pn.args, gn.args, nodes_map) and self._match_args(
            pn.kwargs, gn.kwargs, nodes_map
        )

    def _is_contained(self, nodes_map: dict[Node, Node]) -> bool:
        """Whether only the match's result is used outside the match."""
        matched = {nodes_map[pn] for pn in self.inner}
        return all(
            user in matched for pn in self.inner if pn is not self.anchor for user in nodes_map[pn].users
        )

    def matches(self, graph: Graph) -> list[Match]:
        found: list[Match] = []
        taken: set[Node] = set()
        for gn in graph.nodes:
            nodes_map: dict[Node, Node] = {}
            if not self._match_nodes(self.anchor, gn, nodes_map) or not self._is_contained(nodes_map):
                continue
            inner = {nodes_map[pn] for pn in self.inner}
            if inner & taken:
                continue
            taken |= inner
            found.append(Match(anchor=self.anchor, nodes_map=nodes_map))
        return found


def replace_pattern(
    gm: GraphModule, pattern: Callable | GraphModule, replacement: Callable | GraphModule
) -> list[Match]:
    """Replace every match of ``pattern`` in ``gm`` by ``replacement`` (see the module
    docstring) and recompile ``gm``; the matches."""
    original = gm.graph
    matcher = _Matcher(_graph_of(pattern))
    replacement_graph = _graph_of(replacement)
    replacement_placeholders = [n for n in replacement_graph.nodes if n.op == "placeholder"]
    matches = matcher.matches(original)
    for match in matches:
        val_map: dict[Node, Node] = {
            rn: match.nodes_map[pn]
            for rn, pn in zip(replacement_placeholders, matcher.placeholders)
            if pn in match.nodes_map
        }
        result = match.nodes_map[match.anchor]
        first_user = next(n for n in original.nodes if n in result.users)
        with original.inserting_before(first_user):
            copied = original.graph_copy(replacement_graph, val_map)
        result.replace_all_uses_with(copied)
        for pn in reversed(matcher.inner):
            original.erase_node(match.nodes_map[pn])
    gm.recompile()
    if isinstance(replacement, Module):
        for node in gm.graph.nodes:
            if node.op in ("call_module", "get_attr") and not hasattr(gm, node.target.split(".")[0]):
                gm.add_submodule(node.target, replacement.get_submodule(node.target))
    return matches
