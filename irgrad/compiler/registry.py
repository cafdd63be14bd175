"""Every live compiled function, for ``irgrad.compiler.reset()``; and the global off switch."""

from __future__ import annotations

import weakref

_LIVE: weakref.WeakSet = weakref.WeakSet()
DISABLED = False  # set by irgrad.compiler.disable() used as a context manager


def track(compiled) -> None:
    _LIVE.add(compiled)


def reset_all() -> None:
    """Forget every graph of every compiled function."""
    for compiled in list(_LIVE):
        compiled.reset()
