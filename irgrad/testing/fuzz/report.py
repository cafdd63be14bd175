"""Counting what a fuzz run did, and the report printed at its end."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from .runner import Case, Outcome


def normalized(message: str) -> str:
    """A failure message without the numbers, shapes and names that vary between programs."""
    text = re.sub(r"^call \d+( \([a-z]+\))?: ", "", message)
    text = re.sub(r"np\.\w+\(([^)]*)\)", r"\1", text)
    text = re.sub(r"\[[^\]]*\]", "[..]", text)
    text = re.sub(r"\b[xivms]\d+\b", "NAME", text)
    text = re.sub(r"-?\d+(\.\d+)?(e[-+]?\d+)?", "N", text)
    text = re.sub(r"(at \(N(, N)*\): \S+ vs \S+;? ?)+", "at ...", text)
    return text[:160]


@dataclass
class Shrunk:
    """A failure after shrinking: the minimal case, its outcome, the runs it took, the test written."""

    case: Case
    outcome: Outcome
    runs: int
    path: object = None  # the regression test's path, when one was written
    verdict: str = ""  # what PyTorch says (see oracle.py)


@dataclass
class Finding:
    """A distinct failure: the first case that showed it, shrunk, and how often it was seen."""

    key: tuple
    case: Case
    outcome: Outcome
    count: int = 1
    modes: Counter = field(default_factory=Counter)
    shrunk: list = field(default_factory=list)  # Shrunk records


@dataclass
class Report:
    programs: int = 0
    statements: int = 0
    coverage: Counter = field(default_factory=Counter)
    outcomes: dict = field(default_factory=lambda: defaultdict(Counter))  # mode -> status -> count
    fell_back: Counter = field(default_factory=Counter)  # mode -> cases that ran (partly) eagerly
    categories: Counter = field(default_factory=Counter)  # (mode, category) -> count
    findings: dict = field(default_factory=dict)  # key -> Finding
    eager_crashes: dict = field(default_factory=dict)  # normalized error -> Finding
    harness: list = field(default_factory=list)  # (case, outcome): the fuzzer's own errors
    seconds: float = 0.0

    def record(self, case: Case, outcome: Outcome) -> None:
        self.outcomes[case.mode][outcome.status] += 1
        if outcome.fell_back:
            self.fell_back[case.mode] += 1
        if outcome.status == "harness":
            self.harness.append((case, outcome))
        if not outcome.failed:
            return
        self.categories[(case.mode, outcome.category())] += 1
        key = (outcome.status, outcome.aspect, normalized(outcome.message))
        finding = self.findings.get(key)
        if finding is None:
            finding = self.findings[key] = Finding(key, case, outcome, 0)
        finding.count += 1
        finding.modes[case.mode] += 1

    def record_eager_crash(self, case: Case, op: str, error: str) -> None:
        """A program irgrad's eager mode rejects and PyTorch runs (found while generating)."""
        key = normalized(error)  # the same message from softmax, softmin, log_softmax: one defect
        finding = self.eager_crashes.get(key)
        if finding is None:
            outcome = Outcome("eager-crash", error.split(":")[0], error)
            finding = self.eager_crashes[key] = Finding(key, case, outcome, 0)
        finding.count += 1
        finding.modes[op] += 1

    def as_dict(self) -> dict:
        """The report as plain data (``--json``), for tools that group or compare runs."""

        def shrunk(s: Shrunk) -> dict:
            c = s.case
            return {
                "source": c.program.function_source(),
                "mode": c.mode,
                "train": c.train,
                "dynamic": c.dynamic,
                "mark_dynamic": list(c.mark),
                "calls": len(c.calls),
                "message": s.outcome.message,
                "runs": s.runs,
                "test": str(s.path) if s.path else None,
                "torch": s.verdict,
            }

        def finding(f: Finding) -> dict:
            return {
                "category": f.outcome.category(),
                "count": f.count,
                "modes": dict(f.modes),
                "origin": f.case.origin,
                "message": f.outcome.message,
                "source": f.case.program.function_source(),
                "shrunk": [shrunk(s) for s in f.shrunk],
            }

        return {
            "seconds": self.seconds,
            "programs": self.programs,
            "statements": self.statements,
            "outcomes": {mode: dict(counts) for mode, counts in self.outcomes.items()},
            "fell_back": dict(self.fell_back),
            "findings": [finding(f) for f in self.findings.values()],
            "eager_crashes": [finding(f) for f in self.eager_crashes.values()],
            "coverage": dict(self.coverage),
        }

    def text(self, header: str) -> str:
        lines = [header, f"time: {self.seconds:.1f} s", ""]
        lines.append(
            f"programs: {self.programs} ({self.statements} statements, {self.statements / max(self.programs, 1):.1f} per program)"
        )
        lines.append(
            "cases per mode (status counts; 'fell back': a call ran eagerly after a graph break or rejection):"
        )
        for mode, counts in self.outcomes.items():
            total = sum(counts.values())
            parts = ", ".join(f"{status} {n}" for status, n in sorted(counts.items()))
            lines.append(f"  {mode:8s} {total:6d} cases: {parts}; fell back {self.fell_back[mode]}")
        lines.append("")
        lines.append("failures by mode and category:")
        for (mode, category), n in sorted(self.categories.items()):
            lines.append(f"  {mode:8s} {category}: {n}")
        if not self.categories:
            lines.append("  none")
        lines.append("")
        lines.append(
            f"distinct failures: {len(self.findings)} (by status, aspect and message without numbers)"
        )
        for n, finding in enumerate(sorted(self.findings.values(), key=lambda f: -f.count), 1):
            lines += _finding_lines(n, finding, "")
        lines.append("")
        lines.append(
            f"eager crashes (irgrad eager rejects a program PyTorch runs): {len(self.eager_crashes)}"
        )
        for n, finding in enumerate(self.eager_crashes.values(), 1):
            lines += _finding_lines(n, finding, "E")
        if self.harness:
            lines.append("")
            lines.append(f"fuzzer errors (a defect of the fuzzer itself): {len(self.harness)}")
            for case, outcome in self.harness[:5]:
                lines.append(f"  - {case.origin} {case.mode}: {outcome.message[:300]}")
        lines.append("")
        lines.append(f"coverage: {len(self.coverage)} ops, statements generated per op:")
        items = [f"{op} {n}" for op, n in sorted(self.coverage.items(), key=lambda kv: (-kv[1], kv[0]))]
        for k in range(0, len(items), 8):
            lines.append("  " + ", ".join(items[k : k + 8]))
        return "\n".join(lines)


def _finding_lines(n: int, finding: Finding, prefix: str) -> list[str]:
    modes = ", ".join(f"{m} {c}" for m, c in finding.modes.most_common())
    lines = [f"[{prefix}{n}] {finding.outcome.category()}: seen {finding.count} times ({modes})"]
    lines.append(f"    {finding.outcome.message[:300]}")
    if not finding.shrunk and finding.outcome.status == "eager-crash":
        lines += ["      " + line for line in finding.case.program.function_source().splitlines()]
    for shrunk in finding.shrunk:
        case, outcome = shrunk.case, shrunk.outcome
        lines.append(
            f"    shrunk in {shrunk.runs} runs ({case.origin}, mode {case.mode}, train={case.train}, "
            f"dynamic={case.dynamic}, mark_dynamic={list(case.mark)}, {len(case.calls)} call(s)); {shrunk.verdict}"
        )
        lines.append(f"    {outcome.message[:300]}")
        lines += ["      " + line for line in case.program.function_source().splitlines()]
        if shrunk.path:
            lines.append(f"    regression test: {shrunk.path}")
    return lines
