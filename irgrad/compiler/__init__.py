"""``irgrad.compiler``: the compiler's parts, and PyTorch's ``torch.compiler`` functions.

Public: :func:`reset`, :func:`disable`, :func:`is_compiling` and :class:`CompileWarning`.
The parts, one job a module: :mod:`.state` (the state a call reaches), :mod:`.sources`
(paths to it), :mod:`.guards` (generated checks), :mod:`.capture` (one traced call),
:mod:`.effects` (side effects replayed), :mod:`.build` (passes and backends),
:mod:`.backends`, :mod:`.runtime` (running a compiled call), :mod:`.validate`,
:mod:`.dynamic` (symbolic sizes) and :mod:`.explain`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from .. import _tracing
from .registry import reset_all
from .warnings import CompileWarning


def reset() -> None:
    """Forget every compiled graph, so the next call of each compiled function recompiles."""
    reset_all()


def is_compiling() -> bool:
    """True while irgrad is tracing a function for ``irgrad.compile`` (as ``torch.compiler.is_compiling``)."""
    return _tracing.tracing()


def disable(fn: Callable | None = None, recursive: bool = True):
    """Make ``fn`` always run eagerly, also when a compiled function calls it.

    A compiled function that reaches ``fn`` while being captured breaks its graph there:
    that call signature then runs eagerly as a whole (irgrad does not resume a graph
    after a break).  Usable as ``@irgrad.compiler.disable`` or ``disable(fn)``.
    """
    if fn is None:
        return functools.partial(disable, recursive=recursive)

    @functools.wraps(fn)
    def eager(*args, **kwargs):
        _tracing.untraceable(f"{getattr(fn, '__qualname__', fn)} (marked irgrad.compiler.disable)")
        return fn(*args, **kwargs)

    eager._irgrad_disabled = True
    return eager


__all__ = ["CompileWarning", "disable", "is_compiling", "reset"]
