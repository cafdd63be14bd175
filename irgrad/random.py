"""Random numbers: one global generator, reproducible under ``manual_seed``.

irgrad draws from numpy's PCG64, so the same seed gives the same numbers on every
run and machine, but not the same numbers as PyTorch's generator (a documented
difference: tests compare distributions, not draws).
"""

from __future__ import annotations

import numpy as np

from . import _tracing
from ._rng import GLOBAL, Stream
from .tensor import Tensor

__all__ = [
    "Generator",
    "manual_seed",
    "seed",
    "initial_seed",
    "get_rng_state",
    "set_rng_state",
    "default_generator",
]


class Generator:
    """A random number generator (``irgrad.Generator().manual_seed(0)``)."""

    def __init__(self, device: str = "cpu", *, _stream: Stream | None = None) -> None:
        self._stream = Stream() if _stream is None else _stream

    @property
    def _rng(self) -> np.random.Generator:
        return self._stream.rng

    def manual_seed(self, seed: int) -> Generator:
        _tracing.untraceable("seeding a random generator")
        self._stream.reseed(seed)
        return self

    def seed(self) -> int:
        new = int(np.random.SeedSequence().entropy % (2**63))
        self.manual_seed(new)
        return new

    def initial_seed(self) -> int:
        return self._stream.initial

    def get_state(self) -> Tensor:
        state = self._rng.bit_generator.state
        words = [state["state"]["state"], state["state"]["inc"], state["has_uint32"], state["uinteger"]]
        flat = []
        for w in words:
            flat.extend(int(w) >> (32 * k) & 0xFFFFFFFF for k in range(4))
        return Tensor._wrap(np.array(flat, dtype=np.int64))

    def set_state(self, new_state) -> None:
        _tracing.untraceable("setting a random generator's state")
        flat = [int(v) for v in np.asarray(new_state).tolist()]

        def word(i):
            return sum(flat[4 * i + k] << (32 * k) for k in range(4))

        self._rng.bit_generator.state = {
            "bit_generator": "PCG64",
            "state": {"state": word(0), "inc": word(1)},
            "has_uint32": word(2),
            "uinteger": word(3),
        }

    # numpy-level draws used by the creation functions and init: a compiled graph cannot
    # replay a draw it did not record, so one while tracing is a graph break
    def normal(self, mean, std, shape) -> np.ndarray:
        _tracing.untraceable("a random draw outside a random op (normal)")
        return self._rng.normal(mean, std, shape)

    def uniform(self, low, high, shape) -> np.ndarray:
        _tracing.untraceable("a random draw outside a random op (uniform)")
        return self._rng.uniform(low, high, shape)

    def standard_normal(self, shape, dtype) -> np.ndarray:
        _tracing.untraceable("a random draw outside a random op (standard_normal)")
        return self._rng.standard_normal(shape, dtype=dtype)

    def random(self, shape, dtype) -> np.ndarray:
        _tracing.untraceable("a random draw outside a random op (random)")
        return self._rng.random(shape, dtype=dtype)

    def integers(self, low, high, shape) -> np.ndarray:
        _tracing.untraceable("a random draw outside a random op (integers)")
        return self._rng.integers(low, high, shape, dtype=np.int64)

    def permutation(self, n: int) -> np.ndarray:
        _tracing.untraceable("a random draw outside a random op (permutation)")
        return self._rng.permutation(n).astype(np.int64)


default_generator = Generator(_stream=GLOBAL)  # the stream the random ops draw from


def resolve(generator: Generator | None) -> Generator:
    return default_generator if generator is None else generator


def manual_seed(seed: int) -> Generator:
    """Seed the global generator: the same seed gives the same numbers every run."""
    return default_generator.manual_seed(seed)


def seed() -> int:
    return default_generator.seed()


def initial_seed() -> int:
    return default_generator.initial_seed()


def get_rng_state():
    return default_generator.get_state()


def set_rng_state(new_state) -> None:
    default_generator.set_state(new_state)
