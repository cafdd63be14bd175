"""Selection by a condition: ``where`` and ``nonzero`` (``where(condition)`` is
``nonzero(condition, as_tuple=True)``, as in PyTorch).

Below the other tensor-function modules: pointwise math, in-place writes and
indexing all select with ``where``.
"""

from __future__ import annotations

from numbers import Number

import numpy as np

from .. import _tracing
from .._arguments import tensor_arguments
from ..creation import ensure_tensor
from ..dispatch import apply, broadcast, cast, const
from ..dtypes import bool_, result_type
from ..ops import OPS
from ..ops.shapes import broadcast_shapes
from ..recording.grad_mode import STATE
from ..tensor import Tensor


@tensor_arguments
def where(
    condition: Tensor, input: Tensor | Number | None = None, other: Tensor | Number | None = None
) -> Tensor:
    """``input`` where ``condition`` holds, else ``other`` (broadcasting, promoting)."""
    if input is None and other is None:
        return nonzero(condition, as_tuple=True)
    cond = ensure_tensor(condition)
    if cond.dtype is not bool_:
        if cond.dtype.is_floating_point:
            raise RuntimeError(
                f"where expected condition to be a boolean tensor, but got a tensor with dtype {cond.dtype}"
            )
        cond = cast(cond, bool_)  # uint8 conditions are accepted, as in torch
    dt = result_type(input, other)
    a = input if isinstance(input, Tensor) else const(input, dt)
    b = other if isinstance(other, Tensor) else const(other, dt)
    a, b = cast(a, dt), cast(b, dt)
    op = OPS["where"]
    shape = broadcast_shapes("where", cond._data.shape, a._data.shape, b._data.shape)
    if STATE.enabled:
        a = broadcast(a, shape) if a._rg else a
        b = broadcast(b, shape) if b._rg else b
    return apply(op, (cond, a, b))


@tensor_arguments
def nonzero(input: Tensor, *, as_tuple: bool = False):
    _tracing.materialize(input, "nonzero() (a data-dependent shape)")
    found = np.nonzero(input._data)
    if as_tuple:
        return tuple(Tensor._wrap(a.astype(np.int64)) for a in found)
    return Tensor._wrap(np.stack(found, axis=1).astype(np.int64) if found else np.zeros((0, 0), np.int64))
