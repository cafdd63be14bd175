"""Calls a compiled call makes again after its graph: a learning-rate scheduler's ``step()``.

A scheduler steps on a Python counter (``last_epoch``) and sets each group's rate from
it.  Traced, its arithmetic would freeze into the capture: the guard would pin the
counter, and the next call would capture again.  So when traced code calls
``scheduler.step()`` (no arguments; the scheduler reachable from the function's state,
one of irgrad's own, over ``ParamGroup``s with Python rates: :func:`deferrable`), the
tracer runs it as eager would, records nothing of it, and the compiled call repeats the
call itself after its graph and replays, every time.  That is right only while the
traced code and the step do not depend on each other's order:

* the slots the step writes (reported by the scheduler, see
  ``lr_scheduler.attributes_reported``, and by ``ParamGroup``), whatever this call wrote
  to them, are not replayed (the step redoes them) and not guarded, unless the traced code
  read them before the step (then they are guarded by value);
* the traced code writing them before the step, touching the scheduler or its
  optimizer's groups after it, or an optimizer reading the rate after it (the graph
  takes the rate at the start of the call), is a graph break, as is a step that writes
  a tensor in place (which nothing reports).
"""

from __future__ import annotations

import functools
import types
from collections.abc import Callable
from dataclasses import dataclass, field

from .. import _tracing
from ..optim.lr_scheduler import LRScheduler
from ..tensor import Tensor
from .sources import Step, describe
from .state import Snapshot, StateNode
from .state_changes import changes


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
    groups: list = field(default_factory=list)  # (scheduler, its optimizer's groups) at each step

    def defer(self, tracer, obj, run: Callable[[], None]) -> bool:
        """Run ``obj``'s step (``run``) untraced and remember to call it after every compiled
        call; False (the step is then traced) where the compiled call could not find ``obj``.

        The slots it rebinds are those it writes (a scheduler reports its attribute writes
        while traced, a ``ParamGroup`` its item writes), whether or not the value changes
        this time, and any other slot whose value it changed."""
        holder = self.snapshot.first.get(id(obj))
        with _tracing.suspended():  # the compiler's reads are not the traced code's
            if holder is None or not deferrable(obj):
                return False
            groups = [_groups_of(s) for s in _schedulers(obj)]
        before = self._rebound()
        versions = self._versions()
        with _tracing.writes_recorded() as written, _tracing.suspended():
            run()
        after = self._rebound()
        if self._versions() != versions:  # it wrote a tensor in place, which no report sees
            tracer._break(f"{describe(holder.path, self.snapshot.name_of)}.step() writes a tensor in place")
            return True
        rebound = {
            key: slot
            for key, (slot, new) in after.items()
            if key not in before or not _same(before[key][1], new)
        }
        for holder_id, how, key in written:
            node = self.snapshot.first.get(holder_id)
            if node is not None:
                step = Step(how, key)
                rebound.setdefault(slot_key(node.obj, step), (node, step))
        # a slot the traced code wrote first: the call would replay that before the repeated
        # step (an earlier deferred step's writes are repeated in order, so they are not)
        conflicts = [
            key for key in rebound if (key in before or key in tracer.written) and key not in self.slots
        ]
        if conflicts:
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
        self.groups += groups
        for scheduler, (_, _, group_ids) in groups:  # the state the step reads: sealed from now on
            tracer.sealed.add(id(scheduler))
            tracer.sealed.update(group_ids)
        return True

    def check(self, tracer) -> None:
        """At the end of the trace: a graph break where the traced code changed, after a
        step, which groups its optimizer has (a list no report watches), since the
        repeated step would then update other groups than the traced one did."""
        with _tracing.suspended():
            for scheduler, seen in self.groups:
                if _groups_of(scheduler)[1] != seen:
                    tracer._break(
                        f"traced code changes {type(scheduler.optimizer).__name__}.param_groups after a scheduler's step"
                    )
                    return

    def rebinds(self, holder_obj, how: str, key) -> bool:
        """Whether a deferred step rebinds the slot (``__dict__``: any attribute)."""
        return (how, key) == ("attr", "__dict__") or slot_key(holder_obj, Step(how, key)) in self.slots

    def _versions(self) -> list:
        """The version counters of the tensors the state reaches."""
        return [node.obj._version for node in self.snapshot.nodes() if node.kind == "tensor"]

    def _rebound(self) -> dict:
        """The slots the call rebound so far: slot_key -> ((holder node, step), new value)."""
        with _tracing.suspended():  # the compiler's reads are not the traced code's
            found, _ = changes(self.snapshot)
        return {slot_key(c.holder.obj, c.step): ((c.holder, c.step), c.new) for c in found}


def _same(old, new) -> bool:
    """Whether two diffs of one slot found the same value: the diff copies a changed list,
    so lists are compared item by item (an ``append`` before the step is not the step's)."""
    if type(old) is list and type(new) is list:
        return len(old) == len(new) and all(a is b for a, b in zip(old, new))
    return old is new


def _groups_of(scheduler) -> tuple:
    """``(scheduler, (optimizer id, group list id, group ids))``: the identities of its
    optimizer, of that optimizer's group list and of each group in it, read past any
    report."""
    optimizer = object.__getattribute__(scheduler, "optimizer")
    groups = vars(optimizer).get("param_groups")
    return scheduler, (id(optimizer), id(groups), tuple(map(id, groups or ())))


def _schedulers(scheduler) -> list:
    """A scheduler and the ones it wraps (SequentialLR, ChainedScheduler)."""
    found = [scheduler]
    for inner in getattr(scheduler, "_schedulers", ()):
        found += _schedulers(inner)
    return found


_OWN = LRScheduler.__module__.rsplit(".", 1)[0] + "."  # irgrad.optim.: its schedulers' modules


def deferrable(scheduler) -> bool:
    """Whether a scheduler's ``step()`` may be repeated after the graph: it and the ones it
    wraps are irgrad's own (whose step reads and writes only the scheduler's attributes and
    its optimizer's ``ParamGroup`` items, each reported while traced, and the functions a
    LambdaLR is given, of the epoch), and the rates are Python numbers (a tensor rate is
    written in place, which no report sees).  A user's subclass with its own ``step`` or
    ``get_lr`` is traced instead."""
    for inner in _schedulers(scheduler):
        cls = type(inner)
        for name in ("step", "get_lr", "_get_closed_form_lr", "_update_lr"):
            for klass in cls.__mro__:
                if name in klass.__dict__:
                    if not klass.__module__.startswith(_OWN):
                        return False
                    break
        for group in inner.optimizer.param_groups:
            if not getattr(type(group), "reports_reads", False) or isinstance(dict.get(group, "lr"), Tensor):
                return False
        if not all(_pure(fn) for fn in _user_functions(inner)):
            return False
    return True


def _user_functions(scheduler) -> list:
    """The functions a scheduler was given (a LambdaLR's lambdas, a CyclicLR's scale_fn):
    the callables among its attributes, or in a list of them, that are not its own methods
    or irgrad's code."""
    found = []
    for value in vars(scheduler).values():
        for item in value if isinstance(value, (list, tuple)) else (value,):
            if (
                callable(item)
                and not isinstance(item, type)
                and getattr(item, "__self__", None) is not scheduler
            ):
                if not getattr(item, "__module__", "").startswith(_OWN):
                    found.append(item)
    return found


def _pure(fn, depth: int = 0) -> bool:
    """Whether ``fn`` computes from its arguments alone, so repeating the step later (after
    the traced code went on) gives what it gave in place: a plain function whose closure,
    defaults and globals hold only numbers, strings, modules and such functions.  A lambda
    reading a dict or an object the traced code may change after the step is not."""
    if isinstance(fn, functools.partial):
        return _pure(fn.func, depth) and all(_immutable(a) for a in (*fn.args, *fn.keywords.values()))
    if not isinstance(fn, types.FunctionType) or depth > 3:
        return False
    code = fn.__code__
    values = [cell.cell_contents for cell in fn.__closure__ or ()]
    values += [fn.__globals__[name] for name in code.co_names if name in fn.__globals__]
    values += [*(fn.__defaults__ or ()), *(fn.__kwdefaults__ or {}).values()]
    return all(
        _immutable(v)
        or isinstance(v, types.ModuleType)
        or (isinstance(v, types.FunctionType) and _pure(v, depth + 1))
        for v in values
    )


def _immutable(value) -> bool:
    if isinstance(value, tuple | frozenset):
        return all(_immutable(v) for v in value)
    return value is None or isinstance(value, bool | int | float | complex | str | bytes)


def _mark(node: StateNode) -> None:
    node.replayed = True
    for child in node.children:
        _mark(child)
