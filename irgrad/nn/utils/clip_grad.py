"""Gradient clipping: clip_grad_norm_, clip_grad_value_ (PyTorch's formulas, in place on ``.grad``)."""

from __future__ import annotations

import math
from collections.abc import Iterable

from ...creation import tensor, zeros
from ...dtypes import float64
from ...recording.grad_mode import no_grad
from ...tensor import Tensor
from ...tensor_ops.split_join import stack

__all__ = ["clip_grad_norm_", "clip_grad_norm", "clip_grad_value_", "get_total_norm", "clip_grads_with_norm_"]


def _as_list(tensors: Tensor | Iterable[Tensor]) -> list[Tensor]:
    return [tensors] if isinstance(tensors, Tensor) else list(tensors)


def _vector_norm(t: Tensor, p: float) -> Tensor:
    """The p-norm of ``t`` flattened, computed in float64 with tensor ops (so a tracer records it)."""
    x = t.reshape(-1).to(float64).abs()
    if x.shape[0] == 0:
        if math.isinf(p):  # the max (or min) of nothing has no value (PyTorch's messages)
            what = (
                "_foreach_norm cannot compute the infinity"
                if p > 0
                else "linalg.vector_norm cannot compute the -inf"
            )
            raise RuntimeError(
                f"{what} norm on an empty tensor because the operation does not have an identity"
            )
        return zeros((), dtype=float64)
    if p == math.inf:
        return x.max()
    if p == -math.inf:
        return x.min()
    if p == 0:
        return (x != 0).sum().to(float64)
    if p == 2:
        return (x * x).sum().sqrt()
    if p == 1:
        return x.sum()
    return (x**p).sum() ** (1.0 / p)


def get_total_norm(
    tensors: Tensor | Iterable[Tensor], norm_type: float = 2.0, error_if_nonfinite: bool = False, foreach=None
) -> Tensor:
    """The p-norm of all ``tensors`` taken together as one vector (a 0-d tensor of their dtype)."""
    tensors = _as_list(tensors)
    norm_type = float(norm_type)
    if not tensors:
        return tensor(0.0)
    with no_grad():
        total = _vector_norm(stack([_vector_norm(t, norm_type) for t in tensors]), norm_type)
        if error_if_nonfinite and not math.isfinite(float(total)):
            raise RuntimeError(
                f"The total norm of order {norm_type} for gradients from `parameters` is non-finite, so it "
                "cannot be clipped. To disable this error and scale the gradients by the non-finite norm "
                "anyway, set `error_if_nonfinite=False`"
            )
        return total.to(tensors[0].dtype)


def clip_grads_with_norm_(
    parameters: Tensor | Iterable[Tensor], max_norm: float, total_norm: Tensor, foreach=None
) -> None:
    """Scale every gradient by ``min(max_norm / (total_norm + 1e-6), 1)``."""
    grads = [p._grad for p in _as_list(parameters) if p._grad is not None]
    if not grads:
        return
    with no_grad():
        coef = (float(max_norm) / (total_norm.to(float64) + 1e-6)).clamp(max=1.0)
        for g in grads:
            g.mul_(coef)


def clip_grad_norm_(
    parameters: Tensor | Iterable[Tensor],
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
    foreach=None,
) -> Tensor:
    """Rescale gradients so their total ``norm_type``-norm is at most ``max_norm``; returns the norm before."""
    parameters = _as_list(parameters)
    grads = [p._grad for p in parameters if p._grad is not None]
    if not grads:
        return tensor(0.0)
    total = get_total_norm(grads, norm_type, error_if_nonfinite)
    clip_grads_with_norm_(parameters, max_norm, total)
    return total


def clip_grad_norm(
    parameters: Tensor | Iterable[Tensor],
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
    foreach=None,
) -> Tensor:
    """Deprecated alias of :func:`clip_grad_norm_`."""
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite)


def clip_grad_value_(parameters: Tensor | Iterable[Tensor], clip_value: float, foreach=None) -> None:
    """Clamp every gradient into ``[-clip_value, clip_value]`` in place."""
    clip_value = float(clip_value)
    with no_grad():
        for p in _as_list(parameters):
            if p._grad is not None:
                p._grad.clamp_(-clip_value, clip_value)
