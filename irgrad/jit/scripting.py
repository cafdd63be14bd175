"""``torch.jit.script``, the objects it returns, and what follows it (freezing, TorchScript's
files): a module or function compiled with :func:`irgrad.compile`, whose calls follow the
Python code, so its results are the eager code's.  What only TorchScript has (its
archives, code and IR) raises ``NotImplementedError`` naming what irgrad offers instead.
"""

from __future__ import annotations

import abc
import copy
import enum
import functools
import inspect
import warnings
from collections.abc import Callable
from typing import Any

from ..compile import CompiledModule, compile
from ..compiler.explain import Explanation
from ..nn import Module
from .decorators import _EXPORT, _SWITCH, Attribute, _deprecated

_SAVE = (
    "irgrad.jit: {what} writes a TorchScript archive, which irgrad cannot make; save the weights "
    "with irgrad.save(model.state_dict(), path) and rebuild the model from its Python class"
)
_CODE = "irgrad.jit: {what} is TorchScript's, which irgrad does not make; explain() shows the graphs irgrad compiled"
_TORCHSCRIPT = {
    **dict.fromkeys(("save", "save_to_buffer", "_save_for_lite_interpreter"), _SAVE),
    **dict.fromkeys(("code", "code_with_constants", "graph", "inlined_graph"), _CODE),
}


def _optimize_has_no_effect(optimize: Any) -> None:
    if optimize is not None:
        warnings.warn(
            "`optimize` is deprecated and has no effect. Use `with torch.jit.optimized_execution()` instead",
            FutureWarning,
            stacklevel=3,
        )


def _refuse_torchscript(owner: object, name: str) -> None:
    """Raise for an attribute only TorchScript has (``save``, ``code``, ``graph`` ...)."""
    if name in _TORCHSCRIPT:
        raise NotImplementedError(_TORCHSCRIPT[name].format(what=f"{type(owner).__name__}.{name}"))


class ScriptFunction:
    """What :func:`script` and :func:`trace` return for a function: ``irgrad.compile`` of it.

    Calls give the function's results (and gradients); ``explain()`` shows the compiled
    graphs.  TorchScript's ``save``, ``code`` and ``graph`` raise ``NotImplementedError``.
    """

    def __init__(self, fn: Callable) -> None:
        functools.update_wrapper(self, fn)  # first: it copies fn's __dict__, which may hold a _compiled
        self._compiled = compile(fn)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._compiled(*args, **kwargs)

    def explain(self) -> Explanation:
        return self._compiled.explain()

    def __reduce__(self) -> tuple:
        # a copy (deepcopy of a module holding it) compiles its copy of the function afresh
        return ScriptFunction, (self.__wrapped__,)

    def __getattr__(self, name: str) -> Any:
        _refuse_torchscript(self, name)
        raise AttributeError(f"'ScriptFunction' object has no attribute {name!r}")

    def __repr__(self) -> str:
        return f"ScriptFunction({self.__wrapped__!r})"


class ScriptedModule(CompiledModule):
    """What :func:`script` and :func:`trace` return for a module: a :class:`CompiledModule`
    (attributes, parameters, ``state_dict``, ``train()``/``eval()`` are the module's) that
    also runs the methods :func:`trace_module` traced or ``@export`` marked compiled.

    ``isinstance(scripted, irgrad.jit.ScriptModule)`` is true, as in PyTorch.
    """

    def __init__(self, module: Module, compiled, methods: dict[str, ScriptFunction]) -> None:
        super().__init__(module, compiled)
        object.__setattr__(self, "_methods", methods)

    def __getattr__(self, name: str) -> Any:
        methods = self.__dict__.get("_methods", {})
        if name in methods:
            return methods[name]
        _refuse_torchscript(self, name)
        return super().__getattr__(name)

    def __reduce__(self) -> tuple:
        return ScriptedModule, (self._orig_mod, self._compiled, self._methods)


class ScriptModule(Module, metaclass=abc.ABCMeta):
    """``torch.jit.ScriptModule``: the base class of TorchScript's class API, and the type of
    what :func:`script` and :func:`trace` return (:class:`ScriptedModule` is registered).

    A subclass is an ``nn.Module`` whose ``@script_method`` methods run compiled; an
    :data:`Attribute` assigned to it stores its value, as PyTorch's does.
    """

    def __setattr__(self, name: str, value: Any) -> None:
        super().__setattr__(name, value.value if isinstance(value, Attribute) else value)

    def __getattr__(self, name: str) -> Any:
        _refuse_torchscript(self, name)
        return super().__getattr__(name)


ScriptModule.register(ScriptedModule)


def script_method(fn: Callable) -> Callable:
    """``@torch.jit.script_method`` in a :class:`ScriptModule` subclass: the method compiled
    (one ``irgrad.compile`` for the class; each call passes its instance, whose state the
    guards read)."""
    _deprecated("script_method", _SWITCH)
    return compile(fn)


def _prepared(obj: Any, memo: dict[int, Any]) -> Any:
    """``obj.__prepare_scriptable__()`` where defined, through a module's submodules, as
    PyTorch's script does before compiling (models use it to drop hooks, e.g. weight norm)."""
    if id(obj) in memo:
        return memo[id(obj)]
    prepared = obj.__prepare_scriptable__() if hasattr(obj, "__prepare_scriptable__") else obj
    memo[id(obj)] = prepared
    if isinstance(prepared, Module):
        for name, child in prepared._modules.items():
            if child is not None and not isinstance(child, ScriptModule):
                prepared._modules[name] = _prepared(child, memo)
    return prepared


def _scripted(module: Module | CompiledModule, methods: dict[str, ScriptFunction]) -> ScriptedModule:
    compiled = compile(module)
    return ScriptedModule(compiled._orig_mod, compiled._compiled, methods)


def script(
    obj: Any,
    optimize: Any = None,
    _frames_up: int = 0,
    _rcb: Any = None,
    example_inputs: Any = None,
) -> Any:
    """``torch.jit.script``: a module or function compiled with ``irgrad.compile``.

    A module becomes a :class:`ScriptedModule` (its ``@export`` methods compiled too), a
    function a :class:`ScriptFunction`; both are returned as they are when already
    scripted.  A class is returned itself, as PyTorch does (compiled code runs its methods
    as Python); a dict, a list or another object raises ``NotImplementedError``.
    ``example_inputs`` (PyTorch's type inference) is not needed and is ignored.
    """
    _deprecated("script", _SWITCH)
    _optimize_has_no_effect(optimize)
    if isinstance(obj, (ScriptModule, ScriptFunction)):
        return obj
    if isinstance(obj, CompiledModule):
        obj = obj._orig_mod
    obj = _prepared(obj, {})
    if isinstance(obj, Module):
        methods = {
            name: ScriptFunction(getattr(obj, name))
            for name, member in inspect.getmembers(type(obj), inspect.isfunction)
            if getattr(member, "_torchscript_modifier", None) == _EXPORT
        }
        return _scripted(obj, methods)
    if inspect.isclass(obj):
        if issubclass(obj, Module):
            raise RuntimeError(
                f"Type '{obj}' cannot be compiled since it inherits from nn.Module, pass an instance instead"
            )
        if not issubclass(obj, enum.Enum) and len(obj.__mro__) > 2:
            raise RuntimeError(
                "TorchScript classes does not support inheritance yet. Please directly inherit from 'object'."
            )
        return obj
    if inspect.isfunction(obj) or inspect.ismethod(obj):
        return ScriptFunction(obj)
    raise NotImplementedError(
        f"irgrad.jit.script: cannot script a {type(obj).__name__} object (TorchScript would make a "
        "ScriptDict, ScriptList or script class of it); irgrad scripts nn.Modules, functions and "
        "classes, and compiled code uses other objects as Python"
    )


def freeze(mod: Any, preserved_attrs: list[str] | None = None, optimize_numerics: bool = True) -> Any:
    """``torch.jit.freeze``: a compiled copy of the scripted module in evaluation mode, its
    parameters no longer requiring grad, so later changes to the original do not reach it.

    PyTorch inlines the parameters into its graph and keeps only ``preserved_attrs``;
    irgrad's copy keeps every attribute and parameter (``parameters()`` lists them).
    """
    _deprecated("freeze")
    if not isinstance(mod, ScriptModule):
        raise RuntimeError(
            "Freezing expects a ScriptModule as input. "
            "Please use torch.jit.script or torch.jit.trace to script your 'nn.Module'."
        )
    if mod.training:
        raise RuntimeError(
            "Freezing is currently only implemented for modules in eval mode. "
            "Please call .eval() on your module before freezing."
        )
    return copy.deepcopy(mod).requires_grad_(False)


def optimize_for_inference(mod: Any, other_methods: list[str] | None = None) -> Any:
    """``torch.jit.optimize_for_inference``: :func:`freeze` of ``mod.eval()``, as in PyTorch
    (irgrad's compiler optimizes every graph already)."""
    _deprecated("optimize_for_inference")
    if not isinstance(mod, ScriptModule):
        raise RuntimeError(
            "optimize_for_inference expects a ScriptModule as input. "
            "Please use torch.jit.script or torch.jit.trace to script your 'nn.Module'."
        )
    return freeze(mod.eval(), preserved_attrs=other_methods)


def save(m: Any, f: Any, _extra_files: Any = None) -> None:
    """``torch.jit.save``: raises ``NotImplementedError``, irgrad writes no TorchScript."""
    raise NotImplementedError(_SAVE.format(what="irgrad.jit.save"))


def load(f: Any, map_location: Any = None, _extra_files: Any = None) -> None:
    """``torch.jit.load``: raises ``NotImplementedError``, irgrad runs no TorchScript."""
    raise NotImplementedError(
        "irgrad.jit.load: a TorchScript archive holds TorchScript code, which irgrad cannot run; "
        "build the model from its Python class and load its weights with "
        "model.load_state_dict(irgrad.load(path)) (irgrad.load reads torch.save checkpoints)"
    )


__all__ = [
    "ScriptFunction",
    "ScriptModule",
    "ScriptedModule",
    "freeze",
    "load",
    "optimize_for_inference",
    "save",
    "script",
    "script_method",
]
