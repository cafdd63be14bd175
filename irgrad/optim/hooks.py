"""Optimizer hooks, as PyTorch's: around ``step()`` (per optimizer and global) and around
``state_dict()``/``load_state_dict()``.

Every optimizer class's ``step`` is wrapped once, when the class is defined
(:func:`with_step_hooks`, applied by ``Optimizer.__init_subclass__``): step pre-hooks run
before it (the global ones first, then the optimizer's own), each called as
``hook(optimizer, args, kwargs)`` where ``args`` starts with the optimizer, and may return
new ``(args, kwargs)``; post-hooks run after it (the optimizer's own first, then the
global ones), in PyTorch's order.  A ``step`` that calls its base class's ``step``
(``super().step()``) runs the hooks once, around the outer call.

A step hook is Python run for its side effects, which a compiled graph cannot redo: a
step with hooks is a graph break when traced (as a post-accumulate-grad hook is), so a
compiled training step runs eagerly, hooks included, on every call.  The global
registries are also an attribute of every optimizer (``_global_step_hooks``), because a
compiled call's guard walks the optimizer's attributes: a global hook registered after a
graph was compiled then fails the guard, and the retrace meets the hook.
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from .. import _tracing
from ..nn.modules.handles import RemovableHandle, add_hook

_global_optimizer_pre_hooks: OrderedDict[int, Callable] = OrderedDict()
_global_optimizer_post_hooks: OrderedDict[int, Callable] = OrderedDict()
GLOBAL_STEP_HOOKS = (_global_optimizer_pre_hooks, _global_optimizer_post_hooks)

HOOK_STORES = (
    "_optimizer_step_pre_hooks",
    "_optimizer_step_post_hooks",
    "_optimizer_state_dict_pre_hooks",
    "_optimizer_state_dict_post_hooks",
    "_optimizer_load_state_dict_pre_hooks",
    "_optimizer_load_state_dict_post_hooks",
)


def register_optimizer_step_pre_hook(hook: Callable) -> RemovableHandle:
    """Run ``hook(optimizer, args, kwargs)`` before every optimizer's ``step``; it may
    return ``(new_args, new_kwargs)``."""
    return add_hook(_global_optimizer_pre_hooks, hook)


def register_optimizer_step_post_hook(hook: Callable) -> RemovableHandle:
    """Run ``hook(optimizer, args, kwargs)`` after every optimizer's ``step``."""
    return add_hook(_global_optimizer_post_hooks, hook)


def with_step_hooks(step: Callable) -> Callable:
    """``step`` with the step hooks around it (see the module doc)."""
    if getattr(step, "_with_step_hooks", False):
        return step

    @functools.wraps(step)
    def hooked_step(*args: Any, **kwargs: Any) -> Any:
        optimizer = args[0]
        if type(optimizer).step is not hooked_step:  # super().step(): the outer call runs the hooks
            return step(*args, **kwargs)
        own_pre, own_post = optimizer._optimizer_step_pre_hooks, optimizer._optimizer_step_post_hooks
        if not (own_pre or own_post or _global_optimizer_pre_hooks or _global_optimizer_post_hooks):
            return step(*args, **kwargs)
        pre = [*_global_optimizer_pre_hooks.values(), *own_pre.values()]
        post = [*own_post.values(), *_global_optimizer_post_hooks.values()]
        _tracing.untraceable(
            f"{type(optimizer).__name__}.step() with step hooks (Python run for its side effects)"
        )
        for hook in pre:
            result = hook(optimizer, args, kwargs)
            if result is None:
                continue
            if not (isinstance(result, tuple) and len(result) == 2):
                raise RuntimeError(
                    f"{type(optimizer).__name__}.step: a step pre-hook must return None or a tuple of "
                    f"(new_args, new_kwargs), but got {result}."
                )
            args, kwargs = result
        out = step(*args, **kwargs)
        for hook in post:
            hook(optimizer, args, kwargs)
        return out

    hooked_step._with_step_hooks = True
    return hooked_step
