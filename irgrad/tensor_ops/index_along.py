"""Updates of whole slices along a dim, picked by a vector of indices: ``index_add``,
``index_copy`` and ``index_fill``, with their in-place forms.

``index_add`` and ``index_copy`` are the ``scatter_add`` and ``scatter`` primitives
with the index vector expanded over the source's slices; ``index_fill`` is a
``masked_fill`` with a mask built from the index by ops.  So autograd and the tracer
see ordinary ops, and gradients are PyTorch's (for ``index_copy`` the overwritten
elements get none; ``index_fill``'s tensor value gets the sum over the filled ones).
Each op checks its arguments with PyTorch's messages, which differ between the three.
"""

from __future__ import annotations

from numbers import Number

import numpy as np

from .._arguments import tensor_arguments
from ..creation import ensure_tensor
from ..dispatch import apply, cast, const
from ..dtypes import bool_, int32, int64
from ..ops import OPS
from ..ops.shapes import fmt, normalize_dim
from ..tensor import Tensor
from . import pointwise as P
from .indexing import at_least_1d, check_range
from .writes import update_inplace


def _size(t: Tensor, d: int) -> int:
    return t._data.shape[d] if t._data.ndim else 1


def over_slices(index: Tensor, d: int, shape: tuple) -> Tensor:
    """The index vector as a scatter index: each value repeated over a slice of ``shape``."""
    view = [1] * len(shape)
    view[d] = index._data.size
    return index.reshape(view).expand(shape)


def _checked_range(
    op: str, input: Tensor, d: int, index: Tensor, error: str, negative: bool = False
) -> Tensor:
    """``index`` flattened, each value checked to address a slice of ``input`` along ``d``
    (with ``negative``, from the end too: then made non-negative)."""
    size = _size(input, d)
    message = f"{op}(): index {{value}} is out of bounds for dimension {d} with size {{high}}"
    index = check_range(index.reshape(-1), -size if negative else 0, size, error, message)
    return P.where(P.lt(index, 0), P.add(index, size), index) if negative else index


def checked_index_arguments(op: str, input: Tensor, d: int, index: Tensor, source: Tensor) -> Tensor:
    """PyTorch's argument checks shared by ``index_add`` and ``index_reduce`` (their
    messages name ``op``): a vector ``index`` of int32/int64, one per slice of ``source``
    along ``d``, and ``source`` of ``input``'s dtype and shape apart from ``d``."""
    if index._data.ndim > 1:
        raise IndexError(
            f"{op}: Index is supposed to be a vector, but got dim: {index._data.ndim} with type: "
            f"{index.dtype.scalar_type} and size: {fmt(index.shape)}"
        )
    if index.dtype not in (int32, int64):
        raise RuntimeError(f"{op}: Expected dtype int32/int64 for index but got: {index.dtype.scalar_type}")
    if source.dtype is not input.dtype:
        raise RuntimeError(
            f"{op}: self ({input.dtype.scalar_type}) and source ({source.dtype.scalar_type}) must "
            "have the same scalar type"
        )
    shapes_match = source._data.ndim == input._data.ndim and all(
        s == t for k, (s, t) in enumerate(zip(source._data.shape, input._data.shape)) if k != d
    )
    if not shapes_match:
        raise RuntimeError(
            "source tensor shape must match self tensor shape, excluding the specified dimension. "
            f"Got self.shape = {fmt(input.shape)} source.shape = {fmt(source.shape)}"
        )
    if index._data.size != _size(source, d):
        raise RuntimeError(
            f"{op}: Number of indices ({index._data.size}) should be equal to source.size(dim): "
            f"({_size(source, d)}), for dim: {d}"
        )
    return index


@tensor_arguments
def index_add(input: Tensor, dim: int, index: Tensor, source: Tensor, *, alpha=1) -> Tensor:
    """``input`` with ``alpha * source[..., i, ...]`` added to its slice ``index[i]``
    along ``dim`` (repeated indices add up)."""
    d = normalize_dim("index_add", dim, input._data.ndim)
    index = checked_index_arguments("index_add_", input, d, ensure_tensor(index), source)
    index = _checked_range("index_add_", input, d, cast(index, int64), "RuntimeError")
    x, source = at_least_1d(input), at_least_1d(source)
    if isinstance(alpha, Tensor):
        alpha = alpha.item()
    if input.dtype is bool_:
        source = P.logical_and(source, bool(alpha))
    elif alpha != 1:
        source = P.mul(source, const(alpha, input.dtype))
    out = apply(OPS["scatter_add"], (x, over_slices(index, d, source._data.shape), source), {"dim": d})
    return out.reshape(input.shape)


@tensor_arguments
def index_copy(input: Tensor, dim: int, index: Tensor, source: Tensor) -> Tensor:
    """``input`` with its slice ``index[i]`` along ``dim`` replaced by ``source[..., i, ...]``
    (where an index repeats, the last slice wins)."""
    d = normalize_dim("index_copy", dim, input._data.ndim)
    index = ensure_tensor(index)
    if index._data.ndim > 1:
        raise IndexError(f"index_copy_(): Index should have dimension 1 or 0 (got {index._data.ndim})")
    if index.dtype is not int64:
        raise RuntimeError(
            f"index_copy_(): Expected a long tensor for index, but got {index.dtype.scalar_type}"
        )
    if source.dtype is not input.dtype:
        raise RuntimeError(
            "index_copy_(): self and source expected to have the same dtype, but got (self) "
            f"{input.dtype.scalar_type} and (source) {source.dtype.scalar_type}"
        )
    x, src = at_least_1d(input), at_least_1d(source)
    if src._data.ndim != x._data.ndim:
        raise IndexError(
            "index_copy_(): When source and destination are not scalars, their dimensionality must match. "
            f"Source dimensionality ({src._data.ndim}), destination dimensionality ({x._data.ndim})"
        )
    if index._data.size != src._data.shape[d]:
        raise IndexError(
            f"index_copy_(): Number of indices ({index._data.size}) should be equal to source.size(dim) "
            f"({src._data.shape[d]})"
        )
    x_slice = [s for k, s in enumerate(x._data.shape) if k != d]
    src_slice = [s for k, s in enumerate(src._data.shape) if k != d]
    if x_slice != src_slice:
        raise RuntimeError(
            "index_copy_(): Source/destination tensor must have same slice shapes. Destination slice shape: "
            f"{' '.join(map(str, x_slice))} at dimension {d} and source slice shape: "
            f"{' '.join(map(str, src_slice))} at dimension 0."
        )
    index = _checked_range("index_copy_", input, d, index, "IndexError")
    out = apply(OPS["scatter"], (x, over_slices(index, d, src._data.shape), src), {"dim": d})
    return out.reshape(input.shape)


@tensor_arguments
def index_fill(input: Tensor, dim: int, index: Tensor, value: Tensor | Number) -> Tensor:
    """``input`` with its slices ``index`` along ``dim`` set to ``value`` (a number, or a
    0-d tensor, which then gets the gradient of every filled element)."""
    d = normalize_dim("index_fill", dim, input._data.ndim)
    index = ensure_tensor(index)
    if index.dtype is not int64:
        raise IndexError("index_fill_(): Expected dtype int64 for index.")
    if index._data.ndim > 1:
        raise RuntimeError(f"index_fill_(): Index has to be a vector/scalar (got shape {fmt(index.shape)})")
    if isinstance(value, Tensor) and value._data.ndim:
        raise RuntimeError(
            "index_fill_ only supports a 0-dimensional value tensor, but got tensor with "
            f"{value._data.ndim} dimension(s)."
        )
    size = _size(input, d)
    index = _checked_range("index_fill_", input, d, index, "IndexError", negative=True)
    counts = Tensor._wrap(np.zeros(size, np.int64))
    ones = Tensor._wrap(np.ones(index._data.shape, np.int64))
    filled = P.gt(apply(OPS["scatter_add"], (counts, index, ones), {"dim": 0}), 0)
    view = [1] * input._data.ndim
    if view:
        view[d] = size
    return P.masked_fill(input, filled.reshape(view), value)


@tensor_arguments
def index_add_(self: Tensor, dim: int, index: Tensor, source: Tensor, *, alpha=1) -> Tensor:
    def compute(old: Tensor) -> Tensor:
        return index_add(old, dim, index, source, alpha=alpha)

    return update_inplace(self, compute, source, name="index_add_")


@tensor_arguments
def index_copy_(self: Tensor, dim: int, index: Tensor, source: Tensor) -> Tensor:
    return update_inplace(self, lambda old: index_copy(old, dim, index, source), source, name="index_copy_")


@tensor_arguments
def index_fill_(self: Tensor, dim: int, index: Tensor, value: Tensor | Number) -> Tensor:
    return update_inplace(
        self, lambda old: index_fill(old, dim, index, value), value, name="index_fill_", selective=True
    )
