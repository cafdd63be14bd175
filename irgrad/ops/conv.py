"""Window primitives for convolution and pooling: ``im2col`` and its adjoint ``col2im``.

``im2col`` gathers every kernel window of an (N, C, H, W) image.  The ``layout``
attribute says how the windows are laid out (window elements are always ordered
C, kh, kw, like a flattened conv weight):

* ``"rows"``: (N, oh*ow, C*kh*kw), one window per row;
* ``"cols"``: (N, C*kh*kw, oh*ow), one window per column (PyTorch's ``unfold``).
  Convolution is then a batched matmul ``weight (O, C*kh*kw) @ cols`` whose result
  is already the NCHW output, its gradients are two more batched matmuls, and
  viewed as (N, C, kh*kw, oh*ow) each window element is a contiguous plane, so
  pooling reduces dim 2 with plane-wise vectorized ops.

``col2im`` scatter-adds windows back into an image; it is im2col's gradient (and
conv_transpose's forward), and im2col is its gradient.  Padding is a separate
``pad`` op, so these take no padding.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .registry import Kind, Meta, OpDef, register
from .shapes import fmt

LAYOUTS = ("rows", "cols")


def out_size(size: int, kernel: int, stride: int, dilation: int) -> int:
    """Number of window positions along one axis (no padding)."""
    return (size - dilation * (kernel - 1) - 1) // stride + 1


def _planes(shape, kernel, stride, dilation):
    """(window offset (i, j), image index of that offset's (oh, ow) plane) for every offset."""
    h, w = shape[2:]
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    oh, ow = out_size(h, kh, sh, dh), out_size(w, kw, sw, dw)
    for i in range(kh):
        for j in range(kw):
            rows = slice(i * dh, i * dh + sh * (oh - 1) + 1, sh)
            cols = slice(j * dw, j * dw + sw * (ow - 1) + 1, sw)
            yield (i, j), (slice(None), slice(None), rows, cols)


def _tiles(shape, kernel, stride, dilation) -> bool:
    """Whether the windows tile the image exactly: kernel == stride, no dilation, no remainder."""
    return (
        tuple(kernel) == tuple(stride)
        and tuple(dilation) == (1, 1)
        and shape[2] % kernel[0] == 0
        and shape[3] % kernel[1] == 0
    )


def _collides(kernel: int, stride: int, dilation: int, positions: int) -> bool:
    """Whether two windows along one axis share a pixel: offsets t*dilation apart
    (0 < t < kernel) land on the same pixel when that gap is a multiple of the stride
    no larger than the span of window starts.  Without collisions col2im assigns
    instead of accumulating."""
    gaps = (t * dilation for t in range(1, kernel))
    return any(gap % stride == 0 and gap // stride < positions for gap in gaps)


def _check_fits(shape, kernel, stride, dilation) -> None:
    h, w = shape[2:]
    if out_size(h, kernel[0], stride[0], dilation[0]) <= 0 or out_size(w, kernel[1], stride[1], dilation[1]) <= 0:
        raise RuntimeError(
            f"im2col: kernel size {tuple(kernel)} (dilation {tuple(dilation)}) is larger than the "
            f"(padded) input size {(h, w)} of input shape {fmt(shape)}"
        )


def _im2col(x, *, kernel, stride, dilation, layout="rows"):
    _check_fits(x.shape, kernel, stride, dilation)
    n, c, h, w = x.shape
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    oh, ow = out_size(h, kh, sh, dh), out_size(w, kw, sw, dw)
    if layout == "rows":
        span = ((kh - 1) * dh + 1, (kw - 1) * dw + 1)
        win = sliding_window_view(x, span, axis=(2, 3))[:, :, ::sh, ::sw, ::dh, ::dw]
        patches = np.ascontiguousarray(win.transpose(0, 2, 3, 1, 4, 5))
        return patches.reshape(n, oh * ow, c * kh * kw)
    if _tiles(x.shape, kernel, stride, dilation):
        # Tiling windows: one permuting copy of the image.
        blocks = x.reshape(n, c, oh, kh, ow, kw).transpose(0, 1, 3, 5, 2, 4)
        return np.ascontiguousarray(blocks).reshape(n, c * kh * kw, oh * ow)
    out = np.empty((n, c, kh, kw, oh, ow), dtype=x.dtype)
    for (i, j), index in _planes(x.shape, kernel, stride, dilation):
        out[:, :, i, j] = x[index]
    return out.reshape(n, c * kh * kw, oh * ow)


def _columns_shape(shape, kernel, stride, dilation, layout) -> tuple:
    n, c, h, w = shape
    positions = out_size(h, kernel[0], stride[0], dilation[0]) * out_size(w, kernel[1], stride[1], dilation[1])
    elements = c * kernel[0] * kernel[1]
    return (n, positions, elements) if layout == "rows" else (n, elements, positions)


def _check_layout(name: str, layout) -> None:
    if layout not in LAYOUTS:
        raise ValueError(f"{name}: layout must be one of {LAYOUTS}, got {layout!r}")


def _infer_im2col(x: Meta, *, kernel, stride, dilation, layout="rows") -> Meta:
    _check_layout("im2col", layout)
    if len(x.shape) != 4:
        raise RuntimeError(f"im2col: expected a 4-D (N, C, H, W) input, got shape {fmt(x.shape)}")
    _check_fits(x.shape, kernel, stride, dilation)
    return Meta(_columns_shape(x.shape, kernel, stride, dilation, layout), x.dtype)


def _col2im(patches, *, shape, kernel, stride, dilation, layout="rows"):
    n, c, h, w = shape
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    oh, ow = out_size(h, kh, sh, dh), out_size(w, kw, sw, dw)
    if layout == "rows":
        planes = patches.reshape(n, oh, ow, c, kh, kw).transpose(0, 3, 4, 5, 1, 2)
    else:
        planes = patches.reshape(n, c, kh, kw, oh, ow)
    if _collides(kh, sh, dh, oh):
        return _accumulate_rows_first(planes, shape, kernel, stride, dilation)
    # Without overlap along the rows, each pixel receives at most kw plane elements.
    overlap = _collides(kw, sw, dw, ow)
    tiles = _tiles(shape, kernel, stride, dilation)
    out = np.empty(shape, dtype=patches.dtype) if tiles else np.zeros(shape, dtype=patches.dtype)
    for (i, j), index in _planes(shape, kernel, stride, dilation):
        if overlap:
            out[index] += planes[:, :, i, j]
        else:
            out[index] = planes[:, :, i, j]
    return out


def _accumulate_rows_first(planes, shape, kernel, stride, dilation):
    """col2im for windows that overlap along the rows, from (N, C, kh, kw, oh, ow) planes.

    Adding every plane at its (row, column) offset costs kh*kw strided adds with
    inner loops of only ``ow`` elements.  Instead, for each kernel column j, the kh
    planes are summed at their row offsets into an (N, C, H, ow) strip (with stride 1
    each is one contiguous block per image and channel), and then the kw strips are
    added at their column offsets.
    """
    n, c, h, w = shape
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    oh, ow = planes.shape[-2:]
    out = np.zeros(shape, dtype=planes.dtype)
    strip = np.empty((n, c, h, ow), dtype=planes.dtype)
    for j in range(kw):
        strip.fill(0)
        for i in range(kh):
            strip[:, :, i * dh : i * dh + sh * (oh - 1) + 1 : sh] += planes[:, :, i, j]
        out[:, :, :, j * dw : j * dw + sw * (ow - 1) + 1 : sw] += strip
    return out


def _infer_col2im(cols: Meta, *, shape, kernel, stride, dilation, layout="rows") -> Meta:
    _check_layout("col2im", layout)
    expected = _columns_shape(shape, kernel, stride, dilation, layout)
    if tuple(cols.shape) != expected:
        raise RuntimeError(
            f"col2im: expected {layout} of shape {fmt(expected)} for image {fmt(shape)}, got {fmt(cols.shape)}"
        )
    return Meta(tuple(shape), cols.dtype)


def _window_attrs(c) -> dict:
    return {k: c.attrs[k] for k in ("kernel", "stride", "dilation", "layout") if k in c.attrs}


register(
    OpDef(
        "im2col",
        Kind.CONV,
        _im2col,
        _infer_im2col,
        lambda F, g, c: (F.col2im(g, shape=c.metas[0].shape, **_window_attrs(c)),),
        doc="Every (kernel, stride, dilation) window of an (N,C,H,W) image: (N, oh*ow, C*kh*kw) "
        "rows, or (N, C*kh*kw, oh*ow) cols with layout='cols'.",
    )
)
register(
    OpDef(
        "col2im",
        Kind.CONV,
        _col2im,
        _infer_col2im,
        lambda F, g, c: (F.im2col(g, **_window_attrs(c)),),
        doc="Scatter-add windows (im2col's `layout`) back into an image of `shape` (the adjoint of im2col).",
    )
)
