"""User-defined differentiable ops: ``class MyOp(irgrad.autograd.Function)``.

``forward(ctx, *args)`` runs with grad mode off; ``backward(ctx, *grads)`` returns one
gradient (or ``None``) per forward argument.  The node recorded for an application
is an instance of ``MyOp._backward_cls`` (named ``MyOpBackward``, as in PyTorch), a
:class:`FunctionNode` that the engine treats like any other node.  As PyTorch's
engine does, a returned gradient is summed down to its input's shape when it is a
broadcast of it and cast to the input's dtype; any other shape is an error.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from .. import _tracing
from ..dtypes import from_numpy_dtype
from ..ops.movement import sum_to
from ..tensor import Tensor
from .grad_fn import FREED_MESSAGE, GradFn, check_versions, edge_of, version_of
from .grad_mode import STATE, no_grad, set_grad_enabled


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
        """Keep tensors (or ``None``) for ``backward``; in-place changes to them are detected."""
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
        """Declare inputs that ``forward`` modified in place."""
        self._dirty = tensors

    def mark_non_differentiable(self, *tensors) -> None:
        """Declare outputs that get no gradient (indices, masks ...)."""
        self._non_differentiable = tensors

    def set_materialize_grads(self, value: bool) -> None:
        """With ``False``, ``backward`` receives ``None`` (not zeros) for unused outputs."""
        self.materialize_grads = bool(value)


def _expandable(shape: tuple, to: tuple) -> bool:
    """Whether ``shape`` broadcasts to ``to``."""
    if len(shape) > len(to):
        return False
    return all(s in (1, t) for s, t in zip(shape, to[len(to) - len(shape) :]))


class FunctionNode(GradFn):
    """The backward of one ``Function.apply``: calls the user's ``backward``."""

    __slots__ = ("fn", "ctx", "in_meta", "n_outputs", "out_meta")

    def __init__(self, fn: type, ctx: FunctionCtx, args: tuple, out_meta: list) -> None:
        self.fn = fn
        self.ctx = ctx
        self.edges = tuple(edge_of(a) if isinstance(a, Tensor) else None for a in args)
        self.in_meta = tuple((a._data.shape, a._data.dtype) if isinstance(a, Tensor) else None for a in args)
        self.n_outputs = len(out_meta)
        self.out_meta = out_meta
        self.hooks = None
        self.retained = None
        self.freed = False

    def apply(self, grads: list, F: Any, as_tensors: bool, release: bool = False) -> tuple:
        """Call the user's backward on the output gradients (zeros for missing ones).

        With ``release`` the saved tensors are freed afterwards.
        """
        wrapped = []
        for g, meta in zip(grads, self.out_meta):
            if g is None:
                if meta is None or not self.ctx.materialize_grads:
                    wrapped.append(None)
                    continue
                wrapped.append(Tensor._wrap(np.zeros(meta[0], dtype=meta[1])))
                continue
            wrapped.append(g if as_tensors else Tensor._wrap(g))
        user_fn = self.fn.vjp if self.fn.vjp is not Function.vjp else self.fn.backward
        with set_grad_enabled(as_tensors):
            result = user_fn(self.ctx, *wrapped)
        if not isinstance(result, tuple):
            result = (result,)
        if len(result) != len(self.edges):
            # PyTorch allows extra trailing Nones (for keyword-style optional arguments).
            if len(result) < len(self.edges) or any(r is not None for r in result[len(self.edges) :]):
                raise RuntimeError(
                    f"function {self.name()} returned an incorrect number of gradients "
                    f"(expected {len(self.edges)}, got {len(result)})"
                )
        out = []
        for i, (edge, meta, g) in enumerate(zip(self.edges, self.in_meta, result)):
            if g is None:
                out.append(None)
                continue
            if meta is None:
                raise RuntimeError(
                    f"function {self.name()} returned a gradient different than None at position "
                    f"{i + 1}, but the corresponding forward input was not a Tensor"
                )
            if not isinstance(g, Tensor):
                raise TypeError(
                    f"function {self.name()} returned a {type(g).__name__} as gradient {i}; expected a Tensor or None"
                )
            if edge is None:
                out.append(None)
                continue
            out.append(self._conform(i, g if as_tensors else g._data, meta, F, as_tensors))
        if release and self.ctx._saved:
            self.ctx._freed = True
            self.ctx._saved = None
        return tuple(out)

    def _conform(self, i: int, g: Any, meta: tuple, F: Any, as_tensors: bool) -> Any:
        """``g`` summed to the input's shape if it is a broadcast of it, in the input's dtype."""
        shape, dtype = meta
        got = tuple(g.shape)
        if got != shape:
            if not _expandable(shape, got):
                raise RuntimeError(
                    f"Function {self.name()} returned an invalid gradient at index {i} - got "
                    f"{list(got)} but expected shape compatible with {list(shape)}"
                )
            g = sum_to(F, g, shape)
        if as_tensors:
            return g if g._data.dtype == dtype else g.to(from_numpy_dtype(dtype))
        return g if g.dtype == dtype else g.astype(dtype)


class Function:
    """Base class for custom differentiable ops (``MyOp.apply(x)``).

    Define ``forward(ctx, *args)`` (or ``forward(*args)`` plus ``setup_context(ctx,
    inputs, output)``) and ``backward(ctx, *grads)`` (or ``vjp``) as static methods.
    """

    _backward_cls: type = FunctionNode

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._backward_cls = type(f"{cls.__name__}Backward", (FunctionNode,), {"__slots__": ()})

    @staticmethod
    def forward(ctx: FunctionCtx, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("You must implement the forward function for custom autograd.Function.")

    @staticmethod
    def setup_context(ctx: FunctionCtx, inputs: tuple, output: Any) -> Any:
        raise NotImplementedError("setup_context is not implemented.")

    @staticmethod
    def backward(ctx: FunctionCtx, *grad_outputs: Any) -> Any:
        raise NotImplementedError(
            "You must implement either the backward or vjp method for your custom autograd.Function to "
            "use it with backward mode AD."
        )

    @staticmethod
    def vjp(ctx: FunctionCtx, *grad_outputs: Any) -> Any:
        raise NotImplementedError(
            "You must implement either the backward or vjp method for your custom autograd.Function to "
            "use it with backward mode AD."
        )

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Any:
        ctx = FunctionCtx()
        ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a._rg for a in args)
        separate_setup = cls.setup_context is not Function.setup_context
        with no_grad():
            if separate_setup:
                outputs = cls.forward(*args, **kwargs)
                cls.setup_context(ctx, args, outputs)
            else:
                outputs = cls.forward(ctx, *args, **kwargs)
        if not (STATE.enabled and any(ctx.needs_input_grad)):
            return outputs
        _tracing.custom_backward(f"the autograd.Function {cls.__name__}")
        single = not isinstance(outputs, tuple)
        outs = (outputs,) if single else outputs
        inputs = {id(a) for a in args if isinstance(a, Tensor)}
        dirty = {id(t) for t in ctx._dirty}
        non_diff = {id(t) for t in ctx._non_differentiable}
        out_meta = [
            (o._data.shape, o._data.dtype) if isinstance(o, Tensor) and id(o) not in non_diff else None
            for o in outs
        ]
        node = cls._backward_cls(cls, ctx, args, out_meta)
        ctx._node = node
        result = []
        for i, o in enumerate(outs):
            if isinstance(o, Tensor) and id(o) not in non_diff and o._data.dtype.kind == "f":
                if id(o) in dirty:
                    if o._node is None and o._rg:
                        raise RuntimeError(
                            "a leaf Variable that requires grad is being used in an in-place operation."
                        )
                    o._bump_version()
                elif id(o) in inputs:
                    o = Tensor._wrap(o._data)  # returning an input makes a new alias of it
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
