"""The character-level language model script (an embedding-table MLP over a context window):
parameters drawn with ``randn(..., generator=g)`` from a seeded Generator, ``C[X]`` rows
looked up and flattened with ``view``, ``tanh(emb @ W1 + b1) @ W2 + b2``,
``cross_entropy``, minibatches picked with ``randint``, gradients cleared with
``p.grad = None`` and the update ``p.data += -lr * p.grad``; then sampling names one
character at a time with ``multinomial(probs, num_samples=1, generator=g)``.

Compared: against torch with the minibatch indices given (losses, final parameters, and
the sampling distribution of a context); compiled module and compiled step against eager
irgrad with the minibatches drawn by ``randint``; sampling: a Generator seeded the same
draws the same names, and compiled sampling (a graph break: the draw is not recordable and
``.item()`` decides the next context) equals eager.
"""

from __future__ import annotations

import contextlib
import io
import warnings

import numpy as np

import irgrad
from irgrad.compiler.warnings import CompileWarning

from .common import Training, against_eager, against_torch, assert_breaks, assert_whole

VOCAB, BLOCK, EMBED, HIDDEN, BATCH = 11, 3, 4, 16, 8


def build(lib, seed=2147483647):
    nn = lib.nn
    g = lib.Generator().manual_seed(seed)

    class CharMLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.C = nn.Parameter(lib.randn((VOCAB, EMBED), generator=g))
            self.W1 = nn.Parameter(lib.randn((BLOCK * EMBED, HIDDEN), generator=g) * 0.2)
            self.b1 = nn.Parameter(lib.randn(HIDDEN, generator=g) * 0.01)
            self.W2 = nn.Parameter(lib.randn((HIDDEN, VOCAB), generator=g) * 0.01)
            self.b2 = nn.Parameter(lib.randn(VOCAB, generator=g) * 0)

        def forward(self, X):
            emb = self.C[X]  # (batch, BLOCK, EMBED)
            h = lib.tanh(emb.view(-1, BLOCK * EMBED) @ self.W1 + self.b1)
            return h @ self.W2 + self.b2

    return CharMLP()


def trainer(lib, model, wrap, lr=0.1):
    F = lib.nn.functional
    net = wrap(model)
    parameters = list(model.parameters())

    def train_step(X, Y, ix):
        if ix is None:
            ix = lib.randint(0, X.shape[0], (BATCH,))
        loss = F.cross_entropy(net(X[ix]), Y[ix])
        for p in parameters:
            p.grad = None
        loss.backward()
        for p in parameters:
            p.data += -lr * p.grad
        return loss.detach()

    return Training(train_step)


def sample(lib, model, g, names=3, max_len=8):
    """Names drawn one character at a time until the end token 0 (or ``max_len``)."""
    F = lib.nn.functional
    drawn = []
    for _ in range(names):
        out, context = [], [0] * BLOCK
        while True:
            probs = F.softmax(model(lib.tensor([context])), dim=1)
            ix = lib.multinomial(probs, num_samples=1, generator=g).item()
            context = context[1:] + [ix]
            out.append(ix)
            if ix == 0 or len(out) == max_len:
                break
        drawn.append(out)
    return drawn


def dataset():
    """Contexts of BLOCK characters and the next one, from random words ended by token 0."""
    rng = np.random.default_rng(9)
    X, Y = [], []
    for _ in range(12):
        context = [0] * BLOCK
        for ch in [*rng.integers(1, VOCAB, rng.integers(2, 6)), 0]:
            X.append(context)
            Y.append(ch)
            context = context[1:] + [ch]
    return np.array(X), np.array(Y)


def batches(given: bool, n: int = 5):
    X, Y = dataset()
    rng = np.random.default_rng(10)
    return [(X, Y, rng.integers(0, len(X), BATCH) if given else None) for _ in range(n)]


def test_trains_as_torch(torch):
    mine, theirs = against_torch(torch, build, trainer, batches(given=True))
    context = [[0, 3, 7]]
    probs = [
        lib.nn.functional.softmax(model(lib.tensor(context)), dim=1).detach().numpy()
        for lib, model in ((irgrad, mine), (torch, theirs))
    ]
    np.testing.assert_allclose(probs[0], probs[1], rtol=1e-5, atol=1e-7)


def test_compiled_trains_as_eager():
    explained = against_eager(build, trainer, batches(given=False))
    for explanation in explained["model"]:
        assert_whole(explanation, graphs=2)  # before and after the first backward made .grad
    assert_whole(explained["step"], graphs=2)


def test_sampling_is_seeded_and_compiled_sampling_equals_eager():
    model = build(irgrad)
    eager = [sample(irgrad, model, irgrad.Generator().manual_seed(7)) for _ in range(2)]
    assert eager[0] == eager[1]
    assert all(0 <= ix < VOCAB for name in eager[0] for ix in name)
    sampler = irgrad.compile(lambda g: sample(irgrad, model, g))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CompileWarning)
        compiled = [sampler(irgrad.Generator().manual_seed(7)) for _ in range(2)]
    assert compiled == eager
    with contextlib.redirect_stdout(io.StringIO()):
        # multinomial is not a recordable random op; .item() right after it would break anyway
        assert_breaks(sampler.explain(), "a random draw outside a random op (random) cannot be recorded")


def test_randint_is_a_recorded_random_op():
    """Regression: ``randint`` drew outside the op registry, so a compiled step picking its
    minibatch was a graph break; it is now a random op, drawn afresh by every compiled call
    in eager's order."""
    X = irgrad.arange(20.0).view(10, 2)
    pick = irgrad.compile(lambda X: X[irgrad.randint(0, X.shape[0], (4,))] * 2)
    draws = []
    for fn in (lambda X: X[irgrad.randint(0, X.shape[0], (4,))] * 2, pick):
        irgrad.manual_seed(3)
        draws.append([fn(X).numpy() for _ in range(3)])
    np.testing.assert_array_equal(np.stack(draws[1]), np.stack(draws[0]))
    assert not np.array_equal(draws[1][0], draws[1][1])
    with contextlib.redirect_stdout(io.StringIO()):
        explanation = pick.explain()
    assert_whole(explanation, graphs=1)
    assert "randint(" in str(explanation.graphs[0]["forward"])


def test_validating_a_new_graph_leaves_the_random_stream_as_eager():
    """Regression: validation of a side-effect-free function's new graph left the global
    generator one call's draws ahead, so the next compiled call drew other numbers than eager."""
    fn = lambda x: x * irgrad.rand(3)  # noqa: E731
    x = irgrad.ones(3)
    draws = []
    for f in (fn, irgrad.compile(fn)):
        irgrad.manual_seed(4)
        draws.append([f(x).numpy() for _ in range(3)])
    np.testing.assert_array_equal(np.stack(draws[1]), np.stack(draws[0]))
