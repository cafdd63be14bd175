"""What ``torch.jit``'s decorators and annotations do when a script runs outside TorchScript.

Model files apply them at import time (``@torch.jit.ignore`` on methods,
``torch.jit.Final[bool]`` in class bodies) and call them in ``forward``
(``torch.jit.is_scripting()``).  Outside TorchScript, PyTorch's return what they are
given (``export`` also marks it for ``script``), and so do these, with PyTorch's
warnings and errors.
"""

from __future__ import annotations

import collections
import inspect
import warnings
from collections.abc import Callable
from typing import Any, Final, TypeVar

from ..futures import Future, completed
from ..nn import Module

_T = TypeVar("_T")

# What @export sets on a function, as PyTorch's FunctionModifiers.EXPORT: script compiles it too.
_EXPORT = "export (compile this function even if nothing calls it)"
_SWITCH = "Please switch to `torch.compile` or `torch.export`."

Attribute = collections.namedtuple("Attribute", ["value", "type"])
Attribute.__doc__ = """``torch.jit.Attribute(value, type)``: the pair itself, as in PyTorch;
a :class:`ScriptModule` stores its ``value``."""


def _deprecated(name: str, advice: str = "Please use `torch.compile` instead.") -> None:
    # PyTorch's warning, attributed (as PyTorch's is) to the library, so hidden by default
    warnings.warn(f"`torch.jit.{name}` is deprecated. {advice}", DeprecationWarning, stacklevel=1)


def ignore(drop: bool | Callable = False, **kwargs: Any) -> Callable:
    """``@torch.jit.ignore`` / ``@torch.jit.ignore(drop=...)``: returns the function itself.

    TorchScript leaves an ignored function to Python; irgrad's compiler traces Python anyway.
    ``drop=True`` (and ``drop_on_export=True``) warn as PyTorch's deprecated forms do.
    """
    if callable(drop):
        return drop
    if not isinstance(drop, bool):
        raise RuntimeError(f"Argument to @torch.jit.ignore must be a bool or a function but got {drop}")
    if kwargs.pop("drop_on_export", None):
        warnings.warn(
            "ignore(drop_on_export=True) has been deprecated. TorchScript will now drop the function "
            "call on compilation. Use torch.jit.unused now. {}",
            FutureWarning,
            stacklevel=2,
        )
    elif drop:
        warnings.warn(
            "ignore(True) has been deprecated. TorchScript will now drop the function "
            "call on compilation. Use torch.jit.unused now. {}",
            FutureWarning,
            stacklevel=2,
        )
    return lambda fn: fn


def unused(fn: _T) -> _T:
    """``@torch.jit.unused``: the function (or property) itself; called eagerly, it runs."""
    return fn


def export(fn: Callable) -> Callable:
    """``@torch.jit.export``: marks a module's method, which :func:`script` then compiles too."""
    fn._torchscript_modifier = _EXPORT
    return fn


def interface(obj: type) -> type:
    """``@torch.jit.interface``: the class itself, after PyTorch's checks and warning."""
    _deprecated("interface")
    if not inspect.isclass(obj):
        raise RuntimeError("interface must be applied to a class")
    is_module_interface = issubclass(obj, Module) and obj.__mro__[1:] == Module.__mro__
    if not is_module_interface and len(obj.__mro__) > 2:
        raise RuntimeError(
            "TorchScript interface does not support inheritance yet. "
            "Please directly inherit from 'object' or 'nn.Module'."
        )
    return obj


def annotate(the_type: Any, the_value: _T) -> _T:
    """``torch.jit.annotate(type, value)``: the value (the type is a hint for TorchScript)."""
    return the_value


def is_scripting() -> bool:
    """False: irgrad never compiles TorchScript, so code takes its Python branch, which
    irgrad's compiler traces (inside :func:`script` too)."""
    return False


def is_tracing() -> bool:
    """False: irgrad's :func:`trace` follows the Python code at every call, so code needs no
    branch for a trace that would freeze it."""
    return False


def fork(func: Callable[..., _T], *args: Any, **kwargs: Any) -> Future[_T]:
    """``torch.jit.fork``: runs ``func(*args, **kwargs)`` now (PyTorch forks only inside
    TorchScript); its exceptions propagate from here."""
    _deprecated("fork")
    return completed(func(*args, **kwargs))


def wait(future: Future[_T]) -> _T:
    """``torch.jit.wait``: the value of a :func:`fork`."""
    _deprecated("wait")
    if not isinstance(future, Future):
        raise TypeError(f"wait(): expected a torch.jit.Future, got {type(future).__name__}")
    return future.wait()


__all__ = [
    "Attribute",
    "Final",
    "Future",
    "annotate",
    "export",
    "fork",
    "ignore",
    "interface",
    "is_scripting",
    "is_tracing",
    "unused",
    "wait",
]
