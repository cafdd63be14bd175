"""In-place shape ops: ``unsqueeze_``, ``squeeze_``, ``t_``, ``transpose_``, ``swapaxes_``
and ``swapdims_`` change a tensor's shape and strides, not its memory (``resize_`` its
number of elements too) (its version moves
on, as PyTorch's does).

The tensor takes over the view its out-of-place op makes of it: its array, its history
(``UnsqueezeBackward`` of the old one, as PyTorch records) and, for a view, the longer
chain of view ops from its base, so views of one base stay views of it.

A base tensor's views are re-derived from it by replaying their chains on its layout
(:mod:`irgrad.view_replay`), so a base whose layout changed under live views would
re-derive them wrongly: irgrad refuses that case with an error (PyTorch allows it).  As
in PyTorch, a leaf that requires grad may not be changed in place while autograd
records, and under ``no_grad`` a tensor keeps its history.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from .. import _tracing
from ..recording.grad_mode import STATE
from ..tensor import Tensor
from .shape import _sizes

BASES = {
    "unsqueeze_": "unsqueeze",
    "squeeze_": "squeeze",
    "t_": "t",
    "transpose_": "transpose",
    "swapaxes_": "swapaxes",
    "swapdims_": "swapdims",
}


def _refuse_if_viewed(self: Tensor, name: str, instead: str) -> None:
    """PyTorch changes a base's layout under its live views; irgrad refuses (see the module doc)."""
    if self._base is None and self._memory_held_elsewhere():
        raise RuntimeError(
            f"{name}: irgrad cannot change the shape of a tensor in place while views of it (or "
            f"tensors sharing its version counter, made by detach() or .data) are alive; use "
            f"{instead} instead"
        )


def _in_place(name: str, base: str) -> Callable[..., Tensor]:
    def method(self: Tensor, *args, **kwargs) -> Tensor:
        if STATE.enabled and self._node is None and self._rg:
            raise RuntimeError("a leaf Variable that requires grad is being used in an in-place operation.")
        _refuse_if_viewed(self, name, f"x = x.{base}(...)")
        self._bump_version()  # as PyTorch's: views of the base re-derive their history
        try:
            new = getattr(Tensor, base)(self, *args, **kwargs)
        except RuntimeError as error:
            raise RuntimeError(str(error).replace(f"{base}()", f"{name}()")) from None
        if self._base is not None:  # a view stays one of its base, one op further
            self._view = new._view
        if STATE.enabled:
            self._node, self._out_nr, self._rg = new._node, new._out_nr, new._rg
        self._set_data(new._data)
        new._vc = new._base = new._view = None  # the view was this op's own: it holds nothing of self
        return self

    method.__name__ = name
    method.__doc__ = f"``{base}``, as this tensor's own shape (its memory and version unchanged)."
    return method


def resize_(self: Tensor, *sizes, memory_format=None) -> Tensor:
    """This tensor as ``sizes``, over its elements in memory order: the first of them
    (a view of its memory) when it shrinks, all of them and then zeros when it grows (a
    new array; PyTorch leaves the new elements uninitialized), as ``torch.Tensor.resize_``.
    Refused for a tensor that requires grad (PyTorch's error), for a view, for a base with
    live views (see the module doc) and for a tensor not contiguous in memory; a graph
    break under ``irgrad.compile``."""
    shape = _sizes(sizes, "resize_", "size")
    if any(n < 0 for n in shape):
        raise RuntimeError(f"Trying to create tensor with negative dimension {min(shape)}: {list(shape)}")
    if self._rg:
        raise RuntimeError("cannot resize variables that require grad")
    _tracing.untraceable("resize_ (a tensor's size changed in place)")
    if self._base is not None or not self._data.flags.c_contiguous:
        raise RuntimeError(
            "resize_: irgrad resizes only a tensor that is no view and contiguous in memory; use "
            "x = x.contiguous() first, or x = x.flatten()[:n].reshape(...)"
        )
    _refuse_if_viewed(self, "resize_", "x = x.flatten()[:n].reshape(...)")
    flat = self._data.reshape(-1)
    count = math.prod(shape)
    if count <= flat.size:
        data = flat[:count].reshape(shape)
    else:
        data = np.zeros(count, flat.dtype)
        data[: flat.size] = flat
        data = data.reshape(shape)
    self._bump_version()
    self._set_data(data)
    return self


def resize_as_(self: Tensor, other: Tensor, memory_format=None) -> Tensor:
    """:func:`resize_` to ``other``'s shape."""
    return resize_(self, tuple(other.shape))


METHODS = {name: _in_place(name, base) for name, base in BASES.items()}
METHODS.update(resize_=resize_, resize_as_=resize_as_)
