"""Data-movement primitives: reshape, permute, broadcast, slicing, indexing, joining.

``reshape``, ``permute``, ``broadcast_to``, ``slice`` and ``diagonal`` return views of their
input where numpy can (as PyTorch's views do); every other op here returns fresh
memory. Index specs are normalised by the public layer: a ``slice`` index is a
tuple of ints, ``slice`` objects (positive steps) and ``None``, with no Ellipsis.
"""

from __future__ import annotations

import numpy as np

from . import stacking
from .registry import Kind, Meta, OpDef, register
from .shapes import fmt, numel
from .strides import broadcast_strides, range_length, reshape_strides, slice_indices, slice_layout


def _movement(name, kernel, infer, vjp=None, **kw) -> OpDef:
    return register(OpDef(name, Kind.MOVEMENT, kernel, infer, vjp, **kw))


def sum_to(F, x, shape: tuple[int, ...]):
    """Sum ``x`` down to ``shape`` (the inverse of broadcasting ``shape`` to x's shape)."""
    x_shape = tuple(x.shape)
    if x_shape == tuple(shape):
        return x
    lead = len(x_shape) - len(shape)
    dims = tuple(range(lead)) + tuple(
        lead + i for i, s in enumerate(shape) if s == 1 and x_shape[lead + i] != 1
    )
    summed = F.sum(x, dims=dims, keepdim=True)
    return F.reshape(summed, shape=tuple(shape))


# --- reshape / permute / broadcast_to -------------------------------------------------


def _infer_reshape(x: Meta, *, shape) -> Meta:
    if numel(shape) != numel(x.shape):
        raise RuntimeError(f"reshape: shape '{fmt(shape)}' is invalid for input of size {numel(x.shape)}")
    return Meta(tuple(shape), x.dtype)


_movement(
    "reshape",
    lambda x, *, shape: x.reshape(shape),
    _infer_reshape,
    lambda F, g, c: (F.reshape(g, shape=c.metas[0].shape),),
    view=lambda x_shape, x_strides, *, shape: _offset_zero(reshape_strides(x_shape, x_strides, shape)),
    stack=stacking.reshape,
)


def _offset_zero(strides: tuple[int, ...] | None) -> tuple[int, tuple[int, ...]] | None:
    return None if strides is None else (0, strides)


def _same_layout(x_shape, x_strides) -> tuple[int, tuple[int, ...]]:
    return 0, tuple(x_strides)


def _infer_permute(x: Meta, *, dims) -> Meta:
    if sorted(dims) != list(range(len(x.shape))):
        raise RuntimeError(
            f"permute: number of dims don't match or repeat: input shape {fmt(x.shape)}, dims {tuple(dims)}"
        )
    return Meta(tuple(x.shape[d] for d in dims), x.dtype)


def _permute_vjp(F, g, c):
    inverse = tuple(np.argsort(c.attrs["dims"]).tolist())
    return (F.permute(g, dims=inverse),)


_movement(
    "permute",
    lambda x, *, dims: x.transpose(dims),
    _infer_permute,
    _permute_vjp,
    view=lambda x_shape, x_strides, *, dims: (0, tuple(x_strides[d] for d in dims)),
    stack=stacking.permute,
)


def _infer_broadcast_to(x: Meta, *, shape) -> Meta:
    shape = tuple(shape)
    lead = len(shape) - len(x.shape)
    ok = lead >= 0 and all(s in (1, t) for s, t in zip(x.shape, shape[lead:]))
    if not ok:
        for i, (s, t) in enumerate(zip(reversed(x.shape), reversed(shape))):
            if s not in (1, t):
                dim = len(shape) - 1 - i
                raise RuntimeError(
                    f"expand: The expanded size of the tensor ({t}) must match the existing "
                    f"size ({s}) at non-singleton dimension {dim}.  Target sizes: {fmt(shape)}.  "
                    f"Tensor sizes: {fmt(x.shape)}"
                )
        raise RuntimeError(
            f"expand: the number of sizes provided ({len(shape)}) must be greater or equal to "
            f"the number of dimensions in the tensor ({len(x.shape)})"
        )
    return Meta(shape, x.dtype)


_movement(
    "broadcast_to",
    lambda x, *, shape: np.broadcast_to(x, shape),
    _infer_broadcast_to,
    lambda F, g, c: (sum_to(F, g, c.metas[0].shape),),
    view=lambda x_shape, x_strides, *, shape: (0, broadcast_strides(x_shape, shape, x_strides)),
    stack=stacking.broadcast_to,
)


# --- basic slicing --------------------------------------------------------------------


def sliced_shape(shape: tuple[int, ...], index: tuple) -> tuple[int, ...]:
    """The shape of ``x[index]`` for a normalised basic index (ints, slices, None)."""
    out = []
    dim = 0
    for item in index:
        if item is None:
            out.append(1)
            continue
        if isinstance(item, slice):
            out.append(range_length(*slice_indices(item, shape[dim])))
        dim += 1
    out.extend(shape[dim:])
    return tuple(out)


def _infer_slice(x: Meta, *, index) -> Meta:
    return Meta(sliced_shape(x.shape, index), x.dtype)


def _slice_grad_kernel(g, *, shape, index):
    out = np.zeros(shape, dtype=g.dtype)
    out[index] = g
    return out


_movement(
    "slice",
    lambda x, *, index: x[index + (Ellipsis,)],  # the Ellipsis keeps x[0] a 0-d view, not a copy
    _infer_slice,
    lambda F, g, c: (F.slice_grad(g, shape=c.metas[0].shape, index=c.attrs["index"]),),
    view=lambda x_shape, x_strides, *, index: slice_layout(x_shape, x_strides, index),
    stack=stacking.slice_,
    doc="Basic indexing x[index] (a view).",
)
_movement(
    "slice_grad",
    _slice_grad_kernel,
    lambda g, *, shape, index: Meta(tuple(shape), g.dtype),
    lambda F, g, c: (F.slice(g, index=c.attrs["index"]),),
    linear=True,
    stack=stacking.slice_grad,
    doc="Zeros of `shape` with g written at `index`: the gradient of slice.",
)


# --- diagonals ------------------------------------------------------------------------


def _diagonal_view(x: np.ndarray, offset: int, dim1: int, dim2: int) -> np.ndarray:
    """``x``'s diagonal as a view that writes through where ``x`` can be written (numpy's
    ``diagonal`` is read-only; PyTorch's is an ordinary view)."""
    out = np.diagonal(x, offset, dim1, dim2)
    if x.flags.writeable:
        out.flags.writeable = True
    return out


def _diagonal_grad_kernel(g, *, shape, offset, dim1, dim2):
    out = np.zeros(shape, dtype=g.dtype)
    _diagonal_view(out, offset, dim1, dim2)[...] = g
    return out


def diagonal_length(shape: tuple[int, ...], offset: int, dim1: int, dim2: int) -> int:
    """How many elements the diagonal ``offset`` of dims ``dim1`` (rows) and ``dim2``
    (columns) of ``shape`` has (0 when the offset passes the matrix)."""
    rows, columns = shape[dim1], shape[dim2]
    return max(min(rows, columns - offset) if offset >= 0 else min(rows + offset, columns), 0)


def diagonal_shape(shape: tuple[int, ...], offset: int, dim1: int, dim2: int) -> tuple[int, ...]:
    """The shape of a diagonal of ``shape``: ``dim1`` and ``dim2`` removed and the
    diagonal appended, as PyTorch's and numpy's."""
    if not (0 <= dim1 < len(shape) and 0 <= dim2 < len(shape)) or dim1 == dim2:
        raise RuntimeError(
            f"diagonal: dims {dim1} and {dim2} must be distinct dims of an input of shape {fmt(shape)}"
        )
    rest = tuple(s for d, s in enumerate(shape) if d not in (dim1, dim2))
    return rest + (diagonal_length(shape, offset, dim1, dim2),)


def _diagonal_layout(x_shape, x_strides, *, offset, dim1, dim2) -> tuple[int, tuple[int, ...]]:
    start = offset * x_strides[dim2] if offset >= 0 else -offset * x_strides[dim1]
    rest = tuple(s for d, s in enumerate(x_strides) if d not in (dim1, dim2))
    empty = diagonal_length(x_shape, offset, dim1, dim2) == 0
    return (0 if empty else start), rest + (x_strides[dim1] + x_strides[dim2],)


def _infer_diagonal_grad(g: Meta, *, shape, offset, dim1, dim2) -> Meta:
    if tuple(g.shape) != diagonal_shape(tuple(shape), offset, dim1, dim2):
        raise RuntimeError(
            f"diagonal_grad: gradient of shape {fmt(g.shape)} is not the diagonal {offset} of dims "
            f"{dim1} and {dim2} of shape {fmt(shape)}"
        )
    return Meta(tuple(shape), g.dtype)


_movement(
    "diagonal",
    lambda x, *, offset, dim1, dim2: _diagonal_view(x, offset, dim1, dim2),
    lambda x, *, offset, dim1, dim2: Meta(diagonal_shape(tuple(x.shape), offset, dim1, dim2), x.dtype),
    lambda F, g, c: (F.diagonal_grad(g, shape=c.metas[0].shape, **c.attrs),),
    view=_diagonal_layout,
    doc="The diagonal `offset` (above the main one when positive) of the matrices in dims "
    "`dim1` (rows) and `dim2` (columns), as a last dim replacing them (a view).",
)
_movement(
    "diagonal_grad",
    _diagonal_grad_kernel,
    _infer_diagonal_grad,
    lambda F, g, c: (F.diagonal(g, **{k: v for k, v in c.attrs.items() if k != "shape"}),),
    linear=True,
    doc="Zeros of `shape` with g written on the diagonal `offset` of dims `dim1` and `dim2`: "
    "the gradient of diagonal (and diag_embed).",
)


# --- gather / scatter_add -------------------------------------------------------------


def positions_along(index: np.ndarray, dim: int) -> tuple:
    """Full index arrays that address ``index``'s positions, with ``dim`` replaced by
    ``index``'s values: where gather reads and the scatters write."""
    grids = list(np.indices(index.shape, sparse=True))
    grids[dim] = index
    return tuple(grids)


def _gather_kernel(x, index, *, dim):
    return x[positions_along(index, dim)]


def _scatter_add_kernel(x, index, src, *, dim):
    out = np.array(x, copy=True)
    region = tuple(slice(0, s) for s in index.shape)
    np.add.at(out, positions_along(index, dim), src[region])
    return out


def _infer_gather(x: Meta, index: Meta, *, dim) -> Meta:
    if len(index.shape) != len(x.shape) or any(
        i > s for d, (i, s) in enumerate(zip(index.shape, x.shape)) if d != dim
    ):
        raise RuntimeError(
            f"gather: Size does not match at dimension {dim}: index {fmt(index.shape)} "
            f"and input {fmt(x.shape)} (index may not be larger except at dim {dim})"
        )
    return Meta(tuple(index.shape), x.dtype)


def _gather_vjp(F, g, c):
    x, index = c.ins
    zeros = F.full_like(x, value=0.0)
    return F.scatter_add(zeros, index, g, dim=c.attrs["dim"]), None


def bound_along_dim(metas, attrs) -> dict[int, int]:
    """The index (input 1) addresses input 0 along ``dim``."""
    shape = metas[0].shape
    return {1: shape[attrs["dim"]] if shape else 1}


_movement(
    "gather",
    _gather_kernel,
    _infer_gather,
    _gather_vjp,
    save_inputs=True,
    arity=2,
    index_bounds=bound_along_dim,
)


def _infer_scatter_add(x: Meta, index: Meta, src: Meta, *, dim) -> Meta:
    if len(index.shape) != len(x.shape) or any(i > s for i, s in zip(index.shape, src.shape)):
        raise RuntimeError(
            f"scatter_add: index {fmt(index.shape)} must have the rank of self {fmt(x.shape)} "
            f"and be no larger than src {fmt(src.shape)}"
        )
    return Meta(tuple(x.shape), x.dtype)


def padded_to(F, x, shape: tuple):
    """``x`` padded with zeros at the end of each dim up to ``shape``: the gradient of a
    scatter's ``src``, which may be larger than its index (only its leading corner is read)."""
    if tuple(x.shape) == tuple(shape):
        return x
    return F.pad(x, widths=tuple((0, s - i) for s, i in zip(shape, x.shape)), value=0.0)


def _scatter_add_vjp(F, g, c):
    index = c.ins[1]
    gsrc = None
    if c.needs[2]:
        gsrc = padded_to(F, F.gather(g, index, dim=c.attrs["dim"]), c.metas[2].shape)
    return (g if c.needs[0] else None), None, gsrc


_movement(
    "scatter_add",
    _scatter_add_kernel,
    _infer_scatter_add,
    _scatter_add_vjp,
    save_inputs=True,
    grad_reads=((), (), (1,)),  # x's gradient is g itself, src's reads the index
    arity=3,
    index_bounds=bound_along_dim,
)


# --- joining, flipping, padding, copying ----------------------------------------------


def _infer_cat(*xs: Meta, dim) -> Meta:
    first = xs[0]
    for x in xs[1:]:
        if len(x.shape) != len(first.shape) or any(
            a != b for d, (a, b) in enumerate(zip(x.shape, first.shape)) if d != dim
        ):
            raise RuntimeError(
                f"cat: Sizes of tensors must match except in dimension {dim}. "
                f"Got shapes {[fmt(m.shape) for m in xs]}"
            )
        if x.dtype is not first.dtype:
            raise TypeError(f"cat: expected operands of one dtype, got {[str(m.dtype) for m in xs]}")
    size = sum(x.shape[dim] for x in xs)
    return Meta(first.shape[:dim] + (size,) + first.shape[dim + 1 :], first.dtype)


def _cat_vjp(F, g, c):
    dim = c.attrs["dim"]
    grads = []
    start = 0
    for meta, need in zip(c.metas, c.needs):
        stop = start + meta.shape[dim]
        index = (slice(None),) * dim + (slice(start, stop, 1),)
        grads.append(F.slice(g, index=index) if need else None)
        start = stop
    return tuple(grads)


_movement(
    "cat",
    lambda *xs, dim: np.concatenate(xs, axis=dim),
    _infer_cat,
    _cat_vjp,
    arity=-1,
    linear=True,
)
_movement(
    "flip",
    lambda x, *, dims: np.flip(x, dims).copy(),
    lambda x, *, dims: Meta(tuple(x.shape), x.dtype),
    lambda F, g, c: (F.flip(g, dims=c.attrs["dims"]),),
)


def _pad_vjp(F, g, c):
    index = tuple(
        slice(before, before + size, 1) for (before, _), size in zip(c.attrs["widths"], c.metas[0].shape)
    )
    return (F.slice(g, index=index),)


def _pad_kernel(x, *, widths, value):
    """Constant padding: a filled array with ``x`` copied into its middle (np.pad does the
    same in several passes, with more Python around them)."""
    out = np.full(tuple(s + a + b for s, (a, b) in zip(x.shape, widths)), value, dtype=x.dtype)
    out[tuple(slice(a, a + s) for s, (a, _) in zip(x.shape, widths))] = x
    return out


_movement(
    "pad",
    _pad_kernel,
    lambda x, *, widths, value: Meta(tuple(s + a + b for s, (a, b) in zip(x.shape, widths)), x.dtype),
    _pad_vjp,
    doc="Constant padding; `widths` has a (before, after) pair per dim, all non-negative.",
)
_movement(
    "detach",
    lambda x: x,
    lambda x: Meta(tuple(x.shape), x.dtype),
    view=_same_layout,
    identity_of=0,
    doc="The same values outside autograd (Tensor.detach): a view with no gradient rule.",
)
_movement(
    "rebind",
    lambda new, old: new,
    lambda new, old: Meta(tuple(new.shape), new.dtype),
    lambda F, g, c: (None, g),
    arity=2,
    view=_same_layout,
    identity_of=0,
    doc="`new`'s values with `old`'s gradient: a tensor written in place under no_grad keeps its "
    "autograd identity (its gradient still reaches what it was), as in PyTorch.",
)
_movement(
    "copy",
    lambda x: np.array(x, copy=True, order="C"),
    lambda x: Meta(tuple(x.shape), x.dtype),
    lambda F, g, c: (g,),
    linear=True,
    doc="A fresh contiguous copy (clone/contiguous).",
)
