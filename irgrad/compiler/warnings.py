"""The warning category of compiler events a user should hear about once."""

from __future__ import annotations


class CompileWarning(UserWarning):
    """A compiled function runs eagerly (a graph break, a rejected graph, too many recompiles).

    Each compiled function warns once; silence them with
    ``warnings.filterwarnings("ignore", category=irgrad.compiler.CompileWarning)``.
    """


class CodegenWarning(CompileWarning):
    """The llvm backend's code generator failed on a graph (a bug in irgrad): the graph
    runs with the numpy interpreter instead, with the same results.  The test suite
    turns this warning into an error."""
