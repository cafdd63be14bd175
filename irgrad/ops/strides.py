"""Strided layouts: where a view's elements are, in element strides.

A view op's registry entry (``OpDef.view``) says how its output's layout follows
from its input's: ``view(shape, strides, **attrs) -> (offset, strides)`` gives the
output's first element (an element offset into the input's) and its strides, or
None when the output cannot be a view of that layout (a reshape numpy would copy).
Code generators use these rules to give every value a buffer, an offset and strides,
and to copy exactly where numpy would.  Strides here count elements, not bytes.
"""

from __future__ import annotations

from collections.abc import Sequence

Layout = tuple[int, tuple[int, ...]]  # (element offset, element strides)


def contiguous_strides(shape: Sequence[int]) -> tuple[int, ...]:
    """Element strides of a C-contiguous array of ``shape``."""
    strides = [1] * len(shape)
    for k in range(len(shape) - 2, -1, -1):
        strides[k] = strides[k + 1] * shape[k + 1]
    return tuple(strides)


def is_contiguous(shape: Sequence[int], strides: Sequence[int]) -> bool:
    """Whether ``strides`` walk ``shape`` in C order without gaps (size-1 dims may have
    any stride, and an empty array is contiguous, as numpy's flags say)."""
    if 0 in shape:
        return True
    expected = 1
    for n, s in zip(reversed(shape), reversed(strides)):
        if n != 1 and s != expected:
            return False
        expected *= n
    return True


def broadcast_strides(
    data_shape: Sequence[int], out_shape: Sequence[int], data_strides: Sequence[int] | None = None
) -> tuple[int, ...]:
    """Element strides reading data of ``data_shape`` (laid out with ``data_strides``,
    contiguous when None) at the positions of ``out_shape`` under numpy broadcasting
    (0 along broadcast dimensions)."""
    if len(data_shape) > len(out_shape):
        raise ValueError(f"cannot broadcast {tuple(data_shape)} to {tuple(out_shape)}")
    if data_strides is None:
        data_strides = contiguous_strides(data_shape)
    lead = len(out_shape) - len(data_shape)
    strides = [0] * lead
    for d, o, stride in zip(data_shape, out_shape[lead:], data_strides):
        if d == o:
            strides.append(stride if d != 1 else 0)
        elif d == 1:
            strides.append(0)
        else:
            raise ValueError(f"cannot broadcast {tuple(data_shape)} to {tuple(out_shape)}")
    return tuple(strides)


def reshape_strides(
    shape: Sequence[int], strides: Sequence[int], new_shape: Sequence[int]
) -> tuple[int, ...] | None:
    """Strides viewing data of ``shape``/``strides`` as ``new_shape`` without a copy, or
    None when that needs one (numpy's rule: each group of old dimensions that becomes
    a group of new ones must itself be contiguous)."""
    if 0 in shape or 0 in new_shape:
        return contiguous_strides(new_shape)
    old = [(n, s) for n, s in zip(shape, strides) if n != 1]
    new_strides = [0] * len(new_shape)
    oi, oj, ni, nj = 0, 1, 0, 1
    while ni < len(new_shape) and oi < len(old):
        new_size, old_size = new_shape[ni], old[oi][0]
        while new_size != old_size:
            if new_size < old_size:
                new_size *= new_shape[nj]
                nj += 1
            else:
                old_size *= old[oj][0]
                oj += 1
        for k in range(oi, oj - 1):
            if old[k][1] != old[k + 1][0] * old[k + 1][1]:
                return None
        new_strides[nj - 1] = old[oj - 1][1]
        for k in range(nj - 1, ni, -1):
            new_strides[k - 1] = new_strides[k] * new_shape[k]
        ni, nj, oi, oj = nj, nj + 1, oj, oj + 1
    last = new_strides[ni - 1] if ni >= 1 else 1
    for k in range(ni, len(new_shape)):
        new_strides[k] = last
    return tuple(new_strides)


def slice_indices(item: slice, n: int) -> tuple[int, int, int]:
    """``item.indices(n)``, also for sizes known at run time
    (:class:`~irgrad.ir.run_time_sizes.Size`), whose comparisons record what they assumed
    (``slice.indices`` would read the size as an int: assume its value)."""
    if isinstance(n, int) and all(
        v is None or isinstance(v, int) for v in (item.start, item.stop, item.step)
    ):
        return item.indices(n)
    step = 1 if item.step is None else item.step
    if step == 0:
        raise ValueError("slice step cannot be zero")
    lower, upper = (-1, n - 1) if step < 0 else (0, n)

    def clamped(value, default):
        if value is None:
            return default
        if value < 0:
            value = value + n
            return lower if value < lower else value
        return upper if value > upper else value

    return (
        clamped(item.start, upper if step < 0 else lower),
        clamped(item.stop, lower if step < 0 else upper),
        step,
    )


def range_length(start: int, stop: int, step: int) -> int:
    """``len(range(start, stop, step))``, also for run-time sizes (see :func:`slice_indices`)."""
    if step > 0:
        return (stop - start + step - 1) // step if stop > start else 0
    return (start - stop - step - 1) // -step if start > stop else 0


def slice_layout(shape: Sequence[int], strides: Sequence[int], index: tuple) -> Layout:
    """The layout of ``x[index]`` for a normalised basic index (ints, slices with
    positive steps, None): an offset to its first element and its strides."""
    offset, out = 0, []
    dim = 0
    for item in index:
        if item is None:
            out.append(0)
            continue
        n, stride = shape[dim], strides[dim]
        if isinstance(item, slice):
            start, stop, step = slice_indices(item, n)
            if range_length(start, stop, step):
                offset += start * stride
            out.append(stride * step)
        else:
            offset += (item + n if item < 0 else item) * stride
        dim += 1
    out.extend(strides[dim:])
    return offset, tuple(out)


def byte_span(array) -> tuple[int, int]:
    """The first and one-past-last byte addresses of ``array``'s elements (a numpy
    array; an empty one spans nothing at its data pointer)."""
    low = high = array.__array_interface__["data"][0]
    if array.size == 0:
        return low, high
    for n, stride in zip(array.shape, array.strides):
        reach = (n - 1) * stride
        low, high = (low + reach, high) if reach < 0 else (low, high + reach)
    return low, high + array.itemsize
