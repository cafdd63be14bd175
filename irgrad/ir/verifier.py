"""The verifier: checks every invariant of a Graph, so a pass that breaks one fails loudly.

Invariants: the graph is acyclic; argument positions are 0..n-1; every op is
registered and gets as many arguments as it takes; every op's declared type equals
what its shape rule infers from its arguments' types; constants match their types;
inputs and outputs exist; fused bodies verify recursively and match their call (a
body's first output is the node's type, each other one a ``result`` node's).
"""

from __future__ import annotations

from ..ops import OPS, Meta
from .graph import CONSTANT, FUSED, INPUT, RESULT, Graph


class VerificationError(AssertionError):
    """A graph invariant does not hold; the message names the node."""


def verify(graph: Graph) -> Graph:
    """Raise VerificationError unless every invariant holds; return the graph."""
    import networkx as nx  # (imported on first use: see irgrad.ir.graph.dataflow_graph)

    if not nx.is_directed_acyclic_graph(graph.nx):
        raise VerificationError(f"graph {graph.name} has a cycle: {nx.find_cycle(graph.nx)}")
    for nid in graph.inputs:
        if nid not in graph or graph.node(nid).op != INPUT:
            raise VerificationError(f"graph {graph.name}: input {nid} is not an input node")
    for nid in graph.outputs:
        if nid not in graph:
            raise VerificationError(f"graph {graph.name}: output {nid} is not a node")
    for nid in graph.order():
        _verify_node(graph, nid)
    return graph


def _where(graph: Graph, nid: int) -> str:
    node = graph.node(nid)
    return f"graph {graph.name}, node {nid} ({node.op}{' at ' + node.source if node.source else ''})"


def _verify_node(graph: Graph, nid: int) -> None:
    node = graph.node(nid)
    positions = sorted(k for _, _, k in graph.nx.in_edges(nid, keys=True))
    if positions != list(range(len(positions))):
        raise VerificationError(f"{_where(graph, nid)}: argument positions {positions} are not 0..n-1")
    if node.op == INPUT:
        if positions or nid not in graph.inputs:
            raise VerificationError(f"{_where(graph, nid)}: inputs take no arguments and must be listed")
        return
    if node.op == CONSTANT:
        value = node.value
        if value is None or tuple(value.shape) != node.type.shape or value.dtype != node.type.dtype.np:
            raise VerificationError(f"{_where(graph, nid)}: constant value does not match type {node.type}")
        return
    args = [graph.node(a).type for a in graph.args(nid)]
    if node.op == FUSED:
        body = node.body
        verify(body)
        body_in = [body.node(i).type for i in body.inputs]
        if body_in != args or not body.outputs or body.node(body.outputs[0]).type != node.type:
            raise VerificationError(f"{_where(graph, nid)}: fused body signature does not match its call")
        return
    if node.op == RESULT:
        args = graph.args(nid)
        body = graph.node(args[0]).body if len(args) == 1 and graph.node(args[0]).op == FUSED else None
        index = node.attrs.get("index")
        if body is None or not isinstance(index, int) or not 0 < index < len(body.outputs):
            raise VerificationError(f"{_where(graph, nid)}: not a later result of a fused group")
        if body.node(body.outputs[index]).type != node.type:
            raise VerificationError(f"{_where(graph, nid)}: type differs from the group's result {index}")
        twins = [u for u in graph.users(args[0]) if u != nid and graph.node(u).op == RESULT]
        if any(graph.node(u).attrs.get("index") == index for u in twins):
            raise VerificationError(
                f"{_where(graph, nid)}: another result node takes the group's result {index}"
            )
        return
    op = OPS.get(node.op)
    if op is None:
        raise VerificationError(f"{_where(graph, nid)}: unknown op {node.op!r}")
    if op.arity >= 0 and len(args) != op.arity:
        raise VerificationError(
            f"{_where(graph, nid)}: {node.op} takes {op.arity} arguments, got {len(args)}"
        )
    if not (node.type.is_static and all(a.is_static for a in args)):
        return
    try:
        inferred = op.infer(*(Meta(a.shape, a.dtype) for a in args), **node.attrs)
    except Exception as exc:  # the shape rule rejected the arguments
        raise VerificationError(f"{_where(graph, nid)}: shape rule failed: {exc}") from exc
    if tuple(inferred.shape) != node.type.shape or inferred.dtype is not node.type.dtype:
        raise VerificationError(
            f"{_where(graph, nid)}: declared type {node.type.shape} {node.type.dtype} but the shape rule "
            f"gives {tuple(inferred.shape)} {inferred.dtype}"
        )
