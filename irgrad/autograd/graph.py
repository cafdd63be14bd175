"""The dynamic autograd graph: one :class:`Node` per recorded op.

A node is what PyTorch calls a ``grad_fn``: it knows which op produced a tensor,
what that op's gradient rule needs (saved inputs/output, checked against their
version counters), and where each input's gradient goes (``edges``: the producing
node and output number, a leaf tensor, or ``None`` for inputs that need no grad).
"""

from __future__ import annotations

from typing import Any

from ..dtypes import from_numpy_dtype
from ..ops.registry import Meta, OpDef, VjpContext

FREED_MESSAGE = (
    "Trying to backward through the graph a second time (or directly access saved tensors "
    "after they have already been freed). Saved intermediate values of the graph are freed "
    "when you call .backward() or autograd.grad(). Specify retain_graph=True if you need to "
    "backward through the graph a second time or if you need to access saved tensors after "
    "calling backward."
)


def version_of(t) -> int:
    v = t._version
    return v[0] if v is not None else 0


def check_versions(node: "Node", saved: tuple, versions: tuple) -> None:
    """Raise PyTorch's error if a saved tensor was modified in place since it was saved."""
    for i, (t, v) in enumerate(zip(saved, versions)):
        now = version_of(t)
        if now != v:
            raise RuntimeError(
                "one of the variables needed for gradient computation has been modified by an "
                f"inplace operation: [{t.dtype} {list(t.shape)}], which is input {i} of "
                f"{node.name()}, is at version {now}; expected version {v} instead. Hint: the "
                "operation that failed was the gradient computation of that op; use .clone() "
                "before modifying the tensor in place."
            )


def camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


class Node:
    """The backward of one primitive op application (a ``grad_fn``)."""

    __slots__ = (
        "op",
        "attrs",
        "edges",
        "saved",
        "versions",
        "out",
        "shapes",
        "dtypes",
        "freed",
        "hooks",
        "retained",
        "__weakref__",
    )
    n_outputs = 1

    def __init__(self, op: OpDef, attrs: dict, inputs: tuple, out_data) -> None:
        self.op = op
        self.attrs = attrs
        self.edges = tuple(edge_of(t) for t in inputs)
        if op.save_inputs:
            self.saved = inputs
            self.versions = tuple(version_of(t) for t in inputs)
        else:
            self.saved = None
        self.out = out_data if op.save_output else None
        self.shapes = tuple(t._data.shape for t in inputs)
        self.dtypes = tuple(t._data.dtype for t in inputs)
        self.freed = False
        self.hooks = None
        self.retained = None

    def name(self) -> str:
        return f"{camel(self.op.name)}Backward0"

    def __repr__(self) -> str:
        return f"<{self.name()} object at {id(self):#x}>"

    @property
    def next_functions(self) -> tuple:
        return tuple(next_function(e) for e in self.edges)

    def metas(self) -> tuple[Meta, ...]:
        return tuple(Meta(s, from_numpy_dtype(d)) for s, d in zip(self.shapes, self.dtypes))

    def context(self, as_tensors: bool) -> VjpContext:
        """The gradient rule's view of this node, as arrays or (for create_graph) tensors."""
        if self.freed:
            raise RuntimeError(FREED_MESSAGE)
        ins = out = None
        if self.saved is not None:
            check_versions(self, self.saved, self.versions)
            ins = self.saved if as_tensors else tuple(t._data for t in self.saved)
        if self.out is not None:
            out = wrap_output(self) if as_tensors else self.out
        needs = tuple(e is not None for e in self.edges)
        return VjpContext(ins, out, self.metas(), needs, self.attrs)

    def apply(self, grads: list, F, as_tensors: bool) -> tuple:
        return self.op.vjp(F, grads[0], self.context(as_tensors))

    def release(self) -> None:
        """Free what backward saved (called after a backward without ``retain_graph``)."""
        if self.saved is not None or self.out is not None:
            self.saved = self.out = None
            self.freed = True


def wrap_output(node: Node):
    """The node's saved output as a tensor whose grad_fn is the node itself."""
    from ..tensor import Tensor

    return Tensor._wrap(node.out, node, 0)


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
    if edge is None:
        return (None, 0)
    if isinstance(edge, tuple):
        return edge
    return (AccumulateGrad(edge), 0)
