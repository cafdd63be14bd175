"""PNG encoding of 8-bit images with the standard library (zlib and struct), for the
images TensorBoard shows, so that irgrad needs no imaging package."""

from __future__ import annotations

import struct
import zlib

import numpy as np

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_COLOR_TYPES = {1: 0, 2: 4, 3: 2, 4: 6}  # channels -> grey, grey+alpha, RGB, RGBA


def _chunk(kind: bytes, data: bytes) -> bytes:
    """A PNG chunk: length, type, data, and the CRC-32 of type and data."""
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def encode_png(image: np.ndarray) -> bytes:
    """The PNG file of a ``uint8`` image of shape ``(height, width, channels)``, 1 to 4
    channels (grey, grey with alpha, RGB, RGBA), unfiltered rows, zlib-compressed."""
    height, width, channels = image.shape
    if image.dtype != np.uint8 or channels not in _COLOR_TYPES:
        raise TypeError(
            f"Cannot handle this data type: {image.shape}, {image.dtype}: PNG takes uint8, 1 to 4 channels"
        )
    header = struct.pack(">IIBBBBB", width, height, 8, _COLOR_TYPES[channels], 0, 0, 0)
    rows = np.zeros((height, 1 + width * channels), dtype=np.uint8)  # each row starts with filter 0
    rows[:, 1:] = image.reshape(height, width * channels)
    return (
        _SIGNATURE
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(rows.tobytes(), 6))
        + _chunk(b"IEND", b"")
    )
