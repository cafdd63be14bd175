"""``Adamax``: Adam with the infinity norm in place of the second moment, as ``torch.optim.Adamax``.

``exp_inf = max(beta2 * exp_inf, |g| + eps)``, ``p -= lr / (1 - beta1**t) * exp_avg / exp_inf``,
PyTorch's single-tensor algorithm operation by operation.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..tensor import Tensor
from .arrays import lerp_, scalar_type, weight_decayed
from .optimizer import (
    Optimizer,
    check_adam_options,
    check_lr,
    check_no_differentiable,
    check_not_capturable,
    new_step,
    params_with_grad,
    scalar_value,
    zeros_state,
)


class Adamax(Optimizer):
    """Adamax (Kingma and Ba, 2014, section 7)."""

    def __init__(
        self,
        params: Iterable[Any],
        lr: float | Tensor = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        foreach: bool | None = None,
        *,
        maximize: bool = False,
        differentiable: bool = False,
        capturable: bool = False,
    ) -> None:
        check_lr(lr)
        check_adam_options(eps, betas, weight_decay)
        check_no_differentiable("Adamax", differentiable)
        defaults = {
            "lr": lr,
            "betas": betas,
            "eps": eps,
            "weight_decay": weight_decay,
            "foreach": foreach,
            "maximize": maximize,
            "differentiable": differentiable,
            "capturable": capturable,
        }
        super().__init__(params, defaults)

    restored_defaults = {
        "foreach": None,
        "maximize": False,
        "differentiable": False,
        "capturable": False,
    }

    def _update_group(self, xp, group: dict[str, Any]) -> None:
        beta1, beta2 = xp.hyperparameter(group, "betas")  # OneCycleLR/CyclicLR cycle beta1
        lr = xp.hyperparameter(group, "lr")
        wd = scalar_value(group["weight_decay"])
        eps, maximize = group["eps"], group["maximize"]
        params = params_with_grad(group)
        for p in params:
            state = self.state[p]
            if len(state) == 0:
                state["step"] = new_step()
                state["exp_avg"] = zeros_state(p)
                state["exp_inf"] = zeros_state(p)
        if params:
            check_not_capturable("Adamax", group)
        for p in params:
            state = self.state[p]
            data = xp.data(p)
            f = scalar_type(data)
            grad = xp.grad(p)
            if maximize:
                grad = -grad
            step = xp.increment(state["step"])
            grad = weight_decayed(xp, data, grad, lr, wd)

            exp_avg, exp_inf = state["exp_avg"], state["exp_inf"]
            lerp_(xp, xp.data(exp_avg), grad, 1 - beta1)
            norm = xp.data(exp_inf)
            norm *= xp.rounded(beta2, f)
            xp.maximum_(norm, xp.abs(grad) + f(eps))
            xp.touched(exp_avg)
            xp.touched(exp_inf)

            bias_correction = 1 - beta1**step
            clr = lr / bias_correction
            update = xp.data(exp_avg) * xp.rounded(-clr, f)  # addcdiv's order: (value * t1) / t2
            update /= norm
            data += update
            xp.touched(p)
