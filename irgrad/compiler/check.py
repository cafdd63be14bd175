"""``irgrad.compile(..., check=True)``: run eager beside compiled on every call, and say where they part.

A checked call runs the compiled graph, records what it returned and every tensor and
slot it changed, rolls the world back (tensor data, rebound slots, the random
generator), and runs the function eagerly under the tracer, which records the eager
value of every node.  Any difference raises :class:`CompileCheckError` naming the
first node of the cached graph whose value differs from eager execution, with its
source line: the graph is interpreted node by node on the call's inputs and paired
with the fresh trace node by node (the same program creates its nodes in the same
order).  When every traced node agrees, the culprit is an optimisation pass or the
backend, found by re-running the passes one at a time.  The world is left as the
eager call leaves it, and the eager result is returned.
"""

from __future__ import annotations

import numpy as np

from ..ir import Graph, node_values
from ..passes.pipeline import default_passes
from ..random import get_rng_state, set_rng_state
from ..tensor import Tensor
from ..utils.pytree import flatten
from . import runtime
from .capture import capture
from .sources import delete, describe, read, write
from .state import follow
from .state_changes import MISSING


class CompileCheckError(AssertionError):
    """A compiled call disagreed with eager execution (``check=True``)."""


def _observe(value) -> list:
    """Comparable copies of a returned structure's tensors (and its other leaves)."""
    leaves, _ = flatten(value, lambda x: isinstance(x, Tensor))
    return [t._data.copy() for t in leaves]


def agree(want: np.ndarray, got: np.ndarray, rtol: float, atol: float) -> bool:
    """Whether ``got`` is ``want`` up to rounding: elementwise within ``rtol`` and an
    absolute tolerance of ``atol`` plus 256 ulps of ``want``'s largest finite magnitude.

    The second part is what a sum's rounding depends on: an element of a product with a
    long ``k`` that cancels to near zero carries the rounding of its large terms (a
    float32 32x25088 @ 25088x9 product differs from numpy's by 2e-4 on elements of 0.01),
    which no per-element tolerance allows without allowing everything."""
    want, got = np.asarray(want), np.asarray(got)
    if want.dtype.kind not in "fc" or want.size == 0:
        return bool(np.array_equal(want, got))
    finite = np.abs(want[np.isfinite(want)])
    scale = float(finite.max()) if finite.size else 0.0
    slack = atol + 256 * float(np.finfo(want.dtype).eps) * scale
    return bool(np.allclose(want, got, rtol=rtol, atol=slack, equal_nan=True))


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.dtype.kind in "fc":
        return agree(a, b, rtol=1e-4, atol=1e-6) and bool((np.isnan(a) == np.isnan(b)).all())
    return bool(np.array_equal(a, b))


def _slot_value(holder, step):
    try:
        value = read(holder, step)
    except (KeyError, AttributeError, IndexError):
        return MISSING
    return value


def checked_call(compiled, entry, roots: tuple, inputs: list, args: tuple, kwargs: dict):
    """One call with ``check=True`` (see the module doc)."""
    cap = entry.capture
    arrays = [t._data.copy() for t in inputs]
    written = [(inputs[pos], inputs[pos]._data.copy(), inputs[pos]._version) for pos in cap.mutated]
    slots = []
    rebound = [(replay.holder, replay.step) for replay in cap.replays]
    rebound += [slot for deferred in cap.deferred for slot in deferred.rebound]  # a scheduler's step
    for node, step in rebound:
        holder = follow(roots, node.path)
        slots.append((holder, step, _slot_value(holder, step)))
    rng = get_rng_state()

    result = runtime.run(entry, roots, inputs)
    got = _observe(result)
    got_state = [t._data.copy() for t, _, _ in written]
    got_slots = [_observe(_slot_value(h, s)) for h, s, _ in slots]

    for t, values, version in written:  # roll the world back to before the call
        np.copyto(t._data, values)
        if t._vc is not None:
            t._vc[0] = version
    for holder, step, value in slots:
        if value is MISSING:
            if _slot_value(holder, step) is not MISSING:
                delete(holder, step)
        else:
            write(holder, step, value)
    set_rng_state(rng)

    fresh = capture(compiled.target, args, kwargs, name=compiled.name, call=compiled.fn, record_values=True)
    want = _observe(fresh.result)
    want_state = [t._data.copy() for t, _, _ in written]
    want_slots = [_observe(_slot_value(h, s)) for h, s, _ in slots]
    problems = []
    if len(got) != len(want) or not all(_same(a, b) for a, b in zip(got, want)):
        problems.append("the returned values")
    for k, (a, b) in enumerate(zip(got_state, want_state)):
        if not _same(a, b):
            problems.append(f"the in-place update of {cap.graph.node(cap.graph.inputs[cap.mutated[k]]).name}")
    for (node, step), a, b in zip(rebound, got_slots, want_slots):
        if len(a) != len(b) or not all(_same(x, y) for x, y in zip(a, b)):
            problems.append(describe(node.path + (step,), cap.snapshot.name_of))
    if problems:
        where = localize(entry.capture.graph, arrays, fresh)
        raise CompileCheckError(
            f"irgrad.compile(check=True): {compiled.name} compiled differs from eager in "
            f"{', '.join(problems)}: {where}"
        )
    return fresh.result


BACKEND_DIFFERS = "the traced graph and every optimisation pass are right: the backend's code differs"


def localize(graph: Graph, arrays: list, fresh) -> str:
    """The first node of ``graph`` (run on ``arrays``) whose value differs from the eager
    values ``fresh`` (a capture made with ``record_values``) recorded, as text."""
    eager = fresh.node_values
    if fresh.graph_break is not None:
        return f"eager execution broke the graph this time ({fresh.graph_break})"
    try:
        mine = node_values(graph, arrays)
    except Exception as exc:  # noqa: BLE001 - reported, not raised: the check's error says more
        return f"the traced graph raises {type(exc).__name__}: {exc}"
    for nid in graph.order():
        node = graph.node(nid)
        if not node.is_op:
            continue
        other = fresh.graph.node(nid) if nid in fresh.graph else None
        if other is None or other.op != node.op:
            return f"the program took another path at {other.source if other else node.source}"
        if nid in eager and not _same(np.asarray(mine[nid]), eager[nid]):
            return f"first differing node %{nid} = {node.op}(...) at {node.source or '<unknown>'}"
    return _localize_pass(graph, arrays, fresh)


def _localize_pass(graph: Graph, arrays: list, fresh) -> str:
    """Every traced node agrees: find the optimisation pass (or the backend) that changes the outputs."""
    want = node_values(graph, arrays)
    reference = [want[o] for o in graph.outputs]
    current = graph
    for name, fn in default_passes():
        current = fn(current)
        values = node_values(current, arrays)
        if not all(_same(np.asarray(values[o]), np.asarray(r)) for o, r in zip(current.outputs, reference)):
            return f"the traced graph is right; the {name!r} pass changes its outputs"
    return BACKEND_DIFFERS
