"""frexp, nextafter, unique_consecutive and histogram, as PyTorch's: known values and
finite-difference-free gradient identities without torch, and parity with torch 2.13
(values, dtypes, gradients, errors) on random and special inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest

import irgrad as ir
from irgrad.compiler import CompileWarning

SPECIALS = np.array([0.0, -0.0, -3.0, 8.0, 0.1, math.inf, -math.inf, math.nan, 1e-40, 3e38], np.float32)


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def test_frexp_known_values_and_gradient():
    mantissa, exponent = ir.frexp(ir.tensor(SPECIALS))
    assert exponent.dtype is ir.int32 and mantissa.dtype is ir.float32
    m, e = mantissa.numpy(), exponent.numpy()
    finite = np.isfinite(SPECIALS) & (SPECIALS != 0)
    np.testing.assert_array_equal(np.ldexp(m[finite], e[finite]), SPECIALS[finite])
    assert np.all((np.abs(m[finite]) >= 0.5) & (np.abs(m[finite]) < 1))
    x = ir.tensor([3.0, 0.1, -40.0], dtype=ir.float64, requires_grad=True)
    mantissa, exponent = ir.frexp(x)
    mantissa.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), 2.0 ** -exponent.numpy().astype(np.float64))


def test_nextafter_known_values_and_gradient():
    x = ir.tensor([1.0, 1.0, 0.0, math.inf, 2.0], requires_grad=True)
    toward = ir.tensor([2.0, 0.0, -1.0, 0.0, 2.0], requires_grad=True)
    out = ir.nextafter(x, toward)
    expected = np.nextafter(
        np.array([1, 1, 0, np.inf, 2], np.float32), np.array([2, 0, -1, 0, 2], np.float32)
    )
    np.testing.assert_array_equal(out.detach().numpy(), expected)
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1, 1, 1, 1, 0])  # 0 where it returns x itself
    np.testing.assert_array_equal(toward.grad.numpy(), np.zeros(5, np.float32))


def test_unique_consecutive_known_values():
    values, inverse, counts = ir.unique_consecutive(
        ir.tensor([1, 1, 2, 2, 3, 1, 1, 2]), return_inverse=True, return_counts=True
    )
    assert values.tolist() == [1, 2, 3, 1, 2]
    assert inverse.tolist() == [0, 0, 1, 1, 2, 3, 3, 4]
    assert counts.tolist() == [2, 2, 1, 2, 1]


@pytest.mark.parametrize("shape, dim", [((0, 2), 0), ((3, 0), 1), ((2, 0, 3), 1), ((0, 2), 1), ((3, 0), 0)])
def test_unique_consecutive_of_empty_tensors_matches_torch(shape, dim, torch):
    def call(L):
        try:
            return [r.shape for r in L.unique_consecutive(L.zeros(shape), True, True, dim=dim)]
        except RuntimeError as e:
            return str(e)

    assert call(ir) == call(torch)


def test_histogram_of_no_data_spans_0_to_1(torch):
    for L in (ir, torch):
        hist, edges = L.histogram(L.zeros(0), 2)
        assert hist.tolist() == [0.0, 0.0]
        assert edges.tolist() == [0.0, 0.5, 1.0]


def test_histogram_known_values():
    hist, edges = ir.histogram(ir.tensor([1.0, 2.0, 2.0, 3.0, 1.0, 1.0]), bins=3)
    assert hist.tolist() == [3.0, 2.0, 1.0]
    np.testing.assert_allclose(edges.numpy(), [1.0, 5 / 3, 7 / 3, 3.0], rtol=1e-6)


CASES = {
    "frexp": lambda L, x: list(L.frexp(x)),
    "frexp_method": lambda L, x: list(x.double().frexp()),
    "nextafter_up": lambda L, x: L.nextafter(x, L.tensor(math.inf)),
    "nextafter_down_broadcast": lambda L, x: L.nextafter(x, L.zeros(3, 1)),
    "nextafter_promoted": lambda L, x: L.nextafter(x, x.double()),
    "unique_consecutive_flat": lambda L, x: list(
        L.unique_consecutive(x.round(), return_inverse=True, return_counts=True)
    ),
    "unique_consecutive_dim0": lambda L, x: list(
        L.unique_consecutive(x.clamp(-0.5, 0.5).round(), dim=0, return_inverse=True, return_counts=True)
    ),
    "unique_consecutive_dim1": lambda L, x: list((x > 0).unique_consecutive(dim=1, return_counts=True)),
    "histogram_bins": lambda L, x: list(L.histogram(x, bins=7)),
    "histogram_range_weight_density": lambda L, x: list(
        L.histogram(x, 5, range=(-1.0, 1.5), weight=x.abs(), density=True)
    ),
    "histogram_edges": lambda L, x: list(L.histogram(x, bins=L.tensor([-2.0, -0.5, 0.0, 0.25, 3.0]))),
    "histogram_method_float64": lambda L, x: list(x.double().histogram(4)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_torch(name, torch):
    rng = np.random.default_rng(len(name))
    data = rng.standard_normal((4, 3, 5)).astype(np.float32)
    data[0, 0, :2] = data[0, 0, 2]  # runs and ties
    ours, theirs = CASES[name](ir, ir.tensor(data)), CASES[name](torch, torch.tensor(data))
    ours, theirs = (v if isinstance(v, list) else [v] for v in (ours, theirs))
    for a, b in zip(ours, theirs, strict=True):
        assert str(a.dtype).split(".")[-1] == str(b.dtype).split(".")[-1], name
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6, atol=0, err_msg=name)


def test_gradients_match_torch(torch):
    data = np.array([3.0, 0.1, -40.0, 1e-30, 0.75], np.float32)  # the middle meets itself
    grads = []
    for L in (ir, torch):
        x, y = L.tensor(data, requires_grad=True), L.tensor(data[::-1].copy(), requires_grad=True)
        (L.frexp(x)[0] * 3 + L.nextafter(x, y) * 2).sum().backward()
        grads.append((x.grad.numpy(), y.grad.numpy()))
    for a, b in zip(*grads):
        np.testing.assert_array_equal(a, b)


ERRORS = [
    (lambda L: L.frexp(L.tensor([1, 2])), RuntimeError),
    (lambda L: L.nextafter(L.tensor([1]), L.tensor([2])), NotImplementedError),
    (lambda L: L.histogram(L.tensor([1, 2]), bins=2), NotImplementedError),
    (lambda L: L.histogram(L.tensor([1.0, 2.0]), bins=2, range=(3.0, 1.0)), RuntimeError),
    (lambda L: L.histogram(L.tensor([1.0, 2.0]), bins=0), RuntimeError),
    (lambda L: L.histogram(L.tensor([1.0, 2.0]), bins=L.tensor([0.5])), RuntimeError),
    (lambda L: L.histogram(L.tensor([1.0, 2.0]), bins=L.zeros(0)), RuntimeError),
    (lambda L: L.histogram(L.tensor([1.0, 2.0]), bins=L.zeros(2, 2)), RuntimeError),
]


@pytest.mark.parametrize("call, error", ERRORS)
def test_errors_match_torch(call, error, torch):
    for L in (ir, torch):
        with pytest.raises(error):
            call(L)


def test_compiled_call_breaks_the_graph_and_stays_right():
    def f(x):
        hist, _ = ir.histogram(x, bins=4)
        return hist * 2 + ir.frexp(x)[0].sum()

    compiled = ir.compile(f)
    x = ir.randn(50)
    with pytest.warns(CompileWarning, match="histogram"):
        np.testing.assert_allclose(compiled(x).numpy(), f(x).numpy())
    np.testing.assert_allclose(compiled(x).numpy(), f(x).numpy())
