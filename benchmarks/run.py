"""Benchmark runner: irgrad eager and compiled against PyTorch (eager, torch.compile) and JAX jit.

Run from the repository root::

    python -m benchmarks.run                  # full run (all workloads, torch.compile included)
    python -m benchmarks.run --quick          # fewer steps, no torch.compile: under 3 minutes
    python -m benchmarks.run --only W3        # workloads whose name starts with W3
    python -m benchmarks.run --threads 1      # one thread each, on one CPU (JAX included)

Everything runs in one process.  Per workload, every contender makes its first
call (timed: the compile latency is that first call minus a warm call), compiled
irgrad is checked against eager irgrad (the loss/output and every gradient;
where they differ, eager irgrad in float64 settles which is right), then all take warm-up steps, and then they take turns in rotating order, so a
burst of load from elsewhere hits all of them alike.  A turn is a block of about
0.1 s of steps, after a short pause and one untimed step: torch's OpenMP and
numpy's OpenBLAS worker threads keep spinning for a few milliseconds after their
last use, and on 2 cores one framework's spinning pool slows the next one's step
by 2-4x, so alternating single steps measures that contention rather than either
framework (the same step in a process of its own takes what a turn measures).  The median,
min and max time per step are reported with the ratio to PyTorch eager and to
the workload's lower bound (from its FLOP and byte counts and the machine's
measured sgemm rate and copy bandwidth).  Results: a markdown table on stdout and
in ``benchmarks/results/latest.md``, raw numbers in ``latest.json`` and a bar chart
in ``latest.png``.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import shlex
import statistics
import sys
import time
import traceback
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from . import machine, report
from .workloads import Contender, Workload, jax_contender, select, standard_workloads, torchlike_contender

RESULTS_DIR = Path(__file__).resolve().parent / "results"
RTOL, ATOL = 1e-3, 1e-5  # compiled vs eager irgrad, float32 with a different op order
CHECKED_STEPS = (
    3  # compiled irgrad must match eager after this many steps: a step that does not train is WRONG
)


@dataclass
class Settings:
    """How long and how hard to measure; ``quick()`` and ``full()`` are the two presets."""

    warmup: int
    min_rounds: int
    max_rounds: int
    seconds_per_workload: float  # measuring time per workload, all contenders together
    deadline: float  # seconds for the whole run; later workloads get less time if it runs late
    torch_compile: bool
    sgemm_n: int = 2048
    copy_mb: float = 256.0
    limit_repeats: int = 5
    turn_ms: float = 200.0  # a contender's turn: timed steps for this long (at least one)
    # Before each turn, so the previous contender's worker threads go idle: numpy's
    # OpenBLAS workers spin for about 130 ms after a GEMM (torch's OpenMP ones ~10 ms).
    pause_ms: float = 200.0

    @classmethod
    def quick(cls) -> Settings:
        return cls(
            warmup=2,
            min_rounds=3,
            max_rounds=60,
            seconds_per_workload=10.0,
            deadline=130.0,
            torch_compile=False,
            limit_repeats=3,
        )

    @classmethod
    def full(cls) -> Settings:
        return cls(
            warmup=5,
            min_rounds=10,
            max_rounds=400,
            seconds_per_workload=45.0,
            deadline=720.0,
            torch_compile=True,
        )


@dataclass
class Outcome:
    """One contender on one workload: its step times, or why it has none."""

    name: str
    framework: str
    status: str = "ok"  # "ok", "n/a" (could not run: see reason) or "WRONG" (compiled output differs)
    reason: str = ""
    first_ms: float | None = None
    times_ms: list[float] = field(default_factory=list)
    max_abs_diff: float | None = None
    compiled: bool = False  # whether a compile latency makes sense for it

    @property
    def median_ms(self) -> float | None:
        return statistics.median(self.times_ms) if self.times_ms else None

    def to_dict(self) -> dict[str, Any]:
        med = self.median_ms
        return {
            "name": self.name,
            "framework": self.framework,
            "status": self.status,
            "reason": self.reason,
            "median_ms": med,
            "min_ms": min(self.times_ms) if self.times_ms else None,
            "max_ms": max(self.times_ms) if self.times_ms else None,
            "first_call_ms": self.first_ms,
            "compile_s": (self.first_ms - med) / 1e3
            if self.compiled and med is not None and self.first_ms
            else None,
            "steps": len(self.times_ms),
            "max_abs_diff_vs_eager": self.max_abs_diff,
            "times_ms": self.times_ms,
        }


# --- which contenders exist -----------------------------------------------------------------------


def irgrad_backends() -> tuple[list[str], dict[str, str]]:
    """Backends of ``irgrad.compile`` that compile for real, and why the others are left out.

    Read from the module constant ``BACKENDS``; ``"eager"`` (no compilation) is left
    out, and so is any backend that warns (e.g. falls back to another) when used.
    """
    import irgrad

    module = importlib.import_module("irgrad.compile")
    usable, skipped = [], {}
    for backend in module.BACKENDS:
        if backend == "eager":
            skipped[backend] = "no compilation (debugging backend)"
            continue
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                irgrad.compile(lambda x: x, backend=backend)
            except Exception as exc:  # noqa: BLE001 - a backend that cannot even be created is skipped
                skipped[backend] = f"{type(exc).__name__}: {exc}"
                continue
        if caught:
            skipped[backend] = str(caught[0].message)
        else:
            usable.append(backend)
    return usable, skipped


def _importable(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(name)
    except Exception:  # noqa: BLE001 - a broken install counts as absent
        return None


def contenders_for(
    workload: Workload, frameworks: dict[str, Any], backends: list[str], torch_compile: bool
) -> list[tuple[str, str, Any]]:
    """(name, framework, factory) for every contender of ``workload``; factories build lazily."""
    import irgrad

    out: list[tuple[str, str, Any]] = [
        ("irgrad eager", "irgrad", lambda: torchlike_contender(workload, irgrad, "irgrad eager", "irgrad"))
    ]
    for b in backends:
        name = f"irgrad compiled ({b})"
        out.append(
            (
                name,
                "irgrad",
                lambda b=b, name=name: torchlike_contender(
                    workload, irgrad, name, "irgrad", wrap=lambda fn: irgrad.compile(fn, backend=b)
                ),
            )
        )
        if workload.training:
            name = f"irgrad compiled step ({b})"
            out.append(
                (
                    name,
                    "irgrad",
                    lambda b=b, name=name: torchlike_contender(
                        workload,
                        irgrad,
                        name,
                        "irgrad",
                        wrap=lambda fn: irgrad.compile(fn, backend=b),
                        whole_step=True,
                    ),
                )
            )
    torch = frameworks.get("torch")
    if torch is not None:
        out.append(
            ("torch eager", "torch", lambda: torchlike_contender(workload, torch, "torch eager", "torch"))
        )
        if torch_compile:
            out.append(
                (
                    "torch.compile",
                    "torch",
                    lambda: torchlike_contender(
                        workload, torch, "torch.compile", "torch", wrap=torch.compile
                    ),
                )
            )
    if frameworks.get("jax") is not None:
        out.append(("jax jit", "jax", lambda: jax_contender(workload)))
    return out


# --- measuring ------------------------------------------------------------------------------------


def _short(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".splitlines()[0]
    return text[:160]


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1e3


def _compare(ref: dict[str, np.ndarray], got: dict[str, np.ndarray]) -> tuple[bool, float | None, str]:
    """Whether every value in ``got`` matches ``ref`` (allclose), the largest difference, and the first mismatch."""
    worst, first_bad = 0.0, ""
    for key, want in ref.items():
        have = got.get(key)
        if have is None or have.shape != want.shape:
            return False, None, f"{key}: shape {None if have is None else have.shape} vs {want.shape}"
        diff = float(np.max(np.abs(have.astype(np.float64) - want))) if want.size else 0.0
        worst = max(worst, diff)
        scale = float(np.max(np.abs(want))) if want.size else 0.0
        if not first_bad and not np.allclose(have, want, rtol=RTOL, atol=ATOL * max(1.0, scale)):
            first_bad = f"{key} differs from eager by up to {diff:.3g}"
    return not first_bad, worst, first_bad


def _closer_to_float64(workload: Workload, eager: dict, compiled: dict, log) -> bool:
    """Whether compiled irgrad, which differs from eager float32 irgrad, matches eager
    float64 irgrad (allclose) where eager float32 does not: eager is then the one a
    rounding put on the other side of a discontinuity (a max-pool's choice between
    near-equal values, a ReLU at its kink), as the project settles disagreements."""
    import irgrad

    try:
        contender = torchlike_contender(workload, irgrad, "irgrad eager float64", "irgrad", float64=True)
        for _ in range(CHECKED_STEPS):
            contender.step()
        reference = contender.snapshot()
    except Exception:  # noqa: BLE001 - a model that cannot run in float64 (W5's function) settles nothing
        return False
    compiled_ok, _, _ = _compare(reference, compiled)
    eager_ok, _, why = _compare(reference, eager)
    if compiled_ok and not eager_ok:
        log(f"  (eager float32 irgrad differs from float64 ({why}); compiled matches float64)")
        return True
    return False


def measure_workload(
    workload: Workload, factories: list[tuple[str, str, Any]], settings: Settings, seconds: float, log=print
) -> list[Outcome]:
    """Time every contender of one workload, interleaved; see the module docstring for the protocol.

    Each contender's first ``CHECKED_STEPS`` steps come before any timing: the first ones
    compile (irgrad's compiler runs those calls eagerly while tracing them), and compiled
    irgrad is then checked against eager irgrad on the loss, every gradient and every
    parameter, all from the same initial weights: a compiled step that does not update
    the weights, or updates them wrongly, is marked WRONG and not reported.
    """
    outcomes: list[Outcome] = []
    live: list[tuple[Outcome, Contender]] = []
    reference: dict[str, np.ndarray] | None = None
    for name, framework, factory in factories:
        outcome = Outcome(name, framework, compiled="eager" not in name)
        outcomes.append(outcome)
        gc.collect()
        try:
            contender = factory()
            outcome.first_ms = _timed(contender.step)
            for _ in range(CHECKED_STEPS - 1):
                contender.step()
            breaks = contender.graph_breaks()
            if breaks:
                raise RuntimeError(f"graph break: {breaks[0]}")
            values = contender.snapshot()
        except Exception as exc:  # noqa: BLE001 - one broken contender must not stop the run
            outcome.status, outcome.reason = "n/a", _short(exc)
            log(f"  {name}: n/a ({outcome.reason})")
            if os.environ.get("IRGRAD_BENCH_TRACEBACK"):
                traceback.print_exc()
            continue
        if name == "irgrad eager":
            reference = values
        elif framework == "irgrad" and reference is not None:
            ok, outcome.max_abs_diff, why = _compare(reference, values)
            if not ok and _closer_to_float64(workload, reference, values, log):
                ok = True
            if not ok:
                outcome.status, outcome.reason = "WRONG", why
                log(f"  {name}: WRONG ({why}): not timed")
                continue  # a wrong answer has no speed worth reporting
        live.append((outcome, contender))

    for _ in range(max(0, settings.warmup - 1)):
        for outcome, contender in list(live):
            _step(outcome, contender, live, log, timed=False)
    start = time.perf_counter()
    r = 0
    while (
        live
        and r < settings.max_rounds
        and (r < settings.min_rounds or time.perf_counter() - start < seconds)
    ):
        order = live[r % len(live) :] + live[: r % len(live)]
        for outcome, contender in order:
            _turn(outcome, contender, live, log, settings)
        r += 1
    return outcomes


def _turn(outcome: Outcome, contender: Contender, live: list, log, settings: Settings) -> None:
    """A pause, one untimed step, then timed steps until ``settings.turn_ms`` have passed (at least one)."""
    time.sleep(settings.pause_ms / 1e3)  # the previous contender's worker threads stop spinning
    _step(outcome, contender, live, log, timed=False)  # untimed: caches and thread pools wake up
    began = time.perf_counter()
    while (outcome, contender) in live:
        _step(outcome, contender, live, log, timed=True)
        if (time.perf_counter() - began) * 1e3 >= settings.turn_ms:
            break


def _step(outcome: Outcome, contender: Contender, live: list, log, timed: bool) -> None:
    """One step; records its time if ``timed``; drops the contender if it raises."""
    try:
        ms = _timed(contender.step)
    except Exception as exc:  # noqa: BLE001
        outcome.status, outcome.reason = "n/a", f"failed after {len(outcome.times_ms)} steps: {_short(exc)}"
        outcome.times_ms.clear()
        live.remove((outcome, contender))
        log(f"  {outcome.name}: n/a ({outcome.reason})")
        return
    if timed:
        outcome.times_ms.append(ms)


# --- the run --------------------------------------------------------------------------------------


def run(
    workloads: list[Workload],
    settings: Settings,
    threads: int,
    frameworks: tuple[str, ...] = ("torch", "jax"),
    out_dir: Path | None = RESULTS_DIR,
    command: str = "",
    log=print,
) -> dict[str, Any]:
    """Measure the machine and every workload; write latest.{md,json,png} to ``out_dir`` (None: don't).

    Returns the results as the dict stored in latest.json.
    """
    start = time.perf_counter()
    available = {name: _importable(name) for name in frameworks}
    torch = available.get("torch")
    if torch is not None:
        torch.set_num_threads(threads)
    import irgrad

    irgrad.set_num_threads(threads)  # compiled native code's worker pool
    info = machine.describe(threads, tuple(n for n, mod in available.items() if mod is not None))
    log(f"machine: {info['cpu']}, {info['cores']} cores, {threads} thread(s)")
    limits = machine.measure_limits(settings.sgemm_n, settings.copy_mb, settings.limit_repeats)
    log(
        f"limits: sgemm {limits.sgemm_gflops:.1f} GFLOP/s (n={limits.sgemm_n}), copy {limits.copy_gbs:.1f} GB/s"
    )
    backends, skipped = irgrad_backends()
    notes = [f"irgrad.compile backend {b!r} not benchmarked: {why}" for b, why in skipped.items()]
    notes += [f"{name} not importable: not benchmarked" for name, mod in available.items() if mod is None]
    if torch is not None and not settings.torch_compile:
        notes.append("torch.compile skipped (quick mode; pass --with-torch-compile to include it)")

    results = []
    for i, workload in enumerate(workloads):
        elapsed = time.perf_counter() - start
        seconds = min(
            settings.seconds_per_workload,
            max(1.0, 0.5 * (settings.deadline - elapsed) / (len(workloads) - i)),
        )
        log(f"{workload.name}: {workload.describe()}")
        began = time.perf_counter()
        factories = contenders_for(workload, available, backends, settings.torch_compile)
        outcomes = measure_workload(workload, factories, settings, seconds, log)
        bound = report.lower_bound(workload.flops(), workload.bytes_moved(), limits)
        results.append(
            {
                "name": workload.name,
                "description": workload.describe(),
                "mode": workload.mode,
                "gflop": workload.flops() / 1e9,
                "mb_moved": workload.bytes_moved() / 1e6,
                **bound,
                "seconds": time.perf_counter() - began,
                "contenders": [o.to_dict() for o in outcomes],
            }
        )
        for o in outcomes:
            if o.median_ms is not None:
                log(
                    f"  {o.name:<26} median {o.median_ms:9.2f} ms  ({len(o.times_ms)} steps)"
                    + (f"  [{o.status}]" if o.status != "ok" else "")
                )
    data = {
        "command": command,
        "machine": info,
        "limits": limits.to_dict(),
        "settings": vars(settings),
        "notes": notes,
        "workloads": results,
        "seconds": time.perf_counter() - start,
    }
    if out_dir is not None:
        paths = report.write_all(data, out_dir)
        log("wrote " + ", ".join(str(p) for p in paths))
    return data


def parse_args(argv: list[str]) -> argparse.Namespace:
    names = ", ".join(w.name for w in standard_workloads())
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps, torch.compile off (< 3 min)")
    parser.add_argument("--only", metavar="NAME", help=f"comma-separated workload name prefixes: {names}")
    parser.add_argument("--threads", type=int, default=2, help="threads for BLAS/OpenMP/torch (default 2)")
    parser.add_argument(
        "--with-torch-compile", action="store_true", help="include torch.compile in --quick mode"
    )
    parser.add_argument("--no-jax", action="store_true", help="leave JAX out even if it is importable")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="directory for latest.{md,json,png}")
    args = parser.parse_args(argv)
    if args.threads < 1:
        parser.error("--threads must be at least 1")
    return args


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if not machine.threads_pinned(args.threads):
        # Thread pools are sized when numpy/torch load: restart with the environment that pins them.
        os.environ.update(machine.thread_env(args.threads))
        os.execv(sys.executable, [sys.executable, "-m", "benchmarks.run", *argv])
    machine.pin_cpus(args.threads)  # before jax loads (see pin_cpus)
    settings = Settings.quick() if args.quick else Settings.full()
    if args.with_torch_compile:
        settings.torch_compile = True
    workloads = select(standard_workloads(), args.only)
    frameworks = ("torch",) if args.no_jax else ("torch", "jax")
    command = "python -m benchmarks.run " + " ".join(shlex.quote(a) for a in argv)
    data = run(workloads, settings, args.threads, frameworks, args.out, command.strip())
    print()
    print(report.markdown(data))


if __name__ == "__main__":
    main()
