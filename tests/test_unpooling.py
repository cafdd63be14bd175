"""lp_pool1d/2d, max_unpool1d/2d and their modules against PyTorch (values, gradients,
errors), and a max_pool -> max_unpool round trip without torch."""

import numpy as np
import pytest

import irgrad
import irgrad.nn as nn
import irgrad.nn.functional as F

LP_CASES = [
    ("2d", 2.0, 3, 2, False, (2, 3, 7, 6)),
    ("2d", 3.0, (2, 3), None, True, (1, 2, 5, 7)),
    ("2d", 1.5, 2, 1, False, (3, 4, 4)),
    ("1d", 1.5, 3, 1, False, (2, 3, 9)),
    ("1d", 2.0, 2, None, True, (3, 7)),
]


@pytest.mark.parametrize("case", LP_CASES)
def test_lp_pool_as_torch(case):
    torch = pytest.importorskip("torch")
    kind, p, kernel, stride, ceil, shape = case
    x = np.abs(np.random.default_rng(0).standard_normal(shape)).astype(np.float32) + 0.1
    results = []
    for lib in (irgrad, torch):
        t = lib.tensor(x, requires_grad=True)
        out = getattr(lib.nn.functional, f"lp_pool{kind}")(t, p, kernel, stride, ceil)
        out.pow(2).sum().backward()
        results.append((out.detach().numpy(), t.grad.numpy()))
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "pool,unpool",
    [
        (dict(kernel_size=2), dict(kernel_size=2)),
        (
            dict(kernel_size=3, stride=2, padding=1),
            dict(kernel_size=3, stride=2, padding=1, output_size=(6, 6)),
        ),
        (dict(kernel_size=2), dict(kernel_size=2, output_size=(2, 3, 7, 7))),
    ],
)
def test_max_unpool2d_as_torch(pool, unpool):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(1).standard_normal((2, 3, 6, 6)).astype(np.float32)
    results = []
    for lib in (irgrad, torch):
        t = lib.tensor(x, requires_grad=True)
        pooled, where = lib.nn.functional.max_pool2d(t, return_indices=True, **pool)
        out = lib.nn.functional.max_unpool2d(pooled, where, **unpool)
        (
            out * lib.tensor(np.arange(out.numel(), dtype=np.float32).reshape(tuple(out.shape)))
        ).sum().backward()
        results.append((out.detach().numpy(), t.grad.numpy()))
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


def test_errors_and_modules_as_torch():
    torch = pytest.importorskip("torch")
    calls = [
        lambda L: L.nn.functional.max_unpool2d(L.ones(1, 1, 2, 2), L.tensor([[[[0, 1], [2, 99]]]]), 2),
        lambda L: L.nn.functional.max_unpool2d(
            L.ones(1, 1, 2, 2), L.tensor([[[[0, 1], [2, 3]]]]), 2, output_size=(9, 9)
        ),
    ]
    for call in calls:
        messages = []
        for lib in (irgrad, torch):
            with pytest.raises((RuntimeError, ValueError)) as err:
                call(lib)
            messages.append((type(err.value), str(err.value)))
        assert messages[0] == messages[1]
    for make in (
        lambda L: L.nn.MaxUnpool2d(2),
        lambda L: L.nn.MaxUnpool1d(3, 2, 1),
        lambda L: L.nn.LPPool2d(2, 3),
        lambda L: L.nn.LPPool1d(1.5, 2, 1),
    ):
        assert repr(make(irgrad)) == repr(make(torch))


def test_round_trip_keeps_the_maxima():
    x = irgrad.tensor(np.abs(np.random.default_rng(2).standard_normal((1, 2, 4, 6))).astype(np.float32) + 0.1)
    pooled, where = nn.MaxPool2d(2, return_indices=True)(x)
    back = nn.MaxUnpool2d(2)(pooled, where)
    assert back.shape == x.shape
    np.testing.assert_array_equal(F.max_pool2d(back, 2).numpy(), pooled.numpy())
    assert (back.numpy() != 0).sum() == pooled.numel()
    pooled1, where1 = F.max_pool1d(x[0], 3, return_indices=True)
    back1 = nn.MaxUnpool1d(3)(pooled1, where1)
    np.testing.assert_array_equal(F.max_pool1d(back1, 3).numpy(), pooled1.numpy())
