"""What a guard reports (:mod:`.guards`): why it fails for a call, the first difference
found walking the traced state again (for the recompilation log), and what it checks,
one line per source (for ``explain()``).  The guard itself stays straight-line code
that only says yes or no."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .. import dtypes
from ..recording.grad_mode import STATE
from ..tensor import Tensor
from .sources import Step, describe, read
from .state import (
    ALIAS,
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
)
from .state_kinds import is_value, same_contents
from .value_equality import same_value, same_zero_signs

if TYPE_CHECKING:
    from .guards import Guard


def same_keys(mapping: dict, keys: tuple) -> bool:
    """Whether a dict has exactly these keys in this order (object keys by identity)."""
    if len(mapping) != len(keys):
        return False
    for a, b in zip(mapping, keys):
        if a is not b and not (is_value(a) and same_value(a, b)):
            return False
    return True


def mismatch(guard: Guard, roots: tuple) -> str:
    """Why ``guard`` fails for a call (the first difference found), for the log."""
    if STATE.enabled is not guard.grad_enabled:
        return f"grad mode changed from {guard.grad_enabled} to {STATE.enabled}"
    if dtypes.get_default_dtype() is not guard.default_dtype:
        return f"the default dtype changed from {guard.default_dtype} to {dtypes.get_default_dtype()}"
    dynamic = {(id(n), d) for _, n, d in guard.symbols}
    for root in guard.snapshot.roots:
        reason = _first_difference(root, roots, guard.snapshot, dynamic)
        if reason:
            return reason
    if guard.snapshot.derived_views:  # (the guard checks them after the state's nodes)
        view, base, _ = guard.snapshot.derived_views[0]
        name, base_name = (describe(n.path, guard.snapshot.name_of) for n in (view, base))
        return f"{name} may no longer be the view of {base_name} the graph derives it from"
    return "the state reached by the function changed"


def described(guard: Guard) -> list[str]:
    """One line per source ``guard`` checks that is not a plain identity check, for ``explain()``."""
    lines = []
    for node in guard.snapshot.nodes():
        name = describe(node.path, guard.snapshot.name_of)
        if node.kind == VALUE and node.any_value:
            tests = "".join(f", {p.__name__} {a}" for p, a in node.predicates)
            lines.append(f"{name}: a graph input (any {type(node.obj).__name__}{tests})")
        elif node.unguarded:
            continue  # rebound by a step the call repeats (explain lists those)
        elif node.kind == VALUE and node.step.how != "root":
            lines.append(f"{name} == {node.obj!r}")
        elif node.kind == CONTENTS:
            lines.append(f"{name} holds the same {len(node.info[1])} elements, in order")
        elif node.kind == TENSOR:
            _, shape, dt, rg = node.info[:4]
            dims = {d: s for s, n, d in guard.symbols if n is node}
            shown = ", ".join(dims.get(d, str(s)) for d, s in enumerate(shape))
            lines.append(f"{name}: {dt}[{shown}] requires_grad={rg}")
    return lines


def _first_difference(node: StateNode, parent: Any, snapshot: Snapshot, dynamic: set) -> str | None:
    """The first way the current state differs from ``node``'s subtree (None if none)."""
    free = node.unguarded or node.any_value  # any value will do (of its type, if lifted)
    if free and not (node.lifted or node.predicates):
        return None
    name = describe(node.path, snapshot.name_of)
    try:
        now = read(parent, node.step)
    except Exception:
        return f"{name} no longer exists"
    if free and node.lifted:
        number = type(now) in (int, float) if node.unguarded else type(now) is type(node.obj)
        if not number:
            return f"{name} is no longer a number: {_short(now)}"
    for predicate, answer in node.predicates:
        try:
            same = bool(predicate(now)) is answer
        except Exception:  # as the guard, which fails on the error: another branch
            same = False
        if not same:
            return f"{name} changed from {_short(node.obj)} to {_short(now)}: {predicate.__name__} is no longer {answer}"
    if free:
        return None
    kind = node.kind
    if kind == VALUE:
        if not same_value(node.obj, now):
            if node.step == Step("attr", "training"):
                return "train/eval mode changed"
            return f"{name} changed from {node.obj!r} to {_short(now)}"
        return None
    if kind == ALIAS:
        return None if now is node.target.obj else f"{name} is no longer the same object as elsewhere"
    if kind == TENSOR:
        if not isinstance(now, Tensor):
            return f"{name} is no longer a tensor"
        cls, shape, dt, rg, contiguous, _, strides, leaf = node.info
        data = now._data
        label = _tensor_label(node, name)
        if len(data.shape) != len(shape) or any(
            a != b for d, (a, b) in enumerate(zip(data.shape, shape)) if (id(node), d) not in dynamic
        ):
            return f"{label} shape changed from {_shape(shape)} to {_shape(data.shape)}"
        if data.dtype != dt:
            return f"{label} dtype changed from {dt} to {data.dtype}"
        if now._rg != rg:
            return f"{label} requires_grad changed from {rg} to {now._rg}"
        if data.flags.c_contiguous != contiguous:
            return f"{label} contiguity changed from {contiguous} to {data.flags.c_contiguous}"
        if (
            strides is not None
            and data.strides != strides
            and not any((id(node), d) in dynamic for d in range(len(shape)))
        ):
            return f"{label} strides changed from {strides} to {data.strides}"
        if leaf is not None and (now._node is None) != leaf:
            return f"{label} is {'no longer' if leaf else 'now'} a leaf"
    elif kind in (DICT, OBJECT):
        if type(now) is not node.info[0]:
            return f"{name} changed type to {type(now).__name__}"
        keys = tuple(now if kind == DICT else getattr(now, "__dict__", {}))
        if kind == DICT and not same_keys(now, node.info[1]):
            return f"{name} has other keys than {list(node.info[1])!r}"
        if kind == OBJECT and set(keys) != set(node.info[1]):
            return f"{name} gained or lost attributes"
    elif kind == SEQ:
        if type(now) is not node.info[0]:
            return f"{name} changed type to {type(now).__name__}"
        if len(now) != node.info[1]:
            return f"{name} changed length from {node.info[1]} to {len(now)}"
    elif kind == CONTENTS:
        if type(now) is not node.info[0] or not same_contents(now, node.info[1]):
            return f"{name} changed"
    elif kind in (FUNCTION, OPAQUE, LARGE, ARRAY):
        if kind == ARRAY:
            same = (
                isinstance(now, np.ndarray)
                and now.shape == node.info.shape
                and np.array_equal(now, node.info, equal_nan=now.dtype.kind in "fc")
                and same_zero_signs(now, node.info)
            )
            if not same:
                return f"{name} (a numpy array) changed"
        elif now is not node.obj:
            return f"{name} is another object"
    for child in node.children:
        reason = _first_difference(child, now, snapshot, dynamic)
        if reason:
            return reason
    return None


def _tensor_label(node: StateNode, name: str) -> str:
    """``input 0`` for a positional tensor argument (as the log always said), else its source."""
    path = node.path
    if len(path) == 2 and path[0] == Step("root", 1) and path[1].how == "item":
        return f"input {path[1].key}"
    return name


def _shape(shape) -> str:
    return "[" + ", ".join(str(s) for s in shape) + "]"


def _short(value: Any) -> str:
    if isinstance(value, Tensor):
        return f"a tensor of shape {list(value.shape)}"
    text = repr(value)
    return text if len(text) < 60 else text[:57] + "..."
