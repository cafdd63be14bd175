"""Reading checkpoints written by ``torch.save`` without torch and without running code.

``torch.save`` writes a zip archive: ``<name>/data.pkl``, a pickle of the object whose
tensors refer to storages by key, and ``<name>/data/<key>``, each storage's raw bytes.
Unpickling can execute arbitrary code, so the pickle is read by an unpickler that
resolves only what a weights file needs (the tensor and parameter rebuild functions,
the storage types, ``OrderedDict``) to irgrad's own implementations, and refuses every
other global, as ``torch.load(weights_only=True)`` does.  A refused name is named in the
error; nothing from the file is imported or called.
"""

from __future__ import annotations

import collections
import io
import pickle
import zipfile
from typing import Any

import numpy as np

from .nn.parameter import Parameter
from .tensor import Tensor

# torch storage class -> element dtype (little-endian, as torch.save writes on every
# machine irgrad runs on; "byteorder" in the archive is checked)
_STORAGES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
    "ComplexFloatStorage": np.complex64,
    "ComplexDoubleStorage": np.complex128,
}


class _StorageType:
    """Stands for ``torch.<X>Storage`` inside the pickle: only its dtype matters."""

    def __init__(self, name: str) -> None:
        self.name, self.dtype = name, np.dtype(_STORAGES[name])


def _rebuild_tensor(
    storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None, metadata=None
):
    """torch._utils._rebuild_tensor_v2: a view of ``storage`` (copied into its own array)."""
    itemsize = storage.dtype.itemsize
    if storage_offset < 0 or any(s < 0 for s in stride) or any(n < 0 for n in size):
        raise pickle.UnpicklingError("torch checkpoint: negative tensor offset, size or stride")
    last = (
        storage_offset + sum((n - 1) * s for n, s in zip(size, stride)) if all(size) else storage_offset - 1
    )
    if last >= storage.size:
        raise pickle.UnpicklingError(
            f"torch checkpoint: a tensor of size {list(size)} reads past its storage of {storage.size} elements"
        )
    view = np.lib.stride_tricks.as_strided(
        storage[storage_offset:], tuple(size), tuple(s * itemsize for s in stride), writeable=False
    )
    t = Tensor._wrap(np.array(view, copy=True))
    return t.requires_grad_(True) if requires_grad and t.dtype.is_floating_point else t


def _rebuild_parameter(data, requires_grad, backward_hooks=None):

    return Parameter(data, requires_grad=requires_grad)


_ALLOWED = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
}


class _Unpickler(pickle.Unpickler):
    def __init__(self, data: bytes, archive: zipfile.ZipFile, prefix: str) -> None:
        super().__init__(io.BytesIO(data))
        self.archive, self.prefix = archive, prefix
        self.storages: dict[str, np.ndarray] = {}

    def find_class(self, module: str, name: str) -> Any:
        if module == "torch" and name in _STORAGES:
            return _StorageType(name)
        found = _ALLOWED.get((module, name))
        if found is None:
            raise pickle.UnpicklingError(
                f"torch checkpoint refers to {module}.{name}, which irgrad does not load: only tensors, "
                "parameters and plain containers are read (code in the file is never run)"
            )
        return found

    def persistent_load(self, pid: Any) -> np.ndarray:
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"):
            raise pickle.UnpicklingError(f"torch checkpoint: unknown persistent id {pid!r}")
        _, storage_type, key, _location, numel = pid
        if not isinstance(storage_type, _StorageType) or not isinstance(key, str):
            raise pickle.UnpicklingError(f"torch checkpoint: bad storage reference {pid!r}")
        if key not in self.storages:
            try:
                raw = self.archive.read(f"{self.prefix}/data/{key}")
            except KeyError:
                raise pickle.UnpicklingError(f"torch checkpoint: storage {key!r} is missing") from None
            if len(raw) < numel * storage_type.dtype.itemsize:
                raise pickle.UnpicklingError(f"torch checkpoint: storage {key!r} is truncated")
            self.storages[key] = np.frombuffer(raw, storage_type.dtype, count=numel)
        return self.storages[key]


def is_torch_checkpoint(head: bytes) -> bool:
    return head.startswith(b"PK\x03\x04")


def load_torch_checkpoint(f) -> Any:
    """The object a ``torch.save`` zip archive holds, its tensors as irgrad tensors."""
    with zipfile.ZipFile(f) as archive:
        pickles = [n for n in archive.namelist() if n.endswith("/data.pkl") and n.count("/") == 1]
        if len(pickles) != 1:
            raise pickle.UnpicklingError("a zip archive without torch.save's <name>/data.pkl")
        prefix = pickles[0].rsplit("/", 1)[0]
        order = f"{prefix}/byteorder"
        if order in archive.namelist() and archive.read(order).strip() not in (b"little", b""):
            raise pickle.UnpicklingError("torch checkpoint written on a big-endian machine")
        return _Unpickler(archive.read(pickles[0]), archive, prefix).load()
