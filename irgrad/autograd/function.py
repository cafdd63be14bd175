"""User-defined differentiable ops: ``class MyOp(irgrad.autograd.Function)``.

``forward(ctx, *args)`` runs with grad mode off; ``backward(ctx, *grads)`` returns one
gradient (or ``None``) per forward argument.  The node recorded for an application
is a :class:`FunctionNode`, which the engine treats like any other node.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from .grad_mode import STATE, no_grad, set_grad_enabled
from .graph import FREED_MESSAGE, check_versions, edge_of, next_function, version_of


class FunctionCtx:
    """The ``ctx`` passed to ``forward`` and ``backward``; attributes may be set freely."""

    def __init__(self) -> None:
        self._saved: tuple | None = ()
        self._saved_versions: tuple = ()
        self._freed = False
        self._dirty: tuple = ()
        self._non_differentiable: tuple = ()
        self.materialize_grads = True
        self.needs_input_grad: tuple = ()
        self._node = None

    def save_for_backward(self, *tensors) -> None:
        self._saved = tensors
        self._saved_versions = tuple(version_of(t) if t is not None else 0 for t in tensors)

    @property
    def saved_tensors(self) -> tuple:
        if self._freed:
            raise RuntimeError(FREED_MESSAGE)
        saved = tuple(t for t in self._saved if t is not None)
        versions = tuple(v for t, v in zip(self._saved, self._saved_versions) if t is not None)
        if self._node is not None:
            check_versions(self._node, saved, versions)
        return self._saved

    saved_variables = saved_tensors

    def mark_dirty(self, *tensors) -> None:
        self._dirty = tensors

    def mark_non_differentiable(self, *tensors) -> None:
        self._non_differentiable = tensors

    def set_materialize_grads(self, value: bool) -> None:
        self.materialize_grads = bool(value)


class FunctionNode:
    """The backward of one ``Function.apply``: calls the user's ``backward``."""

    __slots__ = ("fn", "ctx", "edges", "n_outputs", "out_meta", "hooks", "retained", "freed", "__weakref__")

    def __init__(self, fn: type, ctx: FunctionCtx, args: tuple, out_meta: list) -> None:
        from ..tensor import Tensor

        self.fn = fn
        self.ctx = ctx
        self.edges = tuple(edge_of(a) if isinstance(a, Tensor) else None for a in args)
        self.n_outputs = len(out_meta)
        self.out_meta = out_meta
        self.hooks = None
        self.retained = None
        self.freed = False

    def name(self) -> str:
        return f"{self.fn.__name__}Backward"

    def __repr__(self) -> str:
        return f"<{self.name()} object at {id(self):#x}>"

    @property
    def next_functions(self) -> tuple:
        return tuple(next_function(e) for e in self.edges)

    def apply(self, grads: list, F, as_tensors: bool) -> tuple:
        from ..tensor import Tensor

        wrapped = []
        for g, meta in zip(grads, self.out_meta):
            if g is None:
                if meta is None or not self.ctx.materialize_grads:
                    wrapped.append(None)
                    continue
                g = np.zeros(meta[0], dtype=meta[1])
            wrapped.append(g if as_tensors else Tensor._wrap(g))
        with set_grad_enabled(as_tensors):
            result = self.fn.backward(self.ctx, *wrapped)
        if not isinstance(result, tuple):
            result = (result,)
        if len(result) < len(self.edges):
            raise RuntimeError(
                f"function {self.name()} returned an incorrect number of gradients "
                f"(expected {len(self.edges)}, got {len(result)})"
            )
        out = []
        for i, (edge, g) in enumerate(zip(self.edges, result)):
            if edge is None or g is None:
                out.append(None)
                continue
            if not isinstance(g, Tensor):
                raise TypeError(f"function {self.name()} returned a non-Tensor gradient at index {i}")
            out.append(g if as_tensors else g._data)
        return tuple(out)

    def release(self) -> None:
        if self.ctx._saved:
            self.ctx._freed = True
            self.ctx._saved = None


class Function:
    """Base class for custom differentiable ops (``MyOp.apply(x)``)."""

    @staticmethod
    def forward(ctx: FunctionCtx, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("You must implement the forward function for custom autograd.Function.")

    @staticmethod
    def backward(ctx: FunctionCtx, *grad_outputs: Any) -> Any:
        raise NotImplementedError("You must implement the backward function for custom autograd.Function.")

    vjp = backward

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Any:
        from ..tensor import Tensor

        ctx = FunctionCtx()
        ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a._rg for a in args)
        with no_grad():
            outputs = cls.forward(ctx, *args, **kwargs)
        if not (STATE.enabled and any(ctx.needs_input_grad)):
            return outputs
        single = not isinstance(outputs, tuple)
        outs = (outputs,) if single else outputs
        inputs = {id(a) for a in args if isinstance(a, Tensor)}
        dirty = {id(t) for t in ctx._dirty}
        non_diff = {id(t) for t in ctx._non_differentiable}
        out_meta = [
            (o._data.shape, o._data.dtype) if isinstance(o, Tensor) and id(o) not in non_diff else None
            for o in outs
        ]
        node = FunctionNode(cls, ctx, args, out_meta)
        ctx._node = node
        result = []
        for i, o in enumerate(outs):
            if isinstance(o, Tensor) and id(o) not in non_diff and o._data.dtype.kind == "f":
                if id(o) in inputs and id(o) not in dirty:
                    o = Tensor._wrap(o._data)  # returning an input makes a new alias of it
                if id(o) in dirty:
                    o._bump_version()
                o._node, o._out_nr, o._rg = node, i, True
            result.append(o)
        return result[0] if single else tuple(result)


def once_differentiable(fn):
    """Mark a ``backward`` as not differentiable itself (it runs with grad mode off)."""

    @functools.wraps(fn)
    def wrapper(ctx, *args):
        with no_grad():
            return fn(ctx, *args)

    return wrapper
