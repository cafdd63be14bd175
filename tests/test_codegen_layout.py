"""The layout plan's rules against numpy: which reshapes, slices, unfolds and diagonals
are views and with which strides and offsets, the matrix layouts BLAS reads in place,
and an arena that never overlaps buffers alive together.  No torch needed.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from irgrad.codegen.gemm import matrix_layout
from irgrad.codegen.layout import ARENA, Buffer, pack_arena
from irgrad.ops import OPS
from irgrad.ops.strides import reshape_strides, slice_layout

# --- view rules against numpy ---------------------------------------------------------------------


def _element_layout(base: np.ndarray, view: np.ndarray) -> tuple[int, tuple[int, ...]]:
    offset = view.__array_interface__["data"][0] - base.__array_interface__["data"][0]
    return offset // base.itemsize, tuple(s // base.itemsize for s in view.strides)


@st.composite
def strided_arrays(draw):
    """A view of a fresh array: transposed, stepped or sliced, as numpy makes them."""
    shape = tuple(draw(st.lists(st.integers(1, 5), min_size=1, max_size=4)))
    base = np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape)
    view = base
    if draw(st.booleans()):
        view = view.transpose(draw(st.permutations(range(view.ndim))))
    if draw(st.booleans()):
        view = view[tuple(slice(None, None, draw(st.integers(1, 2))) for _ in range(view.ndim))]
    return base, view


@settings(max_examples=200, deadline=None)
@given(strided_arrays(), st.data())
def test_reshape_is_a_view_exactly_where_numpy_makes_one(arrays, data):
    base, view = arrays
    size = view.size
    factors = [d for d in range(1, size + 1) if size % d == 0]
    first = data.draw(st.sampled_from(factors))
    new_shape = data.draw(
        st.sampled_from([(size,), (first, size // first), (1, size, 1), (size // first, 1, first)])
    )
    _, strides = _element_layout(base, view)
    rule = reshape_strides(view.shape, strides, new_shape)
    try:
        numpy_view = np.reshape(view, new_shape, copy=False)
    except ValueError:
        assert rule is None
        return
    assert rule is not None
    expected_offset, expected_strides = _element_layout(base, numpy_view)
    reshaped = np.lib.stride_tricks.as_strided(view, new_shape, tuple(s * base.itemsize for s in rule))
    np.testing.assert_array_equal(reshaped, numpy_view)  # the same elements, whatever size-1 strides say


@settings(max_examples=200, deadline=None)
@given(strided_arrays(), st.data())
def test_slice_layout_is_numpys(arrays, data):
    base, view = arrays
    index = []
    for n in view.shape:
        kind = data.draw(st.sampled_from(["int", "slice", "none", "all"]))
        if kind == "int":
            index.append(data.draw(st.integers(-n, n - 1)))
        elif kind == "slice":
            start = data.draw(st.integers(0, n))
            index.append(slice(start, data.draw(st.integers(start, n)), data.draw(st.integers(1, 3))))
        elif kind == "none":
            index += [None, slice(None)]
        else:
            index.append(slice(None))
    index = tuple(index)
    start, strides = _element_layout(base, view)
    offset, rule = slice_layout(view.shape, strides, index)
    expected = view[index + (Ellipsis,)]  # a view even when every dim is indexed away
    if expected.size:
        expected_offset, _ = _element_layout(base, expected)
        assert start + offset == expected_offset
    got = np.lib.stride_tricks.as_strided(
        base.reshape(-1)[start + offset :], expected.shape, tuple(s * base.itemsize for s in rule)
    )
    np.testing.assert_array_equal(got, expected)


def test_every_view_op_has_a_rule_and_only_views_do():
    views = {name for name, op in OPS.items() if op.view is not None}
    assert views == {"reshape", "permute", "broadcast_to", "slice", "diagonal", "unfold", "detach", "rebind"}


@settings(max_examples=200, deadline=None)
@given(strided_arrays(), st.data())
def test_unfold_layout_is_the_kernels(arrays, data):
    base, view = arrays
    if view.ndim == 0:
        view = view.reshape(1)
    dim = data.draw(st.integers(0, view.ndim - 1))
    size = data.draw(st.integers(0, view.shape[dim]))
    step = data.draw(st.integers(1, 4))
    start, strides = _element_layout(base, view)
    rule_offset, rule = OPS["unfold"].view(view.shape, strides, dim=dim, size=size, step=step)
    expected = OPS["unfold"].eval(view, dim=dim, size=size, step=step)
    got = np.lib.stride_tricks.as_strided(
        base.reshape(-1)[start + rule_offset :], expected.shape, tuple(s * base.itemsize for s in rule)
    )
    np.testing.assert_array_equal(got, expected)


@settings(max_examples=200, deadline=None)
@given(strided_arrays(), st.data())
def test_diagonal_layout_is_numpys(arrays, data):
    base, view = arrays
    if view.ndim < 2:
        view = view.reshape(view.shape + (1,))
    dim1, dim2 = data.draw(st.permutations(range(view.ndim)))[:2]
    offset = data.draw(st.integers(-view.shape[dim1] - 1, view.shape[dim2] + 1))
    start, strides = _element_layout(base, view)
    rule_offset, rule = OPS["diagonal"].view(view.shape, strides, offset=offset, dim1=dim1, dim2=dim2)
    expected = np.diagonal(view, offset, dim1, dim2)
    got = np.lib.stride_tricks.as_strided(
        base.reshape(-1)[start + rule_offset :], expected.shape, tuple(s * base.itemsize for s in rule)
    )
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize(
    "rows, cols, strides, expected",
    [
        (3, 4, (4, 1), (111, 4)),  # row major
        (3, 4, (1, 3), (112, 3)),  # a transposed matrix
        (3, 4, (8, 1), (111, 8)),  # rows of a wider matrix
        (3, 4, (4, 2), None),  # every other column: copied first
        (3, 1, (0, 1), None),  # a broadcast row
        (1, 4, (99, 1), (111, 4)),  # one row: its stride is irrelevant
    ],
)
def test_matrix_layouts_blas_reads_in_place(rows, cols, strides, expected):
    assert matrix_layout(rows, cols, *strides) == expected


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 300), st.integers(0, 5)), min_size=1, max_size=12))
def test_the_arena_never_overlaps_buffers_alive_together(spec):
    buffers, defined = [], {}
    for k, (size, life) in enumerate(spec):
        buffers.append(Buffer(k, ARENA, (size,), np.dtype(np.uint8), uses=[k + life]))
        defined[k] = k
    total = pack_arena(buffers, defined)
    for a in buffers:
        assert a.offset % 64 == 0 and a.offset + a.nbytes <= total
        for b in buffers:
            alive_together = a.id < b.id and defined[b.id] <= max(a.uses)
            if alive_together:
                assert a.offset + a.nbytes <= b.offset or b.offset + b.nbytes <= a.offset
