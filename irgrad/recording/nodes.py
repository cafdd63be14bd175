"""The dynamic autograd graph: one :class:`Node` per recorded op.

A node is what PyTorch calls a ``grad_fn``: it knows which op produced a tensor,
what that op's gradient rule needs (saved inputs/output, checked against their
version counters), and where each input's gradient goes (``edges``: the producing
node and output number, a leaf tensor, or ``None`` for inputs that need no grad).

Each op gets its own ``Node`` subclass named as PyTorch names it (``AddBackward0``,
``MulBackward0`` ...), so ``type(t.grad_fn).__name__`` and ``t.grad_fn.name()`` read
as they do in PyTorch.
"""

from __future__ import annotations

from typing import Any

from ..dtypes import COMPLEX_USE, from_numpy_dtype
from ..ops.registry import Meta, OpDef, VjpContext, complex_context, saved_inputs
from ..tensor import Tensor
from .grad_fn import FREED_MESSAGE, GradFn, check_versions
from .grad_mode import is_grad_enabled

# Primitive ops whose PyTorch backward node has a different name.
_TORCH_NAMES = {
    "broadcast_to": "Expand",
    "cast": "ToCopy",
    "copy": "Clone",
    "reshape": "View",
    "pad": "ConstantPadNd",
}


def _new_meta(key: tuple) -> Meta:
    """The Meta of an input (shape, numpy dtype), cached: most graphs repeat few shapes."""
    if len(_METAS) > 4096:
        _METAS.clear()
    meta = _METAS[key] = Meta(key[0], from_numpy_dtype(key[1]))
    return meta


def camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


_NODE_CLASSES: dict[str, type] = {}
_METAS: dict = {}  # (shape, numpy dtype) -> Meta
_new_tuple = tuple.__new__


def _node_class(op: OpDef) -> type:
    """The ``Node`` subclass for ``op`` (``AddBackward0`` for ``add``), made once per op."""
    cls = _NODE_CLASSES.get(op.name)
    if cls is None:
        name = f"{_TORCH_NAMES.get(op.name) or camel(op.name)}Backward0"
        cls = _NODE_CLASSES[op.name] = type(name, (Node,), {"__slots__": ()})
    return cls


class Node(GradFn):
    """The backward of one primitive op application (a ``grad_fn``).

    ``Node(op, attrs, inputs, out)`` returns an instance of the op's own subclass;
    dispatch uses :func:`make_node`, which builds the same object with less overhead.
    """

    __slots__ = ("op", "attrs", "needs", "saved", "versions", "out", "out_vc", "in_meta")

    def __new__(cls, op: OpDef, attrs: dict, inputs: tuple, out_data: Any) -> Node:
        return make_node(op, attrs, inputs, out_data)

    def metas(self) -> tuple[Meta, ...]:
        return self.in_meta

    def context(self, as_tensors: bool) -> VjpContext:
        """The gradient rule's view of this node, as arrays or (for create_graph) tensors."""
        if self.freed:
            raise RuntimeError(FREED_MESSAGE)
        ins = out = None
        saved = self.saved
        if saved is not None:
            versions = self.versions
            for i in range(len(saved)):
                t = saved[i]
                if t is not None:
                    vc = t._vc
                    if (0 if vc is None else vc[0]) != versions[i]:
                        check_versions(self, saved, versions)
            ins = saved if as_tensors else tuple([None if t is None else t._data for t in saved])
        if self.out is not None:
            vc = self.out_vc
            if vc is not None and vc[0] != 0:
                raise RuntimeError(
                    "one of the variables needed for gradient computation has been modified by an "
                    f"inplace operation: the output 0 of {self.name()} is at version {vc[0]}; expected "
                    "version 0 instead. Hint: the operation that failed was the gradient computation of "
                    "that op; use .clone() before modifying its result in place."
                )
            out = wrap_output(self) if as_tensors else self.out
        higher_order = as_tensors and is_grad_enabled()  # the engine enables grad mode for create_graph
        return _new_tuple(VjpContext, (ins, out, self.in_meta, self.needs, self.attrs, higher_order))

    def apply(self, grads: list, F: Any, as_tensors: bool, release: bool = False) -> tuple:
        """Input gradients from output gradients (``None`` in, ``None`` out).

        With ``release`` what the node saved is freed afterwards (a backward
        without ``retain_graph``).
        """
        g = grads[0]
        if g is None:
            return (None,) * len(self.edges)
        op = self.op
        ctx = self.context(as_tensors)
        if COMPLEX_USE.seen and op.complex and op.holomorphic:
            ctx = complex_context(F, ctx)
        result = op.vjp(F, g, ctx)
        if release and (self.saved is not None or self.out is not None):
            self.saved = self.out = None
            self.freed = True
        return result


_new_object = object.__new__


def make_node(op: OpDef, attrs: dict, inputs: tuple, out_data: Any) -> Node:
    """The node recording ``op`` applied to ``inputs`` (tensors) with result ``out_data``.

    ``op.save_inputs`` is ``True`` (the rule reads every input) or a tuple of the
    input positions it reads (only those are kept and version-checked).
    """
    cls = _NODE_CLASSES.get(op.name)
    node = _new_object(cls if cls is not None else _node_class(op))
    node.op = op
    node.attrs = attrs
    edges = []
    needs = []
    in_meta = []
    metas_get = _METAS.get
    for t in inputs:
        src = t._node
        if src is not None:
            edges.append((src, t._out_nr))
            needs.append(True)
        elif t._rg:
            edges.append(t)
            needs.append(True)
        else:
            edges.append(None)
            needs.append(False)
        data = t._data
        key = (data.shape, data.dtype)
        meta = metas_get(key)
        in_meta.append(meta if meta is not None else _new_meta(key))
    node.edges = edges
    node.needs = tuple(needs)
    node.in_meta = tuple(in_meta)
    which = op.save_inputs
    if which:
        if op.grad_reads is not None:  # only what the needed gradients read (maybe nothing)
            which = saved_inputs(op, node.needs)
        # Positions are kept (None where not saved): the rule reads c.ins[i] for input i.
        saved = inputs if which is True else tuple([t if i in which else None for i, t in enumerate(inputs)])
        node.saved = saved
        node.versions = [0 if t is None or t._vc is None else t._vc[0] for t in saved]
    else:
        node.saved = None
    node.out = out_data if op.save_output else None
    node.out_vc = None  # dispatch links the output's version counter when the output is saved
    node.freed = False
    node.hooks = None
    node.retained = None
    return node


def wrap_output(node: Node) -> Tensor:
    """The node's saved output as a tensor whose grad_fn is the node itself."""
    return Tensor._wrap(node.out, node, 0)
