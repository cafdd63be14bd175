"""The hook through which low layers (dispatch, Tensor) report to an active tracer.

Layers below the tracer must not import it; they only read :data:`ACTIVE`, which
:mod:`irgrad.trace` sets while it records.  With no tracer active, each hook costs
one attribute read.
"""

from __future__ import annotations

ACTIVE = None  # the irgrad.trace.Tracer recording now, or None


def materialize(tensor, what: str) -> None:
    """Python is about to read ``tensor``'s values (``item()``, ``bool()``, ``numpy()`` ...)."""
    if ACTIVE is not None:
        ACTIVE.on_materialize(tensor, what)


def inplace(target, new) -> None:
    """``target``'s storage now holds ``new``'s value (an in-place op or setitem)."""
    if ACTIVE is not None:
        ACTIVE.on_inplace(target, new)
