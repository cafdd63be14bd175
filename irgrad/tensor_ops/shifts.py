"""Values moved or compared along dims: ``flip`` (reversed), ``roll`` (rotated) and ``diff``
(differences of neighbours, after joining ``prepend`` and ``append``).

``roll`` and ``diff`` are slices of the input joined with ``cat`` (``split_join``), so a
tracer and autograd see only ``slice``, ``cat`` and elementwise ops; ``flip`` is its own
primitive."""

from __future__ import annotations

import numpy as np

from .._arguments import tensor_arguments
from ..dispatch import apply
from ..ops import OPS
from ..ops.shapes import normalize_dim
from ..tensor import Tensor
from .pointwise import ne, sub
from .shape import clone, flatten, reshape
from .split_join import _slice_dim, cat, narrow


@tensor_arguments
def diff(
    input: Tensor, n: int = 1, dim: int = -1, prepend: Tensor | None = None, append: Tensor | None = None
) -> Tensor:
    """The ``n``-th forward difference along ``dim`` (``x[1:] - x[:-1]``), after joining
    ``prepend`` and ``append``; on bools, ``!=``."""
    if input._data.ndim == 0:
        raise RuntimeError("diff expects input to be at least one-dimensional")
    d = normalize_dim("diff", dim, input._data.ndim)
    parts = [t for t in (prepend, input, append) if t is not None]
    x = cat(parts, d) if len(parts) > 1 else input
    for _ in range(n):
        size = x.shape[d]
        if size == 0:
            break
        later, earlier = narrow(x, d, 1, size - 1), narrow(x, d, 0, size - 1)
        x = ne(later, earlier) if x.dtype.name == "bool" else sub(later, earlier)
    return x


@tensor_arguments
def flip(input: Tensor, dims=None, *more) -> Tensor:
    """``input`` reversed along ``dims`` (a sequence, or ints: ``x.flip(0, 2)`` as PyTorch's method)."""
    if dims is None:
        raise TypeError('flip() missing 1 required positional argument: "dims"')
    dims = tuple(
        normalize_dim("flip", d, input._data.ndim)
        for d in ((dims, *more) if isinstance(dims, (int, np.integer)) else dims)
    )
    if len(set(dims)) != len(dims):
        raise RuntimeError(
            f"flip: dims {list(dims)} name a dim more than once (input shape {list(input.shape)})"
        )
    return apply(OPS["flip"], (input,), {"dims": dims})


@tensor_arguments
def roll(input: Tensor, shifts, dims=None) -> Tensor:
    if dims is None:
        return reshape(roll(flatten(input), shifts, 0), input._data.shape)
    shifts = (shifts,) if isinstance(shifts, int) else tuple(shifts)
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    if len(shifts) != len(dims):
        raise RuntimeError(
            f"roll: shifts and dimensions must align. shifts: {len(shifts)}, dims: {len(dims)}"
        )
    x = input
    for s, d in zip(shifts, dims):
        d = normalize_dim("roll", d, x._data.ndim)
        size = x._data.shape[d]
        if size == 0:
            continue
        s %= size
        if s:
            x = cat([_slice_dim(x, d, size - s, size), _slice_dim(x, d, 0, size - s)], d)
    return clone(x) if x is input else x  # a new tensor even when nothing moves, as PyTorch's
