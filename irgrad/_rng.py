"""The numpy bit streams behind irgrad's random generators.

A :class:`Stream` is reseeded in place, so whoever holds it keeps drawing from the
current seed.  The random ops of the registry (:mod:`irgrad.ops.random`) draw from
:data:`GLOBAL`, the stream of ``irgrad.random.default_generator``; this module sits
below the registry so that it needs nothing of the tensor layers that
:mod:`irgrad.random` (the public generators) belongs to.
"""

from __future__ import annotations

import numpy as np

DEFAULT_SEED = 67280421310721


class Stream:
    """A numpy PCG64 generator (``rng``) and the seed it started from (``initial``)."""

    def __init__(self, seed: int = DEFAULT_SEED) -> None:
        self.reseed(seed)

    def reseed(self, seed: int) -> None:
        self.initial = int(seed)
        self.rng = np.random.Generator(np.random.PCG64(self.initial))


GLOBAL = Stream()
