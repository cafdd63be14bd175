"""The shared kernels compiled ahead in a forked process (irgrad.codegen.ahead).

Each case runs in a new process with an empty disk cache, as a first compile on a
machine meets it: ``irgrad.compile`` forks a child that compiles the thread pool and
the float32 tiled products into the cache, and the first call's build loads them from
there instead of compiling them itself.
"""

import json
import os
import subprocess
import sys

import pytest

CHILD = r"""
import json, os, sys
import irgrad, irgrad.nn as nn
from irgrad.codegen import ahead
from irgrad.native import jit

model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))  # W1's MLP
x = irgrad.randn(64, 784)
want = model(x)
compiled = irgrad.compile(model)
forked = list(ahead._STARTED)
before = jit.STATS.cache_hits
compiled_before = jit.STATS.compiled
got = compiled(x)
print(json.dumps({
    "forked": len(forked),
    "waited": sorted(jit._AHEAD),
    "loaded": jit.STATS.cache_hits - before,
    "compiled": jit.STATS.compiled - compiled_before,
    "same": bool(((got - want).abs() < 1e-5).all()),
    "reaped": not os.path.exists(f"/proc/{forked[0]}") if forked else None,
}))
"""


def _run(cache, *, cpus=None) -> dict:
    env = {**os.environ, "IRGRAD_CACHE_DIR": str(cache)}
    command = [sys.executable, "-c", CHILD]
    if cpus is not None:
        command = ["taskset", "-c", cpus, *command]
    out = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


needs_two_cpus = pytest.mark.skipif(
    not sys.platform.startswith("linux") or len(os.sched_getaffinity(0)) < 2, reason="needs Linux and 2 CPUs"
)


@needs_two_cpus
def test_a_first_compile_loads_the_kernels_a_child_compiled(tmp_path):
    first = _run(tmp_path)
    assert first["forked"] == 1 and first["same"]
    # the pool and both product kernels came from the child's cache entries; the process
    # compiled only the model's own two programs (its forward and backward)
    assert first["loaded"] == 3 and first["compiled"] == 2
    assert first["waited"] == [] and first["reaped"]
    again = _run(tmp_path)  # a later process finds them cached: no child
    assert again["forked"] == 0 and again["same"]


def test_one_cpu_compiles_everything_in_the_process(tmp_path):
    if not sys.platform.startswith("linux"):
        pytest.skip("taskset is Linux's")
    result = _run(tmp_path, cpus="0")
    assert result["forked"] == 0 and result["same"]
