"""Smoke tests of the benchmark runner: tiny workloads, few steps, no timing thresholds, no torch needed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from benchmarks import report
from benchmarks.machine import Limits, thread_env
from benchmarks.run import Settings, irgrad_backends, measure_workload, parse_args, run
from benchmarks.workloads import (
    CNN,
    MLP,
    Contender,
    Elementwise,
    LSTMClassifier,
    Workload,
    select,
    standard_workloads,
)

TINY = Settings(
    warmup=1,
    min_rounds=2,
    max_rounds=3,
    seconds_per_workload=0.05,
    deadline=10.0,
    torch_compile=False,
    sgemm_n=64,
    copy_mb=1.0,
    limit_repeats=1,
    turn_ms=0.0,
    pause_ms=0.0,
)


def _quiet(*_args) -> None:
    pass


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    workloads = [
        Workload("T-train", MLP((8, 4, 3), 2), "train"),
        Workload("T-infer", MLP((8, 4, 3), 2), "infer"),
        Workload("E-train", Elementwise(50), "train"),
    ]
    data = run(workloads, TINY, threads=1, frameworks=(), out_dir=out, command="pytest", log=_quiet)
    return data, out


def test_run_writes_json_and_markdown(tiny_run):
    data, out = tiny_run
    saved = json.loads((out / "latest.json").read_text())
    assert saved["command"] == "pytest"
    assert {"cpu", "cores", "threads", "numpy", "irgrad", "date", "native code for", "numpy's BLAS"} <= set(
        saved["machine"]
    )
    assert saved["machine"]["native code for"].endswith(("(AVX-512)", "(AVX2)", "(SSE)"))
    assert saved["limits"]["sgemm_gflops"] > 0 and saved["limits"]["copy_gbs"] > 0
    assert [w["name"] for w in saved["workloads"]] == ["T-train", "T-infer", "E-train"]
    backends, _ = irgrad_backends()
    for w in saved["workloads"]:
        assert w["bound_ms"] == max(w["compute_bound_ms"], w["memory_bound_ms"]) > 0
        names = [c["name"] for c in w["contenders"]]
        expected = ["irgrad eager"]
        for b in backends:
            expected += [f"irgrad compiled ({b})"] + (
                [f"irgrad compiled step ({b})"] if w["mode"] == "train" else []
            )
        assert names == expected
        for c in w["contenders"]:
            assert c["status"] in {"ok", "n/a", "WRONG"}
            if c["status"] == "n/a":
                assert c["reason"] and c["median_ms"] is None
            else:
                assert TINY.min_rounds <= c["steps"] == len(c["times_ms"]) <= TINY.max_rounds
                assert c["min_ms"] <= c["median_ms"] <= c["max_ms"]
        eager = w["contenders"][0]
        assert eager["status"] == "ok" and eager["compile_s"] is None

    md = (out / "latest.md").read_text()
    assert md == report.markdown(saved)
    assert "relative to irgrad eager" in md  # no torch here: ratios fall back to irgrad eager
    header = "| workload | " + " | ".join(report.contender_names(saved)) + " | bound ms | best / bound |"
    assert header in md
    for w in saved["workloads"]:
        assert f"| {w['name']} | irgrad eager | " in md
    assert "- command: `pytest`" in md
    assert (out / "latest.png").exists() or any("matplotlib" in n for n in saved["notes"])


def test_compiled_irgrad_matches_eager_on_tiny_workloads(tiny_run):
    data, _ = tiny_run
    for w in data["workloads"]:
        for c in w["contenders"][1:]:
            assert c["status"] != "WRONG", (w["name"], c["reason"])
            if c["status"] == "ok":
                assert c["max_abs_diff_vs_eager"] is not None and c["max_abs_diff_vs_eager"] < 1e-4


def _fake(name: str, step, values) -> tuple[str, str, object]:
    return name, "irgrad", lambda: Contender(name, "irgrad", step, lambda: values)


def test_failures_and_wrong_results_are_reported_not_raised():
    def broken_factory():
        raise RuntimeError("cannot compile this")

    calls = {"n": 0}

    def fails_on_fourth_step():
        calls["n"] += 1
        if calls["n"] == 4:
            raise ValueError("boom")

    good = {"output": np.ones(3, np.float32)}
    factories = [
        _fake("irgrad eager", lambda: None, good),
        ("irgrad compiled (broken)", "irgrad", broken_factory),
        _fake("irgrad compiled (wrong)", lambda: None, {"output": np.full(3, 2.0, np.float32)}),
        _fake("irgrad compiled (flaky)", fails_on_fourth_step, good),
    ]
    settings = Settings(
        warmup=1,
        min_rounds=5,
        max_rounds=5,
        seconds_per_workload=0.01,
        deadline=1.0,
        torch_compile=False,
        turn_ms=0.0,
        pause_ms=0.0,
    )
    eager, broken, wrong, flaky = measure_workload(
        Workload("T", MLP((2, 2), 1), "infer"), factories, settings, 0.01, _quiet
    )
    assert (eager.status, len(eager.times_ms)) == ("ok", 5)
    assert broken.status == "n/a" and "cannot compile this" in broken.reason
    assert wrong.status == "WRONG" and wrong.max_abs_diff == pytest.approx(1.0) and not wrong.times_ms
    assert flaky.status == "n/a" and "boom" in flaky.reason and not flaky.times_ms


def test_contenders_take_turns_that_start_with_an_untimed_step():
    """No contender is timed on the step right after another one ran: each turn starts
    untimed (the other framework's worker threads may still spin), then times steps."""
    calls: list[str] = []
    good = {"output": np.ones(3, np.float32)}
    factories = [
        _fake(name, lambda name=name: calls.append(name), good) for name in ("irgrad eager", "other")
    ]
    settings = Settings(
        warmup=1,
        min_rounds=3,
        max_rounds=3,
        seconds_per_workload=0.0,
        deadline=1.0,
        torch_compile=False,
        turn_ms=0.0,
        pause_ms=0.0,
    )
    first, second = measure_workload(Workload("T", MLP((2, 2), 1), "infer"), factories, settings, 0.0, _quiet)
    setup = ["irgrad eager"] * 3 + ["other"] * 3  # first call and two more before the check
    assert calls[:6] == setup
    turns = [calls[i : i + 2] for i in range(6, len(calls), 2)]
    assert turns == [
        ["irgrad eager"] * 2,
        ["other"] * 2,
        ["other"] * 2,
        ["irgrad eager"] * 2,
        ["irgrad eager"] * 2,
        ["other"] * 2,
    ]
    assert len(first.times_ms) == len(second.times_ms) == 3  # one timed step per turn (turn_ms=0)


def test_counts_and_bounds():
    mlp = MLP((784, 128, 10), 64)
    assert Workload("a", mlp, "infer").flops() == 2 * 64 * (784 * 128 + 128 * 10)
    assert Workload("a", mlp, "train").flops() == 3 * Workload("a", mlp, "infer").flops()
    assert mlp.n_params() == 784 * 128 + 128 + 128 * 10 + 10
    assert CNN().n_params() == 32 * 9 + 32 + 64 * 32 * 9 + 64 + 3136 * 128 + 128 + 128 * 10 + 10
    assert LSTMClassifier().n_params() == 4 * 128 * (10 + 128) + 2 * 4 * 128 + 128 * 2 + 2
    assert Workload("e", Elementwise(1000), "train").bytes_moved() == 5 * 4 * 1000
    bound = report.lower_bound(2e9, 1e9, Limits(sgemm_gflops=100.0, copy_gbs=10.0, sgemm_n=1, copy_mb=1))
    assert bound["compute_bound_ms"] == pytest.approx(20.0) and bound["memory_bound_ms"] == pytest.approx(
        100.0
    )
    assert bound["bound_ms"] == pytest.approx(100.0) and bound["bound_by"] == "memory"


def test_cli_selection_and_threads():
    names = [w.name for w in standard_workloads()]
    assert names == ["W1-train", "W1-infer", "W2-train", "W3-train", "W3-infer", "W4-train", "W5-train"]
    assert [w.name for w in select(standard_workloads(), "w3")] == ["W3-train", "W3-infer"]
    assert [w.name for w in select(standard_workloads(), "W1-infer,W5")] == ["W1-infer", "W5-train"]
    with pytest.raises(ValueError, match="matches no workload"):
        select(standard_workloads(), "W9")
    args = parse_args(["--quick", "--only", "W1", "--threads", "1"])
    assert (args.quick, args.only, args.threads, args.with_torch_compile) == (True, "W1", 1, False)
    assert thread_env(1)["OMP_NUM_THREADS"] == "1" and thread_env(2)["OPENBLAS_NUM_THREADS"] == "2"
    backends, skipped = irgrad_backends()
    assert "eager" in skipped and "eager" not in backends


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="no CPU affinity on this platform")
def test_one_thread_runs_on_one_cpu():
    # JAX sizes its thread pool by the CPUs a process may use: --threads 1 pins one CPU
    # (in a child process, so this one keeps its CPUs)
    code = (
        "from benchmarks.machine import pin_cpus; import os; print(pin_cpus(1), len(os.sched_getaffinity(0)))"
    )
    root = Path(__file__).resolve().parent.parent
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root)
    cpus, allowed = out.stdout.split("]")
    assert len(cpus.strip("[").split(",")) == 1 and allowed.strip() == "1"
