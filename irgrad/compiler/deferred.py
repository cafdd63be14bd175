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
from .sources import Step, describe
from .state import Snapshot, StateNode, changes


@dataclass(frozen=True)
class Deferred:
    """``step()`` of the object at ``holder``'s path, called after every compiled call."""

    holder: StateNode
    rebound: tuple  # (holder node, step) of each slot the step rebinds

    def where(self, snapshot: Snapshot) -> str:
        return describe(self.holder.path, snapshot.name_of) + ".step()"


def slot_key(holder_obj, step) -> tuple:
    """A hashable key of a slot: its holder's identity and the step (a list's items are
    keyed by ``slice(None)``, which hashes only from Python 3.12)."""
    try:
        hash(step.key)
        key = step.key
    except TypeError:
        key = repr(step.key)
    return (id(holder_obj), step.how, key)


@dataclass
class Deferrals:
    """The deferred calls of one trace and the slots they rebind."""

    snapshot: Snapshot
    calls: list[Deferred] = field(default_factory=list)
    slots: set = field(default_factory=set)  # slot_key of every slot a deferred call writes

    def defer(self, tracer, obj, run: Callable[[], None]) -> bool:
        """Run ``obj``'s step (``run``) untraced and remember to call it after every compiled
        call; False (the step is then traced) where the compiled call could not find ``obj``.

        The slots it rebinds are those it writes (a scheduler reports its attribute writes
        while traced, a ``ParamGroup`` its item writes), whether or not the value changes
        this time, and any other slot whose value it changed."""
        holder = self.snapshot.first.get(id(obj))
        if holder is None:
            return False
        before = self._rebound()
        with _tracing.writes_recorded() as written, _tracing.suspended():
            run()
        after = self._rebound()
        rebound = {
            key: slot for key, (slot, new) in after.items() if key not in before or before[key][1] is not new
        }
        for holder_id, how, key in written:
            node = self.snapshot.first.get(holder_id)
            if node is not None:
                step = Step(how, key)
                rebound.setdefault(slot_key(node.obj, step), (node, step))
        conflicts = [key for key in rebound if key in before or key in tracer.written]
        if conflicts:  # the call would replay the traced code's value before the repeated step
            (node, step) = rebound[conflicts[0]]
            tracer._break(
                f"{describe(node.path + (step,), self.snapshot.name_of)} is rebound before the step that rebinds it"
            )
            return True
        for node, step in rebound.values():
            for child in node.children:
                if child.step == step:
                    _mark(child)
        self.slots |= set(rebound)
        self.calls.append(Deferred(holder, tuple(rebound.values())))
        return True

    def _rebound(self) -> dict:
        """The slots the call rebound so far: slot_key -> ((holder node, step), new value)."""
        with _tracing.suspended():  # the compiler's reads are not the traced code's
            found, _ = changes(self.snapshot)
        return {slot_key(c.holder.obj, c.step): ((c.holder, c.step), c.new) for c in found}


def _mark(node: StateNode) -> None:
    node.replayed = True
    for child in node.children:
        _mark(child)


@functools.cache
def _reporting(cls: type) -> type:
    """``cls`` with attribute reads and writes reported to the tracer (a scheduler's, while
    traced)."""

    def __getattribute__(self, name: str):
        if _tracing.ACTIVE is not None:
            _tracing.read_attr(self, name)
        return object.__getattribute__(self, name)

    def __setattr__(self, name: str, value) -> None:
        _tracing.wrote(self, "attr", name)
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        _tracing.wrote(self, "attr", name)
        object.__delattr__(self, name)

    members = {"__getattribute__": __getattribute__, "__setattr__": __setattr__, "__delattr__": __delattr__}
    return type(cls.__name__, (cls,), {**members, "__module__": cls.__module__})


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
