"""Saving: an object planned as a JSON header and the arrays it holds, then written
(atomically to a path).  Planning checks everything before a byte is written."""

from __future__ import annotations

import collections
import json
import math
import zlib
from typing import IO, Any

import numpy as np

from .. import dtypes
from .._atomic import write_atomically
from ..nn.parameter import is_lazy
from ..tensor import Size, Tensor
from .layout import _NP_DTYPES, _PREAMBLE, FORMAT_VERSION, MAGIC, _align, _parameter_class, _path_str


def _float_text(value: float) -> str:
    """repr(value), except that a negative NaN keeps its sign ("-nan")."""
    if math.isnan(value) and math.copysign(1.0, value) < 0:
        return "-nan"
    return repr(value)


class _Encoder:
    """Turns an object into a JSON-able node tree plus the list of arrays to write."""

    def __init__(self) -> None:
        self.storages: list[np.ndarray] = []
        self.tensors: list[dict] = []
        self._storage_ids: dict[tuple, int] = {}  # memory layout of an array -> storage index
        self._tensor_ids: dict[int, int] = {}  # id(tensor) -> tensor index
        self._keep: list[Any] = []  # keep encoded objects alive so ids and addresses stay unique
        self._active: set[int] = set()  # containers being encoded, to catch cycles

    def storage(self, arr: np.ndarray) -> int:
        # Arrays with the same address, shape, strides and dtype view the very same bytes
        # (e.g. a parameter and its .detach() in a state dict): save them once.
        key = (arr.__array_interface__["data"][0], arr.shape, arr.strides, arr.dtype.str)
        index = self._storage_ids.get(key)
        if index is None:
            self._keep.append(arr)
            index = self._storage_ids[key] = len(self.storages)
            self.storages.append(arr)
        return index

    def tensor(self, t: Tensor, path: list[str]) -> list:
        index = self._tensor_ids.get(id(t))
        if index is None:
            is_param, lazy = isinstance(t, _parameter_class()), is_lazy(t)
            if type(t) is not Tensor and not is_param and not lazy:
                raise TypeError(
                    f"irgrad.save: cannot save a tensor of subclass {type(t).__qualname__} at "
                    f"{_path_str(path)}; convert it to a plain Tensor first"
                )
            self._keep.append(t)
            index = self._tensor_ids[id(t)] = len(self.tensors)
            spec = {
                # a placeholder's data is refused; its .data is the empty array of its dtype
                "storage": self.storage((t.data if lazy else t)._data),
                "requires_grad": bool(t._rg),
                "parameter": is_param,
            }
            if lazy:
                spec["uninitialized"] = True
            self.tensors.append(spec)
        return ["tensor", index]

    def encode(self, obj: Any, path: list[str]) -> list:
        if obj is None:
            return ["none"]
        if isinstance(obj, bool):
            return ["bool", obj]
        if isinstance(obj, Tensor):
            return self.tensor(obj, path)
        if isinstance(obj, int):
            return ["int", int(obj)]
        if isinstance(obj, float):
            return ["float", _float_text(float(obj))]
        if isinstance(obj, str):
            return ["str", str(obj)]
        if isinstance(obj, dtypes.dtype):
            return ["dtype", obj.name]
        if isinstance(obj, Size):
            return ["size", [int(n) for n in obj]]
        if type(obj) is np.ndarray:
            if obj.dtype.newbyteorder("=") not in _NP_DTYPES:
                raise TypeError(
                    f"irgrad.save: cannot save a numpy array of dtype {obj.dtype} at {_path_str(path)}"
                )
            return ["ndarray", self.storage(obj)]
        if isinstance(obj, dict):
            return self._container(obj, path, "odict" if isinstance(obj, collections.OrderedDict) else "dict")
        if isinstance(obj, (list, tuple)):
            return self._container(obj, path, "list" if isinstance(obj, list) else "tuple")
        raise TypeError(
            f"irgrad.save: cannot save an object of type {type(obj).__module__}.{type(obj).__qualname__} "
            f"at {_path_str(path)}; supported are tensors, numpy arrays, dict/OrderedDict/list/tuple, "
            "int, float, bool, str, None, irgrad.Size and irgrad dtypes"
        )

    def _container(self, obj, path: list[str], kind: str) -> list:
        if id(obj) in self._active:
            raise ValueError(f"irgrad.save: reference cycle at {_path_str(path)}: the object contains itself")
        self._active.add(id(obj))
        try:
            if kind in ("dict", "odict"):
                items = []
                for key, value in obj.items():
                    sub = [*path, f"[{key!r}]"]
                    items.append([self.encode(key, [*path, f".keys()[{key!r}]"]), self.encode(value, sub)])
                return [kind, items]
            return [kind, [self.encode(item, [*path, f"[{i}]"]) for i, item in enumerate(obj)]]
        finally:
            self._active.discard(id(obj))


def _little_endian_contiguous(arr: np.ndarray) -> np.ndarray:
    le = arr.dtype.newbyteorder("<")
    if arr.dtype != le:
        arr = arr.astype(le)
    return arr if arr.flags.c_contiguous else arr.copy(order="C")


def _plan(obj: Any) -> tuple[bytes, list[tuple[int, np.ndarray]]]:
    """The header bytes and the (offset, array) pairs of a save of ``obj``."""
    enc = _Encoder()
    root = enc.encode(obj, [])
    storages, placed, offset = [], [], 0
    for arr in enc.storages:
        data = _little_endian_contiguous(arr)
        offset = _align(offset)
        storages.append(
            {
                "dtype": dtypes.from_numpy_dtype(data.dtype.newbyteorder("=")).name,
                "shape": list(data.shape),
                "offset": offset,
                "nbytes": data.nbytes,
                "crc32": zlib.crc32(data),
            }
        )
        placed.append((offset, data))
        offset += data.nbytes
    header = {
        "format": "irgrad",
        "version": FORMAT_VERSION,
        "data_size": offset,
        "storages": storages,
        "tensors": enc.tensors,
        "root": root,
    }
    return json.dumps(header, separators=(",", ":"), allow_nan=False).encode("utf-8"), placed


def _write_storage(f: IO[bytes], data: np.ndarray) -> None:
    f.write(data)


def _write(f: IO[bytes], header: bytes, placed: list[tuple[int, np.ndarray]]) -> None:
    f.write(_PREAMBLE.pack(MAGIC, FORMAT_VERSION, len(header), zlib.crc32(header)))
    f.write(header)
    start = _PREAMBLE.size + len(header)
    f.write(bytes(_align(start) - start))
    pos = 0
    for offset, data in placed:
        f.write(bytes(offset - pos))
        _write_storage(f, data)
        pos = offset + data.nbytes


def _save_atomic(target: str, header: bytes, placed: list[tuple[int, np.ndarray]]) -> None:
    write_atomically(target, lambda fh: _write(fh, header, placed))
