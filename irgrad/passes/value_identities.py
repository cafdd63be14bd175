"""Nodes that exist for autodiff alone, read through once gradients are taken.

``detach(x)`` and ``rebind(new, old)`` have the value of one argument (their registry
entry's ``identity_of``); they only tell autodiff where a gradient stops or goes.  A
graph that autodiff is done with (a partitioned forward or backward, or a whole
training step, which traces eager autograd rather than differentiating) computes the
same with every use of such a node reading that argument instead.  The native backend
does so before fusion, after the default passes (the roll pass reads a ``detach``
between two steps as a cut of the recurrence): a ``detach`` between two elementwise
ops would otherwise end a fused loop.
"""

from __future__ import annotations

from ..ir.graph import Graph
from ..ops import OPS
from .dce import prune


def read_through_identities(graph: Graph) -> Graph:
    """A copy of ``graph`` in which every use of an ``identity_of`` node reads its
    argument (``graph`` itself when it has none); the outputs follow the same way."""
    found = [n.id for n in graph.op_nodes() if n.op in OPS and OPS[n.op].identity_of is not None]
    if not found:
        return graph
    out = graph.copy()
    for nid in found:  # in program order: an identity of an identity reads the first's argument
        args = out.args(nid)
        out.replace_uses(nid, args[OPS[out.node(nid).op].identity_of])
        out.remove(nid)
        prune(out, args)  # rebind's other argument, when nothing else reads it
    return out
