"""Capture: one traced call of a function, with everything it reads and changes.

:func:`capture` walks the state the call can reach (:mod:`.state`), runs the
function once under the tracer (eager execution: its result is exact), and then
lists what the call did beyond returning a value:

* tensors it wrote in place (arguments, parameters, buffers, optimizer state,
  counters...), each a graph output written back after a compiled call;
* slots of the walked state it rebound (``.grad``, ``self.last = y``, new optimizer
  state), replayed by :mod:`.effects`.

The graph's inputs are the tensor arguments first, then every tensor the call read
but did not create, in order of first use, each with its source.  Its outputs are
the returned tensors that are not simply an argument passed through, then the
tensors the replays store, then the new values of inputs written in place.
"""

from __future__ import annotations

import inspect
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .. import _tracing
from ..autograd.engine import releases
from ..ir import USER, Graph
from ..ops import OPS, Kind
from ..optim.lr_scheduler import attributes_reported
from ..recording.grad_mode import STATE
from ..recording.views import NO_GRAD_VIEW
from ..tensor import Tensor
from ..tensor_ops.linalg import trace as matrix_trace
from ..trace import GraphBreak, Tracer, memory_key, storage
from ..utils.pytree import flatten
from . import effects, state, state_changes
from .deferred import Deferrals, slot_key
from .host_random import HostGenerators


@dataclass
class Capture:
    """One traced call (see the module doc)."""

    graph: Graph
    snapshot: state.Snapshot
    inputs: list  # the tensors bound to graph.inputs at trace time
    sources: list  # per input: its snapshot node (None for an unlocated tensor)
    output_spec: Any  # pytree spec of the returned value
    # per returned leaf: ("input", position), ("output", index), ("view", (position, view
    # ops)): a view of an input, derived from it at each call, or ("alias", (position,
    # detached)): an input's detach() (detached) or .data (runtime.returned_tensor)
    returned: list
    n_values: int  # graph.outputs[:n_values]: returned and replayed values
    requires_grad: list  # per value output: whether eager's tensor required grad
    mutated: list  # input positions written in place, for graph.outputs[n_values:]
    # value outputs eager made as views of another one or of an input (h, h.view(-1);
    # self.h = h, h[0]; self.row = x[0]): index -> (its base: ("output", index) or
    # ("input", position), view ops, why in-place ops may not write it), each derived
    # from its base at each call, so that it is the base's alias for autograd too
    views: dict = field(default_factory=dict)
    # the mutated positions written only through an alias with a version counter of its
    # own (``p.data.mul_(2)``): eager leaves their version alone, so no saved-tensor check fails
    unversioned: list = field(default_factory=list)
    replays: list = field(default_factory=list)
    # per value output: a backward without retain_graph ran through its graph in the call
    released: list = field(default_factory=list)
    # per value output not wholly released: the input positions a path from it reaches
    # only through a node that backward freed (differentiating to them raises in eager)
    released_below: dict = field(default_factory=dict)
    deferred: list = field(default_factory=list)  # deferred.Deferred: steps called after each compiled call
    graph_break: GraphBreak | None = None
    result: Any = None  # what the traced (eager) call returned
    unlocated: list = field(default_factory=list)
    arg_sources: list = field(default_factory=list)  # per tensor argument leaf: its snapshot node
    node_values: dict | None = None  # node -> eager value, when asked for (check=True)

    @property
    def differentiated(self) -> list[bool]:
        """Per value output: whether a compiled backward must serve it (it requires grad, and
        its graph was not already released by a backward inside the call)."""
        return [
            rg and not (k < len(self.released) and self.released[k])
            for k, rg in enumerate(self.requires_grad)
        ]

    @property
    def side_effect_free(self) -> bool:
        """Whether running the call again is unobservable but for its result: it writes
        nothing in place, replays no Python side effect and defers no step."""
        return not (self.mutated or self.replays or self.deferred)

    @property
    def reruns_unobservably(self) -> bool:
        """Whether the graph may run again for the call the trace already ran: no side
        effects, and no random draw (a second draw would advance the generator twice)."""
        return self.side_effect_free and not any(
            OPS[node.op].kind is Kind.RANDOM for node in self.graph.op_nodes() if node.op in OPS
        )

    def release(self) -> None:
        """Drop what only compiling needed (the traced call's tensors and result)."""
        self.inputs = [None] * len(self.inputs)
        self.result = None


def _is_tensor(x) -> bool:
    return isinstance(x, Tensor)


def argument_names(fn: Callable, n: int) -> list[str]:
    """Names for a function's positional arguments: its parameter names where it has them."""
    target = fn.forward if hasattr(fn, "forward") and hasattr(fn, "_parameters") else fn
    try:
        params = [
            p.name
            for p in inspect.signature(target).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
    except (TypeError, ValueError):
        params = []
    return [params[i] if i < len(params) else f"arg{i}" for i in range(n)]


def capture(
    fn: Callable,
    args: tuple,
    kwargs: dict,
    name: str = "forward",
    fullgraph: bool = False,
    call: Callable | None = None,
    record_values: bool = False,
) -> Capture:
    """Trace one call of ``fn(*args, **kwargs)`` with its state (see the module doc).

    ``call`` is what runs when it is not ``fn`` itself (a module's uncompiled call);
    the state is walked from ``fn``."""
    snapshot = state.walk(fn, args, kwargs)
    tracer = Tracer(re.sub(r"[^\w.]", "", name) or "forward", fullgraph, snapshot, record_values)
    leaves, _ = flatten((args, kwargs), _is_tensor)
    names = argument_names(fn, len(args))
    positional = len(leaves) == len(args)
    for i, t in enumerate(leaves):
        if id(t) not in tracer.input_node:
            label = names[i] if positional else f"arg{i}"
            if t.is_sparse:  # its values are no dense array a graph could read (irgrad.sparse)
                tracer.on_untraceable(f"the sparse COO tensor argument {label}")
                continue
            tracer.bind(t, label, USER, snapshot.source_of(t))
    tracer.deferrals = Deferrals(snapshot)
    generators = HostGenerators(node.obj for node in snapshot.first.values())
    releases_before = releases()
    with tracer, attributes_reported():
        result = (call or fn)(*args, **kwargs)
        if tracer.graph_break is None and generators.drawn():
            tracer._break(
                "the function draws from Python's random, numpy's, or another generator not irgrad's"
            )
        out = _finish(tracer, snapshot, result, freed_any=releases() != releases_before)
    _unguarded_strides(snapshot, tracer.layout_read)
    _derived_views(snapshot, tracer, out)
    out.arg_sources = [snapshot.source_of(t) for t in leaves]
    out.node_values = tracer.node_values
    return out


def _unguarded_strides(snapshot: state.Snapshot, layout_read: set[int]) -> None:
    """Forget the strides of each non-contiguous tensor whose layout the traced code did
    not read (its strides or address, a view of it: see Tracer.on_layout_read): the graph
    reads its values whatever their strides, so its guard checks its contiguity only.  A
    sliding window over a growing sequence (``idx[:, -block:]``, a GPT's sampling loop)
    has other strides at every call, and was compiled again for each."""
    for node in snapshot.tensors.values():
        cls, shape, dtype, requires_grad, contiguous, attrs, strides, leaf = node.info
        if strides is not None and memory_key(node.obj._data) not in layout_read:
            node.info = (cls, shape, dtype, requires_grad, contiguous, attrs, None, leaf)


def _derived_views(snapshot: state.Snapshot, tracer: Tracer, out: Capture) -> None:
    """The views from before the call whose value the graph derives from their base's
    (read after a write into the base): the guard checks each still is that view of that
    base (``x = b[:, ::2]`` traced, then an ``x`` over other memory, or a window at another
    offset of a buffer, took the traced view of ``b``).  A view or base the walk does
    not reach cannot be checked: a graph break."""
    for view, base, chain in tracer.derived_views:
        nodes = snapshot.tensors.get(id(view)), snapshot.tensors.get(id(base))
        if None in nodes:
            if out.graph_break is None:
                out.graph_break = GraphBreak("a view the graph derives from its base is not reachable", None)
            return
        snapshot.derived_views.append((*nodes, chain))


def _finish(tracer: Tracer, snapshot: state.Snapshot, result: Any, freed_any: bool) -> Capture:
    """The capture of a finished trace; ``freed_any``: a backward inside the call freed
    saved values (only then can a returned value's graph be released)."""
    graph = tracer.graph
    leaves, spec = flatten(result, _is_tensor)
    returned: list = []
    values: list[int] = []
    requires_grad: list[bool] = []
    replays: list = []
    released: list[bool] = []
    released_below: dict[int, frozenset] = {}
    traced: dict[int, Tensor] = {}  # node -> a tensor holding its value, returned or stored
    if tracer.deferrals is not None and tracer.graph_break is None:
        tracer.deferrals.check(tracer)
    if tracer.graph_break is None:
        inputs_memory = {storage(t._data) for t in tracer.input_tensors} - {None}
        replayed_reason = None if STATE.enabled else NO_GRAD_VIEW  # what a view made at each call has
        for leaf in leaves:
            if id(leaf) in tracer.input_node:
                returned.append(("input", graph.inputs.index(tracer.input_node[id(leaf)])))
            elif leaf._base is not None and storage(leaf._data) in inputs_memory:
                # a view of an argument or of state (x.flatten(), x[1:3]): eager returns an
                # alias, which a later in-place write through either changes; each call
                # derives it from the input again, after the call's writes into it
                base = tracer.input_node.get(id(leaf._base))
                if base is None or leaf._view is None or leaf._view[2] not in (None, replayed_reason):
                    # (a view made under no_grad in a call with grad, or one of split's
                    # outputs, carries what eager autograd allows it: a replay would not)
                    tracer._break("the function returns a view of a tensor it did not create")
                    break
                returned.append(("view", (graph.inputs.index(base), leaf._view[0])))
            elif storage(leaf._data) in inputs_memory and (
                (alias := _alias_of_input(leaf, tracer.input_tensors)) is not None
            ):
                # x.detach(), p.data: the input's memory without its history; eager's is an
                # alias, which a later in-place write through either changes
                returned.append(("alias", alias))
            else:
                nid = tracer.lookup(leaf)
                traced.setdefault(nid, leaf)
                k = _value_output(nid, leaf, values, requires_grad)
                returned.append(("output", k))
                released += [False] * (len(values) - len(released))
                if freed_any and leaf._rg and not released[k]:
                    released[k], below = gradient_paths(leaf, tracer.input_tensors)
                    if below and not released[k]:
                        released_below[k] = below
        with _tracing.suspended():  # the compiler's reads are not the traced code's
            changes, unsupported = state_changes.changes(snapshot)
        rebound_later = tracer.deferrals.slots if tracer.deferrals is not None else set()
        changes = [c for c in changes if slot_key(c.holder.obj, c.step) not in rebound_later]
        try:
            if unsupported:
                raise effects.NotReplayable(unsupported[0])
            replays = effects.plan(changes, snapshot, tracer.lookup)
        except effects.NotReplayable as exc:
            tracer._break(str(exc))
        for replay in replays:
            _collect(replay.recipe, tracer, values, requires_grad)
        for change in changes:  # (their tensors' nodes, which the replays' lookups found)
            for t in _tensors_in(change.new):
                if id(t) in tracer.values:
                    traced.setdefault(tracer.values[id(t)], t)
    released += [False] * (len(values) - len(released))
    # a value differentiated after the call gets its gradients from the graph's autodiff
    after = any(rg and not rel for rg, rel in zip(requires_grad, released))
    tracer.check_new_leaves(after, leaves)
    if tracer.graph_break is None and after:
        tracer.check_custom_backward()
        tracer.cut_gradient_paths()
    mutated = [pos for pos, nid in enumerate(graph.inputs) if nid in tracer.mutations]
    graph.set_outputs(values + [tracer.mutations[graph.inputs[pos]] for pos in mutated])
    unversioned = [pos for pos in mutated if tracer.input_tensors[pos]._version == tracer.input_versions[pos]]
    return Capture(
        graph=graph,
        snapshot=snapshot,
        inputs=list(tracer.input_tensors),
        sources=list(tracer.sources),
        output_spec=spec,
        returned=returned,
        n_values=len(values),
        requires_grad=requires_grad,
        mutated=mutated,
        views=_views_among(values, traced, tracer.input_tensors),
        unversioned=unversioned,
        replays=replays,
        released=released + [False] * (len(values) - len(released)),
        released_below=released_below,
        deferred=list(tracer.deferrals.calls) if tracer.deferrals is not None else [],
        graph_break=tracer.graph_break,
        result=result,
        unlocated=list(tracer.unlocated),
    )


def _alias_of_input(t: Tensor, inputs: list[Tensor]) -> tuple[int, bool] | None:
    """``(position, detached)`` when ``t`` is an input's ``detach()`` (sharing its version
    counter) or ``.data`` (not sharing it): no view, no gradient, the input's very array."""
    if t._base is not None or t._rg:
        return None
    for pos, x in enumerate(inputs):
        if t._data is x._data or _same_array(t._data, x._data):
            return pos, t._vc is not None and t._vc is x._vc
    return None


def _same_array(a, b) -> bool:
    """Whether two arrays are the same elements of the same memory."""
    return (
        a.__array_interface__["data"][0] == b.__array_interface__["data"][0]
        and a.shape == b.shape
        and a.strides == b.strides
        and a.dtype == b.dtype
    )


def _tensors_in(value: Any) -> list[Tensor]:
    """The tensors in a value a call stored (in lists, tuples and dicts)."""
    if isinstance(value, Tensor):
        return [value]
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in _tensors_in(v)]
    return []


def _views_among(values: list[int], traced: dict[int, Tensor], inputs: list[Tensor]) -> dict[int, tuple]:
    """``Capture.views``: the value outputs whose tensor is a view of another one's, or of
    an input's."""
    bases = {id(t): ("input", pos) for pos, t in enumerate(inputs)}
    bases.update({id(traced[nid]): ("output", k) for k, nid in enumerate(values) if nid in traced})
    views = {}
    for k, nid in enumerate(values):
        t = traced.get(nid)
        base = None if t is None or t._view is None else bases.get(id(t._base))
        if base is not None and base != ("output", k):
            views[k] = (base, t._view[0], t._view[2])
    return views


def gradient_paths(t: Tensor, inputs: list[Tensor]) -> tuple[bool, frozenset[int]]:
    """``(released, below)`` for a tensor the call returns or stores, after backward
    calls inside it freed what some nodes saved.

    ``released``: every gradient path from ``t`` goes through a freed node, so another
    backward from ``t`` raises in eager before it reaches anything and the compiled call
    needs no backward graph for it.  Nodes that save nothing are never freed (a second
    ``x.sum().backward()`` works in eager too), so the walk looks past them; a path that
    reaches a leaf through nodes not freed keeps the graph (``autograd.grad(t, [w])``
    on a path not released).  ``below``: the positions of the ``inputs`` that some path
    reaches only through a freed node: a backward from ``t`` that needs the gradient of
    one of them raises in eager, and the compiled backward must too."""
    node = t._node
    if node is None:
        return False, frozenset()
    leaves = {id(x): pos for pos, x in enumerate(inputs) if x._node is None}
    outputs = {(id(x._node), x._out_nr): pos for pos, x in enumerate(inputs) if x._node is not None}
    live = False
    below: set[int] = set()
    seen: set = set()
    stack = [(node, bool(getattr(node, "freed", False)))]
    while stack:
        node, freed_above = stack.pop()
        if (id(node), freed_above) in seen:
            continue
        seen.add((id(node), freed_above))
        for edge in node.edges:
            if edge is None:
                continue
            if type(edge) is tuple:
                position = outputs.get((id(edge[0]), edge[1]))
                if position is None:
                    child = edge[0]
                    stack.append((child, freed_above or bool(getattr(child, "freed", False))))
                    continue
            else:
                position = leaves.get(id(edge))
            if freed_above:
                if position is not None:
                    below.add(position)
            else:
                live = True
    return not live, frozenset(below)


def _value_output(nid: int, tensor: Tensor | None, values: list, requires_grad: list) -> int:
    """The index of ``nid`` among the value outputs, added on first use."""
    if nid in values:
        k = values.index(nid)
        requires_grad[k] = requires_grad[k] or bool(tensor is not None and tensor._rg)
        return k
    values.append(nid)
    requires_grad.append(bool(tensor is not None and tensor._rg and tensor._data.dtype.kind == "f"))
    return len(values) - 1


def _collect(recipe: effects.Recipe, tracer: Tracer, values: list, requires_grad: list) -> None:
    """Make every graph value a recipe needs a value output (inputs pass through as they are)."""
    if recipe.kind == "node":
        if recipe.payload not in tracer.graph.inputs:
            k = _value_output(recipe.payload, None, values, requires_grad)
            requires_grad[k] = requires_grad[k] or recipe.requires_grad
    for part in recipe.parts:
        _collect(part, tracer, values, requires_grad)


def trace(fn_or_module, *example_inputs, **example_kwargs) -> Graph:
    """The IR Graph of one call of ``fn_or_module`` on the example inputs.

    ``print(graph)`` shows it as text; ``graph.to_dot()`` gives Graphviz source.
    Given a single tensor instead of a function (``irgrad.trace(matrix)``), this is
    PyTorch's matrix trace: tensors are not callable, so the two cannot be confused.
    """
    if isinstance(fn_or_module, Tensor) and not example_inputs and not example_kwargs:
        return matrix_trace(fn_or_module)
    name = type(fn_or_module).__name__ if hasattr(fn_or_module, "_parameters") else None
    result = capture(
        fn_or_module,
        example_inputs,
        example_kwargs,
        name=name or getattr(fn_or_module, "__name__", "forward"),
    )
    if result.graph_break is not None:
        warnings.warn(
            f"irgrad.trace: graph break: {result.graph_break}; the graph covers the ops before it",
            stacklevel=2,
        )
    return result.graph
