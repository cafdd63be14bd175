"""The capturing call: what it returns, and what importing irgrad costs before it.

The first call of a compiled function is traced: it runs eagerly.  Where running the
graph once more changes nothing but the result (no side effects, no random draws), the
call then returns the compiled program's result, as every later call does: same values
to the bit, and a backward that runs compiled.  Otherwise it returns the traced call's
own result, having drawn and written exactly once, as eager execution does.
"""

import subprocess
import sys

import numpy as np
import pytest

import irgrad
import irgrad.nn as nn
from irgrad.compiler.runtime import CompiledBackward


def _mlp() -> nn.Module:
    irgrad.manual_seed(0)
    return nn.Sequential(nn.Linear(7, 9), nn.Tanh(), nn.Linear(9, 3))


@pytest.mark.parametrize("backend", ["llvm", "numpy"])
def test_the_first_call_returns_what_every_later_call_returns(backend):
    model = _mlp()
    compiled = irgrad.compile(model, backend=backend)
    x = irgrad.randn(5, 7)
    first, second = compiled(x), compiled(x)
    assert np.array_equal(first.detach().numpy(), second.detach().numpy())
    assert isinstance(first.grad_fn, CompiledBackward)
    first.sum().backward()
    compiled_grads = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    model(x).sum().backward()
    for got, want in zip(compiled_grads, [p.grad for p in model.parameters()]):
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-5, atol=1e-6)
    entry = compiled._compiled.entries[-1]
    assert entry.runs == 2  # both calls ran the graph


def test_a_call_that_draws_returns_its_traced_result_and_draws_once():
    def f(x):
        return nn.functional.dropout(x, 0.5, training=True) * 2

    x = irgrad.ones(64)
    irgrad.manual_seed(3)
    eager = [f(x) for _ in range(3)]
    irgrad.manual_seed(3)
    compiled = irgrad.compile(f)
    got = [compiled(x) for _ in range(3)]
    for a, b in zip(got, eager):
        assert np.array_equal(a.numpy(), b.numpy())


def test_a_call_with_side_effects_returns_its_traced_result_and_writes_once():
    counter = irgrad.zeros(3)

    def f(x):
        counter.add_(1)
        return x * counter

    compiled = irgrad.compile(f)
    out = compiled(irgrad.ones(3))
    assert counter.tolist() == [1.0, 1.0, 1.0]
    assert out.tolist() == [1.0, 1.0, 1.0]
    compiled(irgrad.ones(3))
    assert counter.tolist() == [2.0, 2.0, 2.0]


def test_importing_irgrad_leaves_networkx_to_the_compiler():
    """networkx (about 130 ms of ``import irgrad``) is imported by ``irgrad.compile``, not
    by ``import irgrad``: eager-only scripts never pay for it."""
    child = (
        "import sys, irgrad\n"
        "print('networkx' in sys.modules)\n"
        "irgrad.compile(lambda x: x + 1)\n"
        "print('networkx' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "True"]
