"""How tensors cross process boundaries: the reduction multiprocessing's ``ForkingPickler``
(the pickler of its queues, pipes and spawned processes' arguments) applies to them.

``pickle.dumps(tensor)`` stays an error (``irgrad.save`` is the way to store tensors,
and loading a pickle runs code); between processes of one program, tensors must travel,
as ``torch.multiprocessing`` lets them.  A tensor whose memory is shared
(:mod:`.shared_storage`) travels as a handle to that memory: the receiver's tensor maps
the same elements, and writes on either side are seen on the other.  As in PyTorch, a
tensor sent through multiprocessing is first moved to shared memory
(``share_memory_()``); one irgrad cannot move (other views of its memory are alive, see
:mod:`.tensor_sharing`) travels as a copy of its array instead.  The DataLoader's
transport sends its batches' private tensors as copies (``share=False``): nothing else
holds them.  Both ways keep ``requires_grad``,
the class (``nn.Parameter``, users' subclasses) and instance attributes.  A non-leaf
tensor that requires grad is refused, with PyTorch's message: its autograd graph cannot
follow it into another process.
"""

from __future__ import annotations

import contextlib
from multiprocessing.reduction import ForkingPickler

import numpy as np

from ..tensor import Tensor, _init
from .shared_storage import buffer_of, rebuild_shared, reduce_shared
from .tensor_sharing import is_shared, share_memory_

__all__ = ["reduce_tensor", "register_tensor_classes"]


def _rebuild_tensor(cls: type, data: np.ndarray, requires_grad: bool, attributes: dict) -> Tensor:
    t = object.__new__(cls)
    _init(t, data, requires_grad)
    t.__dict__.update(attributes)
    return t


def _rebuild_shared_tensor(cls: type, memory: tuple, requires_grad: bool, attributes: dict) -> Tensor:
    return _rebuild_tensor(cls, rebuild_shared(*memory), requires_grad, attributes)


def reduce_tensor(t: Tensor, share: bool = True) -> tuple:
    """``t`` as ``(rebuild, arguments)``: a handle to its memory, moved to shared memory
    first if ``share`` (and it can be), or else a copy of its array."""
    if t.requires_grad and not t.is_leaf:
        raise RuntimeError(
            "Cowardly refusing to serialize non-leaf tensor which requires_grad, since autograd "
            "does not support crossing process boundaries.  If you just want to transfer the "
            "data, call detach() on the tensor before serializing (e.g., putting it in a queue)."
        )
    if share and not is_shared(t):
        with contextlib.suppress(RuntimeError):  # other live views: it travels as a copy
            share_memory_(t)
    buffer = buffer_of(t._data)
    if buffer is not None:
        return _rebuild_shared_tensor, (type(t), reduce_shared(t._data, buffer), t._rg, dict(t.__dict__))
    return _rebuild_tensor, (type(t), t._data, t._rg, dict(t.__dict__))


def register_tensor_classes() -> None:
    """Register Tensor and every subclass defined so far (``nn.Parameter``, users' own) with
    ForkingPickler, whose reducers are looked up by exact class: called again before
    processes start, so arguments holding tensors of classes defined since reach them."""
    classes = [Tensor]
    while classes:
        cls = classes.pop()
        ForkingPickler.register(cls, reduce_tensor)
        classes.extend(cls.__subclasses__())
