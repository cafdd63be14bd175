"""Per-step work that a ``cat`` joins, done once over all the steps.

A Python loop over time steps, traced, records its per-step work once per step.  Where
the steps' values meet in a ``cat`` (the roll pass concatenates an ``LSTMCell`` loop's
per-step input projections ``x[:, t] @ W_ih.T + b`` for its joined scan; the backward
concatenates each step's input for the weight gradient), this pass sinks the cat
through the op that computed them, by the op's ``OpDef.stack`` rule (see
:mod:`irgrad.ops.stacking`): ``cat_t(x[:, t] @ W + b)`` becomes
``cat_t(x[:, t]) @ W + b`` and ``cat_t(x[:, t])`` a permute of ``x`` itself, so T small
matmuls become one and the graph stops growing with T there.

A cat is sunk through a run of two or more of its arguments made by the same op, of one
shape, and, for an op that computes (not a view), only where the cat is their only use:
the per-step work then disappears rather than being done twice.  The cats a rule
creates are sunk in turn; dead per-step nodes are pruned.
"""

from __future__ import annotations

from ..ir.builder import GraphOps
from ..ir.graph import CONSTANT, Graph
from ..ops import OPS
from .cse import value_key
from .dce import prune


def stack_steps(graph: Graph) -> Graph:
    """A copy of ``graph`` with every sinkable ``cat`` sunk (``graph`` itself when none is)."""
    if not any(_runs(graph, nid) for nid in graph.nx):
        return graph
    out = graph.copy()
    F = GraphOps(out)
    work = [nid for nid in out.order() if out.node(nid).op == "cat"]
    while work:
        nid = work.pop()
        if nid not in out:
            continue
        runs = _runs(out, nid)
        if not runs:
            continue
        before = set(out.nx)
        pieces = _pieces(out, F, nid, runs)
        if pieces is None:
            prune(out, set(out.nx) - before)
            continue
        node = out.node(nid)
        value = pieces[0] if len(pieces) == 1 else F.cat(*pieces, dim=node.attrs["dim"])
        if value.type != node.type:
            raise RuntimeError(f"stack_steps: the sunk cat is {value.type}, the cat {node.type}")
        created = set(out.nx) - before
        out.set_source(created, node.source)
        args = out.args(nid)
        out.replace_uses(nid, value.id)
        out.remove(nid)
        prune(out, args)
        work.extend(n for n in sorted(created) if n in out and n != value.id and out.node(n).op == "cat")
    return out


def _runs(graph: Graph, nid: int) -> list[tuple[int, int]]:
    """The ``(start, stop)`` positions of the arguments of the cat ``nid`` that a stack
    rule may join: two or more in a row of one shape, made by one op that has a rule
    (and used by nothing but this cat, for an op that computes)."""
    if graph.node(nid).op != "cat" or not graph.node(nid).type.is_static:
        return []
    args = graph.args(nid)
    runs, start = [], 0
    for k in range(1, len(args) + 1):
        if k == len(args) or not _alike(graph, args[start], args[k]):
            if k - start >= 2 and all(_joinable(graph, a, nid) for a in args[start:k]):
                runs.append((start, k))
            start = k
    return runs


def _alike(graph: Graph, a: int, b: int) -> bool:
    first, other = graph.node(a), graph.node(b)
    return first.op == other.op and first.type == other.type


def _joinable(graph: Graph, arg: int, cat: int) -> bool:
    op = OPS.get(graph.node(arg).op)
    if op is None or op.stack is None:
        return False
    return op.view is not None or set(graph.users(arg)) == {cat}


def _pieces(graph: Graph, F: GraphOps, nid: int, runs: list) -> list | None:
    """The cat's arguments with each run replaced by its stack rule's value (None when no
    rule applied).  A rule sees steps whose arguments have one type per position."""
    args = graph.args(nid)
    dim = graph.node(nid).attrs["dim"]
    pieces: list = []
    joined = False
    constants: dict = {}  # equal constants as one node: a traced loop makes its zeros at every step
    position = 0
    for start, stop in runs:
        pieces += [F.value(a) for a in args[position:start]]
        made = [graph.node(a) for a in args[start:stop]]
        steps = [
            [F.value(constants.setdefault(_constant_key(graph, x), x)) for x in graph.args(a)]
            for a in args[start:stop]
        ]
        rule = OPS[made[0].op].stack
        alike = all(len({value.type for value in column}) == 1 for column in zip(*steps))
        value = (
            rule(F, made[0].op, dim, steps, [m.attrs for m in made], made[0].type.shape) if alike else None
        )
        joined |= value is not None
        pieces += [value] if value is not None else [F.value(a) for a in args[start:stop]]
        position = stop
    pieces += [F.value(a) for a in args[position:]]
    return pieces if joined else None


def _constant_key(graph: Graph, nid: int):
    """What makes the constant ``nid`` equal to another (cse's key; its node id for any
    other node)."""
    node = graph.node(nid)
    return value_key(graph, node, nid) if node.op == CONSTANT else nid
