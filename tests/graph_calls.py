"""Test helpers that prove a value came from a compiled graph's code (native code, with
the llvm backend), not from eager execution or the interpreter.

A compiled function's first call with new shapes runs eagerly under the tracer and
returns eager's result; a graph that validation rejects, a graph break or a recompile
answers eagerly too (with at most a warning), and a native program hands a call to the
interpreter when a routine reports bad input.  A test that compares such a value with
eager compares eager with eager, and passes whatever the native code computes.  These
helpers make the call a graph answers and assert that it did, from what ``explain()``
and :class:`irgrad.codegen.Program` report: the calls each graph ran, its native
steps, the nodes left to numpy and the calls handed to the interpreter.
"""

from __future__ import annotations

import numpy as np

import irgrad
from irgrad.compiler.explain import Explanation


def run_program(program, inputs: list, interpreted: bool = False) -> list[np.ndarray]:
    """``program(inputs)`` computed by native code alone: the program left no node to
    numpy, and the call was not handed to the interpreter; with ``interpreted``, the
    call must be handed to it instead (an index out of range, by design)."""
    assert not program.report.numpy_nodes, program.report
    before = program.interpreted
    outputs = program(inputs)
    handed = program.interpreted - before
    assert handed == interpreted, f"handed to the interpreter: {bool(handed)}, expected {interpreted}"
    return outputs


def fresh_like(t):
    """A float tensor's values drawn afresh (same shape and dtype), for a call after the
    one that traced; other tensors (indices, masks) as they are."""
    if not t.dtype.is_floating_point:
        return t
    return irgrad.randn(*t.shape, dtype=t.dtype).requires_grad_(t.requires_grad)


def _runs(compiled) -> int:
    return sum(entry.runs for entry in compiled._compiled.entries)


def graph_call(compiled, *args, **kwargs):
    """``compiled(*args, **kwargs)`` answered by a graph's code: a call that captures a
    graph (whose result is eager's) is made again, with the same arguments.  Asserts
    that a cached graph ran the call, and that every returned tensor requiring grad gets
    its gradient from the compiled backward.  (A function with side effects has them
    twice when it captures.)"""
    runs = _runs(compiled)
    out = compiled(*args, **kwargs)
    if _runs(compiled) == runs:
        out = compiled(*args, **kwargs)
    assert _runs(compiled) == runs + 1, f"the call ran eagerly: {compiled._compiled.log}"
    for t in out if isinstance(out, (tuple, list)) else (out,):
        if isinstance(t, irgrad.Tensor) and t.requires_grad:
            assert t.grad_fn.name() == "CompiledFunctionBackward", t.grad_fn
    return out


def assert_graphs_answered(compiled):
    """``compiled``'s calls after their capture ran its graphs: none was rejected by
    validation or broke (either runs eagerly), some graph ran a call, and no native
    program handed a call to the interpreter.  ``compiled`` is a compiled function or
    module, or its ``explain()``; returns ``explain()``."""
    explanation = compiled if isinstance(compiled, Explanation) else compiled.explain()
    assert not explanation.breaks, explanation.breaks
    assert sum(g["runs"] for g in explanation.graphs), f"no call ran a graph: {explanation.events}"
    for g in explanation.graphs:
        assert not any(g["interpreted"].values()), g["interpreted"]
    return explanation


def assert_native(compiled):
    """:func:`assert_graphs_answered`, and every graph is whole native code: its forward
    and backward are each one native call per run, with nothing left to numpy.  Returns
    ``explain()``."""
    explanation = assert_graphs_answered(compiled)
    for g in explanation.graphs:
        for stage, report in g["reports"].items():
            whole = report.segments == 1 and not report.fallbacks and not report.whole_graph
            assert whole, f"{stage}: {report}"
    return explanation


def assert_trains_as_eager(make, steps: int = 4, rtol: float = 1e-4, atol: float = 1e-6):
    """``make()`` gives (parameters, step function) from fixed seeds: the compiled step's
    losses and the parameters after it match eager training's, the steps after the
    captures ran graphs, and every graph runs as one native call.  Returns the compiled
    step."""
    eager_params, eager_step = make()
    params, step = make()
    compiled = irgrad.compile(step, backend="llvm")
    for _ in range(steps):
        np.testing.assert_allclose(compiled().item(), eager_step().item(), rtol=1e-5)
    for p, q in zip(params, eager_params):
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=rtol, atol=atol)
    assert_native(compiled)
    return compiled
