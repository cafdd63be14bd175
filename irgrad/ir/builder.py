"""The IR op namespace: ``F.mul(a, b)`` appends a node to a graph instead of computing.

:class:`GraphOps` is the third op namespace gradient rules run on (after the numpy
kernels and the Tensor-level calls of :mod:`irgrad.autograd.op_namespaces`), so the
IR autodiff pass reuses every op's ``vjp`` unchanged.  Every registered op is
available generically: ``F.<name>(*args, **attrs)`` checks the arity, computes the
node's type with the op's ``infer`` rule (which raises PyTorch's error for bad shapes)
and returns a :class:`Value` handle.  Elementwise ops may broadcast implicitly, as
they may in the IR.

Arguments are handles or Python scalars.  A scalar becomes a 0-d constant with the
dtype of the other operands (numpy's "weak scalar" rule), taken from the first
non-bool handle, so ``F.where(cond, g, 0.0)`` makes ``0.0`` of ``g``'s dtype.
Equal scalar constants are made once per namespace.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..dtypes import bool_, dtype
from ..ops import OPS, Meta
from .graph import USER, Graph, TensorType


class Value:
    """A handle on one value (node) of a graph: what gradient rules see as a "tensor"."""

    __slots__ = ("graph", "id")

    def __init__(self, graph: Graph, nid: int) -> None:
        self.graph = graph
        self.id = nid

    @property
    def type(self) -> TensorType:
        return self.graph.node(self.id).type

    @property
    def shape(self) -> tuple:
        return self.type.shape

    @property
    def dtype(self) -> dtype:
        return self.type.dtype

    @property
    def ndim(self) -> int:
        return self.type.ndim

    def __repr__(self) -> str:
        return f"<Value %{self.id}: {self.dtype}{list(self.shape)} of graph {self.graph.name}>"


class GraphOps:
    """``F.<op>(*args, **attrs)`` appends an application of ``op`` to ``graph``."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self._scalars: dict[tuple, int] = {}

    def __getattr__(self, name: str):
        if name.startswith("_") or name not in OPS:
            raise AttributeError(f"irgrad has no primitive op named {name!r}")

        def call(self, *args, **attrs) -> Value:
            return self.apply(name, args, attrs)

        call.__name__ = name
        # resolved once per process, as a method of the class: kept on the instance, a
        # closure over ``self`` would make a reference cycle holding the whole graph
        setattr(GraphOps, name, call)
        return getattr(self, name)

    # --- values ------------------------------------------------------------------------
    def value(self, nid: int) -> Value:
        """The handle of an existing node."""
        if nid not in self.graph:
            raise KeyError(f"node {nid} is not in graph {self.graph.name}")
        return Value(self.graph, nid)

    def input(self, name: str, shape: tuple, dt: dtype, role: str = USER) -> Value:
        """Add a graph input and return its handle."""
        return Value(self.graph, self.graph.add_input(name, TensorType(tuple(shape), dt), role))

    def constant(self, value: Any, dt: dtype | None = None) -> Value:
        """A constant node holding ``value`` (as ``dt`` when given)."""
        array = np.asarray(value, dtype=None if dt is None else dt.np)
        return Value(self.graph, self.graph.add_constant(array))

    # --- op application ----------------------------------------------------------------
    def apply(self, name: str, args: tuple, attrs: dict) -> Value:
        """Append ``name(*args, **attrs)``; its type comes from the op's shape rule."""
        op = OPS[name]
        if op.arity >= 0 and len(args) != op.arity:
            raise TypeError(f"{name} takes {op.arity} arguments, got {len(args)}")
        ids = self._operands(name, args)
        metas = [Meta(self.graph.node(i).type.shape, self.graph.node(i).type.dtype) for i in ids]
        meta = op.infer(*metas, **attrs)
        out = TensorType(tuple(meta.shape), meta.dtype)
        return Value(self.graph, self.graph.add_op(name, ids, attrs, out))

    def _operands(self, name: str, args: tuple) -> list[int]:
        handles = [a for a in args if isinstance(a, Value)]
        for h in handles:
            if h.graph is not self.graph:
                raise ValueError(f"{name}: operand {h!r} belongs to another graph")
        ids = []
        for a in args:
            if isinstance(a, Value):
                ids.append(a.id)
            elif isinstance(a, (bool, int, float, np.generic)) or (isinstance(a, np.ndarray) and a.ndim == 0):
                ids.append(self._scalar(name, a, handles))
            else:
                raise TypeError(f"{name}: expected graph values or Python scalars, got {type(a).__name__}")
        return ids

    def _scalar(self, name: str, value, handles: list[Value]) -> int:
        if not handles:
            raise TypeError(f"{name}: a scalar operand needs a graph value to take its dtype from")
        dt = next((h.dtype for h in handles if h.dtype is not bool_), handles[0].dtype)
        array = np.asarray(value, dtype=dt.np)
        if array != value and value == value:  # e.g. 0.5 as an integer: not a weak scalar
            raise TypeError(f"{name}: scalar {value!r} is not representable in the operands' dtype {dt}")
        key = (dt, array.tobytes())
        nid = self._scalars.get(key)
        if nid is None or nid not in self.graph:
            nid = self._scalars[key] = self.graph.add_constant(array)
        return nid
