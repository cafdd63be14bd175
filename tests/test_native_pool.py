"""irgrad's thread pool (irgrad/native/pool.py) and the loops split across it.

Every compiled result must be the same for any number of threads: each chunk of a
split loop writes its own rows or columns, so the values do not depend on who ran
which chunk.  The pool must never make a call wait for a thread that is not coming:
from two Python threads at once, or in a child process made by fork.
"""

import multiprocessing
import os
import re
import subprocess
import sys
import threading

import numpy as np
import pytest
from graph_calls import assert_trains_as_eager, graph_call

import irgrad
from irgrad.codegen import parallel, tiled_gemm
from irgrad.native import pool


@pytest.fixture
def restore_threads():
    before = irgrad.get_num_threads()
    yield
    irgrad.set_num_threads(before)


def _calls_the_pool(compiled) -> bool:
    programs = [e.built.run_forward for e in compiled._compiled.entries]
    return any(pool.PARALLEL in segment.llvm_ir for p in programs for segment in p.segments)


def _programs():
    """Compiled functions whose loops are large enough to be split, with their inputs
    and a float64 reference."""
    rng = np.random.default_rng(0)
    big = 1 << 21  # at least PARALLEL_MACS multiply-adds
    assert big >= tiled_gemm.PARALLEL_MACS
    a = rng.standard_normal((300, 97)).astype(np.float32)
    b = rng.standard_normal((97, 150)).astype(np.float32)  # 4.4M multiply-adds, m > n
    w = rng.standard_normal((301, 97)).astype(np.float32)  # linear: w read transposed (a copy)
    wide = rng.standard_normal((40, 5000)).astype(np.float32)  # m < n: split along columns
    x = rng.standard_normal(parallel.PARALLEL_ELEMENTS + 1001).astype(np.float32)
    batch_a = rng.standard_normal((67, 24, 40)).astype(np.float32)  # 67 x 24x40x33
    batch_b = rng.standard_normal((67, 40, 33)).astype(np.float32)
    kernel = rng.standard_normal((32, 9)).astype(np.float32)  # a convolution's im2col product
    columns = rng.standard_normal((32, 9, 784)).astype(np.float32)
    return [
        (lambda a, b: a @ b, (a, b), lambda a, b: a.astype(np.float64) @ b),
        (lambda a, w: irgrad.nn.functional.linear(a, w), (a, w), lambda a, w: a.astype(np.float64) @ w.T),
        (lambda b, c: b.T @ c, (a[:, :40].copy(), w[:300].repeat(4, 1)), None),  # A transposed
        (lambda c, d: c @ d, (wide[:, :97], b[:, :1].repeat(5000, 1)), None),
        (lambda x: (x * 2.0).tanh() + x, (x,), lambda x: np.tanh(x.astype(np.float64) * 2) + x),
        # batches of products each too small to split: split by matrices
        (lambda p, q: p @ q, (batch_a, batch_b), lambda p, q: p.astype(np.float64) @ q),
        (lambda w, c: w @ c, (kernel, columns), lambda w, c: w.astype(np.float64) @ c),  # w broadcast
    ]


@pytest.mark.parametrize("case", range(7))
def test_split_loops_give_the_same_values_for_any_number_of_threads(case, restore_threads, monkeypatch):
    # every product tiled, as where no BLAS is found: on a host without 512-bit vectors
    # the linear's 300x97x301 would go to BLAS (tiled_gemm.small_enough)
    from irgrad.codegen import blas

    monkeypatch.setattr(blas, "gemm", lambda dtype: None)
    fn, arrays, reference = _programs()[case]
    outputs = []
    for threads in (1, 2, 3):
        irgrad.set_num_threads(threads)
        compiled = irgrad.compile(fn)
        tensors = [irgrad.tensor(a) for a in arrays]
        outputs.append(graph_call(compiled, *tensors).numpy())
        assert _calls_the_pool(compiled)
    np.testing.assert_array_equal(outputs[0], outputs[1])
    np.testing.assert_array_equal(outputs[0], outputs[2])
    if reference is not None:
        np.testing.assert_allclose(outputs[0], reference(*arrays), rtol=1e-4, atol=1e-3)


def _split_product_on_two_threads():
    """The first program (a product split across the pool) compiled for 2 threads: the
    function, its arguments and the result a graph's code gave."""
    irgrad.set_num_threads(2)
    fn, arrays, _ = _programs()[0]
    compiled = irgrad.compile(fn)
    tensors = [irgrad.tensor(a) for a in arrays]
    return compiled, tensors, graph_call(compiled, *tensors).numpy()


def test_two_python_threads_share_the_pool(restore_threads):
    compiled, tensors, expected = _split_product_on_two_threads()
    failures = []

    def hammer():
        for _ in range(30):
            out = compiled(*tensors).numpy()
            if not np.array_equal(out, expected):
                failures.append(out)

    workers = [threading.Thread(target=hammer) for _ in range(3)]
    for t in workers:
        t.start()
    for t in workers:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in workers) and not failures


def _child(compiled, tensors, queue):
    queue.put(compiled(*tensors).numpy())


def test_a_forked_child_runs_split_loops_alone(restore_threads):
    compiled, tensors, expected = _split_product_on_two_threads()
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_child, args=(compiled, tensors, queue))
    child.start()
    got = queue.get(timeout=60)
    child.join(timeout=60)
    assert child.exitcode == 0
    np.testing.assert_array_equal(got, expected)


def test_thread_settings(restore_threads, monkeypatch):
    irgrad.set_num_threads(3)
    assert irgrad.get_num_threads() == 3
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(ValueError, match="set_num_threads"):
            irgrad.set_num_threads(bad)
    monkeypatch.setenv("OMP_NUM_THREADS", "5")
    assert pool.default_threads() == 5
    monkeypatch.setenv("OMP_NUM_THREADS", "zero")
    assert pool.default_threads() >= 1


_IDLE_CHECK = """
import resource, time
import numpy as np
import irgrad
irgrad.set_num_threads(2)
f = irgrad.compile(lambda a, b: a @ b)
a, b = irgrad.randn(300, 97), irgrad.randn(97, 150)
for _ in range(3):
    f(a, b)
time.sleep(0.05)
before = resource.getrusage(resource.RUSAGE_SELF)
time.sleep(0.3)
after = resource.getrusage(resource.RUSAGE_SELF)
print(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
"""


def test_workers_sleep_when_idle():
    # in a process of its own, with OpenBLAS on one thread: nothing else may burn CPU
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-c", _IDLE_CHECK], env=env, capture_output=True, text=True, check=True
    )
    assert float(done.stdout.split()[-1]) < 0.05  # a spinning worker would burn the whole 0.3 s


def test_stack_slots_are_made_in_entry_blocks():
    # an alloca in a loop takes more stack at every iteration: a worker thread, which
    # loops forever, would run out of it
    import re

    text = str(pool._module())
    for function in re.findall(r"define [^{]*\{\n(.*?)\n\}", text, re.S):
        blocks = re.split(r"\n(?=[\w.\"]+:)", function)
        assert all("alloca" not in block for block in blocks[1:]), blocks[0][:80]


_WINDOW_CALL = re.compile(r'call void @"?irgrad_(im2col|col2im|max_pool_scatter|max_pool)_')


def _window_kernels_in_parts(compiled) -> set[str]:
    """The window kernels the graphs' code calls from a part of a split loop."""
    called = set()
    for entry in compiled._compiled.entries:
        for segment in entry.built.run_forward.segments:
            for function in segment.llvm_ir.split("\ndefine ")[1:]:
                if '.part"(' in function.split("\n", 1)[0]:
                    called.update(_WINDOW_CALL.findall(function))
    return called


def test_window_kernels_split_by_planes_train_alike_on_any_number_of_threads(restore_threads):
    """im2col, col2im, max pooling and its gradient's scatter, large enough to be split
    across the pool by image planes: each part writes its own planes, so the training
    step gives the same parameters, bit for bit, for 1, 2 and 3 threads (and eager's)."""

    made = []  # each make()'s parameters: eager's, then the compiled step's

    def make():
        irgrad.manual_seed(3)
        nn = irgrad.nn
        model = nn.Sequential(
            nn.Conv2d(4, 4, 3, padding=1), nn.Conv2d(4, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)
        )
        x = irgrad.randn(4, 4, 64, 64)  # 16 planes of 66x66 padded; 128 of 64x64 pooled
        opt = irgrad.optim.SGD(model.parameters(), lr=0.1)

        def step():
            opt.zero_grad()
            loss = model(x).square().mean()
            loss.backward()
            opt.step()
            return loss.detach()

        made.append(list(model.parameters()))
        return made[-1], step

    trained = []
    for threads in (1, 2, 3):
        irgrad.set_num_threads(threads)
        compiled = assert_trains_as_eager(make, steps=3, rtol=1e-5)
        assert _window_kernels_in_parts(compiled) == {"im2col", "col2im", "max_pool", "max_pool_scatter"}
        trained.append([p.detach().numpy() for p in made[-1]])
    for other in trained[1:]:
        for p, q in zip(trained[0], other):
            np.testing.assert_array_equal(p, q)
