"""The MNIST CNN classifier script: two convolutions, max-pooling, dropout, two Linear
layers, ``log_softmax`` + ``nll_loss``, Adadelta with a StepLR stepped every epoch, and the
evaluation pass (summed loss, argmax accuracy under ``eval()`` and ``no_grad``).

Compared: losses and final parameters against torch (dropout p=0) and the evaluation
results; compiled module and compiled step against eager irgrad (dropout on).
"""

from __future__ import annotations

import functools

import numpy as np

import irgrad

from .common import Training, against_eager, against_torch, assert_whole, tensors


def build(lib, dropout=(0.25, 0.5)):
    nn, F = lib.nn, lib.nn.functional

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 4, 3, 1)
            self.conv2 = nn.Conv2d(4, 8, 3, 1)
            self.dropout1 = nn.Dropout(dropout[0])
            self.dropout2 = nn.Dropout(dropout[1])
            self.fc1 = nn.Linear(128, 16)
            self.fc2 = nn.Linear(16, 10)

        def forward(self, x):
            x = F.relu(self.conv1(x))
            x = F.relu(self.conv2(x))
            x = F.max_pool2d(x, 2)
            x = self.dropout1(x)
            x = lib.flatten(x, 1)
            x = F.relu(self.fc1(x))
            x = self.dropout2(x)
            return F.log_softmax(self.fc2(x), dim=1)

    return Net()


def trainer(lib, model, wrap):
    F = lib.nn.functional
    net = wrap(model)
    optimizer = lib.optim.Adadelta(model.parameters(), lr=1.0)
    scheduler = lib.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.7)
    model.train()

    def train_step(data, target):
        optimizer.zero_grad()
        loss = F.nll_loss(net(data), target)
        loss.backward()
        optimizer.step()
        return loss.detach()

    return Training(train_step, scheduler.step)


def evaluate(lib, model, data, target):
    """The script's test(): summed loss and the number of correct predictions."""
    F = lib.nn.functional
    model.eval()
    with lib.no_grad():
        output = model(data)
        test_loss = F.nll_loss(output, target, reduction="sum").item()
        pred = output.argmax(dim=1, keepdim=True)
        correct = pred.eq(target.view_as(pred)).sum().item()
    return test_loss, correct


def batches(n: int = 4, size: int = 8):
    rng = np.random.default_rng(1)
    return [
        (rng.standard_normal((size, 1, 12, 12)).astype(np.float32), rng.integers(0, 10, size))
        for _ in range(n)
    ]


def test_trains_as_torch(torch):
    mine, theirs = against_torch(torch, functools.partial(build, dropout=(0.0, 0.0)), trainer, batches())
    data = batches(1, 32)[0]
    loss_m, correct_m = evaluate(irgrad, mine, *tensors(irgrad, data))
    loss_t, correct_t = evaluate(torch, theirs, *tensors(torch, data))
    np.testing.assert_allclose(loss_m, loss_t, rtol=1e-4)
    assert correct_m == correct_t


def test_compiled_trains_as_eager():
    explained = against_eager(build, trainer, batches())
    for explanation in explained["model"]:
        assert_whole(explanation, graphs=1)
    assert_whole(explained["step"], graphs=2)
