"""The MNIST-RNN script: an LSTM (``batch_first``) reads an image row by row; its last
hidden state goes through BatchNorm1d, dropout and two Linear layers to ``log_softmax``;
``nll_loss``, Adam.

Compared: losses and final parameters (BatchNorm's running statistics too) against torch
(dropout p=0); compiled module and compiled step against eager irgrad (dropout on).
"""

from __future__ import annotations

import functools

import numpy as np

from .common import Training, against_eager, against_torch, assert_whole

ROWS = 8


def build(lib, dropout=0.25):
    nn, F = lib.nn, lib.nn.functional

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = nn.LSTM(input_size=ROWS, hidden_size=12, batch_first=True)
            self.batchnorm = nn.BatchNorm1d(12)
            self.dropout = nn.Dropout(dropout)
            self.fc1 = nn.Linear(12, 16)
            self.fc2 = nn.Linear(16, 10)

        def forward(self, image):
            rows = image.reshape(-1, ROWS, ROWS)
            _, (h_n, _) = self.rnn(rows)
            x = self.dropout(self.batchnorm(h_n[-1]))
            x = F.relu(self.fc1(x))
            return F.log_softmax(self.fc2(x), dim=1)

    return Net()


def trainer(lib, model, wrap):
    F = lib.nn.functional
    net = wrap(model)
    optimizer = lib.optim.Adam(model.parameters(), lr=1e-2)

    def train_step(data, target):
        optimizer.zero_grad()
        loss = F.nll_loss(net(data), target)
        loss.backward()
        optimizer.step()
        return loss.detach()

    return Training(train_step)


def batches(n: int = 4, size: int = 6):
    rng = np.random.default_rng(2)
    return [
        (rng.standard_normal((size, 1, ROWS, ROWS)).astype(np.float32), rng.integers(0, 10, size))
        for _ in range(n)
    ]


def test_trains_as_torch(torch):
    against_torch(torch, functools.partial(build, dropout=0.0), trainer, batches())


def test_compiled_trains_as_eager():
    explained = against_eager(build, trainer, batches())
    for explanation in explained["model"]:
        assert_whole(explanation, graphs=1)
    assert_whole(explained["step"], graphs=2)
