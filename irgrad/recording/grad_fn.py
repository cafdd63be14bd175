"""The ``grad_fn`` protocol: what the backward engine asks of every node in the graph.

Three kinds of node implement it: the node a built-in op records
(:class:`~irgrad.recording.nodes.Node`), the node of a custom ``autograd.Function``
(:class:`~irgrad.recording.function.FunctionNode`) and the node of a compiled graph
(:class:`~irgrad.compiler.runtime.CompiledBackward`).  Each subclasses :class:`GradFn`
and fills in:

* ``edges``: one entry per differentiable input, where its gradient goes: a
  ``(node, output_nr)`` pair, a leaf tensor (accumulated into ``.grad``), or ``None``;
* ``n_outputs``: how many output gradients :meth:`GradFn.apply` takes;
* :meth:`GradFn.apply`: input gradients from output gradients.

The engine also keeps per-node ``hooks`` (``{output_nr: [hook]}``, from
``Tensor.register_hook``) and ``retained`` (``{output_nr: weakref}``, from
``retain_grad``), both ``None`` until used, and ``freed`` once a backward without
``retain_graph`` has released what the node saved.
"""

from __future__ import annotations

from typing import Any

FREED_MESSAGE = (
    "Trying to backward through the graph a second time (or directly access saved tensors "
    "after they have already been freed). Saved intermediate values of the graph are freed "
    "when you call .backward() or autograd.grad(). Specify retain_graph=True if you need to "
    "backward through the graph a second time or if you need to access saved tensors after "
    "calling backward."
)


class GradFn:
    """A node of the backward graph (PyTorch's ``Node``); see the module docstring."""

    __slots__ = ("edges", "hooks", "retained", "freed", "__weakref__")
    n_outputs = 1

    def name(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        return f"<{self.name()} object at {id(self):#x}>"

    @property
    def next_functions(self) -> tuple:
        return tuple(next_function(e) for e in self.edges)

    def apply(self, grads: list, F: Any, as_tensors: bool, release: bool = False) -> tuple:
        """One gradient (or ``None``) per edge, from one gradient (or ``None``) per output.

        ``F`` is the op namespace the gradients live in (numpy kernels on arrays, or
        dispatch on tensors when ``as_tensors``); with ``release`` the node frees what it
        saved afterwards (a backward without ``retain_graph``).
        """
        raise NotImplementedError


def version_of(t) -> int:
    v = t._vc
    return v[0] if v is not None else 0


def check_versions(node: GradFn, saved: tuple, versions: tuple) -> None:
    """Raise PyTorch's error if a saved tensor was modified in place since it was saved."""
    for i, (t, v) in enumerate(zip(saved, versions)):
        if t is None:
            continue
        now = version_of(t)
        if now != v:
            raise RuntimeError(
                "one of the variables needed for gradient computation has been modified by an "
                f"inplace operation: [{t.dtype} {list(t.shape)}], which is input {i} of "
                f"{node.name()}, is at version {now}; expected version {v} instead. Hint: the "
                "operation that failed was the gradient computation of that op; use .clone() "
                "before modifying the tensor in place."
            )


def edge_of(t) -> Any:
    """Where gradient for ``t`` goes: (node, output_nr), the leaf itself, or None."""
    node = t._node
    if node is not None:
        return (node, t._out_nr)
    if t._rg:
        return t
    return None


class AccumulateGrad:
    """What ``next_functions`` shows for a leaf: the node that accumulates into ``.grad``."""

    def __init__(self, variable) -> None:
        self.variable = variable

    def name(self) -> str:
        return "torch::autograd::AccumulateGrad"

    next_functions = ()

    def __repr__(self) -> str:
        return f"<AccumulateGrad object at {id(self):#x}>"


def next_function(edge) -> tuple:
    """An edge as ``next_functions`` shows it: ``(node, output_nr)``, with leaves as AccumulateGrad."""
    if edge is None:
        return (None, 0)
    if isinstance(edge, tuple):
        return edge
    return (AccumulateGrad(edge), 0)
