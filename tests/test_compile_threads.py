"""Compiled functions called from several threads at once: every call gives eager's
answer, and none raises or crashes, while other threads trace and compile (found by a
probe: a call that missed while another thread traced raised "tracing is already
active", and compiling in four threads at once crashed the process in about one run of
four)."""

import sys
import threading

import numpy as np

import irgrad


def _in_threads(work, threads: int = 4) -> list[BaseException]:
    """Run ``work(k)`` in ``threads`` threads switching as often as Python allows; the
    exceptions they raised."""
    errors: list[BaseException] = []

    def run(k: int) -> None:
        try:
            work(k)
        except BaseException as error:  # reported by the test
            errors.append(error)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        pool = [threading.Thread(target=run, args=(k,)) for k in range(threads)]
        for thread in pool:
            thread.start()
        for thread in pool:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    return errors


def test_one_dynamic_function_called_at_new_sizes_from_four_threads():
    w = irgrad.randn(8, 5)

    def f(x):
        return (x @ w).relu().sum(0)

    compiled = irgrad.compile(f, dynamic=True)

    def work(k: int) -> None:
        rng = np.random.default_rng(k)
        for _ in range(25):
            x = irgrad.randn(int(rng.integers(2, 40)), 8)
            np.testing.assert_allclose(compiled(x).numpy(), f(x).numpy(), rtol=1e-5, atol=1e-6)

    assert _in_threads(work) == []


def test_four_threads_each_compiling_functions_of_their_own():
    w = irgrad.randn(8, 5)

    def work(k: int) -> None:
        for i in range(8):
            scale = k * 100 + i + 0.5
            compiled = irgrad.compile(lambda x, c=scale: (x @ w * c).relu().sum(0))
            for _ in range(3):
                x = irgrad.randn(3 + i, 8)
                np.testing.assert_allclose(
                    compiled(x).numpy(), ((x @ w) * scale).relu().sum(0).numpy(), rtol=1e-5, atol=1e-5
                )

    assert _in_threads(work) == []
