"""Loading: the preamble and header read and checked, the storages read and
checksummed, and the header's tree decoded into Python objects and tensors (nothing in
the file is executed)."""

from __future__ import annotations

import collections
import json
import zlib
from typing import IO, Any

import numpy as np

from .. import dtypes
from ..nn.parameter import UninitializedBuffer, UninitializedParameter
from ..tensor import Size, Tensor
from ..torch_checkpoint import is_torch_checkpoint
from .layout import (
    _CRC_CHUNK,
    _DTYPE_NAMES,
    _PREAMBLE,
    _READ_CHUNK,
    ALIGN,
    FORMAT_VERSION,
    MAGIC,
    LoadError,
    _parameter_class,
    _path_str,
)


class _Reader:
    """Reads exactly the requested bytes from a stream, naming the file in every error."""

    def __init__(self, f: IO[bytes], name: str) -> None:
        self.f = f
        self.name = name
        self.pos = 0

    def error(self, what: str) -> LoadError:
        return LoadError(f"irgrad.load: {self.name}: {what}")

    def into(self, buf: np.ndarray, what: str) -> int:
        """Fill ``buf`` from the stream and return the CRC-32 of its bytes.

        Reads in cache-sized chunks and checksums each chunk while it is still hot.
        """
        view = memoryview(buf.reshape(-1).view(np.uint8))
        got, crc = 0, 0
        while got < len(view):
            part = view[got : got + _CRC_CHUNK]
            if hasattr(self.f, "readinto"):
                n = self.f.readinto(part)
            else:
                chunk = self.f.read(len(part))
                n = len(chunk)
                part[:n] = chunk
            if not n:
                raise self.error(
                    f"file is truncated: expected {len(view)} bytes of {what} at byte {self.pos}, "
                    f"found only {got}"
                )
            crc = zlib.crc32(part[:n], crc)
            got += n
        self.pos += got
        return crc

    def read_upto(self, n: int) -> bytes:
        """Up to ``n`` bytes: fewer only at the end of the stream."""
        parts, remaining = [], n
        while remaining:
            chunk = self.f.read(min(remaining, _READ_CHUNK))
            if not chunk:
                break
            parts.append(chunk)
            remaining -= len(chunk)
        data = b"".join(parts)
        self.pos += len(data)
        return data

    def read(self, n: int, what: str) -> bytes:
        start = self.pos
        data = self.read_upto(n)
        if len(data) < n:
            raise self.error(
                f"file is truncated: expected {n} bytes of {what} at byte {start}, found only {len(data)}"
            )
        return data


def _sniff(head: bytes) -> str:
    """Why a file that does not start with irgrad's magic is not loadable."""
    if not head:
        return "the file is empty"
    if is_torch_checkpoint(head):
        return "a torch.save zip archive can only be read from a path or a seekable file"
    if head[:1] == b"\x80" or head[:1] in (b"(", b"c", b"]", b"}"):
        return (
            "not an irgrad file: it looks like a Python pickle, which irgrad never loads "
            "because unpickling can execute arbitrary code"
        )
    return f"not an irgrad file (bad magic bytes {head[:8]!r}, expected {MAGIC!r})"


def _read_header(r: _Reader) -> dict:
    head = r.read_upto(_PREAMBLE.size)
    if head and MAGIC.startswith(head):
        raise r.error(f"file is truncated inside the {_PREAMBLE.size}-byte preamble ({len(head)} bytes)")
    if not head.startswith(MAGIC):
        raise r.error(_sniff(head))
    if len(head) < _PREAMBLE.size:
        raise r.error(f"file is truncated inside the {_PREAMBLE.size}-byte preamble ({len(head)} bytes)")
    _, version, header_len, header_crc = _PREAMBLE.unpack(head)
    if version != FORMAT_VERSION:
        raise r.error(
            f"unsupported irgrad format version {version} (this irgrad reads version {FORMAT_VERSION})"
        )
    raw = r.read(header_len, "header")
    if zlib.crc32(raw) != header_crc:
        raise r.error("header checksum mismatch: the file is corrupted")
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise r.error(f"corrupted header: {exc}") from None
    if not isinstance(header, dict) or header.get("format") != "irgrad":
        raise r.error("corrupted header: not an irgrad header")
    return header


def _is_count(x) -> bool:
    return type(x) is int and x >= 0


def _check_storages(r: _Reader, header: dict) -> list[dict]:
    storages = header.get("storages")
    if not isinstance(storages, list) or not _is_count(header.get("data_size")):
        raise r.error("corrupted header: bad storage table")
    end = 0
    for i, s in enumerate(storages):
        ok = (
            isinstance(s, dict)
            and s.get("dtype") in _DTYPE_NAMES
            and isinstance(s.get("shape"), list)
            and all(_is_count(n) for n in s["shape"])
            and _is_count(s.get("offset"))
            and s["offset"] % ALIGN == 0
            and s["offset"] >= end
            and _is_count(s.get("crc32"))
            and s.get("nbytes")
            == int(np.prod(s["shape"], dtype=object)) * dtypes.to_dtype(s["dtype"]).itemsize
        )
        if not ok:
            raise r.error(f"corrupted header: bad entry for storage {i}: {s!r:.200}")
        end = s["offset"] + s["nbytes"]
    if end != header["data_size"]:
        raise r.error(f"corrupted header: storages end at {end} but data_size is {header['data_size']}")
    return storages


def _read_storages(r: _Reader, storages: list[dict], data_start: int) -> list[np.ndarray]:
    r.read(data_start - r.pos, "padding")
    arrays, pos = [], 0
    for i, s in enumerate(storages):
        r.read(s["offset"] - pos, "padding")
        arr = np.empty(s["shape"], dtype=np.dtype(dtypes.to_dtype(s["dtype"]).np).newbyteorder("<"))
        if r.into(arr, f"storage {i} ({s['dtype']}{s['shape']})") != s["crc32"]:
            raise r.error(
                f"checksum mismatch in storage {i} ({s['dtype']}{s['shape']}): the file is corrupted"
            )
        native = arr.dtype.newbyteorder("=")
        arrays.append(arr if arr.dtype == native else arr.astype(native))
        pos = s["offset"] + s["nbytes"]
    return arrays


class _Decoder:
    """Rebuilds objects from the node tree; every malformed node is a LoadError."""

    def __init__(self, r: _Reader, arrays: list[np.ndarray], tensors: list, map_location) -> None:
        self.r = r
        self.arrays = arrays
        self.tensor_specs = tensors
        self.tensors: dict[int, Tensor] = {}
        self.map_location = map_location

    def bad(self, node, path: list[str]) -> LoadError:
        return self.r.error(
            f"corrupted header: malformed entry {json.dumps(node)[:200]} at {_path_str(path)}"
        )

    def storage(self, index, node, path) -> np.ndarray:
        if type(index) is not int or not 0 <= index < len(self.arrays):
            raise self.bad(node, path)
        return self.arrays[index]

    def tensor(self, index, node, path: list[str]) -> Tensor:
        if type(index) is not int or not 0 <= index < len(self.tensor_specs):
            raise self.bad(node, path)
        t = self.tensors.get(index)
        if t is None:
            spec = self.tensor_specs[index]
            if not isinstance(spec, dict) or not all(
                type(spec.get(k)) is bool for k in ("requires_grad", "parameter")
            ):
                raise self.bad(spec, path)
            data = self.storage(spec.get("storage"), spec, path)
            if spec["requires_grad"] and not data.dtype.kind == "f":
                raise self.r.error(
                    f"corrupted header: a {data.dtype} tensor cannot require grad at {_path_str(path)}"
                )
            uninitialized = spec.get("uninitialized", False)
            if uninitialized is not False and (uninitialized is not True or data.shape != (0,)):
                raise self.bad(spec, path)
            if uninitialized:
                placeholder = UninitializedParameter if spec["parameter"] else UninitializedBuffer
                t = placeholder(spec["requires_grad"], dtype=dtypes.from_numpy_dtype(data.dtype))
            else:
                t = Tensor._wrap(data, requires_grad=spec["requires_grad"])
                if spec["parameter"]:
                    t = _parameter_class()(t, requires_grad=spec["requires_grad"])
            if callable(self.map_location):
                mapped = self.map_location(t, "cpu")
                t = mapped if isinstance(mapped, Tensor) else t
            self.tensors[index] = t
        return t

    def decode(self, node, path: list[str]) -> Any:
        if not isinstance(node, list) or not node or not isinstance(node[0], str):
            raise self.bad(node, path)
        kind, args = node[0], node[1:]
        if kind == "none" and not args:
            return None
        if len(args) != 1:
            raise self.bad(node, path)
        value = args[0]
        if kind == "bool" and type(value) is bool:
            return value
        if kind == "int" and type(value) is int:
            return value
        if kind == "float" and type(value) is str:
            try:
                return float(value)
            except ValueError:
                raise self.bad(node, path) from None
        if kind == "str" and type(value) is str:
            return value
        if kind == "dtype" and value in _DTYPE_NAMES:
            return dtypes.to_dtype(value)
        if kind == "size" and isinstance(value, list) and all(_is_count(n) for n in value):
            return Size(value)
        if kind == "tensor":
            return self.tensor(value, node, path)
        if kind == "ndarray":
            return self.storage(value, node, path)
        if kind in ("list", "tuple") and isinstance(value, list):
            items = [self.decode(item, [*path, f"[{i}]"]) for i, item in enumerate(value)]
            return items if kind == "list" else tuple(items)
        if kind in ("dict", "odict") and isinstance(value, list):
            out = {} if kind == "dict" else collections.OrderedDict()
            for item in value:
                if not isinstance(item, list) or len(item) != 2:
                    raise self.bad(node, path)
                key = self.decode(item[0], [*path, ".keys()"])
                value = self.decode(item[1], [*path, f"[{key!r}]"])
                try:
                    out[key] = value
                except TypeError:
                    raise self.r.error(
                        f"corrupted header: unhashable dict key at {_path_str(path)}"
                    ) from None
            return out
        raise self.bad(node, path)
