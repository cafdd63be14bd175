"""``SGD``: stochastic gradient descent with optional (Nesterov) momentum, as ``torch.optim.SGD``.

The update follows PyTorch's single-tensor algorithm operation by operation (same
order, scalars rounded to the parameter dtype), so float32 trajectories agree with
PyTorch's to rounding.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .arrays import nonzero, scalar_type
from .optimizer import Optimizer, check_lr, check_no_differentiable, params_with_grad, scalar_value


class SGD(Optimizer):
    """``p -= lr * g`` where ``g`` is the gradient plus weight decay, optionally through a momentum buffer."""

    complex_parameters = True  # every step is complex-linear in the gradient: PyTorch's update

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        momentum: float = 0,
        dampening: float = 0,
        weight_decay: float = 0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        check_lr(lr)
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        check_no_differentiable("SGD", differentiable)
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "dampening": dampening,
            "weight_decay": weight_decay,
            "nesterov": nesterov,
            "maximize": maximize,
            "foreach": foreach,
            "differentiable": differentiable,
            "fused": fused,
        }
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, defaults)
        if fused and foreach:
            raise RuntimeError("`fused` and `foreach` cannot be `True` together.")

    restored_defaults = {
        "nesterov": False,
        "maximize": False,
        "foreach": None,
        "differentiable": False,
        "fused": False,
    }

    def _update_group(self, xp, group: dict[str, Any]) -> None:
        lr = xp.hyperparameter(group, "lr")
        wd = scalar_value(group["weight_decay"])
        momentum = xp.hyperparameter(group, "momentum")  # OneCycleLR/CyclicLR cycle it
        with_momentum = xp.test(group, "momentum", nonzero)
        dampening, nesterov, maximize = group["dampening"], group["nesterov"], group["maximize"]
        for p in params_with_grad(group):
            data = xp.data(p)
            f = scalar_type(data)
            grad = xp.grad(p)
            if maximize:
                grad = -grad
            if wd != 0:
                grad = grad + f(wd) * data
            if with_momentum:
                state = self.state[p]
                buf = state.get("momentum_buffer")
                if buf is None:
                    buf = state["momentum_buffer"] = xp.new_state(grad)
                else:
                    b = xp.data(buf)
                    b *= xp.rounded(momentum, f)
                    b += f(1 - dampening) * grad
                    xp.touched(buf)
                grad = grad + xp.rounded(momentum, f) * xp.data(buf) if nesterov else xp.data(buf)
            data += xp.rounded(-lr, f) * grad
            xp.touched(p)
