"""The VAE script: a Linear encoder to (mu, logvar), the reparameterization trick, a Linear
decoder to sigmoid pixels; the loss is ``binary_cross_entropy(reduction='sum')`` plus the KL
divergence; Adam.  Then decoding samples under ``no_grad``.

Compared: against torch with the noise given as an input (every loss, the final
parameters, the decoded samples); compiled module and compiled step against eager irgrad
with the noise drawn by ``randn_like`` inside the model.
"""

from __future__ import annotations

import numpy as np

import irgrad

from .common import Training, against_eager, against_torch, assert_whole

PIXELS, HIDDEN, LATENT = 36, 16, 4


def build(lib):
    nn, F = lib.nn, lib.nn.functional

    class VAE(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(PIXELS, HIDDEN)
            self.fc21 = nn.Linear(HIDDEN, LATENT)
            self.fc22 = nn.Linear(HIDDEN, LATENT)
            self.fc3 = nn.Linear(LATENT, HIDDEN)
            self.fc4 = nn.Linear(HIDDEN, PIXELS)

        def encode(self, x):
            h1 = F.relu(self.fc1(x))
            return self.fc21(h1), self.fc22(h1)

        def reparameterize(self, mu, logvar, eps):
            std = lib.exp(0.5 * logvar)
            if eps is None:
                eps = lib.randn_like(std)
            return mu + eps * std

        def decode(self, z):
            return lib.sigmoid(self.fc4(F.relu(self.fc3(z))))

        def forward(self, x, eps=None):
            mu, logvar = self.encode(x.view(-1, PIXELS))
            return self.decode(self.reparameterize(mu, logvar, eps)), mu, logvar

    return VAE()


def trainer(lib, model, wrap):
    F = lib.nn.functional
    net = wrap(model)
    optimizer = lib.optim.Adam(model.parameters(), lr=1e-2)

    def loss_function(recon_x, x, mu, logvar):
        bce = F.binary_cross_entropy(recon_x, x.view(-1, PIXELS), reduction="sum")
        kld = -0.5 * lib.sum(1 + logvar - mu.pow(2) - logvar.exp())
        return bce + kld

    def train_step(data, eps):
        optimizer.zero_grad()
        recon, mu, logvar = net(data, eps)
        loss = loss_function(recon, data, mu, logvar)
        loss.backward()
        optimizer.step()
        return loss.detach()

    return Training(train_step)


def batches(noise: bool, n: int = 4, size: int = 5):
    rng = np.random.default_rng(3)
    out = []
    for _ in range(n):
        data = rng.random((size, 1, 6, 6)).astype(np.float32)
        eps = rng.standard_normal((size, LATENT)).astype(np.float32)
        out.append((data, eps if noise else None))
    return out


def test_trains_as_torch(torch):
    mine, theirs = against_torch(torch, build, trainer, batches(noise=True))
    z = np.random.default_rng(4).standard_normal((8, LATENT)).astype(np.float32)
    samples = []
    for lib, model in ((irgrad, mine), (torch, theirs)):
        with lib.no_grad():
            samples.append(model.decode(lib.tensor(z)).numpy())
    np.testing.assert_allclose(samples[0], samples[1], rtol=1e-4, atol=1e-6)


def test_compiled_trains_as_eager():
    explained = against_eager(build, trainer, batches(noise=False))
    for explanation in explained["model"]:
        assert_whole(explanation, graphs=1)
    assert_whole(explained["step"], graphs=2)
