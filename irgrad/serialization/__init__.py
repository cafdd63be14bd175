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
  (float16/32/64, complex64/128, uint8, int8/16/32/64, bool), C the CRC-32 of its bytes;
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

import os
import pickle
import zipfile
from typing import IO, Any

from .. import _tracing
from ..safetensors import SafetensorError, is_safetensors
from ..safetensors import load as load_safetensors
from ..safetensors import load_file as load_safetensors_file
from ..tensor import Tensor, device
from ..torch_checkpoint import is_torch_checkpoint, load_torch_checkpoint
from .layout import FORMAT_VERSION, LoadError, _align
from .reading import _check_storages, _Decoder, _read_header, _read_storages, _Reader
from .writing import _plan, _save_atomic, _write

__all__ = ["save", "load", "LoadError", "FORMAT_VERSION"]

FileLike = str | os.PathLike | IO[bytes]


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
