"""What every tensor factory does with its common arguments: refuse ``pin_memory=True``,
read a ``*size``, default to the default float dtype, find a ``memory_format``'s storage
order, and wrap the result (checking ``device``, setting ``requires_grad``).

Shared by the factories from data, the filled factories and the random factories of this
package (and by ``tensor_ops.windows``), so that each refuses and words errors as PyTorch does
in one place."""

from __future__ import annotations

import numpy as np

from .. import dtypes as D
from ..memory_formats import check_memory_format, storage_order
from ..tensor import Tensor
from ..tensor import device as _device


def refuse_pinned(pin_memory: bool) -> None:
    """PyTorch's error for ``pin_memory=True`` on a machine without an accelerator (irgrad's
    machine has none: there is no pinned-memory allocator)."""
    if pin_memory:
        raise RuntimeError(
            "pin_memory=True requires a CUDA or other accelerator backend; no pinned memory allocator is "
            "available on this system."
        )


def _storage(function: str, memory_format, ndim: int) -> tuple[int, ...] | None:
    """The order (outermost dim first) a factory stores its result in for
    ``memory_format``: None for C order, which ``preserve_format`` and None also give
    (irgrad's ``*_like`` factories do not copy the input's strides)."""
    if memory_format is None:
        return None
    check_memory_format(function, memory_format)
    return storage_order(memory_format, ndim)


def _finish(data: np.ndarray, requires_grad: bool, device=None) -> Tensor:
    if device is not None:
        _device(device)
    t = Tensor._wrap(data)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _size(size) -> tuple:
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    if any(not isinstance(s, (int, np.integer)) and not hasattr(s, "__index__") for s in size):
        raise TypeError(f"size must be a tuple of ints, got {size!r}")
    size = tuple(int(s) for s in size)
    if any(s < 0 for s in size):
        raise RuntimeError(f"Trying to create tensor with negative dimension {min(size)}: {list(size)}")
    return size


def _float_dtype(dtype) -> D.dtype:
    return D.to_dtype(dtype) if dtype is not None else D.get_default_dtype()
