"""``skip_init``: build a module without running its parameter initialisation (PyTorch
makes it on the meta device and allocates uninitialised memory; irgrad, which has no
meta device, builds it as usual, so the values are its initialisation's, which any
later initialisation overwrites)."""

from __future__ import annotations

import inspect
from typing import Any

from ..modules.module import Module

__all__ = ["skip_init"]


def skip_init(module_cls: type, *args: Any, **kwargs: Any) -> Module:
    """``module_cls(*args, **kwargs)``; the class must take a ``device`` argument, as PyTorch requires."""
    if not issubclass(module_cls, Module):
        raise RuntimeError(f"Expected a Module; got {module_cls}")
    if "device" not in inspect.signature(module_cls).parameters:
        raise RuntimeError("Module must support a 'device' arg to skip initialization")
    return module_cls(*args, **kwargs)
