"""Graphs with symbolic sizes (``dynamic=True``) as whole native programs, one per size.

A dynamic graph is specialised to the sizes of each call (:func:`irgrad.ir.symbolic.
specialize`) and compiled as a :class:`.Program`, once per distinct set of sizes (the
object code is cached on disk like any other): a training loop whose last batch is
smaller compiles twice, and each call is one native call.  Past
:data:`MOST_SIZES` distinct sizes (sequence lengths that never repeat), further sizes
run node by node, one native kernel per fused group with sizes as run-time values.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

import numpy as np

from ..ir import Graph
from ..ir.symbolic import specialize

MOST_SIZES = 8


class PerSizePrograms:
    """``run(inputs, sizes) -> outputs`` for a graph with symbolic sizes.

    ``build(static_graph)`` gives a whole-graph program for one size, or None where it
    cannot; ``node_by_node()`` makes the executable used for sizes without a program
    (past :data:`MOST_SIZES`, or where ``build`` gave None), made on first need."""

    def __init__(self, graph: Graph, build: Callable, node_by_node: Callable) -> None:
        self.graph = graph
        self._build, self._node_by_node = build, node_by_node
        self._runs: dict[tuple, Callable] = {}
        self.programs = 0  # sizes compiled as whole programs
        self._fallback = None
        self._lock = threading.Lock()
        self.symbol_dims = [
            (name, pos, d)
            for pos, nid in enumerate(graph.inputs)
            for d, name in enumerate(graph.node(nid).type.shape)
            if isinstance(name, str)
        ]

    def __call__(self, inputs: Sequence[np.ndarray], sizes: dict | None = None) -> list:
        env = dict(sizes) if sizes else {}
        env.update((name, inputs[pos].shape[d]) for name, pos, d in self.symbol_dims)
        key = tuple(sorted(env.items()))
        run = self._runs.get(key)
        if run is None:
            with self._lock:
                run = self._runs.get(key)
                if run is None:
                    run = self._runs[key] = self._run_for(env)
        return run(inputs, env)

    @property
    def interpreted(self) -> int:
        """Calls the per-size programs handed to the interpreter (see :class:`.Program`)."""
        return sum(getattr(run, "interpreted", 0) for run in list(self._runs.values()))

    def _run_for(self, env: dict) -> Callable:
        if self.programs < MOST_SIZES:
            program = self._build(specialize(self.graph, env))
            if program is not None:
                self.programs += 1
                return program
        if self._fallback is None:
            self._fallback = self._node_by_node()
        return self._fallback
