"""``irgrad.debug_nans()``: stop at the first op, eager or compiled, forward or backward,
that produces a NaN or an infinity.

While it is active (as a context manager, or for the whole run with
``IRGRAD_DEBUG_NANS=1``), every eager op's result, every gradient the autograd engine
computes and every node of a compiled forward or backward graph is checked; the first
one holding a NaN or an infinity raises ``FloatingPointError`` naming the op, whether
its inputs were already non-finite, and the user source line that created it.
Compiled graphs then run through the reference interpreter node by node, so this is
a debugging mode, not a fast one.
"""

from __future__ import annotations

from . import _tracing


class debug_nans:
    """Context manager turning the NaN/inf checks on (see the module doc)."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled

    def __enter__(self) -> debug_nans:
        self.previous = _tracing.DEBUG_NANS
        _tracing.DEBUG_NANS = self.enabled
        return self

    def __exit__(self, *exc) -> None:
        _tracing.DEBUG_NANS = self.previous


__all__ = ["debug_nans"]
