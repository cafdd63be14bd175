"""Making sparse COO tensors and converting them: ``sparse_coo_tensor``, ``to_sparse``,
``coalesce`` and ``to_dense``.

Values move only through dense ops (``index_add``, ``index_put``, advanced indexing),
so gradients reach the values a sparse tensor was made from; indices are plain int64
numpy arrays, computed with vectorized numpy (``unique``, ``nonzero``).
"""

from __future__ import annotations

import numpy as np

from .. import _tracing
from ..creation import tensor, zeros
from ..dispatch import cast
from ..dtypes import to_dtype
from ..tensor import Tensor
from ..tensor import device as cpu_device
from ..tensor_ops.index_along import index_add
from ..tensor_ops.indexing import index_put
from ..tensor_ops.tensor_facts import sparse_coo
from .coo import SparseTensor, make


def _index_array(indices) -> np.ndarray:
    array = indices._data if isinstance(indices, Tensor) else np.asarray(indices)
    if array.dtype.kind not in "iu":
        raise RuntimeError(f"indices must be an int64 tensor, got {array.dtype}")
    if array.ndim != 2:
        raise RuntimeError(f"indices must be sparse_dim x nnz, but got: {list(array.shape)}")
    return np.ascontiguousarray(array, dtype=np.int64)


def sparse_coo_tensor(
    indices,
    values,
    size=None,
    *,
    dtype=None,
    device: cpu_device | str | None = None,
    requires_grad: bool = False,
    check_invariants: bool | None = None,
    is_coalesced: bool | None = None,
) -> SparseTensor:
    """A sparse COO tensor with ``values[k]`` at ``indices[:, k]``, as ``torch.sparse_coo_tensor``.

    ``size`` defaults to the smallest that holds the indices.  The indices are always
    checked against ``size`` (``check_invariants`` is accepted for PyTorch's signature:
    the check is a vectorized pass over the indices).  Values that require grad keep
    their history: gradients of what is computed from the tensor reach them.
    """
    if device is not None:
        cpu_device(device)  # only the cpu exists
    idx = _index_array(indices)
    vals = values if isinstance(values, Tensor) else tensor(values)
    if dtype is not None:
        vals = cast(vals, to_dtype(dtype))
    sparse_dim, nnz = idx.shape
    if vals._data.ndim == 0 or vals._data.shape[0] != nnz:
        got = vals._data.shape[0] if vals._data.ndim else 0
        raise RuntimeError(
            f"indices and values must have same nnz, but got nnz from indices: {nnz}, nnz from values: {got}"
        )
    dense_shape = tuple(vals._data.shape[1:])
    if size is None:
        bounds = idx.max(axis=1) + 1 if nnz else np.zeros(sparse_dim, np.int64)
        shape = tuple(int(n) for n in bounds) + dense_shape
    else:
        shape = tuple(int(n) for n in size)
        _check(idx, dense_shape, shape)
    if requires_grad:
        vals = vals.detach().requires_grad_()
    elif vals._rg and vals._node is None:
        vals = vals.view(vals.shape)  # made from a leaf: not a leaf itself, as in PyTorch
    return make(idx, vals, shape, bool(is_coalesced))


def _check(idx: np.ndarray, dense_shape: tuple, shape: tuple) -> None:
    sparse_dim, nnz = idx.shape
    if len(shape) != sparse_dim + len(dense_shape):
        raise RuntimeError(
            f"number of dimensions must be sparse_dim ({sparse_dim}) + dense_dim ({len(dense_shape)}), "
            f"but got {len(shape)}"
        )
    if tuple(shape[sparse_dim:]) != dense_shape:
        raise RuntimeError(
            f"values has incorrect size, expected {[nnz, *shape[sparse_dim:]]}, got {[nnz, *dense_shape]}"
        )
    if nnz:
        low, high = idx.min(axis=1), idx.max(axis=1)
        for d in range(sparse_dim):
            if low[d] < 0:
                raise RuntimeError(f"found negative index {low[d]} for dim {d}")
            if high[d] >= shape[d]:
                raise RuntimeError(
                    f"size is inconsistent with indices: for dim {d}, size is {shape[d]} but found index {high[d]}"
                )


def linear_keys(idx: np.ndarray, sparse_shape: tuple) -> np.ndarray:
    """Each entry's position in the row-major order of the sparse dims."""
    if idx.shape[0] == 0:
        return np.zeros(idx.shape[1], np.int64)
    return np.ravel_multi_index(tuple(idx), sparse_shape)


def coalesce(self: SparseTensor) -> SparseTensor:
    """The same tensor with its indices sorted and unique, values at one index summed."""
    if self._coalesced:
        return self
    sparse_shape = tuple(self.shape[: self.sparse_dim()])
    keys = linear_keys(self._idx, sparse_shape)
    if keys.size == 0 or bool(np.all(keys[1:] > keys[:-1])):
        return make(self._idx, self._vals, self.shape, True)
    unique, inverse = np.unique(keys, return_inverse=True)
    idx = np.stack(np.unravel_index(unique, sparse_shape)).astype(np.int64).reshape(len(sparse_shape), -1)
    summed = zeros((unique.size, *self._vals._data.shape[1:]), dtype=self.dtype)
    return make(idx, index_add(summed, 0, Tensor._wrap(inverse.reshape(-1)), self._vals), self.shape, True)


def to_dense(self: Tensor, dtype=None, *, masked_grad=None) -> Tensor:
    """The dense tensor (a dense tensor returns itself); values at one index add up."""
    if not isinstance(self, SparseTensor):
        return self if dtype is None else cast(self, to_dtype(dtype))
    _tracing.untraceable("to_dense() of a sparse COO tensor")
    out = zeros(tuple(self.shape), dtype=self.dtype)
    index = tuple(Tensor._wrap(row) for row in self._idx)
    dense = index_put(out, index, self._vals, accumulate=True)
    return dense if dtype is None else cast(dense, to_dtype(dtype))


def dense_array(self: SparseTensor) -> np.ndarray:
    """The dense values as a numpy array, outside autograd."""
    out = np.zeros(self.shape, dtype=self._data.dtype)
    np.add.at(out, tuple(self._idx), self._vals._data)
    return out


def to_sparse(self: Tensor, sparse_dim: int | None = None, *, layout=None, blocksize=None, dense_dim=None):
    """A dense tensor as a coalesced sparse COO tensor over its nonzero entries (its
    first ``sparse_dim`` dims sparse, the rest dense); a sparse one returns itself."""
    if layout is not None and layout is not sparse_coo:
        raise NotImplementedError(f"irgrad: to_sparse supports only layout torch.sparse_coo, got {layout}")
    if isinstance(self, SparseTensor):
        if sparse_dim is not None and sparse_dim != self.sparse_dim():
            raise RuntimeError(
                "to_sparse: conversion from Sparse to Sparse with sparse_dim argument !=self.sparse_dim() "
                "is not supported"
            )
        return self
    ndim = self._data.ndim
    if dense_dim is not None:
        sparse_dim = ndim - dense_dim
    sparse_dim = ndim if sparse_dim is None else sparse_dim
    if not 0 <= sparse_dim <= ndim:
        raise RuntimeError(f"sparse_dim must be in [0, {ndim}], got {sparse_dim}")
    _tracing.untraceable("to_sparse()")
    nonzero = self._data != 0
    if sparse_dim < ndim:
        nonzero = nonzero.any(axis=tuple(range(sparse_dim, ndim)))
    positions = np.nonzero(nonzero)
    idx = np.array(positions, dtype=np.int64).reshape(sparse_dim, -1)
    values = (
        self[tuple(Tensor._wrap(p.astype(np.int64)) for p in positions)] if sparse_dim else self.unsqueeze(0)
    )
    return make(idx, values, tuple(self.shape), True)
