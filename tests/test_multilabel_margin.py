"""multilabel_margin_loss and nn.MultiLabelMarginLoss against PyTorch (values, gradients,
errors), a known value, and compiled against eager."""

import numpy as np
import pytest

import irgrad
import irgrad.nn.functional as F


def _cases():
    rng = np.random.default_rng(0)
    for shape in [(1, 4), (5, 6), (6,)]:
        x = rng.standard_normal(shape).astype(np.float32)
        y = rng.integers(-1, shape[-1], shape)
        if shape == (5, 6):
            y[1] = [2, 2, 0, -1, 3, 1]  # a repeated target, and targets after the -1 (ignored)
        yield x, y


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_as_torch(reduction):
    torch = pytest.importorskip("torch")
    for x, y in _cases():
        results = []
        for lib in (irgrad, torch):
            xt = lib.tensor(x, requires_grad=True)
            out = lib.nn.MultiLabelMarginLoss(reduction=reduction)(xt, lib.tensor(y))
            out.sum().backward()
            results.append((out.detach().numpy(), xt.grad.numpy()))
        for mine, theirs in zip(*results):
            np.testing.assert_allclose(mine, theirs, rtol=1e-6, atol=1e-6)


def test_errors_as_torch():
    torch = pytest.importorskip("torch")
    calls = [
        lambda L: L.nn.functional.multilabel_margin_loss(L.ones(1, 4), L.tensor([[5, 0, -1, 1]])),
        lambda L: L.nn.functional.multilabel_margin_loss(L.ones(1, 4), L.tensor([[3, 0]])),
        lambda L: L.nn.functional.multilabel_margin_loss(L.ones(2, 3, 4), L.ones(2, 3, 4, dtype=L.int64)),
        lambda L: L.nn.functional.multilabel_margin_loss(L.ones(1, 4), L.ones(1, 4)),
    ]
    for call in calls:
        messages = []
        for lib in (irgrad, torch):
            with pytest.raises(RuntimeError) as err:
                call(lib)
            messages.append(str(err.value))
        assert messages[0] == messages[1]


def test_known_value_and_compiled():
    x = irgrad.tensor([[0.1, 0.2, 0.4, 0.8]], requires_grad=True)
    y = irgrad.tensor([[3, 0, -1, 1]])
    assert abs(F.multilabel_margin_loss(x, y).item() - 0.85) < 1e-6  # PyTorch's documented example
    compiled = irgrad.compile(lambda a, b: F.multilabel_margin_loss(a * 2, b))
    np.testing.assert_allclose(compiled(x, y).item(), F.multilabel_margin_loss(x * 2, y).item(), rtol=1e-6)
