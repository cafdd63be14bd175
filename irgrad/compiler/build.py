"""Building: from a captured graph to the executables a compiled call runs.

The captured graph goes through the graph-level passes (fold, simplify, cse, dce).
When the call needs gradients (grad mode is on, a returned or stored value required
grad in eager execution, and some input requires grad), the autodiff pass
differentiates the returned values with respect to those inputs and the partition
pass splits the joint graph into a forward graph (returned values, in-place write
backs, values saved for the backward) and a backward graph.  The backend then builds
each final graph.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field

from ..ir import CONSTANT, INPUT, Graph
from ..ir.printer import print_graph
from ..ops import OPS
from ..passes.absent_gradients import without_gradients
from ..passes.autodiff import autodiff
from ..passes.memory import VIEW_OPS
from ..passes.partition import partition
from ..passes.pipeline import Dumper, PipelineReport, default_passes, run_passes
from .backends import Backend, BuildReport, Executable
from .capture import Capture


@dataclass
class Built:
    """The executables of one captured call."""

    forward: Graph
    run_forward: Executable
    backward: Graph | None = None
    run_backward: Executable | None = None
    wrt: list[int] = field(default_factory=list)  # input positions that receive gradients
    n_saved: int = 0
    copied_outputs: frozenset = frozenset()  # value outputs that alias a constant or an input
    reach: list = field(default_factory=list)  # per value output: the wrt indices its gradient reaches
    # saved values that are (views of) an input the call writes in place: copied before the write
    saved_before_write: tuple = ()
    reports: dict[str, BuildReport] = field(default_factory=dict)
    # a symbolic graph's Capture.views, the attributes of their view ops symbolic (None:
    # the capture's own)
    views: dict | None = None
    backend: Backend | None = None  # builds backward_without's graphs
    seeded: tuple = ()  # per value output: whether the backward graph reads its gradient
    _without: dict = field(default_factory=dict)  # absent outputs -> (graph, executable)

    def backward_without(self, absent: frozenset) -> tuple[Graph, Executable]:
        """The backward graph and executable of a call whose value outputs ``absent``
        get no gradient (passes/absent_gradients.py), built on the first such call."""
        found = self._without.get(absent)
        if found is None:
            n_saved_inputs = len(self.backward.inputs) - len(self.seeded)
            graph = without_gradients(self.backward, [n_saved_inputs + k for k in absent])
            found = self._without[absent] = (graph, self.backend.build(graph, Dumper(None))[0])
        return found


def differentiated_inputs(capture: Capture) -> list[int]:
    """The input positions a compiled backward must send gradients to: inputs that require
    grad and reach a value that requires grad through differentiable ops, the tensors
    eager autograd would give a ``.grad`` (an unused input gets None, not zeros).  A call
    under no_grad may return such values too, made in an ``enable_grad()`` block."""
    differentiated = capture.differentiated
    if not any(differentiated):
        return []
    graph = capture.graph
    roots = [nid for nid, rg in zip(graph.outputs[: capture.n_values], differentiated) if rg]
    reached = _differentiable_ancestors(graph, roots)
    return [
        i
        for i, (t, nid) in enumerate(zip(capture.inputs, graph.inputs))
        if t._rg and t._data.dtype.kind == "f" and nid in reached
    ]


def _reach(capture: Capture, wrt: list[int]) -> list[frozenset]:
    """For each value output, the ``wrt`` indices its gradient reaches: a backward from some
    outputs only must leave the other inputs' ``.grad`` alone, as eager autograd does."""
    graph = capture.graph
    position = {graph.inputs[i]: j for j, i in enumerate(wrt)}
    return [
        frozenset(position[n] for n in _differentiable_ancestors(graph, [nid]) if n in position)
        for nid in graph.outputs[: capture.n_values]
    ]


def _differentiable_ancestors(graph: Graph, roots: list[int]) -> set[int]:
    """Nodes from which a gradient flows to ``roots``: through ops with a gradient rule and
    floating-point values, as eager autograd records its graph."""
    seen: set[int] = set()
    stack = list(roots)
    while stack:
        nid = stack.pop()
        if nid in seen:
            continue
        seen.add(nid)
        node = graph.node(nid)
        if node.op in OPS and OPS[node.op].vjp is not None:
            stack += [a for a in graph.args(nid) if graph.node(a).type.dtype.is_floating_point]
    return seen


def build_key(capture: Capture) -> str:
    """What :func:`build` makes of ``capture`` depends on: the traced graph's full text
    (it is lossless: types, attributes, constants' bytes), which outputs and inputs are
    differentiated and which inputs are written.  Two captures with one key get the
    same executables, so a recompile whose trace came out the same (a training step's
    second call, whose guard saw ``.grad`` set) reuses the first build."""
    fields = (
        capture.n_values,
        tuple(capture.requires_grad),
        tuple(capture.differentiated),
        tuple(capture.mutated),
        tuple(differentiated_inputs(capture)),
    )
    text = f"{fields!r}\n{print_graph(capture.graph)}"
    return hashlib.sha256(text.encode()).hexdigest()


def build(
    capture: Capture,
    backend: Backend,
    dumper: Dumper,
    report: PipelineReport,
    verify: bool = False,
) -> Built:
    """Optimize, differentiate if needed, partition and build ``capture``'s graph."""
    forward, backward, wrt, n_saved = optimized(capture, backend.never_recomputed, dumper, report, verify)
    start = time.perf_counter()
    n = capture.n_values
    write_backs = {n + i: position for i, position in enumerate(capture.mutated)}
    run_forward, forward_report = backend.build(forward, dumper, write_backs)
    reports = {"forward": forward_report}
    run_backward = None
    if backward is not None:
        dumper.write("backward", backward)
        run_backward, reports["backward"] = backend.build(backward, dumper)
    report.add(f"build ({backend.name})", time.perf_counter() - start)
    return Built(
        forward=forward,
        run_forward=run_forward,
        backward=backward,
        run_backward=run_backward,
        reach=_reach(capture, wrt),
        wrt=wrt,
        n_saved=n_saved,
        copied_outputs=_aliasing_outputs(forward, capture.n_values),
        saved_before_write=_saved_views_of_written(forward, n_saved, capture.mutated),
        reports=reports,
        backend=backend,
        seeded=tuple(capture.differentiated),
    )


def optimized(
    capture: Capture,
    never_recomputed: frozenset,
    dumper: Dumper | None = None,
    report: PipelineReport | None = None,
    verify: bool = False,
) -> tuple:
    """``(forward, backward or None, wrt, n_saved)``: ``capture``'s graph optimized,
    differentiated if needed and partitioned (``never_recomputed``: the backend's policy),
    before any backend builds it."""
    dumper = dumper or Dumper(None)
    report = report or PipelineReport()
    dumper.write("traced", capture.graph)
    graph = run_passes(capture.graph, default_passes(), check=verify, dumper=dumper, report=report)
    wrt = differentiated_inputs(capture)
    backward = None
    n_saved = 0
    if wrt:
        start = time.perf_counter()
        n = capture.n_values
        values = graph.copy()
        values.set_outputs(graph.outputs[:n])  # in-place write-backs are not differentiated
        joint = autodiff(values, wrt, capture.differentiated, higher_order=False)
        writes = graph.outputs[n:]
        joint.set_outputs(joint.outputs[:n] + writes + joint.outputs[n:])
        forward, backward = partition(joint, n + len(writes), n, never_recomputed)
        report.add("autodiff+partition", time.perf_counter() - start)
        dumper.write("joint", joint)
        forward = run_passes(forward, default_passes(), check=verify, dumper=dumper, report=report)
        backward = run_passes(backward, default_passes(), check=verify, dumper=dumper, report=report)
        n_saved = len(forward.outputs) - n - len(writes)
    else:
        forward = graph
    dumper.write("forward", forward)
    return forward, backward, wrt, n_saved


def _saved_views_of_written(forward: Graph, n_saved: int, mutated: list) -> tuple:
    """Indices (among the saved values) of those that are a written input or a view of
    one: the write-back would change them under the backward, which must see the
    values of the forward."""
    if not n_saved or not mutated:
        return ()
    written = {forward.inputs[pos] for pos in mutated}
    saved = forward.outputs[len(forward.outputs) - n_saved :]
    found = []
    for k, nid in enumerate(saved):
        while forward.node(nid).op in VIEW_OPS:
            nid = forward.args(nid)[0]
        if nid in written:
            found.append(k)
    return tuple(found)


def _aliasing_outputs(graph: Graph, n_values: int) -> frozenset:
    """Value outputs that are a constant or an input of ``graph``: a call must copy them,
    or the tensor it returns would share memory with the graph or with an argument."""
    return frozenset(
        k for k, nid in enumerate(graph.outputs[:n_values]) if graph.node(nid).op in (CONSTANT, INPUT)
    )
