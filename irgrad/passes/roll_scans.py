"""Chains of recurrent scans joined into one scan: a Python loop over a cell, rolled.

A cell (``nn.LSTMCell``, ``GRUCell``, ``RNNCell``) called step by step in a traced
Python loop records a scan of one step per call (``nn/modules/rnn_cells.py``), so the graph,
every pass over it and the native program would grow with the sequence.  A *chain* of
scans (each starting from the state the one before ended in, read through views that
keep the gradient, with the same weights) is one scan over the steps' inputs
concatenated, as ``nn.LSTM`` records it, provided no step's input depends on an earlier
step of the chain (a decoder feeding its output back stays as it is; a chain is cut
before such a step).  Each step's result is then a slice of the joined scan's.  The join
is exact: the joined scan runs the same ops on the same values in the same order.

A traced training step also holds the chain's gradient: one gradient op per step, fed
the gradient of its step's result, which the autograd engine accumulated from the
user's reads of that step and, through the state views, from row ``T`` of the next
step's gradient op (the state's gradient).  That is one gradient op over the joined scan
when each step's incoming gradient is built from the next step's by linear ops only
(the engine's adds and slice gradients): the joined op is fed each step's gradient with
the next step's state gradient taken as zero, since it adds that in itself, and every
read of a step's gradient op reads rows of the joined one.  Otherwise only the forward
is joined, which is still right.

What a scan threads from step to step is its registry entry's ``recurrence``.
"""

from __future__ import annotations

import math

import numpy as np

from ..ir.builder import GraphOps
from ..ir.graph import Graph
from ..ops import OPS, Kind, Recurrence
from .dce import prune

MOST_VIEWS = 8  # view ops between a scan and the next one's state (the cell's narrows and reshapes)
MOST_POSITIONS = 1 << 22  # a larger scan result is not traced through views (memory: its positions)


def roll_scans(graph: Graph) -> Graph:
    """A copy of ``graph`` whose chains of scans are each one scan (or ``graph`` itself
    when it has no two forward scans)."""
    if sum(_recurrence(graph, nid) is not None for nid in graph.nx) < 2:
        return graph
    out = graph.copy()
    for chain in _chains(out):
        while len(chain) >= 2:
            joinable = _independent_prefix(out, chain)
            if joinable >= 2:
                out = _join(out, chain[:joinable])
            chain = chain[max(joinable, 1) :]
    return out


def _recurrence(graph: Graph, nid: int) -> Recurrence | None:
    """The recurrence of a forward scan node (a reversed scan runs its chain backwards)."""
    node = graph.node(nid)
    op = OPS.get(node.op)
    if op is None or op.recurrence is None or node.attrs.get("reverse"):
        return None
    return op.recurrence


def _state_source(graph: Graph, nid: int) -> tuple[int, int] | None:
    """``(scan, k)`` where ``nid`` is exactly state ``k`` after the last step of ``scan``,
    read through ops that only move elements and keep the gradient; None otherwise.
    The ops are applied to the scan's element positions, so any chain of them (slices,
    reshapes, permutes, a layer's states stacked) is recognised by what it selects, not
    by its form."""
    views = []
    while _recurrence(graph, nid) is None:
        node = graph.node(nid)
        op = OPS.get(node.op)
        args = graph.args(nid)
        if op is None or not _moves(op) or len(args) != 1 or len(views) == MOST_VIEWS:
            return None
        views.append(node)
        nid = args[0]
    scan = graph.node(nid)
    recurrence = _recurrence(graph, nid)
    width = graph.node(graph.args(nid)[recurrence.states[0]]).type.shape[-1]
    size = math.prod(scan.type.shape)
    if size > MOST_POSITIONS:
        return None
    positions = np.arange(1, 1 + size, dtype=np.int32).reshape(scan.type.shape)  # 0: a filled zero
    picked = positions
    for view in reversed(views):
        picked = OPS[view.op].eval(picked, **view.attrs)
    last = positions[-1]
    for k in range(len(recurrence.states)):
        state = last[..., k * width : (k + 1) * width]
        if picked.shape == state.shape and np.array_equal(picked, state):
            return nid, k
    return None


def _moves(op) -> bool:
    """Whether a one-argument op only moves its argument's elements (a view, a copy, a
    concatenation of one tensor; zeros filled in are told apart), keeping the gradient."""
    return op.kind is Kind.MOVEMENT and op.is_linear and op.differentiable


def _chains(graph: Graph) -> list[list[int]]:
    """Every maximal chain of scans, in step order: a scan follows another when each of
    its states is that scan's state after its last step, and every other argument (the
    weights) is the same node.  A scan two scans follow starts no chain."""
    follower: dict[int, list[int]] = {}
    for nid in graph.order():
        recurrence = _recurrence(graph, nid)
        if recurrence is None:
            continue
        args = graph.args(nid)
        sources = [_state_source(graph, args[i]) for i in recurrence.states]
        if None in sources:
            continue
        before = sources[0][0]
        if sources == [(before, k) for k in range(len(sources))] and _alike(graph, before, nid, recurrence):
            follower.setdefault(before, []).append(nid)
    nxt = {before: after[0] for before, after in follower.items() if len(after) == 1}
    followed = set(nxt.values())
    chains = []
    for head in nxt:
        if head in followed:
            continue
        chain = [head]
        while chain[-1] in nxt:
            chain.append(nxt[chain[-1]])
        chains.append(chain)
    return chains


def _alike(graph: Graph, a: int, b: int, recurrence: Recurrence) -> bool:
    """Whether scans ``a`` and ``b`` are one op with one set of attributes and weights,
    over steps of one shape."""
    na, nb = graph.node(a), graph.node(b)
    args_a, args_b = graph.args(a), graph.args(b)
    fixed = [i for i in range(1, len(args_a)) if i not in recurrence.states]
    xa, xb = graph.node(args_a[0]).type, graph.node(args_b[0]).type
    return (
        na.op == nb.op
        and na.attrs == nb.attrs
        and all(args_a[i] == args_b[i] for i in fixed)
        and xa.dtype == xb.dtype
        and tuple(xa.shape[1:]) == tuple(xb.shape[1:])
    )


def _independent_prefix(graph: Graph, chain: list[int]) -> int:
    """How many of ``chain``'s first scans can be joined: up to the first whose input
    depends on an earlier scan of the chain (joined, it would be needed before it is
    computed)."""
    reach = _reach(graph, chain)
    for k, scan in enumerate(chain):
        if min(reach.get(graph.args(scan)[0], (k,))) < k:
            return k
    return len(chain)


def _reach(graph: Graph, members: list[int]) -> dict[int, frozenset]:
    """For every node computed from ``members`` (a chain's scans, or their gradient ops):
    which of them, by index, it is computed from, a member's own arguments not looked
    through.  A dependence on an earlier member always shows: the member nearest the node
    on that path comes before every member the node feeds, or the graph had a cycle."""
    index = {m: k for k, m in enumerate(members)}
    reach: dict[int, frozenset] = {}
    started = False
    for nid in graph.order():
        started = started or nid in index
        if not started:
            continue
        if nid in index:
            reach[nid] = frozenset((index[nid],))
            continue
        found = frozenset().union(*(reach.get(a, frozenset()) for a in graph.args(nid)))
        if found:
            reach[nid] = found
    return reach


def _join(graph: Graph, chain: list[int]) -> Graph:
    """``graph`` with ``chain`` joined into one scan, and its gradient ops into one where
    they can be (on a copy, kept only if every per-step gradient op is gone)."""
    gradients = _gradient_ops(graph, chain)
    first = graph.node(chain[0])
    F = GraphOps(graph)
    fixed_args = graph.args(chain[0])[1:]
    inputs = [graph.args(scan)[0] for scan in chain]
    joined_input = F.cat(*(F.value(x) for x in inputs), dim=0)
    joined = F.apply(first.op, (joined_input, *(F.value(a) for a in fixed_args)), dict(first.attrs))
    created = [joined_input.id, joined.id]
    starts = _starts(graph, inputs)
    for scan, start, stop in zip(chain, starts, starts[1:]):
        step = F.slice(joined, index=(slice(start, stop, 1),))
        created.append(step.id)
        graph.replace_uses(scan, step.id)
    graph.set_source(created, first.source)
    prune(graph, chain)
    if gradients is not None:
        trial = graph.copy()
        if _join_gradients(trial, gradients, joined.id, fixed_args, starts):
            return trial
    return graph


def _starts(graph: Graph, inputs: list[int]) -> list[int]:
    """Where each scan's steps start in the joined scan, and the total at the end."""
    starts = [0]
    for x in inputs:
        starts.append(starts[-1] + graph.node(x).type.shape[0])
    return starts


def _gradient_ops(graph: Graph, chain: list[int]) -> list[int] | None:
    """Each scan's gradient op, in chain order, or None unless every scan has exactly one
    (``backward(grad, scan, *its arguments)``: a traced training step's backward)."""
    recurrence = _recurrence(graph, chain[0])
    found = []
    for scan in chain:
        args = graph.args(scan)
        expected = [scan, *(args[i] for i in recurrence.backward_args)]
        ops = [
            user
            for user in graph.users(scan)
            if graph.node(user).op == recurrence.backward and graph.args(user)[1:] == expected
        ]
        if len(ops) != 1 or graph.node(ops[0]).attrs != graph.node(chain[0]).attrs:
            return None
        found.append(ops[0])
    return found


def _join_gradients(
    graph: Graph, gradients: list[int], joined: int, fixed_args: list[int], starts: list[int]
) -> bool:
    """Replace the chain's gradient ops by one over the joined scan, in place; whether
    that succeeded (otherwise ``graph`` is left half-rewritten: a discarded copy)."""
    recurrence = OPS[graph.node(joined).op].recurrence
    reach = _reach(graph, gradients)
    own_gradients = []
    for k, gradient in enumerate(gradients):
        incoming = graph.args(gradient)[0]
        later = gradients[k + 1] if k + 1 < len(gradients) else None
        own = _without_state_gradient(graph, incoming, later, k + 1, reach)
        if own is None:
            return False
        own_gradients.append(own)
    F = GraphOps(graph)
    first = graph.node(gradients[0])
    incoming = F.cat(*(F.value(g) for g in own_gradients), dim=0)
    state_args = [fixed_args[i - 1] for i in recurrence.backward_args]
    result = F.apply(
        recurrence.backward,
        (incoming, F.value(joined), *(F.value(a) for a in state_args)),
        dict(first.attrs),
    )
    created = [incoming.id, result.id]
    total = starts[-1]
    for k, gradient in enumerate(gradients):
        steps = starts[k + 1] - starts[k]
        for user in graph.users(gradient):
            index = _rows_of_joined(graph, user, steps, starts[k], total if k == 0 else None)
            if index is None:
                continue  # reads the state gradient passed to the step before: dies below
            read = F.slice(F.value(result.id), index=index)
            created.append(read.id)
            graph.replace_uses(user, read.id)
    graph.set_source(created, first.source)
    prune(graph, [u for g in gradients for u in graph.users(g)] + gradients)
    return not any(g in graph for g in gradients)


def _without_state_gradient(
    graph: Graph, incoming: int, later: int | None, later_index: int, reach: dict
) -> int | None:
    """``incoming`` (a step's gradient) with the state gradient that the ``later``
    gradient op passed back taken as zero: the same linear ops, rebuilt with each read
    of ``later``'s state row as zero (and zeros carried through: a linear op of zeros is
    zero, ``u + 0`` is ``u``).  None when ``incoming`` depends on a gradient op
    otherwise (a step's input computed from an earlier step's state)."""
    if not reach.get(incoming):
        return incoming
    if reach[incoming] != frozenset((later_index,)):
        return None
    F = GraphOps(graph)

    def materialized(nid: int) -> int:
        value = rebuilt[nid]
        if value is not _ZERO:
            return value
        node = graph.node(nid)
        return F.broadcast_to(F.constant(0.0, node.type.dtype), shape=tuple(node.type.shape)).id

    rebuilt: dict[int, object] = {}
    stack = [incoming]
    while stack:
        nid = stack[-1]
        if nid in rebuilt:
            stack.pop()
            continue
        node = graph.node(nid)
        args = graph.args(nid)
        if later in args:
            if args != [later] or not _reads_state_row(graph, nid, _steps_of(graph, later)):
                return None  # reads the later step's gate gradients, not only its state's
            rebuilt[nid] = _ZERO
            stack.pop()
            continue
        if not OPS[node.op].is_linear:
            return None
        pending = [a for a in args if reach.get(a) and a not in rebuilt]
        if pending:
            stack.extend(pending)
            continue
        stack.pop()
        zeros = [bool(reach.get(a)) and rebuilt[a] is _ZERO for a in args]
        if all(zeros):
            rebuilt[nid] = _ZERO
            continue
        kept = [a for a, zero in zip(args, zeros) if not zero]
        if (
            node.op == "add"
            and len(kept) == 1
            and graph.node(_new(rebuilt, reach, kept[0])).type == node.type
        ):
            rebuilt[nid] = _new(rebuilt, reach, kept[0])  # u + 0
            continue
        new_args = [materialized(a) if zero else _new(rebuilt, reach, a) for a, zero in zip(args, zeros)]
        rebuilt[nid] = graph.add_op(node.op, new_args, dict(node.attrs), node.type, node.source)
    return materialized(incoming)


_ZERO = object()  # a rebuilt value that is all zeros (made into a node only where read)


def _new(rebuilt: dict, reach: dict, nid: int) -> int:
    """The node that stands for ``nid`` in the rebuilt gradient."""
    return rebuilt[nid] if reach.get(nid) else nid


def _steps_of(graph: Graph, gradient: int) -> int:
    return graph.node(gradient).type.shape[0] - 1


def _row_range(graph: Graph, read: int, steps: int) -> tuple[int, int, bool] | None:
    """``(begin, end, single)``: the rows of a gradient op (``steps`` rows and the state
    row) that ``read``, a ``slice`` of it, takes (``single``: one row, its dim dropped);
    None where ``read`` is not such a slice."""
    node = graph.node(read)
    index = node.attrs.get("index", ())
    if node.op != "slice" or not index:
        return None
    rows = index[0]
    if isinstance(rows, (int, np.integer)):
        row = int(rows) + (steps + 1 if rows < 0 else 0)
        return row, row + 1, True
    if not isinstance(rows, slice):
        return None
    begin, end, stride = rows.indices(steps + 1)
    if stride != 1 or end <= begin:
        return None
    return begin, end, False


def _reads_state_row(graph: Graph, read: int, steps: int) -> bool:
    return _row_range(graph, read, steps) in ((steps, steps + 1, True), (steps, steps + 1, False))


def _rows_of_joined(graph: Graph, read: int, steps: int, start: int, state_row: int | None):
    """The index that reads from the joined gradient op what ``read`` (a ``slice`` of one
    step's gradient op) reads from its own: its rows shifted by ``start``, or its state
    row moved to ``state_row``.  None where it reads the state row and ``state_row`` is
    None, or is not such a slice."""
    rows = _row_range(graph, read, steps)
    if rows is None:
        return None
    begin, end, single = rows
    rest = tuple(graph.node(read).attrs["index"][1:])
    if end <= steps:
        first = start + begin
    elif begin == steps and state_row is not None:
        first = state_row
    else:
        return None
    return (first if single else slice(first, first + end - begin, 1), *rest)
