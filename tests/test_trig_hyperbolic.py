"""asin acos atan sinh cosh asinh acosh atanh (and their ``arc`` aliases): values and
gradients against PyTorch in float32 and float64, special values and domain edges
included; gradients by float64 finite differences, first and second order; the native
code of compiled graphs (the ops' scalar rules) against the numpy kernels over the
whole float range."""

from __future__ import annotations

import math

import numpy as np
import pytest
from elementwise_cases import assert_close_in_ulps

import irgrad
from irgrad.autograd import gradcheck, gradgradcheck

NAMES = ["asin", "acos", "atan", "sinh", "cosh", "asinh", "acosh", "atanh"]
ALIASES = {"asin": "arcsin", "acos": "arccos", "atan": "arctan", "asinh": "arcsinh", "acosh": "arccosh"}
ALIASES["atanh"] = "arctanh"
# Zeros, the domain edges (±1 for asin/acos/atanh, 1 for acosh), just inside and outside
# them, the overflow thresholds of sinh/cosh in both dtypes, and the infinities and NaN.
SPECIALS = [0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 0.999999, -0.999999, 1.000001, -1.000001, 1.5, -2.0]
SPECIALS += [1e-30, -1e-30, 1e-8, 3.0, 30.0, 88.0, 89.5, -89.5, 709.0, 710.0, -710.0, 711.0]
SPECIALS += [1e10, -1e10, 3e38, -3e38, math.inf, -math.inf, math.nan]
# Inside each op's domain and away from its poles: where finite differences hold.
DOMAIN = {
    "asin": (-0.95, 0.95),
    "acos": (-0.95, 0.95),
    "atanh": (-0.95, 0.95),
    "acosh": (1.05, 4.0),
    "atan": (-4.0, 4.0),
    "asinh": (-4.0, 4.0),
    "sinh": (-4.0, 4.0),
    "cosh": (-4.0, 4.0),
}
# float32's tolerance: PyTorch's vectorized kernels are a few ulps from numpy's.
RTOL = {"float32": 4e-6, "float64": 1e-13}


def _assert_matches(mine: np.ndarray, theirs: np.ndarray, rtol: float, what: str) -> None:
    """Close finite values; NaN, infinities and the sign of zeros equal."""
    assert mine.dtype == theirs.dtype, what
    np.testing.assert_array_equal(np.isnan(mine), np.isnan(theirs), err_msg=f"{what}: NaN")
    special = ~np.isfinite(theirs) | (theirs == 0)
    np.testing.assert_array_equal(
        mine[special & ~np.isnan(theirs)], theirs[special & ~np.isnan(theirs)], what
    )
    zeros = theirs == 0
    np.testing.assert_array_equal(np.signbit(mine[zeros]), np.signbit(theirs[zeros]), f"{what}: signed zeros")
    np.testing.assert_allclose(mine[~special], theirs[~special], rtol=rtol, atol=0, err_msg=what)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", NAMES)
def test_values_and_gradients_match_torch_at_special_values(name, dtype):
    torch = pytest.importorskip("torch")
    data = np.array(SPECIALS, dtype=dtype)
    if name in ("sinh", "cosh"):
        data = data[~_past_exp_overflow(data)]
    mine = irgrad.tensor(data, requires_grad=True)
    theirs = torch.tensor(data, requires_grad=True)
    out_m, out_t = getattr(irgrad, name)(mine), getattr(torch, name)(theirs)
    _assert_matches(out_m.detach().numpy(), out_t.detach().numpy(), RTOL[dtype], f"{name} value")
    cotangent = np.random.default_rng(0).standard_normal(data.shape).astype(dtype)
    out_m.backward(irgrad.tensor(cotangent))
    out_t.backward(torch.tensor(cotangent))
    _assert_matches(mine.grad.numpy(), theirs.grad.numpy(), RTOL[dtype], f"{name} gradient")


def _past_exp_overflow(x: np.ndarray) -> np.ndarray:
    """Where ``exp(|x|)`` overflows but ``sinh(x)`` and ``cosh(x)`` do not."""
    log_max = math.log(float(np.finfo(x.dtype).max))
    return (np.abs(x) > log_max) & (np.abs(x) < log_max + math.log(2))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ["sinh", "cosh"])
def test_sinh_and_cosh_are_finite_until_they_overflow(name, dtype):
    """Past exp's overflow, up to log(2 max): finite, as numpy's and PyTorch's scalar
    kernel (its vectorized kernel, which all but the smallest tensors take, gives inf from
    exp's overflow on: PyTorch's value there depends on the tensor's size)."""
    info = np.finfo(dtype)
    data = np.linspace(math.log(float(info.max)), math.log(float(info.max)) + 0.69, 7).astype(dtype)
    data = np.concatenate([data, -data])
    with np.errstate(over="ignore"):
        expected = getattr(np, name)(data)
    assert np.isfinite(expected[_past_exp_overflow(data)]).all()
    x = irgrad.tensor(data, requires_grad=True)
    out = getattr(irgrad, name)(x)
    assert_close_in_ulps(expected, out.detach().numpy(), name, 2)
    out.sum().backward()
    derivative = np.cosh(data) if name == "sinh" else np.sinh(data)
    assert_close_in_ulps(derivative, x.grad.numpy(), f"{name}'", 2)
    compiled = irgrad.compile(getattr(irgrad, name), backend="llvm")(irgrad.tensor(data)).numpy()
    assert_close_in_ulps(expected, compiled, f"compiled {name}", 4)


@pytest.mark.parametrize("name", NAMES)
def test_random_values_and_gradients_match_torch(name, compare):
    low, high = DOMAIN[name]
    data = np.random.default_rng(1).uniform(low, high, (3, 5)).astype(np.float32)
    compare(lambda L, x: getattr(L, name)(x), data)


@pytest.mark.parametrize("name", NAMES)
def test_aliases_methods_in_place_and_out(name, compare):
    torch = pytest.importorskip("torch")
    alias = ALIASES.get(name)
    if alias is not None:
        assert getattr(irgrad, alias) is getattr(irgrad, name)
        assert getattr(irgrad.Tensor, alias) is getattr(irgrad.Tensor, name)
    low, high = DOMAIN[name]
    data = np.random.default_rng(2).uniform(low, high, (4,)).astype(np.float32)
    for method in filter(None, (name, alias)):
        compare(lambda L, x, m=method: getattr(x, m)(), data)
        # in place; PyTorch has no gradient of asinh_, acosh_, atanh_ (NotImplementedError at
        # backward): irgrad's is the out-of-place one
        compare(lambda L, x, m=method: getattr(x * 1.0, m + "_")(), data, grad=False)
        x = irgrad.tensor(data, requires_grad=True)
        (in_place,) = irgrad.autograd.grad(getattr(x * 1.0, method + "_")().sum(), [x])
        (out_of_place,) = irgrad.autograd.grad(getattr(x, name)().sum(), [x])
        np.testing.assert_array_equal(in_place.numpy(), out_of_place.numpy())
    if name not in ("asinh", "acosh", "atanh"):
        compare(lambda L, x: getattr(x * 1.0, name + "_")(), data)
    out_m, out_t = irgrad.empty(4, dtype=irgrad.float64), torch.empty(4, dtype=torch.float64)
    result = getattr(irgrad, name)(irgrad.tensor(data.astype(np.float64)), out=out_m)
    assert result is out_m
    getattr(torch, name)(torch.tensor(data.astype(np.float64)), out=out_t)
    np.testing.assert_allclose(out_m.numpy(), out_t.numpy(), rtol=1e-13)


@pytest.mark.parametrize("name", NAMES)
def test_integer_inputs_compute_in_the_default_float_and_refuse_in_place(name, compare):
    torch = pytest.importorskip("torch")
    compare(lambda L, x: getattr(L, name)(x), np.array([-2, -1, 0, 1, 2, 3]), grad=False)
    with pytest.raises(RuntimeError, match="can't be cast"):
        getattr(torch.tensor([1, 2]), name + "_")()
    with pytest.raises(RuntimeError, match="can't be cast"):
        getattr(irgrad.tensor([1, 2]), name + "_")()


@pytest.mark.parametrize("name", NAMES)
def test_gradients_by_finite_differences_near_the_domain_edges(name):
    low, high = DOMAIN[name]
    data = np.concatenate([np.linspace(low, high, 9), [low + 1e-3, high - 1e-3]])
    if name in ("sinh", "cosh"):
        data = np.concatenate([data, [-40.0, 40.0]])
    x = irgrad.tensor(data, dtype=irgrad.float64, requires_grad=True)
    fn = getattr(irgrad, name)
    assert gradcheck(fn, (x,))
    assert gradgradcheck(fn, (x,))


def _wide_samples(dtype) -> np.ndarray:
    """Every scale of ``dtype``, both signs, and dense samples near 0, ±1 and the
    overflow of exp."""
    rng = np.random.default_rng(3)
    info = np.finfo(dtype)
    scales = 2.0 ** rng.uniform(np.log2(info.tiny), np.log2(info.max), 4000)
    near_one = 1 + rng.choice([-1, 1], 2000) * 2.0 ** rng.uniform(np.log2(info.eps), 0, 2000)
    parts = [rng.choice([-1, 1], 4000) * scales, rng.uniform(-1, 1, 2000), near_one, -near_one]
    parts += [rng.uniform(-720, 720, 2000), np.array(SPECIALS)]
    with np.errstate(over="ignore"):
        return np.concatenate(parts).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", NAMES)
def test_native_code_is_within_a_few_ulps_of_the_numpy_kernel(name, dtype):
    data = _wide_samples(dtype)
    eager = getattr(irgrad, name)(irgrad.tensor(data)).numpy()
    compiled = irgrad.compile(getattr(irgrad, name), backend="llvm")(irgrad.tensor(data)).numpy()
    assert_close_in_ulps(eager, compiled, f"{name} on {np.dtype(dtype).name}", 4)
    zeros = eager == 0
    np.testing.assert_array_equal(np.signbit(compiled[zeros]), np.signbit(eager[zeros]))
    if dtype == np.float32:  # against the float64 kernel: within 2 float32 ulps of the exact value
        with np.errstate(all="ignore"):
            exact = getattr(irgrad, name)(irgrad.tensor(data.astype(np.float64))).numpy()
        finite = np.isfinite(compiled) & np.isfinite(exact.astype(np.float32))
        error = np.abs(compiled[finite] - exact[finite]) / np.spacing(
            np.abs(exact[finite]).astype(np.float32)
        )
        assert error.max() <= 2.0, f"{name}: {error.max()} ulp"
