"""The sparse COO kernels of registry ops: the one table that says which ops take sparse
tensors, and how.

:func:`irgrad.dispatch.apply` runs an op's dense kernel first; only when it fails does
it ask the hook installed here, so the dense path pays nothing.  A sparse input makes
the dense kernel fail (its :class:`~irgrad.sparse.coo.SparseStorage` refuses reads),
and the hook runs the op's entry of :data:`KERNELS`, or raises PyTorch's
``NotImplementedError`` naming the op and the ``SparseCPU`` backend.  Each kernel gets
``(op, inputs, attrs)`` as ``apply`` does and is built from dense ops on the values.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .. import _tracing, dispatch
from ..ops import OpDef
from ..tensor import Tensor
from ..tensor_ops.pointwise import add, neg
from ..tensor_ops.split_join import cat
from . import products
from .construction import coalesce, to_dense
from .coo import SparseTensor, make
from .reductions import sparse_sum

Kernel = Callable[[OpDef, tuple, dict], Tensor]


def _on_values(op: OpDef, inputs: tuple, attrs: dict) -> SparseTensor:
    """An op that maps zero to zero, run on the values (casts, copies, zero-preserving
    elementwise functions)."""
    (s,) = inputs
    values = dispatch.apply(op, (s._vals,), attrs)
    idx = s._idx.copy() if op.name == "copy" else s._idx
    return make(idx, values, s.shape, s._coalesced)


def _scalar_operand(name: str, s: SparseTensor, other) -> Tensor:
    if isinstance(other, SparseTensor) or other._data.ndim != 0:
        raise NotImplementedError(
            f"irgrad: {name} of a sparse COO tensor supports a scalar (0-d) other operand only"
        )
    return other


def _mul(op: OpDef, inputs: tuple, attrs: dict) -> SparseTensor:
    a, b = inputs
    s, other = (a, b) if isinstance(a, SparseTensor) else (b, a)
    values = dispatch.apply(op, (s._vals, _scalar_operand(op.name, s, other)), attrs)
    return make(s._idx, values, s.shape, s._coalesced)


def _div(op: OpDef, inputs: tuple, attrs: dict) -> SparseTensor:
    s, other = inputs
    if not isinstance(s, SparseTensor):
        raise NotImplementedError("irgrad: division by a sparse COO tensor is not supported")
    values = dispatch.apply(op, (s._vals, _scalar_operand(op.name, s, other)), attrs)
    return make(s._idx, values, s.shape, s._coalesced)


def _add(op: OpDef, inputs: tuple, attrs: dict) -> Tensor:
    a, b = inputs
    if op.name == "sub":
        b = _negated(b)
    if isinstance(a, SparseTensor) and isinstance(b, SparseTensor):
        if tuple(a.shape) != tuple(b.shape):
            raise RuntimeError(
                f"add: expected 'self' and 'other' to have same size, but self has size {list(a.shape)} "
                f"while other has size {list(b.shape)}"
            )
        idx = np.concatenate([a._idx, b._idx], axis=1)
        values = cat([a._vals, b._vals])
        return coalesce(make(idx, values, a.shape, False))
    if isinstance(a, SparseTensor):
        raise RuntimeError(
            f"{op.name}(sparse, dense) is not supported. Use {op.name}(dense, sparse) instead."
        )
    return add(a, to_dense(b))


def _negated(t: Tensor) -> Tensor:
    if isinstance(t, SparseTensor):
        return make(t._idx, neg(t._vals), t.shape, t._coalesced)
    return neg(t)


def _matmul(op: OpDef, inputs: tuple, attrs: dict) -> Tensor:
    a, b = inputs
    if isinstance(a, SparseTensor) and isinstance(b, SparseTensor):
        return products.sparse_sparse(a, b)
    if isinstance(a, SparseTensor):
        return products.dense_product(a, b)
    return products.dense_sparse(a, b)


def _permute(op: OpDef, inputs: tuple, attrs: dict) -> SparseTensor:
    return products.transpose(inputs[0], tuple(attrs["dims"]))


def _sum(op: OpDef, inputs: tuple, attrs: dict) -> Tensor:
    return sparse_sum(inputs[0], attrs.get("dims"), bool(attrs.get("keepdim", False)))


# Elementwise functions with f(0) == 0, which PyTorch runs on a sparse tensor's values.
_ZERO_PRESERVING = """neg abs sign sin tan tanh asin atan sinh asinh atanh sqrt relu expm1 log1p
    floor ceil trunc round erf sgn square""".split()

KERNELS: dict[str, Kernel] = {
    **{name: _on_values for name in _ZERO_PRESERVING},
    "cast": _on_values,
    "copy": _on_values,
    "mul": _mul,
    "div": _div,
    "add": _add,
    "sub": _add,
    "matmul": _matmul,
    "permute": _permute,
    "sum": _sum,
}


def dispatch_other_layout(op: OpDef, inputs: tuple, attrs: dict) -> Tensor | None:
    """The result of ``op`` on inputs one of which is sparse, or None when none is."""
    if not any(isinstance(t, SparseTensor) for t in inputs):
        return None
    _tracing.untraceable(f"{op.name} of a sparse COO tensor")
    kernel = KERNELS.get(op.name)
    try:
        if kernel is None:
            raise NotImplementedError(
                f"Could not run 'aten::{op.name}' with arguments from the 'SparseCPU' backend "
                "(irgrad: this op does not take sparse COO tensors; call to_dense() first)."
            )
        return kernel(op, inputs, attrs)
    except Exception as error:
        error.__suppress_context__ = True  # not "during handling of" the dense kernel's failure
        raise
