"""A Python loop over nn.LSTMCell, GRUCell or RNNCell, compiled as a whole training step:
it traces one step at a time (as under JAX's jit or torch.compile), and must train
exactly as eager does, run as one native call, and get the per-step weight gradients
as one product (the transposed products merged by passes/sum_of_products.py)."""

from __future__ import annotations

import numpy as np
import pytest
from graph_calls import assert_native

import irgrad
from irgrad import nn
from irgrad.nn import functional as F

CELLS = {
    "lstm": lambda: nn.LSTMCell(5, 8),
    "gru": lambda: nn.GRUCell(5, 8),
    "rnn-tanh": lambda: nn.RNNCell(5, 8),
    "rnn-relu": lambda: nn.RNNCell(5, 8, nonlinearity="relu"),
}
OPTIMIZERS = {
    "sgd-momentum": lambda p: irgrad.optim.SGD(p, lr=0.1, momentum=0.9),
    "adam": lambda p: irgrad.optim.Adam(p, lr=0.01),
}


class Tagger(nn.Module):
    """Reads a batch-first sequence step by step; scores every step's state."""

    def __init__(self, cell: str) -> None:
        super().__init__()
        self.cell = CELLS[cell]()
        self.head = nn.Linear(8, 3)

    def forward(self, x):
        state = None
        outs = []
        for t in range(x.shape[1]):
            state = self.cell(x[:, t], state)
            outs.append(state[0] if isinstance(state, tuple) else state)
        return self.head(irgrad.stack(outs, 1))


def train_model(make_model, optimizer: str, steps: int, compiled: bool, dtype=irgrad.float64):
    """Five training steps of ``make_model()`` on one batch of ``steps``-long sequences,
    eager or compiled as a whole step: (losses, parameters after, the step run)."""
    irgrad.manual_seed(0)
    model = make_model().to(dtype)
    opt = OPTIMIZERS[optimizer](model.parameters())
    rng = np.random.default_rng(0)
    x = irgrad.tensor(rng.standard_normal((4, steps, 5)), dtype=dtype)
    y = irgrad.tensor(rng.integers(0, 3, (4, steps)))

    def step(x, y):
        opt.zero_grad()
        loss = F.cross_entropy(model(x).reshape(-1, 3), y.reshape(-1))
        loss.backward()
        opt.step()
        return loss.detach()

    run = irgrad.compile(step) if compiled else step
    losses = [float(run(x, y)) for _ in range(5)]
    return losses, [p.detach().numpy().copy() for p in model.parameters()], run


def train(cell: str, optimizer: str, steps: int, compiled: bool, dtype=irgrad.float64):
    return train_model(lambda: Tagger(cell), optimizer, steps, compiled, dtype)


def assert_trains_as_eager(make_model, steps: int, optimizer: str = "sgd-momentum"):
    """The compiled step (native code) trains ``make_model()`` as eager does (float64);
    returns the compiled step."""
    eager_losses, eager_params, _ = train_model(make_model, optimizer, steps, False)
    losses, params, run = train_model(make_model, optimizer, steps, True)
    np.testing.assert_allclose(losses, eager_losses, rtol=1e-10)
    for p, e in zip(params, eager_params):
        np.testing.assert_allclose(p, e, rtol=1e-9, atol=1e-12)
    assert_native(run)
    return run


@pytest.mark.parametrize("optimizer", sorted(OPTIMIZERS))
@pytest.mark.parametrize("cell", sorted(CELLS))
def test_a_compiled_loop_over_a_cell_trains_as_eager(cell, optimizer):
    for steps in (1, 7):
        assert_trains_as_eager(lambda: Tagger(cell), steps, optimizer)


def test_the_recurrent_weight_gradient_is_one_product():
    # W_hh's gradient is a sum over the steps of (h_t^T g_t).T: merged, one product reads
    # every step's state, rather than a loop adding the steps' transposed products
    from irgrad.compiler.backends import _lowering_passes

    *_, run = train("lstm", "sgd-momentum", 9, True, dtype=irgrad.float32)
    forward = _lowering_passes(run._compiled.entries[-1].built.forward)
    products = [n for n in forward.op_nodes() if n.op == "matmul" and n.type.shape == (8, 32)]
    assert len(products) == 1
    inner = [forward.node(a).type.shape for a in forward.args(products[0].id)]
    assert inner == [(8, 9 * 4), (9 * 4, 32)]


@pytest.mark.parametrize("cell", sorted(CELLS))
def test_the_native_program_does_not_grow_with_the_steps(cell):
    # each step's input projection, state read and gradient pieces are joined by the
    # stack pass, and each step's bias row sums (a GRU's feed both biases' gradients)
    # by merge_sums_of_products: one program of one size for any sequence length
    def kernels(steps: int) -> int:
        *_, run = train(cell, "sgd-momentum", steps, True, dtype=irgrad.float32)
        (entry,) = [e for e in run._compiled.entries if e.runs]
        return entry.built.reports["forward"].kernels

    assert kernels(3) == kernels(9)
