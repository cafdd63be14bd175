"""The layout of a lowered graph: every value's buffer, offset and strides.

A value computed by a node owns a new contiguous buffer; a view (an op whose registry
entry has a ``view`` rule) is its argument's buffer seen through other strides, and
costs nothing; a view the rule cannot express (a reshape numpy would copy) reads a
contiguous copy, made explicitly.  Buffers are graph inputs, constants, *external*
arrays (values the caller or a numpy step sees: outputs, a numpy step's arguments and
results), allocated for each call, or *arena* buffers: temporaries only native code
touches, packed into one arena by their lifetimes.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from ..ops.strides import contiguous_strides, is_contiguous

INPUT_BUFFER, CONSTANT_BUFFER, ARENA, EXTERNAL = "input", "constant", "arena", "external"
ALIGNMENT = 64  # bytes: a cache line, and the widest vector


class Place(NamedTuple):
    """Where a value's elements are: buffer ``buffer`` from element ``offset`` on,
    along ``strides`` (in elements)."""

    buffer: int
    offset: int
    shape: tuple[int, ...]
    strides: tuple[int, ...]
    dtype: np.dtype

    @property
    def contiguous(self) -> bool:
        return self.offset == 0 and is_contiguous(self.shape, self.strides)

    def view(self, offset: int, shape: tuple[int, ...], strides: tuple[int, ...]) -> Place:
        """The same buffer seen from ``offset`` elements further on with another shape."""
        return Place(self.buffer, self.offset + offset, tuple(shape), tuple(strides), self.dtype)


class Buffer:
    """Memory a graph run uses: its kind, the contiguous shape and dtype of the value
    that owns it, and where it comes from (an input's position, a constant's array,
    an arena buffer's byte offset).  A plain class: see :mod:`.plan`."""

    def __init__(
        self,
        id: int,
        kind: str,
        shape: tuple[int, ...],
        dtype: np.dtype,
        position: int | None = None,
        value: np.ndarray | None = None,
        offset: int = 0,
        uses: list[int] | None = None,
    ) -> None:
        self.id, self.kind, self.shape, self.dtype = id, kind, shape, dtype
        self.position, self.value, self.offset = position, value, offset
        self.uses = [] if uses is None else uses  # the steps reading it, through any view

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize

    def place(self) -> Place:
        return Place(self.id, 0, self.shape, contiguous_strides(self.shape), self.dtype)


def pack_arena(buffers: list[Buffer], defined: dict[int, int]) -> int:
    """Give every arena buffer a byte offset so that buffers alive at the same step
    never overlap (first fit, in the order they are defined); return the arena's
    size.  A buffer lives from the step that defines it (``defined``) to its last
    use: a step's result never shares memory with its arguments."""
    arena = sorted((b for b in buffers if b.kind == ARENA), key=lambda b: defined[b.id])
    live: list[tuple[int, int, int]] = []  # (offset, end, last step)
    size = 0
    for buffer in arena:
        step = defined[buffer.id]
        live = [block for block in live if block[2] >= step]
        need = _aligned(max(buffer.nbytes, 1))
        offset = 0
        for start, end, _ in sorted(live):
            if offset + need <= start:
                break
            offset = max(offset, end)
        buffer.offset = offset
        live.append((offset, offset + need, max(buffer.uses, default=step)))
        size = max(size, offset + need)
    return size


def _aligned(n: int) -> int:
    return -(-n // ALIGNMENT) * ALIGNMENT


def covers_its_buffer(place: Place) -> bool:
    """Whether ``place`` is all of its buffer's array when that has its shape: contiguous
    from the start (:func:`view_of` returns the array itself)."""
    return place.offset == 0 and is_contiguous(place.shape, place.strides)


def view_of(array: np.ndarray, place: Place) -> np.ndarray:
    """``place`` within ``array`` (its buffer, contiguous) as a numpy view."""
    if array.shape == place.shape and covers_its_buffer(place):
        return array
    if 0 in place.shape:  # no element to share (its offset may lie past an empty buffer)
        return np.empty(place.shape, place.dtype)
    itemsize = place.dtype.itemsize
    return np.ndarray(
        place.shape,
        place.dtype,
        buffer=array,
        offset=place.offset * itemsize,
        strides=tuple(s * itemsize for s in place.strides),
    )
