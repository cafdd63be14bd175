"""In-place random fills that PyTorch's Tensor has beside ``uniform_``/``normal_``:
``bernoulli_``, ``exponential_``, ``geometric_``, ``cauchy_``, ``log_normal_``,
``random_``, and ``bernoulli()``, with PyTorch's argument checks and value ranges.

The draws come from irgrad's generator (or the one given), by inverting each
distribution's CDF on uniform draws, so the values are not PyTorch's (docs: random
numbers); a draw while a compiled function traces breaks the graph, as other draws
outside the random ops do.
"""

from __future__ import annotations

import math

import numpy as np

from .._arguments import tensor_arguments
from ..creation import bernoulli as _bernoulli
from ..creation import check_probabilities
from ..dtypes import FLOAT, bool_
from ..random import resolve
from ..tensor import Tensor
from .writes import update_inplace

__all__ = ["bernoulli", "bernoulli_", "exponential_", "geometric_", "cauchy_", "log_normal_", "random_"]


def _fill(self: Tensor, values: np.ndarray, name: str) -> Tensor:
    return update_inplace(self, lambda old: Tensor._wrap(values.astype(old._data.dtype)), name=name)


def _uniform(self: Tensor, generator) -> np.ndarray:
    """Uniform draws in [0, 1), float64, of ``self``'s shape."""
    return resolve(generator).random(self._data.shape, np.float64)


def _continuous(self: Tensor, what: str) -> None:
    if self.dtype.category != FLOAT:
        raise RuntimeError(
            f"{what} is a continuous probability distribution. dtype must be a floating point but you "
            f"specified {self.dtype.scalar_type}"
        )


def bernoulli(self: Tensor, p=None, *, generator=None) -> Tensor:
    """``Tensor.bernoulli()``: 1 with probability ``self`` (or ``p``) at each position."""
    return _bernoulli(self, p, generator=generator)


@tensor_arguments
def bernoulli_(self: Tensor, p=0.5, *, generator=None) -> Tensor:
    """Fill with 1 with probability ``p`` (a number, or a tensor broadcast to ``self``), else 0."""
    if isinstance(p, Tensor):
        check_probabilities(p)
        prob = np.broadcast_to(p._data, self._data.shape)
    elif not 0 <= p <= 1:
        raise RuntimeError(f"bernoulli_ expects p to be in [0, 1], but got p={p}")
    else:
        prob = p
    return _fill(self, _uniform(self, generator) < prob, "bernoulli_")


def exponential_(self: Tensor, lambd: float = 1.0, *, generator=None) -> Tensor:
    """Fill with exponential draws of rate ``lambd``."""
    _continuous(self, "Exponential distribution")
    if not lambd > 0:
        raise RuntimeError(f"exponential_ expects lambda > 0.0, but found lambda={lambd}")
    return _fill(self, -np.log1p(-_uniform(self, generator)) / lambd, "exponential_")


def geometric_(self: Tensor, p: float, *, generator=None) -> Tensor:
    """Fill with the number of Bernoulli(``p``) trials up to the first success (1, 2, ...)."""
    if not 0 < p < 1:
        raise RuntimeError(f"geometric_ expects p to be in (0, 1), but got p={p}")
    if self.dtype is bool_:
        raise NotImplementedError("\"geometric_cpu\" not implemented for 'Bool'")
    trials = np.ceil(np.log1p(-_uniform(self, generator)) / math.log1p(-p))
    return _fill(self, np.maximum(trials, 1.0), "geometric_")


def cauchy_(self: Tensor, median: float = 0.0, sigma: float = 1.0, *, generator=None) -> Tensor:
    """Fill with Cauchy draws of location ``median`` and scale ``sigma``."""
    _continuous(self, "Cauchy distribution")
    if not sigma > 0:
        raise RuntimeError(f"cauchy_ expects sigma > 0.0, but found sigma={sigma}")
    return _fill(self, median + sigma * np.tan(np.pi * (_uniform(self, generator) - 0.5)), "cauchy_")


def log_normal_(self: Tensor, mean: float = 1.0, std: float = 2.0, *, generator=None) -> Tensor:
    """Fill with ``exp`` of normal draws of ``mean`` and ``std``."""
    if not std > 0:
        raise RuntimeError(f"log_normal_ expects std > 0.0, but found std={std}")
    if self.dtype.category != FLOAT:
        raise NotImplementedError(f"\"log_normal_cpu\" not implemented for '{self.dtype.scalar_type}'")
    return _fill(self, np.exp(resolve(generator).normal(mean, std, self._data.shape)), "log_normal_")


def _default_top(self: Tensor) -> int:
    """``random_()``'s exclusive upper bound: every integer the dtype holds exactly."""
    dt = self._data.dtype
    if self.dtype is bool_:
        return 2
    if dt.kind == "f":
        return 2 ** (np.finfo(dt).nmant + 1) + 1
    return int(np.iinfo(dt).max) + 1


_UNSET = object()


def _check_in_range(self: Tensor, bound: int, what: str) -> None:
    """PyTorch's check that a bound of ``random_`` is a value of ``self``'s dtype."""
    dt = self._data.dtype
    if self.dtype is bool_:
        low, high = 0, 1
    elif dt.kind == "f":
        high = float(np.finfo(dt).max)
        low = -high
    else:
        low, high = int(np.iinfo(dt).min), int(np.iinfo(dt).max)
    if not low <= bound <= high:
        raise RuntimeError(f"random_: {what} is out of bounds for {self.dtype.name}")


def random_(self: Tensor, from_=_UNSET, to=_UNSET, *, generator=None) -> Tensor:
    """Fill with integers drawn uniformly from ``[from_, to)``, as PyTorch's overloads:
    ``random_(to)`` draws from 0; ``random_()`` and ``random_(from_, None)`` reach up to
    every integer the dtype holds exactly."""
    if to is _UNSET:
        from_, to = (0, None) if from_ is _UNSET else (0, from_)
    from_ = 0 if from_ is _UNSET else int(from_)
    top = _default_top(self) if to is None else int(to)
    if top <= from_:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={from_} >= to={top}")
    _check_in_range(self, from_, "from")
    _check_in_range(self, top - 1, "to - 1")
    return _fill(self, resolve(generator).integers(from_, top, self._data.shape), "random_")
