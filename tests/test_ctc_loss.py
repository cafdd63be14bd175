"""F.ctc_loss and nn.CTCLoss against PyTorch (losses, gradients w.r.t. the logits and the
log-probabilities, reductions, zero_infinity, concatenated and unbatched targets,
errors), a hand-computed value, and compiled against eager."""

import math

import numpy as np
import pytest

import irgrad
import irgrad.nn.functional as F

T, N, C, S = 12, 3, 5, 4


def _data(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((T, N, C)).astype(np.float32)
    targets = rng.integers(1, C, (N, S))
    targets[1, 1] = targets[1, 0]  # a repeated label needs a blank between
    return x, targets, np.array([12, 9, 12]), np.array([4, 3, 0])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("form", ["padded", "concatenated"])
def test_as_torch(reduction, form):
    torch = pytest.importorskip("torch")
    x, targets, il, tl = _data()
    if form == "concatenated":
        targets = np.concatenate([row[:length] for row, length in zip(targets, tl)])
    results = []
    for lib in (irgrad, torch):
        logits = lib.tensor(x, requires_grad=True)
        lp = lib.nn.functional.log_softmax(logits, 2)
        lp.retain_grad()
        loss = lib.nn.CTCLoss(reduction=reduction)(lp, lib.tensor(targets), tuple(il), tuple(tl))
        loss.sum().backward()
        results.append((loss.detach().numpy(), logits.grad.numpy(), lp.grad.numpy()))
    for mine, theirs in zip(*results):
        np.testing.assert_allclose(mine, theirs, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("zero_infinity", [False, True])
def test_impossible_alignments_as_torch(zero_infinity):
    torch = pytest.importorskip("torch")
    x, targets, _, _ = _data(1)
    results = []
    for lib in (irgrad, torch):
        logits = lib.tensor(x[:3], requires_grad=True)
        lp = lib.nn.functional.log_softmax(logits, 2)
        loss = lib.nn.functional.ctc_loss(
            lp,
            lib.tensor(targets),
            lib.tensor([3, 3, 2]),
            lib.tensor([4, 2, 1]),
            reduction="none",
            zero_infinity=zero_infinity,
        )
        results.append(loss.detach().numpy())
        if zero_infinity:
            loss.sum().backward()
            results.append(logits.grad.numpy())
    np.testing.assert_allclose(results[0], results[len(results) // 2], rtol=1e-5)
    assert np.isinf(results[0][0]) != zero_infinity
    if zero_infinity:
        np.testing.assert_allclose(results[1], results[3], rtol=1e-5, atol=1e-6)


def test_errors_as_torch():
    torch = pytest.importorskip("torch")
    calls = [
        lambda L: L.nn.functional.ctc_loss(L.zeros(5, 2, 3), L.ones(2, 2, dtype=L.int64), [6, 5], [2, 2]),
        lambda L: L.nn.functional.ctc_loss(L.zeros(5, 2, 3), L.ones(2, 2, dtype=L.int64), [5, 5], [3, 2]),
        lambda L: L.nn.functional.ctc_loss(
            L.zeros(5, 2, 3), L.ones(2, 2, dtype=L.int64), [5, 5], [2, 2], blank=3
        ),
    ]
    for call in calls:
        messages = []
        for lib in (irgrad, torch):
            with pytest.raises(RuntimeError) as err:
                call(lib)
            messages.append(str(err.value))
        assert messages[0] == messages[1]


def test_known_value_and_compiled():
    # two steps, one label "1" over classes {blank, 1}, uniform probabilities: the paths
    # "1 1", "b 1" and "1 b" each have probability 1/4, so the loss is -log(3/4)
    lp = irgrad.full((2, 1, 2), math.log(0.5))
    loss = F.ctc_loss(lp, irgrad.tensor([[1]]), [2], [1], reduction="sum")
    assert abs(loss.item() + math.log(0.75)) < 1e-6
    x, targets, il, tl = _data(2)
    logits = irgrad.tensor(x, requires_grad=True)

    def f(t):
        return F.ctc_loss(t.log_softmax(2), irgrad.tensor(targets), irgrad.tensor(il), irgrad.tensor(tl))

    compiled = irgrad.compile(f)
    out, expected = compiled(logits), f(logits)
    np.testing.assert_allclose(out.item(), expected.item(), rtol=1e-6)
    (g,) = irgrad.autograd.grad(out, logits)
    (h,) = irgrad.autograd.grad(expected, logits)
    np.testing.assert_allclose(g.numpy(), h.numpy(), rtol=1e-5, atol=1e-6)
