"""``Adadelta``: steps scaled by the ratio of running RMS of updates and gradients, as
``torch.optim.Adadelta``.

Follows PyTorch's single-tensor algorithm operation by operation, so float32
trajectories agree with PyTorch's to rounding.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .arrays import scalar_type, weight_decayed
from .optimizer import (
    Optimizer,
    check_lr,
    check_no_differentiable,
    check_not_capturable,
    new_step,
    params_with_grad,
    scalar_value,
    zeros_state,
)


class Adadelta(Optimizer):
    """``delta = sqrt(E[dx^2] + eps) / sqrt(E[g^2] + eps) * g``; ``p -= lr * delta``."""

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1.0,
        rho: float = 0.9,
        eps: float = 1e-6,
        weight_decay: float = 0,
        foreach: bool | None = None,
        *,
        capturable: bool = False,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        check_lr(lr)
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        check_no_differentiable("Adadelta", differentiable)
        defaults = {
            "lr": lr,
            "rho": rho,
            "eps": eps,
            "weight_decay": weight_decay,
            "maximize": maximize,
            "capturable": capturable,
            "foreach": foreach,
            "differentiable": differentiable,
        }
        super().__init__(params, defaults)

    restored_defaults = {
        "foreach": None,
        "maximize": False,
        "differentiable": False,
        "capturable": False,
    }

    def _update_group(self, xp, group: dict[str, Any]) -> None:
        lr = xp.hyperparameter(group, "lr")
        wd = scalar_value(group["weight_decay"])
        rho, eps, maximize = group["rho"], group["eps"], group["maximize"]
        for p in params_with_grad(group):
            state = self.state[p]
            if len(state) == 0:
                state["step"] = new_step()
                state["square_avg"] = zeros_state(p)
                state["acc_delta"] = zeros_state(p)
            check_not_capturable("Adadelta", group)
            data = xp.data(p)
            f = scalar_type(data)
            grad = xp.grad(p)
            if maximize:
                grad = -grad
            xp.increment(state["step"])
            grad = weight_decayed(xp, data, grad, lr, wd)

            square_avg, acc_delta = state["square_avg"], state["acc_delta"]
            sq = xp.data(square_avg)
            sq *= f(rho)
            sq += f(1 - rho) * grad * grad
            xp.touched(square_avg)
            std = xp.sqrt(sq + f(eps))
            acc = xp.data(acc_delta)
            delta = xp.sqrt(acc + f(eps)) / std * grad
            acc *= f(rho)
            acc += f(1 - rho) * delta * delta
            xp.touched(acc_delta)
            data += xp.rounded(-lr, f) * delta
            xp.touched(p)
