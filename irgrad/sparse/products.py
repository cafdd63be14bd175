"""Matrix products with sparse COO operands, vectorized with numpy.

``sparse @ dense`` gathers the dense rows each entry meets (``index_select``), scales
them by the values and adds them into the result's rows (``index_add``): dense ops, so
gradients reach the dense operand and the values.  ``sparse @ sparse`` pairs every
entry ``(i, k)`` of the left with the right's entries of row ``k`` (the right sorted
by row, its rows' spans found with ``searchsorted``) and sums equal ``(i, j)``.
"""

from __future__ import annotations

import numpy as np

from ..creation import zeros
from ..recording.grad_mode import STATE
from ..tensor import Tensor
from ..tensor_ops.index_along import index_add
from ..tensor_ops.indexing import index_select
from ..tensor_ops.linalg import matmul
from ..tensor_ops.pointwise import mul
from ..tensor_ops.shape import t as transpose2d
from ..tensor_ops.shape import unsqueeze
from .construction import coalesce
from .coo import SparseTensor, make


def _check_matrix(name: str, s: SparseTensor) -> None:
    if s.sparse_dim() != 2 or s.dense_dim() != 0:
        raise RuntimeError(
            f"{name}: expected a 2-D sparse matrix (sparse_dim 2, dense_dim 0), got sparse_dim "
            f"{s.sparse_dim()} and dense_dim {s.dense_dim()}"
        )


def _check_sizes(name: str, left: tuple, right: tuple) -> None:
    if left[1] != right[0]:
        raise RuntimeError(
            f"{name}: mat1 and mat2 shapes cannot be multiplied ({left[0]}x{left[1]} and {right[0]}x{right[1]})"
        )


def sparse_dense(s: SparseTensor, d: Tensor, name: str = "mm") -> Tensor:
    """``s @ d`` as a dense tensor: a gradient to ``s``'s values (sparse, at its indices)."""
    _check_matrix(name, s)
    if d._data.ndim != 2:
        raise RuntimeError(f"{name}: expected a 2-D dense matrix, got {d._data.ndim}-D")
    _check_sizes(name, tuple(s.shape), tuple(d.shape))
    if s.dtype != d.dtype:
        raise RuntimeError(
            f"{name}: expected mat1 and mat2 to have the same dtype, but got: {s.dtype} != {d.dtype}"
        )
    rows, cols = s._idx
    gathered = mul(index_select(d, 0, Tensor._wrap(cols)), unsqueeze(s._vals, 1))
    out = zeros((s.shape[0], d.shape[1]), dtype=d.dtype)
    return index_add(out, 0, Tensor._wrap(rows), gathered)


def dense_product(s: SparseTensor, d: Tensor, name: str = "mm") -> Tensor:
    """``s @ d`` as ``torch.mm`` computes it: a sparse leaf that requires grad gets a dense
    gradient (its dense twin is multiplied instead), anything else a gradient at its values."""
    if _dense_gradient(s):
        _check_matrix(name, s)
        return matmul(s.dense_leaf(), d)
    return sparse_dense(s, d, name)


def dense_sparse(d: Tensor, s: SparseTensor) -> Tensor:
    """``d @ s`` as a dense tensor: ``(s.T @ d.T).T``."""
    if _dense_gradient(s):
        _check_matrix("mm", s)
        return matmul(d, s.dense_leaf())
    return transpose2d(sparse_dense(transpose(s), transpose2d(d)))


def _dense_gradient(s: SparseTensor) -> bool:
    """Whether a dense product gives ``s`` a dense gradient: a sparse leaf that requires grad."""
    return STATE.enabled and s._vals._rg and s._vals._node is None


def transpose(s: SparseTensor, dims: tuple[int, ...] | None = None) -> SparseTensor:
    """``s`` with its sparse dims permuted (reversed for a matrix); dense dims stay."""
    order = list(reversed(range(s.sparse_dim()))) if dims is None else list(dims)
    if sorted(order[: s.sparse_dim()]) != list(range(s.sparse_dim())) or order[s.sparse_dim() :] != list(
        range(s.sparse_dim(), len(order))
    ):
        raise RuntimeError("transpose(): cannot transpose a sparse dimension with a dense dimension")
    shape = tuple(s.shape[k] for k in order)
    return make(s._idx[order[: s.sparse_dim()]], s._vals, shape, False)


def sparse_sparse(a: SparseTensor, b: SparseTensor, name: str = "mm") -> SparseTensor:
    """``a @ b`` as a coalesced sparse tensor (PyTorch's result layout)."""
    _check_matrix(name, a)
    _check_matrix(name, b)
    _check_sizes(name, tuple(a.shape), tuple(b.shape))
    a_rows, a_cols = a._idx
    order = np.argsort(b._idx[0], kind="stable")
    b_rows = b._idx[0][order]
    start = np.searchsorted(b_rows, a_cols, side="left")
    count = np.searchsorted(b_rows, a_cols, side="right") - start
    left = np.repeat(np.arange(a_cols.size), count)  # the left entry of each product
    offsets = np.cumsum(count) - count
    right = order[start[left] + np.arange(left.size) - offsets[left]]  # the right entry
    values = mul(index_select(a._vals, 0, Tensor._wrap(left)), index_select(b._vals, 0, Tensor._wrap(right)))
    idx = np.stack([a_rows[left], b._idx[1][right]]).astype(np.int64).reshape(2, -1)
    return coalesce(make(idx, values, (a.shape[0], b.shape[1]), False))
