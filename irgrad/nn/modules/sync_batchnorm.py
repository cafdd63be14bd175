"""``nn.SyncBatchNorm``: batch normalization whose statistics cover the batch of every
process of a data-parallel run (``irgrad.distributed``), as ``torch.nn.SyncBatchNorm``.

In training with a process group of more than one process, each process computes its
batch's per-channel mean and variance and element count; the processes exchange them
(one ``all_gather``) and combine them into the statistics of the whole global batch
(Chan's parallel formula, in float64), which normalize every process's part and update
the running statistics (the unbiased variance over the global count).  Backward
exchanges the two per-channel sums the input gradient needs (``sum(dy)`` and
``sum(dy * x_hat)``, one ``all_reduce``), so each process's input gradient is that of the
sum of all processes' losses, while the weight and bias gradients stay local sums (a
data-parallel wrapper then reduces them, as for any parameter).  Without such a group
(one process, or evaluation) it is ``BatchNorm``.

Its communication is a graph break under ``irgrad.compile``, as every collective is.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ... import distributed as dist
from ...recording.function import Function
from ...recording.grad_mode import no_grad
from ...tensor import Tensor
from .module import Module
from .normalization import _BatchNorm

__all__ = ["SyncBatchNorm"]


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


class _SyncBatchNormFunction(Function):
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


class SyncBatchNorm(_BatchNorm):
    """BatchNorm over input of at least 2 dims (channels at dim 1) whose training
    statistics span every process's batch (see the module doc)."""

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        process_group: Any = None,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype)
        self.process_group = process_group

    def _check_input_dim(self, input: Tensor) -> None:
        if input.dim() < 2:
            raise ValueError(f"expected at least 2D input (got {input.dim()}D input)")

    def forward(self, input: Tensor) -> Tensor:
        self._check_input_dim(input)
        if input.shape[1] == 0:
            raise ValueError("SyncBatchNorm number of input channels should be non-zero")
        synced = self.training and dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1
        if not synced:
            return super().forward(input)
        if self.process_group is not None:
            raise NotImplementedError(
                "SyncBatchNorm: irgrad.distributed has only the default (world) process group"
            )
        factor = 0.0 if self.momentum is None else self.momentum
        if self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked.add_(1)
            if self.momentum is None:
                factor = 1.0 / float(self.num_batches_tracked)
        track = self.track_running_stats
        return _SyncBatchNormFunction.apply(
            input,
            self.weight,
            self.bias,
            self.running_mean if track else None,
            self.running_var if track else None,
            self.eps,
            factor,
        )

    @classmethod
    def convert_sync_batchnorm(cls, module: Module, process_group: Any = None) -> Module:
        """``module`` with every BatchNorm1d/2d/3d in it replaced by a SyncBatchNorm that
        holds the same parameters and buffers (the objects themselves) and training
        mode; a BatchNorm ``module`` itself is returned replaced."""
        converted = module
        if isinstance(module, _BatchNorm) and not isinstance(module, SyncBatchNorm):
            converted = cls(
                module.num_features,
                module.eps,
                module.momentum,
                module.affine,
                module.track_running_stats,
                process_group,
            )
            if module.affine:
                converted.weight = module.weight
                converted.bias = module.bias
            converted.running_mean = module.running_mean
            converted.running_var = module.running_var
            converted.num_batches_tracked = module.num_batches_tracked
            converted.training = module.training
            if hasattr(module, "qconfig"):
                converted.qconfig = module.qconfig
        for name, child in module.named_children():
            converted.add_module(name, cls.convert_sync_batchnorm(child, process_group))
        return converted
