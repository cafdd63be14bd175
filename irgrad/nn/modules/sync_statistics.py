"""The statistics exchange of ``nn.SyncBatchNorm`` (:mod:`.batchnorm`): batch
normalization whose statistics cover the batch of every process of a data-parallel run
(``irgrad.distributed``), as ``torch.nn.SyncBatchNorm``'s function.

In training with a process group of more than one process, each process computes its
batch's per-channel mean and variance and element count; the processes exchange them
(one ``all_gather``) and combine them into the statistics of the whole global batch
(Chan's parallel formula, in float64), which normalize every process's part and update
the running statistics (the unbiased variance over the global count).  Backward
exchanges the two per-channel sums the input gradient needs (``sum(dy)`` and
``sum(dy * x_hat)``, one ``all_reduce``), so each process's input gradient is that of the
sum of all processes' losses, while the weight and bias gradients stay local sums (a
data-parallel wrapper then reduces them, as for any parameter).  Without such a group
(one process, or evaluation) the module is ``BatchNorm``.
"""

from __future__ import annotations

import numpy as np

from ... import distributed as dist
from ...recording.function import Function
from ...recording.grad_mode import no_grad
from ...tensor import Tensor

__all__ = ["SyncBatchNormFunction"]


def _channel_axes(x: np.ndarray) -> tuple[int, ...]:
    return (0, *range(2, x.ndim))


def _channel_view(values: np.ndarray, ndim: int) -> np.ndarray:
    """Per-channel values shaped to broadcast against an input of ``ndim`` dims."""
    return values.reshape((1, -1) + (1,) * (ndim - 2))


def _global_statistics(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """(mean, biased variance, count) per channel over every process's batch."""
    axes = _channel_axes(x)
    count = x.size // x.shape[1] if x.shape[1] else 0
    wide = x.astype(np.float64)
    mean = wide.mean(axis=axes) if count else np.zeros(x.shape[1])
    var = wide.var(axis=axes) if count else np.zeros(x.shape[1])
    local = np.stack([mean, var, np.full(x.shape[1], float(count))])
    parts = [Tensor._wrap(np.empty_like(local)) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, Tensor._wrap(local))
    means, variances, counts = (np.stack([p._data[k] for p in parts]) for k in range(3))
    total = counts.sum(axis=0)
    mean = (counts * means).sum(axis=0) / total
    m2 = (counts * (variances + (means - mean) ** 2)).sum(axis=0)
    return mean, m2 / total, float(total[0])


class SyncBatchNormFunction(Function):
    """Normalization by the global batch's statistics; the running statistics are
    updated in place as a side effect of forward (as PyTorch's function does)."""

    @staticmethod
    def forward(ctx, input, weight, bias, running_mean, running_var, eps: float, momentum: float):
        x = input._data
        mean, var, count = _global_statistics(x)
        if count <= 1:
            raise ValueError(
                f"Expected more than 1 value per channel when training, got input size {x.shape}"
            )
        if running_mean is not None:
            with no_grad():
                running_mean.mul_(1 - momentum).add_(Tensor._wrap(mean.astype(x.dtype)), alpha=momentum)
                unbiased = var * count / (count - 1)
                running_var.mul_(1 - momentum).add_(Tensor._wrap(unbiased.astype(x.dtype)), alpha=momentum)
        invstd = 1.0 / np.sqrt(var + eps)
        normalized = (x - _channel_view(mean, x.ndim)) * _channel_view(invstd, x.ndim)
        scale = np.ones(x.shape[1]) if weight is None else weight._data.astype(np.float64)
        shift = np.zeros(x.shape[1]) if bias is None else bias._data.astype(np.float64)
        out = normalized * _channel_view(scale, x.ndim) + _channel_view(shift, x.ndim)
        ctx.normalized, ctx.invstd, ctx.scale, ctx.count = normalized, invstd, scale, count
        ctx.has_weight, ctx.has_bias = weight is not None, bias is not None
        return Tensor._wrap(out.astype(x.dtype))

    @staticmethod
    def backward(ctx, grad_out):
        dy = grad_out._data.astype(np.float64)
        normalized, axes = ctx.normalized, _channel_axes(dy)
        sum_dy = dy.sum(axis=axes)
        sum_dy_xhat = (dy * normalized).sum(axis=axes)
        grad_weight = Tensor._wrap(sum_dy_xhat.astype(grad_out.dtype.np)) if ctx.has_weight else None
        grad_bias = Tensor._wrap(sum_dy.astype(grad_out.dtype.np)) if ctx.has_bias else None
        sums = Tensor._wrap(np.stack([sum_dy, sum_dy_xhat]))
        dist.all_reduce(sums)
        mean_dy, mean_dy_xhat = (_channel_view(s / ctx.count, dy.ndim) for s in sums._data)
        factor = _channel_view(ctx.scale * ctx.invstd, dy.ndim)
        grad_input = factor * (dy - mean_dy - normalized * mean_dy_xhat)
        return (
            Tensor._wrap(grad_input.astype(grad_out.dtype.np)),
            grad_weight,
            grad_bias,
            None,
            None,
            None,
            None,
        )
