"""``GraphModule``: a Module whose ``forward`` is the Python generated from a Graph.

Built from a root module (or a dict of attributes) and a graph, it copies from the root
what the graph's ``get_attr`` and ``call_module`` nodes name (the same submodules,
parameters and buffers, not copies; empty ``Module``s stand for the parents on their
paths), and compiles the graph's code as ``forward`` of a class of its own, so two
GraphModules never share one.  Setting ``graph`` or calling ``recompile()`` after an
edit regenerates the code.  It is an ordinary Module: it trains, has a ``state_dict``,
and ``irgrad.compile`` compiles it.
"""

from __future__ import annotations

import copy
import itertools
import linecache
from typing import Any

from ..nn.modules.module import Module, _addindent
from ..nn.parameter import Parameter
from ..tensor import Tensor
from .graph import Graph

_eval_keys = itertools.count()


def _forward_from_src(src: str, globals_: dict[str, Any]) -> Any:
    """The ``forward`` function ``src`` defines, its source kept for tracebacks."""
    key = f"<eval_with_key>.{next(_eval_keys)}"
    linecache.cache[key] = (len(src), None, src.splitlines(True), key)
    namespace = dict(globals_)
    exec(compile(src, key, "exec"), namespace)  # noqa: S102 - the code irgrad generated
    return namespace["forward"]


def _copy_attr(from_module: Module, to_module: Module, target: str) -> None:
    """Make ``to_module.<target>`` the root's, adding empty Modules for missing parents."""
    *prefix, field = target.split(".")
    for item in prefix:
        f = getattr(from_module, item)
        t = getattr(to_module, item, None)
        if f is t:
            return  # (a parent already installed brings its children)
        if t is None:
            t = Module()
            setattr(to_module, item, t)
        from_module, to_module = f, t
    orig = getattr(from_module, field)
    if isinstance(orig, Tensor) and not isinstance(orig, Parameter):
        to_module.register_buffer(field, orig)
    else:
        setattr(to_module, field, orig)


def _assign_attr(from_obj: Any, to_module: Module, target: str) -> None:
    *prefix, field = target.split(".")
    for item in prefix:
        t = getattr(to_module, item, None)
        if t is None:
            t = Module()
            setattr(to_module, item, t)
        to_module = t
    if isinstance(from_obj, Tensor) and not isinstance(from_obj, Parameter):
        to_module.register_buffer(field, from_obj)
    else:
        setattr(to_module, field, from_obj)


class GraphModule(Module):
    """A Module running a Graph (see the module docstring)."""

    def __new__(cls, *args: Any, **kwargs: Any) -> GraphModule:
        # one class an instance, to hold its own generated forward
        for t in cls.__mro__:
            if t.__qualname__.split(".")[-1] != "GraphModuleImpl":
                cls = t
                break

        class GraphModuleImpl(cls):  # type: ignore[misc, valid-type]
            pass

        return super().__new__(GraphModuleImpl)

    def __init__(self, root: Module | dict[str, Any], graph: Graph, class_name: str = "GraphModule") -> None:
        super().__init__()
        self.__class__.__name__ = class_name
        if isinstance(root, Module):
            if hasattr(root, "training"):
                self.training = root.training
            for node in graph.nodes:
                if node.op in ("get_attr", "call_module"):
                    _copy_attr(root, self, node.target)
        elif isinstance(root, dict):
            for node in graph.nodes:
                if node.op in ("get_attr", "call_module"):
                    if node.target not in root:
                        raise RuntimeError(
                            f"Node {node} referenced target {node.target} but that target was "
                            "not provided in ``root``!"
                        )
                    _assign_attr(root[node.target], self, node.target)
        else:
            raise RuntimeError("Unsupported type " + str(root) + " passed for root!")
        self.graph = graph
        self._tracer_cls = graph._tracer_cls
        self.meta: dict[str, Any] = {}

    @property
    def graph(self) -> Graph:
        return self._graph

    @graph.setter
    def graph(self, g: Graph) -> None:
        assert isinstance(g, Graph), f"Expected a Graph instance, but got {type(g)}"
        self._graph = g
        g.owning_module = self
        self.recompile()

    @property
    def code(self) -> str:
        """The source of the generated ``forward``."""
        return self._code

    def recompile(self) -> Any:
        """Regenerate ``forward`` from the graph (after editing it)."""
        python_code = self._graph.python_code(root_module="self")
        self._code = python_code.src
        type(self).forward = _forward_from_src(self._code, python_code.globals)
        return python_code

    def print_readable(self, print_output: bool = True) -> str:
        """The generated code as a class body, with the GraphModule children's after it."""
        src = self._graph.python_code(root_module="self", verbose=True).src.lstrip("\n")
        module_code = _addindent(f"class {self._get_name()}(irgrad.nn.Module):\n" + src, 4)
        submodules = [""]
        for name, child in self.named_children():
            if isinstance(child, GraphModule):
                submodules.append(
                    child.print_readable(print_output=False).replace(
                        f"class {child._get_name()}(", f"class {name}(", 1
                    )
                )
        output = module_code + "\n".join(_addindent(s, 4) for s in submodules)
        if print_output:
            print(output)
        return output

    def add_submodule(self, target: str, m: Module) -> bool:
        """Install ``m`` at dotted path ``target``, adding empty parents; False when a
        parent on the path is no Module."""
        *prefix, field = target.split(".")
        mod: Module = self
        for item in prefix:
            submod = getattr(mod, item, None)
            if submod is None:
                submod = Module()
                setattr(mod, item, submod)
            if not isinstance(submod, Module):
                return False
            mod = submod
        mod.add_module(field, m)
        return True

    def delete_submodule(self, target: str) -> bool:
        """Remove the submodule at ``target``; whether there was one."""
        *path, target_submod = target.split(".")
        mod: Module = self
        for item in path:
            if not hasattr(mod, item):
                return False
            mod = getattr(mod, item)
            if not isinstance(mod, Module):
                return False
        if not hasattr(mod, target_submod) or not isinstance(getattr(mod, target_submod), Module):
            return False
        delattr(mod, target_submod)
        return True

    def delete_all_unused_submodules(self) -> None:
        """Remove the submodules no ``call_module`` or ``get_attr`` node reaches."""
        used: list[str] = []
        for node in self.graph.nodes:
            if node.op in ("call_module", "get_attr"):
                fullpath = node.target.split(".")
                used.extend(".".join(fullpath[:i]) for i in range(1, len(fullpath) + 1))
                if node.op == "call_module":
                    used.extend(
                        name for name, _ in self.get_submodule(node.target).named_modules(prefix=node.target)
                    )
        to_delete = [name for name, _ in self.named_modules() if name not in used and name]
        for name in to_delete:
            self.delete_submodule(name)

    def __copy__(self) -> GraphModule:
        res = GraphModule(self, self.graph, self._get_name())
        res.meta = getattr(self, "meta", {})
        return res

    def __deepcopy__(self, memo: dict[int, Any]) -> GraphModule:
        res = type(self).__new__(type(self))
        memo[id(self)] = res
        fake_mod = Module()
        fake_mod.__dict__.update(copy.deepcopy(self.__dict__, memo))
        GraphModule.__init__(res, fake_mod, fake_mod.__dict__["_graph"], self._get_name())
        for k, v in fake_mod.__dict__.items():
            if k not in res.__dict__:
                res.__dict__[k] = v
        return res

    def __str__(self) -> str:
        reminder = "# To see more debug info, please use `graph_module.print_readable()`"
        return "\n".join([Module.__repr__(self), self._code, reminder])
