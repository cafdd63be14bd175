"""tensordot, kron, cross and linalg.cross, vdot, chain_matmul, matrix_power and
linalg.matrix_power, baddbmm, addbmm, addmv and addr against PyTorch 2.13: values,
dtypes, gradients, errors; float64 finite differences; compiled against eager."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from torch_parity import raises_like_torch

import irgrad

_rng = np.random.default_rng(21)


def R(*shape):
    return _rng.standard_normal(shape).astype(np.float32)


def INT(*shape):
    return _rng.integers(-4, 5, shape)


CASES = [
    ("tensordot_2", lambda L, a, b: L.tensordot(a, b), R(2, 3, 4), R(3, 4, 5)),
    ("tensordot_lists", lambda L, a, b: L.tensordot(a, b, dims=([1, 0], [0, 2])), R(2, 3, 4), R(3, 5, 2)),
    ("tensordot_0", lambda L, a, b: L.tensordot(a, b, dims=0), R(2, 3), R(4)),
    ("tensordot_int", lambda L, a, b: L.tensordot(a, b, dims=1), INT(2, 3), INT(3, 2)),
    ("tensordot_tensor_dims", lambda L, a, b: L.tensordot(a, b, dims=L.tensor([[1], [0]])), R(2, 3), R(3, 2)),
    ("kron", lambda L, a, b: L.kron(a, b), R(2, 3), R(4, 2)),
    ("kron_ranks", lambda L, a, b: a.kron(b), R(2, 3, 2), R(3)),
    ("kron_0d", lambda L, a, b: L.kron(a, b), R(), R(4)),
    ("kron_promotes", lambda L, a, b: L.kron(a, b), INT(2, 2), R(2)),
    ("cross_dim", lambda L, a, b: L.cross(a, b, dim=0), R(3, 4), R(3, 4)),
    ("cross_method", lambda L, a, b: a.cross(b, dim=-1), R(2, 5, 3), R(2, 5, 3)),
    ("linalg_cross_broadcast", lambda L, a, b: L.linalg.cross(a, b), R(4, 3), R(1, 3)),
    ("linalg_cross_int", lambda L, a, b: L.linalg.cross(a, b, dim=0), INT(3, 2), INT(3, 2)),
    ("vdot", lambda L, a, b: L.vdot(a, b), R(5), R(5)),
    ("matrix_power_0", lambda L, a: L.matrix_power(a, 0), R(2, 3, 3)),
    ("matrix_power_1", lambda L, a: a.matrix_power(1), R(3, 3)),
    ("matrix_power_5", lambda L, a: L.linalg.matrix_power(a, 5), R(2, 3, 3)),
    ("matrix_power_6", lambda L, a: L.linalg.matrix_power(a, 6), R(4, 4)),
    ("matrix_power_neg", lambda L, a: L.matrix_power(a + 3 * L.eye(3), -3), R(2, 3, 3)),
    ("matrix_power_int", lambda L, a: L.matrix_power(a, 3), INT(3, 3)),
    ("matrix_power_empty", lambda L, a: L.matrix_power(a, 2), R(0, 2, 2)),
    ("baddbmm", lambda L, i, a, b: L.baddbmm(i, a, b), R(4, 2), R(3, 4, 5), R(3, 5, 2)),
    (
        "baddbmm_scaled",
        lambda L, i, a, b: i.baddbmm(a, b, beta=0.5, alpha=-2),
        R(3, 4, 2),
        R(3, 4, 5),
        R(3, 5, 2),
    ),
    ("addbmm", lambda L, i, a, b: L.addbmm(i, a, b, alpha=0.25), R(4, 2), R(3, 4, 5), R(3, 5, 2)),
    ("addmv", lambda L, i, a, b: L.addmv(i, a, b, beta=2), R(4), R(4, 5), R(5)),
    ("addmv_broadcast", lambda L, i, a, b: i.addmv(a, b), R(1), R(4, 5), R(5)),
    ("addr", lambda L, i, a, b: L.addr(i, a, b, beta=-1, alpha=3), R(4, 5), R(4), R(5)),
    ("addr_int", lambda L, i, a, b: L.addr(i, a, b, alpha=2), INT(4, 5), INT(4), INT(5)),
    ("logdet", lambda L, a: L.logdet(a @ a.mT + L.eye(3)), R(2, 3, 3)),
    (
        "logdet_signs",
        lambda L, a: a.logdet(),
        np.array([[[1, 2], [3, 4]], [[2, 0], [0, 3]]], np.float32),
    ),
]


@pytest.mark.parametrize("fn,inputs", [pytest.param(f, a, id=n) for n, f, *a in CASES])
def test_products_match_torch(compare, fn, inputs):
    compare(fn, *inputs, atol=1e-4)


def test_logdet_of_a_singular_matrix_is_minus_inf(compare):
    compare(lambda L, a: L.logdet(a), np.array([[1.0, 1.0], [1.0, 1.0]], np.float32), grad=False)


def test_beta_zero_ignores_nan_in_the_input_as_torch(compare):
    nan = np.full((4, 2), np.nan, np.float32)
    compare(lambda L, i, a, b: L.baddbmm(i, a, b, beta=0), nan, R(3, 4, 5), R(3, 5, 2))
    compare(lambda L, i, a, b: L.addr(i, a, b, beta=0), nan, R(4), R(2))


@pytest.mark.parametrize(
    "fn",
    [
        lambda L, i, a, b: i.clone().baddbmm_(a, b, beta=0.5),
        lambda L, i, a, b: i[0].clone().addbmm_(a, b, alpha=2),
        lambda L, i, a, b: i[0, :, 0].clone().addmv_(a[0], b[0, :, 0]),
        lambda L, i, a, b: i[0].clone().addr_(a[0, :, 0], b[0, 0], beta=-1),
    ],
)
def test_in_place_accumulations_match_torch(compare, fn):
    compare(fn, R(3, 4, 2), R(3, 4, 5), R(3, 5, 2), atol=1e-4)


def test_out_arguments_write_into_the_given_tensor(compare):
    def fn(lib, i, a, b):
        out = lib.empty(3, 4, 2)
        result = lib.baddbmm(i, a, b, out=out)
        assert result is out
        target = lib.empty(4, 4)
        assert lib.tensordot(a[0], a[1], dims=([1], [1]), out=target) is target
        return out, target

    compare(fn, R(3, 4, 2), R(3, 4, 5), R(3, 5, 2), atol=1e-4, grad=False)


def test_chain_matmul_matches_torch(compare):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        compare(lambda L, a, b, c: L.chain_matmul(a, b, c), R(2, 3), R(3, 4), R(4, 2), atol=1e-4)
        compare(lambda L, a: L.chain_matmul(a), R(2, 3))


@pytest.mark.parametrize(
    "call",
    [
        lambda L: L.tensordot(L.ones(2, 3), L.ones(4, 2), dims=([1], [0])),
        lambda L: L.tensordot(L.ones(2, 3), L.ones(3, 2, dtype=L.float64), dims=1),
        lambda L: L.tensordot(L.ones(2, 3), L.ones(3, 2), dims=-1),
        lambda L: L.tensordot(L.ones(2, 3), L.ones(3, 2), dims=([1, 0], [0])),
        lambda L: L.cross(L.ones(2, 2), L.ones(2, 2)),
        lambda L: L.linalg.cross(L.ones(3, 2), L.ones(3, 2)),
        lambda L: L.linalg.cross(L.ones(4, 3), L.ones(1, 3, dtype=L.float64)),
        lambda L: L.vdot(L.ones(3), L.ones(3, dtype=L.int64)),
        lambda L: L.vdot(L.ones(3), L.ones(4)),
        lambda L: L.vdot(L.ones(3, 1), L.ones(3, 1)),
        lambda L: L.matrix_power(L.ones(2, 3), 2),
        lambda L: L.matrix_power(L.ones(2, 3, 3, dtype=L.int64), -1),
        lambda L: L.chain_matmul(L.ones(2, 3), L.ones(3)),
        lambda L: L.addr(
            L.ones(1, dtype=L.int64), L.ones(4, dtype=L.int64), L.ones(5, dtype=L.int64), beta=0.5
        ),
        lambda L: L.addmv(L.ones(1), L.ones(4, 5), L.ones(5, dtype=L.float64)),
        lambda L: L.baddbmm(L.ones(1), L.ones(2, 4, 5), L.ones(3, 5, 3)),
        lambda L: L.addbmm(L.ones(2, 3), L.ones(2, 4, 5), L.ones(2, 5, 3)),
    ],
)
def test_product_errors_match_torch(call):
    raises_like_torch(call)


def test_cross_without_dim_takes_the_first_of_size_3_and_warns(compare):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        compare(lambda L, a, b: L.cross(a, b), R(4, 3, 3), R(4, 3, 3))
    assert any("without specifying the dim" in str(w.message) for w in caught)


def test_product_gradients_match_finite_differences():
    def f64(*shape):
        return irgrad.tensor(R(*shape).astype(np.float64), requires_grad=True)

    a, b, m, v = f64(2, 3, 3), f64(2, 3, 3), f64(3, 3), f64(3)
    assert irgrad.autograd.gradcheck(lambda x, y: irgrad.tensordot(x, y, dims=([1, 2], [2, 1])), (a, b))
    assert irgrad.autograd.gradcheck(lambda x, y: irgrad.kron(x, y), (m, v))
    assert irgrad.autograd.gradcheck(lambda x, y: irgrad.linalg.cross(x, y, dim=1), (a, b))
    assert irgrad.autograd.gradcheck(lambda x: irgrad.matrix_power(x, 5), (m,))
    assert irgrad.autograd.gradcheck(lambda x, y: irgrad.baddbmm(x, y, y, beta=0.5, alpha=2), (a, b))
    assert irgrad.autograd.gradcheck(lambda i, x, y: irgrad.addr(i, x, y, beta=2), (m, v, v))


def test_compiled_products_match_eager(backend):
    def fn(a, b, v):
        return (
            irgrad.tensordot(a, b, dims=([1], [0])),
            irgrad.kron(v, a),
            irgrad.linalg.cross(a, b.t(), dim=0),
            irgrad.matrix_power(a, 5),
            irgrad.addmv(v, a, v, beta=0.5),
        )

    compiled = irgrad.compile(fn, backend=backend)
    for seed in range(3):
        rng = np.random.default_rng(seed)
        a, b = (irgrad.tensor(rng.standard_normal((3, 3)).astype(np.float32)) for _ in range(2))
        v = irgrad.tensor(rng.standard_normal(3).astype(np.float32))
        for got, want in zip(compiled(a, b, v), fn(a, b, v)):
            np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-5, atol=1e-5)
