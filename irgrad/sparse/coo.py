"""The sparse COO tensor: a :class:`~irgrad.tensor.Tensor` whose layout is ``sparse_coo``.

It holds an int64 index array of shape ``(sparse_dim, nnz)`` and a values tensor of
shape ``(nnz, *dense_shape)`` instead of a dense array.  Where a dense tensor keeps its
numpy array (``_data``) it keeps a :class:`SparseStorage`, which answers the metadata
every dense code path reads first (``shape``, ``ndim``, ``dtype``, ``size``) and refuses
any read of values.  So every op reaches :func:`irgrad.dispatch.apply` as usual, its
kernel fails on the storage, and only then, off the dense hot path, the dispatcher
hands the call to the sparse kernels (:mod:`irgrad.sparse.layout_dispatch`).

Autograd flows through the values: every sparse kernel is a composite of dense ops on
the values tensor, so ``requires_grad``, ``grad_fn`` and ``is_leaf`` are the values'.
A leaf's gradient is sparse (its values' gradient at its indices), except what a dense
product (``mm``, ``matmul``, ``spmm``) adds, which is dense, as in PyTorch.
"""

from __future__ import annotations

import re

import numpy as np

from .. import _tracing
from ..dtypes import bool_, get_default_dtype, int64
from ..tensor import Tensor, _init
from ..tensor_ops.tensor_facts import sparse_coo
from ..tensor_repr import _with_suffixes


class SparseStorage:
    """What a sparse tensor holds where a dense one holds its array: its dense shape and
    dtype, and an error for anything that would read values from memory."""

    __slots__ = ("shape", "ndim", "size", "dtype", "itemsize")

    def __init__(self, shape: tuple[int, ...], dtype: np.dtype) -> None:
        self.shape = shape
        self.ndim = len(shape)
        self.size = int(np.prod(shape, dtype=np.int64))
        self.dtype = dtype
        self.itemsize = dtype.itemsize

    def __array__(self, *args, **kwargs):
        raise _no_memory()

    def __getattr__(self, name: str):
        raise _no_memory()


def _no_memory() -> RuntimeError:
    return RuntimeError(
        "Cannot access data pointer of Tensor that doesn't have storage (a sparse COO tensor, "
        "layout torch.sparse_coo: call to_dense() first)"
    )


class SparseTensor(Tensor):
    """A tensor of layout ``irgrad.sparse_coo`` (see the module docstring)."""

    __slots__ = ("_idx", "_vals", "_coalesced", "_dense_leaf")

    # --- layout facts -------------------------------------------------------------------
    layout = sparse_coo
    is_sparse = True

    def sparse_dim(self) -> int:
        return self._idx.shape[0]

    def dense_dim(self) -> int:
        return self._vals._data.ndim - 1

    def _nnz(self) -> int:
        return self._idx.shape[1]

    def is_coalesced(self) -> bool:
        return self._coalesced

    def _indices(self) -> Tensor:
        return Tensor._wrap(self._idx)

    def _values(self) -> Tensor:
        return self._vals

    def indices(self) -> Tensor:
        if not self._coalesced:
            raise RuntimeError("Cannot get indices on an uncoalesced tensor, please call .coalesce() first")
        return self._indices()

    def values(self) -> Tensor:
        if not self._coalesced:
            raise RuntimeError("Cannot get values on an uncoalesced tensor, please call .coalesce() first")
        return self._vals

    # --- autograd: the values' (see the module docstring) -----------------------------
    @property
    def requires_grad(self) -> bool:
        return self._vals._rg

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        self._vals.requires_grad = value

    def requires_grad_(self, requires_grad: bool = True) -> SparseTensor:
        self._vals.requires_grad = requires_grad
        return self

    @property
    def grad_fn(self):
        return self._vals.grad_fn

    @property
    def is_leaf(self) -> bool:
        return self._vals._node is None

    @property
    def grad(self) -> Tensor | None:
        """The values' gradient at this tensor's indices (sparse), plus what dense products
        gave (dense), as PyTorch accumulates them."""
        sparse = None if self._vals._grad is None else self._values_gradient()
        shadow = self._dense_leaf
        dense = None if shadow is None else shadow._grad
        if dense is None:
            return sparse
        return dense if sparse is None else dense + sparse

    def _values_gradient(self) -> SparseTensor:
        """The values' gradient at this tensor's indices, once per index: entries at one
        index share the gradient of that element, which holds their sum."""
        idx, grad = self._idx, self._vals._grad
        if not self._coalesced and idx.shape[1] > 1:
            sparse_shape = tuple(self.shape[: idx.shape[0]])
            _, first = np.unique(np.ravel_multi_index(tuple(idx), sparse_shape), return_index=True)
            idx, grad = idx[:, first], Tensor._wrap(grad._data[first])
        return make(idx, grad, self.shape, True)

    @grad.setter
    def grad(self, value: Tensor | None) -> None:
        if value is not None:
            raise RuntimeError("irgrad: only None can be assigned to a sparse tensor's .grad")
        self._vals._grad = None
        if self._dense_leaf is not None:
            self._dense_leaf._grad = None

    def dense_leaf(self) -> Tensor:
        """This leaf as a dense tensor whose gradient is part of this tensor's (dense
        products of a sparse leaf give a dense gradient in PyTorch)."""
        if self._dense_leaf is None:
            from .construction import dense_array  # a sibling module that builds on this one

            self._dense_leaf = Tensor._wrap(dense_array(self), requires_grad=True)
        return self._dense_leaf

    def detach(self) -> SparseTensor:
        """The same indices and values outside autograd (the registry's ``detach`` kernel
        passes its input through, so it would not see a sparse one)."""
        return make(self._idx, self._vals.detach(), self.shape, self._coalesced)

    # --- conversions that read memory ---------------------------------------------------
    def numpy(self, *, force: bool = False) -> np.ndarray:
        raise TypeError("can't convert Sparse layout tensor to numpy. Use Tensor.to_dense() first.")

    def stride(self, dim: int | None = None):
        raise RuntimeError("Sparse tensors do not have strides")

    def is_contiguous(self, memory_format=None) -> bool:
        raise RuntimeError("Sparse tensors do not have is_contiguous")

    def __repr__(self) -> str:
        return sparse_repr(self)

    def __deepcopy__(self, memo) -> SparseTensor:
        values = self._vals.detach().clone().requires_grad_(self._vals._rg)
        new = make(self._idx.copy(), values, self.shape, self._coalesced)
        memo[id(self)] = new
        return new


def make(indices: np.ndarray, values: Tensor, shape: tuple[int, ...], coalesced: bool) -> SparseTensor:
    """A sparse tensor over ``indices`` (int64, ``(sparse_dim, nnz)``) and ``values``, unchecked.

    A tracer stops here: its graphs hold dense values only, so a call that makes a
    sparse tensor runs eagerly (a graph break).
    """
    _tracing.untraceable("a sparse COO tensor")
    t = object.__new__(SparseTensor)
    _init(t, SparseStorage(tuple(int(n) for n in shape), values._data.dtype))
    t._idx = indices
    t._vals = values
    t._coalesced = coalesced
    t._dense_leaf = None
    return t


def sparse_repr(t: SparseTensor) -> str:
    """PyTorch's print of a sparse tensor: its indices, values, size, nnz, dtype (as a dense
    tensor shows it) and layout, then its autograd state."""
    indices = repr(Tensor._wrap(t._idx)).replace("\n", "\n" + " " * len("tensor(indices="))
    values = re.sub(r",\s*dtype=[^)]*\)$", ")", repr(t._vals.detach()))  # the dtype is said once, below
    values = values.replace("\n", "\n" + " " * len("       values="))
    suffixes = [f"size={tuple(t.shape)}", f"nnz={t._nnz()}"]
    if t.dtype not in (get_default_dtype(), int64, bool_):
        suffixes.append(f"dtype={t.dtype}")
    suffixes.append("layout=torch.sparse_coo")
    if t._vals._node is not None:
        suffixes.append(f"grad_fn=<{t._vals._node.name()}>")
    elif t._vals._rg:
        suffixes.append("requires_grad=True")
    head = f"tensor(indices={indices},\n       values={values},\n       "
    return _with_suffixes(head + suffixes[0], suffixes[1:], len("tensor("))
