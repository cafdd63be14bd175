"""Writing a file so that a crash or a full disk never leaves half of it: a temporary
file next to the target, flushed and fsynced, renamed over the target, then the
directory fsynced.  Used by ``irgrad.save`` and ``irgrad.safetensors.save_file``."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable
from typing import IO


def _create_temp(target: str) -> tuple[int, str]:
    """A new file next to ``target`` (created with the usual umask-derived permissions)."""
    directory, name = os.path.split(target)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        tmp = os.path.join(directory, f".{name}.{secrets.token_hex(6)}.tmp")
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue


def write_atomically(target: str, write: Callable[[IO[bytes]], object]) -> None:
    """Replace ``target`` with what ``write(file)`` writes, all or nothing."""
    target = os.path.realpath(target)  # through symlinks: replace the file, not the link
    fd, tmp = _create_temp(target)
    try:
        with os.fdopen(fd, "wb") as fh:
            with contextlib.suppress(FileNotFoundError):
                os.chmod(tmp, os.stat(target).st_mode & 0o7777)  # keep an existing file's mode
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_directory(os.path.dirname(target))


def _fsync_directory(directory: str) -> None:
    # Makes the rename itself durable; not possible on every OS/filesystem.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)
