"""Dead-code elimination.

Guarantees: the result keeps exactly the nodes that are ancestors of an output (or an
output themselves) or of a random draw (which advances the generator, so it must run
even when unused, as it does eagerly), plus every graph input, used or not (the inputs are the graph's
signature).  Node ids, types, attributes, the input order and the outputs are unchanged,
so the result computes the same values.  Fused bodies are cleaned the same way (their
inputs are kept too, as they mirror the call's arguments).

:func:`prune` is the local version other passes use after a rewrite: it removes the
nodes a rewrite orphaned without touching code that was already dead.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from ..ir.graph import FUSED, INPUT, Graph
from ..ops import OPS

__all__ = ["dce", "effectful", "effectful_nodes", "prune"]


def effectful(node) -> bool:
    """Whether running ``node`` does something beyond computing its value (a random draw,
    a check that may raise), in its fused body too: it runs even when nothing reads it."""
    if node.body is not None:
        return any(effectful(node.body.node(n)) for n in node.body.nx)
    op = OPS.get(node.op)
    return op is not None and op.effectful


def effectful_nodes(g: Graph) -> list[int]:
    """The nodes :func:`effectful` says run even when no output needs them."""
    return [nid for nid in g.nx if effectful(g.node(nid))]


def dce(g: Graph) -> Graph:
    """A copy of ``g`` without the nodes no output (or random draw) depends on."""
    out = g.copy()
    roots = list(out.outputs) + effectful_nodes(out)
    live = set(out.inputs) | set(roots)
    stack = list(roots)  # one reverse walk from every root at once: linear time
    pred = out.nx._pred
    while stack:
        for arg in pred[stack.pop()]:
            if arg not in live:
                live.add(arg)
                stack.append(arg)
    out.nx.remove_nodes_from([nid for nid in list(out.nx) if nid not in live])
    for nid in out.nx:
        node = out.node(nid)
        if node.op == FUSED:
            out.nx.nodes[nid]["node"] = replace(node, body=dce(node.body))
    return out


def prune(g: Graph, nids: Iterable[int]) -> None:
    """Remove, in place, those of ``nids`` that have no users and are not outputs or
    inputs, then the arguments that this leaves unused, transitively."""
    stack = list(nids)
    outputs = set(g.outputs)
    while stack:
        nid = stack.pop()
        if nid not in g or nid in outputs or g.node(nid).op == INPUT or g.users(nid):
            continue
        if g.node(nid).op in OPS and OPS[g.node(nid).op].effectful:
            continue
        stack.extend(g.args(nid))
        g.remove(nid)
