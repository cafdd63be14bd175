"""Compile latency of irgrad.compile (trace + passes + autodiff + partition + lowering).

For the three models of the compiler issue (the MLP, the CNN and the LSTM classifier
of benchmarks/workloads.py), and the LSTM classifier as a loop over ``nn.LSTMCell`` at
4 and 32 steps (a traced loop's graph grows with its steps), this times the first call of a compiled training
forward minus a warm call, and the stages that make it up, in one run.

Run: python -m benchmarks.bench_compile_latency
"""

from __future__ import annotations

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


def main() -> None:
    print(f"{'model':34s} {'compile latency':>16s} {'second':>8s}   slowest stages of the first")
    for name, (make, shape) in MODELS.items():
        result = measure(make, shape)
        stages = sorted(result["stages"], key=lambda s: -s[1])[:3]
        top = ", ".join(f"{stage} {secs * 1e3:.0f} ms" for stage, secs in stages)
        print(f"{name:34s} {result['latency'] * 1e3:13.0f} ms {result['second'] * 1e3:5.0f} ms   {top}")


if __name__ == "__main__":
    main()
