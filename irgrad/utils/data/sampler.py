"""Samplers: the order in which ``DataLoader`` visits a map-style dataset's indices.

Random samplers draw from irgrad's global generator (so ``irgrad.manual_seed`` makes
every epoch's order reproducible) or from the ``irgrad.Generator`` they are given; each
new iteration draws a fresh order. The numbers differ from PyTorch's generator (as all
of ``irgrad.random`` does), the semantics do not.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence, Sized
from typing import Generic, TypeVar

import numpy as np

from ...random import Generator, resolve

__all__ = [
    "Sampler",
    "SequentialSampler",
    "RandomSampler",
    "SubsetRandomSampler",
    "WeightedRandomSampler",
    "BatchSampler",
]


T_co = TypeVar("T_co", covariant=True)


class Sampler(Generic[T_co]):
    """Base class: an iterable over dataset indices (or batches of them).

    ``data_source`` is accepted (and ignored) so subclasses written for PyTorch that call
    ``super().__init__(data_source)`` keep working.
    """

    def __init__(self, data_source: Sized | None = None) -> None:
        del data_source

    def __iter__(self) -> Iterator[T_co]:
        raise NotImplementedError


class SequentialSampler(Sampler[int]):
    """``0, 1, ..., len(data_source) - 1``."""

    def __init__(self, data_source: Sized) -> None:
        self.data_source = data_source

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


def _check_positive_int(name: str, value) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"{name} should be a positive integer value, but got {name}={value}")


class RandomSampler(Sampler[int]):
    """A random permutation of the indices each epoch, or ``num_samples`` draws with replacement.

    Without replacement and ``num_samples > len(data_source)``, whole permutations are
    concatenated and the last one is cut, as PyTorch does.
    """

    def __init__(
        self,
        data_source: Sized,
        replacement: bool = False,
        num_samples: int | None = None,
        generator: Generator | None = None,
    ) -> None:
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator
        if not isinstance(replacement, bool):
            raise TypeError(f"replacement should be a boolean value, but got replacement={replacement}")
        _check_positive_int("num_samples", self.num_samples)

    @property
    def num_samples(self) -> int:
        # The dataset may change size between epochs.
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self) -> Iterator[int]:
        n = len(self.data_source)
        gen = resolve(self.generator)
        if self.replacement:
            # drawn 32 at a time, as PyTorch does: an "infinite" sampler (num_samples=10**10)
            # must not allocate every index up front
            for start in range(0, self.num_samples, 32):
                yield from gen.integers(0, n, (min(32, self.num_samples - start),)).tolist()
            return
        for _ in range(self.num_samples // n):
            yield from gen.permutation(n).tolist()
        if self.num_samples % n:
            yield from gen.permutation(n)[: self.num_samples % n].tolist()

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(Sampler[int]):
    """The given ``indices`` in a random order each epoch."""

    def __init__(self, indices: Sequence[int], generator: Generator | None = None) -> None:
        self.indices = indices
        self.generator = generator

    def __iter__(self) -> Iterator[int]:
        for i in resolve(self.generator).permutation(len(self.indices)).tolist():
            yield self.indices[i]

    def __len__(self) -> int:
        return len(self.indices)


def _multinomial(weights: np.ndarray, num_samples: int, replacement: bool, gen: Generator) -> np.ndarray:
    """Indices drawn with probability proportional to ``weights`` (``torch.multinomial``'s rules)."""
    if not np.all(np.isfinite(weights)):
        raise RuntimeError(
            "invalid multinomial distribution (encountering probability entry that is inf or nan)"
        )
    if np.any(weights < 0):
        raise RuntimeError("invalid multinomial distribution (encountering probability entry < 0)")
    total = weights.sum()
    if total <= 0:
        raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
    if replacement:
        cdf = np.cumsum(weights / total)
        picks = np.searchsorted(cdf, gen.random((num_samples,), np.float64), side="right")
        return np.minimum(picks, len(weights) - 1)
    if num_samples > np.count_nonzero(weights):
        raise RuntimeError("cannot sample n_sample > prob_dist.size(-1) samples without replacement")
    # Exponential-race (Gumbel top-k) sampling: the k smallest E_i / w_i, with E_i ~ Exp(1),
    # are a weighted sample without replacement in the order drawn.
    with np.errstate(divide="ignore"):
        keys = -np.log1p(-gen.random((len(weights),), np.float64)) / weights
    return np.argsort(keys, kind="stable")[:num_samples]


class WeightedRandomSampler(Sampler[int]):
    """``num_samples`` indices drawn with probabilities proportional to ``weights``."""

    def __init__(
        self,
        weights: Sequence[float],
        num_samples: int,
        replacement: bool = True,
        generator: Generator | None = None,
    ) -> None:
        _check_positive_int("num_samples", num_samples)
        if not isinstance(replacement, bool):
            raise ValueError(f"replacement should be a boolean value, but got replacement={replacement}")
        w = np.asarray(weights, dtype=np.float64)
        if w.ndim != 1:
            raise ValueError(f"weights should be a 1d sequence but given weights have shape {tuple(w.shape)}")
        self.weights = w
        self.num_samples = num_samples
        self.replacement = replacement
        self.generator = generator

    def __iter__(self) -> Iterator[int]:
        picks = _multinomial(self.weights, self.num_samples, self.replacement, resolve(self.generator))
        yield from picks.tolist()

    def __len__(self) -> int:
        return self.num_samples


class _InfiniteConstantSampler(Sampler[None]):
    """``None`` forever: the index sampler of an IterableDataset, whose fetcher ignores
    index values and only counts them (one per sample of a batch)."""

    def __iter__(self) -> Iterator[None]:
        return itertools.repeat(None)


class BatchSampler(Sampler[list[int]]):
    """Groups the indices of ``sampler`` into lists of ``batch_size`` (the last may be short)."""

    def __init__(self, sampler: Sampler | Iterable[int], batch_size: int, drop_last: bool) -> None:
        _check_positive_int("batch_size", batch_size)
        if not isinstance(drop_last, bool):
            raise ValueError(f"drop_last should be a boolean value, but got drop_last={drop_last}")
        self.sampler = sampler
        self.batch_size = batch_size
        self.drop_last = drop_last

    def __iter__(self) -> Iterator[list[int]]:
        it = iter(self.sampler)
        if self.drop_last:
            yield from (list(batch) for batch in zip(*[it] * self.batch_size))
            return
        batch = list(itertools.islice(it, self.batch_size))
        while batch:
            yield batch
            batch = list(itertools.islice(it, self.batch_size))

    def __len__(self) -> int:
        if self.drop_last:
            return len(self.sampler) // self.batch_size
        return (len(self.sampler) + self.batch_size - 1) // self.batch_size
