"""The IR's text form: one line a value, every value typed; :mod:`.parser` reads it back.

::

    graph forward(%x: f32[64,784], param %w: f32[128,784], param %b: f32[128]) -> (f32[64,128])
      %0: f32[784,128] = permute(%w, dims=(1, 0))
      %1: f32[64,128] = matmul(%x, %0)          # model.py:12
      %2: f32[64,128] = add(%1, %b)
      %3: f32[64,128] = relu(%2)
      return %3

Inputs keep their names; constants and op results are numbered in topological
order.  Attributes use Python literal syntax (plus ``slice(a, b, c)``, ``...`` and
dtype names such as ``f32``).  A fused node prints its body graph indented under it.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING

import numpy as np

from ..dtypes import dtype
from .types import CONSTANT, FUSED, INPUT, USER, TensorType

if TYPE_CHECKING:  # a type hint only: the graph module imports this one
    from .graph import Graph

SHORT_DTYPE = {
    "float16": "f16",
    "float32": "f32",
    "float64": "f64",
    "int8": "i8",
    "int16": "i16",
    "int32": "i32",
    "int64": "i64",
    "uint8": "u8",
    "bool": "bool",
}
INLINE_CONSTANT_LIMIT = 64


def format_type(t: TensorType) -> str:
    # repr: a run-time Size prints as its expression (its str() is its value, assumed)
    return f"{SHORT_DTYPE[t.dtype.name]}[{','.join(d if isinstance(d, str) else repr(d) for d in t.shape)}]"


def format_attr(value) -> str:
    if isinstance(value, dtype):
        return SHORT_DTYPE[value.name]
    if isinstance(value, slice):
        return f"slice({value.start!r}, {value.stop!r}, {value.step!r})"
    if value is Ellipsis:
        return "..."
    if isinstance(value, tuple):
        inner = ", ".join(format_attr(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, list):
        return "[" + ", ".join(format_attr(v) for v in value) + "]"
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    if isinstance(value, (np.integer,)):
        return repr(int(value))
    return repr(value)


def format_constant(value: np.ndarray) -> str:
    if value.size <= INLINE_CONSTANT_LIMIT:
        return format_attr(value.tolist())
    flat = value.reshape(-1)
    if (flat == flat[0]).all():
        return f"splat={format_attr(flat[0].item())}"
    data = base64.b64encode(np.ascontiguousarray(value).tobytes()).decode("ascii")
    return f"b64={data!r}"


def _names(graph: Graph) -> dict[int, str]:
    names: dict[int, str] = {}
    counter = 0
    for nid in graph.order():
        node = graph.node(nid)
        if node.op == INPUT:
            names[nid] = f"%{node.name}"
        else:
            names[nid] = f"%{counter}"
            counter += 1
    return names


def print_graph(graph: Graph, indent: str = "", sources: bool = True) -> str:
    """The graph as text; without ``sources``, without the user source line of each node
    (what keys compiled code: moving a line of the script does not change it)."""
    names = _names(graph)
    params = []
    for nid in graph.inputs:
        node = graph.node(nid)
        role = "" if node.role == USER else f"{node.role} "
        params.append(f"{role}{names[nid]}: {format_type(node.type)}")
    results = ", ".join(format_type(graph.node(o).type) for o in graph.outputs)
    lines = [f"{indent}graph {graph.name}({', '.join(params)}) -> ({results})"]
    body = indent + "  "
    for nid in graph.order():
        node = graph.node(nid)
        if node.op == INPUT:
            continue
        head = f"{body}{names[nid]}: {format_type(node.type)} = "
        if node.op == CONSTANT:
            lines.append(head + f"constant({format_constant(node.value)})")
            continue
        args = [names[a] for a in graph.args(nid)]
        args += [f"{k}={format_attr(v)}" for k, v in node.attrs.items()]
        line = head + f"{node.op}({', '.join(args)})"
        if node.op == FUSED:
            lines.append(line + " {")
            lines.append(print_graph(node.body, body + "  ", sources))
            lines.append(body + "}")
            continue
        if node.source and sources:
            line += f"  # {node.source}"
        lines.append(line)
    lines.append(f"{body}return {', '.join(names[o] for o in graph.outputs)}")
    return "\n".join(lines)


def to_dot(graph: Graph) -> str:
    """Graphviz source: one box a value, labelled with its op and type."""
    names = _names(graph)
    out = [f'digraph "{graph.name}" {{', "  node [shape=box, fontname=monospace];"]
    for nid in graph.order():
        node = graph.node(nid)
        label = node.op if node.op not in (INPUT, CONSTANT) else (node.name or "constant")
        style = ', style=filled, fillcolor="#e8f0fe"' if node.op == INPUT else ""
        out.append(f'  n{nid} [label="{names[nid]} = {label}\\n{format_type(node.type)}"{style}];')
    for u, v, pos in graph.nx.edges(keys=True):
        out.append(f'  n{u} -> n{v} [label="{pos}"];')
    for i, o in enumerate(graph.outputs):
        out.append(f'  out{i} [label="output {i}", shape=ellipse];')
        out.append(f"  n{o} -> out{i};")
    out.append("}")
    return "\n".join(out)
