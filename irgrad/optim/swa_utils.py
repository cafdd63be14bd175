"""``irgrad.optim.swa_utils``: weight averaging (SWA, EMA) as ``torch.optim.swa_utils``.

``AveragedModel`` keeps a copy of a model whose parameters are a running average of the
model's: the plain mean of every update (stochastic weight averaging) by default, or
what ``avg_fn``/``multi_avg_fn`` say (an exponential moving average from
:func:`get_ema_multi_avg_fn`).  ``SWALR`` anneals each group's learning rate to its
``swa_lr``; ``update_bn`` recomputes BatchNorm statistics for averaged weights.
"""

from __future__ import annotations

import copy
import itertools
import math
import warnings
from collections.abc import Callable, Iterable
from typing import Any

from .. import nn
from ..creation import tensor
from ..dtypes import int64
from ..nn.modules.batchnorm import _BatchNorm
from ..recording.grad_mode import no_grad
from ..tensor import Tensor
from .lr_scheduler import LRScheduler
from .optimizer import Optimizer

__all__ = [
    "AveragedModel",
    "SWALR",
    "get_ema_avg_fn",
    "get_ema_multi_avg_fn",
    "get_swa_avg_fn",
    "get_swa_multi_avg_fn",
    "update_bn",
]


def get_ema_multi_avg_fn(decay: float = 0.999) -> Callable:
    """``ema <- decay * ema + (1 - decay) * current``, on lists of tensors in place."""
    if decay < 0.0 or decay > 1.0:
        raise ValueError(f"Invalid decay value {decay} provided. Please provide a value in [0,1] range.")

    @no_grad()
    def ema_update(ema_params: list[Tensor], current_params: list[Tensor], num_averaged) -> None:
        for ema, current in zip(ema_params, current_params):
            if ema.is_floating_point():
                ema.lerp_(current, 1 - decay)
            else:  # (BatchNorm's step counter, with use_buffers: rounded toward zero, as PyTorch's)
                ema.copy_(ema * decay + current * (1 - decay))

    return ema_update


def get_swa_multi_avg_fn() -> Callable:
    """``avg <- avg + (current - avg) / (n + 1)`` (a lerp), on lists of tensors in place."""

    @no_grad()
    def swa_update(averaged_params: list[Tensor], current_params: list[Tensor], num_averaged) -> None:
        n = num_averaged.item() if isinstance(num_averaged, Tensor) else num_averaged
        for averaged, current in zip(averaged_params, current_params):
            if averaged.is_floating_point():
                averaged.lerp_(current, 1 / (n + 1))
            else:
                averaged.copy_(averaged + (current - averaged) / (n + 1))

    return swa_update


def get_ema_avg_fn(decay: float = 0.999) -> Callable:
    """One tensor's exponential moving average step (the new average)."""
    if decay < 0.0 or decay > 1.0:
        raise ValueError(f"Invalid decay value {decay} provided. Please provide a value in [0,1] range.")

    @no_grad()
    def ema_update(ema_param: Tensor, current_param: Tensor, num_averaged) -> Tensor:
        return decay * ema_param + (1 - decay) * current_param

    return ema_update


def get_swa_avg_fn() -> Callable:
    """One tensor's running mean step (the new average)."""

    @no_grad()
    def swa_update(averaged_param: Tensor, current_param: Tensor, num_averaged) -> Tensor:
        return averaged_param + (current_param - averaged_param) / (num_averaged + 1)

    return swa_update


class AveragedModel(nn.Module):
    """A copy of ``model`` whose parameters (and buffers, with ``use_buffers``) average the
    model's over :meth:`update_parameters` calls; calling it runs the copy."""

    def __init__(
        self,
        model: nn.Module,
        device: Any = None,
        avg_fn: Callable | None = None,
        multi_avg_fn: Callable | None = None,
        use_buffers: bool = False,
    ) -> None:
        super().__init__()
        if avg_fn is not None and multi_avg_fn is not None:
            raise AssertionError("Only one of avg_fn and multi_avg_fn should be provided")
        self.module = copy.deepcopy(model)
        if device is not None:
            self.module = self.module.to(device)
        self.register_buffer("n_averaged", tensor(0, dtype=int64, device=device))
        self.avg_fn = avg_fn
        self.multi_avg_fn = multi_avg_fn
        self.use_buffers = use_buffers

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self.module(*args, **kwargs)

    def _averaged(self, model: nn.Module) -> tuple[list[Tensor], list[Tensor]]:
        if self.use_buffers:
            mine = itertools.chain(self.module.parameters(), self.module.buffers())
            theirs = itertools.chain(model.parameters(), model.buffers())
        else:
            mine, theirs = self.parameters(), model.parameters()
        return [p.detach() for p in mine], [p.detach() for p in theirs]

    def update_parameters(self, model: nn.Module) -> None:
        """Fold ``model``'s current values into the average (the first call copies them)."""
        mine, theirs = self._averaged(model)
        with no_grad():
            if self.n_averaged.item() == 0:
                for averaged, current in zip(mine, theirs):
                    averaged.copy_(current)
            elif self.avg_fn is not None:
                for averaged, current in zip(mine, theirs):
                    averaged.copy_(self.avg_fn(averaged, current, self.n_averaged))
            else:  # one call per dtype, as PyTorch groups the lists it hands a multi_avg_fn
                update = self.multi_avg_fn or get_swa_multi_avg_fn()
                by_dtype: dict[Any, tuple[list, list]] = {}
                for averaged, current in zip(mine, theirs):
                    group = by_dtype.setdefault(averaged.dtype, ([], []))
                    group[0].append(averaged)
                    group[1].append(current)
                for averaged_group, current_group in by_dtype.values():
                    update(averaged_group, current_group, self.n_averaged)
            if not self.use_buffers:
                # the buffers (BatchNorm statistics) follow the model's; update_bn recomputes them
                for own, current in zip(self.module.buffers(), model.buffers()):
                    own.detach().copy_(current.detach())
            self.n_averaged += 1


@no_grad()
def update_bn(loader: Iterable, model: nn.Module, device: Any = None) -> None:
    """Recompute every BatchNorm's running statistics by one pass over ``loader`` (a
    cumulative average over its batches: momentum None), in training mode; the model's
    mode and the momenta are put back afterwards."""
    momenta = {}
    for module in model.modules():
        if isinstance(module, _BatchNorm):
            module.reset_running_stats()
            momenta[module] = module.momentum
    if not momenta:
        return
    was_training = model.training
    model.train()
    for module in momenta:
        module.momentum = None
    for batch in loader:
        if isinstance(batch, (list, tuple)):
            batch = batch[0]
        if device is not None:
            batch = batch.to(device)
        model(batch)
    for module, momentum in momenta.items():
        module.momentum = momentum
    model.train(was_training)


class SWALR(LRScheduler):
    """Anneal each group's learning rate from its current value to ``swa_lr`` over
    ``anneal_epochs`` steps, by a cosine (``"cos"``) or a straight line (``"linear"``),
    then hold it there."""

    def __init__(
        self,
        optimizer: Optimizer,
        swa_lr: float | list[float],
        anneal_epochs: int = 10,
        anneal_strategy: str = "cos",
        last_epoch: int = -1,
    ) -> None:
        swa_lrs = (
            list(swa_lr) if isinstance(swa_lr, (list, tuple)) else [swa_lr] * len(optimizer.param_groups)
        )
        if len(swa_lrs) != len(optimizer.param_groups):
            raise ValueError(
                f"swa_lr must have the same length as optimizer.param_groups: swa_lr has {len(swa_lrs)}, "
                f"optimizer.param_groups has {len(optimizer.param_groups)}"
            )
        for swa, group in zip(swa_lrs, optimizer.param_groups):
            group["swa_lr"] = swa
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(
                f"anneal_strategy must by one of 'cos' or 'linear', instead got {anneal_strategy}"
            )
        self.anneal_func = self._cosine_anneal if anneal_strategy == "cos" else self._linear_anneal
        if not isinstance(anneal_epochs, int) or anneal_epochs < 0:
            raise ValueError(f"anneal_epochs must be equal or greater than 0, got {anneal_epochs}")
        self.anneal_epochs = anneal_epochs
        super().__init__(optimizer, last_epoch)

    @staticmethod
    def _linear_anneal(t: float) -> float:
        return t

    @staticmethod
    def _cosine_anneal(t: float) -> float:
        return (1 - math.cos(math.pi * t)) / 2

    @staticmethod
    def _initial_lr(lr: float, swa_lr: float, alpha: float) -> float:
        """The rate the schedule started from, given the rate ``lr`` it set at ``alpha``."""
        if alpha == 1:
            return swa_lr
        return (lr - alpha * swa_lr) / (1 - alpha)

    def get_lr(self) -> list[float]:
        if not self._get_lr_called_within_step:
            warnings.warn(
                "To get the last learning rate computed by the scheduler, please use `get_last_lr()`.",
                UserWarning,
                stacklevel=2,
            )
        step = self._step_count - 1
        if self.anneal_epochs == 0:
            step = max(1, step)
        previous = self.anneal_func(max(0, min(1, (step - 1) / max(1, self.anneal_epochs))))
        alpha = self.anneal_func(max(0, min(1, step / max(1, self.anneal_epochs))))
        groups = self.optimizer.param_groups
        starts = [self._initial_lr(g["lr"], g["swa_lr"], previous) for g in groups]
        return [g["swa_lr"] * alpha + lr * (1 - alpha) for g, lr in zip(groups, starts)]
