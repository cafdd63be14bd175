"""Inputs that exercise an elementwise op: special values of every dtype, all pairs of
them for binary ops, the exponents torch treats specially for ``pow``, and the targets of
``cast``; and the graph of one op alone.  Shared by the scalar-rule tests and the
native-kernel tests."""

from __future__ import annotations

import itertools
import math

import numpy as np

from irgrad import dtypes
from irgrad.ir import Graph, TensorType
from irgrad.ops import OPS
from irgrad.ops.registry import Meta

DTYPES = [
    dtypes.float32,
    dtypes.float64,
    dtypes.int64,
    dtypes.int32,
    dtypes.int16,
    dtypes.int8,
    dtypes.uint8,
    dtypes.bool_,
]
# Ops whose scalar rule computes the function by another formula than the numpy kernel
# (asin as atan2(x, sqrt((1-x)(1+x))) ...): the rule agrees with it to FORMULA_ULPS, not bit for bit.
FORMULA_RULES = {"asin", "acos", "atan", "sinh", "cosh", "asinh", "acosh", "atanh"}
FORMULA_ULPS = 4
FLOAT_SPECIALS = [
    0.0,
    -0.0,
    1.0,
    -1.0,
    0.5,
    -0.5,
    1.5,
    2.5,
    -2.5,
    2.0,
    3.0,
    -2.0,
    7.0,
    -7.0,
    math.inf,
    -math.inf,
    math.nan,
    1e-30,
    1e30,
    88.0,
    -104.0,
]


def values(dt, rng: np.random.Generator, n: int = 64) -> np.ndarray:
    """Special values of ``dt`` followed by random ones: ``n`` in all."""
    np_dt = dt.np
    if dt is dtypes.bool_:
        return rng.integers(0, 2, n).astype(bool)
    if dt.is_floating_point:
        special = np.array(FLOAT_SPECIALS, dtype=np_dt)
        random = (rng.standard_normal(n) * rng.choice([1, 10, 1000], n)).astype(np_dt)
        return np.concatenate([special, random])[:n]
    info = np.iinfo(np_dt)
    special = np.array([0, 1, -1, 2, -2, 3, 7, -7, info.min, info.max], dtype=np.int64)
    special = special[(special >= info.min) & (special <= info.max)].astype(np_dt)
    random = rng.integers(max(info.min, -100), min(info.max, 100), n).astype(np_dt)
    return np.concatenate([special, random])[:n]


def operands(op, dt, rng):
    """Every pairing of special values (binary ops), or one array per input."""
    if op.arity == 1:
        return [values(dt, rng)]
    if op.name == "where":
        a, b = values(dt, rng), values(dt, rng)
        return [rng.integers(0, 2, a.shape).astype(bool), a, b]
    a = values(dt, rng, 24)
    pairs = np.array(list(itertools.product(range(a.size), repeat=2)))
    return [a[pairs[:, 0]], a[pairs[:, 1]]]


def accepts(op, arrays, attrs) -> bool:
    try:
        op.infer(*(Meta(a.shape, dtypes.from_numpy_dtype(a.dtype)) for a in arrays), **attrs)
    except (TypeError, RuntimeError, NotImplementedError):
        return False
    return True


def cases(op, dt, rng):
    """(arrays, attrs) to check ``op`` on for dtype ``dt``."""
    arrays = operands(op, dt, rng)
    if op.name == "full_like":
        return [(arrays, {"value": v}) for v in (0.0, -1.5, 3)]
    if op.name == "cast":
        return [(arrays, {"dtype": target}) for target in DTYPES]
    if op.name == "polygamma":
        return [(arrays, {"n": n}) for n in (0, 1, 2, 5)]
    if op.name in ("floor_divide", "remainder", "fmod") and not dt.is_floating_point:
        a, b = arrays
        keep = b != 0  # a zero integer divisor raises before the kernel runs
        arrays = [a[keep], b[keep]]
    if op.name == "pow":
        if not dt.is_floating_point:
            a, b = arrays
            keep = (b >= 0) & (b < 5)  # numpy refuses negative integer powers
            return [([a[keep], b[keep]], {})]
        base = values(dt, rng)
        exponents = [np.asarray(e, dtype=dt.np) for e in (0.5, -0.5, 2.0, 3.0, -1.0, -2.0, 1.7, 0.0)]
        return [(arrays, {})] + [([base, e], {}) for e in exponents]
    return [(arrays, {})]


def assert_identical(expected, actual, context: str) -> None:
    """Equal dtype, shape and values, NaN equal to NaN and the sign of zero included."""
    expected, actual = np.asarray(expected), np.asarray(actual)
    assert actual.dtype == expected.dtype, f"{context}: dtype {actual.dtype} != {expected.dtype}"
    assert actual.shape == expected.shape, f"{context}: shape {actual.shape} != {expected.shape}"
    if expected.dtype.kind == "f":
        same = (expected == actual) | (np.isnan(expected) & np.isnan(actual))
        same &= np.signbit(expected) == np.signbit(actual)
    else:
        same = expected == actual
    bad = np.flatnonzero(~same)
    assert bad.size == 0, (
        f"{context}: {bad.size} positions differ, first at {bad[0]}: {actual.flat[bad[0]]!r} != {expected.flat[bad[0]]!r}"
    )


def assert_close_in_ulps(expected: np.ndarray, actual: np.ndarray, context: str, ulps: int) -> None:
    """Equal dtype and shape; finite values within ``ulps`` units in the last place of
    ``expected``, the others (NaN, infinities) equal."""
    assert actual.dtype == expected.dtype and actual.shape == expected.shape, context
    both_nan = np.isnan(expected) & np.isnan(actual)
    exact = (expected == actual) | both_nan
    spacing = np.spacing(np.abs(expected).astype(expected.dtype))
    with np.errstate(invalid="ignore"):
        close = np.abs(actual.astype(np.float64) - expected.astype(np.float64)) <= ulps * np.abs(spacing)
    bad = np.flatnonzero(~(exact | (close & np.isfinite(expected))))
    assert bad.size == 0, (
        f"{context}: {bad.size} differ, first {actual.flat[bad[0]]!r} != {expected.flat[bad[0]]!r}"
    )


def single_op_body(name: str, arrays, attrs) -> Graph:
    """The graph of op ``name`` alone on inputs shaped and typed as ``arrays`` (what a
    native kernel is built from)."""
    g = Graph(f"{name}_body")
    ins = [
        g.add_input(f"in{k}", TensorType(a.shape, dtypes.from_numpy_dtype(a.dtype)))
        for k, a in enumerate(arrays)
    ]
    meta = OPS[name].infer(*(g.node(i).type for i in ins), **attrs)
    g.set_outputs([g.add_op(name, ins, attrs, TensorType(tuple(meta.shape), meta.dtype))])
    return g
