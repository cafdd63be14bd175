"""Tensor memory that several processes map: what ``Tensor.share_memory_()`` moves a
tensor's elements into, and how such memory travels to another process.

PyTorch's default on Linux (its ``file_descriptor`` strategy) keeps a shared storage in
an anonymous memory file and sends the file's descriptor to the other process, which
maps the same pages.  irgrad does the same for the numpy array behind a tensor: the
array is copied once into a :class:`SharedBuffer` (a ``MAP_SHARED`` mapping of a
``memfd``, or of an unlinked temporary file where there is no ``memfd_create``), and
the tensor takes the copy as its storage.  From then on every process that received the
tensor (a ``fork``-ed child inherits the mapping; a ``spawn``-ed one or a queue's reader
receives the descriptor) reads and writes the same memory: Hogwild training, where
workers step one model's parameters in place, works as in PyTorch.

The memory lives as long as a mapping of it: the last array viewing a buffer keeps the
buffer, whose finalizer closes its descriptor.
"""

from __future__ import annotations

import mmap
import os
import tempfile
import weakref
from multiprocessing.reduction import DupFd
from typing import Any

import numpy as np

from ..ops.strides import byte_span


class SharedBuffer(mmap.mmap):
    """A shared mapping of a memory file, with the file's descriptor kept open so that
    the memory can be sent to another process (``fd``) and the mapping's start address
    (``address``), from which an array's offset into it is found."""

    fd: int
    address: int

    @classmethod
    def over(cls, fd: int, size: int) -> SharedBuffer:
        """The mapping of ``size`` bytes of the memory file ``fd``, which it then owns."""
        buffer = cls(fd, max(size, 1))  # mmap cannot map 0 bytes; a size-0 tensor maps 1
        buffer.fd = fd
        buffer.address = np.frombuffer(buffer, np.uint8).__array_interface__["data"][0]
        weakref.finalize(buffer, os.close, fd)
        return buffer


def _memory_file(size: int) -> int:
    """A new anonymous memory file of ``size`` bytes (zero-filled), as a descriptor."""
    if hasattr(os, "memfd_create"):
        fd = os.memfd_create("irgrad-shared-tensor", os.MFD_CLOEXEC)
    else:  # macOS and other systems without memfd: an unlinked file in the temp directory
        fd, path = tempfile.mkstemp(prefix="irgrad-shared-tensor-")
        os.unlink(path)
    os.ftruncate(fd, max(size, 1))
    return fd


def buffer_of(array: np.ndarray) -> SharedBuffer | None:
    """The shared buffer ``array``'s elements lie in, or None for private memory."""
    owner: Any = array
    while isinstance(owner, np.ndarray):
        owner = owner.base
    if isinstance(owner, memoryview):
        owner = owner.obj
    return owner if isinstance(owner, SharedBuffer) else None


def _address(array: np.ndarray) -> int:
    return array.__array_interface__["data"][0]


def shared_copy(array: np.ndarray) -> np.ndarray:
    """``array``'s values in a new shared buffer, laid out exactly as ``array`` (same
    strides, same offsets between elements), so that every view of ``array`` has its
    counterpart in the copy (:func:`moved_view`)."""
    low, high = byte_span(array)
    buffer = SharedBuffer.over(_memory_file(high - low), high - low)
    copy = np.ndarray(
        array.shape, array.dtype, buffer=buffer, offset=_address(array) - low, strides=array.strides
    )
    copy[...] = array
    return copy


def moved_view(view: np.ndarray, old_base: np.ndarray, new_base: np.ndarray) -> np.ndarray:
    """The array over ``new_base``'s memory that ``view`` is over ``old_base``'s (the
    same layout, at the same distance from the base's first element)."""
    buffer = buffer_of(new_base)
    offset = _address(new_base) - buffer.address + _address(view) - _address(old_base)
    return np.ndarray(view.shape, view.dtype, buffer=buffer, offset=offset, strides=view.strides)


def reduce_shared(array: np.ndarray, buffer: SharedBuffer) -> tuple:
    """What another process needs to map ``array`` (which lies in ``buffer``): a
    duplicate of the buffer's descriptor, which multiprocessing passes on (to a spawned
    child at its start, to a running process through its resource sharer), and the
    array's place in the buffer."""
    offset = _address(array) - buffer.address
    return (DupFd(buffer.fd), len(buffer), array.dtype.str, array.shape, array.strides, offset)


def rebuild_shared(
    fd_holder: Any, size: int, dtype: str, shape: tuple, strides: tuple, offset: int
) -> np.ndarray:
    """The array :func:`reduce_shared` described, over this process's own mapping of the
    same memory."""
    buffer = SharedBuffer.over(fd_holder.detach(), size)
    return np.ndarray(shape, np.dtype(dtype), buffer=buffer, offset=offset, strides=strides)
