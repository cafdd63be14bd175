"""Calls a compiled call makes again after its graph: a learning-rate scheduler's ``step()``.

A scheduler steps on a Python counter (``last_epoch``) and sets each group's rate from
it.  Traced, its arithmetic would freeze into the capture: the guard would pin the
counter, and the next call would capture again.  So when traced code calls
``scheduler.step()`` (the scheduler reachable from the function's state, no
arguments), the tracer runs it as eager would, records nothing of it, and the compiled
call repeats the call itself after its graph and replays, every time:

* the slots the step rebinds (the counter, ``_last_lr``, each group's ``lr``) are not
  replayed (the step redoes them) and not guarded, unless the traced code itself read
  them (a scheduler reports attribute reads while traced, a ``ParamGroup`` item reads);
* the step must be the last thing to touch that state: the traced code reading one of
  those slots after it, or an optimizer reading the learning rate after it (the graph
  would take the rate before the step), is a graph break.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from .. import _tracing
from ..optim.lr_scheduler import LRScheduler
from .sources import describe
from .state import Snapshot, StateNode, changes


@dataclass(frozen=True)
class Deferred:
    """``step()`` of the object at ``holder``'s path, called after every compiled call."""

    holder: StateNode
    rebound: tuple  # (holder node, step) of each slot the step rebinds

    def where(self, snapshot: Snapshot) -> str:
        return describe(self.holder.path, snapshot.name_of) + ".step()"


@dataclass
class Deferrals:
    """The deferred calls of one trace and the slots they rebind."""

    snapshot: Snapshot
    calls: list[Deferred] = field(default_factory=list)
    slots: set = field(default_factory=set)  # (id(holder object), step) rebound by a deferred call

    def defer(self, obj, run: Callable[[], None]) -> bool:
        """Run ``obj``'s step (``run``) untraced and remember to call it after every compiled
        call; False (the step is then traced) where the compiled call could not find ``obj``."""
        holder = self.snapshot.first.get(id(obj))
        if holder is None:
            return False
        before = self._rebound()
        with _tracing.suspended():
            run()
        after = self._rebound()
        rebound = {key for key, new in after.items() if key not in before or before[key][1] is not new[1]}
        for node, step in (after[key][0] for key in rebound):
            for child in node.children:
                if child.step == step:
                    _mark(child)
        self.slots |= rebound
        self.calls.append(Deferred(holder, tuple(after[key][0] for key in rebound)))
        return True

    def _rebound(self) -> dict:
        """The slots the call rebound so far: (id(holder), step) -> ((holder node, step), new)."""
        found, _ = changes(self.snapshot)
        return {(id(c.holder.obj), c.step): ((c.holder, c.step), c.new) for c in found}


def _mark(node: StateNode) -> None:
    node.replayed = True
    for child in node.children:
        _mark(child)


@functools.cache
def _reporting(cls: type) -> type:
    """``cls`` with attribute reads reported to the tracer (a scheduler's, while traced)."""

    def __getattribute__(self, name: str):
        if _tracing.ACTIVE is not None:
            _tracing.read_attr(self, name)
        return object.__getattribute__(self, name)

    return type(cls.__name__, (cls,), {"__getattribute__": __getattribute__, "__module__": cls.__module__})


@contextlib.contextmanager
def reads_reported(snapshot: Snapshot) -> Iterator[None]:
    """While traced, the schedulers the state reaches report their attribute reads (their
    class is swapped for a reporting subclass, and swapped back after)."""
    swapped = []
    for node in snapshot.nodes():
        obj = node.obj
        if isinstance(obj, LRScheduler) and node.kind != "alias":
            cls = type(obj)
            obj.__class__ = _reporting(cls)
            swapped.append((obj, cls))
    try:
        yield
    finally:
        for obj, cls in swapped:
            obj.__class__ = cls
