"""Turning benchmark results into a lower bound per workload, a markdown report, JSON and a bar chart.

All functions take the plain dict that ``benchmarks.run.run`` returns (the same
that lands in latest.json), so a report can be rebuilt from a saved JSON file.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from . import workloads as workloads_module
from .machine import Limits

BASELINE = "torch eager"
FALLBACK_BASELINE = "irgrad eager"


def lower_bound(flops: float, nbytes: float, limits: Limits) -> dict[str, Any]:
    """The time a step cannot beat on this machine: max(FLOPs / sgemm rate, bytes / copy bandwidth)."""
    compute_ms = flops / (limits.sgemm_gflops * 1e9) * 1e3
    memory_ms = nbytes / (limits.copy_gbs * 1e9) * 1e3
    return {
        "compute_bound_ms": compute_ms,
        "memory_bound_ms": memory_ms,
        "bound_ms": max(compute_ms, memory_ms),
        "bound_by": "compute" if compute_ms >= memory_ms else "memory",
    }


def baseline_name(data: dict[str, Any]) -> str:
    """What ratios are relative to: PyTorch eager when it ran anywhere, else irgrad eager."""
    for w in data["workloads"]:
        for c in w["contenders"]:
            if c["name"] == BASELINE and c["median_ms"] is not None:
                return BASELINE
    return FALLBACK_BASELINE


def contender_names(data: dict[str, Any]) -> list[str]:
    """Every contender that appears, in first-seen order."""
    names: list[str] = []
    for w in data["workloads"]:
        for c in w["contenders"]:
            if c["name"] not in names:
                names.append(c["name"])
    return names


def _base_ms(workload: dict[str, Any], base: str) -> float | None:
    for c in workload["contenders"]:
        if c["name"] == base and c["status"] == "ok":
            return c["median_ms"]
    return None


def _fmt_ms(ms: float | None) -> str:
    if ms is None:
        return "-"
    return f"{ms:.3g}" if ms < 1 else f"{ms:.1f}" if ms < 1000 else f"{ms:.0f}"


def _ratio(a: float | None, b: float | None) -> str:
    return "-" if a is None or not b else f"{a / b:.2f}x"


def _cell(c: dict[str, Any] | None, base_ms: float | None) -> str:
    if c is None:
        return "-"
    if c["status"] in ("n/a", "WRONG"):
        return f"{c['status']}: " + _escape(c["reason"])[:70]
    return f"{_fmt_ms(c['median_ms'])} ({_ratio(c['median_ms'], base_ms)})"


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(data: dict[str, Any]) -> str:
    """The report: summary table, detailed table, workload bounds, machine, command and notes."""
    base = baseline_name(data)
    names = contender_names(data)
    m, lim = data["machine"], data["limits"]
    lines = ["# irgrad benchmarks", ""]
    lines.append(
        f"Time per step, median in ms (in parentheses: relative to {base}); "
        "`bound` is the workload's lower bound on this machine, the last column the best contender's "
        "median over it."
    )
    lines.append("")
    lines.append("| workload | " + " | ".join(names) + " | bound ms | best / bound |")
    lines.append("|---" * (len(names) + 3) + "|")
    for w in data["workloads"]:
        by_name = {c["name"]: c for c in w["contenders"]}
        base_ms = _base_ms(w, base)
        ok = [c["median_ms"] for c in w["contenders"] if c["status"] == "ok" and c["median_ms"] is not None]
        best = min(ok) if ok else None
        cells = [_cell(by_name.get(n), base_ms) for n in names]
        lines.append(
            f"| {w['name']} | "
            + " | ".join(cells)
            + f" | {_fmt_ms(w['bound_ms'])} | {_ratio(best, w['bound_ms'])} |"
        )
    lines += ["", "## Details", ""]
    lines.append(
        f"| workload | contender | median ms | min ms | max ms | vs {base} | compile s | vs bound | steps |"
    )
    lines.append("|---" * 9 + "|")
    for w in data["workloads"]:
        base_ms = _base_ms(w, base)
        for c in w["contenders"]:
            if c["status"] in ("n/a", "WRONG"):
                lines.append(
                    f"| {w['name']} | {c['name']} | {c['status']}: {_escape(c['reason'])} | | | | | | |"
                )
                continue
            compile_s = "-" if c["compile_s"] is None else f"{c['compile_s']:.2f}"
            lines.append(
                f"| {w['name']} | {c['name']} | {_fmt_ms(c['median_ms'])} | {_fmt_ms(c['min_ms'])} | "
                f"{_fmt_ms(c['max_ms'])} | {_ratio(c['median_ms'], base_ms)} | {compile_s} | "
                f"{_ratio(c['median_ms'], w['bound_ms'])} | {c['steps']} |"
            )
    lines += ["", "## Workloads and lower bounds", ""]
    lines.append("| workload | what | GFLOP | MB moved | compute bound ms | memory bound ms | bound |")
    lines.append("|---" * 7 + "|")
    for w in data["workloads"]:
        lines.append(
            f"| {w['name']} | {_escape(w['description'])} | {w['gflop']:.3g} | {w['mb_moved']:.3g} | "
            f"{_fmt_ms(w['compute_bound_ms'])} | {_fmt_ms(w['memory_bound_ms'])} | {w['bound_by']} |"
        )
    lines += ["", "## Machine", ""]
    lines.append(f"- command: `{data['command']}`")
    lines += [f"- {key}: {value}" for key, value in m.items() if value is not None]
    lines.append(
        f"- measured limits: sgemm {lim['sgemm_gflops']:.1f} GFLOP/s (numpy float32 "
        f"{lim['sgemm_n']}x{lim['sgemm_n']} matmul, best run), copy {lim['copy_gbs']:.1f} GB/s "
        f"(np.copyto of {lim['copy_mb']:.0f} MB, read + write bytes, best run)"
    )
    lines.append(f"- run time: {data['seconds']:.0f} s")
    lines += ["", "## Method", ""]
    lines.append(
        "All contenders run in one process. Per workload each makes a first call (compile latency = first call "
        "minus the median warm step) and two more; compiled irgrad is then checked against eager irgrad, both "
        "from the same initial weights (the loss, every gradient and every parameter, allclose): a compiled "
        "contender that differs is `WRONG` and is not timed, unless it matches eager irgrad in float64 where eager "
        "float32 does not (a rounding put eager on the other side of a max-pool's or ReLU's discontinuity). `irgrad compiled step` compiles the whole training "
        "step (zero_grad, forward, loss, backward, SGD step) as one function. Then all take warm-up steps and "
        "then turns in rotating order until the workload's time is "
        "used. A turn is a 0.2 s pause, one untimed step and about 0.2 s of timed steps, so that no contender "
        "is timed while another framework's worker threads still spin: numpy's OpenBLAS workers spin for about "
        "130 ms after a GEMM, torch's OpenMP workers for about 10 ms, and on 2 cores a spinning worker takes a "
        "core from whoever runs next (alternating single steps slows each by 2-4x; a 20 ms pause still cost "
        "torch up to 20%). Median, min and max are over the timed steps. A training "
        "step is zero_grad, forward, loss (cross-entropy, or W5's scalar), backward and an SGD step (lr 0.01). "
        "irgrad compiled and torch.compile compile the model's forward (their backward graphs come with it); "
        "loss, backward and the optimizer step run as usual. JAX jit compiles the whole step (value_and_grad "
        "and the SGD update)."
    )
    lines.append("")
    lines.append(
        "Lower bounds (rough, on purpose): max(FLOPs / sgemm rate, bytes / copy bandwidth). "
        + workloads_module.ACCOUNTING
    )
    if data["notes"]:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in data["notes"]]
    return "\n".join(lines) + "\n"


def bar_chart(data: dict[str, Any], path: Path) -> str | None:
    """Write a grouped bar chart of time per step relative to the baseline; returns a note if it can't."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "bar chart skipped: matplotlib is not installed (pip install -e '.[bench]')"
    base = baseline_name(data)
    names = contender_names(data)
    workloads = data["workloads"]
    width = 0.8 / max(1, len(names))
    fig, ax = plt.subplots(figsize=(max(7.0, 1.4 * len(workloads) + 4), 4.5))
    ratios_seen = []
    for k, name in enumerate(names):
        xs, ys, hatches, missing = [], [], [], []
        for i, w in enumerate(workloads):
            base_ms = _base_ms(w, base)
            x = i + (k - (len(names) - 1) / 2) * width
            c = next((c for c in w["contenders"] if c["name"] == name), None)
            if c is not None and c["status"] != "n/a" and c["median_ms"] and base_ms:
                xs.append(x)
                ys.append(c["median_ms"] / base_ms)
                hatches.append("xx" if c["status"] == "WRONG" else "")
            elif c is not None:
                missing.append(x)
        ratios_seen += ys
        bars = ax.bar(xs, ys, width, label=name)
        for bar, hatch in zip(bars, hatches):
            bar.set_hatch(hatch)
        for x in missing:
            ax.text(x, 1.0, "n/a", rotation=90, ha="center", va="bottom", fontsize="x-small")
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_xticks(range(len(workloads)), [w["name"] for w in workloads])
    if ratios_seen and max(ratios_seen) / max(min(ratios_seen), 1e-12) > 20:
        ax.set_yscale("log")
    ax.set_ylabel(f"time per step / {base} (lower is better)")
    if any(c["status"] == "WRONG" for w in workloads for c in w["contenders"]):
        ax.text(0.01, 0.98, "hatched: WRONG result", transform=ax.transAxes, va="top", fontsize="small")
    ax.set_title(f"irgrad benchmarks ({data['machine'].get('threads')} thread(s))")
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return None


def write_all(data: dict[str, Any], out_dir: Path) -> list[Path]:
    """Write latest.json, latest.png (if matplotlib is there) and latest.md into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    png = out_dir / "latest.png"
    note = bar_chart(data, png)
    if note is None:
        written.append(png)
    elif note not in data["notes"]:
        data["notes"].append(note)
    json_path = out_dir / "latest.json"
    json_path.write_text(json.dumps(data, indent=1, default=_jsonable) + "\n", encoding="utf-8")
    md = out_dir / "latest.md"
    md.write_text(markdown(data), encoding="utf-8")
    return [md, json_path, *written]


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item"):
        return value.item()
    return str(value)
