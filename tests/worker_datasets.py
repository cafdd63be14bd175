"""Datasets and hooks for tests/test_dataloader_workers.py.

They live at module level in a module of their own: a worker started with "spawn" or
"forkserver" imports them by name.
"""

from __future__ import annotations

import os
import random

import numpy as np

import irgrad
from irgrad.utils.data import BatchSampler, Dataset, IterableDataset, get_worker_info

WAIT = 60  # seconds: a loader's timeout, long enough never to be reached unless something is broken


class Squares(Dataset):
    def __init__(self, n: int = 23) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i):
        return {"i": i, "sq": float(i * i), "x": irgrad.full((2,), float(i))}


class WhoAmI(Dataset):
    """Each sample says which worker made it, with that worker's random draws."""

    def __len__(self) -> int:
        return 8

    def __getitem__(self, i):
        info = get_worker_info()
        return {
            "id": info.id,
            "num_workers": info.num_workers,
            "seed": info.seed,
            "dataset_is_whoami": isinstance(info.dataset, WhoAmI),
            "irgrad": irgrad.randn(3),
            "random": random.random(),
            "numpy": np.random.rand(),
        }


class Stream(IterableDataset):
    """0 .. n-1, sharded over the workers by ``get_worker_info`` (when ``shard``)."""

    def __init__(self, n: int, shard: bool = True) -> None:
        self.n = n
        self.shard = shard

    def __iter__(self):
        info = get_worker_info()
        if info is None or not self.shard:
            return iter(range(self.n))
        return iter(range(info.id, self.n, info.num_workers))


class Failing(Dataset):
    def __init__(self, exc: BaseException, at: int = 5) -> None:
        self.exc = exc
        self.at = at

    def __len__(self) -> int:
        return 8

    def __getitem__(self, i):
        if i == self.at:
            raise self.exc
        return i


class NeedsTwoArgs(Exception):
    def __init__(self, a, b) -> None:
        super().__init__(a, b)


class DiesAt(Dataset):
    def __len__(self) -> int:
        return 8

    def __getitem__(self, i):
        if i == 5:
            os._exit(3)
        return i


class Pid(Dataset):
    def __len__(self) -> int:
        return 40

    def __getitem__(self, i):
        return os.getpid()


class WaitsFor(Dataset):
    """Sample ``waiter`` blocks until sample ``setter`` is fetched (in another worker)."""

    def __init__(self, n: int, event, waiter: int, setter: int) -> None:
        self.n, self.event, self.waiter, self.setter = n, event, waiter, setter

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i):
        if i == self.setter:
            self.event.set()
        if i == self.waiter:
            self.event.wait(WAIT)
        return i


class Unpicklable(Dataset):
    def __len__(self) -> int:
        return 2

    def __getitem__(self, i):
        return lambda: i


class InitRecorder(Dataset):
    def __len__(self) -> int:
        return 4

    def __getitem__(self, i):
        return get_worker_info().dataset.note


def record_init(worker_id: int) -> None:
    info = get_worker_info()
    info.dataset.note = f"init {worker_id} of {info.num_workers}"


def divide_by_zero(worker_id: int) -> None:
    raise ZeroDivisionError(f"worker {worker_id} cannot start")


class CountingBatches(BatchSampler):
    drawn = 0

    def __iter__(self):
        for batch in super().__iter__():
            CountingBatches.drawn += 1
            yield batch
