"""``RMSprop``: divide the gradient by a running RMS, as ``torch.optim.RMSprop``.

Follows PyTorch's single-tensor algorithm operation by operation (optionally centered,
optionally with momentum), so float32 trajectories agree with PyTorch's to rounding.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .arrays import lerp_, positive, scalar_type
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


class RMSprop(Optimizer):
    """``p -= lr * g / (sqrt(E[g^2] - centered * E[g]^2) + eps)``, optionally through momentum."""

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum: float = 0,
        centered: bool = False,
        capturable: bool = False,
        foreach: bool | None = None,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        check_lr(lr)
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= momentum:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= alpha:
            raise ValueError(f"Invalid alpha value: {alpha}")
        check_no_differentiable("RMSprop", differentiable)
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "alpha": alpha,
            "eps": eps,
            "centered": centered,
            "weight_decay": weight_decay,
            "capturable": capturable,
            "foreach": foreach,
            "maximize": maximize,
            "differentiable": differentiable,
        }
        super().__init__(params, defaults)

    restored_defaults = {
        "momentum": 0,
        "centered": False,
        "foreach": None,
        "maximize": False,
        "differentiable": False,
        "capturable": False,
    }

    def _update_group(self, xp, group: dict[str, Any]) -> None:
        lr = xp.hyperparameter(group, "lr")
        wd = scalar_value(group["weight_decay"])
        alpha, eps = group["alpha"], group["eps"]
        momentum = xp.hyperparameter(group, "momentum")  # OneCycleLR/CyclicLR cycle it
        with_momentum = xp.test(group, "momentum", positive)
        centered, maximize = group["centered"], group["maximize"]
        for p in params_with_grad(group):
            state = self.state[p]
            if len(state) == 0:
                state["step"] = new_step()
                state["square_avg"] = zeros_state(p)
                if with_momentum:
                    state["momentum_buffer"] = zeros_state(p)
                if centered:
                    state["grad_avg"] = zeros_state(p)
            check_not_capturable("RMSprop", group)
            data = xp.data(p)
            f = scalar_type(data)
            grad = xp.grad(p)
            if maximize:
                grad = -grad
            xp.increment(state["step"])
            if wd != 0:
                grad = grad + f(wd) * data

            square_avg = state["square_avg"]
            sq = xp.data(square_avg)
            sq *= f(alpha)
            sq += f(1 - alpha) * grad * grad
            xp.touched(square_avg)

            if centered:
                grad_avg = state["grad_avg"]
                lerp_(xp, xp.data(grad_avg), grad, 1 - alpha)
                xp.touched(grad_avg)
                ga = xp.data(grad_avg)
                avg = xp.sqrt(sq + f(-1) * ga * ga)
            else:
                avg = xp.sqrt(sq)
            avg += f(eps)

            if with_momentum:
                buf = state["momentum_buffer"]
                b = xp.data(buf)
                b *= xp.rounded(momentum, f)
                b += grad / avg
                xp.touched(buf)
                data += xp.rounded(-lr, f) * b
            else:
                update = grad * xp.rounded(-lr, f)  # addcdiv's order: (value * t1) / t2
                update /= avg
                data += update
            xp.touched(p)
