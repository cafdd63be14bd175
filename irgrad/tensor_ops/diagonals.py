"""Triangles and diagonals of matrices: ``tril``/``triu`` (the other part zeroed, with
``where``), ``diagonal`` (a view, the ``diagonal`` primitive), ``diag_embed`` (its inverse,
the ``diagonal_grad`` primitive) and ``diag`` (either, by the input's rank).

``_diagonal_dims`` is PyTorch's check of the two dims, shared with ``diagonal_scatter``."""

from __future__ import annotations

import numpy as np

from .._arguments import tensor_arguments
from ..dispatch import apply
from ..ops import OPS
from ..ops.shapes import normalize_dim
from ..tensor import Tensor
from .select import where
from .shape import clone


def _triangle(input: Tensor, diagonal: int, upper: bool) -> Tensor:

    rows, cols = input._data.shape[-2:]
    r = np.arange(rows)[:, None]
    c = np.arange(cols)[None, :]
    keep = (c - r >= diagonal) if upper else (c - r <= diagonal)
    zero = Tensor._wrap(np.zeros((), input._data.dtype))  # of input's dtype: a bool mask stays bool
    return where(Tensor._wrap(keep), input, zero)


@tensor_arguments
def tril(input: Tensor, diagonal: int = 0) -> Tensor:
    _check_matrices("tril", input)
    return _triangle(input, diagonal, upper=False)


@tensor_arguments
def triu(input: Tensor, diagonal: int = 0) -> Tensor:
    _check_matrices("triu", input)
    return _triangle(input, diagonal, upper=True)


@tensor_arguments
def diagonal(input: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    """The diagonal ``offset`` (above the main one when positive) of the matrices in dims
    ``dim1`` (rows) and ``dim2`` (columns), as a last dim replacing them: a view, so a write
    through it changes ``input``, as PyTorch's."""
    d1, d2 = _diagonal_dims("diagonal", dim1, dim2, input._data.ndim)
    return apply(OPS["diagonal"], (input,), {"offset": int(offset), "dim1": d1, "dim2": d2})


def _diagonal_dims(name: str, dim1: int, dim2: int, ndim: int) -> tuple[int, int]:
    """``dim1`` and ``dim2`` of ``ndim`` dims, normalized; PyTorch's error when they are one."""
    d1, d2 = normalize_dim(name, dim1, ndim), normalize_dim(name, dim2, ndim)
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    return d1, d2


@tensor_arguments
def diag_embed(input: Tensor, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:
    """Matrices (in dims ``dim1`` and ``dim2`` of the result) holding ``input``'s last dim
    on their diagonal ``offset`` and zeros elsewhere: the inverse of :func:`diagonal`."""
    shape = input._data.shape
    d1, d2 = _diagonal_dims("diag_embed", dim1, dim2, len(shape) + 1)
    n = shape[-1] + abs(int(offset))  # (a 0-d input failed above: its two dims are one)
    out_shape = list(shape[:-1])
    for d in sorted((d1, d2)):
        out_shape.insert(d, n)
    attrs = {"shape": tuple(out_shape), "offset": int(offset), "dim1": d1, "dim2": d2}
    return apply(OPS["diagonal_grad"], (input,), attrs)


@tensor_arguments
def diag(input: Tensor, diagonal: int = 0) -> Tensor:
    """A 1-D input as the diagonal ``diagonal`` of a square matrix, or a 2-D input's
    diagonal ``diagonal`` as a new 1-D tensor (a copy, unlike :func:`diagonal`)."""
    ndim = input._data.ndim
    if ndim == 1:
        return diag_embed(input, diagonal, 0, 1)
    if ndim == 2:
        return clone(apply(OPS["diagonal"], (input,), {"offset": int(diagonal), "dim1": 0, "dim2": 1}))
    raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {ndim}D")


def _check_matrices(name: str, input: Tensor) -> None:
    if input.dim() < 2:
        raise RuntimeError(
            f"{name}: input tensor must have at least 2 dimensions, got shape {list(input.shape)}"
        )
