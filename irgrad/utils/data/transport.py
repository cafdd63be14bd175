"""Tensors across process boundaries: how DataLoader workers send batches home.

``pickle.dumps(tensor)`` stays an error (irgrad.save is the way to store tensors, and
loading a pickle runs code). Between a DataLoader's own processes, though, tensors must
travel, so this module registers a reduction with multiprocessing's ``ForkingPickler``
(the pickler its queues, pipes and spawned process arguments use), as PyTorch's
``torch.multiprocessing`` does: a tensor is sent as its numpy array, its
``requires_grad`` flag and its instance attributes, and rebuilt as the same class.
A non-leaf tensor that requires grad is refused, with PyTorch's message: its autograd
graph cannot follow it into another process.
"""

from __future__ import annotations

import io
from multiprocessing.reduction import ForkingPickler
from typing import Any

import numpy as np

from ...tensor import Tensor, _init

__all__ = ["dumps", "loads", "register_tensor_classes"]


def _rebuild_tensor(cls: type, data: np.ndarray, requires_grad: bool, attributes: dict) -> Tensor:
    t = object.__new__(cls)
    _init(t, data, requires_grad)
    t.__dict__.update(attributes)
    return t


def _reduce_tensor(t: Tensor):
    if t.requires_grad and not t.is_leaf:
        raise RuntimeError(
            "Cowardly refusing to serialize non-leaf tensor which requires_grad, since autograd "
            "does not support crossing process boundaries.  If you just want to transfer the "
            "data, call detach() on the tensor before serializing (e.g., putting it in a queue)."
        )
    return _rebuild_tensor, (type(t), t._data, t._rg, dict(t.__dict__))


def register_tensor_classes() -> None:
    """Register Tensor and every subclass defined so far (``nn.Parameter``, users' own) with
    ForkingPickler, whose reducers are looked up by exact class: called before worker
    processes start, so a dataset holding tensors can be sent to a spawned worker."""
    classes = [Tensor]
    while classes:
        cls = classes.pop()
        ForkingPickler.register(cls, _reduce_tensor)
        classes.extend(cls.__subclasses__())


register_tensor_classes()  # a multiprocessing queue carries tensors, as torch.multiprocessing's


class _Pickler(ForkingPickler):
    """ForkingPickler that also sends users' Tensor subclasses (registration is per class)."""

    def reducer_override(self, obj):
        return _reduce_tensor(obj) if isinstance(obj, Tensor) else NotImplemented


def dumps(obj: Any) -> bytes:
    """``obj`` as bytes, tensors of any Tensor class included (raises what pickling raises)."""
    buffer = io.BytesIO()
    _Pickler(buffer).dump(obj)
    return buffer.getvalue()


def loads(payload: bytes) -> Any:
    """The object ``dumps`` made (only ever fed bytes from the DataLoader's own workers)."""
    return ForkingPickler.loads(payload)
