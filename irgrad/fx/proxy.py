"""``Proxy``: a value that records what is done to it into a Graph, as torch.fx's.

Operators on a Proxy record ``call_function`` nodes of the ``operator`` module's
functions, attribute reads record ``getattr`` calls (made only when the attribute is
used as a value: ``x.sum(1)`` is one ``call_method`` node), irgrad's functions record
themselves (:mod:`.interception`).  Control flow on a Proxy raises :class:`TraceError`,
``len()`` a RuntimeError, as in torch.fx.  :class:`TracerBase` turns Python values into
node arguments; :class:`GraphAppendingTracer` appends to an existing graph.
"""

from __future__ import annotations

import dis
import enum
import operator
import sys
from bisect import bisect_left
from collections.abc import Callable, Iterator
from typing import Any

from ..dtypes import dtype
from ..memory_formats import memory_format
from ..tensor import Tensor, device
from .codegen import MAGIC_METHODS, REFLECTABLE_MAGIC_METHODS
from .graph import Graph
from .interception import Proxied, public_function_swap
from .node import Argument, Node, Target, map_arg

# Values that are node arguments as they are (torch.fx's base_types).
BASE_TYPES = (str, int, float, bool, complex, dtype, Tensor, device, memory_format, type(None), type(...))


class TraceError(ValueError):
    pass


class TracerBase:
    """What makes nodes: ``create_node``, ``create_proxy``, ``create_arg`` and the answers
    to control flow on a Proxy (``to_bool``, ``iter``, ``keys``)."""

    graph: Graph
    # (torch.fx's: trace a failing ``assert`` on a Proxy as a call instead of raising)
    trace_asserts = False

    def create_node(
        self,
        kind: str,
        target: Target,
        args: tuple[Argument, ...],
        kwargs: dict[str, Argument],
        name: str | None = None,
        type_expr: Any | None = None,
    ) -> Node:
        return self.graph.create_node(kind, target, args, kwargs, name, type_expr)

    def proxy(self, node: Node) -> Proxy:
        return Proxy(node, self)

    def create_proxy(
        self,
        kind: str,
        target: Target,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        name: str | None = None,
        type_expr: Any | None = None,
        proxy_factory_fn: Callable[[Node], Proxy] | None = None,
    ) -> Proxy:
        """A node of ``args``/``kwargs`` made arguments (Proxies become their nodes), as a Proxy."""
        args_ = self.create_arg(args)
        kwargs_ = self.create_arg(kwargs)
        node = self.create_node(kind, target, args_, kwargs_, name, type_expr)
        return proxy_factory_fn(node) if proxy_factory_fn else self.proxy(node)

    def create_arg(self, a: Any) -> Argument:
        """``a`` as a node argument: Proxies as their nodes, containers item by item."""
        if isinstance(a, Proxy):
            return a.node
        if hasattr(a, "__fx_create_arg__"):
            return a.__fx_create_arg__(self)
        if isinstance(a, tuple):
            items = [self.create_arg(elem) for elem in a]
            return type(a)(*items) if hasattr(a, "_fields") else tuple(items)
        if isinstance(a, list):
            return [self.create_arg(elem) for elem in a]
        if isinstance(a, dict):
            r = {}
            for k, v in a.items():
                if not isinstance(k, str):
                    k = self.create_arg(k)
                    map_arg(k, _no_nodes_error)
                r[k] = self.create_arg(v)
            return r
        if isinstance(a, slice):
            return slice(self.create_arg(a.start), self.create_arg(a.stop), self.create_arg(a.step))
        if isinstance(a, range):
            return range(self.create_arg(a.start), self.create_arg(a.stop), self.create_arg(a.step))
        if isinstance(a, (*BASE_TYPES, enum.Enum)) or isinstance(a, Node):
            return a
        raise NotImplementedError(f"argument of type: {type(a)}")

    def to_bool(self, obj: Proxy) -> bool:
        """``bool(proxy)``, in ``if`` and ``while``: unknown while tracing."""
        raise TraceError("symbolically traced variables cannot be used as inputs to control flow")

    def iter(self, obj: Proxy) -> Iterator:
        """``iter(proxy)``: unknown while tracing (unpacking a known count works)."""
        raise TraceError(
            "Proxy object cannot be iterated. This can be "
            "attempted when the Proxy is used in a loop or"
            " as a *args or **kwargs function argument. "
            "See the torch.fx docs on pytorch.org for a "
            "more detailed explanation of what types of "
            "control flow can be traced, and check out the"
            " Proxy docstring for help troubleshooting "
            "Proxy iteration errors"
        )

    def keys(self, obj: Proxy) -> Proxy:
        return Attribute(obj, "keys")()


def _no_nodes_error(arg: Argument) -> None:
    raise RuntimeError(f"Keys for dictionaries used as an argument cannot contain a Node. Got key: {arg}")


class GraphAppendingTracer(TracerBase):
    """A tracer that only appends to ``graph``: what a Proxy made from a bare Node uses."""

    def __init__(self, graph: Graph) -> None:
        super().__init__()
        self.graph = graph


class Proxy(Proxied):
    """A Node's value while a program runs on it symbolically (see the module docstring)."""

    def __init__(self, node: Node, tracer: TracerBase | None = None) -> None:
        if tracer is None:
            tracer = GraphAppendingTracer(node.graph)
        self.__dict__["tracer"] = tracer
        self.__dict__["node"] = node
        self.__dict__["_retains"] = True
        public_function_swap.retain()

    def __del__(self) -> None:
        if self.__dict__.get("_retains") and sys is not None and not sys.is_finalizing():
            public_function_swap.release()

    def __repr__(self) -> str:
        return f"Proxy({self.node.name})"

    def __getattr__(self, k: str) -> Attribute:
        if k.startswith("__") and k.endswith("__"):
            raise AttributeError(k)  # (copy, pickle and numpy probe dunders: not tensor attributes)
        return Attribute(self, k)

    def __getstate__(self) -> dict[str, Any]:
        return self.__dict__

    def __deepcopy__(self, memo: dict) -> Proxy:
        return Proxy(self.node, self.tracer)

    def __call__(self, *args: Any, **kwargs: Any) -> Proxy:
        return self.tracer.create_proxy("call_method", "__call__", (self, *args), kwargs)

    def __iter__(self) -> Iterator[Proxy]:
        frame = sys._getframe(1)
        insts = list(dis.get_instructions(frame.f_code))
        inst = insts[bisect_left(insts, frame.f_lasti, key=lambda x: x.offset)]
        if inst.opname == "UNPACK_SEQUENCE":
            return (self[i] for i in range(inst.argval))
        return self.tracer.iter(self)

    def __abs__(self) -> Proxy:
        return self.tracer.create_proxy("call_function", operator.abs, (self,), {})

    def __bool__(self) -> bool:
        return self.tracer.to_bool(self)

    def keys(self) -> Proxy:
        return self.tracer.keys(self)

    def __len__(self) -> int:
        raise RuntimeError(
            "'len' is not supported in symbolic tracing by default. If you want "
            "this call to be recorded, please call torch.fx.wrap('len') at "
            "module scope"
        )


class Attribute(Proxy):
    """``proxy.name``: a method call when called, else a ``getattr`` node made on first use."""

    def __init__(self, root: Proxy, attr: str) -> None:
        self.__dict__.update(root=root, attr=attr, tracer=root.tracer, _node=None, _retains=True)
        public_function_swap.retain()

    @property
    def node(self) -> Node:
        if self._node is None:
            self.__dict__["_node"] = self.tracer.create_proxy(
                "call_function", getattr, (self.root, self.attr), {}
            ).node
        return self._node

    def __call__(self, *args: Any, **kwargs: Any) -> Proxy:
        return self.tracer.create_proxy("call_method", self.attr, (self.root, *args), kwargs)


def _install_operators() -> None:
    """The operator dunders (``__add__``, ``__radd__``, ``__getitem__`` ...) on Proxy."""
    for method in MAGIC_METHODS:

        def impl(*args: Any, _method: str = method, **kwargs: Any) -> Proxy:
            return args[0].tracer.create_proxy("call_function", getattr(operator, _method), args, kwargs)

        impl.__name__ = method
        setattr(Proxy, f"__{method.strip('_')}__", impl)
    for method in REFLECTABLE_MAGIC_METHODS:

        def rimpl(self: Proxy, rhs: Any, _method: str = method) -> Proxy:
            return self.tracer.create_proxy("call_function", getattr(operator, _method), (rhs, self), {})

        rimpl.__name__ = f"__r{method.strip('_')}__"
        setattr(Proxy, rimpl.__name__, rimpl)


_install_operators()
