"""``RAdam``: Adam with a rectified adaptive learning rate, as ``torch.optim.RAdam``.

While the approximated length of the moving average ``rho_t`` is at most 5 (the first
few steps), the variance of the adaptive rate is intractable and the step is plain
momentum SGD with a bias-corrected first moment; after that, the adaptive step is scaled
by the rectification term.  The switch follows the step counter: eagerly a Python branch,
traced a selection between both updates (``xp.choose``), so one compiled graph serves
every step.  ``decoupled_weight_decay`` makes it RAdamW.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from typing import Any

from ..tensor import Tensor
from .arrays import adam_moments_, scalar_type, weight_decayed
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


class RAdam(Optimizer):
    """Rectified Adam (Liu et al., 2019)."""

    def __init__(
        self,
        params: Iterable[Any],
        lr: float | Tensor = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        decoupled_weight_decay: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
    ) -> None:
        check_lr(lr)
        check_adam_options(eps, betas, weight_decay)
        check_no_differentiable("RAdam", differentiable)
        defaults = {
            "lr": lr,
            "betas": betas,
            "eps": eps,
            "weight_decay": weight_decay,
            "maximize": maximize,
            "foreach": foreach,
            "capturable": capturable,
            "decoupled_weight_decay": decoupled_weight_decay,
            "differentiable": differentiable,
        }
        super().__init__(params, defaults)

    restored_defaults = {
        "foreach": None,
        "maximize": False,
        "differentiable": False,
        "decoupled_weight_decay": False,
        "capturable": False,
    }

    def _update_group(self, xp, group: dict[str, Any]) -> None:
        beta1, beta2 = xp.hyperparameter(group, "betas")  # OneCycleLR/CyclicLR cycle beta1
        lr = xp.hyperparameter(group, "lr")
        wd = scalar_value(group["weight_decay"])
        eps = group["eps"]
        decoupled, maximize = group["decoupled_weight_decay"], group["maximize"]
        params = params_with_grad(group)
        for p in params:
            state = self.state[p]
            if len(state) == 0:
                state["step"] = new_step()
                state["exp_avg"] = zeros_state(p)
                state["exp_avg_sq"] = zeros_state(p)
        if params:
            check_not_capturable("RAdam", group)
        rho_inf = 2 / (1 - beta2) - 1  # the maximum length of the approximated moving average
        never_rectified = xp.test(group, "betas", _never_rectified)
        for p in params:
            state = self.state[p]
            data = xp.data(p)
            f = scalar_type(data)
            grad = xp.grad(p)
            if maximize:
                grad = -grad
            step = xp.increment(state["step"])

            grad = weight_decayed(xp, data, grad, lr, wd, decoupled)

            v = adam_moments_(xp, state, grad, beta1, beta2)
            exp_avg = state["exp_avg"]

            bias_correction1 = 1 - beta1**step
            bias_correction2 = 1 - beta2**step
            momentum = xp.data(exp_avg) / xp.rounded(bias_correction1, f) * xp.rounded(lr, f)
            rho_t = rho_inf - 2 * step * (beta2**step) / bias_correction2

            if never_rectified:  # rho_t < rho_inf
                data -= momentum
            else:
                rectified = partial(_rectified_update, xp, momentum, v, rho_t, rho_inf, bias_correction2, eps)
                data -= xp.choose(rho_t > 5.0, rectified, momentum)
            xp.touched(p)


def _never_rectified(betas: tuple) -> bool:
    """Whether ``rho_inf``, the longest approximated moving average, is at most 5."""
    return 2 / (1 - betas[1]) - 1 <= 5


def _rectified_update(xp, momentum, exp_avg_sq, rho_t, rho_inf: float, bias_correction2, eps: float):
    """The adaptive step scaled by the variance rectification term, in PyTorch's order:
    ``momentum * (sqrt(bc2) / (sqrt(v) + eps)) * rect``.  The term's radicand is positive
    where it is used (``rho_t > 5``); it is clamped at 0 for the traced graph, which
    computes this update at every step."""
    f = scalar_type(momentum)
    radicand = (rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)
    rect = xp.at_least(radicand, 0.0) ** 0.5
    root = xp.sqrt(exp_avg_sq)
    root += f(eps)
    adaptive_lr = f(1) / root * xp.rounded(bias_correction2**0.5, f)  # PyTorch's scalar / tensor
    return momentum * adaptive_lr * xp.rounded(rect, f)
