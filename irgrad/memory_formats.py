"""``torch.memory_format`` and its four values, and PyTorch's rules on strides that use them.

A memory format says how a tensor's elements should sit in memory: ``contiguous_format``
(C order), ``channels_last`` (a 4-D NCHW tensor stored as NHWC), ``channels_last_3d``
(5-D NCDHW stored as NDHWC), or ``preserve_format`` (as the input's). irgrad tensors
are numpy arrays, whose strides can be any of these, and ``stride()`` reports them as
they are. This module answers "is this layout contiguous in that format"
(:func:`is_contiguous_as`), "which format do these strides look like"
(:func:`suggest_memory_format`) and "which permutation stores a tensor in that format"
(:func:`storage_order`), each as PyTorch's ``c10`` does.
"""

from __future__ import annotations

from collections.abc import Sequence

from .ops.strides import is_contiguous

__all__ = [
    "TorchConstant",
    "memory_format",
    "contiguous_format",
    "preserve_format",
    "channels_last",
    "channels_last_3d",
    "check_memory_format",
    "storage_order",
    "is_contiguous_as",
    "suggest_memory_format",
]


class TorchConstant:
    """A value PyTorch names ``torch.<name>`` (a memory format, a layout): printed so, and
    pickled (and deep-copied) as that one value, found by its name."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"torch.{self.name}"

    def __reduce__(self) -> str:
        return self.name


class memory_format(TorchConstant):
    """A memory format, as ``torch.memory_format``: one of this module's four values."""

    __slots__ = ()


contiguous_format = memory_format("contiguous_format")
preserve_format = memory_format("preserve_format")
channels_last = memory_format("channels_last")
channels_last_3d = memory_format("channels_last_3d")


def check_memory_format(function: str, fmt: object) -> None:
    """PyTorch's TypeError when ``function`` got something other than a memory format."""
    if not isinstance(fmt, memory_format):
        raise TypeError(
            f"{function}(): argument 'memory_format' must be torch.memory_format, not {type(fmt).__name__}"
        )


# The channels-last formats: the rank they need, and their dims from the innermost
# (fastest-varying) to the outermost, as c10's stride loops visit them.
_CHANNELS_LAST = {channels_last: (4, (1, 3, 2, 0)), channels_last_3d: (5, (1, 4, 3, 2, 0))}


def storage_order(fmt: memory_format, ndim: int) -> tuple[int, ...] | None:
    """The permutation of the dims that puts a tensor of ``ndim`` dims in ``fmt``'s
    storage order, outermost first (``(0, 2, 3, 1)`` for ``channels_last``), or None for
    C order (``contiguous_format``). PyTorch's error for a channels-last format and a
    tensor of another rank. ``preserve_format`` depends on the tensor: the caller decides."""
    if fmt not in _CHANNELS_LAST:
        return None
    rank, inner_first = _CHANNELS_LAST[fmt]
    if ndim != rank:
        raise RuntimeError(f"required rank {rank} tensor to use {fmt.name} format")
    return tuple(reversed(inner_first))


def is_contiguous_as(shape: Sequence[int], strides: Sequence[int], fmt: memory_format) -> bool:
    """Whether element ``strides`` store ``shape`` contiguously in ``fmt``, as
    ``Tensor.is_contiguous(memory_format=fmt)``: ``preserve_format`` asks for C order,
    and a channels-last format is never met by a tensor of another rank. Size-1 dims
    may have any stride."""
    if fmt not in _CHANNELS_LAST:
        return is_contiguous(shape, strides)
    rank, inner_first = _CHANNELS_LAST[fmt]
    if len(shape) != rank:
        return False
    expected = 1
    for d in inner_first:
        if shape[d] != 1:
            if strides[d] != expected:
                return False
            expected *= shape[d]
    return True


def _strides_like(shape: Sequence[int], strides: Sequence[int], inner_first: tuple[int, ...]) -> bool:
    """c10's ``is_channels_last_strides_*``: whether the strides grow in the format's
    order (ambiguous layouts, such as N111, count as C order)."""
    if strides[1] == 0:
        return False
    least = 0
    for d in inner_first:
        if shape[d] == 0 or strides[d] < least:
            return False
        if d == 0 and least == strides[1]:
            return False
        least = strides[d] * shape[d] if shape[d] > 1 else strides[d]
    return True


def suggest_memory_format(shape: Sequence[int], strides: Sequence[int]) -> memory_format:
    """The format element ``strides`` look like, as PyTorch's ``suggest_memory_format()``:
    a channels-last format when the tensor has its rank and its strides grow in its
    order, else ``contiguous_format``."""
    for fmt, (rank, inner_first) in _CHANNELS_LAST.items():
        if len(shape) == rank and _strides_like(shape, strides, inner_first):
            return fmt
    return contiguous_format
