"""``torch.jit.trace`` and ``trace_module``: the module or function compiled with
:func:`irgrad.compile` and run once on the example inputs, as PyTorch's trace runs them.
"""

from __future__ import annotations

import warnings
from typing import Any

from ..compile import CompiledModule
from ..nn import Module
from ..tensor import Tensor
from .decorators import _SWITCH, _deprecated
from .scripting import ScriptedModule, ScriptFunction, ScriptModule, _optimize_has_no_effect, _scripted


class TracerWarning(Warning):
    """``torch.jit.TracerWarning``, for scripts' warning filters: irgrad's trace issues none."""


def _as_args(example_inputs: Any) -> tuple:
    """PyTorch's example inputs as positional arguments: a tensor or a dict is the one argument."""
    if isinstance(example_inputs, (Tensor, dict)):
        return (example_inputs,)
    return tuple(example_inputs)


def trace(
    func: Any,
    example_inputs: Any = None,
    optimize: Any = None,
    check_trace: bool = True,
    check_inputs: Any = None,
    check_tolerance: float = 1e-5,
    strict: bool = True,
    _force_outplace: bool = False,
    _module_class: Any = None,
    _compilation_unit: Any = None,
    example_kwarg_inputs: dict | None = None,
    _store_inputs: bool = True,
) -> Any:
    """``torch.jit.trace``: ``func`` compiled with ``irgrad.compile`` and run once on the
    example inputs, as PyTorch runs them to record its trace (so errors surface here, and a
    module in training mode updates its BatchNorm statistics once).

    A module (or its bound ``forward``) goes to :func:`trace_module`; a function becomes a
    :class:`ScriptFunction`.  Unlike PyTorch's trace, the result follows the Python code at
    every call (other branches, ``eval()``), and returns dicts and lists whatever
    ``strict`` says.  ``check_trace``, ``check_inputs`` and ``check_tolerance`` are
    accepted: irgrad checks each new graph against eager execution itself.
    """
    _deprecated("trace", _SWITCH)
    _optimize_has_no_effect(optimize)
    if isinstance(func, ScriptModule):
        warnings.warn(
            "The input to trace is already a ScriptModule, tracing it is a no-op. Returning the object as is.",
            stacklevel=2,
        )
        return func
    module = func.__self__ if isinstance(getattr(func, "__self__", None), Module) else None
    if isinstance(func, (Module, CompiledModule)) or (module is not None and func.__name__ == "forward"):
        if example_inputs is None and not isinstance(example_kwarg_inputs, dict):
            raise RuntimeError("example_kwarg_inputs should be a dict")
        return trace_module(
            func if module is None else module,
            {"forward": example_kwarg_inputs if example_inputs is None else example_inputs},
            example_inputs_is_kwarg=isinstance(example_kwarg_inputs, dict),
        )
    if module is not None:
        raise AttributeError(
            "trace doesn't support compiling individual module's functions.\nPlease use trace_module"
        )
    traced = ScriptFunction(func)
    if isinstance(example_kwarg_inputs, dict):
        traced(**example_kwarg_inputs)
    else:
        traced(*_as_args(example_inputs))
    return traced


def trace_module(
    mod: Module,
    inputs: dict[str, Any],
    optimize: Any = None,
    check_trace: bool = True,
    check_inputs: Any = None,
    check_tolerance: float = 1e-5,
    strict: bool = True,
    _force_outplace: bool = False,
    _module_class: Any = None,
    _compilation_unit: Any = None,
    example_inputs_is_kwarg: bool = False,
    _store_inputs: bool = True,
) -> ScriptedModule:
    """``torch.jit.trace_module``: the module compiled, its named methods too, each run once
    on its example inputs (a tuple, one tensor, or keyword arguments when
    ``example_inputs_is_kwarg``).  See :func:`trace`."""
    _deprecated("trace_method", _SWITCH)
    _optimize_has_no_effect(optimize)
    if not isinstance(mod, (Module, CompiledModule)):
        raise AttributeError("expected torch.nn.Module as the first argument")
    if not isinstance(inputs, dict):
        raise AttributeError("expected a dictionary of (method_name, input) pairs")
    module = mod._orig_mod if isinstance(mod, CompiledModule) else mod
    traced = _scripted(module, {})
    for name, example in inputs.items():
        if name != "forward":
            traced._methods[name] = ScriptFunction(getattr(module, name))
        method = getattr(traced, name)
        if example_inputs_is_kwarg and isinstance(example, dict):
            method(**example)
        else:
            method(*_as_args(example))
    return traced


__all__ = ["TracerWarning", "trace", "trace_module"]
