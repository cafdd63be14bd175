"""``Rprop``: resilient backpropagation, as ``torch.optim.Rprop``.

Each parameter element has its own step size, grown by ``etas[1]`` while its gradient
keeps its sign and shrunk by ``etas[0]`` when the sign flips (that step then skips the
update and forgets the gradient), within ``step_sizes``; the parameter moves by its step
size against the gradient's sign.  The learning rate only sets the first step sizes.
Follows PyTorch's single-tensor algorithm operation by operation, so float32
trajectories agree with PyTorch's to rounding; a NaN gradient makes its parameter NaN,
where PyTorch's ``sign(nan) = 0`` leaves it unchanged (docs/pytorch-differences.md).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from ..tensor import Tensor
from .arrays import scalar_type
from .optimizer import (
    Optimizer,
    check_lr,
    check_no_differentiable,
    check_not_capturable,
    new_step,
    params_with_grad,
    scalar_value,
)


class Rprop(Optimizer):
    """``step_size *= etaplus or etaminus`` by the sign of ``grad * prev``; ``p -= sign(grad) * step_size``."""

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-2,
        etas: tuple[float, float] = (0.5, 1.2),
        step_sizes: tuple[float, float] = (1e-6, 50),
        *,
        capturable: bool = False,
        foreach: bool | None = None,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        check_lr(lr)
        if not 0.0 < etas[0] < 1.0 < etas[1]:
            raise ValueError(f"Invalid eta values: {etas[0]}, {etas[1]}")
        check_no_differentiable("Rprop", differentiable)
        defaults = {
            "lr": lr,
            "etas": etas,
            "step_sizes": step_sizes,
            "foreach": foreach,
            "maximize": maximize,
            "differentiable": differentiable,
            "capturable": capturable,
        }
        super().__init__(params, defaults)

    restored_defaults = {"foreach": None, "maximize": False, "differentiable": False, "capturable": False}

    def _update_group(self, xp, group: dict[str, Any]) -> None:
        etaminus, etaplus = group["etas"]
        low, high = group["step_sizes"]
        for p in params_with_grad(group):
            state = self.state[p]
            if len(state) == 0:
                state["step"] = new_step()
                state["prev"] = Tensor._wrap(np.zeros_like(p._data))
                state["step_size"] = Tensor._wrap(np.full_like(p._data, scalar_value(group["lr"])))
            check_not_capturable("Rprop", group)
            data = xp.data(p)
            f = scalar_type(data)
            grad = xp.grad(p)
            if group["maximize"]:
                grad = -grad
            xp.increment(state["step"])
            prev, step_size = state["prev"], state["step_size"]
            # the factor per element: etaplus where grad * prev > 0, etaminus where < 0, else 1
            factor = xp.sign(grad * xp.data(prev))
            factor = xp.select(factor > 0, f(etaplus), factor)
            factor = xp.select(factor < 0, f(etaminus), factor)
            factor = xp.select(factor == 0, f(1), factor)
            sizes = xp.data(step_size)
            sizes *= factor
            xp.clamp_(sizes, low, high)
            xp.touched(step_size)
            grad = xp.select(factor == f(etaminus), f(0), grad)
            data -= xp.sign(grad) * sizes
            xp.touched(p)
            xp.assign(xp.data(prev), grad)
            xp.touched(prev)
