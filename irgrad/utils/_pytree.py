"""PyTorch's pytree utilities (``torch.utils._pytree``), which model code uses to map a
function over the tensors inside nested containers.

A pytree is a leaf or a node: tuples, lists, dicts (keys in insertion order),
namedtuples, ``OrderedDict``, ``defaultdict`` and ``deque`` are nodes, as are types
registered with :func:`register_pytree_node`; anything else (tensors, numbers, None) is
a leaf.  :func:`tree_flatten` gives the leaves in order and a :class:`TreeSpec` of the
structure, which :func:`tree_unflatten` fills with new leaves; :func:`tree_map` does
both around a function.  (irgrad's compiler flattens arguments with its own
:mod:`irgrad.utils.pytree`, whose leaves are chosen by a predicate.)
"""

from __future__ import annotations

from collections import OrderedDict, defaultdict, deque, namedtuple
from collections.abc import Callable, Iterable, Iterator
from typing import Any, NamedTuple

__all__ = [
    "LeafSpec",
    "SUPPORTED_NODES",
    "TreeSpec",
    "register_pytree_node",
    "tree_all",
    "tree_any",
    "tree_flatten",
    "tree_is_leaf",
    "tree_iter",
    "tree_leaves",
    "tree_map",
    "tree_map_",
    "tree_map_only",
    "tree_structure",
    "tree_unflatten",
]


class NodeDef(NamedTuple):
    """How to take a node type apart (``flatten``: node -> (children, context)) and
    build it again (``unflatten``: (children, context) -> node)."""

    type: type
    flatten: Callable[[Any], tuple[list, Any]]
    unflatten: Callable[[Iterable, Any], Any]


SUPPORTED_NODES: dict[type, NodeDef] = {}


def register_pytree_node(
    cls: type,
    flatten_fn: Callable[[Any], tuple[list, Any]],
    unflatten_fn: Callable[[Iterable, Any], Any],
    *,
    serialized_type_name: str | None = None,
    to_dumpable_context: Callable | None = None,
    from_dumpable_context: Callable | None = None,
    flatten_with_keys_fn: Callable | None = None,
) -> None:
    """Make ``cls`` a node type (the serialization and key-path hooks are accepted for
    PyTorch's signature; irgrad serializes no tree specs)."""
    if cls in SUPPORTED_NODES:
        raise ValueError(f"{cls} is already registered as pytree node.")
    SUPPORTED_NODES[cls] = NodeDef(cls, flatten_fn, unflatten_fn)


def _is_namedtuple(node: Any) -> bool:
    return isinstance(node, tuple) and hasattr(type(node), "_fields")


register_pytree_node(tuple, lambda t: (list(t), None), lambda children, _: tuple(children))
register_pytree_node(list, lambda t: (list(t), None), lambda children, _: list(children))
register_pytree_node(
    dict, lambda d: (list(d.values()), list(d)), lambda children, keys: dict(zip(keys, children))
)
register_pytree_node(
    OrderedDict,
    lambda d: (list(d.values()), list(d)),
    lambda children, keys: OrderedDict(zip(keys, children)),
)
register_pytree_node(
    defaultdict,
    lambda d: (list(d.values()), [d.default_factory, list(d)]),
    lambda children, context: defaultdict(context[0], zip(context[1], children)),
)
register_pytree_node(
    deque, lambda d: (list(d), d.maxlen), lambda children, maxlen: deque(children, maxlen=maxlen)
)


# Every namedtuple is one node type, keyed (as in PyTorch) by the namedtuple factory
# itself; its context is the namedtuple's class.
register_pytree_node(namedtuple, lambda t: (list(t), type(t)), lambda children, cls: cls(*children))  # type: ignore[arg-type]


def _node_type(node: Any) -> type | None:
    """The registered node type ``node`` is taken apart as, or None for a leaf."""
    if _is_namedtuple(node):
        return namedtuple  # type: ignore[return-value]
    kind = type(node)
    return kind if kind in SUPPORTED_NODES else None


class TreeSpec:
    """A pytree's structure: its node type, context (keys, a namedtuple's class ...) and
    the specs of its children; a leaf's is :class:`LeafSpec`."""

    def __init__(self, type: type | None, context: Any, children_specs: list[TreeSpec]) -> None:
        self.type, self.context, self.children_specs = type, context, children_specs
        self.num_children = len(children_specs)
        self.num_leaves = sum(child.num_leaves for child in children_specs) if type is not None else 1
        self.num_nodes = 1 + sum(child.num_nodes for child in children_specs)

    def is_leaf(self) -> bool:
        return self.type is None

    def unflatten(self, leaves: Iterable[Any]) -> Any:
        leaves = list(leaves)
        if len(leaves) != self.num_leaves:
            raise ValueError(
                f"treespec.unflatten(leaves): `leaves` has length {len(leaves)} but the spec refers to a pytree "
                f"that holds {self.num_leaves} items ({self})."
            )
        return self._rebuild(iter(leaves))

    def _rebuild(self, leaves: Iterator[Any]) -> Any:
        if self.type is None:
            return next(leaves)
        children = [child._rebuild(leaves) for child in self.children_specs]
        return SUPPORTED_NODES[self.type].unflatten(children, self.context)

    def flatten_up_to(self, tree: Any) -> list[Any]:
        """``tree``'s subtrees at this spec's leaves (``tree`` must have this structure
        down to them)."""
        if self.type is None:
            return [tree]
        if _node_type(tree) is not self.type:
            raise ValueError(
                f"Node type mismatch; expected {self.type.__name__}, but got {type(tree).__name__}."
            )
        children, context = SUPPORTED_NODES[self.type].flatten(tree)
        if len(children) != self.num_children or (self.type is not deque and context != self.context):
            raise ValueError(f"Node structure mismatch; expected {self}, but got {tree!r}.")
        return [
            part for child, spec in zip(children, self.children_specs) for part in spec.flatten_up_to(child)
        ]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TreeSpec):
            return NotImplemented
        return (self.type, self.context, self.children_specs) == (
            other.type,
            other.context,
            other.children_specs,
        )

    __hash__ = None  # type: ignore[assignment]  (mutable contexts: as PyTorch's, unhashable)

    def __repr__(self, indent: int = 0) -> str:
        if self.type is None:
            return "*"
        children = ""
        if self.num_children:
            indent += 2
            children = self.children_specs[0].__repr__(indent) + ("," if self.num_children > 1 else "")
            children += ",".join(
                "\n" + " " * indent + child.__repr__(indent) for child in self.children_specs[1:]
            )
        return f"TreeSpec({self.type.__name__}, {self.context}, [{children}])"


class LeafSpec(TreeSpec):
    """The spec of a leaf."""

    def __init__(self) -> None:
        super().__init__(None, None, [])


def tree_is_leaf(tree: Any, is_leaf: Callable[[Any], bool] | None = None) -> bool:
    """Whether ``tree`` is a leaf (not a node type, or chosen by ``is_leaf``)."""
    return (is_leaf is not None and is_leaf(tree)) or _node_type(tree) is None


def _flatten(tree: Any, is_leaf: Callable[[Any], bool] | None, leaves: list) -> TreeSpec:
    if tree_is_leaf(tree, is_leaf):
        leaves.append(tree)
        return LeafSpec()
    kind = _node_type(tree)
    children, context = SUPPORTED_NODES[kind].flatten(tree)
    return TreeSpec(kind, context, [_flatten(child, is_leaf, leaves) for child in children])


def tree_flatten(tree: Any, is_leaf: Callable[[Any], bool] | None = None) -> tuple[list[Any], TreeSpec]:
    """The leaves of ``tree`` in order, and its structure."""
    leaves: list = []
    return leaves, _flatten(tree, is_leaf, leaves)


def tree_unflatten(leaves: Iterable[Any], treespec: TreeSpec) -> Any:
    """The pytree of structure ``treespec`` with ``leaves`` in order."""
    if not isinstance(treespec, TreeSpec):
        raise TypeError(
            f"tree_unflatten(leaves, treespec): Expected `treespec` to be instance of TreeSpec but got item of type "
            f"{type(treespec)}."
        )
    return treespec.unflatten(leaves)


def tree_leaves(tree: Any, is_leaf: Callable[[Any], bool] | None = None) -> list[Any]:
    return tree_flatten(tree, is_leaf)[0]


def tree_iter(tree: Any, is_leaf: Callable[[Any], bool] | None = None) -> Iterator[Any]:
    return iter(tree_leaves(tree, is_leaf))


def tree_structure(tree: Any, is_leaf: Callable[[Any], bool] | None = None) -> TreeSpec:
    return tree_flatten(tree, is_leaf)[1]


def tree_map(
    func: Callable[..., Any], tree: Any, *rests: Any, is_leaf: Callable[[Any], bool] | None = None
) -> Any:
    """``tree`` with ``func`` applied to each leaf (and the leaves at the same places of
    ``rests``, which must have ``tree``'s structure down to its leaves)."""
    leaves, spec = tree_flatten(tree, is_leaf)
    others = [spec.flatten_up_to(rest) for rest in rests]
    return spec.unflatten(map(func, leaves, *others))


def tree_map_(
    func: Callable[..., Any], tree: Any, *rests: Any, is_leaf: Callable[[Any], bool] | None = None
) -> Any:
    """Call ``func`` on each leaf for its effect; returns ``tree`` itself."""
    leaves, spec = tree_flatten(tree, is_leaf)
    for _ in map(func, leaves, *(spec.flatten_up_to(rest) for rest in rests)):
        pass
    return tree


def tree_map_only(
    type_or_types: type | tuple[type, ...],
    func: Callable[[Any], Any],
    tree: Any,
    is_leaf: Callable[[Any], bool] | None = None,
) -> Any:
    """:func:`tree_map` of ``func`` on the leaves of the given types; others stay."""
    return tree_map(
        lambda leaf: func(leaf) if isinstance(leaf, type_or_types) else leaf, tree, is_leaf=is_leaf
    )


def tree_all(pred: Callable[[Any], bool], tree: Any, is_leaf: Callable[[Any], bool] | None = None) -> bool:
    return all(map(pred, tree_leaves(tree, is_leaf)))


def tree_any(pred: Callable[[Any], bool], tree: Any, is_leaf: Callable[[Any], bool] | None = None) -> bool:
    return any(map(pred, tree_leaves(tree, is_leaf)))
