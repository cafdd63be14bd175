"""The super-resolution script: a Conv2d stack (5x5 then 3x3, ReLU) ending in
``upscale**2`` channels and PixelShuffle, weights initialised with ``init.orthogonal_`` and
``init.calculate_gain('relu')``; MSELoss, Adam; the test pass reports PSNR.

Compared: losses, final parameters and the PSNR against torch; compiled module and compiled
step against eager irgrad.
"""

from __future__ import annotations

import math

import numpy as np

import irgrad

from .common import Training, against_eager, against_torch, assert_whole, tensors

UPSCALE = 2


def build(lib):
    nn, init = lib.nn, lib.nn.init

    class Net(nn.Module):
        def __init__(self, upscale_factor):
            super().__init__()
            self.relu = nn.ReLU()
            self.conv1 = nn.Conv2d(1, 8, (5, 5), (1, 1), (2, 2))
            self.conv2 = nn.Conv2d(8, 8, (3, 3), (1, 1), (1, 1))
            self.conv3 = nn.Conv2d(8, 4, (3, 3), (1, 1), (1, 1))
            self.conv4 = nn.Conv2d(4, upscale_factor**2, (3, 3), (1, 1), (1, 1))
            self.pixel_shuffle = nn.PixelShuffle(upscale_factor)
            init.orthogonal_(self.conv1.weight, init.calculate_gain("relu"))
            init.orthogonal_(self.conv2.weight, init.calculate_gain("relu"))
            init.orthogonal_(self.conv3.weight, init.calculate_gain("relu"))
            init.orthogonal_(self.conv4.weight)

        def forward(self, x):
            x = self.relu(self.conv1(x))
            x = self.relu(self.conv2(x))
            x = self.relu(self.conv3(x))
            return self.pixel_shuffle(self.conv4(x))

    return Net(UPSCALE)


def trainer(lib, model, wrap):
    net = wrap(model)
    criterion = lib.nn.MSELoss()
    optimizer = lib.optim.Adam(model.parameters(), lr=1e-3)

    def train_step(input, target):
        optimizer.zero_grad()
        loss = criterion(net(input), target)
        loss.backward()
        optimizer.step()
        return loss.detach()

    return Training(train_step)


def psnr(lib, model, input, target):
    with lib.no_grad():
        mse = lib.nn.MSELoss()(model(input), target)
    return 10 * math.log10(1 / mse.item())


def batches(n: int = 4, size: int = 3):
    """Low-resolution images are 2x2 means of the high-resolution targets."""
    rng = np.random.default_rng(6)
    out = []
    for _ in range(n):
        target = rng.random((size, 1, 6 * UPSCALE, 6 * UPSCALE)).astype(np.float32)
        low = target.reshape(size, 1, 6, UPSCALE, 6, UPSCALE).mean(axis=(3, 5))
        out.append((low, target))
    return out


def test_trains_as_torch(torch):
    mine, theirs = against_torch(torch, build, trainer, batches())
    data = batches(1, 4)[0]
    np.testing.assert_allclose(
        psnr(irgrad, mine, *tensors(irgrad, data)), psnr(torch, theirs, *tensors(torch, data)), rtol=1e-5
    )


def test_compiled_trains_as_eager():
    explained = against_eager(build, trainer, batches())
    for explanation in explained["model"]:
        assert_whole(explanation, graphs=1)
    assert_whole(explained["step"], graphs=2)
