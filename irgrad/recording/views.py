"""View records: what a view remembers of its base, so its history can be kept right.

A view (``reshape``, ``permute``, ``broadcast_to``, ``slice`` or ``diagonal`` that shares
memory; ``detach`` shares it too, but starts a history of its own) remembers its root
base and the chain of view ops that leads from it, with the storage's version when that
history was derived (``Tensor._view``).  Replaying
the chain, for a stale view or for an in-place op on a view, runs ops, so it sits
above dispatch in :mod:`irgrad.view_replay`; :func:`view_positions` only evaluates
the chain's kernels on an index array.

Views the chain cannot describe (``view(dtype)`` reinterprets bits) are *opaque*:
they keep their history, and in-place ops on them under autograd raise.
"""

from __future__ import annotations

import numpy as np

from .grad_mode import STATE

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
    autograd, carries the reason (PyTorch's creation meta): see :func:`forbid_inplace`.

    ``detach``'s result shares the storage and its version counter but is no view for
    autograd, as in PyTorch: an in-place op on it gives it a history of its own and
    leaves its base's alone, and views of it have it as their base."""
    if op.name == "detach":
        out._vc = base._shared_version()
        return
    if base._base is None:
        out._base = base
        chain: tuple | None = ((op, attrs),)
        reason = None
    else:
        out._base = base._base
        parent = base._view
        chain = None if parent is None else parent[0] + ((op, attrs),)
        reason = None if parent is None else parent[2]
    if not STATE.enabled:
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
    return None if record is None else record[2]


def view_positions(t) -> np.ndarray | None:
    """For every element of view ``t``, its flat index in the base (None for an opaque view)."""
    if t._view is None:
        return None
    base = t._base._data
    index = np.arange(base.size).reshape(base.shape)
    for op, attrs in t._view[0]:
        index = op.eval(index, **attrs)
    return np.asarray(index)
