"""Cases (a program, a mode, a backend and the concrete arrays of every call), how
each mode builds them, and running one with the differential checker.

Modes:

- ``infer``: no_grad, the same values twice (the second call runs the compiled graph);
- ``train``: float inputs require grad, the same values twice, outputs and gradients;
- ``values``: new values at the same sizes on every call;
- ``batch``: another batch size, then the first again (a static graph per size);
- ``dynamic``: ``dynamic=True`` with three batch sizes;
- ``mark``: ``irgrad.mark_dynamic(x, 0)`` on the batched inputs, three batch sizes;
- ``state``: stateful programs (``stateful.py``), several calls from fresh state.

``values``, ``batch``, ``dynamic`` and ``mark`` run with autograd on for half the
programs (chosen by the program's seed), in inference for the rest.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import re
import sys
import warnings
import zlib
from dataclasses import dataclass, field

import numpy as np

import irgrad

from ..compare import Mismatch
from ..differential import CompiledError, EagerError, MissingError, _load, check_compiled
from .program import Program

MODES = ("infer", "train", "values", "batch", "dynamic", "mark", "state")
CALL_VALUES = {
    "infer": ("a", "a"),
    "train": ("a", "a"),
    "values": ("a", "a2", "a3"),
    "batch": ("a", "b", "a"),
    # a size's first call is traced (eager); its later ones run the program for it
    "dynamic": ("a", "b", "c", "d", "b", "d", "c"),
    "mark": ("a", "b", "c", "d", "b", "d"),
}


@dataclass(frozen=True)
class Case:
    """One program run one way: everything needed to reproduce a result."""

    program: Program
    mode: str
    backend: str
    train: bool
    calls: tuple  # per call: {input name: array}
    dynamic: bool = False
    mark: tuple[str, ...] = ()
    seed: int = 0
    origin: str = ""  # where it came from, e.g. "seed 3, program 17"


@dataclass
class Outcome:
    """What running a case showed (``status``: ok, invalid, mismatch, crash, missing-error;
    rounding for a NaN-or-infinity difference an overflow's rounding explains, see
    :func:`_overflow_explains`; and eager-crash for a program eager irgrad rejects and
    PyTorch runs, see ``oracle``)."""

    status: str
    aspect: str = ""
    message: str = ""
    fell_back: bool = False
    warnings: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return self.status in ("mismatch", "crash", "missing-error", "eager-crash")

    def category(self) -> str:
        return f"{self.status}: {self.aspect}" if self.aspect else self.status

    def signature(self) -> tuple:
        """Same signature: most likely the same defect (used to keep a shrink on its bug).

        For an exception: its type and the start of its message (the op that raised);
        for a mismatch: what differs (value, shape, grad presence...)."""
        if self.status == "mismatch":
            return (self.status, self.aspect)
        text = re.sub(r"^call \d+ \(\w+\): ", "", self.message)
        return (self.status, self.aspect, ":".join(text.split(":")[:2]))


def available_backends() -> list[str]:
    """The compiled backends that exist: those ``irgrad.compile`` accepts without a fallback warning.

    The list of names comes from the compile module when it publishes one; ``eager``
    is not a compiled backend and is left out.
    """

    names = getattr(sys.modules.get("irgrad.compile"), "BACKENDS", ("llvm", "numpy"))
    found = []
    for name in names:
        if name == "eager":
            continue
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                c = irgrad.compile(lambda x: x + 1, backend=name)
                c(irgrad.ones(2))
            except Exception:
                continue
        if not caught:
            found.append(name)
    return found


def build_cases(gen, index: int, seed: int, modes, backends) -> list[Case]:
    """The cases of one generated program for the chosen modes and backends."""
    program = gen.program
    cases = []
    for mode in modes:
        if mode not in CALL_VALUES:
            continue
        if mode == "train":
            train = gen.train_ok
            if not train:
                continue
        elif mode == "infer":
            train = False
        else:
            train = gen.train_ok and zlib.crc32(f"{seed}/{index}/{mode}".encode()) % 2 == 0
        if mode in ("batch", "dynamic", "mark") and not any(i.batch for i in program.params()):
            continue
        calls = tuple(
            {i.name: gen.values[i.name][key] for i in program.params()} for key in CALL_VALUES[mode]
        )
        mark = tuple(i.name for i in program.params() if i.batch) if mode == "mark" else ()
        for backend in backends:
            cases.append(
                Case(
                    program,
                    mode,
                    backend,
                    train,
                    calls,
                    dynamic=mode == "dynamic",
                    mark=mark,
                    seed=zlib.crc32(f"{seed}/{index}".encode()) % 100_000,
                    origin=f"seed {seed}, program {index}",
                )
            )
    return cases


def run_case(case: Case) -> Outcome:
    """Run a case eagerly and compiled and classify what happened."""
    if hasattr(case.program, "run"):
        return case.program.run(case)
    program = case.program
    params = program.params()
    calls = [[call[i.name] for i in params] for call in case.calls]
    mark = [k for k, i in enumerate(params) if i.name in case.mark]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            fn = _load(program.source(), {}, "fuzz")["f"]
            compiled = check_compiled(
                fn,
                calls,
                backend=case.backend,
                train=case.train,
                dynamic=case.dynamic,
                mark_dynamic=mark,
                seed=case.seed,
            )
        except Exception as error:
            outcome = classify(error, caught)
            if outcome.aspect == "nan-or-inf" and _overflow_explains(case):
                return dataclasses.replace(outcome, status="rounding")
            return outcome
    return Outcome("ok", fell_back=fell_back(compiled), warnings=_messages(caught))


def in_float64(case: Case) -> Case | None:
    """The case with its float32 inputs in float64 (None when it has none)."""
    widened = tuple(
        {
            k: v.astype(np.float64) if isinstance(v, np.ndarray) and v.dtype == np.float32 else v
            for k, v in call.items()
        }
        for call in case.calls
    )
    if all(a is b for wide, call in zip(widened, case.calls) for a, b in zip(wide.values(), call.values())):
        return None
    return dataclasses.replace(case, calls=widened)


def _overflow_explains(case: Case) -> bool:
    """Whether a float32 case whose compiled result has NaN where eager's has an infinity (or
    the reverse) has its NaN and infinities agree in float64, where products of float32
    values do not overflow: then an overflow rounded differently (a fused multiply-add
    keeps a product exact that overflows when rounded alone: inf * 1 + big * -big is inf,
    where inf - inf is NaN), which the llvm backend's contraction may do.  Finite values
    are not judged there: such programs cancel terms of 1e58, and their float64 sums
    differ in every digit from one summation order to another."""
    wide = in_float64(case)
    if wide is None:
        return False
    again = run_case(wide)
    return again.status == "ok" or again.category() == "mismatch: value"


def classify(error: BaseException, caught=()) -> Outcome:
    """The outcome an exception from the differential checker stands for."""
    notes = _messages(caught)
    if isinstance(error, EagerError):
        return Outcome("invalid", type(error.error).__name__, str(error), warnings=notes)
    if isinstance(error, Mismatch):
        return Outcome("mismatch", error.aspect, str(error), warnings=notes)
    if isinstance(error, CompiledError):
        # the first call traces, builds and validates the graph (and probes other sizes
        # for dynamic shapes); a crash there is a different defect from one in a later call
        when = " in the first call" if error.call == 0 else ""
        return Outcome(
            "crash", f"{error.phase}{when} {type(error.error).__name__}", str(error), warnings=notes
        )
    if isinstance(error, MissingError):
        return Outcome("missing-error", error.phase, str(error), warnings=notes)
    return Outcome("harness", type(error).__name__, f"{type(error).__name__}: {error}", warnings=notes)


def fell_back(compiled) -> bool:
    """Whether any call of the compiled function ran eagerly (a graph break or a rejected graph),
    as its ``explain()`` says (``graph_break_count`` when it has one, else its text)."""
    explain = getattr(compiled, "explain", None)
    if explain is None:
        return False
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            text = explain()
    except Exception:  # explaining is diagnostics: never a failure of the case
        return False
    count = getattr(text, "graph_break_count", None)
    return count > 0 if count is not None else "graph break" in str(text)


def _messages(caught) -> list[str]:
    return [re.sub(r"\s+", " ", str(w.message))[:200] for w in caught]
