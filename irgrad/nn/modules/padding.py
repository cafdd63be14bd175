"""The padding layers, as ``torch.nn``'s: ``ReflectionPad{1,2,3}d``, ``ReplicationPad…``,
``CircularPad…``, ``ConstantPad…`` and ``ZeroPad…``; each calls ``F.pad`` in its mode.

``padding`` is an int (the same on every side) or a sequence of (left, right) pairs
from the last dim backwards, kept as given (a tuple), as PyTorch keeps it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ...tensor import Tensor
from .. import functional as F
from .module import Module

__all__ = [
    "CircularPad1d",
    "CircularPad2d",
    "CircularPad3d",
    "ConstantPad1d",
    "ConstantPad2d",
    "ConstantPad3d",
    "ReflectionPad1d",
    "ReflectionPad2d",
    "ReflectionPad3d",
    "ReplicationPad1d",
    "ReplicationPad2d",
    "ReplicationPad3d",
    "ZeroPad1d",
    "ZeroPad2d",
    "ZeroPad3d",
]


def _sides(padding: Any, dims: int) -> tuple:
    return tuple(padding) if isinstance(padding, Iterable) else (padding,) * (2 * dims)


class _PadNd(Module):
    """Pads the last ``_dims`` dims in ``_mode``."""

    _mode = "constant"
    _dims = 1

    def __init__(self, padding: int | tuple) -> None:
        super().__init__()
        self.padding = _sides(padding, self._dims)

    def forward(self, input: Tensor) -> Tensor:
        return F.pad(input, self.padding, self._mode)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class _CircularPadNd(_PadNd):
    _mode = "circular"

    def forward(self, input: Tensor) -> Tensor:
        if input.dim() not in (self._dims + 1, self._dims + 2):
            raise ValueError(
                f"expected {self._dims + 1}D or {self._dims + 2}D input (got {input.dim()}D input)"
            )
        return super().forward(input)


class _ConstantPadNd(_PadNd):
    def __init__(self, padding: int | tuple, value: float) -> None:
        super().__init__(padding)
        self.value = value

    def forward(self, input: Tensor) -> Tensor:
        return F.pad(input, self.padding, "constant", self.value)

    def extra_repr(self) -> str:
        return f"padding={self.padding}, value={self.value}"


class _ReflectionPadNd(_PadNd):
    _mode = "reflect"


class _ReplicationPadNd(_PadNd):
    _mode = "replicate"


class _ZeroPadNd:
    """A constant pad of zeros (mixed in before ``ConstantPad{n}d``, as PyTorch's subclasses)."""

    def __init__(self, padding: int | tuple) -> None:
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ReflectionPad1d(_ReflectionPadNd):
    """Pads the last dim with its reflection about the edge elements (which are not repeated)."""


class ReflectionPad2d(_ReflectionPadNd):
    """Pads the last 2 dims with their reflection (``(left, right, top, bottom)``)."""

    _dims = 2


class ReflectionPad3d(_ReflectionPadNd):
    _dims = 3


class ReplicationPad1d(_ReplicationPadNd):
    """Pads the last dim with copies of its edge elements."""


class ReplicationPad2d(_ReplicationPadNd):
    _dims = 2


class ReplicationPad3d(_ReplicationPadNd):
    _dims = 3


class CircularPad1d(_CircularPadNd):
    """Pads the last dim by wrapping around (the other end's elements)."""


class CircularPad2d(_CircularPadNd):
    _dims = 2


class CircularPad3d(_CircularPadNd):
    _dims = 3


class ConstantPad1d(_ConstantPadNd):
    """Pads the last dim with ``value``."""


class ConstantPad2d(_ConstantPadNd):
    _dims = 2


class ConstantPad3d(_ConstantPadNd):
    _dims = 3


class ZeroPad1d(_ZeroPadNd, ConstantPad1d):
    """Pads the last dim with zeros."""


class ZeroPad2d(_ZeroPadNd, ConstantPad2d):
    pass


class ZeroPad3d(_ZeroPadNd, ConstantPad3d):
    pass
