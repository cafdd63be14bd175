"""The ``.safetensors`` format, read and written directly (no ``safetensors`` package).

A file is an 8-byte little-endian header length, a JSON header mapping each tensor's
name to its ``dtype`` (``"F32"`` ...), ``shape`` and ``data_offsets`` into the data
section (plus an optional ``"__metadata__"`` of strings), and then the raw little-endian
bytes.  Like the ``safetensors`` package's torch API: ``save_file(tensors, filename,
metadata=None)``, ``load_file(filename, device="cpu")``, ``save``/``load`` for bytes.
``load_file(..., mmap=True)`` maps the file copy-on-write instead of reading it: tensors
share the file's pages until written.  Every header is checked against the file's size
before any byte is read, and nothing in a file is ever executed.
"""

from __future__ import annotations

import json
import os
import struct
from typing import Any

import numpy as np

from ._atomic import write_atomically
from .tensor import Tensor

_DTYPES = {
    "F64": np.float64,
    "F32": np.float32,
    "F16": np.float16,
    "I64": np.int64,
    "I32": np.int32,
    "I16": np.int16,
    "I8": np.int8,
    "U8": np.uint8,
    "BOOL": np.bool_,
}
_NAMES = {np.dtype(v): k for k, v in _DTYPES.items()}
_MAX_HEADER = 100 * 2**20  # the safetensors package's limit


class SafetensorError(RuntimeError):
    """A file that is not valid safetensors, with the reason."""


def save(tensors: dict[str, Tensor], metadata: dict[str, str] | None = None) -> bytes:
    """The safetensors bytes of ``tensors`` (a dict of name -> tensor)."""
    header: dict[str, Any] = {}
    if metadata:
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
            raise SafetensorError("metadata must map strings to strings")
        header["__metadata__"] = dict(metadata)
    chunks, offset = [], 0
    for name, tensor in sorted(tensors.items(), key=lambda kv: kv[0]):
        if not isinstance(tensor, Tensor):
            raise SafetensorError(f"{name!r} is a {type(tensor).__name__}, not a tensor")
        data = tensor.detach()._data
        data = data if data.flags.c_contiguous else np.ascontiguousarray(data)  # (it makes 0-d arrays 1-d)
        kind = _NAMES.get(data.dtype)
        if kind is None:
            raise SafetensorError(f"{name!r}: dtype {data.dtype} has no safetensors name")
        raw = data.astype(data.dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": kind, "shape": list(data.shape), "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # the data section starts 8-byte aligned
    return struct.pack("<Q", len(text)) + text + b"".join(chunks)


def save_file(
    tensors: dict[str, Tensor], filename: str | os.PathLike, metadata: dict[str, str] | None = None
) -> None:
    """Write ``tensors`` to ``filename`` atomically (a temporary file renamed over it)."""
    data = save(tensors, metadata)
    write_atomically(os.fspath(filename), lambda f: f.write(data))


def _parse(header_bytes: bytes, data_size: int, where: str) -> tuple[dict, dict]:
    try:
        header = json.loads(header_bytes)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise SafetensorError(f"{where}: the header is not JSON ({error})") from None
    if not isinstance(header, dict):
        raise SafetensorError(f"{where}: the header is not a JSON object")
    metadata = header.pop("__metadata__", None) or {}
    entries, end = {}, 0
    for name, entry in sorted(
        header.items(), key=lambda kv: kv[1].get("data_offsets", [0])[0] if isinstance(kv[1], dict) else 0
    ):
        if not isinstance(entry, dict) or entry.get("dtype") not in _DTYPES:
            raise SafetensorError(f"{where}: tensor {name!r} has no known dtype")
        shape, offsets = entry.get("shape"), entry.get("data_offsets")
        if not (isinstance(shape, list) and all(isinstance(d, int) and d >= 0 for d in shape)):
            raise SafetensorError(f"{where}: tensor {name!r} has a bad shape {shape!r}")
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(isinstance(o, int) for o in offsets)):
            raise SafetensorError(f"{where}: tensor {name!r} has bad data_offsets {offsets!r}")
        begin, stop = offsets
        dtype = np.dtype(_DTYPES[entry["dtype"]])
        if begin != end or stop < begin or stop > data_size:
            raise SafetensorError(
                f"{where}: tensor {name!r}'s data_offsets {offsets} overlap or leave the file"
            )
        if stop - begin != int(np.prod(shape, dtype=np.int64)) * dtype.itemsize:
            raise SafetensorError(
                f"{where}: tensor {name!r}'s {stop - begin} bytes do not hold shape {shape}"
            )
        entries[name] = (dtype, tuple(shape), begin, stop)
        end = stop
    return entries, metadata


def load(data: bytes) -> dict[str, Tensor]:
    """Tensors from safetensors bytes."""
    return _tensors(memoryview(data), "safetensors bytes")[0]


def load_file(filename: str | os.PathLike, device: str = "cpu", mmap: bool = False) -> dict[str, Tensor]:
    """The tensors of a ``.safetensors`` file (``mmap=True``: mapped, copy-on-write)."""
    if str(device) != "cpu":
        raise RuntimeError(f"irgrad supports only the cpu device, got {device!r}")
    path = os.fspath(filename)
    if mmap and os.path.getsize(path) > 8:
        buffer = np.memmap(path, dtype=np.uint8, mode="c")
    else:
        with open(path, "rb") as f:
            buffer = f.read()
    return _tensors(memoryview(buffer), repr(path))[0]


def metadata_of(filename: str | os.PathLike) -> dict[str, str]:
    """The ``__metadata__`` strings of a ``.safetensors`` file."""
    with open(os.fspath(filename), "rb") as f:
        return _tensors(memoryview(f.read()), repr(os.fspath(filename)))[1]


def _tensors(buffer: memoryview, where: str) -> tuple[dict[str, Tensor], dict]:
    if len(buffer) < 8:
        raise SafetensorError(f"{where}: too short for a safetensors file")
    (length,) = struct.unpack("<Q", bytes(buffer[:8]))
    if length > _MAX_HEADER or 8 + length > len(buffer):
        raise SafetensorError(f"{where}: a header of {length} bytes does not fit the file")
    entries, metadata = _parse(bytes(buffer[8 : 8 + length]), len(buffer) - 8 - length, where)
    start = 8 + length
    out = {}
    for name, (dtype, shape, begin, stop) in entries.items():
        array = np.frombuffer(buffer[start + begin : start + stop], dtype=dtype.newbyteorder("<")).reshape(
            shape
        )
        out[name] = Tensor._wrap(array.astype(dtype, copy=False) if array.flags.writeable else array.copy())
    return out, metadata


def is_safetensors(head: bytes) -> bool:
    """Whether the first bytes of a file look like safetensors (a length, then ``{``)."""
    return len(head) >= 9 and head[8:9] == b"{" and struct.unpack("<Q", head[:8])[0] < _MAX_HEADER
