"""The DataLoader worker process: seeds itself, then fetches the index batches it is sent.

Protocol (the main-process side is ``multiprocessing_iter.py``):

* the main process puts ``(task, index)`` on the worker's own index queue; the worker
  fetches and collates that whole batch and puts ``dumps((task, result))`` on the queue
  shared by all workers. ``result`` is the batch, a :class:`WorkerError` (any exception,
  with the worker's traceback), or :class:`IterableExhausted` when its copy of an
  ``IterableDataset`` has no more samples (then it ignores further tasks);
* :class:`ResumeIteration` starts a new epoch (persistent workers): the worker answers
  ``(ResumeIteration, None)`` and makes a fresh fetcher;
* ``None`` (or the shared ``done_event``) ends the loop. The worker also ends when its
  parent process is gone.

Seeding follows PyTorch: with ``seed = base_seed + worker_id``, the worker seeds irgrad's
default generator and Python's ``random`` with ``seed`` and numpy's global generator with
the four words numpy's ``SeedSequence([worker_id, base_seed])`` generates (the state
PyTorch's workers give numpy).
"""

from __future__ import annotations

import os
import pickle
import queue
import random
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...random import manual_seed
from .dataset import Dataset, IterableDataset
from .fetch import make_fetcher
from .transport import dumps

__all__ = ["WorkerInfo", "get_worker_info"]

POLL_INTERVAL = 0.5
"""Seconds between checks that the other side is still alive, while waiting on a queue."""


@dataclass(frozen=True)
class WorkerInfo:
    """What ``get_worker_info()`` returns inside a worker: its id, the number of workers,
    its seed and its own copy of the dataset (shard an ``IterableDataset`` with these)."""

    id: int
    num_workers: int
    seed: int
    dataset: Dataset


_worker_info: WorkerInfo | None = None


def get_worker_info() -> WorkerInfo | None:
    """The current DataLoader worker's :class:`WorkerInfo`; None in the main process."""
    return _worker_info


class KeyErrorMessage(str):
    """A message whose repr is itself: ``KeyError`` prints ``repr(arg)``, which would show
    a multi-line traceback as one escaped line."""

    __slots__ = ()

    def __repr__(self) -> str:
        return self


class WorkerError:
    """An exception raised in a worker, carried to the main process as its type and text.

    ``exception()`` is the same type there with PyTorch's message: ``Caught <type> in
    DataLoader worker process <id>.`` followed by the worker's traceback. A type that
    cannot travel (a class defined inside a function) or that does not take a message
    becomes a ``RuntimeError`` with that message.
    """

    def __init__(self, where: str) -> None:
        exc_type, exc, tb = sys.exc_info()
        self.type_name = exc_type.__name__
        self.text = "".join(traceback.format_exception(exc_type, exc, tb))
        self.where = where
        try:
            pickle.dumps(exc_type)
            self.exc_type: type[BaseException] = exc_type
        except Exception:
            self.exc_type = RuntimeError

    def exception(self) -> BaseException:
        """The exception to raise in the main process (built here and raised by the caller,
        so that no frame holds it: a traceback cycle would keep the iterator alive)."""
        msg = f"Caught {self.type_name} {self.where}.\nOriginal {self.text}"
        try:
            if self.exc_type is KeyError:
                return KeyError(KeyErrorMessage(msg))
            if getattr(self.exc_type, "message", None):
                return self.exc_type(message=msg)
            return self.exc_type(msg)
        except Exception:
            return RuntimeError(msg)


@dataclass(frozen=True)
class IterableExhausted:
    """A worker's copy of the IterableDataset has no more samples."""

    worker_id: int


@dataclass(frozen=True)
class ResumeIteration:
    """Start a new epoch with the same (persistent) workers."""


@dataclass(frozen=True)
class WorkerConfig:
    """Everything a worker needs, sent once when it starts."""

    dataset: Dataset
    auto_collation: bool
    collate_fn: Callable
    drop_last: bool
    base_seed: int
    init_fn: Callable[[int], None] | None
    worker_id: int
    num_workers: int


def seed_worker(base_seed: int, worker_id: int) -> int:
    """Seed irgrad, ``random`` and numpy's global generator as PyTorch's workers do."""
    seed = base_seed + worker_id
    random.seed(seed)
    manual_seed(seed)
    np.random.seed(np.random.SeedSequence([worker_id, base_seed]).generate_state(4))
    return seed


def _send(result_queue, task: Any, result: Any, where: str) -> None:
    """Put ``(task, result)`` on the queue, pickled here so that a result that cannot be
    pickled reaches the main process as an error instead of vanishing in the queue's thread."""
    try:
        payload = dumps((task, result))
    except Exception:
        payload = dumps((task, WorkerError(where)))
    result_queue.put(payload)


def worker_loop(config: WorkerConfig, index_queue, result_queue, done_event) -> None:
    """The body of a worker process (see the module docstring for the protocol)."""
    global _worker_info
    where = f"in DataLoader worker process {config.worker_id}"
    parent, interrupted = os.getppid(), False
    try:
        seed = seed_worker(config.base_seed, config.worker_id)
        _worker_info = WorkerInfo(config.worker_id, config.num_workers, seed, config.dataset)

        def new_fetcher():
            return make_fetcher(config.dataset, config.auto_collation, config.collate_fn, config.drop_last)

        fetcher, init_error = None, None
        try:
            if config.init_fn is not None:
                config.init_fn(config.worker_id)
            fetcher = new_fetcher()
        except Exception:
            init_error = WorkerError(where)  # the answer to the first task

        iterable, exhausted = isinstance(config.dataset, IterableDataset), False
        while os.getppid() == parent:
            # The main process sets done_event, then sends None; the event alone suffices
            # when the None is lost (an iterator collected as cyclic garbage has its queues'
            # threads closed before its __del__ runs).
            try:
                message = index_queue.get(timeout=POLL_INTERVAL)
            except queue.Empty:
                if done_event.is_set():
                    break
                continue
            if message is None or done_event.is_set():
                break
            if isinstance(message, ResumeIteration):
                _send(result_queue, message, None, where)
                exhausted = False
                try:
                    fetcher = new_fetcher()
                except Exception:
                    init_error = WorkerError(where)
                continue
            if exhausted:
                continue
            task, index = message
            if init_error is not None:
                result, init_error = init_error, None
            else:
                try:
                    result = fetcher.fetch(index)
                except Exception as exc:
                    if isinstance(exc, StopIteration) and iterable:
                        result, exhausted = IterableExhausted(config.worker_id), True
                    else:
                        result = WorkerError(where)
            _send(result_queue, task, result, where)
            del message, result, index
    except KeyboardInterrupt:
        interrupted = True  # Ctrl-C reached the whole process group: the main process has its own
    if interrupted or done_event.is_set() or os.getppid() != parent:
        # Nobody reads any more: do not wait at exit for the queue's thread to flush. Otherwise
        # wait for it: a thread cut off mid-write would keep the lock the workers share.
        result_queue.cancel_join_thread()
        result_queue.close()
