"""``irgrad.save`` / ``irgrad.load``: a checkpoint format that never executes code on load.

PyTorch's format is a pickle, and unpickling can run arbitrary code. irgrad's format
holds only data: a JSON description of the object and the raw bytes of its arrays.
Loading parses JSON and copies bytes into fresh numpy arrays; nothing in the file can
name a function, a class or a module, so a hostile file can at worst fail to load.

File layout (format version 1, all integers little-endian)::

    offset 0   8 bytes  magic  b"\\x89IRGRAD\\n"
           8   4 bytes  format version (uint32, currently 1)
          12   8 bytes  header length H in bytes (uint64)
          20   4 bytes  CRC-32 of the header bytes (uint32)
          24   H bytes  header: UTF-8 JSON (below)
                        zero padding up to the next multiple of 64: the data region starts here
                        storages, each at its ``offset`` (a multiple of 64) from the data
                        region's start, zero padding in between, nothing after the last one

The header is ``{"format": "irgrad", "version": 1, "data_size": D, "storages": [...],
"tensors": [...], "root": NODE}``:

- a storage is ``{"dtype": "float32", "shape": [2, 3], "offset": 0, "nbytes": 24,
  "crc32": C}``: a C-contiguous little-endian array; ``dtype`` is an irgrad dtype name
  (float16/32/64, uint8, int8/16/32/64, bool), C the CRC-32 of its bytes;
- a tensor is ``{"storage": i, "requires_grad": b, "parameter": b}``; ``parameter``
  marks an ``nn.Parameter``; ``"uninitialized": true`` (optional) marks a lazy module's
  placeholder (``nn.UninitializedParameter``, or ``UninitializedBuffer`` when not a
  parameter), which has no data: its storage is empty and gives only its dtype, and it
  loads as a new placeholder, as ``torch.save``'s pickle of one does;
- a NODE is a JSON array whose first item names its kind: ``["none"]``, ``["bool", b]``,
  ``["int", n]``, ``["float", "repr"]`` (a string, so nan/inf/-0.0 round-trip exactly),
  ``["str", s]``, ``["list", [NODE...]]``, ``["tuple", [NODE...]]``, ``["dict", [[KEY,
  NODE]...]]`` and ``["odict", ...]`` (OrderedDict; keys are NODEs too, so int keys
  survive), ``["size", [n...]]`` (irgrad.Size), ``["dtype", "float32"]``,
  ``["tensor", t]`` (index into ``tensors``) and ``["ndarray", s]`` (a numpy array,
  index into ``storages``).

Sharing: every occurrence of one tensor object refers to one ``tensors`` entry and loads
as one tensor object; different tensors viewing exactly the same memory (same address,
shape, strides and dtype: ``t`` and ``t.detach()``, tied weights in a state dict) refer
to one storage and load as tensors sharing memory. Overlapping views of other shapes
(``t`` and ``t[0]``) are saved as separate copies and load unshared.

Containers are saved by value (a list referenced twice loads as two lists); a reference
cycle is an error. Subclasses of dict, list, tuple, int, float and str (defaultdict,
namedtuple, numpy.float64 ...) load as the plain type; Tensor subclasses other than
``nn.Parameter`` are refused. Non-contiguous tensors are saved contiguous. ``.grad`` and
the autograd graph are not saved: a tensor that required grad loads as a leaf that does
(as with ``torch.save``).

Saving to a path is atomic: the file is written to a temporary file next to it, flushed,
fsync'ed and renamed over the target, so a failure mid-save leaves the old file intact.
"""

from __future__ import annotations

import collections
import json
import math
import os
import pickle
import struct
import zipfile
import zlib
from typing import IO, Any

import numpy as np

from . import _tracing, dtypes
from ._atomic import write_atomically
from .nn.parameter import Parameter, UninitializedBuffer, UninitializedParameter, is_lazy
from .safetensors import SafetensorError, is_safetensors
from .safetensors import load as load_safetensors
from .safetensors import load_file as load_safetensors_file
from .tensor import Size, Tensor, device
from .torch_checkpoint import is_torch_checkpoint, load_torch_checkpoint

__all__ = ["save", "load", "LoadError", "FORMAT_VERSION"]

MAGIC = b"\x89IRGRAD\n"
FORMAT_VERSION = 1
ALIGN = 64
_PREAMBLE = struct.Struct("<8sIQI")  # magic, version, header length, header CRC-32
_READ_CHUNK = 1 << 26  # read huge declared sizes piecewise, so garbage sizes fail as truncation
_CRC_CHUNK = 1 << 21  # storages are read and checksummed in pieces that stay in cache
_DTYPE_NAMES = {d.name for d in dtypes.ALL_DTYPES}
_NP_DTYPES = {d.np for d in dtypes.ALL_DTYPES}

FileLike = str | os.PathLike | IO[bytes]


class LoadError(RuntimeError):
    """``irgrad.load`` could not read a file: not an irgrad file, truncated or corrupted."""


# --------------------------------------------------------------------------- saving


def _float_text(value: float) -> str:
    """repr(value), except that a negative NaN keeps its sign ("-nan")."""
    if math.isnan(value) and math.copysign(1.0, value) < 0:
        return "-nan"
    return repr(value)


def _path_str(path: list[str]) -> str:
    return "obj" + "".join(path)


def _parameter_class() -> type:
    """``irgrad.nn.Parameter``, imported late (nn builds on the tensor layer, not vice versa)."""

    return Parameter


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


def _align(n: int) -> int:
    return -(-n // ALIGN) * ALIGN


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


def save(obj: Any, f: FileLike) -> None:
    """Save ``obj`` (tensors, state dicts, nested dicts/lists/tuples of them and plain
    Python values) to ``f``, a path or a writable binary file object.

    The format (see the module docstring) never executes code on load. Saving to a path
    replaces the file atomically. Unsupported objects raise ``TypeError`` naming the type
    and where it sits in ``obj``, before anything is written.
    """
    _tracing.untraceable("irgrad.save (a file written at every call)")
    header, placed = _plan(obj)
    if isinstance(f, (str, os.PathLike)):
        _save_atomic(os.fspath(f), header, placed)
    elif callable(getattr(f, "write", None)):
        _write(f, header, placed)
    else:
        raise TypeError(
            f"irgrad.save: f must be a path or a writable binary file object, got {type(f).__name__}"
        )


# --------------------------------------------------------------------------- loading


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


def _check_map_location(map_location) -> None:

    if map_location is None or callable(map_location):
        return
    targets = map_location.values() if isinstance(map_location, dict) else [map_location]
    for target in targets:
        device(target)  # RuntimeError for anything but the CPU, irgrad's only device


def load(f: FileLike, map_location=None, weights_only: bool = True, mmap: bool = False) -> Any:
    """Load an object saved with ``irgrad.save`` from a path or a readable binary file object.

    Checkpoints written by ``torch.save`` and ``.safetensors`` files load too (their
    tensors as irgrad tensors); ``mmap=True`` maps a ``.safetensors`` file copy-on-write
    instead of reading it.

    Nothing in the file is ever executed, whatever ``weights_only`` says (irgrad's format
    holds only data). ``map_location`` may be None, ``"cpu"``, an ``irgrad.device``, a
    dict of locations, or a callable ``fn(tensor, "cpu")`` applied to every loaded tensor.
    A file that is not an irgrad file (a torch.save zip, a pickle, garbage), or that is
    truncated or corrupted, raises :class:`LoadError` (a RuntimeError) naming the file.
    """
    _check_map_location(map_location)
    if isinstance(f, (str, os.PathLike)):
        name = os.fspath(f)
        if mmap and _is_safetensors_file(name):
            return load_safetensors_file(name, mmap=True)
        with open(name, "rb") as fh:
            r = _Reader(fh, repr(name))
            obj = _load_stream(r, map_location)
            if fh.read(1):
                raise r.error("unexpected bytes after the end of the data: the file is corrupted")
        return obj
    if not callable(getattr(f, "read", None)):
        raise TypeError(
            f"irgrad.load: f must be a path or a readable binary file object, got {type(f).__name__}"
        )
    name = getattr(f, "name", None)
    return _load_stream(_Reader(f, repr(name) if isinstance(name, str) else type(f).__name__), map_location)


def _is_safetensors_file(name: str) -> bool:
    with open(name, "rb") as fh:
        return is_safetensors(fh.read(9))


def _seekable(f: IO[bytes]) -> bool:
    try:
        return bool(f.seekable())
    except (AttributeError, OSError, ValueError):
        return False


def _load_torch(r: _Reader, map_location) -> Any:
    """A ``torch.save`` checkpoint, read without torch and without running its pickle's code."""
    try:
        obj = load_torch_checkpoint(r.f)
    except (pickle.UnpicklingError, zipfile.BadZipFile, EOFError, ValueError, TypeError) as error:
        raise r.error(f"torch checkpoint: {error}") from None
    r.f.seek(0, os.SEEK_END)  # the archive is read whole: nothing of it follows
    if callable(map_location):
        return _map_tensors(obj, lambda t: map_location(t, "cpu"))
    return obj


def _map_tensors(obj: Any, fn) -> Any:
    if isinstance(obj, Tensor):
        return fn(obj)
    if isinstance(obj, dict):
        return type(obj)((k, _map_tensors(v, fn)) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return type(obj)(_map_tensors(v, fn) for v in obj)
    return obj


def _remaining_bytes(f: IO[bytes]) -> int | None:
    """Bytes left in a seekable stream (None for pipes and the like)."""
    try:
        if not f.seekable():
            return None
        here = f.tell()
        end = f.seek(0, os.SEEK_END)
        f.seek(here)
    except (AttributeError, OSError, ValueError):
        return None
    return end - here


def _load_stream(r: _Reader, map_location) -> Any:
    if _seekable(r.f):
        start = r.f.tell()
        head = r.f.read(9)
        r.f.seek(start)
        if is_torch_checkpoint(head):
            return _load_torch(r, map_location)
        if is_safetensors(head):
            try:
                tensors = load_safetensors(r.f.read())
            except SafetensorError as error:
                raise r.error(str(error)) from None
            return (
                _map_tensors(tensors, lambda t: map_location(t, "cpu")) if callable(map_location) else tensors
            )
    available = _remaining_bytes(r.f)
    header = _read_header(r)
    storages = _check_storages(r, header)
    tensors = header.get("tensors")
    if not isinstance(tensors, list) or "root" not in header:
        raise r.error("corrupted header: missing tensor table or root")
    data_start = _align(r.pos)
    if available is not None and available < data_start + header["data_size"]:
        raise r.error(
            f"file is truncated: the header describes {data_start + header['data_size']} bytes, "
            f"the file has {available}"
        )
    arrays = _read_storages(r, storages, data_start)
    try:
        return _Decoder(r, arrays, tensors, map_location).decode(header["root"], [])
    except RecursionError:
        raise r.error("corrupted header: structure nested too deeply") from None
