"""Selection ops: the order of elements along a dim (``argsort``) and the positions of the
``k`` largest or smallest (``argtopk``); ``sort`` and ``topk`` gather the values with them.

Both follow one order, PyTorch's stable sort: NaN is the largest value, and equal values
keep their positions' order (the earlier first, ascending or descending).
"""

from __future__ import annotations

import numpy as np

from ..dtypes import int64
from .registry import Kind, Meta, OpDef, register
from .shapes import fmt


def argsort(x: np.ndarray, *, dim: int, descending: bool) -> np.ndarray:
    """Stable sort order along ``dim``; NaN sorts as the largest value (as in PyTorch).
    Descending: ties keep their order (sort the reversed row, reverse, renumber)."""
    if x.ndim == 0:
        return np.zeros((), np.int64)
    if not descending:
        return np.argsort(x, axis=dim, kind="stable").astype(np.int64, copy=False)
    order = np.flip(np.argsort(np.flip(x, dim), axis=dim, kind="stable"), dim)
    return (x.shape[dim] - 1 - order).astype(np.int64)


register(
    OpDef(
        "argsort",
        Kind.SELECTION,
        argsort,
        lambda x, *, dim, descending: Meta(tuple(x.shape), int64),
        doc="The stable order sorting `x` along `dim` (NaN last ascending, first descending).",
    )
)


def argtopk(x: np.ndarray, *, dim: int, k: int, largest: bool) -> np.ndarray:
    """The first ``k`` positions of ``argsort(x, dim, descending=largest)``, found in linear
    time: a partition gives the ``k``-th value; every element strictly beyond it is taken,
    then as many elements equal to it as are missing, the earliest first; the ``k`` taken
    are sorted.  A 50257-way vocabulary's top 10 takes a partition, not a sort."""
    n = x.shape[dim]
    if k == 0 or 4 * k >= n:  # most of the row: sorting it all costs about the same
        return np.take(argsort(x, dim=dim, descending=largest), np.arange(k), axis=dim)
    a = np.moveaxis(x, dim, -1)
    if a.dtype == np.bool_:
        a = a.astype(np.uint8)
    floats = a.dtype.kind == "f"
    if largest:
        threshold = np.partition(a, n - k, axis=-1)[..., n - k : n - k + 1]  # NaN partitions last
        beyond = a > threshold
        if floats:
            beyond |= np.isnan(a) & ~np.isnan(threshold)
    else:
        threshold = np.partition(a, k - 1, axis=-1)[..., k - 1 : k]
        beyond = a < threshold
        if floats:
            beyond |= ~np.isnan(a) & np.isnan(threshold)
    tied = a == threshold
    if floats:
        tied |= np.isnan(a) & np.isnan(threshold)
    missing = k - beyond.sum(-1, keepdims=True)
    taken = beyond | (tied & (np.cumsum(tied, axis=-1) <= missing))
    positions = np.nonzero(taken.reshape(-1, n))[1].reshape(a.shape[:-1] + (k,))  # k per row, in order
    order = argsort(np.take_along_axis(a, positions, -1), dim=-1, descending=largest)
    return np.moveaxis(np.take_along_axis(positions, order, -1), -1, dim).astype(np.int64, copy=False)


def _infer_argtopk(x: Meta, *, dim: int, k: int, largest: bool) -> Meta:
    if not x.shape or not 0 <= k <= x.shape[dim]:
        raise RuntimeError(f"topk: selected index k out of range (k={k}, input {fmt(x.shape)}, dim {dim})")
    return Meta(x.shape[:dim] + (k,) + x.shape[dim + 1 :], int64)


register(
    OpDef(
        "argtopk",
        Kind.SELECTION,
        argtopk,
        _infer_argtopk,
        doc="The first `k` positions of `argsort(x, dim, descending=largest)`, in linear time.",
    )
)
