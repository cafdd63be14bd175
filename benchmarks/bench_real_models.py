"""Step time of the real-model shapes, eager against compiled (``python -m benchmarks.bench_real_models``).

For each model of :mod:`benchmarks.real_models` (a char transformer, a GPT block with
``scaled_dot_product_attention``, a ResNet, the DCGAN pair, a tied LSTM LM), three
copies from the same weights train with Adam on the same batches: eagerly, with
``irgrad.compile(model)`` (loss, backward and step outside) and with the whole training
step compiled as one function.  They take turns in blocks (as ``benchmarks.run`` does:
a pause, an untimed step, then timed steps), and the median step time and its ratio to
eager are printed.  Before timing, the compiled copies are checked against eager
(three SGD steps: see :func:`check`).  ``--backend numpy`` times the numpy backend.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

import numpy as np

import irgrad

from .real_models import MODELS


def adam(params) -> irgrad.optim.Optimizer:
    """What the timed steps train with."""
    return irgrad.optim.Adam(params, lr=1e-3)


def sgd(params) -> irgrad.optim.Optimizer:
    """What the check trains with (see :func:`check`)."""
    return irgrad.optim.SGD(params, lr=1e-2, momentum=0.9)


def _contenders(name: str, backend: str, make_optimizer=adam) -> dict:
    make, batch, loss_fn = MODELS[name]
    irgrad.manual_seed(0)
    models = {"eager": make()}
    models["compiled model"] = copy.deepcopy(models["eager"])
    models["compiled step"] = copy.deepcopy(models["eager"])
    steps = {}
    for label, model in models.items():
        opt = make_optimizer(model.parameters())
        forward = irgrad.compile(model, backend=backend) if label == "compiled model" else model

        def train_step(x, y, forward=forward, opt=opt):
            opt.zero_grad()
            loss = loss_fn(forward(x), y)
            loss.backward()
            opt.step()
            return loss.detach()

        steps[label] = irgrad.compile(train_step, backend=backend) if label == "compiled step" else train_step
    return steps, models, batch


def check(name: str, backend: str) -> None:
    """Three SGD steps of each compiled copy end where eager's do.  (Not Adam's: it
    normalizes every gradient, so a parameter whose gradient is zero but for rounding,
    such as attention's key bias, moves by the learning rate in the direction of that
    rounding, which any change of summation order flips.)"""
    steps, models, batch = _contenders(name, backend, sgd)
    x, y = batch(0)
    for k in range(3):
        for step in steps.values():
            irgrad.manual_seed(k)
            step(x, y)
    reference = models["eager"].state_dict()
    for label in ("compiled model", "compiled step"):
        for key, value in models[label].state_dict().items():
            if not np.allclose(value.detach().numpy(), reference[key].detach().numpy(), rtol=1e-4, atol=1e-6):
                raise AssertionError(f"{name}: {label} differs from eager in {key}")


def measure(name: str, backend: str = "llvm", turns: int = 8, turn_s: float = 0.3) -> dict[str, float]:
    """Median ms per training step of each contender on model ``name``, checked first."""
    check(name, backend)
    steps, _, batch = _contenders(name, backend)
    x, y = batch(0)
    for k in range(3):  # compile
        for step in steps.values():
            irgrad.manual_seed(k)
            step(x, y)
    times: dict[str, list[float]] = {label: [] for label in steps}
    for t in range(turns):
        order = list(steps.items())
        for label, step in order[t % 3 :] + order[: t % 3]:
            time.sleep(0.2)
            step(x, y)
            began = time.perf_counter()
            while time.perf_counter() - began < turn_s:
                start = time.perf_counter()
                step(x, y)
                times[label].append((time.perf_counter() - start) * 1e3)
    return {label: statistics.median(ms) for label, ms in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_real_models", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--backend", default="llvm")
    parser.add_argument("--turns", type=int, default=8)
    args = parser.parse_args()
    print(
        f"| model | eager ms | compiled model ms | compiled step ms |  (backend {args.backend}; ratio to eager)"
    )
    print("|---|---|---|---|")
    for name in MODELS:
        ms = measure(name, args.backend, args.turns)
        e = ms["eager"]
        print(
            f"| {name} | {e:.2f} | {ms['compiled model']:.2f} ({ms['compiled model'] / e:.2f}x) | "
            f"{ms['compiled step']:.2f} ({ms['compiled step'] / e:.2f}x) |"
        )


if __name__ == "__main__":
    main()
