"""Third opinions on a failing case: does eager irgrad agree with PyTorch, and does the
case still fail in float64?

A differential failure says compiled and eager differ, not which is right. When
PyTorch is installed, the case's program (its source speaks PyTorch) runs there on
the same arrays, and its outputs and gradients are compared with irgrad's eager
ones, so the report can say "eager agrees with PyTorch" or point at an eager defect.
A float32 mismatch that goes away with the inputs in float64 is most often rounding
that the program makes large (a gradient that cancels to zero but for an ulp, times
1e29): the report says so, and a reader confirms it.
"""

from __future__ import annotations

import warnings

import numpy as np

import irgrad

from ..compare import Mismatch, assert_same_array
from ..differential import _load, _loss_weights, arguments
from .context import EagerCrash, run_in_torch
from .program import torch_source
from .runner import Case, Outcome, in_float64, run_case


def torch_verdict(case: Case) -> str:
    """One line: how PyTorch's results compare with eager irgrad's on the case's calls."""
    if hasattr(case.program, "regression_body"):
        return ""
    try:
        import torch  # deferred: PyTorch is an optional oracle, and heavy to import
    except ImportError:
        return "PyTorch is not installed: no third opinion"
    source = case.program.source()
    params = case.program.params()
    for k, call in enumerate(case.calls):
        arrays = [call[i.name] for i in params]
        try:
            mine = _run(_load(source, {}, "oracle")["f"], irgrad, arrays, case.train, case.seed + k)
        except Exception as error:
            return f"eager irgrad raised at call {k}: {type(error).__name__}: {error}"
        theirs_source = torch_source(source)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                theirs = _run(
                    _load(theirs_source, {}, "torch")["f"], torch, arrays, case.train, case.seed + k
                )
        except Exception as error:
            return f"PyTorch raised at call {k} where eager irgrad did not: {type(error).__name__}: {error}"
        difference = _differ(mine, theirs, case.program.uses_rng)
        if difference:
            return f"eager irgrad DIFFERS from PyTorch at call {k}: {difference}"
    return "eager irgrad agrees with PyTorch" + (
        " (random ops not compared)" if case.program.uses_rng else ""
    )


def float64_verdict(case: Case, outcome: Outcome) -> str:
    """For a mismatch of a case with float32 inputs: whether it passes with them in
    float64 (one line for the report; empty for other cases)."""
    if outcome.status != "mismatch" or hasattr(case.program, "regression_body"):
        return ""
    wide = in_float64(case)
    if wide is None:
        return ""
    again = run_case(wide)
    if again.status == "ok":
        return "passes with its float32 inputs in float64: rounding the program makes large, likely no defect"
    return f"fails with its float32 inputs in float64 too ({again.category()})"


def _run(fn, lib, arrays: list, train: bool, seed: int) -> list[np.ndarray | None]:
    """Outputs (then gradients, in training) of one call, as numpy arrays."""
    args = arguments(arrays, train, lib=lib)
    lib.manual_seed(seed)
    with lib.set_grad_enabled(train):
        out = fn(*args)
    leaves = _leaves(out, lib)
    results = [t.detach().numpy().copy() for t in leaves]
    if train:
        weights = _loss_weights(_irgrad_like(leaves), seed)
        total = None
        for t, w in zip(leaves, weights):
            if w is not None and t.requires_grad:
                term = (t * lib.from_numpy(w).to(t.dtype)).sum()
                total = term if total is None else total + term
        if total is not None:
            total.backward()
        results += [None if a.grad is None else a.grad.numpy().copy() for a in args]
    return results


def _leaves(out, lib) -> list:
    if isinstance(out, lib.Tensor):
        return [out]
    if isinstance(out, dict):
        out = list(out.values())
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in _leaves(o, lib)]
    return []


def _irgrad_like(leaves: list) -> list:
    """Stand-ins with the attributes ``_loss_weights`` reads (shape, float, requires_grad)."""
    return [
        irgrad.zeros(tuple(t.shape)).requires_grad_(bool(t.requires_grad and t.is_floating_point()))
        for t in leaves
    ]


def _differ(mine: list, theirs: list, random: bool) -> str:
    if len(mine) != len(theirs):
        return f"{len(mine)} results against {len(theirs)}"
    for k, (a, b) in enumerate(zip(mine, theirs)):
        if (a is None) != (b is None):
            return f"result {k}: {'None' if a is None else 'a tensor'} against {'None' if b is None else 'a tensor'}"
        if a is None:
            continue
        if a.shape != b.shape or a.dtype != b.dtype:
            return f"result {k}: {a.dtype}{list(a.shape)} against {b.dtype}{list(b.shape)}"
        if random:
            continue
        try:
            assert_same_array(a, b, f"result {k}")
        except Mismatch as m:
            return str(m)
    return ""


def eager_crash_case(crash: EagerCrash, origin: str) -> Case:
    """A case (mode ``eager``) reproducing an eager crash, for the shrinker and the test writer."""
    return Case(crash.program, "eager", "none", crash.grad, (dict(crash.arrays),), origin=origin)


def check_eager(case: Case) -> Outcome:
    """Outcome ``eager-crash`` when eager irgrad raises on the case and PyTorch runs it."""
    arrays = [case.calls[0][i.name] for i in case.program.params()]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fn = _load(case.program.source(), {}, "eager")["f"]
            with irgrad.set_grad_enabled(case.train):
                fn(*arguments(arrays, case.train))
    except Exception as error:
        if run_in_torch(case.program, arrays, case.train) is not None:
            return Outcome("invalid", "PyTorch raises too")
        return Outcome("eager-crash", type(error).__name__, f"{type(error).__name__}: {error}")
    return Outcome("ok")
