"""``num_workers > 0``: the main process's side of the DataLoader's worker processes.

The main process iterates the index sampler and sends each index batch (a task
numbered in sampler order) to the workers in turn, keeping ``prefetch_factor`` tasks per
worker outstanding; each worker fetches and collates whole batches (``worker.py``).
Results come back on one shared queue in whatever order they finish and are yielded in
task order (or as they arrive, with ``in_order=False``).

Failure and shutdown, so that nothing hangs and no process is left behind:

* an exception in a worker is re-raised here with the worker's traceback in its message;
* while waiting, the workers are checked every ``POLL_INTERVAL`` seconds: a dead one
  raises ``RuntimeError("DataLoader worker (pid(s) ...) exited unexpectedly")`` and the
  others are shut down; ``timeout > 0`` bounds each wait for a batch;
* at the end of the pass (unless ``persistent_workers``), when the iterator is garbage
  collected mid-epoch, or on a fatal error, every worker is told to stop, joined, and
  terminated if it does not stop in time; workers also exit when their parent dies.
"""

from __future__ import annotations

import atexit
import itertools
import multiprocessing
import os
import queue
import time
import warnings
from typing import Any

from ...multiprocessing.reductions import register_tensor_classes
from .loader_iter import _BaseDataLoaderIter
from .transport import loads
from .worker import POLL_INTERVAL, IterableExhausted, ResumeIteration, WorkerConfig, WorkerError, worker_loop

__all__ = ["_MultiProcessingDataLoaderIter", "warn_if_too_many_workers"]

JOIN_TIMEOUT = 5.0
"""Seconds a worker gets to stop by itself before it is terminated."""

_python_exiting = False


@atexit.register
def _note_python_exit() -> None:
    # From here on multiprocessing's own exit handler terminates the (daemonic) workers;
    # iterators collected during interpreter teardown must not touch their queues.
    global _python_exiting
    _python_exiting = True


def warn_if_too_many_workers(num_workers: int) -> None:
    """PyTorch's warning when a loader asks for more workers than this process has CPUs."""
    if num_workers == 0:
        return
    cpuset_checked = hasattr(os, "sched_getaffinity")
    max_workers = len(os.sched_getaffinity(0)) if cpuset_checked else os.cpu_count()
    if max_workers is not None and num_workers <= max_workers:
        return
    if max_workers is None:
        suggestion = "DataLoader is not able to compute a suggested max number of worker in current system."
    else:
        suggestion = (
            f"Our suggested max number of worker in current system is {max_workers}"
            f"{'' if cpuset_checked else ' (`cpuset` is not taken into account)'}, which is smaller "
            "than what this DataLoader is going to create."
        )
    warnings.warn(
        f"This DataLoader will create {num_workers} worker processes in total. {suggestion} "
        "Please be aware that excessive worker creation might get DataLoader running slow or even freeze, "
        "lower the worker number to avoid potential slowness/freeze if necessary.",
        stacklevel=3,
    )


class _MultiProcessingDataLoaderIter(_BaseDataLoaderIter):
    """One pass (or, with persistent workers, every pass) over the data with worker processes."""

    # What a partly constructed iterator looks like to __del__: nothing to shut down.
    _shutdown = True
    _workers: list = []

    def __init__(self, loader) -> None:
        super().__init__(loader)
        if loader.prefetch_factor <= 0:
            raise AssertionError("prefetch_factor must be greater than 0 for MultiProcessingDataLoaderIter")
        self._prefetch_factor = loader.prefetch_factor
        self._in_order = loader.in_order
        self._failure: str | None = None
        self._owner_pid = os.getpid()
        context = loader.multiprocessing_context or multiprocessing.get_context()
        register_tensor_classes()
        self._result_queue = context.Queue()
        self._done_event = context.Event()
        self._index_queues: list = []
        self._workers = []
        self._workers_status: list[bool] = []
        self._shutdown = False
        try:
            for worker_id in range(self._num_workers):
                index_queue = context.Queue()
                index_queue.cancel_join_thread()  # never wait for tasks nobody will read
                config = WorkerConfig(
                    dataset=self._dataset,
                    auto_collation=self._auto_collation,
                    collate_fn=self._collate_fn,
                    drop_last=self._drop_last,
                    base_seed=self._base_seed,
                    init_fn=loader.worker_init_fn,
                    worker_id=worker_id,
                    num_workers=self._num_workers,
                )
                process = context.Process(
                    target=worker_loop,
                    args=(config, index_queue, self._result_queue, self._done_event),
                    daemon=True,
                )
                process.start()
                self._index_queues.append(index_queue)
                self._workers.append(process)
        except BaseException:
            self._shutdown_workers()
            raise
        self._reset(loader, first_iter=True)

    def _reset(self, loader, first_iter: bool = False) -> None:
        super()._reset(loader, first_iter)
        self._send_idx = 0  # the next task to send
        self._rcvd_idx = 0  # the next task to yield
        self._task_info: dict[int, tuple] = {}  # task -> (worker,) while out, (worker, data) once back
        self._workers_status = [True] * self._num_workers
        self._workers_num_tasks = [0] * self._num_workers
        self._worker_queue_idx_cycle = itertools.cycle(range(self._num_workers))
        if not first_iter:
            # persistent workers: start a new epoch once every worker has answered; results
            # of an abandoned epoch still on the way are dropped meanwhile
            for index_queue in self._index_queues:
                index_queue.put(ResumeIteration())
            pending = self._num_workers
            while pending:
                task, _ = self._get_data()
                if isinstance(task, ResumeIteration):
                    pending -= 1
        for _ in range(self._prefetch_factor * self._num_workers):
            self._try_put_index()

    # --- receiving ------------------------------------------------------------------------

    def _get_data(self) -> tuple[Any, Any]:
        """The next ``(task, result)`` any worker sent, watching the workers while waiting."""
        deadline = time.monotonic() + self._timeout if self._timeout > 0 else None
        while True:
            wait = POLL_INTERVAL if deadline is None else min(POLL_INTERVAL, deadline - time.monotonic())
            try:
                return loads(self._result_queue.get(timeout=max(wait, 0.0)))
            except queue.Empty:
                self._check_workers_alive()
                if deadline is not None and time.monotonic() >= deadline:
                    raise RuntimeError(f"DataLoader timed out after {self._timeout} seconds") from None

    def _check_workers_alive(self) -> None:
        failed = [w for w, active in zip(self._workers, self._workers_status) if active and not w.is_alive()]
        if failed:
            self._failure = (
                f"DataLoader worker (pid(s) {', '.join(str(w.pid) for w in failed)}) exited unexpectedly"
            )
            self._shutdown_workers()
            raise RuntimeError(self._failure)

    def _next_data(self) -> Any:
        if self._failure is not None:
            raise RuntimeError(self._failure)
        while True:
            # skip tasks whose worker stopped (its IterableDataset copy ran out) without data
            while self._rcvd_idx < self._send_idx:
                info = self._task_info.get(self._rcvd_idx)
                if info:
                    if len(info) == 2 or self._workers_status[info[0]]:
                        break
                    del self._task_info[self._rcvd_idx]
                self._rcvd_idx += 1
            else:
                if not self._persistent_workers:
                    self._shutdown_workers()
                raise StopIteration

            if len(self._task_info[self._rcvd_idx]) == 2:  # it arrived earlier, out of order
                worker_id, data = self._task_info.pop(self._rcvd_idx)
                self._rcvd_idx += 1
                return self._process_data(data, worker_id)

            task, data = self._get_data()
            if isinstance(data, IterableExhausted):
                if self._persistent_workers:
                    self._workers_status[data.worker_id] = False
                else:
                    self._mark_worker_as_unavailable(data.worker_id)
                self._try_put_index()
                continue
            if task != self._rcvd_idx:
                if not self._in_order:
                    return self._process_data(data, self._task_info.pop(task)[0])
                self._task_info[task] += (data,)
            else:
                worker_id = self._task_info.pop(task)[0]
                self._rcvd_idx += 1
                return self._process_data(data, worker_id)

    def _process_data(self, data: Any, worker_id: int) -> Any:
        self._workers_num_tasks[worker_id] -= 1
        self._try_put_index()
        if isinstance(data, WorkerError):
            raise data.exception()
        return data

    # --- sending --------------------------------------------------------------------------

    def _try_put_index(self) -> None:
        """Send the sampler's next index batch to the next active worker (if any)."""
        max_tasks = self._prefetch_factor * self._num_workers
        try:
            index = self._next_index()
        except StopIteration:
            return
        for _ in range(self._num_workers):
            worker_id = next(self._worker_queue_idx_cycle)
            if self._workers_status[worker_id] and (
                self._in_order or self._workers_num_tasks[worker_id] < max_tasks // sum(self._workers_status)
            ):
                break
        else:
            return
        self._index_queues[worker_id].put((self._send_idx, index))
        self._task_info[self._send_idx] = (worker_id,)
        self._workers_num_tasks[worker_id] += 1
        self._send_idx += 1

    # --- shutting down --------------------------------------------------------------------

    def _mark_worker_as_unavailable(self, worker_id: int) -> None:
        """Send no more tasks to this worker and tell it to exit."""
        self._index_queues[worker_id].put(None)
        self._workers_status[worker_id] = False

    def _shutdown_workers(self) -> None:
        """Stop, join and reap every worker (terminating those that do not stop in time)."""
        if self._shutdown or os.getpid() != self._owner_pid:
            return  # already done, or a forked child's copy of this iterator
        self._shutdown = True
        try:
            self._done_event.set()
            for index_queue in self._index_queues:
                index_queue.put(None)
            for process in self._workers:
                process.join(timeout=JOIN_TIMEOUT)
            for q in [*self._index_queues, self._result_queue]:
                q.cancel_join_thread()
                q.close()
        finally:
            for process in self._workers:
                if process.is_alive():
                    process.terminate()
                    process.join(timeout=JOIN_TIMEOUT)
                if process.is_alive():
                    process.kill()
                    process.join()

    def __del__(self) -> None:
        if not _python_exiting:
            self._shutdown_workers()
