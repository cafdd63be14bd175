"""``Adafactor``: Adam-like steps with a factored second moment, as ``torch.optim.Adafactor``.

A parameter of two or more dims keeps only the running means of its squared gradient
over its last dim (``row_var``) and over its second-to-last (``col_var``), whose outer
product over the rows' mean estimates the full second moment: memory grows with rows
plus columns, not their product.  A vector keeps the full ``variance``.  Each step is
scaled by the parameter's RMS (at least ``eps[1]``) times ``min(lr, 1/sqrt(step))`` and
clipped so the update's RMS stays at most ``d``.

The step sizes are read from norms as Python numbers (PyTorch's ``.item()``), so under
``irgrad.compile`` the step is a graph break and runs eagerly.  ``foreach`` differs from
the loop only in float rounding, as in PyTorch; both are the one loop here.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from .. import _tracing
from ..tensor import Tensor
from .arrays import EAGER, lerp_, scalar_type
from .optimizer import Optimizer, new_step, params_with_grad


class Adafactor(Optimizer):
    """Adafactor (Shazeer and Stern, 2018) with PyTorch's use of ``lr`` (the cap on the
    relative step size, and the decoupled weight decay's factor) and of ``eps[0]`` (the
    floor of the variance estimate; ``None``: the dtype's machine epsilon)."""

    def __init__(
        self,
        params: Iterable[Any],
        lr: float | Tensor = 1e-2,
        beta2_decay: float = -0.8,
        eps: tuple[float | None, float] = (None, 1e-3),
        d: float = 1.0,
        weight_decay: float = 0.0,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
    ) -> None:
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if not 0.0 <= lr:
            raise ValueError(f"Learning rate should be >= 0 but is: {lr}")
        if not 0.0 >= beta2_decay:
            raise ValueError(f"beta2_decay should be <= 0 but is: {beta2_decay}")
        if eps[0] is not None and not 0.0 <= eps[0]:
            raise ValueError(f"epsilon1 should be >= 0 but is: {eps[0]}")
        if not 0.0 <= eps[1]:
            raise ValueError(f"epsilon2 should be >= 0 but is: {eps[1]}")
        if not 1.0 <= d:
            raise ValueError(f"Clipping threshold d should be >= 1 but is: {d}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"weight_decay should be >= 0 but is: {weight_decay}")
        defaults = {
            "lr": lr,
            "beta2_decay": beta2_decay,
            "eps": eps,
            "d": d,
            "weight_decay": weight_decay,
            "foreach": foreach,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    restored_defaults = {"foreach": None}

    def _update_group(self, xp, group: dict[str, Any]) -> None:
        """PyTorch's single-tensor update, on the numpy storage (see the module doc)."""
        _tracing.untraceable("Adafactor.step() (its step sizes are norms read as Python numbers)")
        lr = EAGER.hyperparameter(group, "lr")
        eps1, eps2 = group["eps"]
        beta2_decay, d, weight_decay = group["beta2_decay"], group["d"], group["weight_decay"]
        for p in params_with_grad(group):
            grad = EAGER.grad(p)
            if group["maximize"]:
                grad = -grad
            state = self.state[p]
            if len(state) == 0:
                self._init_state(state, grad)
            data = EAGER.data(p)
            f = scalar_type(data)
            if eps1 is None:  # as PyTorch's loop: the first parameter's dtype serves the group
                eps1 = float(np.finfo(data.dtype).eps)
            step = EAGER.increment(state["step"])
            one_minus_beta2 = step**beta2_decay
            rho = min(lr, 1 / step**0.5)
            alpha = max(eps2, _norm(data) / math.sqrt(data.size)) * rho
            if weight_decay != 0:
                data *= f(1 - lr * weight_decay)
            if grad.ndim > 1:
                estimate = self._factored_estimate(state, grad, one_minus_beta2, f(eps1))
            else:
                variance = state["variance"]
                lerp_(EAGER, variance._data, grad * grad, one_minus_beta2)
                variance._bump_version()
                estimate = variance._data.copy()
            np.maximum(estimate, f(eps1 * eps1), out=estimate)
            update = f(1) / np.sqrt(estimate)
            update *= grad
            denom = max(1.0, _norm(update) / (math.sqrt(update.size) * d))
            update *= f(-alpha / denom)
            data += update
            EAGER.touched(p)

    @staticmethod
    def _init_state(state: dict[str, Any], grad: np.ndarray) -> None:
        """``step``, and the factored moments (a parameter of 2+ dims) or the full one."""
        state["step"] = new_step()
        if grad.ndim > 1:
            state["row_var"] = Tensor._wrap(np.zeros(grad.shape[:-1] + (1,), grad.dtype))
            state["col_var"] = Tensor._wrap(np.zeros(grad.shape[:-2] + (1,) + grad.shape[-1:], grad.dtype))
        else:
            state["variance"] = Tensor._wrap(np.zeros_like(grad))

    @staticmethod
    def _factored_estimate(state: dict[str, Any], grad: np.ndarray, weight: float, eps1) -> np.ndarray:
        """The running row and column means of ``grad ** 2`` moved toward this step's by
        ``weight``; their outer product over the rows' mean (at least ``eps1``)."""
        row_var, col_var = state["row_var"], state["col_var"]
        f = scalar_type(grad)
        squared = grad * grad
        lerp_(EAGER, row_var._data, squared.sum(axis=-1, keepdims=True) / f(grad.shape[-1]), weight)
        lerp_(EAGER, col_var._data, squared.sum(axis=-2, keepdims=True) / f(grad.shape[-2]), weight)
        row_var._bump_version()
        col_var._bump_version()
        estimate = row_var._data * col_var._data
        estimate /= np.maximum(row_var._data.mean(axis=-2, keepdims=True), eps1)
        return estimate


def _norm(a: np.ndarray) -> float:
    """The 2-norm of all of ``a``, computed in its dtype and read as a Python float."""
    return float(np.sqrt(np.sum(a * a, dtype=a.dtype)))
