"""``ASGD``: averaged stochastic gradient descent, as ``torch.optim.ASGD``.

SGD whose step ``eta`` decays as ``lr / (1 + lambd * lr * t) ** alpha`` and which
shrinks the parameter by ``1 - lambd * eta``, while ``ax`` keeps the running average of
the parameter from step ``t0`` on (``mu = 1 / max(1, t - t0)``).  ``eta`` and ``mu`` are
0-d state tensors of the default float dtype, rounded there as PyTorch's are; the update
repeats PyTorch's single-tensor algorithm operation by operation.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .arrays import scalar_type
from .optimizer import (
    Optimizer,
    check_lr,
    check_no_differentiable,
    check_not_capturable,
    new_step,
    params_with_grad,
    scalar_state,
    scalar_value,
    zeros_state,
)


def _differs_from_one(value) -> Any:
    return value != 1


class ASGD(Optimizer):
    """``p = p * (1 - lambd * eta) - eta * grad``; ``ax += (p - ax) * mu``."""

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-2,
        lambd: float = 1e-4,
        alpha: float = 0.75,
        t0: float = 1e6,
        weight_decay: float = 0,
        foreach: bool | None = None,
        maximize: bool = False,
        differentiable: bool = False,
        capturable: bool = False,
    ) -> None:
        check_lr(lr)
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        check_no_differentiable("ASGD", differentiable)
        defaults = {
            "lr": lr,
            "lambd": lambd,
            "alpha": alpha,
            "t0": t0,
            "weight_decay": weight_decay,
            "foreach": foreach,
            "maximize": maximize,
            "differentiable": differentiable,
            "capturable": capturable,
        }
        super().__init__(params, defaults)

    restored_defaults = {"foreach": None, "maximize": False, "differentiable": False, "capturable": False}

    def _update_group(self, xp, group: dict[str, Any]) -> None:
        lr = xp.hyperparameter(group, "lr")
        lambd, alpha, t0 = group["lambd"], group["alpha"], group["t0"]
        wd = scalar_value(group["weight_decay"])
        for p in params_with_grad(group):
            state = self.state[p]
            if len(state) == 0:
                state["step"] = new_step()
                state["eta"] = scalar_state(scalar_value(group["lr"]))
                state["mu"] = scalar_state(1.0)
                state["ax"] = zeros_state(p)
            check_not_capturable("ASGD", group)
            data = xp.data(p)
            f = scalar_type(data)
            grad = xp.grad(p)
            if group["maximize"]:
                grad = -grad
            step = xp.increment(state["step"])
            if wd != 0:
                grad = grad + f(wd) * data
            eta = xp.value(state["eta"])
            data *= xp.rounded(1 - lambd * eta, f)
            data += xp.rounded(-eta, f) * grad
            xp.touched(p)
            ax = xp.data(state["ax"])
            mu = xp.data(state["mu"])
            averaged = xp.choose(
                _differs_from_one(xp.value(state["mu"])),
                lambda ax=ax, data=data, mu=mu: ax + (data - ax) * mu,
                data,
            )
            xp.assign(ax, averaged)
            xp.touched(state["ax"])
            xp.assign(xp.data(state["eta"]), lr / ((1 + lambd * lr * step) ** alpha))
            xp.assign(xp.data(state["mu"]), 1 / xp.at_least(step - t0, 1))
            xp.touched(state["eta"])
            xp.touched(state["mu"])
