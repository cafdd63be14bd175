"""``Tensor.apply_``, ``map_`` and ``map2_``: a Python function called on each element
(and the matching elements of other tensors, broadcast to this one), its results written
back in place, as PyTorch's CPU-only helpers do.

The function sees Python numbers (``float``, ``int``, ``bool``) and its results are cast
to the tensor's dtype as PyTorch casts them (``0.5`` into an integer tensor is ``0``); a
result that is not a number raises PyTorch's TypeError.  No autograd records Python
code: a tensor that requires grad is refused with PyTorch's error, and under
``irgrad.compile`` the call is a graph break.  As in PyTorch, the version counter does
not move.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable

import numpy as np

from .. import _tracing
from ..tensor import Tensor
from .writes import writable_destination


def _write_each(self: Tensor, name: str, fn: Callable, *others: Tensor) -> Tensor:
    if self._rg:
        raise RuntimeError(
            f"Can't call {name}() on Variable that requires grad. Use var.detach().{name}() instead."
        )
    _tracing.untraceable(f"{name} (a Python function called on each element)")
    data = self._data
    columns = [np.broadcast_to(o._data, data.shape).reshape(-1) for o in others]
    results = []
    for k, value in enumerate(data.reshape(-1)):
        result = fn(value.item(), *(c[k].item() for c in columns))
        if not isinstance(result, numbers.Number):
            raise TypeError(f"must be real number, not {type(result).__name__}")
        results.append(result)
    if not data.size:
        return self
    new = np.array(results, dtype=object).astype(data.dtype).reshape(data.shape)
    target = data if data.flags.writeable else writable_destination(data, new, name, fill=False)
    target[...] = new
    return self


def apply_(self: Tensor, callable: Callable) -> Tensor:
    """``callable(x)`` for each element ``x``, written in place."""
    return _write_each(self, "apply_", callable)


def map_(self: Tensor, tensor: Tensor, callable: Callable) -> Tensor:
    """``callable(x, y)`` for each element ``x`` and ``tensor``'s (broadcast) ``y``."""
    return _write_each(self, "map_", callable, tensor)


def map2_(self: Tensor, x: Tensor, y: Tensor, callable: Callable) -> Tensor:
    """``callable(s, a, b)`` for each element ``s`` and ``x``'s and ``y``'s (broadcast)."""
    return _write_each(self, "map2_", callable, x, y)


METHODS = {"apply_": apply_, "map_": map_, "map2_": map2_}
