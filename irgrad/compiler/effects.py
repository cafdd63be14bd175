"""Side effects beyond tensor data: what a traced call rebound, and how to do it again.

The diff of the walked state (:func:`.state_changes.changes`) lists slots the call rebound:
``p.grad = g`` from ``backward()``, ``self.last = y``, a new ``optimizer.state[p]``
entry, ``zero_grad()`` setting ``.grad`` to None, ``global G; G = ...``.  Each new
value becomes a :class:`Recipe` built from what the compiled graph produces:

* ``node``: a graph value (an output, or an input tensor passed through);
* ``value``: a Python value (the guards pin the state before the call, so the same
  state after it is the same value);
* ``existing``: an object that was already reachable, fetched along its source;
* ``seq``/``dict``: a new container of recipes; ``delete``: the slot was removed.

A compiled call replays the rebindings after its graph has run, so the world looks
as it does after the eager call.  A new value no recipe can rebuild (an instance of
a user class made inside the function) makes the call a graph break instead.
In-place writes to tensor data are not here: the tracer records those as graph
outputs written back into the tensors.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..tensor import Tensor
from .sources import delete, describe, writable, write
from .state import Snapshot, StateNode, follow
from .state_changes import MISSING, Change
from .state_kinds import is_value


@dataclass(frozen=True)
class Recipe:
    """How to rebuild one value after a compiled call (see the module doc)."""

    kind: str
    payload: Any = None
    parts: tuple = ()
    requires_grad: bool = False  # node: whether eager's tensor required grad


@dataclass(frozen=True)
class Replay:
    """Rebind ``step`` of the object at ``holder``'s source to what ``recipe`` builds."""

    holder: StateNode
    step: Any
    recipe: Recipe
    where: str


class NotReplayable(Exception):
    """A side effect a compiled graph cannot redo: the traced call becomes a graph break."""


def plan(changes: list[Change], snapshot: Snapshot, lookup: Callable[[Tensor], int]) -> list[Replay]:
    """The replays that redo ``changes``; ``lookup`` gives a tensor's graph node.

    Raises :class:`NotReplayable` naming the first change that cannot be redone.
    """
    replays = []
    for change in changes:
        where = change.where(snapshot)
        if not writable(change.step):
            raise NotReplayable(f"the function rebinds {where}, which a compiled call cannot redo")
        recipe = Recipe("delete") if change.new is MISSING else _recipe(change.new, snapshot, lookup, where)
        replays.append(Replay(change.holder, change.step, recipe, where))
    replays.sort(key=lambda r: len(r.holder.path))  # holders before what they hold
    return replays


def _recipe(value: Any, snapshot: Snapshot, lookup, where: str) -> Recipe:
    if isinstance(value, Tensor):
        return Recipe("node", lookup(value), requires_grad=value._rg and value._data.dtype.kind == "f")
    if is_value(value):
        return Recipe("value", value)
    known = snapshot.first.get(id(value))
    if known is not None:
        return Recipe("existing", known)
    if isinstance(value, (list, tuple)) and (type(value) in (list, tuple) or hasattr(value, "_fields")):
        return Recipe("seq", type(value), tuple(_recipe(v, snapshot, lookup, where) for v in value))
    if type(value) is dict or type(value).__name__ in ("OrderedDict", "defaultdict"):
        keys = tuple(value)
        for key in keys:
            if not is_value(key) and id(key) not in snapshot.first:
                raise NotReplayable(f"{where} gets a dict keyed by a new {type(key).__name__}")
        parts = tuple(_recipe(v, snapshot, lookup, where) for v in value.values())
        factory = getattr(value, "default_factory", None)
        return Recipe("dict", (type(value), keys, factory), parts)
    raise NotReplayable(
        f"the function stores a new {type(value).__name__} object in {where}, which a compiled call "
        "cannot recreate"
    )


def build(recipe: Recipe, tensor_of: Callable[[int], Tensor], roots: tuple) -> Any:
    """The value ``recipe`` describes, for one compiled call."""
    kind = recipe.kind
    if kind == "node":
        return tensor_of(recipe.payload)
    if kind == "value":
        return recipe.payload
    if kind == "existing":
        return follow(roots, recipe.payload.path)
    if kind == "seq":
        items = [build(p, tensor_of, roots) for p in recipe.parts]
        cls = recipe.payload
        return cls(*items) if hasattr(cls, "_fields") else cls(items)
    if kind == "dict":
        cls, keys, factory = recipe.payload
        out = cls(factory) if factory is not None else cls()
        for key, part in zip(keys, recipe.parts):
            out[key] = build(part, tensor_of, roots)
        return out
    raise ValueError(f"unknown recipe {kind!r}")


def apply(
    replays: list[Replay], tensor_of: Callable[[int], Tensor], roots: tuple, holders: list | None = None
) -> None:
    """Redo the rebindings of a traced call after its compiled graph ran.

    ``holders``: per replay, the object owning its slot where the caller has it already
    (a parameter whose ``.grad`` is rebound is an input the guard found: W1's step walks
    no path, 1 us a parameter), or None to fetch it along its path.
    Every holder and value is fetched first, then the slots are rebound, so one
    replay cannot disturb where another one reads.
    """
    resolved = []
    for k, replay in enumerate(replays):
        holder = None if holders is None else holders[k]
        if holder is None:
            holder = follow(roots, replay.holder.path)
        value = MISSING if replay.recipe.kind == "delete" else build(replay.recipe, tensor_of, roots)
        resolved.append((holder, replay.step, value))
    for holder, step, value in resolved:
        if value is MISSING:
            delete(holder, step)
        else:
            write(holder, step, value)


def describe_replays(replays: list[Replay]) -> list[str]:
    """One line per replayed rebinding, for ``explain()``."""
    lines = []
    for r in replays:
        kind = r.recipe.kind
        what = {
            "node": "a graph value",
            "value": repr(r.recipe.payload),
            "existing": describe(r.recipe.payload.path) if kind == "existing" else "",
            "seq": "a new container of graph values",
            "dict": "a new dict",
            "delete": "(deleted)",
        }[kind]
        lines.append(f"{r.where} = {what}")
    return lines
