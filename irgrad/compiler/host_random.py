"""Random draws from generators other than irgrad's: a traced call must not make them.

A graph records irgrad's random ops and draws them afresh at every call.  A draw from
Python's ``random`` module, numpy's global generator, or a generator object the
function holds (``rng = np.random.default_rng()`` in a closure, a ``random.Random``)
happens in Python while tracing: the value drawn would be a constant of the graph, and
later calls would neither draw nor advance the generator (an augmentation scale drawn
once and used forever).  Capture compares every such generator's state before and after
the trace; a draw makes the call a graph break, so it runs eagerly, drawing as it should.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np

_GENERATOR_TYPES = (random.Random, np.random.Generator, np.random.RandomState)


class HostGenerators:
    """The states of the generators a traced call could draw from, taken at creation;
    :meth:`drawn` tells whether any moved since."""

    def __init__(self, reachable) -> None:
        """``reachable``: the objects of the walked state (generators among them are watched)."""
        self.generators: list[Any] = [random, np.random]
        seen = set()
        for obj in reachable:
            if isinstance(obj, _GENERATOR_TYPES) and id(obj) not in seen:
                seen.add(id(obj))
                self.generators.append(obj)
        self.states = [_state(g) for g in self.generators]

    def drawn(self) -> bool:
        """Whether a generator's state changed: the traced code drew from it."""
        return any(not _same(_state(g), s) for g, s in zip(self.generators, self.states))


def _state(generator) -> Any:
    if generator is random or isinstance(generator, random.Random):
        return generator.getstate()
    if generator is np.random:
        return np.random.get_state(legacy=False)
    if isinstance(generator, np.random.Generator):
        return generator.bit_generator.state
    return generator.get_state(legacy=False)  # a RandomState


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.array_equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (tuple, list)):
        if type(a) is not type(b) or len(a) != len(b):
            return False
        if all(type(x) is int for x in a):  # (Python's generator: 625 words, compared at once)
            return a == b
        return all(_same(x, y) for x, y in zip(a, b))
    return a == b
