"""A Graph as the Python source of a function, as torch.fx generates it.

One line a node (``add = x + y;  x = y = None``): operators as operators, methods as
method calls, submodules and attributes through ``self``, irgrad's functions by their
public path (``irgrad.relu``) and other functions as globals named after their module
(``__main___my_fn``).  A value is set to None after its last use, so the generated
code frees memory as early as the graph allows.  The text equals torch.fx's for the
same graph, with ``irgrad`` where torch.fx writes ``torch``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..tensor import Tensor
from ._symbolic_trace import wrap
from .names import Namespace, custom_builtins, public_path, qualified_name
from .node import Argument, Node

if TYPE_CHECKING:
    from .graph import Graph

# torch.fx's operators written as operators (graph.py's magic_methods)
REFLECTABLE_MAGIC_METHODS = {
    "add": "{} + {}",
    "sub": "{} - {}",
    "mul": "{} * {}",
    "floordiv": "{} // {}",
    "truediv": "{} / {}",
    "div": "{} / {}",
    "mod": "{} % {}",
    "pow": "{} ** {}",
    "lshift": "{} << {}",
    "rshift": "{} >> {}",
    "and_": "{} & {}",
    "or_": "{} | {}",
    "xor": "{} ^ {}",
    "getitem": "{}[{}]",
    "matmul": "{} @ {}",
}
MAGIC_METHODS = {
    "eq": "{} == {}",
    "ne": "{} != {}",
    "lt": "{} < {}",
    "gt": "{} > {}",
    "le": "{} <= {}",
    "ge": "{} >= {}",
    "pos": "+{}",
    "neg": "-{}",
    "invert": "~{}",
    **REFLECTABLE_MAGIC_METHODS,
}


@dataclass
class PythonCode:
    """The source of the generated function and the globals it runs with."""

    src: str
    globals: dict[str, Any]


def format_target(base: str, target: str) -> str:
    """``self.layer1.0`` as ``getattr(self.layer1, "0")``: a dotted path as Python."""
    r = base
    for e in target.split("."):
        r = f"{r}.{e}" if e.isidentifier() else f'getattr({r}, "{e}")'
    return r


def _type_repr(obj: Any) -> str:
    if isinstance(obj, type):
        return obj.__name__ if obj.__module__ == "builtins" else f"{obj.__module__}.{obj.__qualname__}"
    return repr(obj)


class _Emitter:
    """The state of one generation: globals, their names and the body's lines."""

    def __init__(self, graph: Graph) -> None:
        self.namespace: Namespace = graph._graph_namespace
        self.globals: dict[str, Any] = {}
        self.wrapped: dict[str, None] = {}  # the names of fx.wrap's functions the code calls
        self.globals.update(custom_builtins())
        for name, obj in self.globals.items():
            self.namespace.create_name(name, obj)

    def add_global(self, name_hint: str, obj: Any) -> str:
        if public_path(obj) is not None or getattr(obj, "__module__", "").startswith("irgrad."):
            return qualified_name(obj)  # (reachable from the global irgrad, as torch.fx's torch.*)
        global_name = self.namespace.create_name(name_hint, obj)
        self.globals.setdefault(global_name, obj)
        return global_name

    def type_repr(self, obj: Any) -> str:
        if obj is Tensor:
            return "irgrad.Tensor"
        if isinstance(obj, type):
            return self.add_global(_type_repr(obj), obj)
        return repr(obj)

    def repr(self, arg: Argument) -> str:
        if isinstance(arg, Node):
            return repr(arg)
        if isinstance(arg, tuple) and hasattr(arg, "_fields"):
            name = self.add_global(qualified_name(type(arg)), type(arg))
            return f"{name}{repr(tuple(arg))}"
        if isinstance(arg, enum.Enum):
            cls = arg.__class__
            return f"{self.add_global(cls.__name__, cls)}.{arg.name}"
        if isinstance(arg, Tensor):
            return f"irgrad.Tensor(size={list(arg.size())}, dtype={str(arg.dtype).split('.')[-1]})"
        if isinstance(arg, tuple):
            if len(arg) == 1:
                return f"({self.repr(arg[0])},)"
            return "(" + ", ".join(self.repr(a) for a in arg) + ")"
        if isinstance(arg, list):
            return "[" + ", ".join(self.repr(a) for a in arg) + "]"
        if isinstance(arg, dict):
            return "{" + ", ".join(f"{k!r}: {self.repr(v)}" for k, v in arg.items()) + "}"
        if isinstance(arg, slice):
            return f"slice({self.repr(arg.start)}, {self.repr(arg.stop)}, {self.repr(arg.step)})"
        if isinstance(arg, type):
            return self.type_repr(arg)
        if callable(arg) and hasattr(arg, "__name__") and not isinstance(arg, Node):
            return self.add_global(qualified_name(arg), arg)
        return repr(arg)

    def args(self, args: tuple[Argument, ...], kwargs: dict[str, Argument]) -> str:
        parts = [self.repr(a) for a in args]
        parts.extend(f"{k} = {self.repr(v)}" for k, v in kwargs.items())
        return ", ".join(parts)

    def statement(self, node: Node, root_module: str, free_vars: list[str]) -> str | None:
        """The code of one node (None for a placeholder that needs none)."""
        annotation = "" if node.type is None else f" : {self.type_repr(node.type)}"
        if node.op == "placeholder":
            default = f" = {self.repr(node.args[0])}" if node.args else ""
            free_vars.append(f"{node.target}{annotation}{default}")
            raw_name = node.target.replace("*", "")
            return None if raw_name == repr(node) else f"{node} = {raw_name}"
        lhs = f"{node}{annotation} = "
        if node.op == "call_method":
            return (
                lhs
                + f"{format_target(self.repr(node.args[0]), node.target)}({self.args(node.args[1:], node.kwargs)})"
            )
        if node.op == "call_function":
            target = node.target
            if getattr(target, "__module__", "") == "_operator" and target.__name__ in MAGIC_METHODS:
                return lhs + MAGIC_METHODS[target.__name__].format(*(self.repr(a) for a in node.args))
            name = self.add_global(qualified_name(target), target)
            if node.meta.get("is_wrapped", False):
                self.wrapped.setdefault(name)
            if (
                name == "getattr"
                and len(node.args) == 2
                and isinstance(node.args[1], str)
                and node.args[1].isidentifier()
            ):
                return lhs + format_target(self.repr(node.args[0]), node.args[1])
            return lhs + f"{name}({self.args(node.args, node.kwargs)})"
        if node.op == "call_module":
            return lhs + f"{format_target(root_module, node.target)}({self.args(node.args, node.kwargs)})"
        if node.op == "get_attr":
            return lhs + format_target(root_module, node.target)
        return f"return {self.repr(node.args[0])}"


def python_code(graph: Graph, root_module: str, verbose: bool = False) -> PythonCode:
    """The source of ``forward(self, ...)`` computing ``graph``, and its globals; ``verbose``
    adds the comment on the nodes' stack traces (none recorded) that print_readable shows."""
    emitter = _Emitter(graph)
    nodes = list(graph.nodes)
    last_uses: dict[Node, list[Node]] = {}
    seen: set[Node] = set()
    for node in reversed(nodes):
        for input_node in node._input_nodes:
            if input_node not in seen:
                seen.add(input_node)
                last_uses.setdefault(node, []).append(input_node)

    free_vars: list[str] = []
    body: list[str] = []
    return_annotation = ""
    summarized = False
    for node in nodes:
        if node.op == "output" and node.type is not None:
            return_annotation = f" -> {emitter.type_repr(node.type)}"
        line = emitter.statement(node, root_module, free_vars)
        if line is None:
            continue
        if verbose and node.op not in ("placeholder", "output") and not summarized:
            body.append("\n# No stacktrace found for following nodes\n")
            summarized = True
        if node.op in ("placeholder", "output"):
            body.append(line + "\n")
            continue
        to_delete = list(last_uses.get(node, []))
        if not node.users:
            to_delete.append(node)
        if to_delete:
            line += ";  " + " = ".join([repr(n) for n in to_delete] + ["None"])
        body.append(line + "\n")
    if not body:
        body.append("pass\n")
    code = "".join(body).lstrip("\n")
    code = "\n".join("    " + line for line in code.split("\n"))
    wrap_stmts = ""
    if emitter.wrapped:
        wrap_name = emitter.add_global("wrap", wrap)
        wrap_stmts = "\n".join(f'{wrap_name}("{name}")' for name in emitter.wrapped)
    src = f"\n{wrap_stmts}\n\ndef forward({', '.join(['self', *free_vars])}){return_annotation}:\n{code}"
    return PythonCode(src, emitter.globals)
