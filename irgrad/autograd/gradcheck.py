"""Finite-difference checks of gradients (``gradcheck``) and of gradients of gradients."""

from __future__ import annotations

import warnings
from typing import Callable, Sequence

import numpy as np

from .engine import grad as autograd_grad
from .grad_mode import no_grad


class GradcheckError(RuntimeError):
    """Raised when analytical and numerical gradients disagree."""


def _as_tuple(x) -> tuple:
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _float_outputs(fn: Callable, inputs: tuple) -> list:
    from ..tensor import Tensor

    return [o for o in _as_tuple(fn(*inputs)) if isinstance(o, Tensor) and o.is_floating_point()]


def _numerical_jacobian(fn: Callable, inputs: tuple, target, eps: float) -> list[np.ndarray]:
    """One (numel(target) x numel(output)) matrix per output, by central differences."""
    data = target._data
    columns: list[list[np.ndarray]] = []
    with no_grad():
        for idx in np.ndindex(data.shape):
            original = data[idx].copy()
            data[idx] = original + eps
            plus = [o._data.astype(np.float64).ravel().copy() for o in _float_outputs(fn, inputs)]
            data[idx] = original - eps
            minus = [o._data.astype(np.float64).ravel().copy() for o in _float_outputs(fn, inputs)]
            data[idx] = original
            columns.append([(p - m) / (2 * eps) for p, m in zip(plus, minus)])
    n_out = len(_float_outputs(fn, inputs))
    return [
        np.stack([col[k] for col in columns]) if columns else np.zeros((0, 0)) for k in range(n_out)
    ]


def _analytical_jacobian(fn: Callable, inputs: tuple, targets: list) -> list[list[np.ndarray]]:
    """jac[i][k]: (numel(targets[i]) x numel(output k)), one backward per output element."""
    from ..tensor import Tensor

    outputs = _float_outputs(fn, inputs)
    jac = [[np.zeros((t._data.size, o._data.size)) for o in outputs] for t in targets]
    for k, out in enumerate(outputs):
        for j in range(out._data.size):
            seed = np.zeros(out._data.size, dtype=out._data.dtype)
            seed[j] = 1
            if not out._rg:
                continue
            grads = autograd_grad(
                out, targets, Tensor._wrap(seed.reshape(out._data.shape)), retain_graph=True, allow_unused=True
            )
            for i, g in enumerate(grads):
                if g is not None:
                    jac[i][k][:, j] = g._data.astype(np.float64).ravel()
    return jac


def gradcheck(
    func: Callable,
    inputs,
    *,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
    nondet_tol: float = 0.0,
    check_undefined_grad: bool = True,
    fast_mode: bool = False,
) -> bool:
    """Compare autograd's gradients of ``func`` with central finite differences.

    Every input that requires grad is perturbed element by element; use float64
    inputs (float32 finite differences are too coarse).
    """
    from ..tensor import Tensor

    inputs = _as_tuple(inputs)
    targets = [t for t in inputs if isinstance(t, Tensor) and t._rg]
    if not targets:
        raise ValueError("gradcheck expects at least one input tensor to require gradient")
    for t in targets:
        if t._data.dtype != np.float64:
            warnings.warn(
                f"Input #{inputs.index(t)} requires gradient and is not a double precision floating "
                "point. The check will likely fail if all the inputs are not of double precision "
                "floating point.",
                UserWarning,
                stacklevel=2,
            )
    analytical = _analytical_jacobian(func, inputs, targets)
    for i, t in enumerate(targets):
        numerical = _numerical_jacobian(func, inputs, t, eps)
        for k, (num, ana) in enumerate(zip(numerical, analytical[i])):
            if num.shape != ana.shape or not np.allclose(ana, num, rtol=rtol, atol=atol):
                if not raise_exception:
                    return False
                raise GradcheckError(
                    f"Jacobian mismatch for output {k} with respect to input {inputs.index(t)},\n"
                    f"numerical:{num}\nanalytical:{ana}\n"
                )
    return True


def gradgradcheck(
    func: Callable,
    inputs,
    grad_outputs: Sequence | None = None,
    *,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
    **kwargs,
) -> bool:
    """Check second derivatives: gradcheck of the function ``inputs -> grad of func``."""
    from ..tensor import Tensor

    inputs = _as_tuple(inputs)
    outputs = _float_outputs(func, inputs)
    rng = np.random.default_rng(0)
    if grad_outputs is None:
        grad_outputs = [
            Tensor._wrap(rng.standard_normal(o._data.shape).astype(o._data.dtype)).requires_grad_(True)
            for o in outputs
        ]
    grad_outputs = list(_as_tuple(grad_outputs))
    n_in = len(inputs)

    def first_derivative(*args):
        ins, gos = args[:n_in], args[n_in:]
        targets = [t for t in ins if isinstance(t, Tensor) and t._rg]
        outs = _float_outputs(func, ins)
        grads = autograd_grad(outs, targets, list(gos), create_graph=True, allow_unused=True)
        return tuple(g for g in grads if g is not None)

    return gradcheck(
        first_derivative,
        inputs + tuple(grad_outputs),
        eps=eps,
        atol=atol,
        rtol=rtol,
        raise_exception=raise_exception,
    )
