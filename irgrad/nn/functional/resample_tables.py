"""Index and weight tables of ``F.interpolate``: which input elements each output element reads.

A table depends only on sizes, the scale and ``align_corners``, never on the data, so
``interpolate`` applies it as constants through gather-style tensor ops (the gradient
and the compiler's trace come from those ops).  The arithmetic follows PyTorch's CPU
kernels where rounding decides an index or a weight:

* the scale is ``1 / scale_factor`` when a factor was given (and not recomputed),
  else ``in / out`` (``(in - 1) / (out - 1)`` with ``align_corners``), in the kernel's
  math type: float32, or float64 for float64 data;
* nearest reads ``floor(float32(dst * scale))``, nearest-exact
  ``floor(float32((dst + 0.5) * scale))``, clamped to the last element (and 2-d
  nearest copies outright for an output of the input's size or twice it);
* linear and cubic find a real source position (half-pixel centres
  ``scale * (dst + 0.5) - 0.5``, computed in double then rounded; clamped at 0 for
  linear, not for cubic), its floor (clamped to the last element) and the fraction
  past it (clamped to [0, 1]); equal sizes copy.
"""

from __future__ import annotations

import numpy as np

__all__ = ["math_dtype", "nearest_indices", "linear_taps", "cubic_taps", "cubic_coefficients", "area_windows"]

Taps = list[tuple[np.ndarray, np.ndarray]]  # (indices, weights) per tap, summed in order

_CUBIC_A = -0.75  # PyTorch's (and OpenCV's) cubic convolution constant


def math_dtype(dtype: np.dtype) -> np.dtype:
    """The type PyTorch's kernels compute positions and weights in for data of ``dtype``."""
    return np.dtype(np.float64) if dtype == np.float64 else np.dtype(np.float32)


def _scale(in_size: int, out_size: int, align_corners: bool, scale_factor: float | None, dt: np.dtype):
    if align_corners:
        return dt.type(in_size - 1) / dt.type(out_size - 1) if out_size > 1 else dt.type(0)
    if scale_factor is not None and scale_factor > 0:
        return dt.type(1.0 / scale_factor)
    return dt.type(in_size) / dt.type(out_size)


def nearest_indices(
    in_size: int, out_size: int, scale_factor: float | None, exact: bool, size_shortcuts: bool = False
) -> np.ndarray:
    """The input element each of ``out_size`` outputs copies ('nearest' or 'nearest-exact').

    ``size_shortcuts``: an output of the input's size copies it and one of twice its size
    reads ``dst // 2``, whatever the scale factor (PyTorch's 2-d 'nearest' kernel does so,
    its 1-d and 3-d kernels do not).
    """
    dst = np.arange(out_size)
    if size_shortcuts and out_size in (in_size, 2 * in_size):
        return dst if out_size == in_size else dst // 2
    scale = _scale(in_size, out_size, False, scale_factor, np.dtype(np.float32))
    if exact:
        position = ((dst + 0.5) * np.float64(scale)).astype(np.float32)
    else:
        position = dst.astype(np.float32) * scale
    return np.minimum(np.floor(position).astype(np.int64), in_size - 1)


def _source_positions(
    in_size: int, out_size: int, align_corners: bool, scale_factor: float | None, dt: np.dtype, cubic: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Each output's source element (floor of its real position) and the fraction past it."""
    scale = _scale(in_size, out_size, align_corners, scale_factor, dt)
    dst = np.arange(out_size)
    if align_corners:
        real = scale * dst.astype(dt)
    else:
        real = (np.float64(scale) * (dst + 0.5) - 0.5).astype(dt)
        if not cubic:
            real = np.maximum(real, dt.type(0))
    first = np.minimum(np.floor(real.astype(np.float32)).astype(np.int64), in_size - 1)
    fraction = np.clip(real - first.astype(dt), 0, 1).astype(dt)
    return first, fraction


def linear_taps(
    in_size: int, out_size: int, align_corners: bool, scale_factor: float | None, dt: np.dtype
) -> Taps:
    """Two taps per output: the element at or before its position and the next one."""
    if in_size == out_size:
        same = np.arange(out_size)
        return [(same, np.ones(out_size, dt)), (same, np.zeros(out_size, dt))]
    first, fraction = _source_positions(in_size, out_size, align_corners, scale_factor, dt, cubic=False)
    second = first + (first < in_size - 1)
    return [(first, (dt.type(1) - fraction).astype(dt)), (second, fraction)]


def cubic_coefficients(t):
    """The four cubic-convolution weights (A = -0.75) of the taps at -1, 0, 1, 2 from a
    position ``t`` in [0, 1) past tap 0; ``t`` is a numpy array or a Tensor (the weights
    of ``grid_sample``'s bicubic mode are differentiated through this)."""
    a = _CUBIC_A

    def near(x):  # |x| <= 1
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x):  # 1 < |x| < 2
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

    rest = 1 - t
    return [far(t + 1), near(t), near(rest), far(rest + 1)]


def cubic_taps(
    in_size: int, out_size: int, align_corners: bool, scale_factor: float | None, dt: np.dtype
) -> Taps:
    """Four taps per output at -1..2 around its source element, indices clamped to the input."""
    first, fraction = _source_positions(in_size, out_size, align_corners, scale_factor, dt, cubic=True)
    weights = cubic_coefficients(fraction)
    return [(np.clip(first + (k - 1), 0, in_size - 1), weights[k].astype(dt)) for k in range(4)]


def area_windows(in_size: int, out_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Adaptive average pooling's windows ``[floor(i*in/out), ceil((i+1)*in/out))``: (starts, ends)."""
    i = np.arange(out_size)
    return (i * in_size) // out_size, -(-((i + 1) * in_size) // out_size)
