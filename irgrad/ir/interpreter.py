"""The numpy interpreter: runs any Graph with the ops' own kernels.

It is the reference every pass and every code generator is checked against, and
the ``"numpy"`` backend of ``irgrad.compile``.  :func:`compile_graph` turns a graph
into a flat schedule once, so running it costs one kernel call per op and no
graph walking; values are dropped as soon as their last user has run.  Graphs with
symbolic sizes (dynamic shapes) get them from the inputs' shapes at each call.
A fused group with several results fills its ``result`` nodes' slots as it runs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ..ops import OPS
from .graph import CONSTANT, FUSED, INPUT, RESULT, Graph, Node
from .symbolic import has_sym, resolve

_ndarray = np.ndarray


def compile_graph(
    graph: Graph, lower: Callable[[Node], Callable | None] | None = None
) -> Callable[[Sequence[np.ndarray]], list[np.ndarray]]:
    """A function running ``graph`` on input arrays and returning its output arrays.

    ``lower(node)`` may supply a node's kernel (a native one), called as the op's
    numpy kernel would be; where it gives None the node runs with numpy."""
    order = graph.order()
    slot = {nid: i for i, nid in enumerate(order)}
    steps = []
    constants = []
    last_use: dict[int, int] = {}
    for step, nid in enumerate(order):
        for a in graph.args(nid):
            last_use[slot[a]] = step
    keep = {slot[o] for o in graph.outputs}
    later = _later_results(graph)
    trash = len(order)  # the slot of a group's results no node reads
    for step, nid in enumerate(order):
        node = graph.node(nid)
        if node.op in (INPUT, RESULT):  # a result's slot is filled by its group's step
            continue
        if node.op == CONSTANT:
            constants.append((slot[nid], node.value))
            continue
        results = tuple(slot.get(r, trash) for r in later.get(nid, ()))
        kernel = lower(node) if lower is not None and not results else None
        sized = False  # a fused body run by the interpreter takes the graph's symbol sizes
        if kernel is None and node.op == FUSED:
            kernel = body_kernel(node.body, every_result=bool(results))
            sized = any(has_sym(n.attrs) for n in node.body.op_nodes())
        elif kernel is None:
            kernel = OPS[node.op].eval
        args = tuple(slot[a] for a in graph.args(nid))
        dead = tuple(s for s in set(args) if last_use.get(s) == step and s not in keep)
        steps.append((kernel, args, node.attrs, slot[nid], dead, has_sym(node.attrs), sized, results))
    input_slots = [slot[i] for i in graph.inputs]
    # Size symbols (dynamic shapes) are read off the inputs' shapes at every call.
    symbol_dims = [
        (name, pos, d)
        for pos, nid in enumerate(graph.inputs)
        for d, name in enumerate(graph.node(nid).type.shape)
        if isinstance(name, str)
    ]
    output_slots = [slot[o] for o in graph.outputs]
    size = len(order) + 1

    def run(inputs: Sequence[np.ndarray], sizes: dict | None = None) -> list[np.ndarray]:
        """The outputs for ``inputs``; ``sizes`` gives symbols no input's shape carries (a
        backward graph's sizes come from its forward)."""
        if len(inputs) != len(input_slots):
            raise TypeError(f"graph {graph.name} takes {len(input_slots)} inputs, got {len(inputs)}")
        env: list = [None] * size
        for s, value in zip(input_slots, inputs):
            env[s] = value
        for s, value in constants:
            env[s] = value
        known = {name: inputs[pos].shape[d] for name, pos, d in symbol_dims}
        sizes = {**sizes, **known} if sizes else known
        for kernel, args, attrs, out, dead, symbolic, sized, results in steps:
            if symbolic:
                attrs = resolve(attrs, sizes)
            if sized:
                attrs = {"sizes": sizes}
            result = kernel(*[env[a] for a in args], **attrs)
            if results:
                result, *others = result
                for s, value in zip(results, others):
                    env[s] = value
            env[out] = result if type(result) is _ndarray else np.asarray(result)
            for d in dead:
                env[d] = None
        return [env[s] for s in output_slots]

    return run


def body_kernel(body: Graph, every_result: bool = False) -> Callable:
    """A fused node's kernel running its body with the interpreter, given the sizes of
    the symbols its attributes use when they have any: its first result, or with
    ``every_result`` the list of all (a group with several results).

    A result that is the body's input or constant, a view of one, or a result already
    returned is copied: a fused group's results are values of their own, as its native
    code writes them (loop fusion turns a joined ``copy`` into its argument)."""
    run = compile_graph(body)
    shared = _shared_outputs(body)
    count = len(body.outputs) if every_result else 1

    def kernel(*xs, sizes=None):
        values = run(xs, sizes)[:count]
        values = [np.array(v) if k in shared else np.asarray(v) for k, v in enumerate(values)]
        return values if every_result else values[0]

    return kernel


def _shared_outputs(body: Graph) -> set[int]:
    """Positions of ``body``'s outputs whose array may be an input's, a constant's or an
    earlier output's: such a node, a view of one, or a repeated output."""
    shared, seen = set(), set()
    for k, nid in enumerate(body.outputs):
        root = nid
        while body.node(root).op in OPS and OPS[body.node(root).op].view is not None:
            root = body.args(root)[0]
        if root in seen or body.node(root).op in (INPUT, CONSTANT):
            shared.add(k)
        seen.add(nid)
    return shared


def _later_results(graph: Graph) -> dict[int, list[int]]:
    """Each fused group's ``result`` nodes, by group, ordered by the result they take
    (-1 for a result without a node: computed and dropped)."""
    found: dict[int, dict[int, int]] = {}
    for nid in graph.nx.nodes:
        node = graph.node(nid)
        if node.op == RESULT:
            (group,) = graph.args(nid)
            found.setdefault(group, {})[node.attrs["index"]] = nid
    return {
        group: [by_index.get(k, -1) for k in range(1, len(graph.node(group).body.outputs))]
        for group, by_index in found.items()
    }


def interpret(graph: Graph, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Run ``graph`` once on ``inputs`` (numpy arrays) and return its outputs."""
    return compile_graph(graph)(inputs)


def input_sizes(graph: Graph, inputs: Sequence[np.ndarray]) -> dict[str, int]:
    """The size of every symbol of ``graph``'s input types, read off the input arrays."""
    return {
        name: inputs[pos].shape[d]
        for pos, nid in enumerate(graph.inputs)
        for d, name in enumerate(graph.node(nid).type.shape)
        if isinstance(name, str)
    }


def node_values(
    graph: Graph, inputs: Sequence[np.ndarray], check=None, sizes: dict | None = None
) -> dict[int, np.ndarray]:
    """Every node's value when ``graph`` runs on ``inputs``: the reference for localising errors.

    ``check(node, value, args)`` (optional) sees each op node's value and argument values
    as it is computed and may raise (``debug_nans`` does).  Slow: nothing is freed and nothing is scheduled once.
    """
    if len(inputs) != len(graph.inputs):
        raise TypeError(f"graph {graph.name} takes {len(graph.inputs)} inputs, got {len(inputs)}")
    values: dict[int, np.ndarray] = dict(zip(graph.inputs, inputs))
    results: dict[tuple[int, int], np.ndarray] = {}  # (fused group, k): its result k
    sizes = {**(sizes or {}), **input_sizes(graph, inputs)}
    for nid in graph.order():
        node = graph.node(nid)
        if node.op == INPUT:
            continue
        if node.op == CONSTANT:
            values[nid] = node.value
            continue
        args = [values[a] for a in graph.args(nid)]
        attrs = resolve(node.attrs, sizes) if has_sym(node.attrs) else node.attrs
        if node.op == RESULT:
            values[nid] = results[(graph.args(nid)[0], attrs["index"])]
            continue
        if node.op == FUSED:
            inner = node_values(node.body, args, check, sizes)
            value, *later = [np.asarray(inner[o]) for o in node.body.outputs]
            results.update(((nid, k + 1), v) for k, v in enumerate(later))
        else:
            value = np.asarray(OPS[node.op].eval(*args, **attrs))
        if check is not None:
            check(node, value, args)
        values[nid] = value
    return values
