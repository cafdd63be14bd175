"""The op generators the program generator draws from, each registered with a weight.

A generator is a function of the generation context (``context.Gen``) that picks
operands, proposes one statement with ``g.emit(...)`` and returns whether one was
kept; the statement's ``op`` names the API function it exercises (the coverage key).
Families live in their own modules (``ops_*.py``); importing them registers them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class OpGen:
    name: str
    family: str
    weight: float
    fn: Callable


_CATALOG: list[OpGen] = []


def register(family: str, weight: float = 1.0) -> Callable:
    """Decorator: add a generator function to the catalog."""

    def add(fn: Callable) -> Callable:
        _CATALOG.append(OpGen(fn.__name__, family, weight, fn))
        return fn

    return add


def catalog() -> list[OpGen]:
    """Every registered generator (the family modules register theirs when
    :mod:`.generate`, the catalog's user, imports them)."""
    return _CATALOG


def choose(rng: np.random.Generator, gens: list[OpGen]) -> OpGen:
    weights = np.array([g.weight for g in gens])
    return gens[int(rng.choice(len(gens), p=weights / weights.sum()))]
