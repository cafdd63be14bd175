"""Shape and view ops: every one is ``reshape``, ``permute``, ``broadcast_to``,
``slice``, ``cat``, ``flip``, ``pad`` or ``copy`` underneath."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np

from .. import _tracing
from .._arguments import tensor_arguments
from ..dispatch import apply, cast
from ..dtypes import promote_types, to_dtype
from ..memory_formats import (
    check_memory_format,
    contiguous_format,
    memory_format,
    preserve_format,
    storage_order,
)
from ..ops import OPS
from ..ops.shapes import broadcast_shapes, fmt, infer_reshape, normalize_dim
from ..recording.views import MULTI_OUTPUT_VIEW, forbid_inplace
from ..tensor import Tensor
from .pointwise import ne, sub
from .select import where


def _sizes(args, op: str, argument: str) -> tuple:
    """The sizes of a ``*shape`` or ``(shape,)`` argument; none at all is a TypeError, as in
    PyTorch (``x.view(())`` is a 0-d view, ``x.view()`` an error)."""
    if not args:
        raise TypeError(f'{op}() missing 1 required positional arguments: "{argument}"')
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        return tuple(int(s) for s in args[0])
    return tuple(int(s) for s in args)


@tensor_arguments
def reshape(input: Tensor, *shape) -> Tensor:
    """A view when the memory layout allows one, else a copy (as ``torch.reshape``)."""
    target = infer_reshape("reshape", input._data.shape, _sizes(shape, "reshape", "shape"))
    if target == input._data.shape:
        return _alias(input)
    return apply(OPS["reshape"], (input,), {"shape": target})


@tensor_arguments
def view(input: Tensor, *size) -> Tensor:
    """A view with a new shape; RuntimeError if the strides do not allow one."""
    if len(size) == 1 and not isinstance(size[0], (int, tuple, list)):
        return _view_as_dtype(input, to_dtype(size[0]))
    target = infer_reshape("view", input._data.shape, _sizes(size, "view", "size"))
    if _tracing.ACTIVE is not None:
        _tracing.layout_read(input)
    if input._data.size and not _viewable(input._data, target):
        raise RuntimeError(
            f"view size is not compatible with input tensor's size and stride (input shape "
            f"{fmt(input._data.shape)}, target {fmt(target)}: at least one dimension spans across "
            "two contiguous subspaces). Use .reshape(...) instead."
        )
    if target == input._data.shape:
        return _alias(input)
    return apply(OPS["reshape"], (input,), {"shape": target})


def _view_as_dtype(input: Tensor, dt) -> Tensor:
    """``view(dtype)``: the same bytes reinterpreted (not converted), sharing storage, as in PyTorch."""

    _tracing.materialize(input, "view(dtype) (a bit reinterpretation)")
    try:
        data = input._data.view(dt.np)
    except ValueError as exc:
        raise RuntimeError(
            f"view(dtype): cannot view a {input.dtype} tensor of shape {fmt(input._data.shape)} as {dt}: {exc}"
        ) from None
    out = Tensor._wrap(data)
    out._base = input._base if input._base is not None else input
    out._vc = input._shared_version()
    return out


def _viewable(data: np.ndarray, target: tuple) -> bool:
    """Whether ``data`` reshapes to ``target`` without a copy (its strides alone decide).

    Asked of a stand-in with ``data``'s shape and strides over one element, so no
    value is read."""
    probe = np.lib.stride_tricks.as_strided(np.empty(1, data.dtype), data.shape, data.strides)
    try:
        np.reshape(probe, target, copy=False)
    except ValueError:
        return False
    return True


def _alias(input: Tensor) -> Tensor:
    """A new tensor object that is a view of all of ``input``."""
    return apply(OPS["reshape"], (input,), {"shape": input._data.shape})


@tensor_arguments
def detach(input: Tensor) -> Tensor:
    """The same storage and version counter, outside the autograd graph.

    It is the ``detach`` primitive (no gradient rule), so a tracer records it instead
    of capturing the value as a constant.
    """
    return apply(OPS["detach"], (input,))


@tensor_arguments
def view_as(input: Tensor, other: Tensor) -> Tensor:
    return view(input, other._data.shape)


@tensor_arguments
def reshape_as(input: Tensor, other: Tensor) -> Tensor:
    return reshape(input, other._data.shape)


@tensor_arguments
def flatten(input: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    shape = input._data.shape
    if not shape:
        return reshape(input, (1,))
    s = normalize_dim("flatten", start_dim, len(shape))
    e = normalize_dim("flatten", end_dim, len(shape))
    if s > e:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    middle = 1
    for size in shape[s : e + 1]:
        middle *= size
    return reshape(input, shape[:s] + (middle,) + shape[e + 1 :])


@tensor_arguments
def unflatten(input: Tensor, dim: int, sizes) -> Tensor:
    shape = input._data.shape
    d = normalize_dim("unflatten", dim, len(shape))
    sizes = infer_reshape("unflatten", (shape[d],), tuple(sizes))
    return view(input, shape[:d] + sizes + shape[d + 1 :])


@tensor_arguments
def squeeze(input: Tensor, dim=None) -> Tensor:
    shape = input._data.shape
    if dim is None:
        dims = {i for i, s in enumerate(shape) if s == 1}
    else:
        dims = {
            normalize_dim("squeeze", d, len(shape))
            for d in (dim if isinstance(dim, (tuple, list)) else (dim,))
        }
        dims = {d for d in dims if d < len(shape) and shape[d] == 1}
    return reshape(input, tuple(s for i, s in enumerate(shape) if i not in dims))


@tensor_arguments
def unsqueeze(input: Tensor, dim: int) -> Tensor:
    shape = input._data.shape
    d = normalize_dim("unsqueeze", dim, len(shape) + 1)
    return reshape(input, shape[:d] + (1,) + shape[d:])


@tensor_arguments
def permute(input: Tensor, *dims) -> Tensor:
    dims = _sizes(dims, "permute", "dims")
    ndim = input._data.ndim
    if len(dims) != ndim:
        raise RuntimeError(
            f"permute(sparse_coo): number of dimensions in the tensor input does not match the "
            f"length of the desired ordering of dimensions i.e. input.dim() = {ndim} is not equal "
            f"to len(dims) = {len(dims)}"
        )
    dims = tuple(normalize_dim("permute", d, ndim) for d in dims)
    return apply(OPS["permute"], (input,), {"dims": dims})


@tensor_arguments
def transpose(input: Tensor, dim0: int, dim1: int) -> Tensor:
    ndim = input._data.ndim
    if ndim == 0:
        return _alias(input)
    a = normalize_dim("transpose", dim0, ndim)
    b = normalize_dim("transpose", dim1, ndim)
    order = list(range(ndim))
    order[a], order[b] = order[b], order[a]
    return apply(OPS["permute"], (input,), {"dims": tuple(order)})


swapaxes = swapdims = transpose


@tensor_arguments
def t(input: Tensor) -> Tensor:
    """Transpose a matrix (a 0-d or 1-d tensor is returned as is)."""
    if input._data.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {input._data.ndim}D")
    return transpose(input, 0, 1) if input._data.ndim == 2 else _alias(input)


@tensor_arguments
def matrix_transpose(input: Tensor) -> Tensor:
    if input._data.ndim == 0:  # PyTorch: deprecated, the identity
        warnings.warn(
            "Tensor.mT is deprecated on 0-D tensors. This function is the identity in these cases.",
            UserWarning,
            2,
        )
        return input
    if input._data.ndim < 2:
        raise RuntimeError(
            f"tensor.mT is only supported on matrices or batches of matrices. Got {input._data.ndim}-D tensor."
        )
    return transpose(input, -2, -1)


@tensor_arguments
def full_transpose(input: Tensor) -> Tensor:
    """``Tensor.T``: all dims reversed."""
    return permute(input, tuple(reversed(range(input._data.ndim))))


@tensor_arguments
def movedim(input: Tensor, source, destination) -> Tensor:
    ndim = input._data.ndim
    src = [
        normalize_dim("movedim", d, ndim)
        for d in (source if isinstance(source, (tuple, list)) else (source,))
    ]
    dst = [
        normalize_dim("movedim", d, ndim)
        for d in (destination if isinstance(destination, (tuple, list)) else (destination,))
    ]
    order = [d for d in range(ndim) if d not in src]
    for s, d in sorted(zip(dst, src)):
        order.insert(s, d)
    return permute(input, tuple(order))


@tensor_arguments
def expand(input: Tensor, *size) -> Tensor:
    sizes = _sizes(size, "expand", "size")
    shape = input._data.shape
    lead = len(sizes) - len(shape)
    target = tuple((shape[i - lead] if s == -1 and i >= lead else s) for i, s in enumerate(sizes))
    if target == shape:
        return _alias(input)
    return apply(OPS["broadcast_to"], (input,), {"shape": target})


@tensor_arguments
def expand_as(input: Tensor, other: Tensor) -> Tensor:
    return expand(input, other._data.shape)


@tensor_arguments
def broadcast_to(input: Tensor, shape) -> Tensor:
    return expand(input, tuple(shape))


@tensor_arguments
def broadcast_tensors(*tensors: Tensor) -> tuple:

    shape = broadcast_shapes("broadcast_tensors", *(t._data.shape for t in tensors))
    return tuple(expand(t, shape) for t in tensors)


@tensor_arguments
def repeat(input: Tensor, *repeats) -> Tensor:
    """Tile ``input`` ``repeats`` times along each dim (as ``torch.Tensor.repeat``)."""
    reps = _sizes(repeats, "repeat", "repeats")
    shape = input._data.shape
    if len(reps) < len(shape):
        raise RuntimeError(
            "Number of dimensions of repeat dims can not be smaller than number of dimensions of tensor"
        )
    shape = (1,) * (len(reps) - len(shape)) + shape
    x = reshape(input, tuple(v for s in shape for v in (1, s)))
    x = expand(x, tuple(v for r, s in zip(reps, shape) for v in (r, s)))
    out = reshape(x, tuple(r * s for r, s in zip(reps, shape)))
    # a new tensor, as PyTorch's, also where every count is 1 (or the input is empty) and the
    # reshapes above made a view: writing into the result must not write into the input
    return apply(OPS["copy"], (out,)) if out._base is not None else out


@tensor_arguments
def tile(input: Tensor, dims) -> Tensor:
    dims = tuple(dims)
    return repeat(input, (1,) * (input._data.ndim - len(dims)) + dims)


@tensor_arguments
def contiguous(input: Tensor, memory_format: memory_format = contiguous_format) -> Tensor:
    """``input`` when it is already stored contiguously in ``memory_format`` (C order by
    default), else a copy that is; ``preserve_format`` is refused then, as in PyTorch."""
    if memory_format is contiguous_format:
        if _tracing.ACTIVE is not None:
            _tracing.layout_read(input)
        return input if input._data.flags.c_contiguous else apply(OPS["copy"], (input,))
    check_memory_format("contiguous", memory_format)
    if input.is_contiguous(memory_format):
        return input
    if memory_format is preserve_format:
        raise RuntimeError("preserve memory format is unsupported by the contiguous operator")
    return clone(input, memory_format=memory_format)


@tensor_arguments
def clone(input: Tensor, memory_format: memory_format | None = None) -> Tensor:
    """A copy of ``input``: C-contiguous, or stored in a channels-last ``memory_format``.
    ``preserve_format`` (the default) also gives C order: irgrad's copies do not keep the
    input's strides (docs: pytorch-differences)."""
    if memory_format is not None:
        check_memory_format("clone", memory_format)
        order = storage_order(memory_format, input._data.ndim)
        if order is not None:
            return _stored_in_order(input, order)
    return apply(OPS["copy"], (input,))


def _stored_in_order(input: Tensor, order: tuple[int, ...]) -> Tensor:
    """A copy of ``input`` whose memory holds its dims in ``order`` (outermost first):
    the copy of ``input`` permuted to ``order``, viewed back in ``input``'s dims."""
    stored = apply(OPS["copy"], (permute(input, order),))
    out = permute(stored, tuple(np.argsort(order).tolist()))
    # the copy owns its memory (nothing else holds ``stored``): a tensor of its own, not a
    # view, as PyTorch's (a view would take its base's grad flags after an in-place write)
    out._base = out._view = out._vc = None
    return out


@tensor_arguments
def diff(
    input: Tensor, n: int = 1, dim: int = -1, prepend: Tensor | None = None, append: Tensor | None = None
) -> Tensor:
    """The ``n``-th forward difference along ``dim`` (``x[1:] - x[:-1]``), after joining
    ``prepend`` and ``append``; on bools, ``!=``."""
    if input._data.ndim == 0:
        raise RuntimeError("diff expects input to be at least one-dimensional")
    d = normalize_dim("diff", dim, input._data.ndim)
    parts = [t for t in (prepend, input, append) if t is not None]
    x = cat(parts, d) if len(parts) > 1 else input
    for _ in range(n):
        size = x.shape[d]
        if size == 0:
            break
        later, earlier = narrow(x, d, 1, size - 1), narrow(x, d, 0, size - 1)
        x = ne(later, earlier) if x.dtype.name == "bool" else sub(later, earlier)
    return x


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


@tensor_arguments
def flip(input: Tensor, dims=None, *more) -> Tensor:
    """``input`` reversed along ``dims`` (a sequence, or ints: ``x.flip(0, 2)`` as PyTorch's method)."""
    if dims is None:
        raise TypeError('flip() missing 1 required positional argument: "dims"')
    dims = tuple(
        normalize_dim("flip", d, input._data.ndim)
        for d in ((dims, *more) if isinstance(dims, (int, np.integer)) else dims)
    )
    if len(set(dims)) != len(dims):
        raise RuntimeError(
            f"flip: dims {list(dims)} name a dim more than once (input shape {list(input.shape)})"
        )
    return apply(OPS["flip"], (input,), {"dims": dims})


@tensor_arguments
def roll(input: Tensor, shifts, dims=None) -> Tensor:
    if dims is None:
        return reshape(roll(flatten(input), shifts, 0), input._data.shape)
    shifts = (shifts,) if isinstance(shifts, int) else tuple(shifts)
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    if len(shifts) != len(dims):
        raise RuntimeError(
            f"roll: shifts and dimensions must align. shifts: {len(shifts)}, dims: {len(dims)}"
        )
    x = input
    for s, d in zip(shifts, dims):
        d = normalize_dim("roll", d, x._data.ndim)
        size = x._data.shape[d]
        if size == 0:
            continue
        s %= size
        if s:
            x = cat([_slice_dim(x, d, size - s, size), _slice_dim(x, d, 0, size - s)], d)
    return clone(x) if x is input else x  # a new tensor even when nothing moves, as PyTorch's


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
