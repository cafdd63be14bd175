"""Image summaries: an image (or a batch, laid out in a grid) in any layout named by
``dataformats``, brought to height x width x channels and 8 bits with the rules of
PyTorch's ``add_image``, then encoded as PNG; and matplotlib figures rendered to
images for ``add_figure``."""

from __future__ import annotations

from typing import Any

import numpy as np

from . import messages as M
from .png import encode_png
from .summaries import make_np


def make_grid(images: np.ndarray, ncols: int = 8) -> np.ndarray:
    """A ``(N, C, H, W)`` batch of 1- or 3-channel images (grey repeated to RGB) as one
    ``(3, rows * H, ncols * W)`` image, row by row, unfilled cells black."""
    if images.shape[1] == 1:
        images = np.concatenate([images] * 3, 1)
    if images.ndim != 4 or images.shape[1] != 3:
        raise AssertionError("Input should be a 4D numpy array with 3 channels")
    count, _, height, width = images.shape
    ncols = min(count, ncols)
    nrows = -(-count // ncols)
    canvas = np.zeros((3, height * nrows, width * ncols), dtype=images.dtype)
    for i, image in enumerate(images):
        row, col = divmod(i, ncols)
        canvas[:, row * height : (row + 1) * height, col * width : (col + 1) * width] = image
    return canvas


def convert_to_hwc(array: np.ndarray, dataformats: str) -> np.ndarray:
    """``array``, laid out as ``dataformats`` says (letters N, C, H, W, in any order and
    case), as ``(H, W, C)``: a batch in a grid, 1 channel or none repeated to RGB."""
    if len(set(dataformats)) != len(dataformats):
        raise AssertionError(
            f"You can not use the same dimension shorthand twice. input_format: {dataformats}"
        )
    if array.ndim != len(dataformats):
        raise AssertionError(
            f"size of input tensor and input format are different. tensor shape: {array.shape}, "
            f"input_format: {dataformats}"
        )
    dataformats = dataformats.upper()
    if len(dataformats) == 4:
        grid = make_grid(array.transpose([dataformats.find(c) for c in "NCHW"]))
        return grid.transpose(1, 2, 0)
    if len(dataformats) == 3:
        hwc = array.transpose([dataformats.find(c) for c in "HWC"])
        return np.concatenate([hwc] * 3, 2) if hwc.shape[2] == 1 else hwc
    hw = array.transpose([dataformats.find(c) for c in "HW"])
    return np.stack([hw] * 3, 2)


def image(tag: str, img: Any, dataformats: str) -> bytes:
    """An image summary: ``uint8`` data taken as 0..255, any other dtype as 0..1 (scaled
    by 255), clipped and truncated to 8 bits, and PNG-encoded."""
    hwc = convert_to_hwc(make_np(img), dataformats)
    scale = 1 if hwc.dtype == np.uint8 else 255
    pixels = (hwc.astype(np.float32) * scale).clip(0, 255).astype(np.uint8)
    height, width, channels = pixels.shape
    proto = M.image(height, width, channels, encode_png(pixels))
    return M.summary(M.summary_value(tag, image=proto))


def figure_to_image(figures: Any, close: bool = True) -> np.ndarray:
    """A matplotlib figure rendered (by matplotlib's Agg canvas) as a ``(3, H, W)``
    ``uint8`` image, or a list of them as ``(N, 3, H, W)``; closed after if ``close``.

    matplotlib is imported here only: the caller, who made the figures, has it."""
    import matplotlib.pyplot as plt
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    def render(figure: Any) -> np.ndarray:
        canvas = FigureCanvasAgg(figure)
        canvas.draw()
        rgb = np.asarray(canvas.buffer_rgba())[:, :, :3]
        if close:
            plt.close(figure)
        return np.moveaxis(rgb, 2, 0)

    if isinstance(figures, list):
        return np.stack([render(figure) for figure in figures])
    return render(figures)
