"""Arranging tensors into grids, blocks and products: ``meshgrid``, ``rot90``,
``flipud``/``fliplr``, the ``atleast_*d`` family, ``dstack``/``column_stack``/``row_stack``,
``hsplit``/``vsplit``/``dsplit``, ``block_diag``, ``diagflat``, ``cartesian_prod``,
``combinations``, ``vander`` and ``unravel_index``.

Each is a composite of views, ``cat`` and ``index_select``, as in PyTorch, so gradients
and compilation come from those ops.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Sequence

from .._arguments import tensor_arguments
from ..creation import ones, tensor, zeros
from ..dispatch import cast
from ..dtypes import FLOAT, bool_, int64, promote_types
from ..ops.shapes import fmt, normalize_dim
from ..tensor import Tensor
from . import pointwise as P
from .diagonals import diag
from .indexing import index_select
from .shape import movedim, transpose
from .shifts import flip
from .split_join import cat, hstack, stack, tensor_split, vstack

moveaxis = movedim
row_stack = vstack


def _tensor_list(tensors: tuple) -> list:
    """``f(a, b)`` and ``f([a, b])`` alike: the tensors as a list."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        return list(tensors[0])
    return list(tensors)


@tensor_arguments
def meshgrid(*tensors: Tensor | Sequence[Tensor], indexing: str | None = None) -> tuple:
    """Coordinate grids from 0-d or 1-d tensors, as ``torch.meshgrid``: output ``i`` varies
    along dim ``i`` (``indexing='ij'``, the default, with PyTorch's warning when it is not
    given) or with the first two dims swapped (``'xy'``, numpy's Cartesian order). The
    grids are expanded views of the inputs."""
    tensors = _tensor_list(tensors)
    if indexing is None:
        warnings.warn(
            "torch.meshgrid: in an upcoming release, it will be required to pass the indexing argument.",
            UserWarning,
            stacklevel=2,
        )
        indexing = "ij"
    if indexing not in ("ij", "xy"):
        raise RuntimeError(f'torch.meshgrid: indexing must be one of "xy" or "ij", but received: {indexing}')
    if not tensors:
        raise RuntimeError("meshgrid expects a non-empty TensorList")
    for t in tensors:
        if t._data.ndim > 1:
            raise RuntimeError(
                f"torch.meshgrid: Expected 0D or 1D tensor in the tensor list but got a tensor of shape "
                f"{fmt(t.shape)}"
            )
        if t.dtype is not tensors[0].dtype:
            raise RuntimeError("meshgrid expects all tensors to have the same dtype")
    swap = indexing == "xy" and len(tensors) >= 2
    if swap:
        tensors[0], tensors[1] = tensors[1], tensors[0]
    sizes = tuple(t.numel() for t in tensors)
    grids = []
    for i, t in enumerate(tensors):
        shape = [1] * len(tensors)
        shape[i] = sizes[i]
        grids.append(t.reshape(shape).expand(sizes))
    if swap:
        grids[0], grids[1] = grids[1], grids[0]
    return tuple(grids)


@tensor_arguments
def rot90(input: Tensor, k: int = 1, dims: Sequence[int] = (0, 1)) -> Tensor:
    """``input`` rotated by 90 degrees ``k`` times in the plane of ``dims``, from the first
    towards the second, as ``torch.rot90``."""
    dims = list(dims)
    ndim = input._data.ndim
    if len(dims) != 2:
        raise RuntimeError(f"expected total rotation dims == 2, but got dims = {len(dims)}")
    if ndim < 2:
        raise RuntimeError(f"expected total dims >= 2, but got total dims = {ndim}")
    first, second = normalize_dim("rot90", dims[0], ndim), normalize_dim("rot90", dims[1], ndim)
    if first == second:
        raise RuntimeError(
            f"expected rotation dims to be different, but got dim0 = {dims[0]} and dim1 = {dims[1]}"
        )
    k %= 4
    if k == 1:
        return transpose(flip(input, [second]), first, second)
    if k == 2:
        return flip(input, [first, second])
    if k == 3:
        return transpose(flip(input, [first]), first, second)
    return input.clone()


@tensor_arguments
def flipud(input: Tensor) -> Tensor:
    """``input`` flipped along dim 0 (up/down)."""
    if input._data.ndim < 1:
        raise RuntimeError("Input must be >= 1-d.")
    return flip(input, [0])


@tensor_arguments
def fliplr(input: Tensor) -> Tensor:
    """``input`` flipped along dim 1 (left/right)."""
    if input._data.ndim < 2:
        raise RuntimeError("Input must be >= 2-d.")
    return flip(input, [1])


def _at_least(shape_of, tensors: tuple):
    if len(tensors) == 1 and isinstance(tensors[0], Tensor):
        return shape_of(tensors[0])
    return tuple(shape_of(t) for t in _tensor_list(tensors))


def _to_3d(t: Tensor) -> Tensor:
    if t._data.ndim == 0:
        return t.reshape(1, 1, 1)
    if t._data.ndim == 1:
        return t.reshape(1, -1, 1)
    return t.unsqueeze(-1) if t._data.ndim == 2 else t


@tensor_arguments
def atleast_1d(*tensors: Tensor | Sequence[Tensor]):
    """Each tensor with at least one dim (a 0-d one as shape ``(1,)``); one tensor in,
    one out, else a tuple, as ``torch.atleast_1d``."""
    return _at_least(lambda t: t.reshape(1) if t._data.ndim == 0 else t, tensors)


@tensor_arguments
def atleast_2d(*tensors: Tensor | Sequence[Tensor]):
    """Each tensor with at least two dims: a 1-d one becomes a row."""
    return _at_least(lambda t: t.reshape(1, -1) if t._data.ndim < 2 else t, tensors)


@tensor_arguments
def atleast_3d(*tensors: Tensor | Sequence[Tensor]):
    """Each tensor with at least three dims: ``(n,)`` becomes ``(1, n, 1)`` and ``(m, n)``
    becomes ``(m, n, 1)``, as numpy's."""
    return _at_least(_to_3d, tensors)


@tensor_arguments
def dstack(tensors: Sequence[Tensor]) -> Tensor:
    """Concatenate along the third dim after :func:`atleast_3d`."""
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("dstack expects a non-empty TensorList")
    return cat([_to_3d(t) for t in tensors], 2)


@tensor_arguments
def column_stack(tensors: Sequence[Tensor]) -> Tensor:
    """Concatenate as columns: 0-d and 1-d tensors become ``(n, 1)`` columns."""
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("column_stack expects a non-empty TensorList")
    return hstack([t.reshape(t.numel(), 1) if t._data.ndim <= 1 else t for t in tensors])


def _split_along(name: str, input: Tensor, indices_or_sections, dim: int, min_dims: int) -> tuple:
    ndim = input._data.ndim
    if ndim < min_dims:
        raise RuntimeError(  # (PyTorch's wording, singular "dimension" included)
            f"torch.{name} requires a tensor with at least {min_dims} dimension, but got a tensor "
            f"with {ndim} dimensions!"
        )
    if isinstance(indices_or_sections, int):
        size = input.shape[dim]
        if indices_or_sections == 0 or size % indices_or_sections:
            raise RuntimeError(
                f"torch.{name} attempted to split along dimension {dim}, but the size of the dimension "
                f"{size} is not divisible by the split_size {indices_or_sections}!"
            )
    return tensor_split(input, indices_or_sections, dim)


@tensor_arguments
def hsplit(input: Tensor, indices_or_sections) -> tuple:
    """Split horizontally: along dim 1 (dim 0 of a 1-d tensor), into equal sections."""
    return _split_along("hsplit", input, indices_or_sections, 1 if input._data.ndim >= 2 else 0, 1)


@tensor_arguments
def vsplit(input: Tensor, indices_or_sections) -> tuple:
    """Split vertically: along dim 0 of a tensor of at least 2 dims."""
    return _split_along("vsplit", input, indices_or_sections, 0, 2)


@tensor_arguments
def dsplit(input: Tensor, indices_or_sections) -> tuple:
    """Split depthwise: along dim 2 of a tensor of at least 3 dims."""
    return _split_along("dsplit", input, indices_or_sections, 2, 3)


@tensor_arguments
def block_diag(*tensors: Tensor) -> Tensor:
    """The block-diagonal matrix of the given 0-d, 1-d (a row) and 2-d blocks, in their
    promoted dtype, as ``torch.block_diag``."""
    blocks = []
    for i, t in enumerate(tensors):
        if t._data.ndim > 2:
            raise RuntimeError(
                f"torch.block_diag: Input tensors must have 2 or fewer dimensions. Input {i} has "
                f"{t._data.ndim} dimensions"
            )
        blocks.append(t.reshape(1, -1) if t._data.ndim < 2 else t)
    if not blocks:
        return zeros(1, 0)
    dt = blocks[0].dtype
    for b in blocks[1:]:
        dt = promote_types(dt, b.dtype)
    width = sum(b.shape[1] for b in blocks)
    rows, left = [], 0
    for b in blocks:
        rows_of_b, cols = b.shape
        parts = [
            zeros(rows_of_b, left, dtype=dt),
            cast(b, dt),
            zeros(rows_of_b, width - left - cols, dtype=dt),
        ]
        rows.append(cat(parts, 1))
        left += cols
    return cat(rows, 0)


def _check_vector(t: Tensor) -> None:
    if t._data.ndim != 1:
        raise RuntimeError(f"Expect a 1D vector, but got shape {fmt(t.shape)}")


@tensor_arguments
def cartesian_prod(*tensors: Tensor) -> Tensor:
    """Every tuple of one element from each 1-d tensor, as rows (itertools.product's
    order); one tensor is returned as it is."""
    for t in tensors:
        _check_vector(t)
    if len(tensors) == 1:
        return tensors[0]
    return stack([g.reshape(-1) for g in meshgrid(*tensors, indexing="ij")], 1)


@tensor_arguments
def combinations(input: Tensor, r: int = 2, with_replacement: bool = False) -> Tensor:
    """The length-``r`` combinations of a 1-d tensor's elements, as rows, in
    ``itertools.combinations`` (``_with_replacement``) order."""
    _check_vector(input)
    if r < 0:
        raise RuntimeError(f"Expect a non-negative number, but got {r}")
    if r == 0:
        return input.new_empty(0)
    choose = itertools.combinations_with_replacement if with_replacement else itertools.combinations
    picks = list(choose(range(input.shape[0]), r))
    index = tensor([i for pick in picks for i in pick], dtype=int64)
    return index_select(input, 0, index).reshape(len(picks), r)


@tensor_arguments
def diagflat(input: Tensor, offset: int = 0) -> Tensor:
    """The matrix with ``input``'s elements (flattened) on diagonal ``offset``."""
    return diag(input.reshape(-1), offset)


@tensor_arguments
def unravel_index(indices: Tensor, shape) -> tuple:
    """The coordinates in ``shape`` of flat ``indices`` (C order; out-of-range and negative
    indices wrap around, as Python's modulo), one tensor per dim, as ``torch.unravel_index``."""
    if not isinstance(indices, Tensor):
        raise TypeError(f"expected 'indices' to be a tensor, but got {type(indices).__name__}")
    if indices.dtype.category == FLOAT or indices.dtype is bool_:
        raise TypeError(f"expected 'indices' to be integer dtype, but got {indices.dtype}")
    sizes = (shape,) if isinstance(shape, int) else tuple(shape)
    if any(s < 0 for s in sizes):
        raise ValueError(f"'shape' cannot have negative values, but got {sizes}")
    coordinates = []
    rest = indices.detach()
    for size in reversed(sizes):
        coordinates.append(P.remainder(rest, size))
        rest = P.floor_divide(rest, size)
    return tuple(reversed(coordinates))


@tensor_arguments
def vander(x: Tensor, N: int | None = None, increasing: bool = False) -> Tensor:
    """The Vandermonde matrix of a 1-d ``x``: columns ``x^(N-1), ..., x, 1`` (or increasing
    powers), the powers as a running product (integers and bools in int64), as PyTorch's."""
    if x._data.ndim != 1:
        raise RuntimeError("x must be a one-dimensional tensor.")
    n = x.shape[0] if N is None else N
    if n < 0:
        raise RuntimeError("N must be non-negative.")
    dt = promote_types(x.dtype, int64)
    first = ones(x.shape[0], min(n, 1), dtype=dt)
    if n > 1:
        powers = cast(x, dt).unsqueeze(1).expand(x.shape[0], n - 1).cumprod(1)
        result = cat([first, powers], 1)
    else:
        result = first
    return result if increasing else flip(result, [1])
