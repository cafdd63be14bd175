"""Copying a matrix into row-major order: what the tiled products read a linear's weight
(a transposed B) from.

A copy along the target's rows with the source's columns contiguous is a plain copy
LLVM vectorizes.  A *transposing* copy (the source's rows contiguous: ``W.T`` of a
row-major ``W``) read element by element becomes gathers, at about a quarter of the
copy bandwidth (128x784 floats: 28 us).  It is done in 8x8 tiles instead: eight
contiguous rows of the source are loaded as vectors, transposed in registers by three
rounds of shuffles (pairs of elements, pairs of pairs, halves: the classic AVX
transpose, which LLVM lowers to unpack and permute instructions for the host) and
stored as eight contiguous rows of the target.  Edges that do not fill a tile are
copied element by element.
"""

from __future__ import annotations

import llvmlite.ir as ir

from ..native.loops import const, for_range, vector_constant
from .emission import Emission
from .parallel import PARALLEL_ELEMENTS, WAKE_ELEMENTS, split_outer_loop
from .run_time import size_value

TILE = 8
_I32 = ir.IntType(32)

# The three rounds of an 8x8 transpose: each combines rows (a, b) of the previous round
# into two rows with these element masks (of the 16 elements of a and b together).
_ROUNDS = (
    ((0, 1), ((0, 8, 1, 9, 4, 12, 5, 13), (2, 10, 3, 11, 6, 14, 7, 15))),
    ((0, 2), ((0, 1, 8, 9, 4, 5, 12, 13), (2, 3, 10, 11, 6, 7, 14, 15))),
    ((0, 4), ((0, 1, 2, 3, 8, 9, 10, 11), (4, 5, 6, 7, 12, 13, 14, 15))),
)
# where the rounds leave each column of the tile: row k of the transpose is _ORDER[k]
_ORDER = (0, 2, 1, 3, 4, 6, 5, 7)


def copy_matrix(
    at: Emission,
    source: ir.Value,
    strides: tuple,
    target: ir.Value,
    rows: int,
    cols: int,
    bias: ir.Value | None = None,
) -> None:
    """``target[rows, cols]`` (row-major) = the matrix at ``source`` with element
    ``strides``, plus ``bias[col]`` (contiguous, floating) when given, split across the thread
    pool by rows when large."""
    key = ("copy_matrix", rows, cols, tuple(strides), str(source.type), bias is not None)
    transposing = strides[0] == 1 and strides[1] != 1 and rows >= TILE and cols >= TILE

    def build(builder: ir.IRBuilder, pointers) -> None:
        def nest(b: ir.IRBuilder, ptrs: list, start=None, count=None) -> None:
            added = ptrs[2] if bias is not None else None
            if transposing:
                transpose_tiles(b, ptrs[0], strides[1], ptrs[1], rows, cols, start, count, added)
            else:
                _elementwise(b, ptrs[0], strides, ptrs[1], rows, cols, start, count, added)

        if rows * cols >= PARALLEL_ELEMENTS:
            grain = TILE if transposing else 1
            split_outer_loop(builder, list(pointers), rows, grain, nest, rows * cols >= WAKE_ELEMENTS)
        else:
            nest(builder, list(pointers))

    at.call(key, "copy_matrix", [source, target] + ([] if bias is None else [bias]), build)


def _elementwise(
    b: ir.IRBuilder, source, strides, target, rows: int, cols: int, start, count, bias=None
) -> None:
    """The copy element by element, along the target's rows (``start .. start + count``)."""
    width = size_value(b, cols)
    steps = [size_value(b, s) for s in strides]
    with for_range(b, size_value(b, rows) if count is None else count, "t0", unroll=False) as r:
        row = r if start is None else b.add(r, start)
        with for_range(b, width, "t1", unroll=False) as col:
            _copy_element(b, source, steps, target, width, row, col, bias)


def _copy_element(b: ir.IRBuilder, source, steps: list, target, width: ir.Value, row, col, bias=None) -> None:
    """``target[row, col] = source[row * steps[0] + col * steps[1]] (+ bias[col])`` (``width`` columns)."""
    offset = b.add(b.mul(row, steps[0]), b.mul(col, steps[1]))
    value = b.load(b.gep(source, [offset]))
    if bias is not None:
        value = b.fadd(value, b.load(b.gep(bias, [col])))
    b.store(value, b.gep(target, [b.add(b.mul(row, width), col)]))


def transpose_tiles(
    b: ir.IRBuilder,
    source,
    col_stride: int,
    target,
    rows: int,
    cols: int,
    start=None,
    count=None,
    bias=None,
) -> None:
    """Target rows ``start .. start + count`` (all when None) of ``target[r, c] =
    source[r + c * col_stride] (+ bias[c])``: 8x8 tiles transposed in registers, then the edges.
    Sizes and the stride may be known at run time only (see :mod:`.run_time`)."""
    first = const(0) if start is None else start
    extent = size_value(b, rows) if count is None else count
    width, step = size_value(b, cols), size_value(b, col_stride)
    tiles = b.udiv(extent, const(TILE))
    full_cols = b.sub(width, b.urem(width, const(TILE)))
    with for_range(b, tiles, "tile_rows", unroll=False) as t:
        r = b.add(first, b.mul(t, const(TILE)))
        with for_range(b, b.udiv(full_cols, const(TILE)), "tile_cols", unroll=False) as u:
            c = b.mul(u, const(TILE))
            source_at = b.add(r, b.mul(c, step))
            target_at = b.add(b.mul(r, width), c)
            added = None if bias is None else b.gep(bias, [c])
            transpose_tile(b, source, source_at, step, target, target_at, width, added)
        with for_range(b, b.sub(width, full_cols), "edge_cols") as e:  # past the last whole tile
            col = b.add(e, full_cols)
            for i in range(TILE):
                _copy_element(b, source, (const(1), step), target, width, b.add(r, const(i)), col, bias)
    done = b.mul(tiles, const(TILE))
    with for_range(b, b.sub(extent, done), "edge_rows", unroll=False) as e:  # rows past the last tile
        row = b.add(first, b.add(done, e))
        with for_range(b, width, "edge_row") as col:
            _copy_element(b, source, (const(1), step), target, width, row, col, bias)


def transpose_tile(
    b: ir.IRBuilder, source, source_at, source_step, target, target_at, target_step, bias=None
) -> None:
    """One 8x8 tile: the eight vectors at ``source + source_at + j * source_step`` stored,
    transposed in registers, as the eight at ``target + target_at + i * target_step``,
    each plus the eight elements at ``bias`` when given."""
    vector = ir.VectorType(source.type.pointee, TILE)
    align = _alignment(source.type.pointee)
    loaded = []
    for j in range(TILE):
        at = b.add(source_at, b.mul(const(j), source_step))
        loaded.append(b.load(b.bitcast(b.gep(source, [at]), vector.as_pointer()), align=align))
    added = None if bias is None else b.load(b.bitcast(bias, vector.as_pointer()), align=align)
    for i, row in enumerate(_transpose8(b, loaded)):
        at = b.add(target_at, b.mul(const(i), target_step))
        value = row if added is None else b.fadd(row, added)
        b.store(value, b.bitcast(b.gep(target, [at]), vector.as_pointer()), align=align)


def _transpose8(b: ir.IRBuilder, rows: list[ir.Value]) -> list[ir.Value]:
    """The 8x8 transpose of eight vectors of eight elements."""
    for (offset_a, offset_b), masks in _ROUNDS:
        step = offset_b - offset_a
        out = list(rows)
        for base in range(0, TILE, 2 * step):
            for k in range(step):
                a, c = rows[base + k], rows[base + k + step]
                low, high = (b.shuffle_vector(a, c, vector_constant(_I32, tuple(m))) for m in masks)
                out[base + k], out[base + k + step] = low, high
        rows = out
    return [rows[k] for k in _ORDER]


def _alignment(element_type: ir.Type) -> int:
    """An element's size in bytes: the alignment a vector load of elements may assume."""
    if isinstance(element_type, ir.DoubleType):
        return 8
    if isinstance(element_type, ir.FloatType):
        return 4
    if isinstance(element_type, ir.HalfType):
        return 2
    return max(1, element_type.width // 8)
