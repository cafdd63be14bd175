"""Flatten nested Python containers to a list of leaves and rebuild them.

Used by the compiler to turn a function's arguments and results (tensors inside
tuples, lists, dicts and namedtuples) into flat lists and back.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def flatten(tree: Any, is_leaf: Callable[[Any], bool]) -> tuple[list, Any]:
    """(leaves, spec): the leaves in order, and a spec that :func:`unflatten` rebuilds from."""
    leaves: list = []

    def walk(node):
        if is_leaf(node):
            leaves.append(node)
            return ("leaf",)
        if isinstance(node, tuple) and hasattr(node, "_fields"):
            return ("namedtuple", type(node), tuple(walk(v) for v in node))
        if isinstance(node, (tuple, list)):
            return (type(node).__name__, tuple(walk(v) for v in node))
        if isinstance(node, dict):
            return ("dict", type(node), tuple(node.keys()), tuple(walk(v) for v in node.values()))
        return ("const", node)

    return leaves, walk(tree)


def unflatten(spec: Any, leaves: list) -> Any:
    """Rebuild the structure described by ``spec`` with ``leaves`` in order."""
    it = iter(leaves)

    def build(node):
        kind = node[0]
        if kind == "leaf":
            return next(it)
        if kind == "const":
            return node[1]
        if kind == "namedtuple":
            return node[1](*(build(v) for v in node[2]))
        if kind == "tuple":
            return tuple(build(v) for v in node[1])
        if kind == "list":
            return [build(v) for v in node[1]]
        if kind == "dict":
            return node[1](zip(node[2], (build(v) for v in node[3])))
        raise ValueError(f"unknown tree spec node {kind!r}")

    return build(spec)
