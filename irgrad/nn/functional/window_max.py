"""Max pooling over windows whose placement is computed, not strided:
``adaptive_max_pool3d`` (windows ``[floor(i L / n), ceil((i + 1) L / n))`` in each dim)
and ``fractional_max_pool2d`` (Graham's pseudo-random window starts, drawn per plane).

Both list, for every output element, the flat input positions of its window in raster
order (a short window repeats its last position, which changes no pick), gather those
values and keep, per window, the first maximum or, where the window holds NaN, its last
NaN, as PyTorch's scan does.  The result is a ``gather`` at the picked positions, so
the gradient goes to them alone and the whole traces as ordinary ops.
"""

from __future__ import annotations

import itertools

import numpy as np

from ... import _tracing
from ..._arguments import tensor_arguments
from ...creation import rand
from ...dispatch import const
from ...dtypes import int64
from ...ops.shapes import fmt
from ...tensor import Tensor
from ...tensor_ops import pointwise as P
from ...tensor_ops import reduce as R
from ...tensor_ops.indexing import gather
from ...tensor_ops.legacy import NAMES
from ...tensor_ops.select import where

__all__ = ["adaptive_max_pool3d", "fractional_max_pool2d"]


def max_position(window: Tensor) -> Tensor:
    """The position a max-pool's scan keeps along the last dim: the last NaN if there is one,
    else the first greatest element."""
    nan = P.isnan(window).to(int64)
    last_nan = P.rsub(R.argmax(nan.flip(-1), -1, keepdim=True), window.shape[-1] - 1)
    return where(R.amax(nan, -1, keepdim=True) > 0, last_nan, R.argmax(window, -1, keepdim=True))


def _window_max(x: Tensor, windows: np.ndarray, out_shape: tuple) -> tuple[Tensor, Tensor]:
    """The maximum of each window of ``x`` (N, C, *spatial) and its flat position in the
    spatial volume; ``windows`` (N or 1, C or 1, cells, K) holds each window's positions."""
    n, c = x.shape[:2]
    flat = x.reshape(n, c, -1)
    cells, k = windows.shape[-2:]
    spread = const(np.broadcast_to(windows, (n, c, cells, k)).reshape(n, c, cells * k).copy(), int64)
    values = gather(flat, -1, spread).reshape(n, c, cells, k)
    pick = max_position(values)
    positions = gather(spread.reshape(n, c, cells, k), -1, pick).reshape(n, c, cells)
    return gather(flat, -1, positions).reshape(out_shape), positions.reshape(out_shape)


def _padded(windows: list[list[int]]) -> np.ndarray:
    """Windows of unequal lengths as one (cells, K) array, each padded with its last position."""
    k = max((len(w) for w in windows), default=1)
    return np.array([w + [w[-1]] * (k - len(w)) for w in windows], np.int64).reshape(len(windows), k)


def _adaptive_ranges(size: int, n: int) -> list[range]:
    return [range((i * size) // n, -(-((i + 1) * size) // n)) for i in range(n)]


@tensor_arguments
def adaptive_max_pool3d(input: Tensor, output_size, return_indices: bool = False):
    """The maximum over adaptive windows of (N, C, D, H, W) or (C, D, H, W) input, so the
    output's (D, H, W) is ``output_size`` (an int for a cube; None keeps a dim); with
    ``return_indices`` also each maximum's flat position in its (D, H, W) volume."""
    ndim = input._data.ndim
    sizes = tuple(output_size) if isinstance(output_size, (tuple, list)) else (output_size,) * 3
    if len(sizes) != 3:
        raise RuntimeError("adaptive_max_pool3d(): internal error: output_size.size() must be 3")
    if ndim not in (4, 5):
        raise RuntimeError(f"adaptive_max_pool3d(): Expected 4D or 5D tensor, but got: {fmt(input.shape)}")
    for d in range(ndim - 4, ndim):
        if input.shape[d] == 0:
            raise RuntimeError(
                "adaptive_max_pool3d(): Expected input to have non-zero size for non-batch dimensions, but "
                f"input has sizes {fmt(input.shape)} with dimension {d} being empty"
            )
    if not input.is_floating_point():
        raise NotImplementedError(f"\"adaptive_max_pool3d_cpu\" not implemented for '{NAMES[input.dtype]}'")
    x = input.unsqueeze(0) if ndim == 4 else input
    spatial = tuple(x.shape[2:])
    sizes = tuple(s if o is None else int(o) for o, s in zip(sizes, spatial))
    if any(o < 0 for o in sizes):
        shape = [*x.shape[:2], *sizes]
        raise RuntimeError(f"Trying to create tensor with negative dimension {min(sizes)}: {shape}")
    strides = (spatial[1] * spatial[2], spatial[2], 1)
    per_dim = [_adaptive_ranges(s, o) for s, o in zip(spatial, sizes)]
    windows = [
        [z * strides[0] + y * strides[1] + w for z in rz for y in ry for w in rw]
        for rz, ry, rw in itertools.product(*per_dim)
    ]
    values, indices = _window_max(x, _padded(windows)[None, None], (*x.shape[:2], *sizes))
    if ndim == 4:
        values, indices = values.squeeze(0), indices.squeeze(0)
    return (values, indices) if return_indices else values


def _intervals(sample: np.floating, size: int, out: int, pool: int) -> np.ndarray:
    """PyTorch's window starts along one dim for one plane, computed in the samples'
    dtype as its kernel does: ``int((i + u) a) - int(u a)`` with ``a = (size - pool) /
    (out - 1)``, the last window ending at the input's end."""
    f = type(sample)
    starts = np.empty(out, np.int64)
    if out > 1:
        alpha = f(size - pool) / f(out - 1)
        for i in range(out - 1):
            starts[i] = int((f(i) + sample) * alpha) - int(sample * alpha)
    if out > 0:
        starts[-1] = size - pool
    return starts


def _fractional_windows(samples: np.ndarray, h: int, w: int, out: tuple, pool: tuple) -> np.ndarray:
    """(N, C, oh*ow, kh*kw): each plane's windows from its two samples (width's first)."""
    n, c = samples.shape[:2]
    offsets = (np.arange(pool[0])[:, None] * w + np.arange(pool[1])[None, :]).reshape(-1)
    windows = np.empty((n, c, out[0] * out[1], pool[0] * pool[1]), np.int64)
    for b, p in itertools.product(range(n), range(c)):
        cols = _intervals(samples[b, p, 0], w, out[1], pool[1])
        rows = _intervals(samples[b, p, 1], h, out[0], pool[0])
        starts = (rows[:, None] * w + cols[None, :]).reshape(-1)
        windows[b, p] = starts[:, None] + offsets[None, :]
    return windows


def _check_fractional(input: Tensor, pool: tuple, out: tuple, samples: Tensor) -> None:
    ndim = input._data.ndim
    if ndim not in (3, 4):
        raise RuntimeError(f"fractional_max_pool2d(): Expected 3D or 4D tensor, but got: {fmt(input.shape)}")
    for d in range(1, ndim):
        if input.shape[d] == 0:
            raise RuntimeError(
                "fractional_max_pool2d(): Expected input to have non-zero size for non-batch dimensions, but "
                f"got{fmt(input.shape)} with dimension {d} being empty."
            )
    h, w = input.shape[-2:]
    if out[0] + pool[0] - 1 > h:
        raise RuntimeError(
            f"fractional_max_pool2d(): pool height {pool[0]} too large relative to input height {h}"
        )
    if out[1] + pool[1] - 1 > w:
        raise RuntimeError(
            f"fractional_max_pool2d(): pool width {pool[1]} too large relative to input width {w}"
        )
    if samples.dtype is not input.dtype:
        raise RuntimeError("Expect _random_samples to have the same dtype as input")
    if samples._data.ndim != 3:
        raise RuntimeError(f"Expect _random samples to have 3 dimensions got, {samples._data.ndim}")
    batch = input.shape[0] if ndim == 4 else 1
    if samples.shape[0] < batch:
        raise RuntimeError("Expect _random_samples.size(0) no less then input batch size.")
    if samples.shape[1] != input.shape[-3]:
        raise RuntimeError("Expect _random_samples.size(1) equals to input channel size.")
    if samples.shape[2] != 2:
        raise RuntimeError(f"Expect _random_samples.size(2) equals to 2; got {samples.shape[2]}.")


def _sizes(value, name: str) -> tuple:
    sizes = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    if len(sizes) != 2:
        raise RuntimeError(f"fractional_max_pool2d: {name} must either be a single Int or tuple of Ints")
    return tuple(int(s) for s in sizes)


@tensor_arguments
def fractional_max_pool2d(
    input: Tensor,
    kernel_size,
    output_size=None,
    output_ratio=None,
    return_indices: bool = False,
    _random_samples: Tensor | None = None,
):
    """Max pooling of (N, C, H, W) or (C, H, W) input over ``kernel_size`` windows whose
    starts step pseudo-randomly so the output is ``output_size`` (or ``output_ratio`` of
    the input, rounded down): each plane draws two samples in [0, 1) from irgrad's
    generator unless ``_random_samples`` (N, C, 2) gives them (width's, then height's)."""
    if output_size is None and output_ratio is None:
        raise ValueError("fractional_max_pool2d requires specifying either an output_size or an output_ratio")
    if output_size is None:
        if len(output_ratio) > 2:
            raise ValueError(
                "fractional_max_pool2d requires output_ratio to either be a single Int or tuple of Ints."
            )
        ratio = tuple(output_ratio)
        output_size = [int(input.size(-2) * ratio[0]), int(input.size(-1) * ratio[1])]
    if _random_samples is None:
        if not input.is_floating_point():
            raise NotImplementedError(f"\"check_uniform_bounds\" not implemented for '{NAMES[input.dtype]}'")
        batch = 1 if input.dim() == 3 else input.size(0)
        _random_samples = rand(batch, input.size(-3), 2, dtype=input.dtype)
    pool, out = _sizes(kernel_size, "kernel_size"), _sizes(output_size, "output_size")
    _check_fractional(input, pool, out, _random_samples)
    _tracing.untraceable("fractional_max_pool2d (its windows are placed by the random samples' values)")
    x = input.unsqueeze(0) if input._data.ndim == 3 else input
    h, w = x.shape[-2:]
    windows = _fractional_windows(_random_samples._data[: x.shape[0]], h, w, out, pool)
    values, indices = _window_max(x, windows, (*x.shape[:2], *out))
    if input._data.ndim == 3:
        values, indices = values.squeeze(0), indices.squeeze(0)
    return (values, indices) if return_indices else values
