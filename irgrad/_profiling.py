"""The hooks through which dispatch, the autograd engine and compiled calls report to an
active profiler (:mod:`irgrad.profiler`).

Layers below the profiler must not import it; they read :data:`ACTIVE`, which a
profiler sets while it records.  With none active, each hook costs one attribute read.
An event is ``(name, start_ns, end_ns, thread, input_shapes)``; events of every thread
are recorded, as PyTorch's CPU profiler does.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

ACTIVE = None  # the Recorder collecting events now, or None
clock = time.perf_counter_ns
_get_ident = threading.get_ident


class Recorder:
    """The events of one profiling run (appending to a list is atomic across threads)."""

    def __init__(self, record_shapes: bool) -> None:
        self.events: list[tuple] = []
        self.record_shapes = record_shapes

    def add(self, name: str, start: int, end: int, inputs=()) -> None:
        shapes = [list(getattr(t, "shape", ())) for t in inputs] if self.record_shapes else None
        self.events.append((name, start, end, _get_ident(), shapes))


@contextlib.contextmanager
def span(name: str) -> Iterator[None]:
    """Record the time the ``with`` body takes as an event ``name`` (when a profiler is active)."""
    recorder = ACTIVE
    if recorder is None:
        yield
        return
    start = clock()
    try:
        yield
    finally:
        recorder.add(name, start, clock())
