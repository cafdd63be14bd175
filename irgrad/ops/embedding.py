"""``embedding`` and its gradient: rows of a table picked by integer ids.

A primitive rather than indexing because its contract differs from ``x[idx]``: an id
outside ``[0, rows)`` is an error (``index out of range in self``, as PyTorch's), never
a row counted from the end, and the row at ``padding_idx`` receives no gradient.  The
check lives in the kernel, so a compiled graph checks every call's ids as eager does.
"""

from __future__ import annotations

import numpy as np

from ..dtypes import INT
from .registry import Kind, Meta, OpDef, register
from .shapes import fmt


def _check_ids(ids: np.ndarray, rows: int) -> None:
    if ids.size and (ids.min() < 0 or ids.max() >= rows):
        raise IndexError("index out of range in self")


def _embedding_kernel(weight, ids, *, padding_idx=None):
    _check_ids(ids, weight.shape[0])
    return weight[ids]


def _infer_embedding(weight: Meta, ids: Meta, *, padding_idx=None) -> Meta:
    if len(weight.shape) != 2:
        raise RuntimeError(f"embedding: 'weight' must be 2-D, got shape {fmt(weight.shape)}")
    if ids.dtype.category != INT:
        raise RuntimeError(f"embedding: ids must be an integer tensor, got {ids.dtype}")
    return Meta(tuple(ids.shape) + (weight.shape[1],), weight.dtype)


def _embedding_vjp(F, g, c):
    ids = c.ins[1]
    rows = c.metas[0].shape[0]
    return F.embedding_grad(g, ids, rows=rows, padding_idx=c.attrs.get("padding_idx")), None


def _grad_kernel(g, ids, *, rows, padding_idx=None):
    _check_ids(ids, rows)
    out = np.zeros((rows, g.shape[-1]), dtype=g.dtype)
    np.add.at(out, ids.reshape(-1), g.reshape(ids.size, g.shape[-1]))  # (not -1: rows of width 0)
    if padding_idx is not None:
        out[padding_idx] = 0
    return out


def _infer_grad(g: Meta, ids: Meta, *, rows, padding_idx=None) -> Meta:
    return Meta((rows, g.shape[-1]), g.dtype)


def _grad_vjp(F, gg, c):
    ids = c.ins[1]
    picked = F.embedding(gg, ids, padding_idx=c.attrs.get("padding_idx"))
    pad = c.attrs.get("padding_idx")
    if pad is not None:  # the padding row was zeroed: its ids get no gradient back
        keep = F.ne(ids, F.full_like(ids, value=pad))
        picked = F.mul(picked, F.cast(F.reshape(keep, shape=tuple(ids.shape) + (1,)), dtype=gg.dtype))
    return picked, None


def _id_bound(metas, attrs) -> dict[int, int]:
    return {1: metas[0].shape[0]}


register(
    OpDef(
        "embedding",
        Kind.MOVEMENT,
        _embedding_kernel,
        _infer_embedding,
        _embedding_vjp,
        save_inputs=(1,),
        arity=2,
        index_bounds=_id_bound,
        doc="Rows `weight[ids]`; ids outside [0, rows) raise; the `padding_idx` row gets no gradient.",
        fresh_layout=True,
    )
)
register(
    OpDef(
        "embedding_grad",
        Kind.MOVEMENT,
        _grad_kernel,
        _infer_grad,
        _grad_vjp,
        save_inputs=(1,),
        arity=2,
        index_bounds=lambda metas, attrs: {1: attrs["rows"]},
        doc="Zeros of (rows, dim) with g's rows added at `ids` (repeats accumulate), the padding row zero.",
        fresh_layout=True,
    )
)
