"""irgrad.utils._pytree against torch.utils._pytree: leaves, specs (equality, repr,
counts), unflatten, tree_map over several trees, namedtuples, the collections types,
is_leaf, registered node types and the errors."""

from __future__ import annotations

import collections

import pytest

from irgrad.utils import _pytree as ours

torch = pytest.importorskip("torch")
from torch.utils import _pytree as theirs  # noqa: E402

Point = collections.namedtuple("Point", "x y")

TREES = [
    3,
    None,
    [],
    {},
    [1, (2, 3), {"b": 4, "a": [5, None]}],
    {"a": [1, (2, 5)], "b": collections.OrderedDict(x=3), "c": 4},
    Point(1, [2, (3,)]),
    collections.defaultdict(list, a=[1, 2], b=3),
    collections.deque([1, [2]], maxlen=4),
    ((), [[]], {"k": ()}),
]


@pytest.mark.parametrize("tree", TREES, ids=range(len(TREES)))
def test_flatten_unflatten_and_specs_as_torchs(tree):
    leaves, spec = ours.tree_flatten(tree)
    their_leaves, their_spec = theirs.tree_flatten(tree)
    assert leaves == their_leaves
    assert repr(spec) == repr(their_spec)
    assert (spec.num_leaves, spec.num_nodes, spec.num_children) == (
        their_spec.num_leaves,
        their_spec.num_nodes,
        their_spec.num_children,
    )
    rebuilt = ours.tree_unflatten([f"leaf{k}" for k in range(len(leaves))], spec)
    expected = theirs.tree_unflatten([f"leaf{k}" for k in range(len(leaves))], their_spec)
    assert rebuilt == expected and type(rebuilt) is type(expected)
    assert ours.tree_structure(tree) == spec and ours.tree_leaves(tree) == leaves
    assert list(ours.tree_iter(tree)) == leaves


def test_tree_map_over_several_trees_and_is_leaf():
    tree = {"a": [1, 2], "b": (3, Point(4, 5))}
    other = {"a": [10, 20], "b": (30, Point(40, 50))}
    assert ours.tree_map(lambda x, y: x + y, tree, other) == theirs.tree_map(lambda x, y: x + y, tree, other)
    is_pair = lambda x: isinstance(x, list) and len(x) == 2  # noqa: E731
    size = lambda x: len(x) if isinstance(x, list) else x  # noqa: E731
    assert ours.tree_map(size, tree, is_leaf=is_pair) == theirs.tree_map(size, tree, is_leaf=is_pair)
    assert ours.tree_map_only(int, str, [1, "x", 2.5]) == theirs.tree_map_only(int, str, [1, "x", 2.5])
    assert ours.tree_all(lambda x: x > 0, tree) and not ours.tree_any(lambda x: x > 9, tree)
    seen = []
    assert ours.tree_map_(seen.append, tree) is tree and seen == ours.tree_leaves(tree)
    with pytest.raises(ValueError):
        ours.tree_map(lambda x, y: x, [1, 2], [1])


def test_unflatten_errors_as_torchs():
    _, spec = ours.tree_flatten([1, 2])
    with pytest.raises(
        ValueError, match="`leaves` has length 1 but the spec refers to a pytree that holds 2"
    ):
        ours.tree_unflatten([1], spec)
    with pytest.raises(TypeError, match="Expected `treespec` to be instance of TreeSpec"):
        ours.tree_unflatten([1], [1])


def test_registered_node_types():
    class Pair:
        def __init__(self, a, b):
            self.a, self.b = a, b

    ours.register_pytree_node(Pair, lambda p: ([p.a, p.b], None), lambda children, _: Pair(*children))
    try:
        doubled = ours.tree_map(lambda x: 2 * x, [Pair(1, [2])])
        assert doubled[0].a == 2 and doubled[0].b == [4]
        with pytest.raises(ValueError, match="already registered"):
            ours.register_pytree_node(Pair, lambda p: ([], None), lambda c, _: Pair(0, 0))
    finally:
        del ours.SUPPORTED_NODES[Pair]


def test_tensors_are_leaves():
    import irgrad

    t = irgrad.ones(2)
    leaves, spec = ours.tree_flatten({"w": t, "b": [t, 1]})
    assert leaves[0] is t and leaves[1] is t and spec.num_leaves == 3
