"""Helpers of the distributions, as ``torch.distributions.utils``: broadcasting
parameters, converting between probabilities and logits, and ``lazy_property``."""

from __future__ import annotations

from collections.abc import Callable
from functools import update_wrapper
from numbers import Number
from typing import Any

from ..autograd import enable_grad
from ..creation import tensor
from ..dtypes import finfo, get_default_dtype
from ..nn import functional as F
from ..tensor import Tensor
from ..tensor_ops.shape import broadcast_tensors

__all__ = ["broadcast_all", "clamp_probs", "lazy_property", "logits_to_probs", "probs_to_logits"]


def broadcast_all(*values: Tensor | Number) -> tuple[Tensor, ...]:
    """``values`` broadcast against each other; numbers become tensors of the first
    tensor's dtype (the default dtype when all are numbers)."""
    if not all(isinstance(v, (Tensor, Number)) for v in values):
        raise ValueError(
            "Input arguments must all be instances of Number, torch.Tensor or objects implementing __torch_function__."
        )
    dtype = next((v.dtype for v in values if isinstance(v, Tensor)), get_default_dtype())
    return broadcast_tensors(*(v if isinstance(v, Tensor) else tensor(v, dtype=dtype) for v in values))


def sum_rightmost(value: Tensor, dim: int) -> Tensor:
    """``value`` summed over its ``dim`` rightmost dims."""
    if dim == 0:
        return value
    return value.reshape(tuple(value.shape[:-dim]) + (-1,)).sum(-1)


def logits_to_probs(logits: Tensor, is_binary: bool = False) -> Tensor:
    """Probabilities from log-odds (``is_binary``) or from unnormalized log probabilities
    along the last dim."""
    return logits.sigmoid() if is_binary else F.softmax(logits, dim=-1)


def clamp_probs(probs: Tensor) -> Tensor:
    """``probs`` clamped to ``[eps, 1 - eps]`` of their dtype (so their logs are finite)."""
    eps = finfo(probs.dtype).eps
    return probs.clamp(min=eps, max=1 - eps)


def probs_to_logits(probs: Tensor, is_binary: bool = False) -> Tensor:
    """Log-odds (``is_binary``) or log probabilities of ``probs``, clamped first."""
    ps_clamped = clamp_probs(probs)
    if is_binary:
        return ps_clamped.log() - (-ps_clamped).log1p()
    return ps_clamped.log()


def expand_probs_or_logits(old: Any, new: Any, shape: tuple) -> None:
    """Set on ``new`` whichever of ``old``'s ``probs`` and ``logits`` exist (given or
    already computed), expanded to ``shape``; ``_param`` is the last of them, as PyTorch."""
    for name in ("probs", "logits"):
        if name in old.__dict__:
            new._param = old.__dict__[name].expand(shape)
            setattr(new, name, new._param)


class lazy_property:
    """A property computed (with grad enabled) on first access and then stored on the
    instance: ``Categorical`` given ``probs`` computes ``logits`` only when asked."""

    def __init__(self, wrapped: Callable[[Any], Any]) -> None:
        self.wrapped = wrapped
        update_wrapper(self, wrapped)  # type: ignore[arg-type]

    def __get__(self, instance: Any, obj_type: Any = None) -> Any:
        if instance is None:
            return self
        with enable_grad():
            value = self.wrapped(instance)
        setattr(instance, self.wrapped.__name__, value)
        return value
