"""Backends: what differs between ways of running an optimized graph.

A backend owns the lowering it needs, the partition's recompute policy (which op
kinds the backward graph may recompute instead of saving) and ``build``, which turns
an optimized graph (after ``default_passes``) into an executable: a function from
input arrays to output arrays.  ``irgrad.compile(..., backend=)`` only chooses one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..ir import Graph, compile_graph
from ..ops import Kind

Executable = Callable[[Sequence[np.ndarray]], list]


@dataclass
class BuildReport:
    """What a backend did for one graph, for ``explain()``."""

    kernels: int = 0
    fallbacks: list[str] = field(default_factory=list)
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


class Backend:
    """The interface every backend implements."""

    name = "base"
    never_recomputed: frozenset = frozenset(Kind)

    def build(self, graph: Graph, dumper=None) -> tuple[Executable, BuildReport]:
        raise NotImplementedError


class NumpyBackend(Backend):
    """The reference: the IR interpreter runs each op's numpy kernel.

    Every op is a separate pass over memory, so recomputing an elementwise value in
    the backward costs as much as it saves: only views are recomputed.  Fusion and
    memory planning would buy it nothing, so it runs neither.
    """

    name = "numpy"
    never_recomputed = frozenset(Kind) - {Kind.MOVEMENT}

    def build(self, graph: Graph, dumper=None) -> tuple[Executable, BuildReport]:
        return compile_graph(graph), BuildReport(kernels=sum(1 for _ in graph.op_nodes()))


BACKENDS = ("llvm", "numpy", "eager")


def get_backend(name: str) -> Backend | None:
    """The backend called ``name`` (None for ``eager``, which runs the function itself)."""
    if name not in BACKENDS:
        raise ValueError(f"irgrad.compile: unknown backend {name!r}; choose one of {BACKENDS}")
    if name == "eager":
        return None
    return NumpyBackend()
