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
leaves of one dtype, or two transposed ones (``permute(matmul(a, b), dims=(1, 0))``, the
form a step-by-step cell's weight gradient takes); other leaves stay added to the product.
"""

from __future__ import annotations

from ..ir.builder import GraphOps
from ..ir.graph import Graph
from .add_trees import is_sum_root, summands
from .dce import prune

MOST_TERMS = 256  # products merged into one (bounds the concatenations' argument count)


def _product_args(graph: Graph, nid: int, out_type, transposed: bool) -> tuple[int, int] | None:
    """``(a, b)`` where the single-use term ``nid`` (of the sum's type) is ``a @ b``, or,
    with ``transposed``, ``(a @ b).T``; None where it is not such a 2-D product."""
    if len(graph.users(nid)) != 1 or nid in graph.outputs:
        return None
    node = graph.node(nid)
    if transposed:
        if node.op != "permute" or node.attrs.get("dims") != (1, 0) or node.type != out_type:
            return None
        nid = graph.args(nid)[0]
        if len(graph.users(nid)) != 1 or nid in graph.outputs:
            return None
        node = graph.node(nid)
        out_type = None
    if node.op != "matmul" or len(node.type.shape) != 2 or (out_type is not None and node.type != out_type):
        return None
    a, b = graph.args(nid)
    ta, tb = graph.node(a).type, graph.node(b).type
    if len(ta.shape) != 2 or len(tb.shape) != 2 or not ta.dtype == tb.dtype == node.type.dtype:
        return None
    return a, b


def merge_sums_of_products(graph: Graph) -> Graph:
    """A copy of ``graph`` whose sums of two or more 2-D matrix products are one product.

    Transposed products (``(a @ b).T``, which the gradient of ``h @ W.T`` with respect to
    ``W`` is) merge among themselves, as the transpose of one product.  Sums that
    concatenate the same operands share one concatenation: a recurrent cell called step
    by step sums ``x_t @ W_ih.T + h @ W_hh.T`` at every step, and the weights'
    concatenation is then built once per run, not once per step."""
    out = graph.copy()
    F = GraphOps(out)
    concatenations: dict[tuple, int] = {}

    def concatenated(ids: list[int], dim: int, created: list[int]) -> int:
        key = (tuple(ids), dim)
        if key not in concatenations:
            concatenations[key] = F.cat(*(F.value(i) for i in ids), dim=dim).id
            created.append(concatenations[key])
        return concatenations[key]

    for root in out.order():
        if root not in out or not is_sum_root(out, root):
            continue
        leaves = summands(out, root)
        root_type = out.node(root).type
        created: list[int] = []
        merged: set[int] = set()
        terms = []
        for transposed in (False, True):
            found = {leaf: _product_args(out, leaf, root_type, transposed) for leaf in leaves}
            products = [leaf for leaf in leaves if found[leaf] is not None][:MOST_TERMS]
            if len(products) < 2:
                continue
            left = concatenated([found[p][0] for p in products], 1, created)
            right = concatenated([found[p][1] for p in products], 0, created)
            product = F.matmul(F.value(left), F.value(right))
            created.append(product.id)
            if transposed:
                product = F.permute(product, dims=(1, 0))
                created.append(product.id)
            terms.append(product)
            merged.update(products)
        if not terms:
            continue
        total = terms[0]
        for term in terms[1:] + [F.value(leaf) for leaf in leaves if leaf not in merged]:
            total = F.add(total, term)
            created.append(total.id)
        out.set_source(created, out.node(root).source)
        out.replace_uses(root, total.id)
        prune(out, [root])
    return out
