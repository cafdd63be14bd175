"""Operations across the channel dim (dim 1): ``channel_shuffle`` (ShuffleNet's
interleaving of channel groups) and ``local_response_norm`` (AlexNet's normalization by
a window of neighbouring channels), as PyTorch computes them."""

from __future__ import annotations

from ..._arguments import tensor_arguments
from ...ops.shapes import fmt
from ...tensor import Tensor
from ...tensor_ops import pointwise as P
from ...tensor_ops.padding import pad

__all__ = ["channel_shuffle", "native_channel_shuffle", "local_response_norm"]


@tensor_arguments
def channel_shuffle(input: Tensor, groups: int) -> Tensor:
    """(N, C, *) with its channels regrouped: ``groups`` groups of ``C / groups``, read
    out one channel of each group in turn."""
    if input._data.ndim <= 2:
        raise RuntimeError(
            f"channel_shuffle expects input with > 2 dims, but got input with sizes {fmt(input.shape)}"
        )
    if groups <= 0:
        raise RuntimeError(
            f"Number of groups to divide channels in must be positive. Value of groups:{groups}"
        )
    channels = input.shape[1]
    if channels % groups:
        raise RuntimeError(
            f"Number of channels must be divisible by groups. Got {channels} channels and {groups} groups."
        )
    batch, rest = input.shape[0], tuple(input.shape[2:])
    grouped = input.reshape(batch, groups, channels // groups, *rest)
    return grouped.transpose(1, 2).reshape(input.shape)


native_channel_shuffle = channel_shuffle


@tensor_arguments
def local_response_norm(
    input: Tensor, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0
) -> Tensor:
    """``x / (k + alpha * mean(x^2 over the size channels around it)) ** beta``, the window
    zero-padded by ``size // 2`` before and ``(size - 1) // 2`` after, as PyTorch's."""
    if input._data.ndim < 3:
        raise ValueError(
            f"Expected 3D or higher dimensionality                          input (got {input._data.ndim} dimensions)"
        )
    if input.numel() == 0:
        return input
    squares = P.mul(input, input)
    padding = [0, 0] * (input._data.ndim - 2) + [size // 2, (size - 1) // 2]
    padded = pad(squares, padding)
    channels = input.shape[1]
    window = padded.narrow(1, 0, channels)
    for offset in range(1, size):
        window = P.add(window, padded.narrow(1, offset, channels))
    average = P.div(window, size)
    return P.div(input, P.pow(P.add(P.mul(average, alpha), k), beta))
