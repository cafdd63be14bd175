"""Views and reshapes: ``reshape``/``view``, ``flatten``/``unflatten``, ``squeeze``/``unsqueeze``,
``permute``/``transpose``/``movedim``, ``expand``/``broadcast_to``, ``repeat``/``tile``,
````contiguous``, ``clone`` and ``detach``: every one is the ``reshape``, ``permute``,
``broadcast_to``, ``detach`` or ``copy`` primitive underneath (``view(dtype)``
reinterprets the bytes).

The bottom of the shape ops: splitting and joining (``split_join``), moving values along
dims (``shifts``) and matrix diagonals (``diagonals``) are built on these."""

from __future__ import annotations

import warnings

import numpy as np

from .. import _tracing
from .._arguments import tensor_arguments
from ..dispatch import apply
from ..dtypes import to_dtype
from ..memory_formats import (
    check_memory_format,
    contiguous_format,
    memory_format,
    preserve_format,
    storage_order,
)
from ..ops import OPS
from ..ops.shapes import broadcast_shapes, fmt, infer_reshape, normalize_dim
from ..tensor import Tensor


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


swapdims = transpose


@tensor_arguments
def swapaxes(input: Tensor, axis0: int, axis1: int) -> Tensor:
    """``transpose`` under numpy's name, with PyTorch's parameter names for it."""
    return transpose(input, axis0, axis1)


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
