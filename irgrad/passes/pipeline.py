"""The pass pipeline: runs passes in order, timing each, verifying and dumping on request.

A stage is ``(name, pass_fn)`` with ``pass_fn: Graph -> Graph``.  With a dump
directory, the graph after every stage is written as numbered text files
(``00-traced.ir``, ``01-fold.ir`` ...), so a user can diff consecutive stages.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ..ir import Graph, verify
from .cse import cse
from .dce import dce
from .fold import fold
from .fusion import fuse
from .memory import plan_memory
from .roll_scans import roll_scans
from .simplify import simplify, simplify_counting
from .stack_steps import stack_steps

Pass = Callable[[Graph], Graph]


@dataclass
class Dumper:
    """Writes numbered stage files into a directory (numbering continues across graphs)."""

    directory: str | None
    counter: int = 0

    def write(self, stage: str, graph_or_text, suffix: str = ".ir") -> str | None:
        """Write a stage file; the graph is only printed when dumping is on."""
        if not self.directory:
            return None
        text = str(graph_or_text)
        os.makedirs(self.directory, exist_ok=True)
        path = os.path.join(self.directory, f"{self.counter:02d}-{stage}{suffix}")
        with open(path, "w", encoding="utf-8") as f:
            f.write(text if text.endswith("\n") else text + "\n")
        self.counter += 1
        return path


@dataclass
class PipelineReport:
    """Seconds spent in each stage, in order."""

    timings: list[tuple[str, float]] = field(default_factory=list)

    def add(self, stage: str, seconds: float) -> None:
        self.timings.append((stage, seconds))


def default_passes() -> list[tuple[str, Pass]]:
    """The graph-level optimisations, in order: fold, simplify, cse, roll, stack, dce.

    simplify and cse enable each other (cse turns ``where(c, exp(x), exp(x))`` into
    ``where(c, %0, %0)``, which simplify reduces), so cse repeats both to a fixed point.
    roll joins a cell's steps into one scan once cse has made their weights one node;
    stack then does the per-step work the joined scan's input concatenates once.
    """
    return [
        ("fold", fold),
        ("simplify", simplify),
        ("cse", cse_to_fixed_point),
        ("roll", roll_scans),
        ("stack", stack_steps),
        ("dce", dce),
    ]


def lowering_passes() -> list[tuple[str, Pass]]:
    """The stages that prepare a final graph for a backend: fusion, then memory planning."""
    return [("fused", fuse), ("memory", plan_memory)]


def cse_to_fixed_point(graph: Graph, rounds: int = 4) -> Graph:
    """cse, then simplify + cse again while that still shrinks the graph (a simplify that
    rewrites nothing leaves nothing new for cse: W4's step graph saves a cse pass)."""
    graph = cse(graph)
    for _ in range(rounds):
        simplified, rewrites = simplify_counting(graph)
        if not rewrites:
            return graph
        smaller = cse(simplified)
        if len(smaller) >= len(graph):
            return graph
        graph = smaller
    return graph


def run_passes(
    graph: Graph,
    stages: list[tuple[str, Pass]],
    *,
    check: bool = False,
    dumper: Dumper | None = None,
    report: PipelineReport | None = None,
) -> Graph:
    """Apply ``stages`` in order; with ``check`` run the verifier after each one."""
    for name, fn in stages:
        start = time.perf_counter()
        graph = fn(graph)
        if report is not None:
            report.add(name, time.perf_counter() - start)
        if check:
            verify(graph)
        if dumper is not None:
            dumper.write(name, graph)
    return graph
