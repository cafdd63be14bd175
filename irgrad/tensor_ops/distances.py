"""Pairwise distances: ``cdist`` (between the rows of two batches of matrices) and ``pdist``
(between the rows of one matrix, condensed to the pairs ``i < j``).

Both are p-norms of row differences (:func:`irgrad.tensor_ops.reduce.norm`, whose
gradient is 0 at a zero distance, as PyTorch's backward), except that ``cdist`` with
``p = 2`` on more than 25 rows uses PyTorch's matrix-product form
``sqrt(|x|^2 - 2 x.y + |y|^2)`` (``compute_mode``), whose rounding it then shares.
"""

from __future__ import annotations

import numpy as np

from .._arguments import tensor_arguments
from ..creation import ones, tensor
from ..dtypes import FLOAT, int64
from ..ops.shapes import broadcast_shapes
from ..tensor import Tensor
from . import pointwise as P
from .indexing import index_select
from .linalg import matmul
from .reduce import p_norm
from .select import where
from .split_join import cat

_MODES = ("use_mm_for_euclid_dist_if_necessary", "use_mm_for_euclid_dist", "donot_use_mm_for_euclid_dist")


def _euclidean_by_products(x1: Tensor, x2: Tensor) -> Tensor:
    """PyTorch's ``_euclidean_dist``: one product of ``[-2 x1, |x1|^2, 1]`` and
    ``[x2, 1, |x2|^2]``, clamped at 0 before the root (with a zero gradient there)."""
    norm1 = P.mul(x1, x1).sum(-1, keepdim=True)
    norm2 = P.mul(x2, x2).sum(-1, keepdim=True)
    left = cat([P.mul(x1, -2), norm1, ones(norm1.shape, dtype=x1.dtype)], -1)
    right = cat([x2, ones(norm2.shape, dtype=x2.dtype), norm2], -1)
    squared = P.clamp_min(matmul(left, right.mT), 0)
    positive = P.gt(squared, 0)
    return where(positive, P.sqrt(where(positive, squared, 1.0)), 0.0)


@tensor_arguments
def cdist(
    x1: Tensor, x2: Tensor, p: float = 2.0, compute_mode: str = "use_mm_for_euclid_dist_if_necessary"
) -> Tensor:
    """The ``p``-norm distance between each row of ``x1`` (..., P, M) and each row of ``x2``
    (..., R, M): shape (..., P, R), the leading dims broadcast, as ``torch.cdist``."""
    if x1._data.ndim < 2 or x2._data.ndim < 2:
        bad, ndim = ("X1", x1._data.ndim) if x1._data.ndim < 2 else ("X2", x2._data.ndim)
        raise RuntimeError(f"cdist only supports at least 2D tensors, {bad} got: {ndim}D")
    if x1.shape[-1] != x2.shape[-1]:
        raise RuntimeError(
            f"X1 and X2 must have the same number of columns. X1: {x1.shape[-1]} X2: {x2.shape[-1]}"
        )
    if x1.dtype.category != FLOAT or x2.dtype.category != FLOAT:
        bad, dt = ("X1", x1.dtype) if x1.dtype.category != FLOAT else ("X2", x2.dtype)
        raise RuntimeError(f"cdist only supports floating-point dtypes, {bad} got: {dt}")
    if x1.dtype is not x2.dtype:
        raise RuntimeError(f"expected scalar type {x1.dtype} but found {x2.dtype}")
    if p < 0:
        raise RuntimeError("cdist only supports non-negative p values")
    if compute_mode not in _MODES:
        raise ValueError(f"{compute_mode} is not a valid value for compute_mode")
    batch = broadcast_shapes("cdist", tuple(x1.shape[:-2]), tuple(x2.shape[:-2]))
    a = x1.expand(*batch, *x1.shape[-2:])
    b = x2.expand(*batch, *x2.shape[-2:])
    rows1, rows2 = a.shape[-2], b.shape[-2]
    by_products = p == 2 and (
        compute_mode == "use_mm_for_euclid_dist" or (compute_mode == _MODES[0] and (rows1 > 25 or rows2 > 25))
    )
    if by_products:
        return _euclidean_by_products(a, b)
    return _row_norms(P.sub(a.unsqueeze(-2), b.unsqueeze(-3)), p)


@tensor_arguments
def pdist(input: Tensor, p: float = 2) -> Tensor:
    """The ``p``-norm distances between the rows ``i < j`` of a 2-D ``input``, in row-major
    order of the pairs (``n (n - 1) / 2`` of them), as ``torch.pdist``."""
    if input._data.ndim != 2:
        raise RuntimeError(f"pdist only supports 2D tensors, got: {input._data.ndim}D")
    if input.dtype.category != FLOAT:
        raise RuntimeError("pdist only supports floating-point dtypes")
    if p < 0:
        raise RuntimeError("pdist only supports non-negative p values")
    first, second = np.triu_indices(input.shape[0], 1)
    left = index_select(input, 0, tensor(first, dtype=int64))
    right = index_select(input, 0, tensor(second, dtype=int64))
    return _row_norms(P.sub(left, right), p)


def _row_norms(differences: Tensor, p: float) -> Tensor:
    """The ``p``-norms of the differences over the last dim; with no columns every
    distance is 0, the inf-norm's too (PyTorch's, where ``vector_norm`` would raise)."""
    return p_norm(differences, 1 if differences.shape[-1] == 0 else p, -1)
