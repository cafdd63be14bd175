"""``Graph``: torch.fx's program representation, a list of :class:`Node` in program order.

Nodes are made by ``placeholder``/``get_attr``/``call_function``/``call_method``/
``call_module``/``output`` (or ``create_node``) at the insert point, the end unless
``inserting_before``/``inserting_after`` moved it.  ``lint`` checks the graph is well
formed, ``eliminate_dead_code`` drops what nothing reads, ``python_code`` renders it
as Python (:mod:`.codegen`), ``str()`` and ``print_tabular`` show it as torch.fx does.
"""

from __future__ import annotations

import copy
import inspect
import warnings
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from ..nn.modules.module import Module
from .codegen import PythonCode, python_code
from .names import Namespace, target_to_str
from .node import LEGAL_OPS, Argument, Node, Target, map_arg

if TYPE_CHECKING:
    from .graph_module import GraphModule


class _node_list:  # noqa: N801 - torch.fx's name
    """``graph.nodes``: iterable both ways while nodes are inserted and erased."""

    def __init__(self, graph: Graph, reverse: bool = False) -> None:
        self.graph = graph
        self.reverse = reverse

    def __len__(self) -> int:
        return self.graph._len

    def _walk(self, backwards: bool) -> Iterator[Node]:
        root = self.graph._root
        cur = root._prev if backwards else root._next
        while cur is not root:
            if not cur._erased:
                yield cur
            cur = cur._prev if backwards else cur._next

    def __iter__(self) -> Iterator[Node]:
        return self._walk(self.reverse)

    def __reversed__(self) -> Iterator[Node]:
        return self._walk(not self.reverse)


class _InsertPoint:
    """Where new nodes go until the ``with`` block ends (or for good, without one)."""

    def __init__(self, graph: Graph, new_insert: Callable[[Node], None]) -> None:
        self.graph = graph
        self.orig_insert, graph._insert = graph._insert, new_insert

    def __enter__(self) -> None:
        pass

    def __exit__(self, *exc: object) -> None:
        self.graph._insert = self.orig_insert


class Graph:
    """A program as nodes (see the module docstring)."""

    def __init__(self, owning_module: GraphModule | None = None, tracer_cls: type | None = None) -> None:
        self._root = Node(self, "", "root", "", (), {})
        self._insert = self._root.prepend
        self._len = 0
        self._graph_namespace = Namespace()
        self._owning_module = owning_module
        self._tracer_cls = tracer_cls

    @property
    def owning_module(self) -> GraphModule | None:
        return self._owning_module

    @owning_module.setter
    def owning_module(self, mod: GraphModule | None) -> None:
        self._owning_module = mod

    @property
    def nodes(self) -> _node_list:
        return _node_list(self)

    @property
    def output_node(self) -> Node:
        output = next(iter(reversed(self.nodes)))
        if output.op != "output":
            raise AssertionError(f"Last node in graph must be an output node, got {output.op}")
        return output

    def find_nodes(self, *, op: str, target: Target | None = None) -> list[Node]:
        return [n for n in self.nodes if n.op == op and (target is None or n.target == target)]

    # --- making nodes -----------------------------------------------------------------
    def create_node(
        self,
        op: str,
        target: Target,
        args: tuple[Argument, ...] | None = None,
        kwargs: dict[str, Argument] | None = None,
        name: str | None = None,
        type_expr: Any | None = None,
    ) -> Node:
        """A new node at the insert point; its name from ``name`` or the target, made unique."""
        if op not in LEGAL_OPS:
            raise AssertionError(f"Invalid opcode {op}")
        args = () if not args else args
        kwargs = {} if not kwargs else kwargs
        assert isinstance(args, tuple), "args must be a tuple"
        assert isinstance(kwargs, dict), "kwargs must be a dict"
        candidate = name if name is not None else target_to_str(target)
        name = self._graph_namespace.create_name(candidate, None)
        n = Node(self, name, op, target, args, kwargs, type_expr)
        self._graph_namespace.associate_name_with_obj(name, n)
        self._insert(n)
        self._len += 1
        return n

    def placeholder(
        self, name: str, type_expr: Any | None = None, default_value: Any = inspect.Signature.empty
    ) -> Node:
        args = () if default_value is inspect.Signature.empty else (default_value,)
        return self.create_node("placeholder", name, args=args, type_expr=type_expr)

    def get_attr(self, qualified_name: str, type_expr: Any | None = None) -> Node:
        if self.owning_module is not None and not _has_attr_path(self.owning_module, qualified_name):
            warnings.warn(
                "Attempted to insert a get_attr Node with no underlying reference in the owning "
                "GraphModule! Call GraphModule.add_submodule to add the necessary submodule, "
                "GraphModule.add_parameter to add the necessary Parameter, or "
                "nn.Module.register_buffer to add the necessary buffer",
                stacklevel=2,
            )
        return self.create_node("get_attr", qualified_name, type_expr=type_expr)

    def call_module(
        self,
        module_name: str,
        args: tuple[Argument, ...] | None = None,
        kwargs: dict[str, Argument] | None = None,
        type_expr: Any | None = None,
    ) -> Node:
        if self.owning_module is not None and not _has_attr_path(self.owning_module, module_name):
            warnings.warn(
                "Attempted to insert a call_module Node with no underlying reference in the owning "
                "GraphModule! Call GraphModule.add_submodule to add the necessary submodule",
                stacklevel=2,
            )
        return self.create_node("call_module", module_name, args, kwargs, type_expr=type_expr)

    def call_method(
        self,
        method_name: str,
        args: tuple[Argument, ...] | None = None,
        kwargs: dict[str, Argument] | None = None,
        type_expr: Any | None = None,
    ) -> Node:
        return self.create_node("call_method", method_name, args, kwargs, type_expr=type_expr)

    def call_function(
        self,
        the_function: Callable[..., Any],
        args: tuple[Argument, ...] | None = None,
        kwargs: dict[str, Argument] | None = None,
        type_expr: Any | None = None,
    ) -> Node:
        return self.create_node("call_function", the_function, args, kwargs, type_expr=type_expr)

    def output(self, result: Argument, type_expr: Any | None = None) -> Node:
        return self.create_node("output", "output", (result,), type_expr=type_expr)

    def node_copy(self, node: Node, arg_transform: Callable[[Node], Argument] = lambda x: x) -> Node:
        """A copy of ``node`` (of any graph) here, its node arguments mapped by ``arg_transform``."""
        args = map_arg(node.args, arg_transform)
        kwargs = map_arg(node.kwargs, arg_transform)
        result = self.create_node(node.op, node.target, args, kwargs, node.name, node.type)
        result.meta = copy.copy(node.meta)
        return result

    def graph_copy(self, g: Graph, val_map: dict[Node, Node], return_output_node: bool = False) -> Any:
        """Copy ``g``'s nodes but its output here (``val_map``: its nodes to ours, filled in);
        the copy of its output value, and with ``return_output_node`` its output node too."""
        for node in g.nodes:
            if node in val_map:
                continue
            if node.op == "output":
                rv = map_arg(node.args[0], lambda n: val_map[n])
                return (rv, node) if return_output_node else rv
            val_map[node] = self.node_copy(node, lambda n: val_map[n])
        return None

    def __deepcopy__(self, memo: dict | None = None) -> Graph:
        memo = memo if memo else {}
        g = Graph(tracer_cls=self._tracer_cls)
        copied = g.graph_copy(self, val_map=memo, return_output_node=True)
        if copied is not None:
            output_val, old_output = copied
            new_output = g.output(output_val, type_expr=old_output.type)
            new_output.meta = copy.copy(old_output.meta)
        return g

    # --- editing ----------------------------------------------------------------------
    def erase_node(self, to_erase: Node) -> None:
        """Remove a node nothing uses any more."""
        if len(to_erase.users) > 0:
            raise RuntimeError(
                f"Tried to erase Node {to_erase} but it still had {len(to_erase.users)} "
                f"users in the graph: {to_erase.users}!"
            )
        if to_erase.graph != self:
            raise RuntimeError(f"Attempting to remove {to_erase} from wrong graph!")
        if to_erase._erased:
            warnings.warn(f"erase_node({to_erase}) on an already erased node", stacklevel=2)
            return
        to_erase._remove_from_list()
        to_erase._erased = True
        self._len -= 1
        to_erase._update_args_kwargs(
            map_arg(to_erase._args, lambda n: None), map_arg(to_erase._kwargs, lambda n: None)
        )

    def inserting_before(self, n: Node | None = None) -> _InsertPoint:
        """New nodes go before ``n`` (the graph's start for None): for good, or in a ``with``."""
        if n is None:
            return self.inserting_after(self._root)
        assert n.graph == self, "Node to insert before is not in graph."
        return _InsertPoint(self, n.prepend)

    def inserting_after(self, n: Node | None = None) -> _InsertPoint:
        """New nodes go after ``n`` (the graph's start for None)."""
        if n is None:
            return self.inserting_before(self._root)
        assert n.graph == self, "Node to insert after is not in graph."
        return _InsertPoint(self, n.append)

    def eliminate_dead_code(self, is_impure_node: Callable[[Node], bool] | None = None) -> bool:
        """Erase the nodes nothing reads and that have no side effect; whether any was."""
        self.lint()
        impure = is_impure_node if is_impure_node is not None else Node.is_impure
        changed = False
        for node in reversed(self.nodes):
            if not impure(node) and len(node.users) == 0:
                self.erase_node(node)
                changed = True
        return changed

    def lint(self) -> None:
        """Check the graph is well formed: nodes owned by it, in topological order, with unique
        names, and (in a GraphModule) targets that exist."""
        seen_names: set[str] = set()
        seen_values: set[Node] = set()
        for node in self.nodes:
            if node.op not in LEGAL_OPS:
                raise RuntimeError(f"Node {node} had unknown opcode {node.op}!")
            if node.graph is not self:
                raise RuntimeError(f"Node '{node}' does not belong to this Graph!")
            for arg in node._input_nodes:
                if arg.graph is not self:
                    raise RuntimeError(
                        f"Argument '{arg}' of Node '{node}' does not belong to this Graph, "
                        "but was used as an argument! If you are copying nodes from another graph, make "
                        f"sure to use ``arg_transform`` on node_copy() to remap values\n{self}"
                    )
                if arg not in seen_values:
                    raise RuntimeError(
                        f"Argument '{arg}' of Node '{node}' was used before it has been "
                        f"defined! Please check that Nodes in the graph are topologically ordered\n{self}"
                    )
            seen_values.add(node)
            if node.name in seen_names:
                raise RuntimeError(f"Node redefined name {node.name}!")
            seen_names.add(node.name)
        if self.owning_module is not None:
            self._lint_targets(self.owning_module)

    def _lint_targets(self, owner: GraphModule) -> None:
        for node in self.nodes:
            if node.op not in ("get_attr", "call_module"):
                continue
            atoms = node.target.split(".")
            m_itr: Any = owner
            for i, atom in enumerate(atoms):
                new_m_itr = getattr(m_itr, atom, None)
                seen_qualname = ".".join(atoms[:i])
                if new_m_itr is None:
                    raise RuntimeError(
                        f"Node {node} target {node.target} references nonexistent attribute {atom} of {seen_qualname}"
                    )
                if node.op == "call_module" and not isinstance(new_m_itr, Module):
                    raise RuntimeError(
                        f"Node {node} target {node.target} {atom} of {seen_qualname} does not reference an nn.Module"
                    )
                m_itr = new_m_itr

    # --- rendering --------------------------------------------------------------------
    def python_code(self, root_module: str, verbose: bool = False) -> PythonCode:
        """The generated function's source and globals; ``root_module`` names the module
        that get_attr and call_module nodes read (``"self"``)."""
        return python_code(self, root_module, verbose)

    def __str__(self) -> str:
        placeholder_names: list[str] = []
        node_strs = [node.format_node(placeholder_names) for node in self.nodes]
        s = f"graph({', '.join(placeholder_names)}):"
        for node_str in node_strs:
            if node_str:
                s += "\n    " + node_str
        return s

    def print_tabular(self) -> None:
        """Print the nodes as a table (tabulate's "simple" format, which torch.fx uses)."""
        rows = [[n.op, n.name, n.target, n.args, n.kwargs] for n in self.nodes]
        print(tabulate(rows, ["opcode", "name", "target", "args", "kwargs"]))


def tabulate(rows: list[list[Any]], headers: list[str]) -> str:
    """Rows under headers, columns left-aligned and two spaces apart, dashes under the headers
    (a column is at least two wider than its header, as tabulate's)."""
    cells = [[str(c) for c in row] for row in rows]
    widths = [max(len(h) + 2, *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in cells]
    return "\n".join(lines)


def _has_attr_path(module: Any, path: str) -> bool:
    obj = module
    for atom in path.split("."):
        if not hasattr(obj, atom):
            return False
        obj = getattr(obj, atom)
    return True
