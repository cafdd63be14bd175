"""Functional layers: linear, bilinear, pixel shuffles, embedding, normalisations, similarity.

All are composites of irgrad tensor ops, so autograd (and the tracer) handle them
without extra rules.
"""

from __future__ import annotations

import math

import numpy as np

from ... import _tracing
from ..._arguments import tensor_arguments
from ...dispatch import apply, cast
from ...dtypes import FLOAT, int64
from ...ops import OPS
from ...recording.grad_mode import no_grad
from ...tensor import Tensor
from .differentiability import reject_grad

_LINEAR = OPS["linear"]
_EMBEDDING = OPS["embedding"]

__all__ = [
    "linear",
    "bilinear",
    "pixel_shuffle",
    "pixel_unshuffle",
    "embedding",
    "layer_norm",
    "batch_norm",
    "group_norm",
    "instance_norm",
    "rms_norm",
    "normalize",
    "cosine_similarity",
    "pairwise_distance",
]


@tensor_arguments
def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``input @ weight.T + bias`` (weight has shape (out, in)).

    The common case (input of rank >= 2, a 2-D weight, an (out,) bias, one dtype) is
    the ``linear`` primitive; anything else (and every error) takes the composite
    matmul + add, which has PyTorch's promotion, broadcasting and messages.
    """
    w = weight._data
    x = input._data
    if w.ndim == 2 and x.ndim >= 2 and x.shape[-1] == w.shape[1] and x.dtype is w.dtype:
        if bias is None:
            return apply(_LINEAR, (input, weight))
        b = bias._data
        if b.dtype is x.dtype and b.shape == w.shape[:1]:
            return apply(_LINEAR, (input, weight, bias))
    out = input.matmul(weight.T) if weight.ndim == 2 else input.matmul(weight)
    return out if bias is None else out + bias


@tensor_arguments
def bilinear(input1: Tensor, input2: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``y_k = x1 @ W[k] @ x2 + b_k`` with weight (out, in1, in2) over any leading dims."""
    out_f, in1, in2 = weight.shape
    if input1.shape[-1] != in1 or input2.shape[-1] != in2:
        raise RuntimeError(
            f"bilinear(): input sizes {list(input1.shape)} and {list(input2.shape)} do not match "
            f"weight of shape {list(weight.shape)}"
        )
    lead = tuple(input1.shape[:-1])
    x1 = input1.reshape(-1, in1)
    x2 = input2.reshape(-1, in2)
    # (B, in1) @ (in1, out*in2) -> (B, out, in2), then contract in2 with x2
    mixed = x1.matmul(weight.permute(1, 0, 2).reshape(in1, out_f * in2)).reshape(-1, out_f, in2)
    out = (mixed * x2.unsqueeze(1)).sum(-1)
    if bias is not None:
        out = out + bias
    return out.reshape(*lead, out_f)


@tensor_arguments
def pixel_shuffle(input: Tensor, upscale_factor: int) -> Tensor:
    """(*, C*r*r, H, W) -> (*, C, H*r, W*r): sub-pixel convolution's rearrangement."""
    r = int(upscale_factor)
    if input.ndim < 3 or r <= 0 or input.shape[-3] % (r * r):
        raise RuntimeError(
            f"pixel_shuffle expects its input's 'channel' dimension to be divisible by the square of "
            f"upscale_factor, but input.size(-3)={input.shape[-3] if input.ndim >= 3 else None} is not "
            f"divisible by {r * r} (input of shape {list(input.shape)})"
        )
    *batch, c, h, w = input.shape
    n = len(batch)
    x = input.reshape(*batch, c // (r * r), r, r, h, w)
    x = x.permute(*range(n), n, n + 3, n + 1, n + 4, n + 2)
    return x.reshape(*batch, c // (r * r), h * r, w * r)


@tensor_arguments
def pixel_unshuffle(input: Tensor, downscale_factor: int) -> Tensor:
    """(*, C, H*r, W*r) -> (*, C*r*r, H, W): pixel_shuffle's inverse."""
    r = int(downscale_factor)
    if input.ndim < 3 or r <= 0 or input.shape[-2] % r or input.shape[-1] % r:
        raise RuntimeError(
            f"pixel_unshuffle expects height and width to be divisible by downscale_factor={r} "
            f"(input of shape {list(input.shape)})"
        )
    *batch, c, h, w = input.shape
    n = len(batch)
    x = input.reshape(*batch, c, h // r, r, w // r, r)
    x = x.permute(*range(n), n, n + 2, n + 4, n + 1, n + 3)
    return x.reshape(*batch, c * r * r, h // r, w // r)


@tensor_arguments
def embedding(
    input: Tensor,
    weight: Tensor,
    padding_idx: int | None = None,
    max_norm: float | None = None,
    norm_type: float = 2.0,
    scale_grad_by_freq: bool = False,
    sparse: bool = False,
) -> Tensor:
    """Rows of ``weight`` picked by integer ``input``; rows at ``padding_idx`` get no gradient.

    The ``embedding`` primitive checks the ids (as PyTorch: ``index out of range in
    self``) in its kernel, so compiled code checks them too.  ``max_norm`` (renormalising
    rows in place) and ``scale_grad_by_freq`` depend on which ids occur: a compiled
    function that uses them runs eagerly.
    """
    if input.dtype.category == FLOAT:
        raise RuntimeError(
            "Expected tensor for argument #1 'indices' to have one of the following scalar types: "
            f"Long, Int; but got {input.dtype} instead (while checking arguments for embedding)"
        )
    if weight.dim() != 2:
        raise RuntimeError(f"embedding: 'weight' must be 2-D, got shape {list(weight.shape)}")
    num = weight.shape[0]
    if padding_idx is not None:
        if not -num <= padding_idx < num:
            raise AssertionError("Padding_idx must be within num_embeddings")
        padding_idx %= num
    if max_norm is not None:
        _tracing.untraceable("embedding(max_norm=...) (renormalises the rows its ids pick)")
        _embedding_renorm(weight, input._data, max_norm, norm_type)
    ids = cast(input, int64)
    out = apply(_EMBEDDING, (weight, ids), {"padding_idx": padding_idx})
    if scale_grad_by_freq and weight.requires_grad:
        _tracing.untraceable("embedding(scale_grad_by_freq=True) (counts the ids of the batch)")
        idx = input._data
        # same values, gradient of each position divided by how often its id occurs in the batch
        _, inverse, counts = np.unique(idx, return_inverse=True, return_counts=True)
        scale = Tensor._wrap((1.0 / counts[inverse.reshape(idx.shape)])[..., None].astype(weight._data.dtype))
        out = out * scale + out.detach() * (1 - scale)
    return out


def _embedding_renorm(weight: Tensor, idx: np.ndarray, max_norm: float, norm_type: float) -> None:
    """Rescale (in place) the rows used by ``idx`` whose norm exceeds ``max_norm``, as torch."""
    rows = np.unique(idx)
    data = weight._data
    norms = np.linalg.norm(data[rows], ord=norm_type, axis=1)
    big = norms > max_norm
    if big.any():
        scale = max_norm / (norms[big] + 1e-7)
        data[rows[big]] *= scale[:, None].astype(data.dtype)
        weight._bump_version()


def _normalized_dims(name: str, input: Tensor, normalized_shape) -> tuple[int, ...]:
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    n = len(shape)
    if n == 0 or tuple(input.shape[input.ndim - n :]) != shape or input.ndim < n:
        raise RuntimeError(
            f"Given normalized_shape={list(shape)}, expected input with shape [*, "
            f"{', '.join(str(s) for s in shape)}], but got input of size{list(input.shape)}"
        )
    return tuple(range(input.ndim - n, input.ndim))


def _check_affine(normalized_shape, **params: Tensor | None) -> None:
    """PyTorch's error for a weight or bias whose shape is not ``normalized_shape``
    (broadcasting would accept a [1] weight, PyTorch does not)."""
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    for name, param in params.items():
        if param is not None and tuple(param.shape) != shape:
            raise RuntimeError(
                f"Expected {name} to be of same shape as normalized_shape, but got {name} of shape "
                f"{list(param.shape)} and normalized_shape = {list(shape)}"
            )


@tensor_arguments
def layer_norm(
    input: Tensor,
    normalized_shape,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Normalise over the trailing ``normalized_shape`` dims (biased variance), then scale and shift."""
    dims = _normalized_dims("layer_norm", input, normalized_shape)
    _check_affine(normalized_shape, weight=weight, bias=bias)
    centered = input - input.mean(dims, keepdim=True)
    var = (centered * centered).mean(dims, keepdim=True)
    out = centered * (var + eps).rsqrt()
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out


@tensor_arguments
def rms_norm(
    input: Tensor, normalized_shape, weight: Tensor | None = None, eps: float | None = None
) -> Tensor:
    """``x / sqrt(mean(x^2) + eps)`` over the trailing dims, times ``weight``."""
    dims = _normalized_dims("rms_norm", input, normalized_shape)
    _check_affine(normalized_shape, weight=weight)
    if eps is None:
        eps = float(np.finfo(input._data.dtype).eps)
    out = input * ((input * input).mean(dims, keepdim=True) + eps).rsqrt()
    return out if weight is None else out * weight


def _channel_shape(input: Tensor) -> tuple[int, ...]:
    return (1, input.shape[1]) + (1,) * (input.ndim - 2)


@tensor_arguments
def batch_norm(
    input: Tensor,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Normalise per channel (dim 1) with batch statistics (training) or the running ones.

    Training normalises with the biased batch variance and updates the running
    statistics in place with the unbiased one, as PyTorch does.
    """
    if input.ndim < 2:
        raise ValueError(f"batch_norm: expected at least 2D input (got {input.ndim}D input)")
    if input.numel():  # (PyTorch returns an empty batch's result before its kernel checks)
        reject_grad("native_batch_norm", running_mean=running_mean, running_var=running_var)
    dims = (0,) + tuple(range(2, input.ndim))
    cshape = _channel_shape(input)
    for name, t in (
        ("running_mean", running_mean),
        ("running_var", running_var),
        ("weight", weight),
        ("bias", bias),
    ):
        if t is not None and t.numel() != input.shape[1]:
            raise RuntimeError(
                f"batch_norm: {name} should contain {input.shape[1]} elements not {t.numel()} "
                f"(input of shape {list(input.shape)})"
            )
    if training:
        count = input.numel() // input.shape[1] if input.shape[1] else 0
        if count == 1:
            raise ValueError(
                f"Expected more than 1 value per channel when training, got input size {input.shape}"
            )
        if count == 0:  # an empty batch: no statistics to normalize by or to record
            # (a new tensor, not the input: writing into the result must not change it)
            out = input.clone() if weight is None else input * weight.reshape(cshape)
            return out if bias is None else out + bias.reshape(cshape)
        mean = input.mean(dims, keepdim=True)
        centered = input - mean
        var = (centered * centered).mean(dims, keepdim=True)
        if running_mean is not None or running_var is not None:
            with no_grad():
                if running_mean is not None:
                    running_mean.mul_(1 - momentum).add_(mean.detach().reshape(-1) * momentum)
                if running_var is not None:
                    # times the count, then over the count less one, as PyTorch's update
                    # divides the sum of squares: and each constant is a size of the batch
                    # (a graph with dynamic sizes takes both at run time)
                    unbiased = var.detach().reshape(-1) * count / (count - 1)
                    running_var.mul_(1 - momentum).add_(unbiased * momentum)
        scale = (var + eps).rsqrt()
        if weight is not None:
            scale = scale * weight.reshape(cshape)
        out = centered * scale
        return out if bias is None else out + bias.reshape(cshape)
    if running_mean is None or running_var is None:
        raise RuntimeError("batch_norm: running_mean and running_var must be defined in evaluation mode")
    # eval: fold the statistics into a per-channel scale and shift (two full-size ops)
    scale = (running_var + eps).rsqrt()
    if weight is not None:
        scale = scale * weight
    shift = -running_mean * scale
    if bias is not None:
        shift = shift + bias
    return input * scale.reshape(cshape) + shift.reshape(cshape)


@tensor_arguments
def instance_norm(
    input: Tensor,
    running_mean: Tensor | None = None,
    running_var: Tensor | None = None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    use_input_stats: bool = True,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Normalise each (sample, channel) over its spatial dims, with their biased variance.

    With ``use_input_stats`` the running statistics (if given) move towards the batch's
    mean over samples of each instance's mean and unbiased variance, as PyTorch's update
    of the per-instance batch norm it runs; without, they normalise instead.
    """
    if not use_input_stats:
        if running_mean is None or running_var is None:
            raise RuntimeError(
                "Expected running_mean and running_var to be defined when use_input_stats is false"
            )
        return batch_norm(input, running_mean, running_var, weight, bias, False, momentum, eps)
    if int(np.prod(input.shape[2:])) == 1:
        raise ValueError(f"Expected more than 1 spatial element when training, got input size {input.shape}")
    dims = tuple(range(2, input.ndim))
    mean = input.mean(dims, keepdim=True)
    centered = input - mean
    var = (centered * centered).mean(dims, keepdim=True)
    if running_mean is not None or running_var is not None:
        count = int(np.prod(input.shape[2:]))
        with no_grad():
            if running_mean is not None:
                running_mean.mul_(1 - momentum).add_(mean.detach().mean(0).reshape(-1) * momentum)
            if running_var is not None:
                unbiased = var.detach().mean(0).reshape(-1) * count / (count - 1)
                running_var.mul_(1 - momentum).add_(unbiased * momentum)
    out = centered * (var + eps).rsqrt()
    cshape = _channel_shape(input)
    if weight is not None:
        out = out * weight.reshape(cshape)
    if bias is not None:
        out = out + bias.reshape(cshape)
    return out


@tensor_arguments
def group_norm(
    input: Tensor,
    num_groups: int,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Normalise each sample over groups of channels (and all spatial dims)."""
    n, c = input.shape[0], input.shape[1]
    if c % num_groups != 0:
        raise RuntimeError(
            f"Expected number of channels in input to be divisible by num_groups, but got input of "
            f"shape {list(input.shape)} and num_groups={num_groups}"
        )
    for name, param in (("weight", weight), ("bias", bias)):
        if param is not None and (param.ndim != 1 or param.shape[0] != c):
            raise RuntimeError(
                f"Expected {name} to be a vector of size equal to the number of channels in input, "
                f"but got {name} of shape {list(param.shape)} and input of shape {list(input.shape)}"
            )
    grouped = input.reshape(
        n, num_groups, c // num_groups * math.prod(input.shape[2:])
    )  # (-1: ambiguous for n = 0)
    centered = grouped - grouped.mean(-1, keepdim=True)
    var = (centered * centered).mean(-1, keepdim=True)
    out = (centered * (var + eps).rsqrt()).reshape(input.shape)
    cshape = _channel_shape(input)
    if weight is not None:
        out = out * weight.reshape(cshape)
    if bias is not None:
        out = out + bias.reshape(cshape)
    return out


def _safe_norm(x: Tensor, dim: int) -> Tensor:
    """The 2-norm along ``dim`` (keepdim) whose gradient at a zero vector is 0, not nan."""
    tiny = float(np.finfo(x._data.dtype).tiny) if x._data.dtype.kind == "f" else 1e-38
    return (x * x).sum(dim, keepdim=True).clamp_min(tiny).sqrt()


@tensor_arguments
def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12) -> Tensor:
    """``input / max(||input||_p, eps)`` along ``dim``."""
    if p == 2:
        norm = _safe_norm(input, dim)
    else:
        norm = input.norm(p, dim, keepdim=True)
    return input / norm.clamp_min(eps)


@tensor_arguments
def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """``sum(x1/max(||x1||, eps) * x2/max(||x2||, eps))`` along ``dim`` (PyTorch's formula)."""
    n1 = _safe_norm(x1, dim)
    n2 = _safe_norm(x2, dim)
    # clamp the values but let the gradient flow through the unclamped norms, as torch does
    with no_grad():
        fix1 = n1.clamp_min(eps) - n1
        fix2 = n2.clamp_min(eps) - n2
    return ((x1 / (n1 + fix1)) * (x2 / (n2 + fix2))).sum(dim)


@tensor_arguments
def pairwise_distance(
    x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False
) -> Tensor:
    """``||x1 - x2 + eps||_p`` along the last dim."""
    diff = x1 - x2 + eps
    return diff.norm(p, -1, keepdim=keepdim)
