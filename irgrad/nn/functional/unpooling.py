"""Power-average pooling (``lp_pool1d``/``lp_pool2d``) and max unpooling
(``max_unpool1d``/``max_unpool2d``), as PyTorch's.

``lp_pool`` is PyTorch's formula on the average pool: ``(sum over the window of
x**p) ** (1/p)``, so an odd ``p`` over a window whose powers sum below zero gives NaN as
PyTorch's does.  ``max_unpool`` scatters each pooled value to the flat position
``max_pool(..., return_indices=True)`` recorded in its plane of the output, zeros
elsewhere; the positions are checked by the ``assert_range`` op (compiled code too).
"""

from __future__ import annotations

import math

from ..._arguments import tensor_arguments
from ...creation import zeros
from ...tensor import Tensor
from ...tensor_ops.indexing import check_range
from ._windows import pair
from .activation import relu
from .pooling import avg_pool1d, avg_pool2d

__all__ = ["lp_pool1d", "lp_pool2d", "max_unpool1d", "max_unpool2d"]


def _root_of_sum(mean: Tensor, area: int, norm_type: float) -> Tensor:
    return (mean.sign() * relu(mean.abs())).mul(area).pow(1.0 / norm_type)


@tensor_arguments
def lp_pool2d(input: Tensor, norm_type: float, kernel_size, stride=None, ceil_mode: bool = False) -> Tensor:
    """``(sum over each kh x kw window of x**p) ** (1/p)``."""
    kh, kw = pair(kernel_size)
    mean = avg_pool2d(input.pow(norm_type), kernel_size, stride, 0, ceil_mode)
    return _root_of_sum(mean, kh * kw, norm_type)


@tensor_arguments
def lp_pool1d(input: Tensor, norm_type: float, kernel_size, stride=None, ceil_mode: bool = False) -> Tensor:
    """``(sum over each window of x**p) ** (1/p)``."""
    k = kernel_size[0] if isinstance(kernel_size, (tuple, list)) else kernel_size
    mean = avg_pool1d(input.pow(norm_type), kernel_size, stride, 0, ceil_mode)
    return _root_of_sum(mean, int(k), norm_type)


def _unpooled_size(input: Tensor, kernel, stride, padding, output_size, dims: int) -> tuple[int, ...]:
    """The output's spatial size: max_pool's inverse, or ``output_size`` when it is one of
    the sizes that pool to the input's (its last ``dims`` entries)."""
    default = tuple(
        (input.shape[-dims + d] - 1) * stride[d] - 2 * padding[d] + kernel[d] for d in range(dims)
    )
    if output_size is None:
        return default
    size = tuple(int(s) for s in output_size)
    if len(size) == dims + 2:
        size = size[2:]
    elif len(size) == dims + 1 and input.dim() == dims + 1:
        size = size[1:]
    if len(size) != dims:
        raise ValueError(
            f"output_size should be a sequence containing {dims} or {dims + 2} elements, but it has a length of "
            f"'{len(output_size)}'"
        )
    for d in range(dims):
        low, high = default[d] - stride[d], default[d] + stride[d]
        if not low < size[d] < high:
            raise ValueError(f'invalid output_size "{size}" (dim {d} must be between {low} and {high})')
    return size


def _max_unpool(input: Tensor, indices: Tensor, kernel, stride, padding, output_size, dims: int) -> Tensor:
    stride = kernel if stride is None else stride
    size = _unpooled_size(input, kernel, stride, padding, output_size, dims)
    if indices.shape != input.shape:
        raise RuntimeError(
            f"Expected shape of indices to be same as that of the input tensor ({list(input.shape)}) but got "
            f"indices tensor with shape: {list(indices.shape)}"
        )
    batch = input.shape[:-dims]
    plane = math.prod(size)
    shown = "x".join(map(str, size))
    flat_indices = check_range(
        indices.reshape(*batch, -1),
        0,
        plane,
        "RuntimeError",
        f"Found an invalid max index: {{value}} (output volumes are of size {shown})",
    )
    out = zeros((*batch, plane), dtype=input.dtype)
    return out.scatter(-1, flat_indices, input.reshape(*batch, -1)).reshape(*batch, *size)


@tensor_arguments
def max_unpool2d(
    input: Tensor, indices: Tensor, kernel_size, stride=None, padding=0, output_size=None
) -> Tensor:
    """The partial inverse of ``max_pool2d``: each value at its recorded position, zeros elsewhere."""
    stride = None if stride is None else pair(stride)
    return _max_unpool(input, indices, pair(kernel_size), stride, pair(padding), output_size, 2)


def _single(v) -> tuple[int]:
    return (int(v[0]),) if isinstance(v, (tuple, list)) else (int(v),)


@tensor_arguments
def max_unpool1d(
    input: Tensor, indices: Tensor, kernel_size, stride=None, padding=0, output_size=None
) -> Tensor:
    """The partial inverse of ``max_pool1d``: each value at its recorded position, zeros elsewhere."""
    stride = None if stride is None else _single(stride)
    return _max_unpool(input, indices, _single(kernel_size), stride, _single(padding), output_size, 1)
