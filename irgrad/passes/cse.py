"""Common-subexpression elimination by hash-consing over a topological order.

Guarantees: two op nodes with the same op, the same argument nodes in the same order
(in either order for a commutative op: ``OpDef.commutative``), structurally equal
attributes and the same type are merged into the first of them (in
topological order), and so are two constants with the same type and bit-identical
values (so 0.0 and -0.0 stay apart, and equal NaNs merge).  Fused nodes merge when their
bodies print identically.  Ops of ``Kind.RANDOM`` (and fused nodes containing one) are
never merged, as each draws its own sample, and neither are graph inputs.  Users and outputs of a merged node use the
kept node instead; nothing else changes.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import numpy as np

from ..dtypes import dtype
from ..ir.graph import CONSTANT, FUSED, INPUT, Graph, Node
from ..ir.printer import print_graph
from ..ops import OPS, Kind

__all__ = ["cse", "is_random"]


def cse(g: Graph) -> Graph:
    """A copy of ``g`` in which each distinct computation appears once."""
    out = g.copy()
    table: dict[Hashable, int] = {}
    for nid in out.order():
        key = value_key(out, out.node(nid), nid)
        if key is None:
            continue
        kept = table.setdefault(key, nid)
        if kept != nid:
            out.replace_uses(nid, kept)
            out.remove(nid)
    return out


def value_key(g: Graph, node: Node, nid: int) -> Hashable | None:
    """What makes ``node`` interchangeable with another, or None if it is unique."""
    if node.op == INPUT or is_random(node):
        return None
    if node.op == CONSTANT:
        return (CONSTANT, node.type, node.value.tobytes(order="C"))
    if node.op == FUSED:
        return (FUSED, node.type, tuple(g.args(nid)), attribute_key(node.attrs), print_graph(node.body))
    args = g.args(nid)
    if node.op in OPS and OPS[node.op].commutative:
        args = sorted(args)  # a + b and b + a are one value
    return (node.op, node.type, tuple(args), attribute_key(node.attrs))


def is_random(node: Node) -> bool:
    """Whether ``node`` draws random numbers: an op of ``Kind.RANDOM``, or a fused node
    with one in its body.  Such a node gives a new value every run, so it may be neither
    merged with another nor evaluated ahead of time."""
    if node.op == FUSED:
        return any(is_random(n) for n in node.body.op_nodes())
    return node.op in OPS and OPS[node.op].kind is Kind.RANDOM


def attribute_key(value: Any) -> Hashable:
    """A hashable key equal for structurally equal attribute values only: 1, 1.0 and True
    differ (their type is part of the key), as do 0.0 and -0.0 (floats by bit pattern)."""
    if isinstance(value, dict):
        return ("dict", tuple(sorted((k, attribute_key(v)) for k, v in value.items())))
    if isinstance(value, (tuple, list)):
        return (type(value).__name__, tuple(attribute_key(v) for v in value))
    if isinstance(value, slice):
        return ("slice", attribute_key(value.start), attribute_key(value.stop), attribute_key(value.step))
    if isinstance(value, dtype):
        return ("dtype", value.name)
    if isinstance(value, (float, np.floating)):
        return (type(value).__name__, float(value).hex())
    return (type(value).__name__, value)
