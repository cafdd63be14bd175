"""Inputs a program updates in place: the new value written straight into the input.

A compiled training step returns each updated parameter and optimizer state (``new``,
or ``rebind(new, old)`` for a tensor that keeps its autograd identity) as an output the
runtime copies into the tensor's storage after the call (a *write-back*).  When ``new``
is computed by an elementwise loop, the loop can write it into ``old``'s storage
instead, and the copy (and the result's allocation) is saved.  That is safe when:

* nothing reads ``old`` after the loop, except the loop itself at the very position it
  writes (an elementwise op on operands of one shape reads position i before writing
  it; each chunk of a split loop owns its positions); readers of ``new`` read it from
  ``old``'s storage;
* nothing returns or saves ``old``, ``new`` or a view of them;
* no step that could fail comes after the loop (a numpy step, or a native one that
  hands the call to the interpreter, which reruns it from the inputs);
* no other input shares ``old``'s memory (:class:`~.program.Program` checks that at
  each call, and runs such a call in the interpreter).
"""

from __future__ import annotations

from ..ir.graph import RESULT, Graph
from ..ops import OPS, Kind
from ..passes.memory import VIEW_OPS
from .elementwise import ElementwiseLoops
from .emission import Lowering
from .multi_loops import MultiLoops
from .steps import LoopLowering


def candidates(
    graph: Graph, lowerings: dict[int, Lowering], write_backs: dict[int, int]
) -> dict[int, tuple[int, set[int]]]:
    """``{new: (old, readers)}`` for every write-back (output position -> input
    position) whose value ``new`` an elementwise loop could write into the input ``old``
    (the output is ``new`` or ``rebind(new, old)``): ``readers`` are the other steps
    reading ``old`` (or a view of it), which the schedule must run first."""
    outputs = graph.outputs
    found: dict[int, tuple[int, set[int]]] = {}
    ordered = None  # the data edges and the ordering constraints chosen so far (made when needed)
    for out_position, in_position in write_backs.items():
        out, old = outputs[out_position], graph.inputs[in_position]
        new = out
        if graph.node(out).op == "rebind" and graph.args(out)[1] == old:
            new = graph.args(out)[0]
        # returned once, as this write-back, and not through a view either (a returned
        # or saved view would alias the input, whose next update would change it)
        if outputs.count(out) != 1 or any(v in outputs for v in _views(graph, new) - {out}):
            continue
        step = writer(graph, new)
        if not _elementwise_loop(lowerings.get(step)) or graph.node(new).type != graph.node(old).type:
            continue
        if not _reads_in_step(graph, step, old, lowerings[step]):
            continue
        readers = _other_readers(graph, old, step, out)
        if readers is not None and ordered is None:
            import networkx as nx  # (imported on first use: see irgrad.ir.graph.dataflow_graph)

            ordered = nx.DiGraph(graph.nx)
        if readers is None or readers & nx.descendants(ordered, step):
            # a step reading the old value after the new one (itself, or through another
            # update's ordering: x' = x + v, v' = v - x): no order serves both
            continue
        found[new] = (old, readers)
        ordered.add_edges_from((reader, step) for reader in readers)
    return found


def writer(graph: Graph, new: int) -> int:
    """The node whose step writes ``new``: its fused group when it is a later result."""
    return graph.args(new)[0] if graph.node(new).op == RESULT else new


def ordering(graph: Graph, found: dict) -> dict[int, set[int]]:
    """The schedule's constraints for ``found``: per writing step, the steps to run first."""
    first: dict[int, set[int]] = {}
    for new, (_, readers) in found.items():
        first.setdefault(writer(graph, new), set()).update(readers)
    return first


def written_in_place(
    graph: Graph, order: list[int], lowerings: dict[int, Lowering], found: dict
) -> dict[int, int]:
    """``{new: old}``: the :func:`candidates` ``found`` that ``order`` (the schedule)
    makes safe: every other reader of ``old`` runs before ``new``'s step, and no step
    that could fail runs after it."""
    position = {nid: k for k, nid in enumerate(order)}
    # a step whose failure would leave the input half updated: a native one that hands
    # the call to the interpreter, and any numpy step (it may raise)
    fallible = [
        position[n]
        for n in order
        if graph.node(n).is_op
        and (lowerings[n].may_fail if n in lowerings else graph.node(n).op not in (*VIEW_OPS, RESULT))
    ]
    last_fallible = max(fallible, default=-1)
    chosen = {}
    for new, (old, readers) in found.items():
        at = position.get(writer(graph, new), -1)
        if at > last_fallible and all(position.get(r, -1) < at for r in readers):
            chosen[new] = old
    return chosen


def _elementwise_loop(lowering: Lowering | None) -> bool:
    return isinstance(lowering, LoopLowering) and isinstance(lowering.loops, (ElementwiseLoops, MultiLoops))


def _views(graph: Graph, nid: int) -> set[int]:
    """``nid`` and the views of it (through view ops, transitively)."""
    views, stack = {nid}, [nid]
    while stack:
        for user in graph.users(stack.pop()):
            if user not in views and graph.node(user).op in VIEW_OPS:
                views.add(user)
                stack.append(user)
    return views


def _other_readers(graph: Graph, old: int, new: int, out: int) -> set[int] | None:
    """The steps other than ``new`` (the writing step) that read ``old`` or a view of it;
    None when one of those is an output (returned or saved: it must keep the old values)
    or when ``new`` reads ``old`` through a view (not position for position)."""
    views = _views(graph, old) - {out}
    if any(v in graph.outputs for v in views):
        return None
    readers = set()
    for v in views:
        for user in graph.users(v):
            if user == out or user in views:
                continue
            if user == new:
                if v != old:
                    return None
            else:
                readers.add(user)
    return readers


def _reads_in_step(graph: Graph, step: int, old: int, lowering: LoopLowering) -> bool:
    """Whether ``step``'s loop reads ``old`` only at the position it writes: as an
    operand of the loop's shape, used only by elementwise ops of the body (or, in a
    loop with several results, by a reduction over the loop, which reads each position
    once, before the loop writes it)."""
    args = graph.args(step)
    if old not in args:
        return True
    loops = lowering.loops
    space = loops.space if isinstance(loops, MultiLoops) else tuple(graph.node(step).type.shape)
    body = loops.body
    for k, a in enumerate(args):
        if a != old:
            continue
        inner = body.inputs[k]
        if tuple(body.node(inner).type.shape) != space:
            return False
        for user in body.users(inner):
            op = OPS.get(body.node(user).op)
            if isinstance(loops, MultiLoops) and op is not None and op.reduction is not None:
                continue
            if op is None or op.kind is not Kind.ELEMENTWISE:
                return False
            if any(
                tuple(body.node(x).type.shape) not in ((), tuple(body.node(user).type.shape))
                for x in body.args(user)
            ):
                return False  # broadcast against a larger operand: not position for position
    return True
