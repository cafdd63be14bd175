"""Real-model shapes compile whole and train exactly as eager (issue: capture real models).

For each model of ``compile_models.MODELS`` two copies start from the same weights; one
trains eagerly, the other compiled, with the same batches and the same dropout draws.
Two ways of compiling, as scripts do: ``irgrad.compile(model)`` with the loss, backward
and optimizer step outside, and the whole training step compiled as one function.  The
compiled side must capture a training graph with no graph break and no rejection, and
every loss and every parameter and buffer must equal eager's.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
from graph_calls import assert_graphs_answered

import irgrad
from benchmarks.real_models import MODELS

STEPS = 10


def _optimizer(model):
    # SGD with momentum, not Adam: Adam divides each gradient by its running magnitude, so a
    # parameter whose gradient is zero in exact arithmetic (an attention key's bias) takes
    # steps of +-lr from rounding noise, and two backends that round differently (numpy's
    # and LLVM's transcendentals agree to an ulp, not bit for bit) part by lr per step.
    # Adam's capture is checked on small models in test_compile_state.py.
    return irgrad.optim.SGD(model.parameters(), lr=1e-2, momentum=0.9)


def _check_same(eager, compiled, step: int) -> None:
    for (name, a), (_, b) in zip(eager.state_dict().items(), compiled.state_dict().items()):
        np.testing.assert_allclose(
            b.detach().numpy(), a.detach().numpy(), rtol=1e-4, atol=1e-6, err_msg=f"step {step}: {name}"
        )


def _assert_compiled_whole(compiled):
    """No break, no unlocated tensor, and the calls after the captures ran graphs; returns
    ``explain()``."""
    explanation = assert_graphs_answered(compiled)
    last = explanation.graphs[-1]
    assert last["break"] is None
    assert not last["unlocated"], last["unlocated"]
    return explanation


@pytest.mark.parametrize("name", list(MODELS))
def test_compiled_model_trains_as_eager(name, backend):
    make, batch, loss_fn = MODELS[name]
    irgrad.manual_seed(0)
    eager = make()
    twin = copy.deepcopy(eager)
    compiled = irgrad.compile(twin, backend=backend)
    opt_e, opt_c = _optimizer(eager), _optimizer(twin)
    for step in range(STEPS):
        x, y = batch(step)
        losses = []
        for model, opt in ((eager, opt_e), (compiled, opt_c)):
            irgrad.manual_seed(step)  # the same dropout masks on both sides
            loss = loss_fn(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        np.testing.assert_allclose(losses[1], losses[0], rtol=1e-5, err_msg=f"step {step}")
        _check_same(eager, twin, step)
    report = _assert_compiled_whole(compiled)
    assert report.graphs[-1]["backward"] is not None, "a training graph has a backward"
    assert len(report.graphs) == 2, report.events  # before and after the first .grad exists


@pytest.mark.parametrize("name", list(MODELS))
def test_compiled_training_step_trains_as_eager(name, backend):
    make, batch, loss_fn = MODELS[name]
    irgrad.manual_seed(0)
    eager = make()
    twin = copy.deepcopy(eager)

    def make_step(model):
        opt = _optimizer(model)

        def train_step(x, y):
            opt.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            opt.step()
            return loss.detach()

        return train_step

    step_e = make_step(eager)
    step_c = irgrad.compile(make_step(twin), backend=backend)
    for step in range(STEPS):
        x, y = batch(step)
        irgrad.manual_seed(step)
        loss_e = step_e(x, y)
        irgrad.manual_seed(step)
        loss_c = step_c(x, y)
        np.testing.assert_allclose(loss_c.item(), loss_e.item(), rtol=1e-5, err_msg=f"step {step}")
        _check_same(eager, twin, step)
    report = _assert_compiled_whole(step_c)
    assert len(report.graphs) == 2, report.events  # the first step creates the optimizer state


def test_a_cumulative_batch_norm_compiles_whole(backend):
    """BatchNorm with ``momentum=None`` averages its running statistics over every batch
    so far (SWA's ``update_bn`` recomputes them so): its factor ``1 / batches`` is a value
    of the graph, not a ``float()`` of the count (a graph break before), and the running
    statistics and the count equal eager's."""

    def make():
        irgrad.manual_seed(0)
        model = irgrad.nn.Sequential(irgrad.nn.Linear(4, 6), irgrad.nn.BatchNorm1d(6, momentum=None))
        for module in model.modules():
            if isinstance(module, irgrad.nn.BatchNorm1d):
                module.reset_running_stats()
        return model

    eager, twin = make(), make()
    compiled = irgrad.compile(twin, backend=backend)
    rng = np.random.default_rng(0)
    with irgrad.no_grad():
        for step in range(6):
            x = irgrad.tensor(rng.standard_normal((8, 4)).astype(np.float32))
            np.testing.assert_allclose(compiled(x).numpy(), eager(x).numpy(), rtol=1e-5, atol=1e-6)
            _check_same(eager, twin, step)
    _assert_compiled_whole(compiled)
