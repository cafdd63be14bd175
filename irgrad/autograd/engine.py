"""The backward engine: runs gradient rules over the recorded graph in reverse order.

Without ``create_graph`` gradients are plain numpy arrays and rules run on the
op kernels directly (the fast path, no graph recorded).  With ``create_graph``
they are Tensors and rules run through dispatch with grad mode on, so the
backward pass is itself recorded and can be differentiated again.
"""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np

from .grad_mode import set_grad_enabled
from .graph import Node
from .op_namespaces import NUMPY_OPS, TENSOR_OPS


def _tensor_cls():
    from ..tensor import Tensor

    return Tensor


def _as_list(x) -> list:
    if x is None:
        return []
    if isinstance(x, (list, tuple)):
        return list(x)
    return [x]


def _root_grads(outputs: list, grad_outputs: list, create_graph: bool) -> list:
    Tensor = _tensor_cls()
    grads = []
    for i, out in enumerate(outputs):
        g = grad_outputs[i] if i < len(grad_outputs) else None
        if g is None:
            if out._data.size != 1:
                raise RuntimeError(
                    f"grad can be implicitly created only for scalar outputs (output {i} has "
                    f"shape {list(out.shape)})"
                )
            g = Tensor._wrap(np.ones_like(out._data))
        elif not isinstance(g, Tensor):
            g = Tensor._wrap(np.asarray(g, dtype=out._data.dtype))
        if g._data.shape != out._data.shape:
            raise RuntimeError(
                f"Mismatch in shape: grad_output[{i}] has a shape of {g.shape} and output[{i}] "
                f"has a shape of {out.shape}."
            )
        grads.append(g if create_graph else g._data)
    return grads


def _check_roots(outputs: list) -> None:
    for i, out in enumerate(outputs):
        if not out._rg:
            raise RuntimeError(
                f"element {i} of tensors does not require grad and does not have a grad_fn"
            )


def _topo_counts(roots: Iterable[Node]) -> dict:
    """For every node reachable from ``roots``, how many graph edges point to it."""
    deps: dict = {}
    stack = []
    for node in roots:
        if node not in deps:
            deps[node] = 0
            stack.append(node)
    while stack:
        node = stack.pop()
        for edge in node.edges:
            if type(edge) is tuple:
                child = edge[0]
                if child in deps:
                    deps[child] += 1
                else:
                    deps[child] = 1
                    stack.append(child)
    return deps


def _needed_nodes(deps: dict, leaf_targets: set, node_targets: set) -> set:
    """Nodes from which some target (a leaf or a node output) is reachable."""
    needed: set = set()
    order = _postorder(deps)
    for node in order:  # children before parents
        for edge in node.edges:
            if edge is None:
                continue
            if type(edge) is tuple:
                if edge[0] in needed or edge in node_targets:
                    needed.add(node)
                    break
            elif id(edge) in leaf_targets:
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


def _add(a, b):
    return b if a is None else a + b


def _run_hooks(hooks: list, grad, as_tensors: bool):
    Tensor = _tensor_cls()
    for hook in hooks:
        value = grad if as_tensors else Tensor._wrap(grad)
        new = hook(value)
        if new is not None:
            grad = new if as_tensors else new._data
    return grad


def _accumulate_leaf(leaf, grad, create_graph: bool) -> None:
    Tensor = _tensor_cls()
    if leaf._hooks:
        grad = _run_hooks(leaf._hooks, grad, create_graph)
    if create_graph:
        leaf._grad = grad if leaf._grad is None else leaf._grad + grad
        return
    if grad.dtype != leaf._data.dtype:
        grad = grad.astype(leaf._data.dtype)
    current = leaf._grad
    if current is None:
        # Always copy: the array may be shared with other gradients or be a view.
        leaf._grad = Tensor._wrap(np.array(grad, copy=True, order="C"))
    elif current._rg or not current._data.flags.writeable:
        leaf._grad = Tensor._wrap(current._data + grad)
    else:
        np.add(current._data, grad, out=current._data)


def run_backward(
    outputs: Sequence,
    grad_outputs: Sequence,
    retain_graph: bool,
    create_graph: bool,
    inputs: Sequence | None = None,
    accumulate: bool = True,
) -> list | None:
    """Propagate gradients from ``outputs``.

    With ``accumulate`` the leaves' ``.grad`` receive them (restricted to ``inputs``
    when given); otherwise the gradients of ``inputs`` are returned (``autograd.grad``).
    """
    outputs = list(outputs)
    _check_roots(outputs)
    root_grads = _root_grads(outputs, list(grad_outputs), create_graph)
    as_tensors = create_graph
    F = TENSOR_OPS if create_graph else NUMPY_OPS

    leaf_targets: dict = {}
    node_targets: dict = {}
    for i, t in enumerate(inputs or ()):
        if t._node is None:
            leaf_targets[id(t)] = i
        else:
            node_targets[(t._node, t._out_nr)] = i
    captured: list = [None] * len(inputs or ())

    buffers: dict = {}
    root_nodes = []
    for out, g in zip(outputs, root_grads):
        if out._node is None:
            _deliver_leaf(out, g, inputs, accumulate, leaf_targets, captured, create_graph)
            continue
        node = out._node
        buf = buffers.setdefault(node, [None] * node.n_outputs)
        buf[out._out_nr] = _add(buf[out._out_nr], g)
        root_nodes.append(node)

    deps = _topo_counts(root_nodes)
    needed = _needed_nodes(deps, set(leaf_targets), set(node_targets)) if inputs else None
    ready = [n for n in dict.fromkeys(root_nodes) if deps[n] == 0]

    with set_grad_enabled(create_graph):
        while ready:
            node = ready.pop()
            grads = buffers.pop(node, None) or [None] * node.n_outputs
            if node.hooks or node.retained:
                grads = _node_pre_hooks(node, grads, as_tensors)
            if node_targets:
                for nr, g in enumerate(grads):
                    i = node_targets.get((node, nr))
                    if i is not None:
                        captured[i] = _add(captured[i], g)
            run = needed is None or node in needed
            if run:
                in_grads = node.apply(grads, F, as_tensors)
                if not retain_graph:
                    node.release()
            for k, edge in enumerate(node.edges):
                if type(edge) is tuple:
                    child = edge[0]
                    if run and in_grads[k] is not None:
                        buf = buffers.get(child)
                        if buf is None:
                            buf = buffers[child] = [None] * child.n_outputs
                        buf[edge[1]] = _add(buf[edge[1]], in_grads[k])
                    deps[child] -= 1
                    if deps[child] == 0:
                        ready.append(child)
                elif edge is not None and run and in_grads[k] is not None:
                    _deliver_leaf(edge, in_grads[k], inputs, accumulate, leaf_targets, captured, create_graph)
    if not accumulate:
        return captured
    return None


def _deliver_leaf(leaf, grad, inputs, accumulate, leaf_targets, captured, create_graph) -> None:
    if inputs is not None:
        i = leaf_targets.get(id(leaf))
        if i is None:
            return
        if not accumulate:
            if leaf._hooks:
                grad = _run_hooks(leaf._hooks, grad, create_graph)
            captured[i] = _add(captured[i], grad)
            return
    _accumulate_leaf(leaf, grad, create_graph)


def _node_pre_hooks(node: Node, grads: list, as_tensors: bool) -> list:
    grads = list(grads)
    Tensor = _tensor_cls()
    for nr, g in enumerate(grads):
        if g is None:
            continue
        if node.hooks and nr in node.hooks:
            g = grads[nr] = _run_hooks(node.hooks[nr], g, as_tensors)
        ref = node.retained.get(nr) if node.retained else None
        tensor = ref() if ref is not None else None
        if tensor is not None:
            value = g if as_tensors else Tensor._wrap(np.array(g, copy=True))
            tensor._grad = value if tensor._grad is None else tensor._grad + value
    return grads


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None) -> None:
    """Accumulate gradients of ``tensors`` into the ``.grad`` of the leaves (or of ``inputs``)."""
    outputs = _as_list(tensors)
    grads = _as_list(grad_tensors)
    if retain_graph is None:
        retain_graph = create_graph
    inputs_list = _as_list(inputs) if inputs is not None else None
    if inputs_list is not None and not inputs_list:
        raise RuntimeError("'inputs' argument to backward() cannot be empty.")
    run_backward(outputs, grads, retain_graph, create_graph, inputs_list, accumulate=True)


def grad(
    outputs,
    inputs,
    grad_outputs=None,
    retain_graph=None,
    create_graph=False,
    allow_unused=None,
    materialize_grads=False,
):
    """The gradients of ``outputs`` with respect to ``inputs``, without touching ``.grad``."""
    Tensor = _tensor_cls()
    inputs_list = _as_list(inputs)
    for t in inputs_list:
        if not t._rg:
            raise RuntimeError("One of the differentiated Tensors does not require grad")
    if retain_graph is None:
        retain_graph = create_graph
    if allow_unused is None:
        allow_unused = materialize_grads
    captured = run_backward(
        _as_list(outputs), _as_list(grad_outputs), retain_graph, create_graph, inputs_list, accumulate=False
    )
    result = []
    for t, g in zip(inputs_list, captured):
        if g is None:
            if not allow_unused:
                raise RuntimeError(
                    "One of the differentiated Tensors appears to not have been used in the graph. "
                    "Set allow_unused=True if this is the desired behavior."
                )
            if materialize_grads:
                g = Tensor._wrap(np.zeros_like(t._data))
            result.append(g)
            continue
        if not create_graph:
            g = Tensor._wrap(np.array(g, copy=True))
        result.append(g)
    return tuple(result)
