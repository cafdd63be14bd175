"""Functional convolutions, built on the ``im2col``/``col2im`` window ops.

All of them use im2col's ``"cols"`` layout, (N, C*kh*kw, oh*ow):

* conv2d: pad, im2col, one batched matmul ``weight (O, C*kh*kw) @ cols`` whose
  (N, O, oh*ow) result already is the contiguous NCHW output; both gradients are
  batched matmuls too (the input's then goes through col2im).
* conv_transpose2d: matmul with the transposed weight, col2im, crop: conv2d's
  input-gradient run forwards.
* unfold and fold are im2col and col2im themselves.
The 1-d forms view the input as an image of height 1.  Pooling is in :mod:`.pooling`.
"""

from __future__ import annotations

from ..._arguments import tensor_arguments
from ...ops.conv import out_size
from ...ops.shapes import fmt
from ...tensor import Tensor
from ...tensor_ops import pointwise as P
from ...tensor_ops.linalg import matmul
from ...tensor_ops.padding import pad as _pad
from ._windows import as_batched_image, check_input, col2im, im2col, pad2d, pair

__all__ = [
    "conv1d",
    "conv2d",
    "conv_transpose1d",
    "conv_transpose2d",
    "unfold",
    "fold",
]


def _padding(padding, kernel, stride, dilation, name: str) -> tuple[tuple[int, int], tuple[int, int]]:
    """(top, bottom), (left, right) padding; ``'same'`` pads asymmetrically like PyTorch."""
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0), (0, 0)
        if padding != "same":
            raise ValueError(
                f"{name}: invalid padding string {padding!r}, should be one of {{'valid', 'same'}}"
            )
        if stride != (1, 1):
            raise RuntimeError(f"{name}: padding='same' is not supported for strided convolutions")
        pads = []
        for k, d in zip(kernel, dilation):
            total = d * (k - 1)
            pads.append((total // 2, total - total // 2))
        return pads[0], pads[1]
    ph, pw = pair(padding, name)
    return (ph, ph), (pw, pw)


def _check_channels(name: str, input: Tensor, weight: Tensor, groups: int) -> None:
    """The weight's (out, in/groups, ...) channels must fit the input's and the groups."""
    c = input._data.shape[1]
    o, cg = weight._data.shape[:2]
    if o % groups:
        raise RuntimeError(
            f"{name}: out_channels ({o}) of weight {fmt(weight._data.shape)} must be divisible by groups ({groups})"
        )
    if c != cg * groups:
        raise RuntimeError(
            f"{name}: Given groups={groups}, weight of size {fmt(weight._data.shape)}, expected input"
            f"{fmt(input._data.shape)} to have {cg * groups} channels, but got {c} channels instead"
        )


def check_transposed_channels(name: str, input: Tensor, weight: Tensor, groups: int) -> None:
    """A transposed convolution's weight (C_in, C_out/groups, ...) must fit the input's channels."""
    c, ci = input._data.shape[1], weight._data.shape[0]
    if c != ci or c % groups:
        raise RuntimeError(
            f"{name}: Given transposed=1, weight of size {fmt(weight._data.shape)}, expected "
            f"input{fmt(input._data.shape)} to have {ci} channels, but got {c} channels instead"
        )


@tensor_arguments
def conv2d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride=1,
    padding=0,
    dilation=1,
    groups: int = 1,
) -> Tensor:
    """2-D convolution (cross-correlation) of (N, C, H, W) input with (O, C/groups, kh, kw) weight."""
    unbatched = input._data.ndim == 3
    if unbatched:
        input = input.unsqueeze(0)
    check_input("conv2d", input, 4)
    n, c, h, w = input._data.shape
    o, cg, kh, kw = weight._data.shape
    stride, dilation = pair(stride, "conv2d"), pair(dilation, "conv2d")
    _check_channels("conv2d", input, weight, groups)
    x = pad2d(input, _padding(padding, (kh, kw), stride, dilation, "conv2d"))
    ph, pw = x._data.shape[2:]
    oh, ow = out_size(ph, kh, stride[0], dilation[0]), out_size(pw, kw, stride[1], dilation[1])
    cols = im2col(x, (kh, kw), stride, dilation)  # (N, C*kh*kw, L)
    if groups == 1:
        out = matmul(weight.reshape(o, c * kh * kw), cols)  # (N, O, L): one GEMM per image
    else:
        per_group = cols.reshape(n, groups, cg * kh * kw, oh * ow)
        out = matmul(weight.reshape(groups, o // groups, cg * kh * kw), per_group)  # (N, G, O/G, L)
    out = out.reshape(n, o, oh, ow)
    if bias is not None:
        out = P.add(out, bias.reshape(o, 1, 1))
    return out.squeeze(0) if unbatched else out


@tensor_arguments
def conv1d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride=1,
    padding=0,
    dilation=1,
    groups: int = 1,
) -> Tensor:
    """1-D convolution of (N, C, L) input with (O, C/groups, k) weight."""
    unbatched = input._data.ndim == 2
    if unbatched:
        input = input.unsqueeze(0)
    check_input("conv1d", input, 3)
    _check_conv1d(input, weight, padding, dilation, groups)
    if isinstance(padding, str):
        pad2 = padding
    else:
        pad2 = (0, pair(padding)[0])
    out = conv2d(
        input.unsqueeze(2),
        weight.unsqueeze(2),
        bias,
        stride=(1, pair(stride)[0]),
        padding=pad2,
        dilation=(1, pair(dilation)[0]),
        groups=groups,
    ).squeeze(2)
    return out.squeeze(0) if unbatched else out


def _check_conv1d(input: Tensor, weight: Tensor, padding, dilation, groups: int) -> None:
    """conv1d's own errors, with the shapes the caller passed (conv2d would report the
    height-1 images it is run on)."""
    length = input._data.shape[2]
    if weight._data.ndim != 3:
        raise RuntimeError(
            f"conv1d: expected a 3-D weight (out, in/groups, k), got shape {fmt(weight._data.shape)}"
        )
    k = weight._data.shape[2]
    _check_channels("conv1d", input, weight, groups)
    pad = 0 if isinstance(padding, str) else 2 * pair(padding)[0]
    span = pair(dilation)[0] * (k - 1) + 1
    if padding != "same" and length + pad < span:
        raise RuntimeError(
            f"conv1d: Calculated padded input size per channel: ({length + pad}). Kernel size: ({span}). "
            f"Kernel size can't be greater than actual input size (input {fmt(input._data.shape)})"
        )


@tensor_arguments
def conv_transpose2d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride=1,
    padding=0,
    output_padding=0,
    groups: int = 1,
    dilation=1,
) -> Tensor:
    """Transposed convolution: weight (C_in, C_out/groups, kh, kw), the adjoint of conv2d."""
    unbatched = input._data.ndim == 3
    if unbatched:
        input = input.unsqueeze(0)
    check_input("conv_transpose2d", input, 4)
    check_transposed_channels("conv_transpose2d", input, weight, groups)
    n, c, h, w = input._data.shape
    ci, og, kh, kw = weight._data.shape
    stride, dilation = pair(stride), pair(dilation)
    (ph, pw), (oph, opw) = pair(padding), pair(output_padding)
    full_h = (h - 1) * stride[0] + dilation[0] * (kh - 1) + 1 + oph
    full_w = (w - 1) * stride[1] + dilation[1] * (kw - 1) + 1 + opw
    o = og * groups
    images = input.reshape(n, groups, c // groups, h * w)
    w_t = weight.reshape(groups, c // groups, og * kh * kw).transpose(1, 2)  # (G, O/G*kh*kw, C/G)
    cols = matmul(w_t, images).reshape(n, o * kh * kw, h * w)
    image = col2im(cols, (n, o, full_h - oph, full_w - opw), (kh, kw), stride, dilation)
    if oph or opw:
        image = _pad(image, (0, opw, 0, oph))
    out = image[:, :, ph : full_h - ph, pw : full_w - pw]
    if bias is not None:
        out = P.add(out, bias.reshape(1, o, 1, 1))
    elif ph or pw:  # a new contiguous tensor, as PyTorch's (a view of the crop refused .view())
        out = out.contiguous()
    return out.squeeze(0) if unbatched else out


@tensor_arguments
def conv_transpose1d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride=1,
    padding=0,
    output_padding=0,
    groups: int = 1,
    dilation=1,
) -> Tensor:
    unbatched = input._data.ndim == 2
    if unbatched:
        input = input.unsqueeze(0)
    out = conv_transpose2d(
        input.unsqueeze(2),
        weight.unsqueeze(2),
        bias,
        stride=(1, pair(stride)[0]),
        padding=(0, pair(padding)[0]),
        output_padding=(0, pair(output_padding)[0]),
        groups=groups,
        dilation=(1, pair(dilation)[0]),
    ).squeeze(2)
    return out.squeeze(0) if unbatched else out


@tensor_arguments
def unfold(input: Tensor, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """Sliding local blocks as columns, (N, C*kh*kw, L) (``nn.functional.unfold``); an
    unbatched (C, H, W) input gives (C*kh*kw, L)."""
    x, unbatched = as_batched_image(input, "unfold")
    kernel = pair(kernel_size)
    pads = _padding(padding, kernel, pair(stride), pair(dilation), "unfold")
    cols = im2col(pad2d(x, pads), kernel, pair(stride), pair(dilation))
    return cols.squeeze(0) if unbatched else cols


@tensor_arguments
def fold(input: Tensor, output_size, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """Sum columns back into an image (``nn.functional.fold``), the adjoint of unfold; an
    unbatched (C*kh*kw, L) input gives (C, H, W)."""
    if input._data.ndim == 2:
        return fold(input.unsqueeze(0), output_size, kernel_size, dilation, padding, stride).squeeze(0)
    if input._data.ndim != 3:
        raise RuntimeError(
            f"fold: Expected 2D (unbatched) or 3D (batched) input, but got input of size: {fmt(input._data.shape)}"
        )
    n, ckk, _ = input._data.shape
    kernel, stride, dilation = pair(kernel_size), pair(stride), pair(dilation)
    ph, pw = pair(padding)
    oh, ow = pair(output_size)
    c = ckk // (kernel[0] * kernel[1])
    shape = (n, c, oh + 2 * ph, ow + 2 * pw)
    image = col2im(input, shape, kernel, stride, dilation)
    return image[:, :, ph : ph + oh, pw : pw + ow]
