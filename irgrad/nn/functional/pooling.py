"""Functional pooling, on the window ops of :mod:`.conv`'s ``"cols"`` layout.

* avg_pool2d views the columns as (N, C, kh*kw, oh*ow): each window element is a
  contiguous plane, so summing dim 2 is plane-wise vectorized and gives NCHW;
  adaptive_avg_pool2d averages one dim at a time (``resample.adaptive_average``).
* max_pool2d is the ``max_pool`` primitive (a composite of window ops costs several
  times as much); as in PyTorch its gradient goes to one position per window, the
  first maximum in raster order, even when values tie.
The 1-d forms view the input as an image of height 1.
"""

from __future__ import annotations

import math

import numpy as np

from ... import _tracing
from ..._arguments import tensor_arguments
from ...creation import zeros
from ...dispatch import apply, cast
from ...dtypes import int64
from ...ops import OPS
from ...ops.conv import out_size
from ...ops.shapes import fmt
from ...recording.grad_mode import no_grad
from ...tensor import Tensor
from ...tensor_ops import pointwise as P
from ...tensor_ops import reduce as R
from ...tensor_ops.indexing import gather
from ...tensor_ops.legacy import NAMES
from ...tensor_ops.split_join import cat, stack
from ._windows import as_batched_image, default_stride, im2col, pad2d, pair
from .resample import adaptive_average
from .window_max import adaptive_max_pool3d, max_position

__all__ = [
    "max_pool1d",
    "max_pool2d",
    "avg_pool1d",
    "avg_pool2d",
    "adaptive_avg_pool1d",
    "adaptive_avg_pool2d",
    "adaptive_max_pool1d",
    "adaptive_max_pool2d",
]


def _pool_geometry(x: Tensor, kernel_size, stride, padding, dilation, ceil_mode: bool, name: str):
    kernel = pair(kernel_size, name)
    stride = default_stride(stride, kernel, lambda s: pair(s, name))
    padding, dilation = pair(padding, name), pair(dilation, name)
    for p, k in zip(padding, kernel):
        if p > k // 2:
            raise RuntimeError(
                f"{name}: pad should be at most half of effective kernel size, but got pad={p}, kernel_size={k}"
            )
    h, w = x._data.shape[-2:]
    extra = []
    for size, k, s, p, d in zip((h, w), kernel, stride, padding, dilation):
        span = d * (k - 1) + 1
        if ceil_mode:
            out = -(-(size + 2 * p - span) // s) + 1
            if (out - 1) * s >= size + p:  # the last window must start inside the input or left padding
                out -= 1
        else:
            out = (size + 2 * p - span) // s + 1
        if out <= 0:
            raise RuntimeError(f"{name}: output size is too small for input of shape {fmt(x._data.shape)}")
        extra.append(max((out - 1) * s + span - (size + 2 * p), 0))
    pads = ((padding[0], padding[0] + extra[0]), (padding[1], padding[1] + extra[1]))
    return kernel, stride, dilation, pads


def _windows(x: Tensor, kernel, stride, dilation) -> tuple[Tensor, int, int]:
    """(N, C, kh*kw, oh, ow) windows of a padded image (one plane per window element),
    with the output size."""
    n, c, h, w = x._data.shape
    oh, ow = out_size(h, kernel[0], stride[0], dilation[0]), out_size(w, kernel[1], stride[1], dilation[1])
    cols = im2col(x, kernel, stride, dilation)
    return cols.reshape(n, c, kernel[0] * kernel[1], oh, ow), oh, ow


@tensor_arguments
def max_pool2d(
    input: Tensor,
    kernel_size,
    stride=None,
    padding=0,
    dilation=1,
    ceil_mode: bool = False,
    return_indices: bool = False,
):
    """Max over each window; the gradient goes to the window's first maximum (its last NaN)."""
    x, unbatched = as_batched_image(input, "max_pool2d")
    kernel, stride, dilation, pads = _pool_geometry(
        x, kernel_size, stride, padding, dilation, ceil_mode, "max_pool2d"
    )
    padded = pad2d(x, pads, value=-math.inf)
    attrs = {"kernel": kernel, "stride": stride, "dilation": dilation}
    out = apply(OPS["max_pool"], (padded,), attrs)
    border = _leading_pad_windows(x._data.shape[2:], out._data.shape[2:], kernel, stride, dilation, pads)
    if border is not None and _may_be_neg_inf(out, border):
        out = _first_inside_where_neg_inf(x, out, border)
    if not return_indices:
        return out.squeeze(0) if unbatched else out
    with no_grad():
        position = apply(OPS["max_pool_argmax"], (padded.detach(), out.detach()), attrs)
        indices = _flat_indices(position, kernel, stride, dilation, pads, x._data.shape[2:])
        if border is not None:
            first, at_border = _first_inside(out._data.shape[2:], border, x._data.shape[3])
            indices = P.where(P.logical_and(at_border, P.eq(out, -math.inf)), first, indices)
    if unbatched:
        return out.squeeze(0), indices.squeeze(0)
    return out, indices


def _leading_pad_windows(size, pooled, kernel, stride, dilation, pads):
    """The windows that start in the top or left padding, as (rows, cols) of the output
    and (rows, cols) of each one's first element inside the input (int64 arrays), or
    None when there is no top or left padding.

    The padding is ``-inf``, so a window that is ``-inf`` throughout would find its
    maximum in the padding before the input: PyTorch's kernel never looks at padding,
    so its maximum (index and gradient) is then the window's first element inside."""
    if not (pads[0][0] or pads[1][0]):
        return None
    firsts, leading = [], []
    for n, k, s, d, (before, _) in zip(pooled, kernel, stride, dilation, pads):
        start = np.arange(n) * s - before
        skip = np.maximum(-(start // d), 0)  # window steps in the padding: ceil(-start / d)
        firsts.append(start + skip * d)
        leading.append((skip > 0) & (skip < k))
    rows, cols = np.nonzero(leading[0][:, None] | leading[1][None, :])
    return rows, cols, firsts[0][rows], firsts[1][cols]


def _may_be_neg_inf(out: Tensor, border) -> bool:
    """Whether a window of ``border`` may be ``-inf`` throughout: while tracing, always
    (the graph must be right for every input); eagerly, whether one is (the fix below
    then costs nothing when none is: it doubled a padded pool's time)."""
    if _tracing.current() is not None:
        return True
    by, bx, _, _ = border
    return bool(np.isneginf(out._data[:, :, by, bx]).any())


def _first_inside(pooled: tuple[int, int], border, width: int) -> tuple[Tensor, Tensor]:
    """(the flat input position of each window's first element inside the input, at the
    windows of ``border``; where the windows of ``border`` are), over the pooled grid."""
    by, bx, fy, fx = border
    first, at_border = np.zeros(pooled, np.int64), np.zeros(pooled, bool)
    first[by, bx], at_border[by, bx] = fy * width + fx, True
    return Tensor._wrap(first), Tensor._wrap(at_border)


def _first_inside_where_neg_inf(x: Tensor, out: Tensor, border) -> Tensor:
    """``out`` with the gradient of each ``-inf`` window of ``border``
    (:func:`_leading_pad_windows`) also sent to its first element inside ``x``, where
    PyTorch puts it (the pool's own lands in the padding and is lost).

    The value is ``out``'s exactly: ``out - t``, where ``t`` is ``+inf`` at those windows
    (``-inf - inf`` is ``-inf``) and ``+0.`` elsewhere (which keeps a ``-0.``)."""
    by, bx, fy, fx = (Tensor._wrap(a.astype(np.int64)) for a in border)
    spec = (slice(None), slice(None), Ellipsis, Ellipsis)
    pooled = apply(OPS["index"], (out.detach(), by, bx), {"spec": spec})
    inside = apply(OPS["index"], (x, fy, fx), {"spec": spec})
    lost = P.where(P.eq(pooled, -math.inf), P.neg(inside), 0.0)
    t = apply(OPS["index_grad"], (lost, by, bx), {"shape": out._data.shape, "spec": spec})
    return P.sub(out, t)


def _flat_indices(position: Tensor, kernel, stride, dilation, pads, size) -> Tensor:
    """PyTorch's return_indices: the flat (h * W + w) input position of each maximum,
    from its position in its window (``max_pool_argmax``), computed by ops, so a
    compiled graph computes them too (numpy on the traced values made them constants)."""
    oh, ow = position._data.shape[-2:]
    best = cast(position, int64)
    ki, kj = P.floor_divide(best, kernel[1]), P.remainder(best, kernel[1])
    rows = Tensor._wrap(np.arange(oh, dtype=np.int64).reshape(-1, 1) * stride[0] - pads[0][0])
    cols = Tensor._wrap(np.arange(ow, dtype=np.int64).reshape(1, -1) * stride[1] - pads[1][0])
    rows, cols = P.add(rows, P.mul(ki, dilation[0])), P.add(cols, P.mul(kj, dilation[1]))
    return P.add(P.mul(rows, size[1]), cols)


@tensor_arguments
def avg_pool2d(
    input: Tensor,
    kernel_size,
    stride=None,
    padding=0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> Tensor:
    """Mean over each window (zero padding counted unless ``count_include_pad=False``)."""
    x, unbatched = as_batched_image(input, "avg_pool2d")
    n, c, h, w = x._data.shape
    kernel, stride, dilation, pads = _pool_geometry(
        x, kernel_size, stride, padding, 1, ceil_mode, "avg_pool2d"
    )
    windows, oh, ow = _windows(pad2d(x, pads), kernel, stride, dilation)
    total = R.sum(windows, dim=2)
    if divisor_override:
        out = P.div(total, divisor_override)
    else:
        out = P.div(
            total,
            Tensor._wrap(_pool_counts((h, w), kernel, stride, pads, count_include_pad).astype(x._data.dtype)),
        )
    return out.squeeze(0) if unbatched else out


def _pool_counts(size, kernel, stride, pads, count_include_pad: bool) -> np.ndarray:
    """How many positions each window averages: PyTorch counts the requested padding
    (when ``count_include_pad``) but never the extra right padding added by ceil_mode."""
    counts = []
    for length, k, s, (before, after) in zip(size, kernel, stride, pads):
        requested = min(before, after)  # symmetric padding the user asked for
        out = (length + before + after - k) // s + 1
        starts = np.arange(out) * s - before
        ends = starts + k
        if count_include_pad:
            lo, hi = np.maximum(starts, -requested), np.minimum(ends, length + requested)
        else:
            lo, hi = np.maximum(starts, 0), np.minimum(ends, length)
        counts.append(hi - lo)
    return np.outer(counts[0], counts[1])


@tensor_arguments
def adaptive_avg_pool2d(input: Tensor, output_size) -> Tensor:
    """Average over adaptive windows so the output is ``output_size`` (None keeps a dim)."""
    x, unbatched = as_batched_image(input, "adaptive_avg_pool2d")
    h, w = x._data.shape[-2:]
    oh, ow = output_size if isinstance(output_size, (tuple, list)) else (output_size, output_size)
    oh, ow = h if oh is None else int(oh), w if ow is None else int(ow)
    if (oh, ow) == (1, 1):
        out = R.mean(x, dim=(2, 3), keepdim=True)
    elif h % oh == 0 and w % ow == 0:
        n, c = x._data.shape[:2]
        out = R.mean(x.reshape(n, c, oh, h // oh, ow, w // ow), dim=(3, 5))
    else:
        out = adaptive_average(adaptive_average(x, 3, ow), 2, oh)
    out = out.contiguous()  # as PyTorch's, whatever the input's layout: a .view of it works
    return out.squeeze(0) if unbatched else out


@tensor_arguments
def adaptive_max_pool2d(input: Tensor, output_size, return_indices: bool = False):
    """Max over adaptive windows (each output cell pooled separately)."""
    x, unbatched = as_batched_image(input, "adaptive_max_pool2d")
    h, w = x._data.shape[-2:]
    oh, ow = output_size if isinstance(output_size, (tuple, list)) else (output_size, output_size)
    oh, ow = h if oh is None else int(oh), w if ow is None else int(ow)
    if return_indices:  # a volume of depth 1: its flat (d, h, w) positions are PyTorch's h * W + w
        values, indices = adaptive_max_pool3d(x.unsqueeze(2), (1, oh, ow), return_indices=True)
        values, indices = values.squeeze(2), indices.squeeze(2)
        return (values.squeeze(0), indices.squeeze(0)) if unbatched else (values, indices)

    rows = []
    for i in range(oh):
        r0, r1 = (i * h) // oh, -(-((i + 1) * h) // oh)
        cells = []
        for j in range(ow):
            c0, c1 = (j * w) // ow, -(-((j + 1) * w) // ow)
            window = x[:, :, r0:r1, c0:c1]
            n, c = window._data.shape[:2]
            cells.append(max_pool2d(window, (r1 - r0, c1 - c0)).reshape(n, c))
        rows.append(stack(cells, dim=-1))
    out = stack(rows, dim=-2)
    return out.squeeze(0) if unbatched else out


def _pool1d(fn, input: Tensor, kernel_size, stride, padding, **kw):
    unbatched = input._data.ndim == 2
    x = input.unsqueeze(0) if unbatched else input
    k = pair(kernel_size)[0]
    s = k if stride is None else pair(stride)[0]
    pad, span = pair(padding)[0], pair(kw.get("dilation", 1))[0] * (k - 1) + 1
    if x._data.ndim == 3 and x._data.shape[2] + 2 * pad < span:
        raise RuntimeError(
            f"{fn.__name__.replace('2d', '1d')}: kernel size {k} is larger than the (padded) input: "
            f"input of shape {fmt(input._data.shape)}, padding {pad}"
        )
    out = fn(x.unsqueeze(2), (1, k), (1, s), (0, pad), **kw)
    if isinstance(out, tuple):
        out = tuple(o.squeeze(2) for o in out)
        return tuple(o.squeeze(0) for o in out) if unbatched else out
    out = out.squeeze(2)
    return out.squeeze(0) if unbatched else out


@tensor_arguments
def max_pool1d(
    input: Tensor,
    kernel_size,
    stride=None,
    padding=0,
    dilation=1,
    ceil_mode: bool = False,
    return_indices: bool = False,
):
    return _pool1d(
        max_pool2d,
        input,
        kernel_size,
        stride,
        padding,
        dilation=(1, pair(dilation)[0]),
        ceil_mode=ceil_mode,
        return_indices=return_indices,
    )


@tensor_arguments
def avg_pool1d(
    input: Tensor,
    kernel_size,
    stride=None,
    padding=0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
) -> Tensor:
    return _pool1d(
        avg_pool2d,
        input,
        kernel_size,
        stride,
        padding,
        ceil_mode=ceil_mode,
        count_include_pad=count_include_pad,
    )


@tensor_arguments
def adaptive_avg_pool1d(input: Tensor, output_size) -> Tensor:
    unbatched = input._data.ndim == 2
    x = input.unsqueeze(0) if unbatched else input
    size = output_size[0] if isinstance(output_size, (tuple, list)) else output_size
    out = adaptive_avg_pool2d(x.unsqueeze(2), (1, size)).squeeze(2)
    return out.squeeze(0) if unbatched else out


@tensor_arguments
def adaptive_max_pool1d(input: Tensor, output_size, return_indices: bool = False):
    """The maximum of each of ``output_size`` windows spanning the last dim (window ``i``
    is ``[floor(i L / n), ceil((i + 1) L / n))``), of a (N, C, L) or (C, L) input; the
    gradient goes to the one position each window picked (its first maximum, or its last
    NaN: PyTorch's scan replaces the pick at every NaN), as PyTorch's."""
    if input._data.ndim not in (2, 3):
        raise RuntimeError(
            f"Expected 2 to 3 dimensions, but got {input._data.ndim}-dimensional tensor for argument #1 "
            "'self' (while checking arguments for adaptive_max_pool1d)"
        )
    if any(size == 0 for size in input.shape[1:]):
        empty = next(d for d in range(1, input._data.ndim) if input.shape[d] == 0)
        raise RuntimeError(
            "adaptive_max_pool1d(): Expected input to have non-zero size for non-batch dimensions, but "
            f"input has sizes {fmt(input.shape)} with dimension {empty} being empty"
        )
    if not input.is_floating_point():
        raise NotImplementedError(f"\"adaptive_max_pool2d\" not implemented for '{NAMES[input.dtype]}'")
    n = output_size[0] if isinstance(output_size, (tuple, list)) else output_size
    length = input.shape[-1]
    picks = []
    for i in range(int(n)):
        start, stop = (i * length) // n, -(-((i + 1) * length) // n)
        picks.append(P.add(max_position(input.narrow(-1, start, stop - start)), start))
    indices = cat(picks, -1) if picks else zeros(*input.shape[:-1], 0, dtype=int64)
    values = gather(input, -1, indices)
    return (values, indices) if return_indices else values
