"""What a call changed in the state walked before it (:func:`changes`): the slots it
rebound, added or deleted, and the changes a compiled call could not replay.

Comparing the :class:`~.state.Snapshot` taken before the traced call with the objects
after it is how side effects are found: a rebound ``.grad``, ``self.last = y``, new
optimizer state (:mod:`.effects` replays them after each compiled call).
"""

from __future__ import annotations

import types
from dataclasses import dataclass
from typing import Any

from .sources import Step, describe, read
from .state import (
    ARRAY,
    CONTENTS,
    DICT,
    FUNCTION,
    LARGE,
    OBJECT,
    OPAQUE,
    SEQ,
    TENSOR,
    VALUE,
    Snapshot,
    StateNode,
    slotted,
)
from .state_kinds import same_contents
from .user_code import is_user_file
from .value_equality import same_array, same_value

MISSING = object()  # what a deleted slot now holds


@dataclass
class Change:
    """A slot of the walked state that holds something else after the call.

    ``holder`` is the node of the object owning the slot, ``step`` the slot in it,
    ``new`` what it holds now (``MISSING`` if deleted), ``old`` the node that was
    there (None for a new slot)."""

    holder: StateNode
    step: Step
    new: Any
    old: StateNode | None

    def where(self, snapshot: Snapshot) -> str:
        return describe(self.holder.path + (self.step,), snapshot.name_of)


def _holds_same(node: StateNode, now: Any) -> bool:
    """Whether ``now`` is what ``node`` recorded (the same value or the same object)."""
    if node.kind == VALUE:
        return same_value(node.obj, now)
    return now is node.obj


def changes(snapshot: Snapshot) -> tuple[list[Change], list[str]]:
    """The slots the call rebound, added or deleted, and changes that cannot be replayed.

    Only objects that are still where they were are descended into: a rebound slot
    is one change, whatever its new value contains.  In-place writes to tensor data
    are the tracer's business, not this diff's.
    """
    found: list[Change] = []
    unsupported: list[str] = []
    grad_fns = snapshot.walker.grad_fns if snapshot.walker is not None else None
    for node in snapshot.nodes():
        obj = node.obj
        if node.kind == TENSOR:
            data = obj._data
            if (data.shape, data.dtype, obj._rg) != (node.info[1], node.info[2], node.info[3]):
                unsupported.append(
                    f"{describe(node.path, snapshot.name_of)} changed shape, dtype or requires_grad"
                )
            elif obj._rg and grad_fns is not None and grad_fns.get(id(obj)) != id(obj._node):
                # written in place where autograd records it (h.mul_(2) of a non-leaf): eager
                # gives it a new grad_fn, which a compiled call would not (its gradient
                # would flow through the old history)
                unsupported.append(
                    f"{describe(node.path, snapshot.name_of)}, which requires grad, was written in place"
                )
            _compare_slots(node, obj.__dict__, "attr", found, skip=0)
            grad = node.children[0]
            if not _holds_same(grad, obj._grad):
                found.append(Change(node, grad.step, obj._grad, grad))
        elif node.kind == DICT:
            _compare_slots(node, obj, "item", found)
            if hasattr(obj, "__dict__"):
                _compare_slots(node, obj.__dict__, "attr", found)
        elif node.kind == OBJECT:
            _compare_slots(node, obj.__dict__, "attr", found)
        elif node.kind == SEQ and not isinstance(obj, tuple):
            if hasattr(obj, "__dict__"):
                _compare_slots(node, obj.__dict__, "attr", found)
            items = [c for c in node.children if c.step.how == "item"]
            if len(obj) != len(items) or not all(_holds_same(c, v) for c, v in zip(items, obj)):
                if isinstance(obj, list):
                    found.append(Change(node, Step("item", slice(None)), list(obj), None))
                else:
                    unsupported.append(f"{describe(node.path, snapshot.name_of)} (a deque) changed")
        elif node.kind == CONTENTS and not same_contents(obj, node.info[1]):
            unsupported.append(f"{describe(node.path, snapshot.name_of)} changed")  # (os.environ: putenv)
        elif node.kind == FUNCTION and is_user_file(getattr(obj, "__code__", None).co_filename):
            _compare_reads(node, [c for c in node.children if c.step.how in ("cell", "global")], found)
        elif node.kind == OPAQUE and node.children and (isinstance(obj, types.ModuleType) or slotted(node)):
            _compare_reads(node, node.children, found)  # a module's attributes, an object's slots
        elif node.kind == OPAQUE and isinstance(obj, type) and node.children:
            # a user class's attributes (Counter.calls += 1), read from its own dict: as
            # walked (a staticmethod, not the function it gives)
            attrs = vars(obj)
            recorded = set()
            for child in node.children:
                if child.step.how == "attr":
                    recorded.add(child.step.key)
                    now = attrs.get(child.step.key, MISSING)
                    if not _holds_same(child, now):
                        found.append(Change(node, child.step, now, child))
            for key in list(attrs):
                if key not in recorded and not (key.startswith("__") and key.endswith("__")):
                    found.append(Change(node, Step("attr", key), attrs[key], None))
        elif node.kind in (LARGE,) and len(obj) != node.info[1]:
            unsupported.append(f"{describe(node.path, snapshot.name_of)} (a long container) changed length")
        elif node.kind == ARRAY and not same_array(obj, node.info):
            # arr[0] += 1: an effect only the traced call would have (and a validation again)
            unsupported.append(f"{describe(node.path, snapshot.name_of)} (a numpy array) was written")
    return found, unsupported


def _compare_reads(node: StateNode, children: list[StateNode], found: list) -> None:
    """Changes of the slots ``children`` read from ``node``'s object (a function's cells and
    globals, a module's attributes, an object's ``__slots__``): one gone is deleted."""
    for child in children:
        try:
            now = read(node.obj, child.step)
        except (AttributeError, KeyError, ValueError):
            now = MISSING
        if not _holds_same(child, now):
            found.append(Change(node, child.step, now, child))


def _compare_slots(node: StateNode, mapping: dict, how: str, found: list, skip: int = 0) -> None:
    """Changes of a dict-like (a dict, or an object's ``__dict__``) against its node."""
    recorded = {c.step.key: c for c in node.children if c.step.how == how}
    held = dict.__getitem__  # not a read of the traced code (an optimizer's ParamGroup reports those)
    for key, child in recorded.items():
        if key not in mapping:
            found.append(Change(node, child.step, MISSING, child))
        elif not _holds_same(child, held(mapping, key)):
            found.append(Change(node, child.step, held(mapping, key), child))
    for key in list(mapping):
        if key not in recorded:
            found.append(Change(node, Step(how, key), held(mapping, key), None))
