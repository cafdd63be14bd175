"""The backward engine: runs gradient rules over the recorded graph in reverse order.

Without ``create_graph`` gradients are plain numpy arrays and rules run on the
op kernels directly (the fast path, no graph recorded).  With ``create_graph``
they are Tensors and rules run through dispatch with grad mode on, so the
backward pass is itself recorded and can be differentiated again.  While
``irgrad.compile`` captures a function that calls ``backward()``, gradients are
Tensors too (with grad mode off), so the tracer records the backward pass as ops
and ``.grad`` is accumulated through recorded ops.

A node runs once every node that feeds it a gradient has run (dependency
counting, as PyTorch's engine does), so it sees the full sum of its output
gradients.  Leaves are treated the same way: their gradients are summed over all
paths first, then their hooks run once and ``.grad`` is updated once.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import _profiling, _tracing
from ..recording.grad_mode import set_grad_enabled
from ..tensor import Tensor
from ..tensor_ops.split_join import stack
from .op_namespaces import NUMPY_OPS, TENSOR_OPS


def _as_list(x) -> list:
    if x is None:
        return []
    if isinstance(x, (list, tuple)):
        return list(x)
    return [x]


def _root_grads(outputs: list, grad_outputs: list, create_graph: bool, as_tensors: bool) -> list:
    """The seed gradient of every output: given, or 1 for scalars; shape and dtype checked."""
    if grad_outputs and len(grad_outputs) != len(outputs):
        raise RuntimeError(
            f"grad requires one gradient per output: got {len(grad_outputs)} gradients for "
            f"{len(outputs)} outputs"
        )
    grads = []
    for i, out in enumerate(outputs):
        g = grad_outputs[i] if grad_outputs else None
        data = out._data
        if g is None:
            if data.size != 1:
                raise RuntimeError(
                    f"grad can be implicitly created only for scalar outputs (output {i} has "
                    f"shape {list(out.shape)})"
                )
            if data.dtype.kind == "c":
                raise RuntimeError("grad can be implicitly created only for real scalar outputs")
            g = Tensor._wrap(np.ones_like(data))
        elif not isinstance(g, Tensor):
            g = Tensor._wrap(np.asarray(g, dtype=data.dtype))
        if g._data.shape != data.shape:
            raise RuntimeError(
                f"Mismatch in shape: grad_output[{i}] has a shape of {g.shape} and output[{i}] "
                f"has a shape of {out.shape}."
            )
        if g._data.dtype != data.dtype:
            if create_graph:
                g = g.to(out.dtype)
            else:
                g = Tensor._wrap(g._data.astype(data.dtype))
        grads.append(g if as_tensors else g._data)
    return grads


def _check_roots(outputs: list) -> None:
    for i, out in enumerate(outputs):
        if not isinstance(out, Tensor):
            raise TypeError(f"backward/grad expects Tensors as outputs, got {type(out).__name__} at {i}")
        if not out._rg:
            raise RuntimeError(f"element {i} of tensors does not require grad and does not have a grad_fn")


def _dependencies(roots: list) -> dict:
    """For every node reachable from ``roots``, how many graph edges point to it."""
    deps: dict = {}
    stack = []
    for node in roots:
        if node not in deps:
            deps[node] = 0
            stack.append(node)
    while stack:
        for edge in stack.pop().edges:
            if type(edge) is tuple:
                child = edge[0]
                if child in deps:
                    deps[child] += 1
                else:
                    deps[child] = 1
                    stack.append(child)
    return deps


def _leaf_edges(deps: dict) -> dict:
    """For every leaf tensor the graph's nodes send gradients to, how many edges do."""
    count: dict = {}
    for node in deps:
        for edge in node.edges:
            if edge is not None and type(edge) is not tuple:
                count[edge] = count.get(edge, 0) + 1
    return count


def _give_leaf(leaf, g, create_graph: bool, as_tensors: bool) -> None:
    """A leaf's final gradient: its hooks, accumulation into ``.grad``, then its
    post-accumulate hooks (``register_post_accumulate_grad_hook``)."""
    if leaf._hooks:
        g = _run_hooks(leaf._hooks, g, as_tensors)
    _accumulate_grad(leaf, g, create_graph, as_tensors)
    post = leaf.__dict__.get("_post_accumulate_hooks")
    if post:
        if _tracing.tracing():
            _tracing.untraceable("a post-accumulate-grad hook")
        for hook in list(post):
            hook(leaf)


def _needed_nodes(deps: dict, leaf_targets: dict, node_targets: dict) -> set:
    """Nodes from which some target (a leaf or a node output) is reachable."""
    needed: set = set()
    for node in _postorder(deps):  # children before parents
        for edge in node.edges:
            if type(edge) is tuple:
                if edge[0] in needed or edge in node_targets:
                    needed.add(node)
                    break
            elif edge is not None and id(edge) in leaf_targets:
                needed.add(node)
                break
    return needed


def _postorder(deps: dict) -> list:
    seen = set()
    order = []
    for root in deps:
        if root in seen:
            continue
        stack = [(root, iter(root.edges))]
        seen.add(root)
        while stack:
            node, it = stack[-1]
            for edge in it:
                if type(edge) is tuple and edge[0] not in seen:
                    seen.add(edge[0])
                    stack.append((edge[0], iter(edge[0].edges)))
                    break
            else:
                stack.pop()
                order.append(node)
    return order


def _run_hooks(hooks: list, grad, as_tensors: bool):
    """Call tensor hooks in order; a hook returning a tensor replaces the gradient."""
    for hook in list(hooks):
        new = hook(grad if as_tensors else Tensor._wrap(grad))
        if new is not None:
            grad = new if as_tensors else new._data
    return grad


def _node_pre_hooks(node: Any, grads: list, create_graph: bool, as_tensors: bool) -> list:
    """Run the hooks of the node's output tensors, then fill their retained ``.grad``."""
    grads = list(grads)
    for nr, g in enumerate(grads):
        if g is None:
            continue
        if node.hooks and nr in node.hooks:
            g = grads[nr] = _run_hooks(node.hooks[nr], g, as_tensors)
        ref = node.retained.get(nr) if node.retained else None
        tensor = ref() if ref is not None else None
        if tensor is not None:
            _accumulate_grad(tensor, g, create_graph, as_tensors)
    return grads


def _accumulate_grad(t, grad, create_graph: bool, as_tensors: bool) -> None:
    """Add ``grad`` into ``t.grad``; the stored gradient never aliases another tensor."""
    current = t._grad
    if create_graph:
        if grad.dtype != t.dtype:
            grad = grad.to(t.dtype)
        t._grad = TENSOR_OPS.copy(grad) if current is None else current + grad
        return
    if as_tensors:  # recorded by a tracer: the same decisions, made with tensor ops
        if grad.dtype != t.dtype:
            grad = grad.to(t.dtype)
        if current is None:
            t._grad = TENSOR_OPS.copy(grad)
        elif current._rg or not current._data.flags.writeable or current._data.shape != grad._data.shape:
            t._grad = current + grad
        else:
            current.add_(grad)
        return
    if grad.dtype != t._data.dtype:
        grad = grad.astype(t._data.dtype)
    if current is None:
        t._grad = Tensor._wrap(np.array(grad, copy=True, order="C"))
    elif current._rg or not current._data.flags.writeable or current._data.shape != grad.shape:
        t._grad = Tensor._wrap(current._data + grad)
    else:
        np.add(current._data, grad, out=current._data)
        current._bump_version()


def _check_grads(node, in_grads, grads) -> None:
    """Under ``debug_nans``: the backward of ``node`` must not produce NaN or inf."""
    arrays = [g._data if hasattr(g, "_data") else g for g in grads if g is not None]
    for g in in_grads:
        if g is not None:
            _tracing.check_finite(
                f"the backward of {node.name()}", np.asarray(getattr(g, "_data", g)), inputs=arrays
            )


RELEASES = [0]  # backwards run without retain_graph so far, in any thread (see releases())


def releases() -> int:
    """How many backwards without ``retain_graph`` have started: a traced call during
    which none did freed no node (the compiler then skips looking for freed ones)."""
    return RELEASES[0]


_RUNNING = threading.local()  # .kinds: per backward running on this thread, whether it fills .grad


def accumulates_into_leaves() -> bool:
    """Whether the innermost backward running on this thread gives every leaf it reaches
    its ``.grad`` (``backward()`` without ``inputs``), rather than returning the
    gradients of chosen tensors (``autograd.grad``, ``backward(inputs=...)``): what a
    reentrant checkpoint, which runs a backward of its own inside, needs to hold."""
    kinds = getattr(_RUNNING, "kinds", None)
    return bool(kinds) and kinds[-1]


def edge_needed(edge) -> bool:
    """Whether the innermost backward running on this thread uses the gradient sent along
    ``edge`` (an edge of a node it runs): ``backward()`` uses every one; with ``inputs``
    (``autograd.grad``) only those on the way to an input."""
    targets = getattr(_RUNNING, "targets", None)
    if not targets or targets[-1] is None:
        return edge is not None
    needed, leaf_targets, node_targets = targets[-1]
    if type(edge) is tuple:
        return edge[0] in needed or edge in node_targets
    return edge is not None and id(edge) in leaf_targets


def run_backward(
    outputs: Sequence,
    grad_outputs: Sequence,
    retain_graph: bool,
    create_graph: bool,
    inputs: Sequence | None = None,
    accumulate: bool = True,
) -> list | None:
    """Propagate gradients from ``outputs``.

    With ``accumulate`` the ``.grad`` of the leaves receive them (only of ``inputs``,
    which may also be non-leaves, when given); otherwise the gradients of ``inputs``
    are returned (``autograd.grad``), in order, ``None`` for those not reached.
    """
    kinds = _RUNNING.__dict__.setdefault("kinds", [])
    kinds.append(accumulate and inputs is None)
    targets = _RUNNING.__dict__.setdefault("targets", [])  # (pushed by _propagate, for edge_needed)
    depth = len(targets)
    try:
        return _propagate(outputs, grad_outputs, retain_graph, create_graph, inputs, accumulate)
    finally:
        kinds.pop()
        del targets[depth:]


def _propagate(
    outputs: Sequence,
    grad_outputs: Sequence,
    retain_graph: bool,
    create_graph: bool,
    inputs: Sequence | None,
    accumulate: bool,
) -> list | None:
    """:func:`run_backward`'s work."""
    outputs = list(outputs)
    _check_roots(outputs)
    as_tensors = create_graph or _tracing.tracing()
    root_grads = _root_grads(outputs, list(grad_outputs), create_graph, as_tensors)
    F = TENSOR_OPS if as_tensors else NUMPY_OPS

    # Targets: leaves by identity, non-leaves by (node, output_nr).
    leaf_targets: dict = {}
    node_targets: dict = {}
    for i, t in enumerate(inputs or ()):
        if t._node is None:
            leaf_targets.setdefault(id(t), i)
        else:
            node_targets.setdefault((t._node, t._out_nr), i)
    captured: list = [None] * len(inputs or ())

    buffers: dict = {}  # node -> gradient per output, summed as they arrive
    leaf_grads: dict = {}  # leaf tensor -> summed gradient (tensors hash by identity)
    root_nodes = []
    for out, g in zip(outputs, root_grads):
        node = out._node
        if node is None:
            prev = leaf_grads.get(out)
            leaf_grads[out] = g if prev is None else prev + g
            continue
        buf = buffers.get(node)
        if buf is None:
            buf = buffers[node] = [None] * node.n_outputs
        nr = out._out_nr
        buf[nr] = g if buf[nr] is None else buf[nr] + g
        root_nodes.append(node)

    deps = _dependencies(root_nodes)
    needed = _needed_nodes(deps, leaf_targets, node_targets) if inputs is not None else None
    _RUNNING.targets.append(None if needed is None else (needed, leaf_targets, node_targets))
    # backward() gives each leaf its gradient as soon as the last edge into it has run (as
    # PyTorch's AccumulateGrad does), so post-accumulate hooks (DDP's bucket allreduce) fire
    # while the rest of the graph is still being differentiated.
    pending = _leaf_edges(deps) if accumulate and inputs is None else None
    ready = [n for n in dict.fromkeys(root_nodes) if deps[n] == 0]
    nones = [None]

    release = not retain_graph
    if release:
        RELEASES[0] += 1
    with set_grad_enabled(create_graph):
        while ready:
            node = ready.pop()
            grads = buffers.pop(node, None)
            if grads is None:
                grads = nones * node.n_outputs
            if node.hooks is not None or node.retained is not None:
                grads = _node_pre_hooks(node, grads, create_graph, as_tensors)
            if node_targets:
                for nr, g in enumerate(grads):
                    i = node_targets.get((node, nr))
                    if i is not None and g is not None:
                        captured[i] = g if captured[i] is None else captured[i] + g
            if needed is None or node in needed:
                if _profiling.ACTIVE is None:
                    in_grads = node.apply(grads, F, as_tensors, release)
                else:
                    with _profiling.span("autograd::engine::evaluate_function: " + node.name()):
                        in_grads = node.apply(grads, F, as_tensors, release)
                if _tracing.DEBUG_NANS:
                    _check_grads(node, in_grads, grads)
            else:
                in_grads = nones * len(node.edges)
            for edge, g in zip(node.edges, in_grads):
                if type(edge) is tuple:
                    child = edge[0]
                    if g is not None:
                        buf = buffers.get(child)
                        if buf is None:
                            if child.n_outputs == 1:
                                buffers[child] = [g]
                            else:
                                buf = buffers[child] = [None] * child.n_outputs
                                buf[edge[1]] = g
                        else:
                            prev = buf[edge[1]]
                            buf[edge[1]] = g if prev is None else prev + g
                    left = deps[child] - 1
                    if left:
                        deps[child] = left
                    else:
                        ready.append(child)
                elif edge is not None:
                    if g is not None:
                        entry = leaf_grads.get(edge)
                        leaf_grads[edge] = g if entry is None else entry + g
                    if pending is not None:
                        left = pending[edge] - 1
                        pending[edge] = left
                        if not left and edge in leaf_grads:
                            _give_leaf(edge, leaf_grads.pop(edge), create_graph, as_tensors)

        for leaf, g in leaf_grads.items():
            if inputs is not None:
                i = leaf_targets.get(id(leaf))
                if i is None:
                    continue
            if accumulate:
                _give_leaf(leaf, g, create_graph, as_tensors)
            else:
                if leaf._hooks:
                    g = _run_hooks(leaf._hooks, g, as_tensors)
                captured[i] = g
        for j, t in enumerate(inputs or ()):
            # Repeated inputs share one target; non-leaf inputs of backward() get a .grad.
            i = leaf_targets[id(t)] if t._node is None else node_targets[(t._node, t._out_nr)]
            if i != j:
                captured[j] = captured[i]
            elif accumulate and t._node is not None and captured[i] is not None:
                _accumulate_grad(t, captured[i], create_graph, as_tensors)
    return None if accumulate else captured


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None) -> None:
    """Accumulate gradients of ``tensors`` into the ``.grad`` of the leaves (or of ``inputs``)."""
    outputs = _as_list(tensors)
    grads = _as_list(grad_tensors)
    if retain_graph is None:
        retain_graph = create_graph
    inputs_list = _as_list(inputs) if inputs is not None else None
    if inputs_list is not None:
        if not inputs_list:
            raise RuntimeError("'inputs' argument to backward() cannot be empty.")
        for t in inputs_list:
            if not t._rg:
                raise RuntimeError("One of the differentiated Tensors does not require grad")
    run_backward(outputs, grads, retain_graph, create_graph, inputs_list, accumulate=True)


def grad(
    outputs,
    inputs,
    grad_outputs=None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    only_inputs: bool = True,
    allow_unused: bool | None = None,
    is_grads_batched: bool = False,
    materialize_grads: bool = False,
) -> tuple:
    """The gradients of ``outputs`` with respect to ``inputs``, without touching ``.grad``.

    ``only_inputs`` is accepted for compatibility and ignored, as in PyTorch.  With
    ``is_grads_batched`` the first dimension of every grad output is a batch of
    vectors, and each result gets the same leading batch dimension.
    """
    if materialize_grads and allow_unused is False:
        raise ValueError(
            "Expected allow_unused to be True or not passed when materialize_grads=True, "
            "but got: allow_unused=False."
        )
    if allow_unused is None:
        allow_unused = materialize_grads
    outputs_list = _as_list(outputs)
    inputs_list = _as_list(inputs)
    if not inputs_list:
        raise RuntimeError("grad requires non-empty inputs.")
    for t in inputs_list:
        if not isinstance(t, Tensor):
            raise TypeError(f"grad expects Tensors as inputs, got {type(t).__name__}")
        if not t._rg:
            raise RuntimeError("One of the differentiated Tensors does not require grad")
    if retain_graph is None:
        retain_graph = create_graph
    grad_list = _as_list(grad_outputs)
    if is_grads_batched:
        return _batched_grad(
            outputs_list, inputs_list, grad_list, retain_graph, create_graph, allow_unused, materialize_grads
        )
    captured = run_backward(
        outputs_list, grad_list, retain_graph, create_graph, inputs_list, accumulate=False
    )
    result = []
    for i, (t, g) in enumerate(zip(inputs_list, captured)):
        if g is None:
            if not allow_unused:
                raise RuntimeError(
                    f"The differentiated Tensor at index {i} appears to not have been used in the "
                    "graph. Set allow_unused=True if this is the desired behavior."
                )
            if materialize_grads:
                g = Tensor._wrap(np.zeros_like(t._data))
        elif isinstance(g, Tensor):
            if not create_graph:
                g = TENSOR_OPS.copy(g)  # traced: a fresh gradient, as eager's copy below
        elif not create_graph:
            g = Tensor._wrap(np.array(g, copy=True))
        result.append(g)
    return tuple(result)


def _batched_grad(outputs, inputs, grad_outputs, retain_graph, create_graph, allow_unused, materialize_grads):
    """``grad`` with ``is_grads_batched``: one backward per batch entry, results stacked."""
    if not grad_outputs or any(g is None for g in grad_outputs):
        raise RuntimeError("is_grads_batched=True requires a batched gradient for every output")
    batch = grad_outputs[0].shape[0]
    per_entry = []
    for b in range(batch):
        per_entry.append(
            grad(
                outputs,
                inputs,
                [g[b] for g in grad_outputs],
                retain_graph=True if b < batch - 1 else retain_graph,
                create_graph=create_graph,
                allow_unused=allow_unused,
                materialize_grads=materialize_grads,
            )
        )
    result = []
    for k in range(len(inputs)):
        column = [entry[k] for entry in per_entry]
        result.append(None if column[0] is None else stack(column))
    return tuple(result)
