"""Sparse COO tensors, as ``torch.sparse_coo_tensor`` and ``torch.sparse``.

A sparse tensor is a :class:`~irgrad.tensor.Tensor` of layout ``irgrad.sparse_coo``
(:mod:`.coo`); the registry ops that accept one say so in one table,
:data:`.layout_dispatch.KERNELS`, which the dispatcher consults only when an op's dense
kernel fails.  This module holds ``torch.sparse``'s functions and attaches the sparse
methods (``to_sparse``, ``to_dense``, ``coalesce`` ...) to tensors.
"""

from __future__ import annotations

from .. import dispatch
from .._arguments import tensor_arguments
from ..tensor import Tensor
from ..tensor_ops.linalg import mm as dense_mm
from . import products
from .construction import coalesce, sparse_coo_tensor, to_dense, to_sparse
from .coo import SparseTensor
from .layout_dispatch import KERNELS, dispatch_other_layout
from .reductions import log_softmax, softmax, sparse_sum

__all__ = ["SparseTensor", "KERNELS", "sparse_coo_tensor", "mm", "spmm", "sum", "softmax", "log_softmax"]


@tensor_arguments
def mm(mat1: Tensor, mat2: Tensor) -> Tensor:
    """``mat1 @ mat2`` with a sparse ``mat1``, as ``torch.sparse.mm``: dense for a dense
    ``mat2``, sparse for a sparse one; the gradient of a sparse leaf is sparse, at its
    indices (``torch.mm`` gives a dense one)."""
    if isinstance(mat1, SparseTensor):
        if isinstance(mat2, SparseTensor):
            return products.sparse_sparse(mat1, mat2)
        return products.sparse_dense(mat1, mat2)
    return dense_mm(mat1, mat2)


@tensor_arguments
def spmm(input: Tensor, mat2: Tensor) -> Tensor:
    """``torch.spmm``: ``torch.mm`` under its sparse name."""
    return dense_mm(input, mat2)


def sum(input: Tensor, dim=None, dtype=None) -> Tensor:  # noqa: A001 - torch.sparse.sum
    """The sum of a sparse tensor over ``dim`` (all dims by default), as ``torch.sparse.sum``:
    dense when every sparse dim is summed, else sparse."""
    if not isinstance(input, SparseTensor):
        raise RuntimeError("torch.sparse.sum: expected a sparse COO tensor, got layout torch.strided")
    if dtype is not None:
        input = input.to(dtype)
    return sparse_sum(input, dim)


def _sparse_only(name: str):
    def method(self: Tensor, *args, **kwargs):
        raise RuntimeError(f"{name} expected sparse coordinate tensor layout but got Strided")

    method.__name__ = name
    return method


def install() -> None:
    """Attach the sparse methods to tensors and the sparse kernels to the dispatcher."""
    Tensor.to_sparse = to_sparse
    Tensor.to_sparse_coo = lambda self: to_sparse(self)
    Tensor.to_dense = to_dense
    Tensor.sparse_dim = lambda self: 0
    Tensor.dense_dim = lambda self: self._data.ndim
    for name in ("coalesce", "is_coalesced", "_indices", "_values", "indices", "values", "_nnz"):
        setattr(Tensor, name, _sparse_only(name))
    SparseTensor.coalesce = coalesce
    dispatch.set_other_layout(dispatch_other_layout)
