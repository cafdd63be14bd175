"""3-D convolutions (``conv3d``, ``conv_transpose3d``), as a sum over the kernel's depth of
2-D convolutions of depth slices.

For each depth tap ``k`` the input's depth planes that tap reads (every ``stride``-th
from ``k * dilation``) become a batch of images for :func:`.conv.conv2d` with the
weight's slice at ``k``; the taps' results add up to the output.  The transposed form
runs :func:`.conv.conv_transpose2d` on every input plane per tap and adds each tap's
planes into the output depths it reaches (``z * stride + k * dilation``).  Gradients
come through the 2-D ones, and compiled code lowers the 2-D convolutions natively.
"""

from __future__ import annotations

from ..._arguments import tensor_arguments
from ...creation import arange, zeros
from ...ops.conv import out_size
from ...ops.shapes import fmt
from ...tensor import Tensor
from ...tensor_ops import pointwise as P
from ...tensor_ops.padding import pad as _pad
from ._windows import check_input
from .conv import _check_channels, check_transposed_channels, conv2d, conv_transpose2d

__all__ = ["conv3d", "conv_transpose3d"]


def _triple(v, name: str) -> tuple[int, int, int]:
    if isinstance(v, (tuple, list)):
        if len(v) == 1:
            return (int(v[0]),) * 3
        if len(v) != 3:
            raise ValueError(f"{name}: expected an int or a triple, got {v!r}")
        return tuple(int(x) for x in v)
    return (int(v),) * 3


def _pads(padding, kernel, stride, dilation) -> list[tuple[int, int]]:
    """(before, after) per spatial dim; ``'same'`` pads asymmetrically like PyTorch."""
    if isinstance(padding, str):
        if padding == "valid":
            return [(0, 0)] * 3
        if padding != "same":
            raise ValueError(
                f"conv3d: invalid padding string {padding!r}, should be one of {{'valid', 'same'}}"
            )
        if stride != (1, 1, 1):
            raise RuntimeError("conv3d: padding='same' is not supported for strided convolutions")
        return [(d * (k - 1) // 2, d * (k - 1) - d * (k - 1) // 2) for k, d in zip(kernel, dilation)]
    return [(p, p) for p in _triple(padding, "conv3d")]


@tensor_arguments
def conv3d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride=1,
    padding=0,
    dilation=1,
    groups: int = 1,
) -> Tensor:
    """3-D convolution (cross-correlation) of (N, C, D, H, W) input with (O, C/groups, kd, kh, kw) weight."""
    unbatched = input._data.ndim == 4
    if unbatched:
        input = input.unsqueeze(0)
    check_input("conv3d", input, 5)
    if weight._data.ndim != 5:
        raise RuntimeError(
            f"conv3d: expected a 5-D weight (out, in/groups, kd, kh, kw), got {fmt(weight._data.shape)}"
        )
    _check_channels("conv3d", input, weight, groups)
    stride, dilation = _triple(stride, "conv3d"), _triple(dilation, "conv3d")
    kernel = tuple(weight._data.shape[2:])
    pads = _pads(padding, kernel, stride, dilation)
    padded = tuple(s + a + b for s, (a, b) in zip(input._data.shape[2:], pads))
    spans = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))
    if any(p < s for p, s in zip(padded, spans)):
        raise RuntimeError(
            f"conv3d: Calculated padded input size per channel: ({'x'.join(map(str, padded))}). Kernel size: "
            f"({'x'.join(map(str, spans))}). Kernel size can't be greater than actual input size"
        )
    if any(a or b for a, b in pads):
        input = _pad(input, (pads[2][0], pads[2][1], pads[1][0], pads[1][1], pads[0][0], pads[0][1]))
    n, c = input._data.shape[:2]
    depth = out_size(padded[0], kernel[0], stride[0], dilation[0])
    out = None
    for k in range(kernel[0]):
        first = k * dilation[0]
        planes = input[:, :, first : first + stride[0] * (depth - 1) + 1 : stride[0]]
        images = planes.transpose(1, 2).reshape(n * depth, c, padded[1], padded[2])
        tap = conv2d(images, weight[:, :, k], None, stride[1:], 0, dilation[1:], groups)
        out = tap if out is None else P.add(out, tap)
    o, (oh, ow) = weight._data.shape[0], out._data.shape[2:]
    out = out.reshape(n, depth, o, oh, ow).transpose(1, 2).contiguous()  # (NCDHW, as PyTorch's)
    if bias is not None:
        out = P.add(out, bias.reshape(o, 1, 1, 1))
    return out.squeeze(0) if unbatched else out


@tensor_arguments
def conv_transpose3d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride=1,
    padding=0,
    output_padding=0,
    groups: int = 1,
    dilation=1,
) -> Tensor:
    """Transposed 3-D convolution: weight (C_in, C_out/groups, kd, kh, kw), the adjoint of conv3d."""
    unbatched = input._data.ndim == 4
    if unbatched:
        input = input.unsqueeze(0)
    check_input("conv_transpose3d", input, 5)
    check_transposed_channels("conv_transpose3d", input, weight, groups)
    n, c, d, h, w = input._data.shape
    og, kd = weight._data.shape[1:3]
    stride, dilation = _triple(stride, "conv_transpose3d"), _triple(dilation, "conv_transpose3d")
    padding, output_padding = (
        _triple(padding, "conv_transpose3d"),
        _triple(output_padding, "conv_transpose3d"),
    )
    full = (d - 1) * stride[0] + dilation[0] * (kd - 1) + 1 + output_padding[0]
    images = input.transpose(1, 2).reshape(n * d, c, h, w)
    o = og * groups
    out = None
    for k in range(kd):
        tap = conv_transpose2d(
            images, weight[:, :, k], None, stride[1:], padding[1:], output_padding[1:], groups, dilation[1:]
        )
        oh, ow = tap._data.shape[2:]
        if out is None:
            out = zeros((n, o, full, oh, ow), dtype=tap.dtype)
        first = k * dilation[0]
        placed = tap.reshape(n, d, o, oh, ow).transpose(1, 2)
        out = out.index_add(2, arange(first, first + stride[0] * d, stride[0]), placed)
    out = out[:, :, padding[0] : full - padding[0]].contiguous()
    if bias is not None:
        out = P.add(out, bias.reshape(o, 1, 1, 1))
    return out.squeeze(0) if unbatched else out
