"""``python -m irgrad.testing.fuzz``: generate, run, shrink, write regression tests, report."""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from .generate import generate
from .oracle import check_eager, eager_crash_case, float64_verdict, torch_verdict
from .regression import regression_name, regression_test, write
from .report import Report, Shrunk
from .runner import MODES, available_backends, build_cases, run_case
from .shrink import shrink
from .stateful import generate_stateful, stateful_cases


def parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m irgrad.testing.fuzz", description=__doc__)
    ap.add_argument("--n", type=int, default=100, help="programs to generate (each runs in every mode)")
    ap.add_argument("--seed", type=int, default=0, help="program i of seed s is the same on every run")
    ap.add_argument("--mode", default=",".join(MODES), help=f"comma-separated modes among {', '.join(MODES)}")
    ap.add_argument(
        "--backend", default=None, help="comma-separated compile backends (default: every one that exists)"
    )
    ap.add_argument("--max-ops", type=int, default=25, help="most statements in a program")
    ap.add_argument("--min-ops", type=int, default=3, help="fewest statements in a program")
    ap.add_argument("--out", default=None, help="directory for the regression tests of shrunk failures")
    ap.add_argument("--no-shrink", action="store_true", help="report failures without shrinking them")
    ap.add_argument("--shrink-runs", type=int, default=400, help="most runs spent shrinking one failure")
    ap.add_argument(
        "--shrink-seconds", type=float, default=60.0, help="most time spent shrinking one failure"
    )
    ap.add_argument("--json", default=None, help="also write the report as JSON to this file")
    ap.add_argument("--quiet", action="store_true", help="print the report only, not the regression tests")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> Report:
    args = parse(argv)
    modes = [m.strip() for m in args.mode.split(",") if m.strip()]
    unknown = set(modes) - set(MODES)
    if unknown:
        raise SystemExit(f"unknown mode(s) {sorted(unknown)}; choose among {MODES}")
    backends = args.backend.split(",") if args.backend else available_backends()
    report = Report()
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for index in range(args.n):
            run_program(index, args, modes, backends, report)
        shrink_findings(args, report)
    report.seconds = time.perf_counter() - start
    header = (
        f"irgrad differential fuzzer: seed {args.seed}, {args.n} programs of {args.min_ops}-{args.max_ops} ops, "
        f"modes {', '.join(modes)}, backends {', '.join(backends) or 'none'}"
    )
    print(report.text(header))
    if args.json:
        Path(args.json).write_text(json.dumps({"header": header, **report.as_dict()}, indent=1))
    return report


def run_program(index: int, args, modes: list[str], backends: list[str], report: Report) -> None:
    """Generate program ``index`` (and its stateful sibling) and run every case of it."""
    straight = [m for m in modes if m != "state"]
    if straight:
        gen = generate(np.random.SeedSequence([args.seed, index]), args.max_ops, args.min_ops)
        report.programs += 1
        report.statements += len(gen.program.stmts)
        report.coverage.update(gen.program.ops())
        for crash in gen.eager_crashes:
            origin = f"seed {args.seed}, program {index}"
            report.record_eager_crash(eager_crash_case(crash, origin), crash.op, crash.error)
        for case in build_cases(gen, index, args.seed, straight, backends):
            report.record(case, run_case(case))
    if "state" in modes:
        program, calls = generate_stateful(np.random.SeedSequence([args.seed, index, 1]), args.max_ops)
        report.programs += 1
        report.statements += len(program.body.stmts)
        report.coverage.update(program.ops())
        for case in stateful_cases(program, calls, index, args.seed, backends):
            report.record(case, run_case(case))


def shrink_findings(args, report: Report) -> None:
    """Shrink the first failure of each distinct kind, write and print its regression test."""
    if args.no_shrink:
        return
    for findings, check in ((report.findings, run_case), (report.eager_crashes, check_eager)):
        for finding in findings.values():
            small, outcome, runs = shrink(
                finding.case, finding.outcome, args.shrink_runs, args.shrink_seconds, check
            )
            if check is run_case:
                verdict = "; ".join(filter(None, [torch_verdict(small), float64_verdict(small, outcome)]))
            else:
                verdict = "PyTorch runs it"
            text = regression_test(small, outcome, verdict)
            name = regression_name(small, outcome)
            path = write(text, args.out, name) if args.out else None
            if not args.quiet:
                print(f"# ---- {name} ({finding.outcome.category()}) ----")
                print(text)
                sys.stdout.flush()
            finding.shrunk.append(Shrunk(small, outcome, runs, path, verdict))
