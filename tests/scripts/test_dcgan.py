"""The DCGAN script: a ConvTranspose2d generator (BatchNorm2d, ReLU, Tanh) and a Conv2d
discriminator (LeakyReLU, BatchNorm2d, Sigmoid), both initialised by ``weights_init``
through ``apply``; BCELoss, two Adam optimizers with betas=(0.5, 0.999).  A step trains
the discriminator on real images and on ``fake.detach()`` (labels refilled in place with
``fill_``), then the generator through the discriminator.

Compared: against torch with the latent noise given as an input (errD, errG, D(x),
D(G(z)) before and after the discriminator's step, final weights and BatchNorm
statistics); compiled modules and compiled step against eager irgrad with the noise
drawn by ``randn`` inside the step.
"""

from __future__ import annotations

import numpy as np

from .common import Training, against_eager, against_torch, assert_whole

NZ, NGF, NDF = 8, 4, 4


def weights_init(m):
    classname = m.__class__.__name__
    if classname.find("Conv") != -1:
        m.weight.data.normal_(0.0, 0.02)
    elif classname.find("BatchNorm") != -1:
        m.weight.data.normal_(1.0, 0.02)
        m.bias.data.fill_(0)


def build(lib):
    nn = lib.nn
    generator = nn.Sequential(
        nn.ConvTranspose2d(NZ, NGF * 4, 4, 1, 0, bias=False),
        nn.BatchNorm2d(NGF * 4),
        nn.ReLU(True),
        nn.ConvTranspose2d(NGF * 4, NGF * 2, 4, 2, 1, bias=False),
        nn.BatchNorm2d(NGF * 2),
        nn.ReLU(True),
        nn.ConvTranspose2d(NGF * 2, 3, 4, 2, 1, bias=False),
        nn.Tanh(),
    )
    discriminator = nn.Sequential(
        nn.Conv2d(3, NDF, 4, 2, 1, bias=False),
        nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(NDF, NDF * 2, 4, 2, 1, bias=False),
        nn.BatchNorm2d(NDF * 2),
        nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(NDF * 2, 1, 4, 1, 0, bias=False),
        nn.Sigmoid(),
        nn.Flatten(0),
    )
    gan = nn.ModuleDict({"netG": generator, "netD": discriminator})
    gan.apply(weights_init)
    return gan


def trainer(lib, model, wrap):
    netG, netD = wrap(model["netG"]), wrap(model["netD"])
    criterion = lib.nn.BCELoss()
    optimizerD = lib.optim.Adam(model["netD"].parameters(), lr=2e-3, betas=(0.5, 0.999))
    optimizerG = lib.optim.Adam(model["netG"].parameters(), lr=2e-3, betas=(0.5, 0.999))
    real_label, fake_label = 1.0, 0.0

    def train_step(real, noise):
        # (1) the discriminator: maximize log(D(x)) + log(1 - D(G(z)))
        model["netD"].zero_grad()
        batch_size = real.size(0)
        label = lib.full((batch_size,), real_label, dtype=real.dtype)
        output = netD(real)
        errD_real = criterion(output, label)
        errD_real.backward()
        D_x = output.mean()
        if noise is None:
            noise = lib.randn(batch_size, NZ, 1, 1)
        fake = netG(noise)
        label.fill_(fake_label)
        output = netD(fake.detach())
        errD_fake = criterion(output, label)
        errD_fake.backward()
        D_G_z1 = output.mean()
        errD = errD_real + errD_fake
        optimizerD.step()
        # (2) the generator: maximize log(D(G(z)))
        model["netG"].zero_grad()
        label.fill_(real_label)
        output = netD(fake)
        errG = criterion(output, label)
        errG.backward()
        D_G_z2 = output.mean()
        optimizerG.step()
        return tuple(t.detach() for t in (errD, errG, D_x, D_G_z1, D_G_z2))

    return Training(train_step)


def batches(noise: bool, n: int = 3, size: int = 4):
    rng = np.random.default_rng(5)
    out = []
    for _ in range(n):
        real = np.tanh(rng.standard_normal((size, 3, 16, 16))).astype(np.float32)
        z = rng.standard_normal((size, NZ, 1, 1)).astype(np.float32)
        out.append((real, z if noise else None))
    return out


def test_trains_as_torch(torch):
    against_torch(torch, build, trainer, batches(noise=True))


def test_compiled_trains_as_eager():
    explained = against_eager(build, trainer, batches(noise=False))
    for explanation in explained["model"]:
        assert_whole(explanation)
    assert_whole(explained["step"], graphs=2)
