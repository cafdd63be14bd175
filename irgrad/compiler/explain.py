"""``explain()``: what a compiled function compiled to and why, as text that carries data.

:class:`Explanation` is the printed report (a ``str``, so ``"..." in text`` works) with
the same facts as attributes for tests and tools: ``graphs`` (one dict per cached
graph: guards, free inputs and their sources, in-place writes, replayed rebindings,
node counts, timings, break or rejection, what validation found, the calls the graph
answered and, per stage, those a native program handed to the interpreter),
``events`` (first compile, recompiles with their reasons, fallbacks), ``breaks`` and
the counts ``graph_count`` and ``graph_break_count``.
"""

from __future__ import annotations

from ..ir import Graph
from .backends import BuildReport
from .effects import describe_replays


class Explanation(str):
    """The report of ``explain()`` (see the module doc)."""

    graphs: list
    events: list
    breaks: list

    @property
    def graph_count(self) -> int:
        return sum(1 for g in self.graphs if g["break"] is None)

    @property
    def graph_break_count(self) -> int:
        return len(self.breaks)


def _interpreted(run) -> int:
    """Calls a stage's executable handed to the interpreter: a native program's (a
    routine found bad input), 0 for executables that have no such path."""
    return getattr(run, "interpreted", 0)


def _counts(graph: Graph, report: BuildReport | None, handed: int, run=None) -> str:
    """A graph's size and what its backend made of it: native kernels, the groups left
    to numpy with the reason, the programs a graph with symbolic sizes got so far (its
    executable ``run`` says), and the calls ``handed`` to the interpreter."""
    text = f"{sum(1 for _ in graph.op_nodes())} nodes"
    if report is not None and report.segments:
        calls = "1 native call" if report.segments == 1 else f"{report.segments} native calls"
        text += f"; {report.kernels} native steps in {calls} per run, arena {report.arena_bytes} bytes"
        if report.written_in_place:
            n = report.written_in_place
            text += f", {n} update{'s' if n != 1 else ''} written in place"
        text += f" (LLVM {report.llvm_seconds * 1e3:.0f} ms"
        text += ", program from the disk cache" if report.from_cache else ""
        text += f", {report.cache_hits} from the disk cache)" if report.cache_hits else ")"
    elif report is not None and report.kernels:
        text += f"; {report.kernels} native kernels (LLVM {report.llvm_seconds * 1e3:.0f} ms"
        text += f", {report.cache_hits} from the disk cache)" if report.cache_hits else ")"
    if report is not None and report.whole_graph:
        text += f"; {report.whole_graph}"
    if report is not None and report.fallbacks:
        text += "; left to numpy: " + "; ".join(report.fallbacks)
    summary = getattr(run, "summary", None)
    if summary is not None:
        text += f"; {summary()}"
    if handed:
        text += f"; {handed} call(s) handed to the interpreter"
    return text


def _indent(text: str, prefix: str) -> str:
    return "\n".join(prefix + line for line in text.splitlines())


def describe_entry(entry) -> dict:
    """The facts of one cached graph (see the module doc)."""
    cap = entry.capture
    graph = cap.graph
    inputs = []
    for nid, source in zip(graph.inputs, cap.sources):
        node = graph.node(nid)
        inputs.append({"name": node.name, "role": node.role, "source": source is not None})
    built = entry.built
    facts = {
        "break": None if entry.graph_break is None else str(entry.graph_break),
        "guards": entry.guard.describe(),
        "guard_checks": entry.guard.count,
        "inputs": inputs,
        "free_inputs": [i["name"] for i in inputs if i["role"] != "input"],
        "unlocated": list(cap.unlocated),
        "writes": [graph.node(graph.inputs[p]).name for p in cap.mutated],
        "replays": describe_replays(cap.replays),
        "after_each_call": [d.where(cap.snapshot) for d in cap.deferred],
        "validated": entry.validated,
        "runs": entry.runs,
        "timings": list(entry.timings),
        "symbols": sorted({s for s, _, _ in entry.symbols}),
    }
    if built is not None:
        facts["forward"] = built.forward
        facts["backward"] = built.backward
        facts["n_saved"] = built.n_saved
        facts["reports"] = built.reports
        facts["interpreted"] = {"forward": _interpreted(built.run_forward)}
        if built.backward is not None:
            facts["interpreted"]["backward"] = _interpreted(built.run_backward)
    return facts


def explain(compiled) -> Explanation:
    """The report for one compiled function."""
    lines = [
        f"irgrad.compile: backend={compiled.backend_name}, dynamic={compiled.dynamic}, "
        f"{len(compiled.entries)} cached graph(s)"
    ]
    lines.append("events:")
    lines += [f"  - {event}" for event in compiled.log] or ["  (not called yet)"]
    if compiled.size_checks.untraced:
        lines.append(
            f"  - {compiled.size_checks.untraced} call(s) at sizes not seen before ran eagerly, untraced"
        )
    graphs = []
    for n, entry in enumerate(compiled.entries):
        facts = describe_entry(entry)
        graphs.append(facts)
        lines.append(f"graph {n}:")
        lines.append(f"  guards: {facts['guard_checks']} checks; grad_enabled={entry.guard.grad_enabled}")
        lines += [f"    {g}" for g in facts["guards"][:40]]
        if len(facts["guards"]) > 40:
            lines.append(f"    ... and {len(facts['guards']) - 40} more")
        if facts["break"] is not None:
            lines.append(f"  graph break: {facts['break']} (runs eagerly)")
            continue
        if facts["free_inputs"]:
            lines.append("  free inputs (read afresh at every call): " + ", ".join(facts["free_inputs"]))
        if facts["unlocated"]:
            lines.append(
                "  reached by no walked path (held by identity; rebinding them is not seen): "
                + ", ".join(facts["unlocated"])
            )
        if facts["writes"]:
            lines.append("  written in place: " + ", ".join(facts["writes"]))
        if facts["replays"]:
            lines.append("  rebound after each call:")
            lines += [f"    {r}" for r in facts["replays"]]
        if facts["after_each_call"]:
            lines.append(
                "  called after each call (as the traced call did last): "
                + ", ".join(facts["after_each_call"])
            )
        lines.append(f"  validation: {facts['validated'] or 'skipped (the function has side effects)'}")
        lines.append(f"  calls run by this graph: {facts['runs']}")
        built, handed = entry.built, facts["interpreted"]
        forward = _counts(built.forward, built.reports.get("forward"), handed["forward"], built.run_forward)
        lines.append(f"  forward: {forward}")
        if built.backward is not None:
            counts = _counts(
                built.backward, built.reports.get("backward"), handed["backward"], built.run_backward
            )
            lines.append(f"  backward: {counts}; {built.n_saved} values saved for it")
        lines.append(
            "  time per stage: " + ", ".join(f"{name} {secs * 1e3:.1f} ms" for name, secs in entry.timings)
        )
        lines.append(_indent(str(built.forward), "  "))
        if built.backward is not None:
            lines.append(_indent(str(built.backward), "  "))
    report = Explanation("\n".join(lines))
    report.graphs = graphs
    report.events = list(compiled.log)
    report.breaks = [str(b) for b in compiled.breaks]
    return report
