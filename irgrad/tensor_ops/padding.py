"""``F.pad``: the constant mode (the ``pad`` op), and ``reflect``, ``replicate`` and
``circular`` as PyTorch's, with their shape rules and errors, computed as a gather.

In the non-constant modes each padded dim becomes one ``index_select`` with positions computed here (reflected,
clamped or wrapped), so the gradient (an index add: a border element receives the
gradients of its copies) and the compiler come from that op.  Negative padding crops,
as in PyTorch.
"""

from __future__ import annotations

import numpy as np

from .._arguments import tensor_arguments
from ..creation import tensor
from ..dispatch import apply
from ..dtypes import bool_, checked_fill_value, int64
from ..ops import OPS
from ..tensor import Tensor
from .indexing import index_select

MODES = ("reflect", "replicate", "circular")


def _positions(mode: str, size: int, left: int, right: int) -> np.ndarray:
    """The source position of each output position along one dim."""
    j = np.arange(-left, size + right)
    if mode == "replicate":
        return np.clip(j, 0, size - 1)
    if mode == "circular":  # a negative side crops first; the other wraps around what is left
        start, kept = max(-left, 0), size + min(left, 0) + min(right, 0)
        return start + np.arange(-max(left, 0), kept + max(right, 0)) % kept
    j = np.abs(j)  # reflect: about the first and the last element, which are not repeated
    return np.where(j >= size, 2 * (size - 1) - j, j)


def _check(input: Tensor, pad: tuple, mode: str) -> None:
    shape = tuple(input._data.shape)
    n, ndim = len(pad) // 2, len(shape)
    if n not in (1, 2, 3) or ndim not in (n + 1, n + 2):
        raise NotImplementedError(
            f"Padding size {len(pad)} is not supported for {ndim}D input tensor.\n"
            "Supported combinations for non-constant padding:\n"
            "  - 2D or 3D input: padding size = 2 (pads last dimension)\n"
            "  - 3D or 4D input: padding size = 4 (pads last 2 dimensions)\n"
            "  - 4D or 5D input: padding size = 6 (pads last 3 dimensions)"
        )
    if mode != "circular" and input.dtype is bool_:  # (PyTorch's kernels have no bool case)
        kernel = "reflection" if mode == "reflect" else "replication"
        raise NotImplementedError(f"\"{kernel}_pad{n}d\" not implemented for 'Bool'")
    if mode != "circular" and 0 in (shape[1:] if ndim == n + 2 else shape):  # (a batch may be empty)
        raise RuntimeError(
            f"Expected {n + 1}D or {n + 2}D (batch mode) tensor with possibly 0 batch size and other "
            f"non-zero dimensions for input, but got: {list(shape)}"
        )
    sizes = shape[ndim - n :]
    outs = [size + pad[2 * (n - 1 - k)] + pad[2 * (n - 1 - k) + 1] for k, size in enumerate(sizes)]
    for i in range(n):
        dim = ndim - 1 - i
        size, left, right = shape[dim], pad[2 * i], pad[2 * i + 1]
        if mode == "reflect" and (left >= size or right >= size):
            raise RuntimeError(
                "Argument #4: Padding size should be less than the corresponding input dimension, but got: "
                f"padding ({left}, {right}) at dimension {dim} of input {list(shape)}"
            )
        if mode == "circular":
            # what the negative sides leave to wrap around; wrapping it more than once (where
            # PyTorch's results depend on its copy order, or it raises) is refused
            kept = size + min(left, 0) + min(right, 0)
            if kept < 0 or (kept == 0 and max(left, right) > 0):
                raise RuntimeError("Negative padding value is resulting in an empty dimension")
            if left > min(size, kept) or right > min(size, kept):
                raise RuntimeError("Padding value causes wrapping around more than once.")
    if mode != "circular" and min(outs) <= 0:
        names = "DHW"[3 - n :]
        raise RuntimeError(
            f"input ({', '.join(f'{c}: {s}' for c, s in zip(names, sizes))}) is too small. "
            f"Calculated output {', '.join(f'{c}: {s}' for c, s in zip(names, outs))}"
        )


def _pad_mode(input: Tensor, pad: tuple, mode: str, value: float | None) -> Tensor:
    """``input`` padded in ``mode`` (one of :data:`MODES`); ``pad`` lists (left, right)
    pairs from the last dim backwards, for 1 to 3 dims of a batched or unbatched input."""
    if value is not None and value != 0:
        raise RuntimeError(f'Padding mode "{mode}" doesn\'t take in value argument')
    _check(input, pad, mode)
    x = input
    for i in range(len(pad) // 2):
        dim = input._data.ndim - 1 - i
        size = input._data.shape[dim]
        left, right = pad[2 * i], pad[2 * i + 1]
        if size + left + right == 0:  # cropped away
            positions = np.empty(0, dtype=np.int64)
        else:
            positions = _positions(mode, size, left, right)
        if len(positions) != size or (positions != np.arange(size)).any():
            x = index_select(x, dim, tensor(positions, dtype=int64))
    return x if x is not input else input.clone()


@tensor_arguments
def pad(input: Tensor, pad, mode: str = "constant", value: float | None = None) -> Tensor:
    """Pad the last dims: ``pad`` lists (left, right) pairs from the last dim backwards;
    ``mode`` is ``constant`` (with ``value``) or ``reflect``/``replicate``/``circular``
    (see the module doc)."""
    if not isinstance(mode, str):
        raise TypeError(f"pad(): argument 'mode' (position 3) must be str, not {type(mode).__name__}")
    for i, p in enumerate(pad):  # PyTorch's argument parser takes ints only
        if isinstance(p, (bool, float, np.bool_, np.floating)):
            what = type(p).__name__ if isinstance(p, (bool, float)) else type(p.item()).__name__
            raise TypeError(
                f"pad(): argument 'pad' (position 2) must be tuple of ints, but found element of type {what} at pos 0"
                if i == 0
                else f"pad(): argument 'pad' failed to unpack the object at pos 2 with error "
                f'"type must be tuple of ints,but got {what}"'
            )
    pad = tuple(int(p) for p in pad)
    if len(pad) % 2:
        raise RuntimeError("Padding length must be divisible by 2")
    if len(pad) // 2 > input._data.ndim:
        raise RuntimeError(
            "Padding length should be less than or equal to two times the input dimension but got "
            f"padding length {len(pad)} and input of dimension {input._data.ndim}"
        )
    if mode != "constant":
        if mode not in MODES:
            raise NotImplementedError(f"Unrecognised padding mode {mode}")
        return _pad_mode(input, pad, mode, value)
    ndim = input._data.ndim
    widths = [(0, 0)] * ndim
    for i in range(len(pad) // 2):
        widths[ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
    x = input
    if any(size + a + b < 0 for (a, b), size in zip(widths, input._data.shape)):
        raise RuntimeError("narrow(): length must be non-negative.")  # (cropped past empty)
    if any(a < 0 or b < 0 for a, b in widths):  # negative padding crops
        index = tuple(
            slice(-a if a < 0 else 0, (size + b) if b < 0 else size, 1)
            for (a, b), size in zip(widths, input._data.shape)
        )
        x = apply(OPS["slice"], (x,), {"index": index})
        widths = [(max(a, 0), max(b, 0)) for a, b in widths]
    value = 0.0 if value is None else checked_fill_value(float(value), input.dtype)  # (a double in PyTorch)
    return apply(OPS["pad"], (x,), {"widths": tuple(widths), "value": value})
