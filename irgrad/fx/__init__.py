"""``irgrad.fx``, as ``torch.fx``: programs as graphs of Python calls, made by symbolic tracing.

``symbolic_trace(module)`` runs a module's forward on :class:`Proxy` values and records
what it does as a :class:`Graph` of :class:`Node`; a :class:`GraphModule` runs a graph
as generated Python code.  Graphs are edited node by node (``inserting_after``,
``replace_all_uses_with``, ``erase_node``) or by :func:`replace_pattern`, and run by an
:class:`Interpreter` or rebuilt by a :class:`Transformer`.  Names, generated code and
behaviour are torch.fx's, with ``irgrad`` where torch.fx writes ``torch``; see
docs/pytorch-differences.md for what differs.
"""

from . import graph, graph_module, interpreter, node, passes, proxy, subgraph_rewriter, tracer
from ._symbolic_trace import wrap
from .graph import Graph
from .graph_module import GraphModule
from .interpreter import Interpreter, Transformer
from .node import Node, has_side_effect, map_aggregate, map_arg
from .passes import shape_prop  # noqa: F401 - irgrad.fx.passes.shape_prop after import irgrad
from .proxy import GraphAppendingTracer, Proxy, TraceError
from .subgraph_rewriter import replace_pattern
from .tracer import PH, Tracer, symbolic_trace

__all__ = [
    "Graph",
    "GraphAppendingTracer",
    "GraphModule",
    "Interpreter",
    "Node",
    "PH",
    "Proxy",
    "TraceError",
    "Tracer",
    "Transformer",
    "graph",
    "graph_module",
    "has_side_effect",
    "interpreter",
    "map_aggregate",
    "map_arg",
    "node",
    "passes",
    "proxy",
    "replace_pattern",
    "subgraph_rewriter",
    "symbolic_trace",
    "tracer",
    "wrap",
]
