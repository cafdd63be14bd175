"""Flatten nested Python containers to a list of leaves and rebuild them.

Used by the compiler to turn a function's arguments and results (tensors inside
tuples, lists, dicts and namedtuples) into flat lists and back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any


def flatten(tree: Any, is_leaf: Callable[[Any], bool]) -> tuple[list, Any]:
    """(leaves, spec): the leaves in order, and a spec that :func:`unflatten` rebuilds from."""
    leaves: list = []
    return leaves, _spec_of(tree, is_leaf, leaves)


def unflatten(spec: Any, leaves: list) -> Any:
    """Rebuild the structure described by ``spec`` with ``leaves`` in order."""
    return _rebuilt(spec, iter(leaves))


# Both walks are module-level functions, not closures: a recursive closure refers to
# itself through its cell, a reference cycle that would keep the leaves (a compiled
# call's inputs and outputs) alive until the cyclic collector runs, so their memory
# could not be reused by the next call.


def _spec_of(node: Any, is_leaf: Callable[[Any], bool], leaves: list) -> Any:
    if is_leaf(node):
        leaves.append(node)
        return ("leaf",)
    if isinstance(node, tuple) and hasattr(node, "_fields"):
        return ("namedtuple", type(node), tuple(_spec_of(v, is_leaf, leaves) for v in node))
    if type(node) in (tuple, list):
        return (type(node).__name__, tuple(_spec_of(v, is_leaf, leaves) for v in node))
    if isinstance(node, (tuple, list)):  # a subclass (irgrad.Size): rebuilt as its own type
        return ("sequence", type(node), tuple(_spec_of(v, is_leaf, leaves) for v in node))
    if isinstance(node, dict):
        values = tuple(_spec_of(v, is_leaf, leaves) for v in node.values())
        return ("dict", type(node), tuple(node.keys()), values)
    return ("const", node)


def _rebuilt(node: Any, leaves: Iterator) -> Any:
    kind = node[0]
    if kind == "leaf":
        return next(leaves)
    if kind == "const":
        return node[1]
    if kind == "namedtuple":
        return node[1](*(_rebuilt(v, leaves) for v in node[2]))
    if kind == "tuple":
        return tuple(_rebuilt(v, leaves) for v in node[1])
    if kind == "list":
        return [_rebuilt(v, leaves) for v in node[1]]
    if kind == "sequence":
        return node[1](_rebuilt(v, leaves) for v in node[2])
    if kind == "dict":
        return node[1](zip(node[2], (_rebuilt(v, leaves) for v in node[3])))
    raise ValueError(f"unknown tree spec node {kind!r}")
