"""A training loop whose batch size changes: compiling for many sizes.

An MLP (784-128-10, SGD with momentum, cross-entropy) trains on batches of 24 distinct
sizes from 8 to 256, first once each (every compile happens here), then 120 steps at
sizes drawn from them (steady state).  It compares, in one run: irgrad eager; irgrad
compiled with ``dynamic=True``, whose native programs take the sizes at run time; the
same with that turned off (one program per size, the fallback); PyTorch eager;
``torch.compile(dynamic=True)`` (with ``--with-torch-compile``: it takes minutes); and
JAX ``jit``, which compiles once per shape.  Each irgrad contender starts from an empty
disk cache of its own, so its first pass includes every LLVM compile.

Run: python -m benchmarks.bench_dynamic_sizes [--threads 1] [--with-torch-compile]
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

import numpy as np

from .machine import thread_env

SIZES = [int(s) for s in np.linspace(8, 256, 24).round()]
STEPS = 120


def _batches(seed: int = 0) -> tuple[list, list]:
    rng = np.random.default_rng(seed)
    data = {n: (rng.standard_normal((n, 784)).astype(np.float32), rng.integers(0, 10, n)) for n in SIZES}
    steady = [SIZES[i] for i in rng.integers(0, len(SIZES), STEPS)]
    return [data[n] for n in SIZES], [data[n] for n in steady]


def _irgrad(compiled: bool, run_time_sizes: bool = True) -> Callable:
    import irgrad
    import irgrad.nn as nn
    import irgrad.nn.functional as F
    from irgrad.codegen import sizes

    sizes.MOST_RUN_TIME_PROGRAMS = 8 if run_time_sizes else 0
    os.environ["IRGRAD_CACHE_DIR"] = tempfile.mkdtemp(prefix="irgrad-dynamic-")
    irgrad.manual_seed(0)
    model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
    opt = irgrad.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def step(x, y):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    if compiled:
        step = irgrad.compile(step, dynamic=True, backend="llvm")
    return lambda x, y: step(irgrad.tensor(x), irgrad.tensor(y)).item()


def _torch(compiled: bool) -> Callable:
    import torch

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(784, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10))
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def step(x, y):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    if compiled:
        step = torch.compile(step, dynamic=True)
    return lambda x, y: step(torch.from_numpy(x), torch.from_numpy(y)).item()


def _jax() -> Callable:
    import jax
    import jax.numpy as jnp

    key = jax.random.PRNGKey(0)
    k1, k2 = jax.random.split(key)
    params = {
        "w1": jax.random.normal(k1, (784, 128)) * 0.03,
        "b1": jnp.zeros(128),
        "w2": jax.random.normal(k2, (128, 10)) * 0.08,
        "b2": jnp.zeros(10),
    }
    momentum = jax.tree_util.tree_map(jnp.zeros_like, params)

    def loss_of(p, x, y):
        h = jax.nn.relu(x @ p["w1"] + p["b1"])
        logits = h @ p["w2"] + p["b2"]
        return -jnp.mean(jax.nn.log_softmax(logits)[jnp.arange(x.shape[0]), y])

    @jax.jit
    def step(p, m, x, y):
        loss, g = jax.value_and_grad(loss_of)(p, x, y)
        m = jax.tree_util.tree_map(lambda b, d: 0.9 * b + d, m, g)
        p = jax.tree_util.tree_map(lambda w, b: w - 0.01 * b, p, m)
        return p, m, loss

    state = [params, momentum]

    def run(x, y):
        state[0], state[1], loss = step(state[0], state[1], x, y)
        return float(loss)

    return run


def _measure(make: Callable[[], Callable], first: list, steady: list) -> tuple[float, float]:
    """(seconds for one step at each size, compiles included; median ms of a later step)."""
    run = make()
    start = time.perf_counter()
    for x, y in first:
        run(x, y)
    first_pass = time.perf_counter() - start
    times = []
    for x, y in steady:
        start = time.perf_counter()
        run(x, y)
        times.append(time.perf_counter() - start)
    return first_pass, float(np.median(times)) * 1e3


def _contenders(with_torch_compile: bool) -> dict[str, Callable]:
    contenders: dict[str, Callable] = {
        "irgrad eager": lambda: _irgrad(False),
        "irgrad compiled (run-time sizes)": lambda: _irgrad(True),
        "irgrad compiled (a program per size)": lambda: _irgrad(True, run_time_sizes=False),
    }
    if importlib.util.find_spec("torch") is not None:
        contenders["torch eager"] = lambda: _torch(False)
        if with_torch_compile:
            contenders["torch.compile(dynamic=True)"] = lambda: _torch(True)
    if importlib.util.find_spec("jax") is not None:
        contenders["jax jit (a compile per shape)"] = _jax
    return contenders


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--with-torch-compile", action="store_true")
    parser.add_argument("--contender", help=argparse.SUPPRESS)  # one contender, in this process
    args = parser.parse_args(argv)
    contenders = _contenders(args.with_torch_compile)
    if args.contender:  # a child process: nothing compiled before, by anyone
        if args.threads:
            for module in ("torch", "irgrad"):
                if importlib.util.find_spec(module) is not None:
                    importlib.import_module(module).set_num_threads(args.threads)
        first, steady = _batches()
        print(json.dumps(_measure(contenders[args.contender], first, steady)))
        return
    print(f"{len(SIZES)} batch sizes from {SIZES[0]} to {SIZES[-1]}, then {STEPS} steps among them")
    print("each contender in a new process; irgrad's with an empty disk cache")
    print(f"{'contender':40s} {'first pass (s)':>15s} {'steady step (ms)':>17s} {'vs irgrad eager':>16s}")
    base = None
    for name in contenders:
        command = [sys.executable, "-m", "benchmarks.bench_dynamic_sizes", "--contender", name]
        command += ["--threads", str(args.threads)] if args.threads else []
        environment = {**os.environ, **(thread_env(args.threads) if args.threads else {})}
        done = subprocess.run(command, capture_output=True, text=True, env=environment)
        if done.returncode:
            print(f"{name:40s} failed: {done.stderr.strip().splitlines()[-1:]}")
            continue
        first_pass, step_ms = json.loads(done.stdout.strip().splitlines()[-1])
        base = base or step_ms
        print(f"{name:40s} {first_pass:15.2f} {step_ms:17.3f} {step_ms / base:15.2f}x")


if __name__ == "__main__":
    main()
