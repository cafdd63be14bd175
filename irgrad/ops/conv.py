"""Window primitives for convolution and pooling: ``im2col`` and its adjoint ``col2im``.

``im2col`` gathers every kernel window of an (N, C, H, W) image into one row,
giving patches of shape (N, oh*ow, C*kh*kw) (window elements ordered C, kh, kw,
like a flattened conv weight).  Convolution is then one 2-D matmul with the
flattened weight, and pooling a reduction along the contiguous last axis.
``col2im`` scatter-adds patches back into an image; it is im2col's gradient (and
conv_transpose's forward), and im2col is its gradient.  Padding is a separate
``pad`` op, so these take no padding.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .registry import Kind, Meta, OpDef, register
from .shapes import fmt


def out_size(size: int, kernel: int, stride: int, dilation: int) -> int:
    """Number of window positions along one axis (no padding)."""
    return (size - dilation * (kernel - 1) - 1) // stride + 1


def _windows(x: np.ndarray, kernel, stride, dilation) -> np.ndarray:
    """A (N, C, oh, ow, kh, kw) strided view of every window of x (no copy)."""
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    span = ((kh - 1) * dh + 1, (kw - 1) * dw + 1)
    view = sliding_window_view(x, span, axis=(2, 3))
    return view[:, :, ::sh, ::sw, ::dh, ::dw]


def _im2col(x, *, kernel, stride, dilation):
    n, c = x.shape[:2]
    win = _windows(x, kernel, stride, dilation)  # (N, C, oh, ow, kh, kw)
    oh, ow = win.shape[2:4]
    patches = np.ascontiguousarray(win.transpose(0, 2, 3, 1, 4, 5))
    return patches.reshape(n, oh * ow, c * kernel[0] * kernel[1])


def _infer_im2col(x: Meta, *, kernel, stride, dilation) -> Meta:
    if len(x.shape) != 4:
        raise RuntimeError(f"im2col: expected a 4-D (N, C, H, W) input, got shape {fmt(x.shape)}")
    n, c, h, w = x.shape
    oh = out_size(h, kernel[0], stride[0], dilation[0])
    ow = out_size(w, kernel[1], stride[1], dilation[1])
    if oh <= 0 or ow <= 0:
        raise RuntimeError(
            f"im2col: kernel size {tuple(kernel)} (dilation {tuple(dilation)}) is larger than the "
            f"(padded) input size {(h, w)} of input shape {fmt(x.shape)}"
        )
    return Meta((n, oh * ow, c * kernel[0] * kernel[1]), x.dtype)


def _col2im(patches, *, shape, kernel, stride, dilation):
    n, c, h, w = shape
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    oh, ow = out_size(h, kh, sh, dh), out_size(w, kw, sw, dw)
    blocks = patches.reshape(n, oh, ow, c, kh, kw)
    if (sh, sw) == (kh, kw) and (dh, dw) == (1, 1):
        # Non-overlapping windows: im2col was a permutation, so undo it with one copy.
        image = blocks.transpose(0, 3, 1, 4, 2, 5).reshape(n, c, oh * kh, ow * kw)
        if image.shape[2:] == (h, w):
            return np.ascontiguousarray(image)
        out = np.zeros(shape, dtype=patches.dtype)
        out[:, :, : oh * kh, : ow * kw] = image
        return out
    out = np.zeros(shape, dtype=patches.dtype)
    planes = blocks.transpose(0, 3, 4, 5, 1, 2)  # (N, C, kh, kw, oh, ow)
    for i in range(kh):
        for j in range(kw):
            top, left = i * dh, j * dw
            out[:, :, top : top + sh * (oh - 1) + 1 : sh, left : left + sw * (ow - 1) + 1 : sw] += planes[:, :, i, j]
    return out


def _infer_col2im(cols: Meta, *, shape, kernel, stride, dilation) -> Meta:
    n, c, h, w = shape
    positions = out_size(h, kernel[0], stride[0], dilation[0]) * out_size(w, kernel[1], stride[1], dilation[1])
    expected = (n, positions, c * kernel[0] * kernel[1])
    if tuple(cols.shape) != expected:
        raise RuntimeError(f"col2im: expected columns of shape {fmt(expected)} for image {fmt(shape)}, got {fmt(cols.shape)}")
    return Meta(tuple(shape), cols.dtype)


def _window_attrs(c) -> dict:
    return {k: c.attrs[k] for k in ("kernel", "stride", "dilation")}


register(
    OpDef(
        "im2col",
        Kind.CONV,
        _im2col,
        _infer_im2col,
        lambda F, g, c: (F.col2im(g, shape=c.metas[0].shape, **_window_attrs(c)),),
        doc="Every (kernel, stride, dilation) window of an (N,C,H,W) image as a row: (N, oh*ow, C*kh*kw).",
    )
)
register(
    OpDef(
        "col2im",
        Kind.CONV,
        _col2im,
        _infer_col2im,
        lambda F, g, c: (F.im2col(g, **_window_attrs(c)),),
        doc="Scatter-add columns back into an image of `shape` (the adjoint of im2col).",
    )
)
