"""View replay: keeping a view's history right when its storage is written in place.

Two things follow from a write to storage that views share, as in PyTorch:

* **Stale views.** After an in-place write (through the base or any other view), a
  view's recorded history describes the old values.  The storage's version counter
  tells (:func:`irgrad.tensor.refresh_view`); :func:`replay` then applies the view's
  chain of view ops to the base again, so its ``grad_fn`` derives from the base's
  current history.  This module registers :func:`replay` with the tensor at import.
* **In-place ops on a view** (PyTorch's ``CopySlices``): the base's new value is its
  old value with the view's elements replaced by the op's result.
  :func:`scatter_into_base` builds that as ops, from
  :func:`~irgrad.recording.views.view_positions`.

Both run ops, so this module sits above dispatch; the records themselves
(:mod:`irgrad.recording.views`) sit below it.
"""

from __future__ import annotations

import numpy as np

from .dispatch import apply, broadcast, cast
from .ops import OPS
from .recording.grad_mode import enable_grad
from .tensor import Tensor, set_view_replay


def replay(base: Tensor, chain: tuple) -> Tensor:
    """The chain of view ops applied to ``base`` (recorded for autograd whatever the grad mode)."""
    out = base
    with enable_grad():
        for op, attrs in chain:
            out = apply(op, (out,), attrs)
    return out


def scatter_into_base(old_base: Tensor, positions: np.ndarray, new: Tensor) -> Tensor:
    """``old_base`` with the elements at ``positions`` replaced by ``new`` (of positions' shape), as ops."""
    shape, size = old_base._data.shape, old_base._data.size
    flat = positions.reshape(-1)
    written = np.zeros(size, dtype=bool)
    written[flat] = True
    values = broadcast(cast(new, old_base.dtype), positions.shape)
    values = apply(OPS["reshape"], (values,), {"shape": (values._data.size,)})
    if flat.size:
        # gathered, not scattered into zeros (index_grad): adding -0.0 to 0 gives +0.0, so
        # a -0.0 written through a view read back as +0.0 (atan2 gave pi for -pi)
        source = np.zeros(size, dtype=np.int64)
        source[flat] = np.arange(flat.size)
        placed = apply(OPS["index"], (values, Tensor._wrap(source)), {"spec": (Ellipsis,)})
    else:  # nothing written (and nothing to gather from)
        placed = apply(
            OPS["index_grad"], (values, Tensor._wrap(flat)), {"shape": (size,), "spec": (Ellipsis,)}
        )
    placed = apply(OPS["reshape"], (placed,), {"shape": shape})
    # a select, not old * keep + placed: an infinite or NaN old value must not leak into the result
    return apply(OPS["where"], (Tensor._wrap(written.reshape(shape)), placed, old_base))


set_view_replay(replay)
