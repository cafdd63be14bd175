"""Eager-mode overhead: a chain of ~20 small-tensor ops, forward + backward, irgrad vs PyTorch.

On 16x16 float32 tensors the arithmetic is negligible, so the time per iteration
is almost entirely framework overhead: op dispatch, graph recording and the
backward engine.  Run from the repository root::

    python -m benchmarks.bench_eager_overhead            # the table
    python -m benchmarks.bench_eager_overhead --profile  # plus a cProfile of irgrad's side
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from types import ModuleType

import numpy as np

import irgrad

SIZE = 16
WARMUP = 30
RUNS = 320
ROUNDS = 8
TIME_BUDGET_S = 15.0  # stop early (after a whole round) on a heavily loaded machine


def make_params(lib: ModuleType) -> list:
    """Three weight matrices, a bias and a scale, all leaves that require grad."""
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal((SIZE, SIZE)).astype(np.float32) * 0.3 for _ in range(3)]
    arrays += [rng.standard_normal(SIZE).astype(np.float32), np.float32(0.5)]
    return [lib.tensor(a, requires_grad=True) for a in arrays]


def step(lib: ModuleType, x, params: list, reset: bool = True) -> None:
    """One forward (19 ops) and backward through the chain; ``reset`` clears the grads after."""
    w1, w2, w3, b, s = params
    h = x @ w1  # matmul
    h = h + b  # add (broadcast)
    h = h.tanh()
    h = h * s  # mul by a 0-d parameter
    h = h.sigmoid()
    h = h @ w2
    h = h.relu()
    h = h.transpose(0, 1)
    h = h.reshape(SIZE * 2, SIZE // 2)
    h = h.exp()
    h = h - 1.0
    h = h.reshape(SIZE, SIZE)
    h = h @ w3
    h = h / 2.0
    h = h.pow(2)
    h = h.mean(dim=1, keepdim=True)
    h = h.sqrt()
    h = h + h.sum()
    loss = h.mean()
    loss.backward()
    if reset:
        for p in params:
            p.grad = None


def time_interleaved(fns: dict[str, Callable[[], None]]) -> dict[str, tuple[float, float]]:
    """(median, best) seconds per call of each function after a warm-up.

    The libraries take turns in short rounds so that a burst of load from other
    processes on the machine hits all of them alike.
    """
    for fn in fns.values():
        for _ in range(WARMUP):
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    deadline = time.perf_counter() + TIME_BUDGET_S
    for _ in range(ROUNDS):
        if time.perf_counter() > deadline:
            break
        for name, fn in fns.items():
            for _ in range(RUNS // ROUNDS):
                start = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - start)
    return {name: (statistics.median(ts), min(ts)) for name, ts in times.items()}


def make_step(lib: ModuleType) -> Callable[[], None]:
    params = make_params(lib)
    x = lib.tensor(np.random.default_rng(1).standard_normal((SIZE, SIZE)).astype(np.float32))
    return lambda: step(lib, x, params)


def check_same_grads(torch: ModuleType) -> float:
    """Largest difference between irgrad's and PyTorch's gradients for the benchmarked chain."""
    grads = []
    for lib in (irgrad, torch):
        params = make_params(lib)
        x = lib.tensor(np.random.default_rng(1).standard_normal((SIZE, SIZE)).astype(np.float32))
        step(lib, x, params, reset=False)
        grads.append([p.grad.numpy() for p in params])
    return max(float(np.abs(a - b).max()) for a, b in zip(*grads))


def profile_irgrad(top: int = 25) -> None:
    import cProfile
    import pstats

    params = make_params(irgrad)
    x = irgrad.tensor(np.random.default_rng(1).standard_normal((SIZE, SIZE)).astype(np.float32))
    for _ in range(WARMUP):
        step(irgrad, x, params)
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(RUNS):
        step(irgrad, x, params)
    profiler.disable()
    pstats.Stats(profiler).sort_stats("tottime").print_stats(top)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", action="store_true", help="cProfile irgrad's forward+backward")
    args = parser.parse_args()

    try:
        import torch
    except ImportError:
        torch = None

    fns = {"irgrad": make_step(irgrad)}
    if torch is not None:
        torch.set_num_threads(2)
        fns["torch"] = make_step(torch)
    rows = list(time_interleaved(fns).items())

    print(
        f"eager forward+backward, 19 ops on {SIZE}x{SIZE} float32, up to {RUNS} runs after {WARMUP} warm-up"
    )
    print(f"{'library':<10}{'median us':>12}{'best us':>12}")
    for name, (median, best) in rows:
        print(f"{name:<10}{median * 1e6:>12.1f}{best * 1e6:>12.1f}")
    if torch is not None:
        (med_ig, best_ig), (med_t, best_t) = rows[0][1], rows[1][1]
        print(f"ratio irgrad/torch: {med_ig / med_t:.2f}x (median), {best_ig / best_t:.2f}x (best)")
        print(f"max |grad difference| vs torch: {check_same_grads(torch):.2e}")
    if args.profile:
        profile_irgrad()


if __name__ == "__main__":
    main()
