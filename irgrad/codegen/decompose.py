"""Composite primitives the backend has no routine for, rebuilt from simpler ones.

A lowering pass of the LLVM backend, run before fusion: each node whose op has a
decomposition (``OpDef.decompose``) and no native lowering (:func:`.steps.choose`
says why not) is replaced by the decomposition's nodes, so ``softmax`` becomes a
maximum, a fused map-reduce of ``exp`` and a division, all native, instead of a numpy
step splitting the graph's native code in two.  ``log_softmax`` along the last dim
keeps its routine; along another dim it is decomposed.
"""

from __future__ import annotations

from ..ir import Graph
from ..ir.builder import GraphOps
from ..ops import OPS
from .steps import choose


def decompose_unlowered(graph: Graph) -> Graph:
    """A copy of ``graph`` with every composite node that has no native lowering replaced
    by its decomposition (where the decomposition applies)."""
    out = graph.copy()
    F = GraphOps(out)
    for nid in out.order():
        node = out.node(nid)
        op = OPS.get(node.op)
        if op is None or op.decompose is None:
            continue
        args = out.args(nid)
        if not isinstance(choose(node, [out.node(a).type for a in args]), str):
            continue
        before = set(out.nx)
        value = op.decompose(F, *[F.value(a) for a in args], **node.attrs)
        if value is None:
            continue
        if value.type != node.type:
            raise RuntimeError(f"the decomposition of {node.op} gives {value.type}, the node is {node.type}")
        for new in set(out.nx) - before:  # the parts keep the node's source line
            out.node(new).source = node.source
        out.replace_uses(nid, value.id)
        out.remove(nid)
    return out
