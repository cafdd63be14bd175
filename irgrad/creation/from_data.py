"""Tensors made from data: ``tensor``, ``as_tensor``/``asarray``, ``from_numpy``,
``from_dlpack`` and ``ensure_tensor``.

What they share is reading Python and numpy data: PyTorch's dtype inference (Python floats
become the default dtype) and its errors for ragged or unconvertible nesting. Which
constructors copy and which share memory with their input is decided here."""

from __future__ import annotations

import numpy as np

from .. import _tracing
from .. import dtypes as D
from ..dispatch import const
from ..tensor import Tensor, _unwrap_nested
from .arguments import _finish, refuse_pinned


def _infer_dtype(data, arr: np.ndarray) -> D.dtype:
    """PyTorch's dtype for data: Python floats become the default float dtype."""
    if isinstance(data, (np.ndarray, np.generic)):
        return D.from_numpy_dtype(arr.dtype)
    if arr.dtype.kind == "f":
        return D.get_default_dtype() if not _has_tensor(data) else D.from_numpy_dtype(arr.dtype)
    if arr.dtype.kind in "iu":
        return D.int64 if not _has_tensor(data) else D.from_numpy_dtype(arr.dtype)
    if arr.dtype.kind == "b":
        return D.bool_
    if arr.dtype.kind == "c":  # Python complex numbers: the default float's complex dtype
        return D.to_complex(D.get_default_dtype()) if not _has_tensor(data) else D.from_numpy_dtype(arr.dtype)
    raise TypeError(f"tensor(): could not infer dtype of {type(data).__name__}")


def _has_tensor(data) -> bool:
    if isinstance(data, Tensor):
        return True
    if isinstance(data, (list, tuple)) and data:
        return _has_tensor(data[0])
    return False


def tensor(data, dtype=None, device=None, requires_grad: bool = False, pin_memory: bool = False) -> Tensor:
    """A new tensor holding a copy of ``data`` (nested lists, numbers, arrays, tensors)."""
    refuse_pinned(pin_memory)
    if isinstance(data, np.ndarray):
        _tracing.array_read(data)
    raw = _unwrap_nested(data)
    try:
        arr = np.array(raw)
    except ValueError:
        raise ValueError(f"tensor(): {_ragged(raw)}") from None
    if arr.dtype == object:
        _reject_elements(arr)
        raise TypeError(f"tensor(): could not convert {type(data).__name__} to a tensor")
    dt = D.to_dtype(dtype) if dtype is not None else _infer_dtype(data, arr)
    return _finish(np.array(arr, dtype=dt.np, copy=True), requires_grad, device)


def ensure_tensor(x, dt: D.dtype | None = None) -> Tensor:
    """``x`` if it is a tensor, else a constant tensor made from it."""
    if isinstance(x, Tensor):
        return x
    if dt is None:
        dt = D.result_type(x) if isinstance(x, (bool, int, float)) else None
    if dt is None:
        return tensor(x)
    return const(x, dt)


def _ragged(raw) -> str:
    """Where nested sequences first disagree in length, as torch words it."""
    level, dim = [raw], 0
    while level and all(isinstance(x, (list, tuple, np.ndarray)) for x in level):
        expected = len(level[0])
        for x in level:
            if len(x) != expected:
                return f"expected sequence of length {expected} at dim {dim} (got {len(x)})"
        level, dim = [child for x in level for child in x], dim + 1
    return f"expected a sequence of equal-length sequences: mixed sequences and numbers at dim {dim}"


def _reject_elements(arr: np.ndarray) -> None:
    """torch's error for the first element numpy could not hold as a number."""
    for x in arr.reshape(-1):
        if x is None:
            raise RuntimeError("Could not infer dtype of NoneType")
        if isinstance(x, int) and not isinstance(x, bool) and not -(2**63) <= x < 2**64:
            raise ValueError(f"Overflow when unpacking long long ({x} does not fit in 64 bits)")
        if not isinstance(x, (int, float, complex, bool, np.generic)):
            raise TypeError(f"tensor(): could not infer a dtype for an element of type {type(x).__name__}")


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """Like ``tensor`` but shares memory with a numpy array (or tensor) of matching dtype."""
    if isinstance(data, Tensor):
        return data if dtype is None or D.to_dtype(dtype) is data.dtype else data.to(dtype)
    if isinstance(data, np.ndarray) and (dtype is None or D.to_dtype(dtype).np == data.dtype):
        return from_numpy(data)
    return tensor(data, dtype=dtype, device=device)


asarray = as_tensor


def from_numpy(ndarray: np.ndarray) -> Tensor:
    """A tensor that shares memory with ``ndarray`` (no copy)."""
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(ndarray).__name__})")
    D.from_numpy_dtype(ndarray.dtype)
    _tracing.array_read(ndarray)
    return Tensor._wrap(ndarray)


def from_dlpack(ext) -> Tensor:
    """A tensor sharing memory with any DLPack producer (numpy, PyTorch, JAX ...)."""
    if isinstance(ext, Tensor):
        return ext
    return from_numpy(np.from_dlpack(ext))
