"""Finite differences for functions of complex (and real) tensors, without PyTorch: the
gradient PyTorch's convention gives a complex input ``z = x + iy`` of a real loss,
``dL/dx + i dL/dy``, by central differences on each part in float64."""

from __future__ import annotations

import numpy as np

import irgrad


def numerical_gradient(loss, arrays: list[np.ndarray], eps: float = 1e-6) -> list[np.ndarray]:
    """``loss(*tensors) -> real 0-d tensor``'s gradient at ``arrays`` by central differences."""

    def value(values):
        return float(loss(*[irgrad.tensor(v) for v in values]))

    grads = []
    for k, a in enumerate(arrays):
        g = np.zeros_like(a)
        parts = (1.0, 1j) if a.dtype.kind == "c" else (1.0,)
        for i in np.ndindex(a.shape):
            for unit in parts:
                up = [v.copy() for v in arrays]
                down = [v.copy() for v in arrays]
                up[k][i] += unit * eps
                down[k][i] -= unit * eps
                g[i] += unit * (value(up) - value(down)) / (2 * eps)
        grads.append(g)
    return grads


def autograd_gradient(loss, arrays: list[np.ndarray]) -> list[np.ndarray]:
    tensors = [irgrad.tensor(a, requires_grad=True) for a in arrays]
    loss(*tensors).backward()
    return [t.grad.numpy() for t in tensors]


def check_gradient(loss, arrays: list[np.ndarray], rtol: float = 1e-5, atol: float = 1e-6) -> None:
    """``loss``'s autograd gradient equals its finite differences."""
    for got, expected in zip(autograd_gradient(loss, arrays), numerical_gradient(loss, arrays)):
        np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol)


def real_loss(out, weights_seed: int = 0):
    """A real loss of a complex or real result that weighs every part differently."""
    rng = np.random.default_rng(weights_seed)
    w = irgrad.tensor(rng.standard_normal(tuple(out.shape)))
    if out.is_complex():
        return (out.real**2 + out.imag * w).sum()
    return (out * w).sum()


def random_complex(rng, shape, away_from_zero: bool = False) -> np.ndarray:
    z = rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
    if away_from_zero:
        z = np.where(np.abs(z) < 0.3, z + 0.5, z)
    return z.astype(np.complex128)
