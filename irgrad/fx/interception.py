"""How irgrad's functions see a Proxy: irgrad's answer to ``__torch_function__``.

PyTorch's functions hand a Proxy argument to ``Proxy.__torch_function__``, which
records the call.  irgrad's have no such hook, so while any Proxy is alive, every
function of irgrad's public namespaces (``irgrad.*``, ``irgrad.nn.functional.*``,
``irgrad.linalg.*``, ``irgrad.special.*``) is swapped, in those namespaces and in the
globals of irgrad's own modules, for an :class:`Intercepting` wrapper: a call with a
Proxy among its arguments records a ``call_function`` node of the original function,
any other call runs the original.  The swap is undone when the last Proxy dies, so
eager code pays nothing once tracing and graph editing are over.  A wrapper equals and
hashes as its function, so ``node.target == irgrad.add`` holds while it is installed.

PyTorch writes most of ``torch.nn.functional`` in Python and records such a function's
call with its first argument positional and every other parameter by keyword, defaults
included (``relu(x, inplace=False)``); :func:`torch_style_arguments` does the same for
irgrad's, except those PyTorch binds from C++, which it records as called.

:class:`Patcher` is the tracer's: globals patched for the length of one trace (the
functions ``fx.wrap`` registered, ``math``'s, irgrad's functions the traced code
imported by name), and the ``Module`` methods the tracer overrides.
"""

from __future__ import annotations

import functools
import inspect
import sys
import threading
from collections.abc import Callable
from typing import Any

from .._keywords import PARSED_FUNCTIONAL
from .names import public_functions, public_path


class Proxied:
    """The base of Proxy: a value the interception records calls on (``tracer`` says where)."""

    tracer: Any


def find_proxy(*objects: Any) -> Proxied | None:
    """The first Proxy inside ``objects`` (tuples, lists, dicts and slices searched), or None."""
    stack = list(objects)
    while stack:
        x = stack.pop(0)
        if isinstance(x, Proxied):
            return x
        if isinstance(x, (tuple, list)):
            stack[:0] = x
        elif isinstance(x, dict):
            stack[:0] = x.values()
        elif isinstance(x, slice):
            stack[:0] = (x.start, x.stop, x.step)
    return None


@functools.cache
def _signature(fn: Callable) -> inspect.Signature | None:
    try:
        return inspect.signature(fn)
    except (TypeError, ValueError):
        return None


def torch_style_arguments(fn: Callable, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
    """The arguments a call of ``fn`` is recorded with, as PyTorch records its function's."""
    path = public_path(fn) or ""
    if not path.startswith("irgrad.nn.functional.") or path.rpartition(".")[2] in PARSED_FUNCTIONAL:
        return args, kwargs
    sig = _signature(fn)
    if sig is None:
        return args, kwargs
    try:
        bound = sig.bind(*args, **kwargs)
    except TypeError:
        return args, kwargs
    bound.apply_defaults()
    params = list(sig.parameters.values())
    named = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    variadic = [p for p in params if p.kind not in named]
    if (
        not params
        or params[0] in variadic
        or any(bound.arguments.get(p.name) not in ((), {}) for p in variadic)
    ):
        return args, kwargs
    first, *rest = params
    return (bound.arguments[first.name],), {p.name: bound.arguments[p.name] for p in rest if p.kind in named}


class Intercepting:
    """A function as the namespaces hold it while Proxies live (see the module docstring)."""

    def __init__(self, fn: Callable) -> None:
        functools.update_wrapper(self, fn)
        self.fn = fn

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        proxy = find_proxy(args, kwargs)
        if proxy is None:
            return self.fn(*args, **kwargs)
        args, kwargs = torch_style_arguments(self.fn, args, kwargs)
        return proxy.tracer.create_proxy("call_function", self.fn, args, kwargs)

    def __eq__(self, other: object) -> bool:
        return self.fn == (other.fn if isinstance(other, Intercepting) else other)

    def __hash__(self) -> int:
        return hash(self.fn)

    def __repr__(self) -> str:
        return repr(self.fn)


def unwrap(target: Any) -> Any:
    """The function an :class:`Intercepting` wrapper stands for (anything else as is)."""
    return target.fn if isinstance(target, Intercepting) else target


class _PublicFunctionSwap:
    """Installs the wrappers while Proxies live: a count of live Proxies, and the globals
    to patch (recomputed when irgrad imported more modules)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.live = 0
        self.wrappers: dict[int, Intercepting] = {}
        self.sites: list[tuple[dict, str, Callable]] = []
        self.modules_seen = -1

    def _find_sites(self) -> None:
        modules = [
            m for name, m in list(sys.modules.items()) if name.split(".")[0] == "irgrad" and m is not None
        ]
        if len(modules) == self.modules_seen:
            return
        index = public_functions()
        self.sites = []
        for module in modules:
            if module.__name__.startswith("irgrad.fx"):
                continue
            for name, value in list(vars(module).items()):
                known = index.get(id(value))
                if known is not None and known[0] is value:
                    self.sites.append((vars(module), name, value))
        self.modules_seen = len(modules)

    def retain(self) -> None:
        with self.lock:
            self.live += 1
            if self.live > 1:
                return
            self._find_sites()
            for globals_, name, fn in self.sites:
                wrapper = self.wrappers.get(id(fn))
                if wrapper is None:
                    wrapper = self.wrappers[id(fn)] = Intercepting(fn)
                globals_[name] = wrapper

    def release(self) -> None:
        with self.lock:
            self.live -= 1
            if self.live > 0:
                return
            for globals_, name, fn in self.sites:
                if globals_.get(name) is self.wrappers.get(id(fn)):
                    globals_[name] = fn


public_function_swap = _PublicFunctionSwap()


def wrapped_function(orig_fn: Callable) -> Callable:
    """``orig_fn`` recording a ``call_function`` node (marked as fx.wrap's) when a Proxy
    reaches it, running as itself otherwise."""

    @functools.wraps(orig_fn)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        proxy = find_proxy(args, kwargs)
        if proxy is not None:
            return_proxy = proxy.tracer.create_proxy("call_function", unwrap(orig_fn), args, kwargs)
            return_proxy.node.meta["is_wrapped"] = True
            return return_proxy
        return orig_fn(*args, **kwargs)

    return wrapped


class Patcher:
    """Attributes and globals replaced for one trace and restored after it, in reverse."""

    def __init__(self) -> None:
        self.undo: list[Callable[[], None]] = []
        self.visited: set[int] = set()

    def patch(self, frame_dict: dict[str, Any], name: str, new_fn: Callable) -> None:
        if name in frame_dict:
            orig = frame_dict[name]
            self.undo.append(lambda: frame_dict.__setitem__(name, orig))
        else:
            self.undo.append(lambda: frame_dict.pop(name, None))
        frame_dict[name] = new_fn

    def patch_method(self, cls: type, name: str, new_fn: Callable) -> None:
        orig = getattr(cls, name)
        self.undo.append(lambda: setattr(cls, name, orig))
        setattr(cls, name, new_fn)

    def visit_once(self, thing: object) -> bool:
        """Whether ``thing`` is seen for the first time."""
        if id(thing) in self.visited:
            return False
        self.visited.add(id(thing))
        return True

    def autowrap(self, frame_dict: dict[str, Any], function_ids: set[int]) -> None:
        """Wrap the public globals of ``frame_dict`` that are among ``function_ids``."""
        if not self.visit_once(frame_dict):
            return
        for name, value in list(frame_dict.items()):
            if not name.startswith("_") and callable(value) and id(unwrap(value)) in function_ids:
                self.patch(frame_dict, name, wrapped_function(value))

    def __enter__(self) -> Patcher:
        return self

    def __exit__(self, *exc: object) -> None:
        while self.undo:
            self.undo.pop()()
