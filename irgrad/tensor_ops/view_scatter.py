"""The out-of-place writes through a view: ``select_scatter``, ``slice_scatter`` and
``diagonal_scatter`` give ``input`` with ``src`` written where ``select``, a slice or
``diagonal`` would read (what functionalized PyTorch programs use instead of an
in-place write into a view).

Each is ``where(mask, embedded src, input)``: the view op's own gradient op
(``slice_grad`` or ``diagonal_grad``) places ``src`` in a tensor of ``input``'s shape
and a constant mask picks it where the view reads.  So autograd and the tracer see
ordinary ops, and the gradients are PyTorch's: ``input`` gets the gradient outside the
view, ``src`` the gradient read through it.
"""

from __future__ import annotations

import numpy as np

from .._arguments import tensor_arguments
from ..dispatch import apply, cast
from ..dtypes import FLOAT
from ..ops import OPS
from ..ops.movement import diagonal_shape
from ..ops.shapes import fmt, normalize_dim
from ..recording.grad_mode import STATE
from ..tensor import Tensor
from . import pointwise as P
from .diagonals import _diagonal_dims
from .split_join import _full_slices


def _check_src(src: Tensor, view_shape: tuple) -> None:
    if tuple(src._data.shape) != tuple(view_shape):
        raise RuntimeError(
            "expected src to have a size equal to the slice of self. "
            f"src size = {fmt(src._data.shape)}, slice size = {fmt(view_shape)}"
        )


def _written(input: Tensor, src: Tensor, view_attrs: dict, grad_op: str) -> Tensor:
    """``input`` with ``src`` (cast to ``input``'s dtype, as PyTorch's copy does) where
    ``grad_op``'s view reads: ``grad_op`` places both ``src`` and the mask.  As in
    PyTorch, a ``src`` that requires grad cannot be written into a non-float ``input``."""
    if STATE.enabled and src._rg and input.dtype.category != FLOAT:
        raise RuntimeError(f"Autograd not support dtype: {input.dtype.scalar_type}")
    shape = tuple(input._data.shape)
    placed = apply(OPS[grad_op], (cast(src, input.dtype),), {"shape": shape, **view_attrs})
    mark = Tensor._wrap(np.ones(src._data.shape, np.bool_))
    mask = apply(OPS[grad_op], (mark,), {"shape": shape, **view_attrs})
    return P.where(mask, placed, input)


@tensor_arguments
def select_scatter(input: Tensor, src: Tensor, dim: int, index: int) -> Tensor:
    """``input`` with ``src`` written at ``index`` along ``dim`` (where ``input.select(dim,
    index)`` reads)."""
    if input._data.ndim == 0:
        raise IndexError("select() cannot be applied to a 0-dim tensor.")
    shape = input._data.shape
    d = normalize_dim("select", dim, len(shape))
    if not -shape[d] <= index < shape[d]:
        raise IndexError(
            f"select(): index {index} out of range for tensor of size {fmt(shape)} at dimension {d}"
        )
    _check_src(src, shape[:d] + shape[d + 1 :])
    at = _full_slices(shape[:d]) + (int(index) % shape[d],)
    return _written(input, src, {"index": at}, "slice_grad")


@tensor_arguments
def slice_scatter(
    input: Tensor, src: Tensor, dim: int = 0, start: int | None = None, end: int | None = None, step: int = 1
) -> Tensor:
    """``input`` with ``src`` written where ``input[..., start:end:step]`` (in ``dim``) reads."""
    if step <= 0:
        raise RuntimeError("slice step must be positive")
    shape = input._data.shape
    if not shape:
        raise IndexError("slice() cannot be applied to a 0-dim tensor.")
    d = normalize_dim("slice", dim, len(shape))
    size = shape[d]
    part = slice(*slice(start, end, step).indices(size))
    at = _full_slices(shape[:d]) + (part,)
    _check_src(src, shape[:d] + (len(range(size)[part]),) + shape[d + 1 :])
    return _written(input, src, {"index": at}, "slice_grad")


@tensor_arguments
def diagonal_scatter(input: Tensor, src: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    """``input`` with ``src`` written on the diagonal ``offset`` of dims ``dim1`` and
    ``dim2`` (where ``input.diagonal(offset, dim1, dim2)`` reads)."""
    d1, d2 = _diagonal_dims("diagonal", dim1, dim2, input._data.ndim)
    attrs = {"offset": int(offset), "dim1": d1, "dim2": d2}
    _check_src(src, diagonal_shape(tuple(input._data.shape), **attrs))
    return _written(input, src, attrs, "diagonal_grad")
