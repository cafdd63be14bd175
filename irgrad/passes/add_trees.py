"""Trees of plain adds: the sums that lowering passes rewrite as a whole.

A tree is a maximal set of ``add`` nodes (no ``alpha``, no broadcasting: every argument
has the sum's type), each inner one used only by its parent; its leaves are the terms.
:mod:`.sum_of_products` and :mod:`.slice_gradients` rewrite such sums.
"""

from __future__ import annotations

from ..ir.graph import Graph, Node


def is_plain_add(node: Node) -> bool:
    """An ``add`` without ``alpha``: a term of a sum."""
    return node.op == "add" and not node.attrs


def is_sum_root(graph: Graph, nid: int) -> bool:
    """Whether ``nid`` is a plain add no larger tree of adds absorbs."""
    node = graph.node(nid)
    if not is_plain_add(node):
        return False
    users = graph.users(nid)
    if len(users) != 1 or nid in graph.outputs:
        return True
    user = graph.node(users[0])
    return not (is_plain_add(user) and user.type == node.type)


def summands(graph: Graph, root: int) -> list[int]:
    """The terms (leaves, in order) of the tree of plain adds rooted at ``root``."""
    kind = graph.node(root).type
    leaves, stack = [], [root]
    while stack:
        nid = stack.pop()
        node = graph.node(nid)
        inner = nid == root or (len(graph.users(nid)) == 1 and nid not in graph.outputs)
        if inner and is_plain_add(node) and all(graph.node(a).type == kind for a in graph.args(nid)):
            stack.extend(reversed(graph.args(nid)))
        else:
            leaves.append(nid)
    return leaves
