"""``Adagrad``: per-coordinate learning rates from accumulated squared gradients, as ``torch.optim.Adagrad``.

As in PyTorch, the state (``step`` and the ``sum`` accumulator, filled with
``initial_accumulator_value``) is created for every parameter at construction.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from ..tensor import Tensor
from .arrays import scalar_type, weight_decayed
from .optimizer import (
    Optimizer,
    check_lr,
    check_no_differentiable,
    new_step,
    params_with_grad,
    scalar_value,
)


class Adagrad(Optimizer):
    """``sum += g^2; p -= clr * g / (sqrt(sum) + eps)`` with ``clr = lr / (1 + (step - 1) * lr_decay)``."""

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-2,
        lr_decay: float = 0,
        weight_decay: float = 0,
        initial_accumulator_value: float = 0,
        eps: float = 1e-10,
        foreach: bool | None = None,
        *,
        maximize: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        check_lr(lr)
        if not 0.0 <= lr_decay:
            raise ValueError(f"Invalid lr_decay value: {lr_decay}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= initial_accumulator_value:
            raise ValueError(f"Invalid initial_accumulator_value value: {initial_accumulator_value}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        check_no_differentiable("Adagrad", differentiable)
        defaults = {
            "lr": lr,
            "lr_decay": lr_decay,
            "eps": eps,
            "weight_decay": weight_decay,
            "initial_accumulator_value": initial_accumulator_value,
            "foreach": foreach,
            "maximize": maximize,
            "differentiable": differentiable,
            "fused": fused,
        }
        super().__init__(params, defaults)
        if fused and foreach:
            raise RuntimeError("`fused` and `foreach` cannot be `True` together.")
        for group in self.param_groups:
            for p in group["params"]:
                self._init_state(p, group)

    def _init_state(self, p: Tensor, group: dict[str, Any]) -> None:
        state = self.state[p]
        state["step"] = new_step()
        state["sum"] = Tensor._wrap(np.full_like(p._data, group["initial_accumulator_value"]))

    restored_defaults = {
        "foreach": None,
        "maximize": False,
        "differentiable": False,
        "fused": None,
    }

    def _update_group(self, xp, group: dict[str, Any]) -> None:
        lr = xp.hyperparameter(group, "lr")
        wd = scalar_value(group["weight_decay"])
        lr_decay, eps, maximize = group["lr_decay"], group["eps"], group["maximize"]
        for p in params_with_grad(group):
            if len(self.state[p]) == 0:  # a group added after construction
                self._init_state(p, group)
            state = self.state[p]
            data = xp.data(p)
            f = scalar_type(data)
            step = xp.increment(state["step"])
            grad = xp.grad(p)
            if maximize:
                grad = -grad
            grad = weight_decayed(xp, data, grad, lr, wd)
            clr = lr / (1 + (step - 1) * lr_decay)

            acc = state["sum"]
            s = xp.data(acc)
            s += grad * grad
            xp.touched(acc)
            std = xp.sqrt(s)
            std += f(eps)
            update = grad * xp.rounded(-clr, f)  # addcdiv's order: (value * t1) / t2
            update /= std
            data += update
            xp.touched(p)
