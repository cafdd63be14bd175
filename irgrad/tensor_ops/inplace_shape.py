"""In-place shape ops: ``unsqueeze_``, ``squeeze_``, ``t_``, ``transpose_``, ``swapaxes_``
and ``swapdims_`` change a tensor's shape and strides, not its memory (its version moves
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

import sys
from collections.abc import Callable

from ..recording.grad_mode import STATE
from ..tensor import Tensor

BASES = {
    "unsqueeze_": "unsqueeze",
    "squeeze_": "squeeze",
    "t_": "t",
    "transpose_": "transpose",
    "swapaxes_": "swapaxes",
    "swapdims_": "swapdims",
}


def _in_place(name: str, base: str) -> Callable[..., Tensor]:
    def method(self: Tensor, *args, **kwargs) -> Tensor:
        if STATE.enabled and self._node is None and self._rg:
            raise RuntimeError("a leaf Variable that requires grad is being used in an in-place operation.")
        # the views made of a base hold its version counter: only this tensor's slot and
        # getrefcount's argument may
        if self._base is None and self._vc is not None and sys.getrefcount(self._vc) > 2:
            raise RuntimeError(
                f"{name}: irgrad cannot change the shape of a tensor in place while views of it (or "
                f"tensors sharing its version counter, made by detach() or .data) are alive; use "
                f"x = x.{base}(...) instead"
            )
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


METHODS = {name: _in_place(name, base) for name, base in BASES.items()}
