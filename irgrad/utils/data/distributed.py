"""``DistributedSampler``: each rank's share of a dataset's indices, as PyTorch's.

The indices (shuffled with a generator seeded by ``seed + epoch`` when ``shuffle``) are
padded by repeating them from the start until they divide evenly (or cut with
``drop_last``), and rank ``r`` takes every ``num_replicas``-th index from ``r``.  Call
``set_epoch`` at the start of each epoch for a new shuffle.  irgrad's generator is not
PyTorch's, so the shuffled order differs from PyTorch's for the same seed.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sized

from ... import distributed
from ...random import Generator
from .sampler import Sampler


class DistributedSampler(Sampler[int]):
    def __init__(
        self,
        dataset: Sized,
        num_replicas: int | None = None,
        rank: int | None = None,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
    ) -> None:
        if num_replicas is None or rank is None:
            if not distributed.is_initialized():
                raise RuntimeError(
                    "DistributedSampler: give num_replicas and rank, or call init_process_group first"
                )
            num_replicas = distributed.get_world_size() if num_replicas is None else num_replicas
            rank = distributed.get_rank() if rank is None else rank
        if rank >= num_replicas or rank < 0:
            raise ValueError(f"Invalid rank {rank}, rank should be in the interval [0, {num_replicas - 1}]")
        self.dataset = dataset
        self.num_replicas, self.rank = num_replicas, rank
        self.epoch = 0
        self.drop_last = drop_last
        n = len(dataset)
        if drop_last and n % num_replicas:
            self.num_samples = math.ceil((n - num_replicas) / num_replicas)
        else:
            self.num_samples = math.ceil(n / num_replicas)
        self.total_size = self.num_samples * num_replicas
        self.shuffle, self.seed = shuffle, seed

    def __iter__(self) -> Iterator[int]:
        n = len(self.dataset)
        if self.shuffle:
            g = Generator()
            g.manual_seed(self.seed + self.epoch)
            indices = g.permutation(n).tolist()
        else:
            indices = list(range(n))
        if not self.drop_last:
            padding = self.total_size - len(indices)
            if padding <= len(indices):
                indices += indices[:padding]
            else:
                indices += (indices * math.ceil(padding / len(indices)))[:padding]
        else:
            indices = indices[: self.total_size]
        return iter(indices[self.rank : self.total_size : self.num_replicas])

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
