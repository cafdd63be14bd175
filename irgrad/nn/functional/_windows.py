"""Argument handling and window ops shared by :mod:`.conv` and :mod:`.pooling`."""

from __future__ import annotations

from ...dispatch import apply
from ...ops import OPS
from ...ops.shapes import fmt
from ...tensor import Tensor
from ...tensor_ops.padding import pad as _pad


def pair(v, name: str = "") -> tuple[int, int]:
    """An int, or a one- or two-element sequence, as a (height, width) pair."""
    if isinstance(v, (tuple, list)):
        if len(v) == 1:
            return (int(v[0]), int(v[0]))
        if len(v) != 2:
            raise ValueError(f"{name}: expected an int or a pair, got {v!r}")
        return (int(v[0]), int(v[1]))
    return (int(v), int(v))


def im2col(x: Tensor, kernel, stride, dilation) -> Tensor:
    """(N, C*kh*kw, oh*ow) columns of every window of x."""
    return apply(
        OPS["im2col"], (x,), {"kernel": kernel, "stride": stride, "dilation": dilation, "layout": "cols"}
    )


def col2im(cols: Tensor, shape, kernel, stride, dilation) -> Tensor:
    """Sum (N, C*kh*kw, oh*ow) columns back into an image of ``shape``."""
    attrs = {
        "shape": tuple(shape),
        "kernel": kernel,
        "stride": stride,
        "dilation": dilation,
        "layout": "cols",
    }
    return apply(OPS["col2im"], (cols,), attrs)


def pad2d(x: Tensor, pads, value: float = 0.0) -> Tensor:
    """``x`` padded by ((top, bottom), (left, right)) with ``value`` (itself when all are 0)."""
    (top, bottom), (left, right) = pads
    if top == bottom == left == right == 0:
        return x
    return _pad(x, (left, right, top, bottom), value=value)


def check_input(name: str, x: Tensor, ndim: int) -> None:
    """``x`` must be batched (``ndim`` dims); callers have already given an unbatched
    input its batch dim, so the message names both forms, as torch's does."""
    if x._data.ndim != ndim:
        raise RuntimeError(
            f"{name}: Expected {ndim - 1}D (unbatched) or {ndim}D (batched) input, but got input of "
            f"size: {fmt(x._data.shape)}"
        )


def as_batched_image(input: Tensor, name: str) -> tuple[Tensor, bool]:
    """``(N, C, H, W) input, whether it was unbatched (C, H, W)``."""
    if input._data.ndim == 3:
        return input.unsqueeze(0), True
    check_input(name, input, 4)
    return input, False


def default_stride(stride, kernel: tuple, convert) -> tuple:
    """A pooling's stride: ``kernel`` when not given (None or an empty sequence), else ``convert(stride)``."""
    if stride is None or (isinstance(stride, (list, tuple)) and not stride):
        return kernel
    return convert(stride)
