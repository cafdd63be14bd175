"""The warning category of compiler events a user should hear about once."""

from __future__ import annotations


class CompileWarning(UserWarning):
    """A compiled function runs eagerly (a graph break, a rejected graph, too many recompiles).

    Each compiled function warns once; silence them with
    ``warnings.filterwarnings("ignore", category=irgrad.compiler.CompileWarning)``.
    """
