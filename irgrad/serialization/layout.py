"""The irgrad file format's constants (see :mod:`irgrad.serialization` for the layout)
and the error a file that does not follow it raises."""

from __future__ import annotations

import struct

from .. import dtypes
from ..nn.parameter import Parameter

MAGIC = b"\x89IRGRAD\n"
FORMAT_VERSION = 1
ALIGN = 64
_PREAMBLE = struct.Struct("<8sIQI")  # magic, version, header length, header CRC-32
_READ_CHUNK = 1 << 26  # read huge declared sizes piecewise, so garbage sizes fail as truncation
_CRC_CHUNK = 1 << 21  # storages are read and checksummed in pieces that stay in cache
_DTYPE_NAMES = {d.name for d in dtypes.ALL_DTYPES}
_NP_DTYPES = {d.np for d in dtypes.ALL_DTYPES}


class LoadError(RuntimeError):
    """``irgrad.load`` could not read a file: not an irgrad file, truncated or corrupted."""


def _align(n: int) -> int:
    return -(-n // ALIGN) * ALIGN


def _path_str(path: list[str]) -> str:
    return "obj" + "".join(path)


def _parameter_class() -> type:
    """``irgrad.nn.Parameter``, imported late (nn builds on the tensor layer, not vice versa)."""

    return Parameter
