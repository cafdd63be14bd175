"""Splitting a tensor into pieces along a dim and joining pieces back: ``narrow``, ``select``,
``split``, ``chunk``, ``tensor_split``, ``unbind`` (views, through the ``slice`` primitive)
and ``cat``/``concat``/``concatenate``, ``stack``, ``hstack``, ``vstack`` (the ``cat``
primitive, with PyTorch's dtype promotion and its legacy empty tensors).

The multi-output views (``split``, ``chunk``, ``unbind``) are marked here as PyTorch's are:
not writable in place under autograd."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .. import _tracing
from .._arguments import tensor_arguments
from ..dispatch import apply, cast
from ..dtypes import promote_types
from ..ops import OPS
from ..ops.shapes import fmt, normalize_dim
from ..recording.views import MULTI_OUTPUT_VIEW, forbid_inplace
from ..tensor import Tensor
from .shape import clone, reshape, unsqueeze


@tensor_arguments
def narrow(input: Tensor, dim: int, start: int, length: int) -> Tensor:
    d = normalize_dim("narrow", dim, input._data.ndim)
    size = input._data.shape[d]
    start = int(start)
    if start < 0:
        start += size
    if not (0 <= start and start + length <= size):
        raise RuntimeError(
            f"narrow(): start ({start}) + length ({length}) exceeds dimension size ({size}) "
            f"of dim {d} for input shape {fmt(input._data.shape)}."
        )
    return _slice_dim(input, d, start, start + length)


@tensor_arguments
def select(input: Tensor, dim: int, index: int) -> Tensor:
    """``input`` indexed by ``index`` along ``dim`` (a view with that dim removed)."""
    d = normalize_dim("select", dim, input._data.ndim)
    size = input._data.shape[d]
    if not -size <= index < size:
        raise IndexError(
            f"select(): index {index} out of range for tensor of size {fmt(input._data.shape)} "
            f"at dimension {d}"
        )
    return apply(OPS["slice"], (input,), {"index": _full_slices(input._data.shape[:d]) + (index % size,)})


def _full_slices(shape: tuple) -> tuple:
    return tuple(slice(0, s, 1) for s in shape)


def _slice_dim(input: Tensor, d: int, start: int, stop: int) -> Tensor:
    index = (slice(None),) * d + (slice(start, stop, 1),)
    return apply(OPS["slice"], (input,), {"index": index})


@tensor_arguments
def split(input: Tensor, split_size_or_sections, dim: int = 0) -> tuple:
    """Views of consecutive pieces along ``dim``, which (as PyTorch's) may not be written in place
    under autograd."""
    pieces = _split(input, split_size_or_sections, dim)
    function = "Split" if isinstance(split_size_or_sections, int) else "SplitWithSizes"
    forbid_inplace(pieces, MULTI_OUTPUT_VIEW.replace("{function}", function))
    return pieces


def _split(input: Tensor, split_size_or_sections, dim: int) -> tuple:
    d = normalize_dim("split", dim, input._data.ndim)
    size = input._data.shape[d]
    if isinstance(split_size_or_sections, int):
        step = split_size_or_sections
        if step <= 0 and size:
            raise RuntimeError(f"split expects split_size be non-negative, but got split_size={step}")
        bounds = [(i, min(i + step, size)) for i in range(0, size, max(step, 1))] or [(0, 0)]
    else:
        sections = list(split_size_or_sections)
        if sum(sections) != size:
            raise RuntimeError(
                f"split_with_sizes expects split_sizes to sum exactly to {size} (input tensor's "
                f"size at dimension {d}), but got split_sizes={sections}"
            )
        bounds, start = [], 0
        for s in sections:
            bounds.append((start, start + s))
            start += s
    return tuple(_slice_dim(input, d, a, b) for a, b in bounds)


@tensor_arguments
def chunk(input: Tensor, chunks: int, dim: int = 0) -> tuple:
    if chunks <= 0:
        raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    d = normalize_dim("chunk", dim, input._data.ndim)
    size = input._data.shape[d]
    if size == 0:  # PyTorch: `chunks` empty pieces
        return split(input, [0] * chunks, d)
    return split(input, -(-size // chunks), d)


@tensor_arguments
def tensor_split(input: Tensor, indices_or_sections, dim: int = 0) -> tuple:
    """Views along ``dim``: ``sections`` pieces of near-equal size (the first ``size %
    sections`` one longer), or the pieces between ``indices`` (``input[:i0], input[i0:i1],
    ..., input[ik:]``, sliced as Python slices); a tensor gives the indices (1-d) or the
    number of sections (0-d), as PyTorch's."""
    d = normalize_dim("tensor_split", dim, input._data.ndim)
    size = input._data.shape[d]
    split = indices_or_sections
    if isinstance(split, Tensor):
        if split._data.dtype != np.int64:
            raise RuntimeError(
                "tensor_split expected tensor_indices_or_sections to have dtype of long, but got "
                f"{split.dtype.scalar_type}"
            )
        if split._data.ndim > 1:
            raise RuntimeError(
                "tensor_split expected tensor_indices_or_sections to be a zero-dimensional or "
                f"one-dimensional tensor, but got a tensor with {split._data.ndim} dims"
            )
        _tracing.materialize(split, "tensor_split by a tensor (its values choose the pieces)")
        split = split._data.tolist()
    if isinstance(split, (int, np.integer)):
        sections = int(split)
        if sections <= 0:
            raise RuntimeError(f"number of sections must be larger than 0, got {sections}")
        base, extra = divmod(size, sections)
        sizes = [base + 1] * extra + [base] * (sections - extra)
        return _split(input, sizes, d)  # views PyTorch lets users write in place
    bounds = [0, *(int(i) for i in split), size]
    pieces = []
    for a, b in zip(bounds[:-1], bounds[1:]):
        start, stop, _ = slice(a, b).indices(size)
        pieces.append(_slice_dim(input, d, start, max(start, stop)))
    return tuple(pieces)


@tensor_arguments
def unbind(input: Tensor, dim: int = 0) -> tuple:
    d = normalize_dim("unbind", dim, input._data.ndim)
    index_prefix = (slice(None),) * d
    pieces = tuple(
        apply(OPS["slice"], (input,), {"index": index_prefix + (i,)}) for i in range(input._data.shape[d])
    )
    forbid_inplace(pieces, MULTI_OUTPUT_VIEW.replace("{function}", "Unbind"))
    return pieces


@tensor_arguments
def cat(tensors: Sequence[Tensor], dim: int = 0, *, out=None) -> Tensor:
    """Concatenate along ``dim`` (promoting dtypes; empty 1-d tensors are skipped, as in PyTorch)."""
    tensors = [t for t in tensors]
    if not tensors:
        raise ValueError("torch.cat(): expected a non-empty list of Tensors")

    def legacy_empty(t: Tensor) -> bool:  # PyTorch lets shape-(0,) tensors join anything
        return t._data.ndim == 1 and t._data.shape[0] == 0

    shaped = [t for t in tensors if not legacy_empty(t)] or tensors[:1]
    dt = tensors[0].dtype
    for t in tensors[1:]:
        dt = promote_types(dt, t.dtype)
    ndim = shaped[0]._data.ndim
    if ndim == 0:
        raise RuntimeError("zero-dimensional tensor (at position 0) cannot be concatenated")
    for i, t in enumerate(shaped):
        if t._data.ndim != ndim:
            raise RuntimeError(
                f"torch.cat(): Tensors must have same number of dimensions: got {ndim} and "
                f"{t._data.ndim} (shapes {list(shaped[0].shape)} and {list(t.shape)}, tensor {i})"
            )
    d = normalize_dim("cat", dim, ndim)
    empty_shape = shaped[0]._data.shape[:d] + (0,) + shaped[0]._data.shape[d + 1 :]
    # Empty (0,) tensors are reshaped to fit rather than dropped, so they still get gradients.
    parts = [cast(reshape(t, empty_shape) if legacy_empty(t) and ndim != 1 else t, dt) for t in tensors]
    if len(parts) == 1:
        return clone(parts[0])
    return apply(OPS["cat"], tuple(parts), {"dim": d})


concat = concatenate = cat


@tensor_arguments
def stack(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")
    shape = tensors[0]._data.shape
    for i, t in enumerate(tensors):
        if t._data.shape != shape:
            raise RuntimeError(
                f"stack expects each tensor to be equal size, but got {fmt(shape)} at entry 0 "
                f"and {fmt(t._data.shape)} at entry {i}"
            )
    d = normalize_dim("stack", dim, len(shape) + 1)
    return cat([unsqueeze(t, d) for t in tensors], d)


@tensor_arguments
def hstack(tensors: Sequence[Tensor]) -> Tensor:
    tensors = list(tensors)
    return cat(tensors, 0 if tensors[0]._data.ndim == 1 else 1)


@tensor_arguments
def vstack(tensors: Sequence[Tensor]) -> Tensor:
    return cat([t if t._data.ndim >= 2 else reshape(t, (1, -1)) for t in tensors], 0)
