"""Calling a module with its hooks, and the global module hooks (PyTorch's
``torch.nn.modules.module.register_module_forward_hook`` and the like, and the
registration hooks ``register_module_parameter_registration_hook`` and its kin, which
see every parameter, buffer and submodule as a module registers it).

A global hook runs for every module's call, before the module's own hooks of its kind,
as in PyTorch.  A compiled call runs eagerly while a global hook is registered (see
:data:`registered`, which a call tests): its Python is not part of a graph, nor guarded by one.
"""

from __future__ import annotations

import itertools
import warnings
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from ...recording.grad_mode import STATE
from .backward_hooks import BackwardHooks
from .handles import RemovableHandle, add_hook

_forward_pre_hooks: OrderedDict = OrderedDict()
_forward_hooks: OrderedDict = OrderedDict()
_forward_hooks_with_kwargs: set = set()
_forward_hooks_always_called: set = set()
_backward_hooks: OrderedDict = OrderedDict()
_backward_pre_hooks: OrderedDict = OrderedDict()
registered: dict = {}  # every global hook, of any kind (one test for a module's or a compiled call)
# registration hooks: they run when a module registers a member, not when it is called
parameter_registration_hooks: OrderedDict = OrderedDict()
buffer_registration_hooks: OrderedDict = OrderedDict()
module_registration_hooks: OrderedDict = OrderedDict()


def _register(store: OrderedDict, hook: Callable, *flags: set) -> RemovableHandle:
    handle = add_hook(store, hook, False, registered, *flags)
    registered[handle.id] = hook
    return handle


def register_module_forward_pre_hook(hook: Callable) -> RemovableHandle:
    """``hook(module, args)`` before every module's ``forward`` (it may return new args)."""
    return _register(_forward_pre_hooks, hook)


def register_module_forward_hook(
    hook: Callable, *, with_kwargs: bool = False, always_call: bool = False
) -> RemovableHandle:
    """``hook(module, args, output)`` after every module's ``forward`` (it may return a new output)."""
    handle = _register(_forward_hooks, hook, _forward_hooks_with_kwargs, _forward_hooks_always_called)
    if with_kwargs:
        _forward_hooks_with_kwargs.add(handle.id)
    if always_call:
        _forward_hooks_always_called.add(handle.id)
    return handle


def register_module_full_backward_hook(hook: Callable) -> RemovableHandle:
    """``hook(module, grad_input, grad_output)`` for every module (see :mod:`.backward_hooks`)."""
    return _register(_backward_hooks, hook)


def register_module_full_backward_pre_hook(hook: Callable) -> RemovableHandle:
    """``hook(module, grad_output)`` for every module (see :mod:`.backward_hooks`)."""
    return _register(_backward_pre_hooks, hook)


def register_module_parameter_registration_hook(hook: Callable) -> RemovableHandle:
    """``hook(module, name, param)`` each time any module registers a parameter (not
    ``None``); a result other than None is registered instead."""
    return add_hook(parameter_registration_hooks, hook)


def register_module_buffer_registration_hook(hook: Callable) -> RemovableHandle:
    """``hook(module, name, buffer)`` each time any module registers or reassigns a buffer
    (``None`` included); a result other than None is registered instead."""
    return add_hook(buffer_registration_hooks, hook)


def register_module_module_registration_hook(hook: Callable) -> RemovableHandle:
    """``hook(module, name, submodule)`` each time any module registers or reassigns a
    submodule (``None`` included); a result other than None is registered instead."""
    return add_hook(module_registration_hooks, hook)


def run_registration_hooks(hooks: OrderedDict, module, name: str, value: Any) -> Any:
    """``value`` as the registration ``hooks`` leave it (each may return a replacement)."""
    for hook in hooks.values():
        output = hook(module, name, value)
        if output is not None:
            value = output
    return value


def backward_hooks(module) -> tuple[list, list]:
    """(full backward hooks, full backward pre-hooks) of ``module``: the global ones first."""
    return (
        [*_backward_hooks.values(), *module._backward_hooks.values()],
        [*_backward_pre_hooks.values(), *module._backward_pre_hooks.values()],
    )


def call_with_hooks(module, args: tuple, kwargs: dict) -> Any:
    """``module.forward(*args, **kwargs)`` with the forward pre-hooks, forward hooks and
    full backward hooks, global ones first, as PyTorch's ``Module._call_impl``."""
    pre_hooks = itertools.chain(_forward_pre_hooks.items(), module._forward_pre_hooks.items())
    for hook_id, hook in list(pre_hooks):
        if hook_id in module._forward_pre_hooks_with_kwargs:
            res = hook(module, args, kwargs)
            if res is not None:
                if not (isinstance(res, tuple) and len(res) == 2):
                    raise RuntimeError(
                        f"forward pre-hook must return None or a tuple of (new_args, new_kwargs), but got {res}."
                    )
                args, kwargs = res
        else:
            res = hook(module, args)
            if res is not None:
                args = res if isinstance(res, tuple) else (res,)
    backward = None
    full, pre = backward_hooks(module)
    if (full or pre) and STATE.enabled:
        backward = BackwardHooks(module, full, pre)
        args = backward.setup_inputs(args)
    hooks = list(itertools.chain(_forward_hooks.items(), module._forward_hooks.items()))
    always = _forward_hooks_always_called | module._forward_hooks_always_called
    with_kwargs = _forward_hooks_with_kwargs | module._forward_hooks_with_kwargs
    try:
        result = module.forward(*args, **kwargs)
    except Exception:
        # hooks registered with always_call=True still run (their errors are only warned about)
        for hook_id, hook in hooks:
            if hook_id in always:
                try:
                    hook(module, args, None)
                except Exception as exc:
                    warnings.warn(
                        "module forward hook with ``always_call=True`` raised an exception that was "
                        f"silenced as another error was raised in forward: {exc}",
                        stacklevel=2,
                    )
        raise
    for hook_id, hook in hooks:
        res = hook(module, args, kwargs, result) if hook_id in with_kwargs else hook(module, args, result)
        if res is not None:
            result = res
    return result if backward is None else backward.setup_outputs(result)
