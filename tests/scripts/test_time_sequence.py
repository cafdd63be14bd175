"""The time-sequence-prediction script: two LSTMCells and a Linear read sine waves step by
step in float64 (``.double()``), LBFGS minimises the MSE through a closure, then the model
predicts past the end of test sequences (``future`` extra steps fed with its own output).

Compared: against torch, every LBFGS step's loss and the test loss, the final parameters
and the whole prediction, at float64 tolerances.  Compiled: the module compiled (training
and prediction graphs) equals eager; the whole step cannot be captured (LBFGS reads the
loss in Python to decide when to stop), so ``explain()`` must report that graph break and
the results still equal eager.
"""

from __future__ import annotations

import numpy as np

import irgrad

from .common import Training, against_eager, against_torch, assert_breaks, assert_whole, tensors

HIDDEN, LENGTH, FUTURE = 8, 16, 5


def build(lib):
    nn = lib.nn

    class Sequence(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm1 = nn.LSTMCell(1, HIDDEN)
            self.lstm2 = nn.LSTMCell(HIDDEN, HIDDEN)
            self.linear = nn.Linear(HIDDEN, 1)

        def forward(self, input, future=0):
            outputs = []
            h_t = lib.zeros(input.size(0), HIDDEN, dtype=lib.double)
            c_t = lib.zeros(input.size(0), HIDDEN, dtype=lib.double)
            h_t2 = lib.zeros(input.size(0), HIDDEN, dtype=lib.double)
            c_t2 = lib.zeros(input.size(0), HIDDEN, dtype=lib.double)
            for input_t in input.split(1, dim=1):
                h_t, c_t = self.lstm1(input_t, (h_t, c_t))
                h_t2, c_t2 = self.lstm2(h_t, (h_t2, c_t2))
                output = self.linear(h_t2)
                outputs += [output]
            for _ in range(future):  # predict the future from the model's own output
                h_t, c_t = self.lstm1(output, (h_t, c_t))
                h_t2, c_t2 = self.lstm2(h_t, (h_t2, c_t2))
                output = self.linear(h_t2)
                outputs += [output]
            return lib.cat(outputs, dim=1)

    return Sequence().double()


def predict(lib, seq, test_input, test_target):
    criterion = lib.nn.MSELoss()
    with lib.no_grad():
        pred = seq(test_input, future=FUTURE)
        return criterion(pred[:, :-FUTURE], test_target), pred


def trainer(lib, model, wrap):
    seq = wrap(model)
    criterion = lib.nn.MSELoss()
    optimizer = lib.optim.LBFGS(model.parameters(), lr=0.8)

    def train_step(input, target, test_input, test_target):
        def closure():
            optimizer.zero_grad()
            loss = criterion(seq(input), target)
            loss.backward()
            return loss

        loss = optimizer.step(closure)
        test_loss, _ = predict(lib, seq, test_input, test_target)
        return loss.detach(), test_loss

    return Training(train_step)


def batches(n: int = 2, waves: int = 6):
    """Shifted sine waves: the first three train, the others test, as the script splits them."""
    rng = np.random.default_rng(7)
    x = np.arange(LENGTH + 1) + rng.integers(-12, 12, waves).reshape(waves, 1)
    data = np.sin(x / 4.0)
    batch = (data[3:, :-1], data[3:, 1:], data[:3, :-1], data[:3, 1:])
    return [batch] * n


def test_trains_as_torch(torch):
    data = batches()
    mine, theirs = against_torch(torch, build, trainer, data, rtol=1e-9, atol=1e-12)
    _, pred_m = predict(irgrad, mine, *tensors(irgrad, data[0][2:]))
    _, pred_t = predict(torch, theirs, *tensors(torch, data[0][2:]))
    np.testing.assert_allclose(pred_m.numpy(), pred_t.numpy(), rtol=1e-9, atol=1e-12)


def test_compiled_trains_as_eager():
    # compiled gradients differ from eager's in the last bit; 40 LBFGS iterations amplify that ~1e6 times
    explained = against_eager(build, trainer, batches(), rtol=1e-6, atol=1e-8)
    for explanation in explained["model"]:
        assert_whole(explanation)
    assert_breaks(explained["step"], "reads the value of a traced tensor (data-dependent Python)")
