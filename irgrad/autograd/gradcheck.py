"""Finite-difference checks of gradients (``gradcheck``) and of gradients of gradients.

The whole Jacobian of every floating output with respect to every input that
requires grad is compared: autograd's (one vector-Jacobian product per output
element) against central finite differences (two calls of the function per input
element).  Use float64 inputs; float32 differences are too coarse.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence

import numpy as np

from ..tensor import Tensor
from .engine import grad as autograd_grad


class GradcheckError(RuntimeError):
    """Raised when analytical and numerical gradients disagree."""


# PyTorch's gradcheck options that select extra checks irgrad does not run (batched
# gradients, forward-mode AD, complex inputs ...); accepted so PyTorch code runs.
_IGNORED_OPTIONS = frozenset(
    {
        "check_undefined_grad",
        "check_grad_dtypes",
        "check_batched_grad",
        "check_batched_forward_grad",
        "check_forward_ad",
        "check_backward_ad",
        "masked",
        "check_sparse_nnz",
        "fast_mode",
        "gen_non_contig_grad_outputs",
        "check_fwd_over_rev",
        "check_rev_over_rev",
    }
)


def _as_tuple(x) -> tuple:
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _float_outputs(fn: Callable, inputs: tuple) -> list:
    return [o for o in _as_tuple(fn(*inputs)) if isinstance(o, Tensor) and o.is_floating_point()]


def _numerical_jacobian(fn: Callable, inputs: tuple, target, eps: float) -> list[np.ndarray]:
    """One (numel(target) x numel(output)) matrix per output, by central differences.

    The input's storage is perturbed directly (no version bump, as PyTorch does
    through ``.data``), and ``fn`` runs in the caller's grad mode so functions that
    differentiate internally (gradgradcheck) still work.
    """
    data = target._data
    n_out = len(_float_outputs(fn, inputs))
    columns: list[list[np.ndarray]] = []
    for idx in np.ndindex(data.shape):
        original = data[idx].copy()
        data[idx] = original + eps
        plus = [o._data.astype(np.float64).ravel() for o in _float_outputs(fn, inputs)]
        data[idx] = original - eps
        minus = [o._data.astype(np.float64).ravel() for o in _float_outputs(fn, inputs)]
        data[idx] = original
        columns.append([(p - m) / (2 * eps) for p, m in zip(plus, minus)])
    if not columns:
        return [np.zeros((0, o)) for o in range(n_out)]
    return [np.stack([col[k] for col in columns]) for k in range(n_out)]


def _analytical_jacobian(fn: Callable, inputs: tuple, targets: list) -> list[list[np.ndarray]]:
    """jac[i][k]: (numel(targets[i]) x numel(output k)), one backward per output element."""
    outputs = _float_outputs(fn, inputs)
    jac = [[np.zeros((t._data.size, o._data.size)) for o in outputs] for t in targets]
    for k, out in enumerate(outputs):
        if not out._rg:
            continue
        for j in range(out._data.size):
            seed = np.zeros(out._data.size, dtype=out._data.dtype)
            seed[j] = 1
            grads = autograd_grad(
                out,
                targets,
                Tensor._wrap(seed.reshape(out._data.shape)),
                retain_graph=True,
                allow_unused=True,
            )
            for i, g in enumerate(grads):
                if g is not None:
                    jac[i][k][:, j] = g._data.astype(np.float64).ravel()
    return jac


def _fail(message: str, raise_exception: bool) -> bool:
    if raise_exception:
        raise GradcheckError(message)
    return False


def gradcheck(
    func: Callable,
    inputs,
    *,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
    nondet_tol: float = 0.0,
    **options,
) -> bool:
    """Compare autograd's gradients of ``func`` with central finite differences.

    Every input that requires grad is perturbed element by element.  The backward
    pass is also run twice and must agree with itself within ``nondet_tol``.
    Returns True, or on a mismatch raises :class:`GradcheckError` (``False`` with
    ``raise_exception=False``).  PyTorch's options for extra checks (batched grads,
    forward AD, ``fast_mode`` ...) are accepted and do not change what is checked:
    the full Jacobian comparison always runs.
    """
    unknown = set(options) - _IGNORED_OPTIONS
    if unknown:
        raise TypeError(f"gradcheck() got unexpected keyword arguments {sorted(unknown)}")
    inputs = _as_tuple(inputs)
    targets = [t for t in inputs if isinstance(t, Tensor) and t._rg]
    if not targets:
        raise ValueError(
            "gradcheck expects at least one input tensor to require gradient, but none of the them have requires_grad=True."
        )
    positions = [next(n for n, x in enumerate(inputs) if x is t) for t in targets]
    for pos, t in zip(positions, targets):
        if t._data.dtype != np.float64:
            warnings.warn(
                f"Input #{pos} requires gradient and is not a double precision floating point. "
                "The check will likely fail if all the inputs are not of double precision "
                "floating point.",
                UserWarning,
                stacklevel=2,
            )
    analytical = _analytical_jacobian(func, inputs, targets)
    repeated = _analytical_jacobian(func, inputs, targets)
    for i, pos in enumerate(positions):
        for k, (first, second) in enumerate(zip(analytical[i], repeated[i])):
            if first.size and np.abs(first - second).max() > nondet_tol:
                return _fail(
                    f"Backward is not reentrant, i.e., running backward with same input and "
                    f"grad_output multiple times gives different values, although analytical "
                    f"gradient matches numerical gradient. The tolerance for nondeterminism was "
                    f"{nondet_tol}. (output {k}, input {pos})",
                    raise_exception,
                )
    for i, (pos, t) in enumerate(zip(positions, targets)):
        numerical = _numerical_jacobian(func, inputs, t, eps)
        for k, (num, ana) in enumerate(zip(numerical, analytical[i])):
            if num.shape != ana.shape or not np.allclose(ana, num, rtol=rtol, atol=atol):
                return _fail(
                    f"Jacobian mismatch for output {k} with respect to input {pos},\n"
                    f"numerical:{num}\nanalytical:{ana}\n",
                    raise_exception,
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
    nondet_tol: float = 0.0,
    **options,
) -> bool:
    """Check second derivatives: ``gradcheck`` of ``(inputs, v) -> vᵀ·d func/d inputs``.

    ``grad_outputs`` (the ``v``) are random, and checked as inputs too, when not given.
    """
    inputs = _as_tuple(inputs)
    outputs = _float_outputs(func, inputs)
    if grad_outputs is None:
        rng = np.random.default_rng(0)
        grad_outputs = [
            Tensor._wrap(rng.standard_normal(o._data.shape).astype(o._data.dtype), requires_grad=True)
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
        nondet_tol=nondet_tol,
        **options,
    )
