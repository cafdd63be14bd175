"""``Adam``: adaptive moment estimation (optionally AMSGrad), as ``torch.optim.Adam``.

The update follows PyTorch's single-tensor algorithm operation by operation: moments
via ``lerp``/``mul``-``addcmul``, bias corrections in Python floats, then
``p += -step_size * exp_avg / (sqrt(v) / sqrt(bc2) + eps)``.  ``decoupled_weight_decay``
turns it into AdamW (see :mod:`irgrad.optim.adamw`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

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


class Adam(Optimizer):
    """Adam with L2 weight decay added to the gradient (or decoupled, as AdamW)."""

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        amsgrad: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
        decoupled_weight_decay: bool = False,
    ) -> None:
        check_lr(lr)
        check_adam_options(eps, betas, weight_decay)
        check_no_differentiable(type(self).__name__, differentiable)
        betas = tuple(scalar_value(b) for b in betas)
        defaults = {
            "lr": lr,
            "betas": betas,
            "eps": eps,
            "weight_decay": weight_decay,
            "amsgrad": amsgrad,
            "maximize": maximize,
            "foreach": foreach,
            "capturable": capturable,
            "differentiable": differentiable,
            "fused": fused,
            "decoupled_weight_decay": decoupled_weight_decay,
        }
        super().__init__(params, defaults)
        if fused and foreach:
            raise RuntimeError("`fused` and `foreach` cannot be `True` together.")

    restored_defaults = {
        "amsgrad": False,
        "maximize": False,
        "foreach": None,
        "capturable": False,
        "differentiable": False,
        "decoupled_weight_decay": False,
        "fused": None,
    }

    def _update_group(self, xp, group: dict[str, Any]) -> None:
        beta1, beta2 = xp.hyperparameter(group, "betas")  # OneCycleLR/CyclicLR cycle beta1
        lr = xp.hyperparameter(group, "lr")
        wd = scalar_value(group["weight_decay"])
        eps, amsgrad = group["eps"], group["amsgrad"]
        decoupled, maximize = group["decoupled_weight_decay"], group["maximize"]
        for p in params_with_grad(group):
            state = self.state[p]
            if len(state) == 0:
                state["step"] = new_step()
                state["exp_avg"] = zeros_state(p)
                state["exp_avg_sq"] = zeros_state(p)
                if amsgrad:
                    state["max_exp_avg_sq"] = zeros_state(p)
            check_not_capturable(type(self).__name__, group)
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
            step_size = lr / bias_correction1
            bias_correction2_sqrt = bias_correction2**0.5

            if amsgrad:
                vmax = state["max_exp_avg_sq"]
                xp.maximum_(xp.data(vmax), v)
                xp.touched(vmax)
                v = xp.data(vmax)
            denom = xp.sqrt(v)
            denom /= xp.rounded(bias_correction2_sqrt, f)
            denom += f(eps)
            update = xp.data(exp_avg) * xp.rounded(-step_size, f)  # addcdiv's order: (value * t1) / t2
            update /= denom
            data += update
            xp.touched(p)
