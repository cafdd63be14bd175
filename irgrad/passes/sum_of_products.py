"""Sums of matrix products as one product over concatenated operands.

A recurrent network's weight gradient is a sum over time steps:
``dW = h_0^T g_0 + h_1^T g_1 + ... + h_31^T g_31``, each term a product with a short
inner dimension (the batch, 16 in the LSTM benchmark), added up in a chain of 31 adds
of the whole gradient.  The same value is one product with a long inner dimension::

    [h_0^T  h_1^T ... h_31^T] @ [g_0; g_1; ...; g_31]

which a GEMM computes at full speed, with no chain of adds: the operands are
concatenated along the inner dimension (the left ones along their columns, the right
ones along their rows).

The rewrite reassociates a floating-point sum, so it is a lowering pass of the native
backend (a GEMM reassociates its sums anyway), not one of the exact rewrites of
:mod:`.simplify`.  It applies to a tree of ``add`` nodes (each inner add used by its
parent only, none broadcasting: :mod:`.add_trees`) with at least two 2-D ``matmul``
leaves of one dtype; other leaves stay added to the product.
"""

from __future__ import annotations

from ..ir.builder import GraphOps
from ..ir.graph import Graph
from .add_trees import is_sum_root, summands
from .dce import prune

MOST_TERMS = 256  # products merged into one (bounds the concatenations' argument count)


def _is_product(graph: Graph, nid: int, out_type) -> bool:
    node = graph.node(nid)
    if node.op != "matmul" or node.type != out_type or len(node.type.shape) != 2:
        return False
    a, b = (graph.node(x).type for x in graph.args(nid))
    return len(a.shape) == 2 and len(b.shape) == 2 and a.dtype == b.dtype == node.type.dtype


def merge_sums_of_products(graph: Graph) -> Graph:
    """A copy of ``graph`` whose sums of two or more 2-D matrix products are one product."""
    out = graph.copy()
    F = GraphOps(out)
    for root in out.order():
        if root not in out or not is_sum_root(out, root):
            continue
        leaves = summands(out, root)
        root_type = out.node(root).type
        products = [
            leaf
            for leaf in leaves
            if _is_product(out, leaf, root_type) and len(out.users(leaf)) == 1 and leaf not in out.outputs
        ]
        if len(products) < 2:
            continue
        products = products[:MOST_TERMS]
        lefts = [F.value(out.args(p)[0]) for p in products]
        rights = [F.value(out.args(p)[1]) for p in products]
        total = F.matmul(F.cat(*lefts, dim=1), F.cat(*rights, dim=0))
        for leaf in leaves:
            if leaf not in products:
                total = F.add(total, F.value(leaf))
        source = out.node(root).source
        for nid in set(out.nx) - set(graph.nx):
            if out.node(nid).source is None:
                out.node(nid).source = source
        out.replace_uses(root, total.id)
        prune(out, [root])
    return out
