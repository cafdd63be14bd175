"""Advanced (integer array) indexing: ``index`` (``x[i, j]``), its gradient ``index_grad``
and the assignment ``index_put`` (``x[i, j] = v``).

An index spec holds ints, slices and None, and ``...`` where each int64 index tensor
goes (:func:`build_index`); the index tensors are the ops' inputs after the first.
"""

from __future__ import annotations

import numpy as np

from ..dtypes import int64 as INT64
from .movement import sum_to
from .registry import Kind, Meta, OpDef, reads_from, register
from .shapes import fmt, numel


def build_index(spec: tuple, arrays) -> tuple:
    """Fill the ``...`` placeholders of an index spec with the index arrays, in order."""
    it = iter(arrays)
    return tuple(next(it) if item is Ellipsis else item for item in spec)


def _index_kernel(x, *indices, spec):
    # contiguous, as PyTorch's result from a contiguous input (numpy's x[:, i] is laid out
    # index-dims first, so a .view() of it failed where PyTorch's works)
    result = x[build_index(spec, indices)]
    return result if result.flags.c_contiguous else np.ascontiguousarray(result)  # (>= 1-d)


def _index_grad_kernel(g, *indices, shape, spec):
    out = np.zeros(shape, dtype=g.dtype)
    np.add.at(out, build_index(spec, indices), g)
    return out


def _probe(shape, dtype, spec, index_metas):
    # The result shape of numpy advanced indexing, computed on zero-stride dummies.
    dummy = np.broadcast_to(np.zeros((), dtype=np.int8), shape)
    idx = [np.broadcast_to(np.zeros((), dtype=np.int64), m.shape) for m in index_metas]
    return Meta(dummy[build_index(spec, idx)].shape, dtype)


def _index_dims(spec: tuple) -> list[int]:
    """The indexed dim of each index array of ``spec``, in order."""
    dims, d = [], 0
    for item in spec:
        if item is None:
            continue
        if item is Ellipsis:
            dims.append(d)
        d += 1
    return dims


def _index_bounds(metas, attrs) -> dict[int, int]:
    shape = metas[0].shape
    return {k + 1: shape[d] for k, d in enumerate(_index_dims(attrs["spec"]))}


def _index_grad_bounds(metas, attrs) -> dict[int, int]:
    shape = attrs["shape"]
    return {k + 1: shape[d] for k, d in enumerate(_index_dims(attrs["spec"]))}


def _index_vjp(F, g, c):
    indices = c.ins[1:]
    grad = F.index_grad(g, *indices, shape=c.metas[0].shape, spec=c.attrs["spec"])
    return (grad,) + (None,) * len(indices)


register(
    OpDef(
        "index",
        Kind.MOVEMENT,
        _index_kernel,
        lambda x, *idx, spec: _probe(x.shape, x.dtype, spec, idx),
        _index_vjp,
        save_inputs=True,
        grad_reads=reads_from(1),  # the indices: x may be written in place afterwards
        arity=-1,
        index_bounds=_index_bounds,
        doc="Advanced indexing: `spec` holds ints, slices and None, and `...` where each "
        "int64 index tensor goes.",
        fresh_layout=True,
    )
)


def _index_grad_vjp(F, g, c):
    indices = c.ins[1:]
    return (F.index(g, *indices, spec=c.attrs["spec"]),) + (None,) * len(indices)


register(
    OpDef(
        "index_grad",
        Kind.MOVEMENT,
        _index_grad_kernel,
        lambda g, *idx, shape, spec: Meta(tuple(shape), g.dtype),
        _index_grad_vjp,
        save_inputs=True,
        grad_reads=reads_from(1),
        arity=-1,
        index_bounds=_index_grad_bounds,
        doc="Zeros of `shape` with g added at the indexed positions (repeats accumulate).",
        fresh_layout=True,
    )
)


def _index_put_kernel(x, v, *indices, spec):
    out = np.array(x, copy=True)
    out[build_index(spec, indices)] = v  # a position written twice keeps the last value
    return out


def _infer_index_put(x: Meta, v: Meta, *idx, spec) -> Meta:
    target = _probe(x.shape, x.dtype, spec, idx).shape
    if v.dtype != x.dtype or (v.shape != target and v.shape != ()):
        raise RuntimeError(
            f"index_put: values of {v.dtype}{fmt(v.shape)} for positions {fmt(target)} of a {x.dtype} tensor"
        )
    return Meta(x.shape, x.dtype)


def _index_put_vjp(F, g, c):
    indices, spec = c.ins[2:], c.attrs["spec"]
    grad_x = F.index_put(g, 0.0, *indices, spec=spec) if c.needs[0] else None
    grad_v = None
    if c.needs[1]:
        picked = F.index(g, *indices, spec=spec)
        kept = _last_writes(F, picked, g, indices, spec)
        grad_v = sum_to(F, F.where(kept, picked, 0.0), c.metas[1].shape)
    return (grad_x, grad_v) + (None,) * len(indices)


def _last_writes(F, picked, g, indices, spec):
    """Where a value (an element of ``picked``'s shape) is the last written to its
    position: an overwritten value has no effect, so its gradient is 0 (PyTorch gives it
    its position's gradient; finite differences give 0).  Each value's number (1, 2 ...)
    is written through the index, then read back: a value is kept where it reads itself."""
    ones = F.cast(F.full_like(picked, value=1.0), dtype=INT64)
    size = numel(picked.shape)
    numbers = F.reshape(F.cumsum(F.reshape(ones, shape=(size,)), dim=0), shape=tuple(picked.shape))
    zeros = F.cast(F.full_like(g, value=0.0), dtype=INT64)
    written = F.index_put(zeros, numbers, *indices, spec=spec)
    return F.eq(F.index(written, *indices, spec=spec), numbers)


def _index_put_bounds(metas, attrs) -> dict[int, int]:
    shape = metas[0].shape
    return {k + 2: shape[d] for k, d in enumerate(_index_dims(attrs["spec"]))}


register(
    OpDef(
        "index_put",
        Kind.MOVEMENT,
        _index_put_kernel,
        _infer_index_put,
        _index_put_vjp,
        save_inputs=True,
        grad_reads=reads_from(2),  # the indices, for x's gradient and v's
        arity=-1,
        index_bounds=_index_put_bounds,
        doc="x with v written at the indexed positions (`x[idx] = v`); a position written "
        "twice keeps the last value, as numpy and PyTorch.",
    )
)
