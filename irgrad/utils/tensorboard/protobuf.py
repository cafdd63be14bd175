"""The protocol-buffer wire format, encoding only: the few field kinds TensorBoard's
messages use, so that irgrad writes event files without the ``protobuf`` package.

A message is the concatenation of its encoded fields (``b"".join``); a nested message,
a string and a ``bytes`` field are all length-delimited fields. Each function returns
one encoded field: its key (field number and wire type) and its value. As proto3
serializes them, a plain scalar field at its default value (0, 0.0, ``""``) is left
out; ``always=True`` writes it anyway, as protobuf does for a member of a ``oneof``
(so that a reader sees which member is set: a scalar ``simple_value`` of 0.0, say), a
nested message that is set, an element of a repeated field and a map entry's parts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

_VARINT, _FIXED64, _LENGTH_DELIMITED, _FIXED32 = 0, 1, 2, 5


def varint(value: int) -> bytes:
    """``value`` as a base-128 varint; a negative int32/int64 as its 64-bit two's
    complement (ten bytes), as protobuf writes it."""
    value &= (1 << 64) - 1
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _key(number: int, wire_type: int) -> bytes:
    return varint((number << 3) | wire_type)


def varint_field(number: int, value: int, always: bool = False) -> bytes:
    """An int32/int64/uint32/bool/enum field."""
    if not value and not always:
        return b""
    return _key(number, _VARINT) + varint(int(value))


def double_field(number: int, value: float, always: bool = False) -> bytes:
    """A ``double`` field: eight little-endian bytes."""
    if value == 0 and not always:
        return b""
    return _key(number, _FIXED64) + np.float64(value).astype("<f8").tobytes()


def float_field(number: int, value: float, always: bool = False) -> bytes:
    """A ``float`` field: the value rounded to float32 (beyond its range, to an
    infinity, as protobuf stores it), four little-endian bytes."""
    if value == 0 and not always:
        return b""
    with np.errstate(over="ignore"):
        return _key(number, _FIXED32) + np.float64(value).astype("<f4").tobytes()


def bytes_field(number: int, data: bytes, always: bool = False) -> bytes:
    """A length-delimited field: ``bytes``, or an encoded nested message."""
    if not data and not always:
        return b""
    return _key(number, _LENGTH_DELIMITED) + varint(len(data)) + data


def string_field(number: int, text: str, always: bool = False) -> bytes:
    """A ``string`` field, UTF-8 encoded."""
    return bytes_field(number, text.encode("utf-8"), always)


def packed_field(number: int, values: ArrayLike, dtype: str) -> bytes:
    """A packed repeated fixed-width field (``"<f8"`` for ``double``, ``"<f4"`` for
    ``float``): the values' little-endian bytes, one length-delimited field."""
    return bytes_field(number, np.asarray(values, dtype=dtype).reshape(-1).tobytes())
