"""Graphs with symbolic sizes (``dynamic=True``) as whole native programs.

A dynamic graph is compiled once for *run-time sizes*
(:func:`irgrad.ir.symbolic.with_run_time_sizes`): its sizes reach the native code as
arguments, and the program serves every size at which the assumptions its compiler
took hold (a product's form chosen for at least 32 rows, an elementwise loop split
across threads from some size on: see :mod:`irgrad.ir.run_time_sizes`).  A size outside them gets
another such program, built at that size, up to :data:`MOST_RUN_TIME_PROGRAMS`: an MLP
training loop over batches of 8 to 256 rows compiled two or three
(benchmarks/bench_dynamic_sizes.py).

Where a graph cannot be compiled so (the reason is kept, for ``explain()``), it is
specialised to the sizes of each call (:func:`irgrad.ir.symbolic.specialize`) and
compiled as a :class:`.Program` per distinct set of sizes.  Past
:data:`MOST_SIZES` distinct sizes (sequence lengths that never repeat), further sizes
run node by node, until :data:`HOT_CALLS` calls at one size have shown it worth a
program of its own (up to :data:`MOST_PROGRAMS`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

import numpy as np

from ..ir import Graph
from ..ir.symbolic import specialize

MOST_SIZES = 8  # sizes compiled at their first call
# Calls at sizes past the first MOST_SIZES after which they get a program too, and the
# most programs a graph gets so.  Measured on an MLP training step (64-128-10, batches
# of 20 to 51): node by node 217-225 us a call, a program 82-92 us, and a program took
# about 96 ms to compile with an empty LLVM cache: 64 calls pay back about a tenth of it.
HOT_CALLS = 64
MOST_PROGRAMS = 64
MOST_RUN_TIME_PROGRAMS = 8  # programs with run-time sizes, each for the sizes it assumed
# sizes those programs are laid out for at once (.Program.at): past it, the layouts are
# dropped, and each is made again at its size's next call (sizes that never repeat)
MOST_LAYOUTS = 256


class PerSizePrograms:
    """``run(inputs, sizes) -> outputs`` for a graph with symbolic sizes.

    ``build_run_time(graph, sizes)`` gives ``(program, "")``, a program with run-time
    sizes built at ``sizes`` (:meth:`.Program.at` serves a size), or ``(None, reason)``;
    ``build(static_graph)`` gives a whole-graph program for one size, or None where it
    cannot; ``node_by_node()`` makes the executable used for sizes without a program
    (past :data:`MOST_SIZES`, or where ``build`` gave None), made on first need."""

    def __init__(
        self, graph: Graph, build: Callable, node_by_node: Callable, build_run_time: Callable | None = None
    ) -> None:
        self.graph = graph
        self._build, self._node_by_node = build, node_by_node
        self._build_run_time = build_run_time
        self.run_time_programs: list = []
        self.run_time_failure = ""  # why the graph has no program with run-time sizes
        self._runs: dict[tuple, Callable] = {}
        self.programs = 0  # sizes compiled as whole programs
        self._calls: dict[tuple, int] = {}  # calls at sizes run node by node
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
        hot = run is not None and run is self._fallback and self._heats(key)
        if run is None or hot:
            with self._lock:
                current = self._runs.get(key)
                if current is None or (hot and current is self._fallback):
                    if len(self._runs) >= MOST_LAYOUTS:
                        self._forget_layouts()
                    self._runs[key] = self._run_for(env, hot)
                run = self._runs[key]
        return run(inputs, env)

    def _heats(self, key: tuple) -> bool:
        """Count a call at sizes run node by node: whether they have become worth a
        program (:data:`HOT_CALLS`); sizes whose program could not be built never do."""
        calls = self._calls.get(key, 0)
        if calls < 0:
            return False
        self._calls[key] = calls + 1
        if calls + 1 < HOT_CALLS or self.programs >= MOST_PROGRAMS:
            return False
        self._calls[key] = -1  # built now, or never
        return True

    def summary(self) -> str:
        """What the graph got so far, for ``explain()``: programs with run-time sizes and
        the sizes they served, or why it has none; programs per size."""
        parts = []
        if self.run_time_programs:
            programs = self.run_time_programs
            served = sum(p.sizes_served for p in programs)
            in_place = len(programs[0].plan.in_place)
            llvm = sum(p.llvm_seconds for p in programs)
            hits = sum(p.cache_hits for p in programs)
            parts.append(
                f"{len(programs)} program(s) taking the sizes at run time, {served} size(s) served"
                + (f", {in_place} update(s) written in place" if in_place else "")
                + f" (LLVM {llvm * 1e3:.0f} ms"
                + (f", {hits} from the disk cache)" if hits else ")")
            )
            for k, program in enumerate(programs):  # why a size needed another program
                bounds = program.assumptions.describe(">")
                shown = ", ".join(bounds[:4]) + (f" and {len(bounds) - 4} more" if len(bounds) > 4 else "")
                parts.append(
                    f"program {k}, built at {program.assumptions.hints}, assumes {shown or 'nothing'}"
                )
        if self.run_time_failure:
            parts.append(f"no program with run-time sizes: {self.run_time_failure}")
        if self.programs:
            parts.append(f"{self.programs} program(s) for one size each")
        return "; ".join(parts) or "not called yet"

    @property
    def interpreted(self) -> int:
        """Calls the per-size programs handed to the interpreter (see :class:`.Program`)."""
        return sum(getattr(run, "interpreted", 0) for run in list(self._runs.values()))

    def _run_for(self, env: dict, hot: bool = False) -> Callable:
        program = self._with_run_time_sizes(env)
        if program is not None:
            return program
        if self.programs < MOST_SIZES or hot:
            program = self._build(specialize(self.graph, env))
            if program is not None:
                self.programs += 1
                return program
        if self._fallback is None:
            self._fallback = self._node_by_node()
        return self._fallback

    def _forget_layouts(self) -> None:
        """Drop the sizes laid out by programs with run-time sizes (see MOST_LAYOUTS)."""
        self._runs = {key: run for key, run in self._runs.items() if getattr(run, "sizes", None) is None}
        for program in self.run_time_programs:
            program.forget_layouts()

    def _with_run_time_sizes(self, env: dict) -> Callable | None:
        """A program with run-time sizes, at the sizes ``env``: one built earlier whose
        assumptions hold there, or one built now; None where there cannot be one."""
        if self._build_run_time is None or self.run_time_failure:
            return None
        for program in self.run_time_programs:
            at_env = program.at(env)
            if at_env is not None:
                return at_env
        if len(self.run_time_programs) >= MOST_RUN_TIME_PROGRAMS:
            return None
        program, self.run_time_failure = self._build_run_time(self.graph, env)
        if program is None:
            return None
        self.run_time_programs.append(program)
        return program.at(env)
