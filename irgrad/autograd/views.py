"""Autograd for views: keeping a view's history right when its storage is written in place.

A view (``reshape``, ``permute``, ``broadcast_to``, ``slice`` or ``detach`` that shares
memory) remembers its root base and the chain of view ops that leads from it.  Two
things follow, as in PyTorch:

* **Stale views.** After an in-place write to the storage (through the base or any
  other view), a view's recorded history describes the old values.  The storage's
  version counter tells; :func:`refresh_view` then replays the chain on the base,
  so the view's ``grad_fn`` derives from the base's current history.
* **In-place ops on a view** (PyTorch's ``CopySlices``): the base's new value is its
  old value with the view's elements replaced by the op's result.  :func:`scatter_into_base`
  builds that as ops, using :func:`view_positions`, the index of every view element in
  the base, found by replaying the chain on an index array.

Views the chain cannot describe (``view(dtype)`` reinterprets bits) are *opaque*:
they keep their history, and in-place ops on them under autograd raise.
"""

from __future__ import annotations

import numpy as np

from .. import _tracing
from .grad_mode import STATE, enable_grad

MULTI_OUTPUT_VIEW = (
    "Output {index} of {function} is a view and is being modified inplace. This view is the output "
    "of a function that returns multiple views. Such functions do not allow the output views to be "
    "modified inplace. You should replace the inplace operation by an out-of-place one."
)
NO_GRAD_VIEW = (
    "A view was created in no_grad mode and is being modified inplace with grad mode enabled. Given "
    "that this use case is ambiguous and error-prone, it is forbidden. You can clarify your code by "
    "moving both the view and the inplace either both inside the no_grad block (if you don't want the "
    "inplace to be tracked) or both outside (if you want the inplace to be tracked)."
)


def record_view(out, base, op, attrs: dict) -> None:
    """Mark ``out`` (the result of view op ``op`` on ``base``) as a view sharing its storage.

    A view made in no_grad mode, or of a view that may not be written in place under
    autograd, carries the reason (PyTorch's creation meta): see :func:`forbid_inplace`."""
    if base._base is None:
        out._base = base
        chain: tuple | None = ((op, attrs),)
        reason = None
    else:
        out._base = base._base
        parent = base._view
        chain = None if parent is None else parent[0] + ((op, attrs),)
        reason = None if parent is None else parent[2]
    if not STATE.enabled and op.name != "detach":
        reason = NO_GRAD_VIEW
    out._vc = base._shared_version()
    out._view = None if chain is None else (chain, out._vc[0], reason)


def forbid_inplace(outputs, message: str) -> None:
    """Views returned together by one function (``split``, ``chunk``, ``unbind``): under autograd
    none may be written in place, as in PyTorch, since each output's gradient formula assumes
    its siblings unchanged.  ``message`` is formatted with the output's ``index``."""
    for index, view in enumerate(outputs):
        if view._view is not None and view._view[2] is None:
            view._view = view._view[:2] + (message.format(index=index),)


def inplace_forbidden(view) -> str | None:
    """Why an in-place op under autograd may not write view ``view`` (None: it may)."""
    record = view._view
    if record is None or record[2] is None or any(op.name == "detach" for op, _ in record[0]):
        return None
    return record[2]


def refresh_view(t) -> None:
    """Re-derive a view's history from its base if the storage was written since it was derived."""
    view = t._view
    if view is None:
        return
    chain, version, reason = view
    now = t._vc[0]
    if version == now:
        return
    t._view = (chain, now, reason)
    fresh = _replay(t._base, chain)
    t._node, t._out_nr, t._rg = fresh._node, fresh._out_nr, fresh._rg
    _tracing.rebind(t, fresh)


def _replay(base, chain: tuple):
    """The chain of view ops applied to ``base`` (recorded for autograd whatever the grad mode)."""
    from ..dispatch import apply

    out = base
    with enable_grad():
        for op, attrs in chain:
            out = apply(op, (out,), attrs)
    return out


def view_positions(t) -> np.ndarray | None:
    """For every element of view ``t``, its flat index in the base (None for an opaque view)."""
    if t._view is None:
        return None
    base = t._base._data
    index = np.arange(base.size).reshape(base.shape)
    for op, attrs in t._view[0]:
        index = op.eval(index, **attrs)
    return np.asarray(index)


def scatter_into_base(old_base, positions: np.ndarray, new):
    """``old_base`` with the elements at ``positions`` replaced by ``new`` (of positions' shape), as ops."""
    from ..dispatch import apply, cast
    from ..ops import OPS
    from ..tensor import Tensor
    from ..tensor_ops.pointwise import where

    shape, size = old_base._data.shape, old_base._data.size
    flat = positions.reshape(-1)
    written = np.zeros(size, dtype=bool)
    written[flat] = True
    values = cast(new, old_base.dtype).expand(positions.shape).reshape(-1)
    placed = apply(OPS["index_grad"], (values, Tensor._wrap(flat)), {"shape": (size,), "spec": (Ellipsis,)})
    # a select, not old * keep + placed: an infinite or NaN old value must not leak into the result
    return where(Tensor._wrap(written.reshape(shape)), placed.reshape(shape), old_base)
