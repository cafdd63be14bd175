"""Random primitives: draws from the global generator, as graph nodes.

Being ops (not constants captured at trace time) makes compiled code draw fresh
numbers on every call, as eager code does; passes never fold, merge or duplicate
ops of Kind.RANDOM.  With no inputs, their attributes carry the shape and dtype.
"""

from __future__ import annotations

import numpy as np

from .._rng import GLOBAL
from .registry import Kind, Meta, OpDef, register


def _infer(*, shape, dtype, **_) -> Meta:
    return Meta(tuple(shape), dtype)


def _uniform(*, shape, dtype, low=0.0, high=1.0):
    values = GLOBAL.rng.random(tuple(shape), dtype=dtype.np if dtype.itemsize >= 4 else "float32")
    if (low, high) != (0.0, 1.0):
        values = values * (high - low) + low
    return values.astype(dtype.np, copy=False)


def _normal(*, shape, dtype, mean=0.0, std=1.0):
    values = GLOBAL.rng.standard_normal(tuple(shape), dtype=dtype.np if dtype.itemsize >= 4 else "float32")
    if (mean, std) != (0.0, 1.0):
        values = values * std + mean
    return values.astype(dtype.np, copy=False)


def _randint(*, shape, dtype, low, high):
    return GLOBAL.rng.integers(low, high, tuple(shape), dtype=np.int64).astype(dtype.np, copy=False)


register(
    OpDef(
        "uniform",
        Kind.RANDOM,
        _uniform,
        _infer,
        arity=0,
        doc="Uniform samples on [low, high) of `shape` and `dtype`, from the global generator.",
    )
)
register(
    OpDef(
        "normal",
        Kind.RANDOM,
        _normal,
        _infer,
        arity=0,
        doc="Normal samples N(mean, std^2) of `shape` and `dtype`, from the global generator.",
    )
)
register(
    OpDef(
        "randint",
        Kind.RANDOM,
        _randint,
        _infer,
        arity=0,
        doc="Integers uniform on [low, high) of `shape`, as `dtype`, from the global generator.",
    )
)
