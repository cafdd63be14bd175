"""What every script test shares: weights from torch to irgrad, comparisons, and the two runs.

A script module provides ``build(lib, **config) -> model`` and ``trainer(lib, model,
wrap) -> Training``.  ``Training.step(*batch)`` is one training step of the script (it
returns the step's loss, or a tuple of losses) and ``Training.end_epoch()`` what the
script does after an epoch (a scheduler's step; a miniature epoch is one batch).
``wrap`` is applied by the trainer to every module its step calls: :func:`identity`, or
``irgrad.compile``.  Batches are tuples of numpy arrays (made tensors of ``lib`` here)
and Python values.

:func:`against_torch` trains the same weights with both libraries and compares every
loss and the final state; :func:`against_eager` trains irgrad eagerly, with the modules
compiled and with the whole step compiled, and returns the compiled ones' ``explain()``.
"""

from __future__ import annotations

import contextlib
import copy
import io
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from graph_calls import assert_graphs_answered

import irgrad
from irgrad.compiler.warnings import CodegenWarning, CompileWarning


@dataclass
class Training:
    step: Callable
    end_epoch: Callable[[], None] = field(default=lambda: None)


def identity(module):
    return module


def tensors(lib, batch: tuple) -> tuple:
    """``batch``'s numpy arrays as tensors of ``lib`` (anything else passes unchanged)."""
    return tuple(lib.tensor(a) if isinstance(a, np.ndarray) else a for a in batch)


def numbers(out) -> tuple[float, ...]:
    """A step's loss or losses as floats."""
    return tuple(float(t) for t in (out if isinstance(out, (tuple, list)) else (out,)))


def copy_weights(theirs, mine) -> None:
    """Load torch module ``theirs``'s state_dict into irgrad module ``mine`` as numpy arrays."""
    mine.load_state_dict({k: v.detach().numpy().copy() for k, v in theirs.state_dict().items()})


def assert_state_close(mine, theirs, rtol: float, atol: float, what: str = "") -> None:
    """Every parameter and buffer of ``mine`` equals ``theirs``'s (a torch or irgrad module)."""
    a, b = mine.state_dict(), theirs.state_dict()
    assert list(a) == list(b), (list(a), list(b))
    for name in a:
        got, want = a[name].detach().numpy(), b[name].detach().numpy()
        assert got.dtype == want.dtype, f"{what}{name}: {got.dtype} vs {want.dtype}"
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, err_msg=f"{what}{name}")


def against_torch(torch, build, trainer, batches, *, rtol=1e-4, atol=1e-5):
    """Build the model with torch (seeded), copy its weights into irgrad's, run the script's
    steps on ``batches`` with each library and compare every loss and the final state.
    Returns ``(irgrad model, torch model)``."""
    torch.manual_seed(0)
    theirs = build(torch)
    mine = build(irgrad)
    copy_weights(theirs, mine)
    losses = []
    for lib, model in ((torch, theirs), (irgrad, mine)):
        training = trainer(lib, model, identity)
        seen = []
        for batch in batches:
            seen.append(numbers(training.step(*tensors(lib, batch))))
            training.end_epoch()
        losses.append(seen)
    np.testing.assert_allclose(losses[1], losses[0], rtol=rtol, atol=atol, err_msg="losses (step, loss)")
    assert_state_close(mine, theirs, rtol, atol, "final ")
    return mine, theirs


def against_eager(build, trainer, batches, *, rtol=1e-5, atol=1e-6) -> dict:
    """Train irgrad three times from the same weights: eagerly, with every module the step
    calls compiled, and with the whole step compiled; the random generator is seeded the
    same before each step (dropout is on).  Every loss and the final state must equal
    eager's.  Returns ``{"model": [explain() of each compiled module], "step": explain()}``.
    """
    irgrad.manual_seed(0)
    initial = build(irgrad)
    compiled_modules = []

    def compile_module(module):
        compiled_modules.append(irgrad.compile(module))
        return compiled_modules[-1]

    runs = {}
    compiled_step = None
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=CompileWarning)  # explain() reports them
        warnings.filterwarnings("error", category=CodegenWarning)
        for mode in ("eager", "model", "step"):
            model = copy.deepcopy(initial)
            training = trainer(irgrad, model, compile_module if mode == "model" else identity)
            step = training.step
            if mode == "step":
                step = compiled_step = irgrad.compile(step)
            losses = []
            for i, batch in enumerate(batches):
                irgrad.manual_seed(100 + i)
                losses.append(numbers(step(*tensors(irgrad, batch))))
                training.end_epoch()
            runs[mode] = (losses, model)
    eager_losses, eager_model = runs["eager"]
    for mode in ("model", "step"):
        losses, model = runs[mode]
        np.testing.assert_allclose(losses, eager_losses, rtol=rtol, atol=atol, err_msg=f"{mode}: losses")
        assert_state_close(model, eager_model, rtol, atol, f"{mode}: final ")
    with contextlib.redirect_stdout(io.StringIO()):  # explain() prints its report too
        return {"model": [c.explain() for c in compiled_modules], "step": compiled_step.explain()}


def assert_whole(explanation, graphs: int | None = None) -> None:
    """Every call was captured whole, and the calls after the captures ran the graphs (with
    no call handed to the interpreter) (``graphs``: how many were built)."""
    events = list(explanation.events)
    unlocated = [name for facts in explanation.graphs for name in facts["unlocated"]]
    count = len(explanation.graphs)
    assert_graphs_answered(explanation)
    assert not [e for e in events if "eagerly" in e], events
    assert not unlocated, unlocated
    assert graphs is None or count == graphs, (count, events)


def assert_breaks(explanation, cause: str) -> None:
    """``explain()`` reports a graph break whose text contains ``cause``."""
    breaks = list(explanation.breaks)
    assert [b for b in breaks if cause in b], breaks
