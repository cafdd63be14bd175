"""``unfold``: the windows of ``size`` elements ``step`` apart along one dim, as a new
last dim (PyTorch's ``Tensor.unfold``), a view: the windows' dim has the input's stride
times ``step`` and the new last dim the input's stride, so windows closer than their
size share memory.  Its gradient ``unfold_grad`` adds each window back where it was read
(overlapping windows add up; natively, a zero fill and a strided add: codegen/movement.py).
"""

from __future__ import annotations

import numpy as np

from .registry import Kind, Meta, OpDef, register
from .shapes import fmt


def windows(length: int, size: int, step: int) -> int:
    """How many windows of ``size`` elements ``step`` apart fit in ``length``."""
    return (length - size) // step + 1


def unfold_shape(shape: tuple[int, ...], dim: int, size: int, step: int) -> tuple[int, ...]:
    """``shape`` with ``dim`` replaced by the number of windows, and ``size`` appended."""
    if not 0 <= dim < len(shape):
        raise RuntimeError(f"unfold: dim {dim} is not a dim of shape {fmt(shape)}")
    if size < 0 or size > shape[dim]:
        raise RuntimeError(f"maximum size for tensor at dimension {dim} is {shape[dim]} but size is {size}")
    if step <= 0:
        raise RuntimeError(f"step is {step} but must be > 0")
    return shape[:dim] + (windows(shape[dim], size, step),) + shape[dim + 1 :] + (size,)


def _unfold_layout(x_shape, x_strides, *, dim, size, step) -> tuple[int, tuple[int, ...]]:
    strides = tuple(x_strides)
    return 0, strides[:dim] + (strides[dim] * step,) + strides[dim + 1 :] + (strides[dim],)


def _unfold_kernel(x: np.ndarray, *, dim: int, size: int, step: int) -> np.ndarray:
    shape = unfold_shape(x.shape, dim, size, step)
    _, strides = _unfold_layout(x.shape, x.strides, dim=dim, size=size, step=step)
    overlapping = step < size and shape[dim] > 1
    # overlapping windows are read-only: a write through them raises PyTorch's
    # internal-overlap error, except a fill (tensor_ops/writes.py), never a silent race
    return np.lib.stride_tricks.as_strided(x, shape, strides, writeable=x.flags.writeable and not overlapping)


def _unfold_grad_kernel(g: np.ndarray, *, shape, dim: int, size: int, step: int) -> np.ndarray:
    out = np.zeros(shape, dtype=g.dtype)
    count = g.shape[dim]
    windows_last = np.moveaxis(g, -1, dim + 1)  # (..., window, element, ...)
    for k in range(size):
        target = [slice(None)] * len(shape)
        target[dim] = slice(k, k + step * (count - 1) + 1, step)
        out[tuple(target)] += np.take(windows_last, k, axis=dim + 1)
    return out


def _infer_unfold_grad(g: Meta, *, shape, dim, size, step) -> Meta:
    if tuple(g.shape) != unfold_shape(tuple(shape), dim, size, step):
        raise RuntimeError(
            f"unfold_grad: gradient of shape {fmt(g.shape)} is not unfold({dim}, {size}, {step}) of "
            f"shape {fmt(shape)}"
        )
    return Meta(tuple(shape), g.dtype)


register(
    OpDef(
        "unfold",
        Kind.MOVEMENT,
        _unfold_kernel,
        lambda x, *, dim, size, step: Meta(unfold_shape(tuple(x.shape), dim, size, step), x.dtype),
        lambda F, g, c: (F.unfold_grad(g, shape=c.metas[0].shape, **c.attrs),),
        view=_unfold_layout,
        doc="The windows of `size` elements `step` apart along `dim` (a view): `dim` becomes the "
        "windows' dim, and a last dim of `size` is appended.",
    )
)
register(
    OpDef(
        "unfold_grad",
        Kind.MOVEMENT,
        _unfold_grad_kernel,
        _infer_unfold_grad,
        lambda F, g, c: (F.unfold(g, **{k: v for k, v in c.attrs.items() if k != "shape"}),),
        linear=True,
        doc="Zeros of `shape` with each window of g added back where unfold read it: the gradient of unfold.",
    )
)
