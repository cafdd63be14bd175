"""The hooks through which low layers (dispatch, Tensor, autograd) report to an active tracer.

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


def rebind(tensor, fresh) -> None:
    """``tensor``'s value is what ``fresh`` holds (a stale view re-derived from its base)."""
    if ACTIVE is not None:
        ACTIVE.on_rebind(tensor, fresh)


def alias(new, old) -> None:
    """``new`` was made outside the op registry as a copy of ``old``'s current value."""
    if ACTIVE is not None:
        ACTIVE.on_alias(new, old)


def untraceable(what: str) -> None:
    """Library code is about to compute on tensor data outside the op registry: a graph break."""
    if ACTIVE is not None:
        ACTIVE.on_untraceable(what)


def tracing() -> bool:
    """Whether a tracer is recording (library code then takes its recordable path)."""
    return ACTIVE is not None
