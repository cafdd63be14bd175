"""``Tensor.share_memory_()`` and ``Tensor.is_shared()``: a tensor's elements moved into
memory other processes can map (:mod:`.shared_storage`), as PyTorch's methods.

The tensor keeps its identity, values, shape, dtype, flags and history; only its array
is replaced by a copy in shared memory, laid out as it was.  A view's elements belong
to its base: sharing a view moves its base's memory, as PyTorch moves the storage a
view shares.  Other live views of the same memory would keep arrays of the old memory,
which cannot follow it: irgrad refuses that case with an error (in PyTorch they follow)
-- call ``share_memory_()`` before making them.
"""

from __future__ import annotations

from ..tensor import Tensor
from .shared_storage import buffer_of, moved_view, shared_copy


def is_shared(self: Tensor) -> bool:
    """Whether this tensor's elements lie in memory shared with other processes."""
    return buffer_of(self._data) is not None


def share_memory_(self: Tensor) -> Tensor:
    """Move this tensor's elements to shared memory (nothing to do if they are there).
    A view moves its base's memory, as PyTorch moves the storage views share."""
    if is_shared(self):
        return self
    base = self if self._base is None else self._base
    # beyond the base (and this view), a tensor holding its memory would keep the old array
    if base._memory_held_elsewhere(1 if base is self else 2):
        raise RuntimeError(
            "share_memory_: irgrad cannot move a tensor's memory while other views of it (or tensors "
            "sharing its memory, made by detach(), .data or a module's state_dict()) are alive; call "
            "share_memory_() (or Module.share_memory()) before making them"
        )
    moved = shared_copy(base._data)
    if base is not self:
        self._set_data(moved_view(self._data, base._data, moved))
    base._set_data(moved)
    return self


METHODS = {"is_shared": is_shared, "share_memory_": share_memory_}
