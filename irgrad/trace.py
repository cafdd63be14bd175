"""The tracer: runs eager code once and records every primitive op into an IR Graph.

Tracing *is* eager execution: the user's function runs on real tensors, and every
op that passes through :func:`irgrad.dispatch.apply` is also appended to a Graph.
So composites (softmax, LSTM cells, conv) arrive as their primitives, Python
control flow is specialised on the values it saw, and every node remembers the
user source line that created it.

Module parameters and buffers become graph inputs (never constants), so optimizer
updates are seen by the next call; in-place updates of buffers (BatchNorm's
running statistics) become extra graph outputs that the runtime writes back.
A tensor the tracer has not seen (made by ``irgrad.tensor(...)`` inside the
function, a Python scalar) becomes a constant.

When Python reads the value of a tensor that depends on the inputs (``.item()``,
``bool(t)``, ``.numpy()``, ``.tolist()``...), the recorded graph can no longer
stand for the function: that is a *graph break*.  The tracer notes the cause and
the source line and stops recording; the function finishes eagerly.
"""

from __future__ import annotations

import inspect
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import _tracing
from .ir import BUFFER, PARAM, USER, Graph, TensorType
from .ops import Kind
from .tensor import Tensor
from .utils.pytree import flatten

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def user_source() -> str | None:
    """``file.py:line`` of the innermost frame outside the irgrad package."""
    frame = sys._getframe(1)
    while frame is not None:
        filename = frame.f_code.co_filename
        if not os.path.abspath(filename).startswith(_PACKAGE_DIR):
            return f"{os.path.basename(filename)}:{frame.f_lineno}"
        frame = frame.f_back
    return None


class GraphBreakError(RuntimeError):
    """Raised instead of breaking the graph when compiling with ``fullgraph=True``."""


@dataclass(frozen=True)
class GraphBreak:
    """Why and where tracing stopped."""

    cause: str
    source: str | None

    def __str__(self) -> str:
        return f"{self.cause} at {self.source or '<unknown>'}"


@dataclass
class Trace:
    """The result of tracing one call."""

    graph: Graph
    input_tensors: list  # the tensors bound to graph.inputs, in order
    output_spec: Any  # pytree spec of the function's return value
    n_results: int  # graph.outputs[:n_results] are the returned tensors
    mutated: list = field(default_factory=list)  # input positions written in place, in output order
    graph_break: GraphBreak | None = None
    result: Any = None  # what the traced (eager) call returned


class Tracer:
    """Records ops into a Graph while the user's code runs eagerly."""

    def __init__(self, name: str = "forward", fullgraph: bool = False) -> None:
        self.graph = Graph(name)
        self.fullgraph = fullgraph
        self.values: dict[int, int] = {}  # id(tensor) -> node id
        self.alive: list = []  # keeps recorded tensors alive, so their ids stay unique
        self.dependent: set[int] = set()  # nodes whose value depends on an input
        self.input_tensors: list = []
        self.input_node: dict[int, int] = {}  # id(input tensor) -> its input node
        self.mutations: dict[int, int] = {}  # input node -> node holding its new value
        self.graph_break: GraphBreak | None = None

    # --- binding ------------------------------------------------------------------------
    def bind(self, t: Tensor, name: str, role: str = USER) -> int:
        nid = self.graph.add_input(name, TensorType(tuple(t._data.shape), t.dtype), role)
        self._remember(t, nid)
        self.dependent.add(nid)
        self.input_tensors.append(t)
        self.input_node[id(t)] = nid
        return nid

    def _remember(self, t: Tensor, nid: int) -> None:
        self.values[id(t)] = nid
        self.alive.append(t)

    def lookup(self, t: Tensor) -> int:
        """The node of ``t``; a tensor never seen before becomes a constant."""
        nid = self.values.get(id(t))
        if nid is None:
            nid = self.graph.add_constant(np.array(t._data, copy=True))
            self._remember(t, nid)
        return nid

    # --- hooks called by dispatch and Tensor -------------------------------------------
    def record(self, op, inputs: tuple, attrs: dict, out: Tensor) -> None:
        if self.graph_break is not None:
            return
        args = [self.lookup(t) for t in inputs]
        nid = self.graph.add_op(
            op.name, args, attrs, TensorType(tuple(out._data.shape), out.dtype), source=user_source()
        )
        if op.kind is Kind.RANDOM or any(a in self.dependent for a in args):
            self.dependent.add(nid)
        self._remember(out, nid)

    def on_materialize(self, t: Tensor, what: str) -> None:
        if self.graph_break is not None:
            return
        nid = self.values.get(id(t))
        if nid is None or nid not in self.dependent:
            return  # a constant's value is known at trace time: reading it is fine
        self._break(f"{what} reads the value of a traced tensor (data-dependent Python)")

    def on_inplace(self, target: Tensor, new: Tensor) -> None:
        if self.graph_break is not None:
            return
        aliases = [t for t in self.alive if t is not target and np.may_share_memory(t._data, target._data)]
        if any(self.values.get(id(t)) in self.dependent for t in aliases):
            self._break("an in-place write into a tensor that has traced views")
            return
        nid = self.lookup(new)
        old = self.values.get(id(target))
        self._remember(target, nid)
        if id(target) in self.input_node:
            self.mutations[self.input_node[id(target)]] = nid
        elif old is not None and nid in self.dependent:
            self.dependent.add(nid)

    def _break(self, cause: str) -> None:
        self.graph_break = GraphBreak(cause, user_source())
        if self.fullgraph:
            raise GraphBreakError(f"graph break with fullgraph=True: {self.graph_break}")

    # --- running ------------------------------------------------------------------------
    def __enter__(self) -> Tracer:
        if _tracing.ACTIVE is not None:
            raise RuntimeError("irgrad.trace: tracing is already active (nested tracing is not supported)")
        _tracing.ACTIVE = self
        return self

    def __exit__(self, *exc) -> None:
        _tracing.ACTIVE = None

    def finish(self, result: Any) -> Trace:
        """Set the graph's outputs from the traced call's return value."""
        leaves, spec = flatten(result, lambda x: isinstance(x, Tensor))
        outputs = [self.lookup(t) for t in leaves]
        mutated = []
        for pos, nid in enumerate(self.graph.inputs):
            if nid in self.mutations:
                mutated.append(pos)
                outputs.append(self.mutations[nid])
        self.graph.set_outputs(outputs)
        return Trace(self.graph, self.input_tensors, spec, len(leaves), mutated, self.graph_break, result)


def module_tree(module) -> tuple[list, list[Tensor]]:
    """The module's submodules (depth first, self first, each once) and its parameters
    then buffers (each once): what ``modules()``, ``parameters()`` and ``buffers()``
    list, without building names.  Compiled calls walk this on every call for their
    guards, so it is one plain recursion rather than the named generators."""
    modules: list = []
    seen: set[int] = set()

    def visit(m) -> None:
        seen.add(id(m))
        modules.append(m)
        for child in m._modules.values():
            if child is not None and id(child) not in seen:
                visit(child)

    visit(module)
    tensors: list[Tensor] = []
    for store in ("_parameters", "_buffers"):
        memo: set[int] = set()
        for m in modules:
            for t in getattr(m, store).values():
                if t is not None and id(t) not in memo:
                    memo.add(id(t))
                    tensors.append(t)
    return modules, tensors


def module_state(module) -> list[tuple[str, Tensor, str]]:
    """(name, tensor, role) of a module's parameters and buffers, in state_dict order.

    The order is :func:`module_tree`'s, which compiled calls use to pass these tensors
    as graph inputs; the names come from ``named_parameters()``/``named_buffers()``.
    """
    _, tensors = module_tree(module)
    param_names = {id(t): name for name, t in module.named_parameters()}
    buffer_names = {id(t): name for name, t in module.named_buffers()}
    n_params = len(param_names)
    return [
        (param_names[id(t)], t, PARAM) if i < n_params else (buffer_names[id(t)], t, BUFFER)
        for i, t in enumerate(tensors)
    ]


def input_names(fn: Callable, n: int) -> list[str]:
    """Names for a function's tensor arguments: its parameter names where it has them."""
    try:
        params = [
            p.name
            for p in inspect.signature(fn).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
    except (TypeError, ValueError):
        params = []
    names = [params[i] if i < len(params) else f"arg{i}" for i in range(n)]
    return names


def trace_call(
    fn: Callable, args: tuple, kwargs: dict, module=None, name: str = "forward", fullgraph: bool = False
) -> Trace:
    """Run ``fn(*args, **kwargs)`` once, recording its ops; see :class:`Trace`."""
    tracer = Tracer(re.sub(r"[^\w.]", "", name) or "forward", fullgraph)  # "<lambda>" -> "lambda"
    leaves, _ = flatten((args, kwargs), lambda x: isinstance(x, Tensor))
    names = input_names(module.forward if module is not None else fn, len(args))
    for i, t in enumerate(leaves):
        tracer.bind(t, names[i] if i < len(names) and len(leaves) == len(args) else f"arg{i}", USER)
    if module is not None:
        for state_name, t, role in module_state(module):
            tracer.bind(t, state_name, role)
    with tracer:
        result = fn(*args, **kwargs)
    return tracer.finish(result)


def trace(fn_or_module, *example_inputs, **example_kwargs) -> Graph:
    """The IR Graph of one call of ``fn_or_module`` on the example inputs.

    ``print(graph)`` shows it as text; ``graph.to_dot()`` gives Graphviz source.
    Given a single tensor instead of a function (``irgrad.trace(matrix)``), this is
    PyTorch's matrix trace: tensors are not callable, so the two cannot be confused.
    """
    from .nn import Module

    if isinstance(fn_or_module, Tensor) and not example_inputs and not example_kwargs:
        from .tensor_ops.linalg import trace as matrix_trace

        return matrix_trace(fn_or_module)
    if isinstance(fn_or_module, Module):
        result = trace_call(
            fn_or_module,
            example_inputs,
            example_kwargs,
            module=fn_or_module,
            name=type(fn_or_module).__name__,
        )
    else:
        result = trace_call(
            fn_or_module, example_inputs, example_kwargs, name=getattr(fn_or_module, "__name__", "forward")
        )
    if result.graph_break is not None:
        import warnings

        warnings.warn(
            f"irgrad.trace: graph break: {result.graph_break}; the graph covers the ops before it",
            stacklevel=2,
        )
    return result.graph
