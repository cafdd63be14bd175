"""``irgrad.futures``: a result that arrives later, as ``torch.futures``: what an
asynchronous collective's ``Work.get_future()`` and ``irgrad.jit.fork`` return.

A :class:`Future` is completed once, with a value (``set_result``) or an exception
(``set_exception``); ``wait()`` blocks until then and returns the value (or raises the
exception), ``then(callback)`` chains a future completed with ``callback(self)``, and
callbacks added with ``add_done_callback`` run when it completes (at once if it has).
A future may be driven: completing it needs work done by whoever waits (an MPI request
is tested until it is done), which ``wait()`` runs first; the driver completes the
future itself, with a value or with the exception it met.  :func:`collect_all` and
:func:`wait_all` gather several.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

__all__ = ["Future", "collect_all", "wait_all"]

T = TypeVar("T")
S = TypeVar("S")


class Future(Generic[T]):
    """A value or an exception that arrives later (thread-safe; ``Future[T]`` works in
    annotations)."""

    def __init__(self, *, devices: Any = None, _drive: Callable[[], None] | None = None) -> None:
        self._condition = threading.Condition()
        self._done = False
        self._value: Any = None
        self._exception: BaseException | None = None
        self._callbacks: list[Callable[[Future[T]], None]] = []
        self._drive = _drive

    def done(self) -> bool:
        """Whether it is completed (with a value or an exception)."""
        return self._done

    def _run_drive(self) -> None:
        drive, self._drive = self._drive, None
        if drive is not None:
            drive()

    def wait(self) -> T:
        """Block until completed; its value, or raise its exception."""
        self._run_drive()
        with self._condition:
            self._condition.wait_for(lambda: self._done)
        return self.value()

    def value(self) -> T:
        """The value of a completed future (raises its exception, or RuntimeError when it
        has not completed)."""
        if not self._done:
            raise RuntimeError("Future.value(): the future has not completed yet; wait() for it first")
        if self._exception is not None:
            raise self._exception
        return self._value

    def set_result(self, result: T) -> None:
        """Complete with ``result``."""
        self._complete(result, None)

    def set_exception(self, result: BaseException) -> None:
        """Complete with an exception, which ``wait()`` and ``value()`` raise."""
        if not isinstance(result, BaseException):
            raise AssertionError(f"{result} is of type {type(result)}, not an Exception.")
        self._complete(None, result)

    def _complete(self, value: Any, exception: BaseException | None) -> None:
        with self._condition:
            if self._done:
                raise RuntimeError(
                    "Attempting to mark a completed Future as complete again. Note that a Future can only be "
                    "marked completed once."
                )
            self._value, self._exception, self._done = value, exception, True
            callbacks, self._callbacks = self._callbacks, []
            self._condition.notify_all()
        for callback in callbacks:
            callback(self)

    def add_done_callback(self, callback: Callable[[Future[T]], None]) -> None:
        """Run ``callback(self)`` when completed (now, if it has)."""
        with self._condition:
            if not self._done:
                self._callbacks.append(callback)
                return
        callback(self)

    def then(self, callback: Callable[[Future[T]], S]) -> Future[S]:
        """A future completed with ``callback(self)`` once this one completes (or with a
        RuntimeError carrying the exception the callback raises, as PyTorch's)."""
        chained: Future[S] = Future(_drive=self._run_drive if self._drive is not None else None)

        def run(done: Future[T]) -> None:
            try:
                result = callback(done)
            except Exception as error:  # the chained future carries it
                failure = RuntimeError(f"{type(error).__name__}: {error}")
                failure.__cause__ = error
                chained.set_exception(failure)
            else:
                chained.set_result(result)

        self.add_done_callback(run)
        return chained


def completed(value: T) -> Future[T]:
    """A future already completed with ``value``."""
    future: Future[T] = Future()
    future.set_result(value)
    return future


def collect_all(futures: list[Future]) -> Future[list[Future]]:
    """A future completed, with the list of ``futures``, once all of them are."""
    futures = list(futures)
    gathered: Future[list[Future]] = Future(_drive=lambda: [f._run_drive() for f in futures])
    left = [len(futures)]
    lock = threading.Lock()

    def one_done(_: Future) -> None:
        with lock:
            left[0] -= 1
            finished = left[0] == 0
        if finished:
            gathered.set_result(futures)

    if not futures:
        gathered.set_result(futures)
    for future in futures:
        future.add_done_callback(one_done)
    return gathered


def wait_all(futures: list[Future]) -> list:
    """Wait for every future; their values (raises the first exception among them)."""
    return [future.wait() for future in collect_all(futures).wait()]
