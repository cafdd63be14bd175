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
from ..ops import OPS, Kind
from .add_trees import is_plain_add, is_sum_root, summands
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


def _viewed_from(graph: Graph, nid: int) -> tuple[int, ...]:
    """The chain of views that ``nid`` is, from the value it views to itself (node ids
    in program order: the step a slice takes comes before the permute of it)."""
    chain = [nid]
    while graph.node(chain[-1]).op in OPS and OPS[graph.node(chain[-1]).op].view is not None:
        chain.append(graph.args(chain[-1])[0])
    return tuple(reversed(chain))


def _feeds_sums(graph: Graph, nid: int) -> bool:
    """Whether every use of ``nid`` is a term of a sum or a linear movement op (a slice
    of it that a sum's term is): other uses of a per-step sum that merge the same way.
    A GRU cell loop's bias row sums are both: each step's row sum is added up for one
    bias's gradient and sliced for the other's."""
    if nid in graph.outputs:
        return False
    return all(
        is_plain_add(node) or _linear_movement(node)
        for node in (graph.node(user) for user in graph.users(nid))
    )


def _linear_movement(node) -> bool:
    """Whether ``node`` is a linear movement op (a slice, a ``slice_grad``, a reshape)."""
    op = OPS.get(node.op)
    return op is not None and op.kind is Kind.MOVEMENT and op.is_linear


def _summed(graph: Graph, leaf: int) -> tuple | None:
    """``(x, dims, keepdim, shape)`` where the term ``leaf`` is ``sum(x, dims, keepdim)``
    reduced over at least one dim, reshaped to ``shape`` (or not: None); None where it
    is no such sum, or one with a use that is no sum's (see :func:`_feeds_sums`):
    its merged terms would then be reduced twice."""
    shape = None
    node = graph.node(leaf)
    if node.op == "reshape" and _feeds_sums(graph, leaf):
        shape, leaf = node.attrs["shape"], graph.args(leaf)[0]
        node = graph.node(leaf)
    if node.op != "sum" or not node.attrs["dims"]:
        return None
    if shape is not None and len(graph.users(leaf)) != 1:
        return None  # read by the reshape and by something else
    if shape is None and not _feeds_sums(graph, leaf):
        return None
    return graph.args(leaf)[0], node.attrs["dims"], node.attrs["keepdim"], shape


def _sums_alike(graph: Graph, leaves: list[int]) -> list[tuple[tuple, list[int]]]:
    """The terms that are sums over the same dims of views of one value (see
    :func:`_summed`), two or more (at most :data:`MOST_TERMS`) to a group, each group as
    ``((dims, keepdim, shape), the summed values)`` in program order of those values: a
    cell's steps, whose concatenation is a slice of that value again (stack_steps), so
    one reduction replaces a reduction and an add per step.  (Sums of unrelated values
    stay apart: concatenating them would copy them.)"""
    groups: dict[tuple, list[tuple]] = {}
    for leaf in leaves:
        found = _summed(graph, leaf)
        if found is None:
            continue
        x, dims, keepdim, shape = found
        chain = _viewed_from(graph, x)
        if len(chain) > 1:
            groups.setdefault((chain[0], graph.node(x).type, dims, keepdim, shape), []).append(
                (chain, leaf, x)
            )
    return [
        (key[2:], [(leaf, x) for _, leaf, x in sorted(group)[:MOST_TERMS]])
        for key, group in groups.items()
        if len(group) >= 2
    ]


def _moved_alike(graph: Graph, leaves: list[int]) -> list[list[int]]:
    """The terms that one linear movement op of one argument (a slice, a ``slice_grad``,
    a reshape) makes with the same attributes from arguments of one type, used by
    nothing but sums (:func:`_feeds_sums`), two or more to a group: ``f(a) + f(b)`` is
    ``f(a + b)``, the same values (``slice_grad``'s zeros add up to zeros) from a smaller
    sum, whose terms may merge in turn (a GRU cell loop's bias gradient: per step, slices
    of a row sum put in place)."""
    groups: dict[tuple, list[int]] = {}
    for leaf in leaves:
        node = graph.node(leaf)
        if not _linear_movement(node) or len(graph.args(leaf)) != 1 or not _feeds_sums(graph, leaf):
            continue
        key = (node.op, repr(sorted(node.attrs.items())), graph.node(graph.args(leaf)[0]).type)
        groups.setdefault(key, []).append(leaf)
    return [group for group in groups.values() if len(group) >= 2]


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

    reductions: dict[tuple, int] = {}

    def reduced(joined: int, dims: tuple, keepdim: bool, shape, created: list[int]) -> int:
        """``sum(joined, dims, keepdim)`` reshaped to ``shape``, made once: two sums of
        the same per-step terms (a GRU's two biases) share it."""
        key = (joined, dims, keepdim, shape)
        if key not in reductions:
            term = F.sum(F.value(joined), dims=dims, keepdim=keepdim)
            created.append(term.id)
            if shape is not None:
                term = F.reshape(term, shape=shape)
                created.append(term.id)
            reductions[key] = term.id
        return reductions[key]

    work = out.order()[::-1]
    while work:
        root = work.pop()
        if root not in out or not is_sum_root(out, root):
            continue
        leaves = summands(out, root)
        root_type = out.node(root).type
        created: list[int] = []
        merged: set[int] = set()
        terms = []
        for transposed in (False, True):
            found = {leaf: _product_args(out, leaf, root_type, transposed) for leaf in leaves}
            # in program order of what the left operands view: a loop's steps in time
            # order, so the concatenations are of consecutive steps, which stack_steps joins
            products = [leaf for leaf in leaves if found[leaf] is not None][:MOST_TERMS]
            products.sort(key=lambda leaf: _viewed_from(out, found[leaf][0]))
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
        for (dims, keepdim, shape), group in _sums_alike(
            out, [leaf for leaf in leaves if leaf not in merged]
        ):
            joined = concatenated([x for _, x in group], dims[0], created)
            terms.append(F.value(reduced(joined, dims, keepdim, shape, created)))
            merged.update(leaf for leaf, _ in group)
        for group in _moved_alike(out, [leaf for leaf in leaves if leaf not in merged]):
            inner = F.value(out.args(group[0])[0])
            for leaf in group[1:]:
                inner = F.add(inner, F.value(out.args(leaf)[0]))
                created.append(inner.id)
            work.append(inner.id)  # a sum of its own, merged in turn
            node = out.node(group[0])
            term = F.apply(node.op, [inner], node.attrs)
            created.append(term.id)
            terms.append(term)
            merged.update(group)
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
