"""Constants that follow the sizes of a graph with symbolic sizes: ``full``, ``arange``,
``tri`` and ``size_scalar``.

A graph generalized over dynamic sizes (:mod:`irgrad.ir.symbolic`) cannot hold an array
whose shape or value depends on them: an LSTM's zero initial state over the batch, a
transformer's positions ``arange(T)``, a causal mask over the sequence, the count a mean
divides by. These ops take no tensor arguments; their attributes (shapes and values
affine in the size symbols) say what constant they stand for at given sizes. They are
flagged ``size_constant``; static graphs hold an ordinary constant instead. They are
their own family, apart from the data-movement ops, because they move no data (their
kind stays ``MOVEMENT``: the code generator lowers them with the copies and fills).
"""

from __future__ import annotations

import numpy as np

from .registry import Kind, Meta, OpDef, register
from .shapes import numel


def _size_scalar(*, value: int, dtype, numerator=None) -> np.ndarray:
    return _sized(value, numerator, dtype)


def _infer_size_scalar(*, value, dtype, numerator=None) -> Meta:
    return Meta((), dtype)


def _sized(value, numerator, dtype) -> np.ndarray:
    """``value``, or ``numerator / value`` (in ``dtype``): what a sized constant holds."""
    if numerator is None:
        return np.asarray(value, dtype.np)
    return np.asarray(numerator, dtype.np) / np.asarray(value, dtype.np)


def _full(*, shape, value, dtype, numerator=None) -> np.ndarray:
    return np.full(tuple(shape), _sized(value, numerator, dtype), dtype.np)


def _infer_full(*, shape, value, dtype, numerator=None) -> Meta:
    return Meta(tuple(shape), dtype)


register(
    OpDef(
        "full",
        Kind.MOVEMENT,
        _full,
        _infer_full,
        arity=0,
        size_constant=True,
        doc="`value` (or `numerator / value`, as `size_scalar`) everywhere, of `shape` and "
        "`dtype`: a constant whose shape or value is a size of a graph with symbolic sizes (an "
        "LSTM's zero initial state over a dynamic batch). Static graphs hold a constant instead.",
    )
)


def _arange(*, shape, start, step, dtype) -> np.ndarray:
    return (
        (start + step * np.arange(numel(tuple(shape)), dtype=np.int64)).reshape(tuple(shape)).astype(dtype.np)
    )


def _infer_arange(*, shape, start, step, dtype) -> Meta:
    return Meta(tuple(shape), dtype)


def _tri(*, shape, offset, lower, inside, outside, dtype) -> np.ndarray:
    rows, columns = shape[-2], shape[-1]
    above = np.arange(columns)[None, :] - np.arange(rows)[:, None]  # j - i
    within = above <= offset if lower else above >= offset
    matrix = np.where(within, np.asarray(inside, dtype.np), np.asarray(outside, dtype.np))
    return np.ascontiguousarray(np.broadcast_to(matrix, tuple(shape)))


def _infer_tri(*, shape, offset, lower, inside, outside, dtype) -> Meta:
    return Meta(tuple(shape), dtype)


register(
    OpDef(
        "arange",
        Kind.MOVEMENT,
        _arange,
        _infer_arange,
        arity=0,
        size_constant=True,
        doc="Whole numbers counting from `start` by `step` in C order, of `shape` and `dtype`: "
        "a constant whose length is a size of a graph with symbolic sizes (the positions "
        "`arange(T)` a transformer embeds). Static graphs hold a constant instead.",
    )
)
register(
    OpDef(
        "tri",
        Kind.MOVEMENT,
        _tri,
        _infer_tri,
        arity=0,
        size_constant=True,
        doc="`inside` on and below (`lower`) or on and above the diagonal `offset` of the last "
        "two dims (where column - row <= `offset`, or >= it), `outside` elsewhere, of `shape` "
        "and `dtype`: a constant whose shape is a size of a graph with symbolic sizes (a causal "
        "attention mask over the sequence). Static graphs hold a constant instead.",
    )
)
register(
    OpDef(
        "size_scalar",
        Kind.MOVEMENT,
        _size_scalar,
        _infer_size_scalar,
        arity=0,
        size_constant=True,
        doc="A size of a graph with symbolic sizes as a 0-d value of `dtype` (`value`, an "
        "affine expression of the size symbols: the count a mean divides by), or `numerator` "
        "over it (its gradient's `2 / B`). Static graphs hold a constant instead.",
    )
)
