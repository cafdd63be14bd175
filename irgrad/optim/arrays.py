"""The array namespaces update rules are written against: numpy storage, or recorded tensors.

An optimizer's ``step`` is written once, in numpy's operator style (``data += f(-lr) *
grad``), against one of two namespaces:

* :data:`EAGER` works on the parameters' and state's numpy storage in place, recording
  nothing: PyTorch's update under ``no_grad``, at numpy's speed;
* :data:`TRACED`, chosen while ``irgrad.compile`` captures a function that steps an
  optimizer, works on the tensors themselves through in-place tensor ops under
  ``no_grad``, so the tracer records the update as graph ops that write parameters and
  state back.

Both run the same operations in the same order with the same roundings (``f(x)``
rounds a Python number to the parameter dtype first, as ATen does), so a compiled step
equals the eager one.  Bias corrections and the learning rate, Python floats eagerly,
are float64 0-d tensors when traced: the bias corrections follow the step counter from
call to call, and the learning rate is a graph input, so changing it does not recompile.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import numpy as np

from .. import _tracing
from ..dtypes import float64, from_numpy_dtype
from ..recording.grad_mode import no_grad
from ..tensor import Tensor
from ..tensor_ops.select import where


class _Eager:
    """Numpy storage, updated in place (see the module doc)."""

    traced = False
    sqrt = staticmethod(np.sqrt)
    abs = staticmethod(np.abs)
    sign = staticmethod(np.sign)

    @staticmethod
    def select(condition, if_true, otherwise):
        """``if_true`` where ``condition`` holds, else ``otherwise`` (elementwise)."""
        return np.where(condition, if_true, otherwise).astype(np.result_type(if_true, otherwise), copy=False)

    @staticmethod
    def clamp_(target: np.ndarray, low: float, high: float) -> None:
        np.clip(target, low, high, out=target)

    @staticmethod
    def updating():
        return contextlib.nullcontext()

    @staticmethod
    def data(t: Tensor) -> np.ndarray:
        return t._data

    @staticmethod
    def grad(p: Tensor) -> np.ndarray:
        return p._grad._data

    @staticmethod
    def touched(t: Tensor) -> None:
        t._bump_version()

    @staticmethod
    def assign(target: np.ndarray, value) -> None:
        np.copyto(target, value)

    @staticmethod
    def maximum_(target: np.ndarray, other) -> None:
        np.maximum(target, other, out=target)

    @staticmethod
    def new_state(value: np.ndarray) -> Tensor:
        """A state tensor holding a copy of ``value``."""
        return Tensor._wrap(value.copy())

    @staticmethod
    def increment(step: Tensor) -> float:
        """Add one to a ``step`` counter in place; its new value, for bias corrections."""
        step._data += 1
        step._bump_version()
        return float(step._data)

    @staticmethod
    def value(t: Tensor) -> float:
        """A 0-d state tensor's value (NAdam's ``mu_product``) for coefficient arithmetic,
        read as PyTorch's single-tensor update reads it (``.item()``)."""
        return float(t._data)

    @staticmethod
    def rounded(value: float, f):
        """A coefficient computed from the step count or the learning rate, rounded to the
        parameter dtype."""
        return f(value)

    @staticmethod
    def at_least(value: float, low: float) -> float:
        """A coefficient kept at or above ``low``."""
        return max(value, low)

    @staticmethod
    def choose(condition: bool, if_true, otherwise):
        """``if_true()`` or ``otherwise`` as a step-dependent ``condition`` says (RAdam's
        rectification): ``if_true`` is computed only when it is chosen."""
        return if_true() if condition else otherwise

    @staticmethod
    def hyperparameter(group: dict, key: str):
        """``group[key]``: the learning rate, a momentum, Adam's ``betas`` (a tuple), as Python
        floats (a one-element tensor is accepted)."""
        value = group[key]
        if isinstance(value, tuple):
            return tuple(float(v) if isinstance(v, Tensor) else v for v in value)
        return float(value) if isinstance(value, Tensor) else value

    @staticmethod
    def test(group: dict, key: str, predicate: Callable[[Any], bool]) -> bool:
        """``predicate(group[key])``: a Python branch on a hyperparameter (``momentum != 0``)."""
        return predicate(group[key])


class _Traced:
    """Tensors, updated through recorded in-place ops (see the module doc)."""

    traced = True

    @staticmethod
    def updating():
        return no_grad()

    @staticmethod
    def sqrt(x: Tensor) -> Tensor:
        return x.sqrt()

    @staticmethod
    def data(t: Tensor) -> Tensor:
        return t

    @staticmethod
    def grad(p: Tensor) -> Tensor:
        return p._grad

    @staticmethod
    def touched(t: Tensor) -> None:
        """In-place tensor ops bump the version themselves."""

    @staticmethod
    def assign(target: Tensor, value) -> None:
        target.copy_(value)

    @staticmethod
    def maximum_(target: Tensor, other) -> None:
        target.copy_(target.maximum(other))

    @staticmethod
    def new_state(value: Tensor) -> Tensor:
        return value.clone()

    @staticmethod
    def increment(step: Tensor) -> Tensor:
        step.add_(1)
        return step.to(float64)

    @staticmethod
    def abs(x: Tensor) -> Tensor:
        return x.abs()

    @staticmethod
    def sign(x: Tensor) -> Tensor:
        return x.sign()

    @staticmethod
    def select(condition: Tensor, if_true, otherwise) -> Tensor:
        return where(condition, if_true, otherwise)

    @staticmethod
    def clamp_(target: Tensor, low: float, high: float) -> None:
        target.clamp_(low, high)

    @staticmethod
    def value(t: Tensor) -> Tensor:
        """The 0-d state tensor as a float64 0-d tensor, so coefficients computed from it
        follow its value from call to call."""
        return t.to(float64)

    @staticmethod
    def rounded(value, f):
        if isinstance(value, Tensor):
            return value.to(from_numpy_dtype(np.dtype(f)))
        return f(value)

    @staticmethod
    def at_least(value: Tensor, low: float) -> Tensor:
        return value.clamp(min=low)

    @staticmethod
    def choose(condition: Tensor, if_true, otherwise) -> Tensor:
        """``if_true()`` where the 0-d ``condition`` holds, else ``otherwise``: both are
        computed, because the condition follows the step counter, a graph input, and
        Python branching on it would read a traced value (a graph break).  So ``if_true``
        must stay finite where it is not chosen (``debug_nans`` checks every value)."""
        return if_true().where(condition, otherwise)

    @staticmethod
    def hyperparameter(group: dict, key: str):
        """``group[key]`` as a graph input (a float64 0-d tensor fetched at every call; a
        tuple of them for ``betas``), so a scheduler changing a rate or cycling a momentum
        between calls does not recompile the step."""
        value = dict.__getitem__(group, key)  # not a read as a Python value: the lift below
        if isinstance(value, tuple):
            return tuple(_lifted(group, key, v, i) for i, v in enumerate(value))
        return _lifted(group, key, value)

    @staticmethod
    def test(group: dict, key: str, predicate: Callable[[Any], bool]) -> bool:
        """``predicate(group[key])``, guarded on its answer rather than on the value, which
        may be a graph input (see :meth:`hyperparameter`)."""
        return _tracing.test(group, key, predicate)


def _lifted(group: dict, key: str, value, index: int | None = None):
    if isinstance(value, Tensor):
        return value.to(float64)
    return _tracing.lift(group, key, index)


EAGER = _Eager()
TRACED = _Traced()


def namespace():
    """The namespace an update runs against now: :data:`TRACED` while a tracer records."""
    return TRACED if _tracing.tracing() else EAGER


def lerp_(xp, target, end, weight: float) -> None:
    """``target.lerp_(end, weight)`` with PyTorch's two-branch formula (exact at weight 0 and 1)."""
    f = scalar_type(target)
    w = xp.rounded(weight, f)
    diff = end - target
    if isinstance(w, Tensor):  # a graph input (Adam's cycled beta1): both branches, chosen per call
        xp.assign(target, (target + diff * w).where(w.abs() < 0.5, end - diff * (f(1) - w)))
    elif abs(w) < 0.5:
        diff *= w
        target += diff
    else:
        diff *= f(1) - w
        xp.assign(target, end - diff)


def weight_decayed(xp, data, grad, lr, weight_decay: float, decoupled: bool = False):
    """``grad`` with L2 weight decay added (``grad + wd * p``); with ``decoupled`` (AdamW's
    form) ``grad`` unchanged and the parameter's ``data`` shrunk in place by ``1 - lr * wd``."""
    if weight_decay == 0:
        return grad
    f = scalar_type(data)
    if decoupled:
        data *= xp.rounded(1 - lr * weight_decay, f)
        return grad
    return grad + f(weight_decay) * data


def adam_moments_(xp, state: dict, grad, beta1: float, beta2: float):
    """Adam's running moments updated in place: ``exp_avg`` toward ``grad`` by ``1 - beta1``,
    ``exp_avg_sq = beta2 * exp_avg_sq + (1 - beta2) * grad**2``; returns the latter's data."""
    exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
    lerp_(xp, xp.data(exp_avg), grad, 1 - beta1)
    v = xp.data(exp_avg_sq)
    f = scalar_type(v)
    v *= xp.rounded(beta2, f)
    v += xp.rounded(1 - beta2, f) * grad * grad
    xp.touched(exp_avg)
    xp.touched(exp_avg_sq)
    return v


def nonzero(value) -> bool:
    """A branch predicate for :meth:`_Traced.test` (``if momentum != 0``)."""
    return value != 0


def positive(value) -> bool:
    """A branch predicate for :meth:`_Traced.test` (``if momentum > 0``)."""
    return value > 0


def scalar_type(x):
    """The numpy scalar type of an array's or a tensor's dtype (``f`` in the update rules)."""
    return (x._data if isinstance(x, Tensor) else x).dtype.type
