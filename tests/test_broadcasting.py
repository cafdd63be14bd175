"""Broadcasting of binary ops and ``where`` against PyTorch, on hypothesis-generated shapes
(0-d, size-0 and size-1 dims included): values, result shapes, dtypes and gradient shapes."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import run_both
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import irgrad
from irgrad.ops.shapes import fmt

torch = pytest.importorskip("torch")

BINARY = {
    "add": lambda L, a, b: a + b,
    "sub": lambda L, a, b: L.sub(a, b),
    "mul": lambda L, a, b: a * b,
    "div": lambda L, a, b: a / b,
    "pow": lambda L, a, b: L.pow(L.abs(a) + 0.5, b),
    "maximum": lambda L, a, b: L.maximum(a, b),
    "minimum": lambda L, a, b: L.minimum(a, b),
    "atan2": lambda L, a, b: L.atan2(a, b),
    "lt": lambda L, a, b: a < b,
    "eq": lambda L, a, b: a == b,
}
DTYPES = [np.float32, np.float64, np.int64, np.int32, np.bool_]
SETTINGS = settings(max_examples=40, deadline=None, derandomize=True)

shape_pairs = hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, min_side=0, max_side=3)
shape_triples = hnp.mutually_broadcastable_shapes(
    num_shapes=3, min_dims=0, max_dims=3, min_side=0, max_side=3
)


def values(shape, dt, seed):
    rng = np.random.default_rng(seed)
    if dt == np.bool_:
        return np.asarray(rng.random(shape) < 0.5)
    if np.dtype(dt).kind == "i":
        return np.asarray(rng.integers(1, 5, shape), dtype=dt)
    x = rng.standard_normal(shape)
    return np.asarray(np.where(np.abs(x) < 0.05, 0.5, x), dtype=dt)


@SETTINGS
@given(shapes=shape_pairs, op=st.sampled_from(sorted(BINARY)), seed=st.integers(0, 2**16))
def test_binary_float_broadcasting_values_and_gradients(shapes, op, seed):
    a_shape, b_shape = shapes.input_shapes
    mine, _ = run_both(BINARY[op], values(a_shape, np.float32, seed), values(b_shape, np.float32, seed + 1))
    assert tuple(mine.shape) == shapes.result_shape


@SETTINGS
@given(
    shapes=shape_pairs,
    op=st.sampled_from(["add", "mul", "lt", "eq", "div", "maximum"]),
    dts=st.tuples(st.sampled_from(DTYPES), st.sampled_from(DTYPES)),
    seed=st.integers(0, 2**16),
)
def test_binary_mixed_dtypes(shapes, op, dts, seed):
    a_shape, b_shape = shapes.input_shapes
    run_both(BINARY[op], values(a_shape, dts[0], seed), values(b_shape, dts[1], seed + 1))


@SETTINGS
@given(shapes=shape_pairs, seed=st.integers(0, 2**16))
def test_gradient_shapes_equal_input_shapes(shapes, seed):
    a_shape, b_shape = shapes.input_shapes
    a = irgrad.tensor(values(a_shape, np.float64, seed), requires_grad=True)
    b = irgrad.tensor(values(b_shape, np.float64, seed + 1), requires_grad=True)
    (a * b + a - b).sum().backward()
    assert a.grad.shape == a.shape and b.grad.shape == b.shape
    assert a.grad.dtype is irgrad.float64


@SETTINGS
@given(
    shapes=shape_triples,
    dts=st.sampled_from(
        [(np.float32, np.float32), (np.float32, np.int64), (np.int64, np.int64), (np.float64, np.float32)]
    ),
    seed=st.integers(0, 2**16),
)
def test_where_broadcasting(shapes, dts, seed):
    c_shape, a_shape, b_shape = shapes.input_shapes
    cond = values(c_shape, np.bool_, seed)
    mine, _ = run_both(
        lambda L, c, a, b: L.where(c, a, b),
        cond,
        values(a_shape, dts[0], seed + 1),
        values(b_shape, dts[1], seed + 2),
    )
    assert tuple(mine.shape) == shapes.result_shape


@SETTINGS
@given(shapes=shape_pairs, seed=st.integers(0, 2**16))
def test_where_with_scalars(shapes, seed):
    c_shape, a_shape = shapes.input_shapes
    run_both(
        lambda L, c, a: L.where(c, a, 0.5), values(c_shape, np.bool_, seed), values(a_shape, np.float32, seed)
    )
    run_both(
        lambda L, c, a: L.where(c, -1, a), values(c_shape, np.bool_, seed), values(a_shape, np.int64, seed)
    )


@st.composite
def incompatible_pair(draw):
    """Two shapes that do not broadcast: one dim where both sizes differ and neither is 1."""
    shapes = draw(
        hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=1, max_dims=4, min_side=1, max_side=3)
    )
    a, b = (list(s) for s in shapes.input_shapes)
    k = draw(st.integers(1, min(len(a), len(b)) or 1))
    if len(a) < k:
        a = [2] * (k - len(a)) + a
    if len(b) < k:
        b = [3] * (k - len(b)) + b
    a[-k], b[-k] = draw(st.sampled_from([(2, 3), (3, 2), (0, 2), (4, 0)]))
    return tuple(a), tuple(b)


@SETTINGS
@given(pair=incompatible_pair(), op=st.sampled_from(["add", "mul", "lt", "maximum", "where"]))
def test_non_broadcastable_raise_runtime_error_naming_op_and_shapes(pair, op):
    a_shape, b_shape = pair
    for lib in (torch, irgrad):
        a, b = lib.zeros(a_shape), lib.zeros(b_shape)
        with pytest.raises(RuntimeError) as info:
            if op == "where":
                lib.where(a > 0, a, b)
            elif op == "lt":
                a < b  # noqa: B015
            else:
                getattr(lib, op)(a, b)
    message = str(info.value)
    assert op in message and fmt(a_shape) in message and fmt(b_shape) in message, message


def test_inplace_broadcasting_rules():
    x = irgrad.zeros(2, 3)
    x += irgrad.ones(3)
    assert x.tolist() == [[1.0] * 3] * 2
    with pytest.raises(RuntimeError):
        y = irgrad.zeros(3)
        y += irgrad.ones(2, 3)
