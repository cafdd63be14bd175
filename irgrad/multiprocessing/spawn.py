"""``spawn`` and ``start_processes``: run ``fn(i, *args)`` in ``nprocs`` new processes and
wait for them, as ``torch.multiprocessing.spawn`` does for distributed and Hogwild scripts.

The parent waits for any child to end.  When one fails, the others are stopped
(SIGTERM, then SIGKILL after a grace period) and the parent raises: a child's
exception becomes :class:`ProcessRaisedException` carrying the child's traceback, and
a child that exited otherwise (``sys.exit(3)``, a signal) :class:`ProcessExitedException`,
with PyTorch's messages.  A child reports its exception through a file in a temporary
directory, as PyTorch's does: a pipe could fill up, and a file outlives a crash of the
parent's reader.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import multiprocessing.connection
import os
import pickle
import signal
import sys
import tempfile
import time
import traceback
import warnings
from collections.abc import Callable

from .reductions import register_tensor_classes

_TERMINATE_GRACE_SECONDS = 30.0  # PyTorch's wait between SIGTERM and SIGKILL
_PR_SET_PDEATHSIG = 1


class ProcessException(Exception):
    """A spawned process failed: which one (``error_index``) and its pid."""

    def __init__(self, msg: str, error_index: int, error_pid: int) -> None:
        super().__init__(msg)
        self.msg = msg
        self.error_index = error_index
        self.pid = error_pid

    def __reduce__(self):
        return type(self), (self.msg, self.error_index, self.pid)


class ProcessRaisedException(ProcessException):
    """A spawned process raised an exception; the message holds its traceback."""


class ProcessExitedException(ProcessException):
    """A spawned process exited with a non-zero code or by a signal, without an exception."""

    def __init__(
        self, msg: str, error_index: int, error_pid: int, exit_code: int, signal_name: str | None = None
    ) -> None:
        super().__init__(msg, error_index, error_pid)
        self.exit_code = exit_code
        self.signal_name = signal_name

    def __reduce__(self):
        return type(self), (self.msg, self.error_index, self.pid, self.exit_code, self.signal_name)


def _interrupt_when_parent_dies() -> None:
    """Linux's ``PR_SET_PDEATHSIG``: SIGINT to this process when its parent exits."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGINT)


def _run_child(fn: Callable, index: int, args: tuple, error_file: str) -> None:
    """A child's body: ``fn(index, *args)``; an exception's traceback goes to ``error_file``
    and the child exits with code 1 (a SIGINT from the parent ends it quietly, and on Linux
    the parent's death sends one, so no child outlives a killed parent)."""
    _interrupt_when_parent_dies()
    try:
        fn(index, *args)
    except KeyboardInterrupt:
        pass  # the parent is stopping the children
    except Exception:
        with open(error_file, "wb") as out:
            pickle.dump(traceback.format_exc(), out)
        sys.exit(1)


class ProcessContext:
    """The processes :func:`start_processes` started, joined by :meth:`join`."""

    def __init__(self, processes: list, error_files: list[str]) -> None:
        self.error_files = error_files
        self.processes = processes
        self.sentinels = {process.sentinel: index for index, process in enumerate(processes)}

    def pids(self) -> list[int]:
        return [int(process.pid) for process in self.processes]

    def _join_all(self, timeout: float) -> None:
        """Join every process within ``timeout`` seconds in all."""
        end = time.monotonic() + timeout
        for process in self.processes:
            process.join(max(0.0, end - time.monotonic()))

    def join(self, timeout: float | None = None, grace_period: float | None = None) -> bool:
        """Wait up to ``timeout`` seconds for a process to end.  True when all have ended
        successfully, False while some still run; raises for the first that failed, after
        stopping the others (given ``grace_period`` seconds to end on their own first)."""
        if not self.sentinels:
            return True
        failed = None
        for sentinel in multiprocessing.connection.wait(list(self.sentinels), timeout=timeout):
            index = self.sentinels.pop(sentinel)
            process = self.processes[index]
            process.join()
            if process.exitcode != 0:
                failed = index
                break
        if failed is None:
            return not self.sentinels
        self._stop_all(grace_period)
        failure = self._failure(failed)
        for path in self.error_files:  # other children that raised left theirs too
            if os.path.exists(path):
                os.unlink(path)
        raise failure

    def _stop_all(self, grace_period: float | None) -> None:
        if grace_period is not None:
            self._join_all(grace_period)
        for process in self.processes:
            if process.is_alive():
                process.terminate()
        self._join_all(_TERMINATE_GRACE_SECONDS if grace_period is None else grace_period)
        for process in self.processes:
            if process.is_alive():
                process.kill()
            process.join()

    def _failure(self, index: int) -> ProcessException:
        process = self.processes[index]
        if os.access(self.error_files[index], os.R_OK):
            with open(self.error_files[index], "rb") as report:
                trace = pickle.load(report)  # written by this program's own child
            message = f"\n\n-- Process {index:d} terminated with the following error:\n{trace}"
            return ProcessRaisedException(message, index, process.pid)
        code = process.exitcode
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"<Unknown signal {-code}>"
            return ProcessExitedException(
                f"process {index:d} terminated with signal {name}", index, process.pid, code, name
            )
        return ProcessExitedException(
            f"process {index:d} terminated with exit code {code:d}", index, process.pid, code
        )


def start_processes(
    fn: Callable,
    args: tuple = (),
    nprocs: int = 1,
    join: bool = True,
    daemon: bool = False,
    start_method: str = "spawn",
) -> ProcessContext | None:
    """Start ``nprocs`` processes running ``fn(i, *args)`` with ``start_method``; wait for
    them if ``join`` (returns None), else return their :class:`ProcessContext`."""
    register_tensor_classes()  # tensors of classes defined by now travel in ``args``
    context = multiprocessing.get_context(start_method)
    error_files, processes = [], []
    for index in range(nprocs):
        with tempfile.NamedTemporaryFile(prefix="irgrad-spawn-error-", delete=False) as handle:
            error_files.append(handle.name)
        os.unlink(error_files[-1])  # the child creates it only if it raises
        process = context.Process(target=_run_child, args=(fn, index, args, error_files[-1]), daemon=daemon)
        process.start()
        processes.append(process)
    spawned = ProcessContext(processes, error_files)
    if not join:
        return spawned
    while not spawned.join():
        pass
    return None


def spawn(
    fn: Callable,
    args: tuple = (),
    nprocs: int = 1,
    join: bool = True,
    daemon: bool = False,
    start_method: str = "spawn",
) -> ProcessContext | None:
    """:func:`start_processes` with the ``spawn`` start method, always (another
    ``start_method`` warns, as PyTorch's, and is not used)."""
    if start_method != "spawn":
        warnings.warn(
            f"This method only supports start_method=spawn (got: {start_method}).\n"
            "To use a different start_method use:\n\t\t irgrad.multiprocessing.start_processes(...)",
            FutureWarning,
            stacklevel=2,
        )
    return start_processes(fn, args, nprocs, join, daemon, start_method="spawn")
