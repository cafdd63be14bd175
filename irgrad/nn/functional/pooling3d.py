"""3-D pooling (``max_pool3d``, ``avg_pool3d``, ``adaptive_avg_pool3d``) on the 2-D
pooling of every depth plane.

Each depth plane is pooled over its (H, W) windows by :mod:`.pooling`'s 2-D form; each
output depth then combines the planes its depth window covers (those inside the input:
the depth padding holds nothing to take).  Max pooling takes, per element, the first
tap holding the maximum, after the 2-D pooling took the first one in its plane, so the
position and the gradient are those of the first maximum in (depth, row, column) order,
PyTorch's.  Average pooling adds the planes' window sums and divides by PyTorch's
count, a product of the per-dim counts.
"""

from __future__ import annotations

import numpy as np

from ..._arguments import tensor_arguments
from ...creation import tensor
from ...ops.shapes import fmt
from ...tensor import Tensor
from ...tensor_ops import pointwise as P
from ...tensor_ops.split_join import stack
from ._windows import default_stride
from .pooling import avg_pool2d, max_pool2d
from .resample import adaptive_average

__all__ = ["max_pool3d", "avg_pool3d", "adaptive_avg_pool3d"]


def _triple(v) -> tuple[int, int, int]:
    if isinstance(v, (tuple, list)):
        return tuple(int(x) for x in v) if len(v) == 3 else (int(v[0]),) * 3
    return (int(v),) * 3


def _batched(input: Tensor, name: str) -> tuple[Tensor, bool]:
    if input.dim() == 4:
        return input.unsqueeze(0), True
    if input.dim() != 5:
        raise RuntimeError(
            f"{name}: Expected 4D (unbatched) or 5D (batched) input, but got input of size: {fmt(input.shape)}"
        )
    return input, False


def _depth_windows(size: int, k: int, s: int, p: int, d: int, ceil_mode: bool, name: str) -> list[list[int]]:
    """Each output depth's input depths (those of its window inside the input)."""
    if p > k // 2:
        raise RuntimeError(
            f"{name}: pad should be at most half of effective kernel size, but got pad={p}, kernel_size={k}"
        )
    span = d * (k - 1) + 1
    if ceil_mode:
        out = -(-(size + 2 * p - span) // s) + 1
        if (out - 1) * s >= size + p:  # the last window must start inside the input or the left padding
            out -= 1
    else:
        out = (size + 2 * p - span) // s + 1
    if out <= 0:
        raise RuntimeError(f"{name}: output size is too small for input depth {size}")
    return [[z * s - p + j * d for j in range(k) if 0 <= z * s - p + j * d < size] for z in range(out)]


def _planes(x: Tensor) -> Tensor:
    """(N*D, C, H, W): every depth plane of (N, C, D, H, W) as an image."""
    n, c, d, h, w = x.shape
    return x.transpose(1, 2).reshape(n * d, c, h, w)


@tensor_arguments
def max_pool3d(
    input: Tensor,
    kernel_size,
    stride=None,
    padding=0,
    dilation=1,
    ceil_mode: bool = False,
    return_indices: bool = False,
):
    """Max over each kd x kh x kw window of (N, C, D, H, W) input; with ``return_indices``
    also each maximum's flat position in its (D, H, W) volume."""
    x, unbatched = _batched(input, "max_pool3d")
    n, c, d, h, w = x.shape
    kernel = _triple(kernel_size)
    stride = default_stride(stride, kernel, _triple)
    padding, dilation = _triple(padding), _triple(dilation)
    windows = _depth_windows(d, kernel[0], stride[0], padding[0], dilation[0], ceil_mode, "max_pool3d")
    pooled, where = max_pool2d(_planes(x), kernel[1:], stride[1:], padding[1:], dilation[1:], ceil_mode, True)
    oh, ow = pooled.shape[2:]
    pooled, where = pooled.reshape(n, d, c, oh, ow), where.reshape(n, d, c, oh, ow)
    outs, positions = [], []
    for taps in windows:
        best, which = stack([pooled[:, i] for i in taps]).max(dim=0)
        outs.append(best)
        if return_indices:
            depth = tensor(taps)[which]
            plane_position = stack([where[:, i] for i in taps]).gather(0, which.unsqueeze(0)).squeeze(0)
            positions.append(depth * (h * w) + plane_position)
    out = stack(outs, dim=2)
    if not return_indices:
        return out.squeeze(0) if unbatched else out
    indices = stack(positions, dim=2)
    return (out.squeeze(0), indices.squeeze(0)) if unbatched else (out, indices)


def _counts(size: int, k: int, s: int, p: int, out: int, include_pad: bool) -> np.ndarray:
    """How many positions each window along one dim averages (PyTorch's rule: the window
    clipped to the requested padding, then, without ``include_pad``, to the input)."""
    starts = np.arange(out) * s - p
    ends = np.minimum(starts + k, size + p)
    if include_pad:
        return (ends - starts).astype(np.float64)
    return (np.minimum(ends, size) - np.maximum(starts, 0)).astype(np.float64)


@tensor_arguments
def avg_pool3d(
    input: Tensor,
    kernel_size,
    stride=None,
    padding=0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> Tensor:
    """Mean over each kd x kh x kw window of (N, C, D, H, W) input (zero padding counted
    unless ``count_include_pad=False``)."""
    x, unbatched = _batched(input, "avg_pool3d")
    n, c, d, h, w = x.shape
    kernel = _triple(kernel_size)
    stride = default_stride(stride, kernel, _triple)
    padding = _triple(padding)
    windows = _depth_windows(d, kernel[0], stride[0], padding[0], 1, ceil_mode, "avg_pool3d")
    sums = avg_pool2d(_planes(x), kernel[1:], stride[1:], padding[1:], ceil_mode, True, 1)
    oh, ow = sums.shape[2:]
    sums = sums.reshape(n, d, c, oh, ow)
    totals = stack([sum((sums[:, i] for i in taps[1:]), sums[:, taps[0]]) for taps in windows], dim=2)
    if divisor_override:
        out = P.div(totals, divisor_override)
    else:
        counts = [
            _counts(size, k, s, p, o, count_include_pad)
            for size, k, s, p, o in zip((d, h, w), kernel, stride, padding, (len(windows), oh, ow))
        ]
        divisor = counts[0][:, None, None] * counts[1][None, :, None] * counts[2][None, None, :]
        out = P.div(totals, Tensor._wrap(divisor.astype(x._data.dtype)))
    return out.squeeze(0) if unbatched else out


@tensor_arguments
def adaptive_avg_pool3d(input: Tensor, output_size) -> Tensor:
    """Average over adaptive windows so the output's (D, H, W) is ``output_size`` (None keeps a dim)."""
    x, unbatched = _batched(input, "adaptive_avg_pool3d")
    sizes = output_size if isinstance(output_size, (tuple, list)) else (output_size,) * 3
    out = x
    for dim, (size, target) in enumerate(zip(x.shape[2:], sizes), start=2):
        out = adaptive_average(out, dim, size if target is None else int(target))
    out = out.contiguous()
    return out.squeeze(0) if unbatched else out
