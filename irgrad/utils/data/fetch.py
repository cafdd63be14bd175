"""Fetchers: turn one entry of the DataLoader's index sampler into one collated result.

The same fetcher runs in the main process (``num_workers=0``) and in each worker
process, so both paths produce identical batches. A map-style fetcher reads the
indices it is given; an iterable fetcher ignores their values and takes as many
samples from its own iterator of the dataset as the entry holds (``[None] * batch_size``
under auto-collation), raising ``StopIteration`` when that iterator is exhausted.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ...tensor import Tensor
from .collate import default_collate
from .dataset import Dataset, IterableDataset, TensorDataset

__all__ = ["MapFetcher", "IterableFetcher", "make_fetcher"]


class MapFetcher:
    """Reads ``dataset[i]`` (or ``dataset.__getitems__(indices)``) and collates."""

    def __init__(self, dataset: Dataset, auto_collation: bool, collate_fn: Callable) -> None:
        self.dataset = dataset
        self.auto_collation = auto_collation
        self.collate_fn = collate_fn

    def fetch(self, index) -> Any:
        if not self.auto_collation:
            return self.collate_fn(self.dataset[index])
        ds = self.dataset
        if type(ds) is TensorDataset and self.collate_fn is default_collate:
            # One gather per tensor instead of a Python loop over samples: the same
            # values and dtypes as stacking the rows, much faster (and straight in numpy
            # when autograd has nothing to record).
            idx = np.asarray(index, dtype=np.int64)
            return [t[idx] if t._rg else Tensor._wrap(t._data.take(idx, axis=0)) for t in ds.tensors]
        if callable(getattr(ds, "__getitems__", None)):
            return self.collate_fn(ds.__getitems__(index))
        return self.collate_fn([ds[i] for i in index])


class IterableFetcher:
    """Takes samples from one iterator of the dataset, created when the fetcher is.

    Under auto-collation a batch is cut short when the stream ends; an empty batch, or a
    short one with ``drop_last``, raises ``StopIteration`` instead (as PyTorch's fetcher).
    """

    def __init__(
        self, dataset: IterableDataset, auto_collation: bool, collate_fn: Callable, drop_last: bool
    ) -> None:
        self.dataset_iter = iter(dataset)
        self.auto_collation = auto_collation
        self.collate_fn = collate_fn
        self.drop_last = drop_last
        self.ended = False

    def fetch(self, index) -> Any:
        if self.ended:
            raise StopIteration
        if not self.auto_collation:
            return self.collate_fn(next(self.dataset_iter))
        data = []
        for _ in index:
            try:
                data.append(next(self.dataset_iter))
            except StopIteration:
                self.ended = True
                break
        if not data or (self.drop_last and len(data) < len(index)):
            raise StopIteration
        return self.collate_fn(data)


def make_fetcher(
    dataset: Dataset, auto_collation: bool, collate_fn: Callable, drop_last: bool
) -> MapFetcher | IterableFetcher:
    """The fetcher for ``dataset``'s kind (an iterable one starts iterating the dataset)."""
    if isinstance(dataset, IterableDataset):
        return IterableFetcher(dataset, auto_collation, collate_fn, drop_last)
    return MapFetcher(dataset, auto_collation, collate_fn)
