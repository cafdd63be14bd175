"""Reductions of sparse COO tensors: ``sum`` (``irgrad.sparse.sum``) and the softmaxes
over the stored entries (``irgrad.sparse.softmax``, ``log_softmax``).

Entries that share their other indices form a group (numbered with ``np.unique``);
the values of a group are combined with ``index_add``, a dense op, so gradients reach
the values.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..creation import zeros
from ..tensor import Tensor
from ..tensor_ops.index_along import index_add
from ..tensor_ops.indexing import index_select
from ..tensor_ops.pointwise import div, exp, log, sub
from ..tensor_ops.reduce import sum as dense_sum
from .construction import coalesce, linear_keys
from .coo import SparseTensor, make


def _normalized(s: SparseTensor, dim) -> list[int]:
    if dim is None:
        return list(range(s.ndim))
    dims = [dim] if isinstance(dim, int) else list(dim)
    out = []
    for d in dims:
        if not -s.ndim <= d < s.ndim:
            raise IndexError(
                f"Dimension out of range (expected to be in range of [{-s.ndim}, {s.ndim - 1}], but got {d})"
            )
        out.append(d % s.ndim)
    return out


def sparse_sum(s: SparseTensor, dims: Sequence[int] | None = None, keepdim: bool = False) -> Tensor:
    """The sum over ``dims``: dense when every sparse dim is summed, else sparse (coalesced)."""
    if keepdim:
        raise NotImplementedError("irgrad: sum of a sparse COO tensor with keepdim=True is not supported")
    sparse_dim = s.sparse_dim()
    dims = _normalized(s, dims)
    summed_sparse = sorted(d for d in dims if d < sparse_dim)
    values = s._vals
    dense_axes = [d - sparse_dim + 1 for d in dims if d >= sparse_dim]
    if dense_axes:
        values = dense_sum(values, dense_axes)
    if len(summed_sparse) == sparse_dim:
        return dense_sum(values, 0)
    kept = [d for d in range(sparse_dim) if d not in summed_sparse]
    shape = tuple(s.shape[d] for d in range(s.ndim) if d not in dims)
    return coalesce(make(s._idx[kept], values, shape, False))


def _groups(s: SparseTensor, dim: int) -> tuple[np.ndarray, int]:
    """Each entry's group (its indices but ``dim``'s) and the number of groups."""
    if not 0 <= dim < s.sparse_dim():
        raise NotImplementedError("irgrad: sparse softmax is supported over a sparse dim only")
    others = [d for d in range(s.sparse_dim()) if d != dim]
    keys = linear_keys(s._idx[others], tuple(s.shape[d] for d in others))
    unique, group = np.unique(keys, return_inverse=True)
    return group.reshape(-1), unique.size


def _shifted(s: SparseTensor, group: np.ndarray, count: int) -> Tensor:
    """The values less their group's maximum (a constant: softmax does not change with it)."""
    peak = np.full((count, *s._vals._data.shape[1:]), -np.inf, dtype=s._vals._data.dtype)
    np.maximum.at(peak, group, s._vals._data)
    return sub(s._vals, Tensor._wrap(peak[group]))


def _group_sums(values: Tensor, group: np.ndarray, count: int) -> Tensor:
    index = Tensor._wrap(group)
    totals = index_add(zeros((count, *values.shape[1:]), dtype=values.dtype), 0, index, values)
    return index_select(totals, 0, index)


def softmax(input: SparseTensor, dim: int, dtype=None) -> SparseTensor:
    """Softmax over ``dim`` among the stored entries (missing ones count as -inf), as
    ``torch.sparse.softmax``."""
    s = coalesce(input if dtype is None else input.to(dtype))
    group, count = _groups(s, _normalized(s, dim)[0])
    e = exp(_shifted(s, group, count))
    return make(s._idx, div(e, _group_sums(e, group, count)), s.shape, True)


def log_softmax(input: SparseTensor, dim: int, dtype=None) -> SparseTensor:
    """Log-softmax over ``dim`` among the stored entries, as ``torch.sparse.log_softmax``."""
    s = coalesce(input if dtype is None else input.to(dtype))
    group, count = _groups(s, _normalized(s, dim)[0])
    shifted = _shifted(s, group, count)
    return make(s._idx, sub(shifted, log(_group_sums(exp(shifted), group, count))), s.shape, True)
