"""``NAdam``: Adam with Nesterov momentum, as ``torch.optim.NAdam``.

The momentum coefficient follows a schedule (``mu_t = beta1 * (1 - 0.5 * 0.96 **
(t * momentum_decay))``) whose running product is state (``mu_product``, a 0-d tensor
of the default float dtype, multiplied in its own precision as PyTorch does).  The update
repeats PyTorch's single-tensor algorithm operation by operation; ``decoupled_weight_decay``
makes it NAdamW.
"""

from __future__ import annotations

from collections.abc import Iterable
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
    scalar_state,
    scalar_value,
    zeros_state,
)


class NAdam(Optimizer):
    """Adam whose update looks one momentum step ahead (Dozat, 2016)."""

    def __init__(
        self,
        params: Iterable[Any],
        lr: float | Tensor = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum_decay: float = 4e-3,
        decoupled_weight_decay: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
    ) -> None:
        check_lr(lr)
        check_adam_options(eps, betas, weight_decay)
        if not 0.0 <= momentum_decay:
            raise ValueError(f"Invalid momentum_decay value: {momentum_decay}")
        check_no_differentiable("NAdam", differentiable)
        defaults = {
            "lr": lr,
            "betas": betas,
            "eps": eps,
            "weight_decay": weight_decay,
            "momentum_decay": momentum_decay,
            "decoupled_weight_decay": decoupled_weight_decay,
            "maximize": maximize,
            "foreach": foreach,
            "capturable": capturable,
            "differentiable": differentiable,
        }
        super().__init__(params, defaults)

    restored_defaults = {
        "maximize": False,
        "foreach": None,
        "capturable": False,
        "differentiable": False,
        "decoupled_weight_decay": False,
    }

    def _update_group(self, xp, group: dict[str, Any]) -> None:
        beta1, beta2 = xp.hyperparameter(group, "betas")  # OneCycleLR/CyclicLR cycle beta1
        lr = xp.hyperparameter(group, "lr")
        wd = scalar_value(group["weight_decay"])
        eps, momentum_decay = group["eps"], group["momentum_decay"]
        decoupled, maximize = group["decoupled_weight_decay"], group["maximize"]
        params = params_with_grad(group)
        for p in params:
            state = self.state[p]
            if len(state) == 0:
                state["step"] = new_step()
                state["mu_product"] = scalar_state(1.0)
                state["exp_avg"] = zeros_state(p)
                state["exp_avg_sq"] = zeros_state(p)
        if params:
            check_not_capturable("NAdam", group, "params, mu_products and state_steps")
        for p in params:
            state = self.state[p]
            data = xp.data(p)
            f = scalar_type(data)
            grad = xp.grad(p)
            if maximize:
                grad = -grad
            step = xp.increment(state["step"])
            bias_correction2 = 1 - beta2**step

            grad = weight_decayed(xp, data, grad, lr, wd, decoupled)

            mu = beta1 * (1.0 - 0.5 * (0.96 ** (step * momentum_decay)))
            mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * momentum_decay)))
            mu_product = state["mu_product"]
            product = xp.data(mu_product)
            product *= xp.rounded(mu, scalar_type(product))
            xp.touched(mu_product)

            v = adam_moments_(xp, state, grad, beta1, beta2)
            exp_avg = state["exp_avg"]
            denom = xp.sqrt(v / xp.rounded(bias_correction2, f))

            product_now = xp.value(mu_product)
            product_next = product_now * mu_next
            denom += f(eps)
            update = grad * xp.rounded(-lr * (1.0 - mu) / (1.0 - product_now), f)  # addcdiv's order
            update /= denom
            data += update
            update = xp.data(exp_avg) * xp.rounded((-lr * mu_next) / (1.0 - product_next), f)
            update /= denom
            data += update
            xp.touched(p)
