"""Constant folding.

Guarantees: every op node whose arguments are all constants (after folding its own
arguments, so whole constant subgraphs collapse) becomes a constant holding the value
its kernel computes, with the node's id and declared type unchanged; the constants that
only fed folded nodes are removed.  Values are bit-identical to what the interpreter
computes at run time, because folding runs the same kernel (``OPS[op].eval``, or the
body of a fused node) on the same arrays.

A node is left alone when folding could change behaviour or bloat the graph:
* its op is of ``Kind.RANDOM``, or it is a fused node with such an op inside (a fresh
  sample every run);
* its result has more than :data:`SIZE_LIMIT` elements, or a symbolic shape (e.g. a
  ``broadcast_to`` of a scalar to a large shape stays a cheap op, not a huge constant);
* the kernel raises, or returns a value whose shape or dtype differs from the declared
  type: the error (or mismatch) then stays where the interpreter would meet it.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..ir.graph import CONSTANT, FUSED, Graph, Node
from ..ir.interpreter import interpret
from ..ops import OPS
from .cse import is_random
from .dce import prune

__all__ = ["SIZE_LIMIT", "fold"]

SIZE_LIMIT = 1 << 20  # elements; larger results are left to run time


def fold(g: Graph) -> Graph:
    """A copy of ``g`` with its constant subexpressions evaluated."""
    out = g.copy()
    for nid in out.order():
        node = out.node(nid)
        args = out.args(nid)
        if not node.is_op or not all(out.node(a).op == CONSTANT for a in args):
            continue
        value = _evaluate(node, [out.node(a).value for a in args])
        if value is None:
            continue
        out.nx.remove_edges_from(list(out.nx.in_edges(nid, keys=True)))
        out.nx.nodes[nid]["node"] = replace(node, op=CONSTANT, attrs={}, value=value, body=None, source=None)
        prune(out, args)
    return out


def _evaluate(node: Node, values: list[np.ndarray]) -> np.ndarray | None:
    """The value of ``node`` on constant arguments, or None if it must not be folded."""
    t = node.type
    if not t.is_static or t.numel() > SIZE_LIMIT:
        return None
    if is_random(node):
        return None
    try:
        with np.errstate(all="ignore"):  # inf/nan results are values like any other
            if node.op == FUSED:
                result = interpret(node.body, values)[0]
            else:
                result = OPS[node.op].eval(*values, **node.attrs)
    except Exception:  # the error belongs to run time, not to the compiler
        return None
    result = np.asarray(result)
    if result.shape != t.shape or result.dtype != t.dtype.np:
        return None
    # A kernel may return a view of its argument (reshape, broadcast_to): own the memory.
    return np.array(result, copy=True, order="C")
