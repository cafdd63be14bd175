"""Small training steps for tests that compile them: a seeded MLP, an optimizer, and a
step function calling ``backward()`` and ``optimizer.step()`` (what ``irgrad.compile``
captures whole)."""

from __future__ import annotations

import numpy as np

import irgrad
import irgrad.nn as nn
import irgrad.nn.functional as F
from irgrad import optim

# RAdam's betas[1] = 0.9 rectifies from step 6 on: one graph must serve steps before and after.
TRAINED = {
    "NAdam": {"lr": 1e-2, "weight_decay": 0.1, "decoupled_weight_decay": True},
    "RAdam": {"lr": 1e-2, "betas": (0.9, 0.9), "weight_decay": 0.01},
    "Adamax": {"lr": 1e-2, "weight_decay": 0.01},
}


def batch(i: int) -> tuple:
    """The ``i``-th batch: 5 rows of 6 features, and class labels in [0, 3)."""
    g = np.random.default_rng(i)
    return irgrad.tensor(g.standard_normal((5, 6)).astype(np.float32)), irgrad.tensor(g.integers(0, 3, 5))


def training(name: str, lr_tensor: bool = False) -> tuple:
    """``(model, optimizer, step)``, the same on every call (seeded); the learning rate a
    0-d tensor if ``lr_tensor``."""
    irgrad.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3))
    options = TRAINED[name]
    if lr_tensor:
        options = options | {"lr": irgrad.tensor(options["lr"])}
    opt = getattr(optim, name)(model.parameters(), **options)
    return model, opt, cross_entropy_step(model, opt)


def cross_entropy_step(model, opt, clip: float | None = None, scheduler=None):
    """The usual training step ``step(x, y)``: zero the gradients, the cross-entropy loss
    of ``model(x)``, its backward, (the gradients clipped to norm ``clip``),
    ``opt.step()`` (and ``scheduler.step()``); returns the loss, detached."""

    def step(x, y):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        if clip is not None:
            nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
        if scheduler is not None:
            scheduler.step()
        return loss.detach()

    return step


def fixed_batch_step(make_optimizer, detach: bool = True) -> tuple:
    """``(model, optimizer, step)``: a seeded MLP trained on one fixed batch by an
    argument-less ``step()``, with the optimizer ``make_optimizer(parameters)``.  The
    step returns the loss detached, or (``detach=False``) still attached: it could then
    be differentiated again after the call, so a compiled step keeps a backward and saves
    what it reads (the last layer's weight with its old values)."""
    irgrad.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 7), nn.Tanh(), nn.Linear(7, 3))
    opt = make_optimizer(model.parameters())
    x, y = irgrad.randn(6, 5), irgrad.tensor([0, 1, 2, 0, 1, 2])

    def step():
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss.detach() if detach else loss

    return model, opt, step


def elementwise_step(size: int, **sgd) -> tuple:
    """``(x, step)``: the benchmarks' W5 training step (``sum(tanh(x) * sigmoid(x) + 0.5 *
    x * x)``, backward, SGD with ``sgd``) on a seeded leaf of ``size`` floats."""
    x = irgrad.tensor(np.random.default_rng(0).standard_normal(size).astype(np.float32), requires_grad=True)
    opt = optim.SGD([x], **sgd)

    def step():
        opt.zero_grad()
        loss = (x.tanh() * x.sigmoid() + 0.5 * x * x).sum()
        loss.backward()
        opt.step()
        return loss.detach()

    return x, step


def snapshot(model, opt) -> list[np.ndarray]:
    """Copies of the parameters and of every optimizer state tensor."""
    state = [t.numpy().copy() for s in opt.state_dict()["state"].values() for t in s.values()]
    return [p.detach().numpy().copy() for p in model.parameters()] + state
