"""Compile latency of irgrad.compile (trace + passes + autodiff + partition + lowering).

For the three models of the compiler issue (the MLP, the CNN and the LSTM classifier
of benchmarks/workloads.py), and the LSTM classifier as a loop over ``nn.LSTMCell`` at
4 and 32 steps (a traced loop's graph grows with its steps), this times the first call of a compiled training
forward minus a warm call, and the stages that make it up, in one run (the passes: the
numpy backend).

Then the llvm backend end to end, each measurement in a new process, as a user meets it:
with an empty disk cache (the first compile on a machine, LLVM included) and with a warm
one (a later process: the compiled programs come from the cache).  The children write
Python's bytecode cache, as an installed package has one.

Run: python -m benchmarks.bench_compile_latency
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

import irgrad
import irgrad.nn as nn


class _CNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(3136, 128), nn.ReLU(), nn.Linear(128, 10))

    def forward(self, x):
        return self.head(self.features(x))


class _LSTM(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(10, 128, batch_first=True)
        self.fc = nn.Linear(128, 2)

    def forward(self, x):
        _, (h, _) = self.lstm(x)
        return self.fc(h[-1])


class _CellLoop(nn.Module):
    """The LSTM classifier written as a Python loop over ``nn.LSTMCell`` (traced step by
    step; roll and stack make its graph as one scan's)."""

    def __init__(self) -> None:
        super().__init__()
        self.cell = nn.LSTMCell(10, 128)
        self.fc = nn.Linear(128, 2)

    def forward(self, x):
        h = c = irgrad.zeros(x.shape[0], 128)
        for t in range(x.shape[1]):
            h, c = self.cell(x[:, t], (h, c))
        return self.fc(h)


MODELS = {
    "MLP 784-128-10, batch 64": (
        lambda: nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10)),
        (64, 784),
    ),
    "CNN, batch 32 x 1 x 28 x 28": (_CNN, (32, 1, 28, 28)),
    "LSTM(10, 128), seq 32, batch 16": (_LSTM, (16, 32, 10)),
    "LSTMCell loop, seq 4, batch 16": (_CellLoop, (16, 4, 10)),
    "LSTMCell loop, seq 32, batch 16": (_CellLoop, (16, 32, 10)),
}


def measure(make, shape) -> dict:
    """The first call's time minus a warm call's: tracing, passes and building.

    A training loop compiles twice: the first call (no ``.grad`` yet) and the second (the
    state now holds gradients, a different guard); each compile is timed alike and the
    first is reported, with the second's stage times beside it."""
    irgrad.manual_seed(0)
    model = make()
    compiled = irgrad.compile(model, backend="numpy")
    x = irgrad.randn(*shape)
    calls = []
    for _ in range(6):
        start = time.perf_counter()
        compiled(x).sum().backward()
        calls.append(time.perf_counter() - start)
    warm = float(np.median(calls[2:]))
    entries = compiled._compiled.cache
    built = entries[-1].built
    return {
        "latency": calls[0] - warm,
        "second": calls[1] - warm,
        "stages": entries[0].timings,
        "nodes": len(built.forward) + (len(built.backward) if built.backward is not None else 0),
    }


def _w5(x):
    return (irgrad.tanh(x) * irgrad.sigmoid(x) + 0.5 * x * x).sum()


# The workloads whose latency the llvm backend issue sets aims for (new process: under
# 0.3 s with an empty cache, under 50 ms with a warm one): a model's training forward.
NEW_PROCESS = {
    "W1: MLP 784-128-10, batch 64": "mlp",
    "W5: 1,000,000 floats, tanh * sigmoid + 0.5 x^2": "w5",
}


def _child(which: str) -> None:
    """In a new process: one compiled training call's latency (first call minus a warm
    one), and the time of the ``irgrad.compile`` call before it (which imports networkx),
    printed as JSON.  irgrad and numpy are warmed by an eager call first, as a script's
    own code would have before it compiles."""
    irgrad.manual_seed(0)
    if which == "mlp":
        make, shape = MODELS["MLP 784-128-10, batch 64"]
        fn = make()
        x = irgrad.randn(*shape)
    else:
        fn = _w5
        x = irgrad.randn(1_000_000, requires_grad=True)
    fn(x).sum().backward()
    start = time.perf_counter()
    compiled = irgrad.compile(fn)
    wrapping = time.perf_counter() - start
    calls = []
    for _ in range(6):
        start = time.perf_counter()
        compiled(x).sum().backward()
        calls.append(time.perf_counter() - start)
    print(json.dumps({"latency": calls[0] - float(np.median(calls[2:])), "compile_call": wrapping}))


def _in_new_process(which: str, cache: str) -> tuple[float, float]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["IRGRAD_CACHE_DIR"] = cache
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_compile_latency", "--child", which],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return result["latency"], result["compile_call"]


def main() -> None:
    print(f"{'model':34s} {'compile latency':>16s} {'second':>8s}   slowest stages of the first")
    for name, (make, shape) in MODELS.items():
        result = measure(make, shape)
        stages = sorted(result["stages"], key=lambda s: -s[1])[:3]
        top = ", ".join(f"{stage} {secs * 1e3:.0f} ms" for stage, secs in stages)
        print(f"{name:34s} {result['latency'] * 1e3:13.0f} ms {result['second'] * 1e3:5.0f} ms   {top}")
    print()
    print(
        f"{'llvm backend, a new process':46s} {'empty cache':>12s} {'warm cache (median of 3)':>26s}"
        "   (the irgrad.compile() call before it: empty, warm)"
    )
    for name, which in NEW_PROCESS.items():
        with tempfile.TemporaryDirectory() as cache:
            cold, cold_call = _in_new_process(which, cache)
            warm_runs = [_in_new_process(which, cache) for _ in range(3)]
        warm = float(np.median([latency for latency, _ in warm_runs]))
        warm_call = float(np.median([call for _, call in warm_runs]))
        print(
            f"{name:46s} {cold * 1e3:9.0f} ms {warm * 1e3:23.0f} ms"
            f"   ({cold_call * 1e3:.0f} ms, {warm_call * 1e3:.0f} ms)"
        )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        _child(sys.argv[2])
    else:
        main()
