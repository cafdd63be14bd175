"""``Tracer`` and ``symbolic_trace``: a module's forward run on Proxies, as torch.fx's.

The tracer makes a placeholder a parameter of the root's ``forward`` (or function) and
calls it with Proxies.  While it runs, ``Module.__call__`` is the tracer's
``call_module`` (a leaf module, irgrad.nn's by default, becomes one ``call_module``
node; any other is traced through) and ``Module.__getattr__`` turns parameters and
buffers into ``get_attr`` nodes.  Functions registered with ``fx.wrap``, ``math``'s and
irgrad's functions the traced code imported by name are patched into the code's
globals for the trace (:class:`.interception.Patcher`).  Tensors the code holds that
are no parameter or buffer become ``_tensor_constant<N>`` attributes of the root.
"""

from __future__ import annotations

import builtins
import inspect
import math
import types
from collections.abc import Callable
from itertools import count
from typing import Any

from ..nn.modules.container import Sequential
from ..nn.modules.module import Module
from ..nn.parameter import Parameter
from ..tensor import Tensor
from ..torch_namespace.settings import _assert
from ._symbolic_trace import wrapped_fns_to_patch
from .graph import Graph
from .graph_module import GraphModule
from .interception import Intercepting, Patcher, public_function_swap, wrapped_function
from .names import public_functions
from .node import Argument, Node
from .proxy import Proxy, TracerBase

_HAS_VARSTUFF = inspect.CO_VARARGS | inspect.CO_VARKEYWORDS


class PHBase:
    """A placeholder standing in ``concrete_args`` for a value not specialized on."""

    def __repr__(self) -> str:
        return "PH"


PH = PHBase()


def _assert_is_none(value: Any, msg: str) -> None:
    assert value is None, msg


def _patch_function(fn: types.FunctionType, nargs: int) -> types.FunctionType:
    """``fn`` with ``*args``/``**kwargs`` taken as plain positional parameters, so the
    tracer can pass one Proxy for each."""
    co = fn.__code__
    new_code = co.replace(
        co_flags=co.co_flags & ~_HAS_VARSTUFF, co_argcount=nargs, co_posonlyargcount=0, co_kwonlyargcount=0
    )
    return types.FunctionType(new_code, fn.__globals__, fn.__name__, fn.__defaults__, fn.__closure__)


class Tracer(TracerBase):
    """Traces a module or function into a Graph; subclass it to change what is a leaf
    (``is_leaf_module``), what a module call records (``call_module``) or what a node is
    (``create_node``/``create_proxy``)."""

    def __init__(
        self,
        autowrap_modules: tuple[types.ModuleType, ...] = (math,),
        autowrap_functions: tuple[Callable, ...] = (),
        param_shapes_constant: bool = False,
    ) -> None:
        super().__init__()
        self._autowrap_function_ids = {
            id(value)
            for module in autowrap_modules
            for name, value in vars(module).items()
            if callable(value) and not name.startswith("_")
        }
        self._autowrap_function_ids.update(id(f) for f in autowrap_functions)
        self._autowrap_search = list(autowrap_modules)
        self.param_shapes_constant = param_shapes_constant
        self.submodule_paths: dict[Module, str] | None = None
        self.tensor_attrs: dict[Tensor, str] = {}
        self.proxy_buffer_attributes = True

    # --- hooks a subclass overrides ---------------------------------------------------
    def is_leaf_module(self, m: Module, module_qualified_name: str) -> bool:
        """Whether a call of ``m`` is one node: irgrad.nn's modules but Sequential."""
        return type(m).__module__.startswith("irgrad.nn") and not isinstance(m, Sequential)

    def path_of_module(self, mod: Module) -> str:
        """The qualified name of ``mod`` in the root (``layer1.0.conv1``)."""
        if self.submodule_paths:
            path = self.submodule_paths.get(mod)
            if path is None:
                raise NameError("module is not installed as a submodule")
            return path
        for n, p in self.root.named_modules():
            if mod is p:
                return n
        raise NameError("module is not installed as a submodule")

    def call_module(
        self, m: Module, forward: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        """A ``call_module`` node for a leaf module, else its forward traced through."""
        module_qualified_name = self.path_of_module(m)
        if not self.is_leaf_module(m, module_qualified_name):
            return forward(*args, **kwargs)
        return self.create_proxy("call_module", module_qualified_name, args, kwargs)

    def getattr(self, attr: str, attr_val: Any, parameter_proxy_cache: dict[str, Proxy]) -> Any:
        """A module attribute read while tracing: one ``get_attr`` Proxy for a parameter or
        buffer of the root (made once), anything else as it is."""
        if isinstance(attr_val, Parameter):
            collection = self.root.named_parameters()
        elif self.proxy_buffer_attributes and isinstance(attr_val, Tensor):
            collection = self.root.named_buffers()
        else:
            return attr_val
        for n, p in collection:
            if attr_val is p:
                if n not in parameter_proxy_cache:
                    parameter_proxy_cache[n] = self.create_proxy("get_attr", n, (), {})
                return parameter_proxy_cache[n]
        return attr_val

    def create_arg(self, a: Any) -> Argument:
        """As TracerBase's, and a tensor becomes a ``get_attr`` node: of its parameter or
        buffer in the root, else of a new ``_tensor_constant<N>`` attribute."""
        if isinstance(a, Parameter):
            for n, p in self.root.named_parameters():
                if a is p:
                    return self.create_node("get_attr", n, (), {})
            raise NameError("parameter is not a member of this module")
        if isinstance(a, Tensor):
            for n_, p_ in self.root.named_buffers():
                if a is p_:
                    return self.create_node("get_attr", n_, (), {})
            qualname = self.tensor_attrs.get(a)
            if not qualname:
                qualname = self.get_fresh_qualname("_tensor_constant")
                self.tensor_attrs[a] = qualname
                setattr(self.root, qualname, a)
            return self.create_node("get_attr", qualname, (), {})
        if isinstance(a, Module):
            for n_, p_ in self.root.named_modules():
                if a is p_:
                    return self.create_node("get_attr", n_, (), {})
        if isinstance(a, tuple) and hasattr(a, "_fields"):
            return self.create_node("call_function", a.__class__, tuple(self.create_arg(e) for e in a), {})
        return super().create_arg(a)

    def get_fresh_qualname(self, prefix: str) -> str:
        """``prefix<N>`` for the first N that is no attribute of the root."""
        return next(f"{prefix}{i}" for i in count() if not hasattr(self.root, f"{prefix}{i}"))

    # --- tracing ----------------------------------------------------------------------
    def create_args_for_root(
        self, root_fn: Callable, is_module: bool, concrete_args: dict[str, Any] | tuple | None = None
    ) -> tuple[Callable, list[Any]]:
        """The placeholders (or concrete values) ``root_fn`` is called with."""
        fn_for_analysis = inspect.unwrap(root_fn)
        co = fn_for_analysis.__code__
        total_args = co.co_argcount + co.co_kwonlyargcount
        names_iter = iter(co.co_varnames)
        args: list[Any] = []
        skip = 0
        if is_module:
            if total_args == 0:
                raise RuntimeError("``self`` argument cannot be part of *args expansion!")
            skip = 1
            next(names_iter)
            args.append(self.root)
        sig = inspect.signature(fn_for_analysis)
        arg_names = [next(names_iter) for _ in range(skip, total_args)]
        if isinstance(concrete_args, tuple):
            if len(arg_names) != len(concrete_args):
                raise RuntimeError(
                    f"Tracing expected {len(arg_names)} arguments but got {len(concrete_args)} concrete arguments"
                )
            concrete_args = dict(zip(arg_names, concrete_args))
        args.extend(self._proxy_placeholder(name, concrete_args, sig, fn_for_analysis) for name in arg_names)
        if co.co_kwonlyargcount > 0 or co.co_flags & _HAS_VARSTUFF:
            if co.co_flags & inspect.CO_VARARGS:
                args.append(self._proxy_placeholder("*" + next(names_iter), None, sig, fn_for_analysis))
            if co.co_flags & inspect.CO_VARKEYWORDS:
                args.append(self._proxy_placeholder("**" + next(names_iter), None, sig, fn_for_analysis))
            root_fn = _patch_function(root_fn, len(args))
        return root_fn, args

    def _proxy_placeholder(
        self, name: str, concrete_args: dict | None, sig: inspect.Signature, fn: Callable
    ) -> Any:
        if concrete_args is not None and name in concrete_args:
            x = concrete_args[name]
            param = sig.parameters[name]
            default = () if param.default is inspect.Parameter.empty else (param.default,)
            out = self.create_proxy("placeholder", f"{name}_1", default, {})
            if isinstance(x, PHBase):
                return out
            if type(x) in (bool, int, float, str, complex):
                msg = f"{name} has been specialized to have value {x} but got another value"
                self.create_proxy("call_function", _assert, (out == x, msg), {})
            elif x is None:
                msg = f"{name} has been specialized to have value None but got another value"
                self.create_proxy("call_function", _assert_is_none, (out, msg), {})
            return x
        default = ()
        if not name.startswith("*"):
            param = sig.parameters[name]
            default = () if param.default is inspect.Parameter.empty else (param.default,)
        return self.create_proxy(
            "placeholder", name, default, {}, type_expr=fn.__annotations__.get(name, None)
        )

    def trace(self, root: Module | Callable[..., Any], concrete_args: dict[str, Any] | None = None) -> Graph:
        """The Graph of ``root`` (a module's forward, or a function) run on Proxies."""
        if isinstance(root, Module):
            self.root = root
            fn = type(root).forward
            self.submodule_paths = {mod: name for name, mod in root.named_modules()}
        else:
            self.root = Module()
            fn = root
        self.graph = Graph(tracer_cls=type(self))
        self.tensor_attrs = {}
        for prefix, m in self.root.named_modules():
            for k, v in m.__dict__.items():
                if isinstance(v, Tensor):
                    self.tensor_attrs[v] = f"{prefix}.{k}" if prefix else k
        fn_globals = fn.__globals__
        parameter_proxy_cache: dict[str, Proxy] = {}
        orig_getattr, orig_call = Module.__getattr__, Module.__call__

        def module_getattr_wrapper(mod: Module, attr: str) -> Any:
            return self.getattr(attr, orig_getattr(mod, attr), parameter_proxy_cache)

        def module_call_wrapper(mod: Module, *args: Any, **kwargs: Any) -> Any:
            def forward(*args: Any, **kwargs: Any) -> Any:
                return orig_call(mod, *args, **kwargs)

            self._autowrap(patcher, getattr(getattr(mod, "forward", mod), "__globals__", {}))
            return self.call_module(mod, forward, args, kwargs)

        public_function_swap.retain()  # (the whole trace, also before the first Proxy)
        try:
            with Patcher() as patcher:
                patcher.patch_method(Module, "__getattr__", module_getattr_wrapper)
                patcher.patch_method(Module, "__call__", module_call_wrapper)
                for (_, name), frame_dict in list(wrapped_fns_to_patch.items()):
                    orig = frame_dict[name] if name in frame_dict else getattr(builtins, name)
                    patcher.patch(frame_dict, name, wrapped_function(orig))
                self._autowrap(patcher, fn_globals)
                for module in self._autowrap_search:
                    patcher.autowrap(vars(module), self._autowrap_function_ids)
                fn, args = self.create_args_for_root(fn, isinstance(root, Module), concrete_args)
                result = fn(*args)
                self.create_node(
                    "output",
                    "output",
                    (self.create_arg(result),),
                    {},
                    type_expr=fn.__annotations__.get("return", None),
                )
        finally:
            public_function_swap.release()
        self.submodule_paths = None
        return self.graph

    def _autowrap(self, patcher: Patcher, frame_dict: dict[str, Any]) -> None:
        """Patch ``frame_dict``'s autowrapped functions (``math``'s ...) and the irgrad
        functions it imported by name, for this trace."""
        patcher.autowrap(frame_dict, self._autowrap_function_ids)
        index = public_functions()
        for name, value in list(frame_dict.items()):
            known = index.get(id(value))
            if known is not None and known[0] is value:
                patcher.patch(frame_dict, name, Intercepting(value))


def symbolic_trace(
    root: Module | Callable[..., Any], concrete_args: dict[str, Any] | None = None
) -> GraphModule:
    """``root`` (a module or function) traced into a GraphModule named after it."""
    tracer = Tracer()
    graph = tracer.trace(root, concrete_args)
    name = root.__class__.__name__ if isinstance(root, Module) else root.__name__
    return GraphModule(tracer.root, graph, name)


__all__ = ["PH", "PHBase", "Tracer", "symbolic_trace", "Node"]
