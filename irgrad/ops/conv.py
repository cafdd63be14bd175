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
conv_transpose's forward), and im2col is its gradient.

Max pooling has its own three ops, because as a composite over im2col windows it
costs about ten full passes over the windows, forward and back:

* ``max_pool``: each window's maximum (NaN wins), a running ``maximum`` over the
  kh*kw strided planes of the image;
* ``max_pool_argmax``: where in its window (0 .. kh*kw-1, raster order) each maximum
  is, given the image and the pooled output: the first element equal to the
  maximum, or the last NaN, as PyTorch's CPU kernel picks;
* ``max_pool_scatter``: the gradient placed at those positions of a zero image
  (summed where windows overlap); its adjoint gathers each window's element back.

Padding is a separate ``pad`` op (``-inf`` for max pooling), so none of these take
padding.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..dtypes import int8, int16, int64
from ..native import window as native
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
    if (
        out_size(h, kernel[0], stride[0], dilation[0]) <= 0
        or out_size(w, kernel[1], stride[1], dilation[1]) <= 0
    ):
        raise RuntimeError(
            f"im2col: kernel size {tuple(kernel)} (dilation {tuple(dilation)}) is larger than the "
            f"(padded) input size {(h, w)} of input shape {fmt(shape)}"
        )


def _im2col(x, *, kernel, stride, dilation, layout="rows"):
    _check_fits(x.shape, kernel, stride, dilation)
    n, c, h, w = x.shape
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    oh, ow = out_size(h, kh, sh, dh), out_size(w, kw, sw, dw)
    if layout == "cols":
        cols = native.im2col(x, (oh, ow), kernel, stride, dilation)
        if cols is not None:
            return cols
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
    positions = out_size(h, kernel[0], stride[0], dilation[0]) * out_size(
        w, kernel[1], stride[1], dilation[1]
    )
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
    if layout == "cols":
        image = native.col2im(patches, tuple(shape), (oh, ow), kernel, stride, dilation)
        if image is not None:
            return image
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


# --- max pooling -----------------------------------------------------------------------


def window_index_dtype(window_size: int):
    """The smallest integer dtype that holds a position within a window."""
    return int8 if window_size <= 2**7 else int16 if window_size <= 2**15 else int64


def _pooled_shape(shape, kernel, stride, dilation) -> tuple:
    n, c, h, w = shape
    return (
        n,
        c,
        out_size(h, kernel[0], stride[0], dilation[0]),
        out_size(w, kernel[1], stride[1], dilation[1]),
    )


def _max_pool(x, *, kernel, stride, dilation):
    _check_fits(x.shape, kernel, stride, dilation)
    pooled = _pooled_shape(x.shape, kernel, stride, dilation)[2:]
    found = native.max_pool(x, pooled, kernel, stride, dilation, window_index_dtype(kernel[0] * kernel[1]).np)
    if found is not None:
        return found[0]
    planes = [index for _, index in _planes(x.shape, kernel, stride, dilation)]
    if len(planes) == 1:
        return x[planes[0]].copy()
    out = np.maximum(x[planes[0]], x[planes[1]])  # maximum propagates NaN, as max pooling does
    for index in planes[2:]:
        np.maximum(out, x[index], out=out)
    return out


def _infer_max_pool(x: Meta, *, kernel, stride, dilation) -> Meta:
    if len(x.shape) != 4:
        raise RuntimeError(f"max_pool: expected a 4-D (N, C, H, W) input, got shape {fmt(x.shape)}")
    _check_fits(x.shape, kernel, stride, dilation)
    return Meta(_pooled_shape(x.shape, kernel, stride, dilation), x.dtype)


def _pool_attrs(c) -> dict:
    return {k: c.attrs[k] for k in ("kernel", "stride", "dilation")}


def _max_pool_vjp(F, g, c):
    attrs = _pool_attrs(c)
    positions = F.max_pool_argmax(c.ins[0], c.out, **attrs)
    return (F.max_pool_scatter(g, positions, shape=c.metas[0].shape, **attrs),)


def _max_pool_argmax(x, out, *, kernel, stride, dilation):
    index_dtype = window_index_dtype(kernel[0] * kernel[1]).np
    found = native.max_pool(x, out.shape[2:], kernel, stride, dilation, index_dtype)
    if found is not None:  # the same rule, applied while finding the maxima again
        return found[1]
    planes = [index for _, index in _planes(x.shape, kernel, stride, dilation)]
    positions = np.full(out.shape, len(planes) - 1, dtype=index_dtype)

    def take(k, hit):  # positions := k where hit, in integer arithmetic (masked numpy ops are slow)
        positions[...] -= hit.view(np.int8) * (positions - k)

    # Walk the planes backwards so the first element equal to the maximum wins; a
    # window whose maximum no earlier plane matches has it in the last plane.
    for k in range(len(planes) - 2, -1, -1):
        take(k, x[planes[k]] == out)
    if np.isnan(out).any():  # NaN == NaN is false: the last NaN of a window wins
        for k, index in enumerate(planes):
            take(k, np.isnan(x[index]))
    return positions


def _infer_max_pool_argmax(x: Meta, out: Meta, *, kernel, stride, dilation) -> Meta:
    expected = _infer_max_pool(x, kernel=kernel, stride=stride, dilation=dilation)
    if tuple(out.shape) != expected.shape:
        raise RuntimeError(
            f"max_pool_argmax: pooled output of shape {fmt(out.shape)} does not match image "
            f"{fmt(x.shape)} pooled to {fmt(expected.shape)}"
        )
    return Meta(expected.shape, window_index_dtype(kernel[0] * kernel[1]))


def _max_pool_scatter(g, positions, *, shape, kernel, stride, dilation):
    image = native.max_pool_scatter(g, positions, tuple(shape), kernel, stride, dilation)
    if image is not None:
        return image
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    overlap = _collides(kh, sh, dh, g.shape[2]) or _collides(kw, sw, dw, g.shape[3])
    tiles = _tiles(shape, kernel, stride, dilation)  # every pixel is written exactly once
    out = np.empty(shape, dtype=g.dtype) if tiles else np.zeros(shape, dtype=g.dtype)
    # g * hit is several times faster than a masked copy, but turns an inf or NaN
    # gradient into NaN where it does not belong: such gradients take np.where.
    exact = not np.isfinite(g).all()
    for k, (_, index) in enumerate(_planes(shape, kernel, stride, dilation)):
        hit = positions == k
        if not (exact or overlap):
            np.multiply(g, hit, out=out[index])
            continue
        placed = np.where(hit, g, 0) if exact else g * hit
        if overlap:
            out[index] += placed
        else:
            out[index] = placed
    return out


def _infer_max_pool_scatter(g: Meta, positions: Meta, *, shape, kernel, stride, dilation) -> Meta:
    _check_fits(shape, kernel, stride, dilation)
    expected = _pooled_shape(shape, kernel, stride, dilation)
    if tuple(g.shape) != expected or tuple(positions.shape) != expected:
        raise RuntimeError(
            f"max_pool_scatter: gradient {fmt(g.shape)} and positions {fmt(positions.shape)} must both "
            f"have the pooled shape {fmt(expected)} of image {fmt(shape)}"
        )
    return Meta(tuple(shape), g.dtype)


def _max_pool_scatter_vjp(F, g, c):
    """Each window's element at the saved position: the windows as (N, C, kh*kw, L)
    columns, gathered along the window dim."""
    n, c_, oh, ow = c.metas[0].shape
    kernel = c.attrs["kernel"]
    cols = F.im2col(g, **_pool_attrs(c), layout="cols")
    cols = F.reshape(cols, shape=(n, c_, kernel[0] * kernel[1], oh * ow))
    positions = F.reshape(F.cast(c.ins[1], dtype=int64), shape=(n, c_, 1, oh * ow))
    picked = F.gather(cols, positions, dim=2)
    return F.reshape(picked, shape=(n, c_, oh, ow)), None


register(
    OpDef(
        "max_pool",
        Kind.CONV,
        _max_pool,
        _infer_max_pool,
        _max_pool_vjp,
        save_inputs=True,
        save_output=True,
        doc="The maximum of every (kernel, stride, dilation) window of an (N,C,H,W) image (NaN wins).",
    )
)
register(
    OpDef(
        "max_pool_argmax",
        Kind.CONV,
        _max_pool_argmax,
        _infer_max_pool_argmax,
        arity=2,
        doc="Where in its window (raster order) each `max_pool` output lies: the first element "
        "equal to it, or the window's last NaN.",
    )
)
register(
    OpDef(
        "max_pool_scatter",
        Kind.CONV,
        _max_pool_scatter,
        _infer_max_pool_scatter,
        _max_pool_scatter_vjp,
        save_inputs=(1,),
        arity=2,
        index_bounds=lambda metas, attrs: {1: int(np.prod(attrs["kernel"]))},
        doc="A zero image of `shape` with each pooled gradient added at its window's "
        "`max_pool_argmax` position (max_pool's gradient).",
    )
)
