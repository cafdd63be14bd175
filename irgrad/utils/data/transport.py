"""Tensors across process boundaries: how DataLoader workers send batches home.

Batches travel as bytes made by :func:`dumps`, whose pickler applies
:mod:`irgrad.multiprocessing.reductions` to tensors of every class (multiprocessing's
own pickler registers reductions per exact class, so a user's Tensor subclass defined
after the workers started would otherwise be refused), sending a batch's private
tensors as copies: nothing but the batch holds them, so moving them to shared memory
first (as PyTorch's workers do) would only cost a memory file per tensor.
"""

from __future__ import annotations

import io
from multiprocessing.reduction import ForkingPickler
from typing import Any

from ...multiprocessing.reductions import reduce_tensor, register_tensor_classes
from ...tensor import Tensor

__all__ = ["dumps", "loads"]


register_tensor_classes()  # a multiprocessing queue carries tensors, as torch.multiprocessing's


class _Pickler(ForkingPickler):
    """ForkingPickler that also sends users' Tensor subclasses (registration is per class)."""

    def reducer_override(self, obj):
        return reduce_tensor(obj, share=False) if isinstance(obj, Tensor) else NotImplemented


def dumps(obj: Any) -> bytes:
    """``obj`` as bytes, tensors of any Tensor class included (raises what pickling raises)."""
    buffer = io.BytesIO()
    _Pickler(buffer).dump(obj)
    return buffer.getvalue()


def loads(payload: bytes) -> Any:
    """The object ``dumps`` made (only ever fed bytes from the DataLoader's own workers)."""
    return ForkingPickler.loads(payload)
