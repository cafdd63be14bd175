"""The IR: typed dataflow graphs on networkx, their text form, verifier and interpreter."""

from .graph import BUFFER, CONSTANT, FUSED, INPUT, PARAM, RESULT, STATE_ROLE, USER, Graph, Node, TensorType
from .interpreter import compile_graph, interpret, node_values
from .parser import IRParseError, parse_graph
from .printer import print_graph
from .verifier import VerificationError, verify

__all__ = [
    "BUFFER",
    "CONSTANT",
    "FUSED",
    "INPUT",
    "PARAM",
    "RESULT",
    "STATE_ROLE",
    "USER",
    "Graph",
    "IRParseError",
    "Node",
    "TensorType",
    "VerificationError",
    "compile_graph",
    "interpret",
    "node_values",
    "parse_graph",
    "print_graph",
    "verify",
]
