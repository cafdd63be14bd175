"""The iterator ``iter(DataLoader)`` returns: what one pass over the data shares, and the
single-process pass (``num_workers=0``); the worker-process pass is ``multiprocessing_iter.py``.

Every iterator draws a base seed from the loader's ``generator`` (irgrad's default
generator when None) when it is created, as PyTorch does with or without workers: so the
draws that follow (a ``RandomSampler``'s permutation) are the same whatever
``num_workers`` is, and workers seed themselves from it.
"""

from __future__ import annotations

import warnings
from typing import Any

from ...random import resolve
from .dataset import IterableDataset
from .fetch import make_fetcher

__all__ = ["_BaseDataLoaderIter", "_SingleProcessDataLoaderIter"]


def _warn_pin_memory(loader) -> None:
    """PyTorch's warnings for ``pin_memory`` without an accelerator (irgrad never has one)."""
    if not loader.pin_memory:
        return
    if loader.pin_memory_device:
        warnings.warn(
            "pin_memory_device is deprecated, the current accelerator will be used as the device,"
            f"ignore pin_memory_device='{loader.pin_memory_device}'.",
            stacklevel=3,
        )
    warnings.warn(
        "'pin_memory' argument is set as true but no accelerator is found, "
        "then device pinned memory won't be used.",
        stacklevel=3,
    )


class _BaseDataLoaderIter:
    """One pass over a DataLoader: the sampler's iterator, the base seed, the yield count."""

    def __init__(self, loader) -> None:
        self._dataset = loader.dataset
        self._is_iterable = isinstance(loader.dataset, IterableDataset)
        self._len_reported = loader._IterableDataset_len_called
        self._auto_collation = loader._auto_collation
        self._drop_last = loader.drop_last
        self._index_sampler = loader._index_sampler
        self._num_workers = loader.num_workers
        self._collate_fn = loader.collate_fn
        self._timeout = loader.timeout
        self._persistent_workers = loader.persistent_workers
        _warn_pin_memory(loader)
        self._sampler_iter = iter(self._index_sampler)
        self._base_seed = int(resolve(loader.generator).integers(0, 2**63, ()))
        self._num_yielded = 0

    def __iter__(self) -> _BaseDataLoaderIter:
        return self

    def _reset(self, loader, first_iter: bool = False) -> None:
        self._sampler_iter = iter(self._index_sampler)
        self._num_yielded = 0
        self._len_reported = loader._IterableDataset_len_called

    def _next_index(self):
        return next(self._sampler_iter)  # may raise StopIteration

    def _next_data(self) -> Any:
        raise NotImplementedError

    def __next__(self) -> Any:
        data = self._next_data()
        self._num_yielded += 1
        if self._is_iterable and self._len_reported is not None and self._num_yielded > self._len_reported:
            msg = (
                f"Length of IterableDataset {self._dataset} was reported to be {self._len_reported}"
                f"(when accessing len(dataloader)), but {self._num_yielded} samples have been fetched. "
            )
            if self._num_workers > 0:
                msg += (
                    "For multiprocessing data-loading, this could be caused by not properly configuring the "
                    "IterableDataset replica at each worker. Please see "
                    "https://pytorch.org/docs/stable/data.html#torch.utils.data.IterableDataset for examples."
                )
            warnings.warn(msg, stacklevel=2)
        return data

    def __len__(self) -> int:
        return len(self._index_sampler)

    def __getstate__(self):
        raise NotImplementedError(f"{type(self).__name__} cannot be pickled")


class _SingleProcessDataLoaderIter(_BaseDataLoaderIter):
    """Fetches every batch in the calling process."""

    def __init__(self, loader) -> None:
        super().__init__(loader)
        if self._timeout != 0:  # PyTorch's check: there is no worker to wait for
            raise AssertionError("_SingleProcessDataLoaderIter requires timeout == 0")
        self._fetcher = make_fetcher(self._dataset, self._auto_collation, self._collate_fn, self._drop_last)

    def _next_data(self) -> Any:
        return self._fetcher.fetch(self._next_index())  # either may raise StopIteration
