"""Tensor.unfold (sliding windows as a view): known values, views of the input's memory,
gradients by float64 finite differences, compiled against eager (static and dynamic
sizes, llvm), and parity with torch 2.13 (values, strides, gradients, errors)."""

from __future__ import annotations

import numpy as np
import pytest

import irgrad as ir
from irgrad.autograd import gradcheck, gradgradcheck

CASES = [
    ((7,), 0, 3, 1),
    ((7,), 0, 2, 3),
    ((3, 8), 1, 3, 2),
    ((3, 8), 0, 2, 1),
    ((2, 5, 4), -1, 4, 1),
    ((4, 6), 1, 0, 2),
]


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def test_known_values_and_a_view():
    x = ir.arange(6.0)
    windows = x.unfold(0, 3, 2)
    assert windows.tolist() == [[0.0, 1.0, 2.0], [2.0, 3.0, 4.0]]
    assert windows._base is x
    x.add_(10)
    assert windows.tolist() == [[10.0, 11.0, 12.0], [12.0, 13.0, 14.0]]


def test_writes_through_overlapping_windows():
    x = ir.zeros(5)
    with pytest.raises(RuntimeError, match="more than one element of the written-to tensor"):
        x.unfold(0, 3, 1).add_(1)
    x.unfold(0, 3, 1).fill_(2.0)  # one value everywhere: allowed, as PyTorch's
    assert x.tolist() == [2.0] * 5
    y = ir.zeros(6)
    y.unfold(0, 2, 3).add_(1)  # windows apart: an ordinary view
    assert y.tolist() == [1.0, 1.0, 0.0, 1.0, 1.0, 0.0]


@pytest.mark.parametrize("shape, dim, size, step", CASES)
def test_gradients_by_finite_differences(shape, dim, size, step):
    x = ir.tensor(np.random.default_rng(0).standard_normal(shape), requires_grad=True)
    assert gradcheck(lambda t: t.unfold(dim, size, step) * 1.5, (x,))
    assert gradgradcheck(lambda t: (t.unfold(dim, size, step) ** 2).sum(-1), (x,))


def _fn(x):
    return (x.unfold(1, 3, 2) * x.unfold(1, 3, 2).sin()).sum(-1).tanh()


@pytest.mark.parametrize("dynamic", [False, True])
def test_compiled_matches_eager(dynamic):
    compiled = ir.compile(_fn, backend="llvm", dynamic=dynamic)
    rng = np.random.default_rng(1)
    for n in (9, 9, 11) if dynamic else (9, 9, 9):
        data = rng.standard_normal((2, n))
        x, xe = ir.tensor(data, requires_grad=True), ir.tensor(data, requires_grad=True)
        out, expected = compiled(x), _fn(xe)
        np.testing.assert_allclose(out.detach().numpy(), expected.detach().numpy(), rtol=1e-12, atol=1e-12)
        out.sum().backward()
        expected.sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), xe.grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("shape, dim, size, step", CASES)
def test_matches_torch(shape, dim, size, step, torch):
    data = np.random.default_rng(2).standard_normal(shape).astype(np.float32)
    ours, theirs = ir.tensor(data, requires_grad=True), torch.tensor(data, requires_grad=True)
    a, b = ours.unfold(dim, size, step), theirs.unfold(dim, size, step)
    assert tuple(a.shape) == tuple(b.shape) and a.stride() == b.stride()
    np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    weight = np.random.default_rng(3).standard_normal(tuple(b.shape)).astype(np.float32)
    (a * ir.tensor(weight)).sum().backward()
    (b * torch.tensor(weight)).sum().backward()
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-6, atol=1e-6)


ERRORS = [
    (lambda L: L.zeros(2, 5).unfold(1, 6, 1), RuntimeError, "maximum size for tensor at dimension 1 is 5"),
    (lambda L: L.zeros(2, 5).unfold(1, 2, 0), RuntimeError, "step is 0 but must be > 0"),
    (lambda L: L.zeros(2, 5).unfold(1, -1, 1), RuntimeError, "size is -1 but must be >= 0"),
    (lambda L: L.zeros(2, 5).unfold(2, 1, 1), IndexError, "Dimension out of range"),
    (lambda L: L.tensor(3.0).unfold(0, 2, 1), RuntimeError, "maximum size for tensor at dimension 0 is 1"),
]


@pytest.mark.parametrize("call, error, message", ERRORS)
def test_errors_match_torch(call, error, message, torch):
    for L in (ir, torch):
        with pytest.raises(error, match=message):
            call(L)


def test_zero_dim_input_as_torch(torch):
    for size in (0, 1):
        assert ir.tensor(3.0).unfold(0, size, 1).tolist() == torch.tensor(3.0).unfold(0, size, 1).tolist()
