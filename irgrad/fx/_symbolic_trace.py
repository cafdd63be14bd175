"""``irgrad.fx.wrap``: functions the tracer records as calls instead of tracing through.

``wrap`` runs at the top level of a module (often as a decorator) and registers the
module's global name: while a :class:`~irgrad.fx.Tracer` traces, that global is
replaced by a function that records a ``call_function`` node when a Proxy reaches it.
The module is named after torch.fx's, so generated code that re-registers a wrapped
function reads ``irgrad.fx._symbolic_trace.wrap("...")`` where torch.fx's reads
``torch.fx._symbolic_trace.wrap("...")``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, TypeVar

_F = TypeVar("_F", bound=Callable[..., Any])

# (id of a module's globals, name) -> those globals: what the tracer patches
wrapped_fns_to_patch: dict[tuple[int, str], dict[str, Any]] = {}


def wrap(fn_or_name: _F | str) -> _F | str:
    """Make a global function (or a global name, ``"len"`` for a builtin) a leaf of
    symbolic tracing: calls with a Proxy are recorded as ``call_function`` nodes."""
    if not callable(fn_or_name) and not isinstance(fn_or_name, str):
        raise RuntimeError("Unsupported type for global function! Must be either a callable or string name")
    fn_name = fn_or_name if isinstance(fn_or_name, str) else fn_or_name.__name__
    caller = inspect.currentframe().f_back
    if caller.f_code.co_name != "<module>":
        raise NotImplementedError("wrap must be called at the top level of a module")
    wrapped_fns_to_patch[(id(caller.f_globals), fn_name)] = caller.f_globals
    return fn_or_name
