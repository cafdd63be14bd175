"""Tensor's in-place random fills (bernoulli_, exponential_, geometric_, cauchy_,
log_normal_, random_): value ranges per dtype, the distributions' statistics on seeded
draws, PyTorch's argument errors, and reproducibility from irgrad's generator.

The statistics use known closed forms, not PyTorch; only the error-message parity test
needs torch."""

from __future__ import annotations

import math

import numpy as np
import pytest

import irgrad as ir

N = 200_000


def seeded(seed: int = 0) -> ir.Generator:
    return ir.Generator().manual_seed(seed)


@pytest.mark.parametrize(
    "dtype, top",
    [
        (ir.float32, 2**24),
        (ir.float16, 2**11),
        (ir.float64, 2**53),
        (ir.uint8, 255),
        (ir.int8, 127),
        (ir.int16, 2**15 - 1),
    ],
)
def test_random_default_range_is_every_integer_the_dtype_holds(dtype, top):
    x = ir.empty(N, dtype=dtype).random_(generator=seeded())
    values = x.numpy().astype(np.float64)
    assert x.dtype is dtype
    assert values.min() >= 0 and values.max() <= top
    assert np.array_equal(values, np.round(values))
    if top < 2**12:
        assert values.max() == top, "the top of the range is reachable"


def test_random_bool_draws_both_values():
    x = ir.empty(1000, dtype=ir.bool).random_(generator=seeded())
    assert set(x.numpy().tolist()) == {False, True}


def test_random_overloads():
    assert set(ir.empty(N).random_(3, generator=seeded()).numpy().tolist()) == {0.0, 1.0, 2.0}
    assert set(ir.empty(N, dtype=ir.int64).random_(-2, 2, generator=seeded()).numpy().tolist()) == {
        -2,
        -1,
        0,
        1,
    }
    assert set(ir.empty(N, dtype=ir.int64).random_(to=2, generator=seeded()).numpy().tolist()) == {0, 1}
    upward = ir.empty(N).random_(5, None, generator=seeded()).numpy()
    assert upward.min() >= 5 and upward.max() > 2**23, "random_(from, None) reaches the dtype's top"


def test_fills_are_reproducible_and_keep_the_tensor():
    for fill in ("exponential_", "cauchy_", "log_normal_", "random_", "bernoulli_"):
        a, b = ir.empty(64), ir.empty(64)
        out = getattr(a, fill)(generator=seeded(7))
        getattr(b, fill)(generator=seeded(7))
        assert out is a
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    ir.manual_seed(11)
    first = ir.empty(16).exponential_().numpy()
    ir.manual_seed(11)
    np.testing.assert_array_equal(ir.empty(16).exponential_().numpy(), first)


def test_exponential_statistics():
    x = ir.empty(N, dtype=ir.float64).exponential_(2.5, generator=seeded()).numpy()
    assert x.min() >= 0
    assert abs(x.mean() - 1 / 2.5) < 5 * (1 / 2.5) / math.sqrt(N)


def test_geometric_statistics_and_integer_tensors():
    p = 0.3
    x = ir.empty(N, dtype=ir.int64).geometric_(p, generator=seeded()).numpy()
    assert x.dtype == np.int64 and x.min() == 1
    sd = math.sqrt(1 - p) / p
    assert abs(x.mean() - 1 / p) < 5 * sd / math.sqrt(N)
    assert abs((x == 1).mean() - p) < 0.01


def test_cauchy_quantiles():
    x = ir.empty(N, dtype=ir.float64).cauchy_(1.0, 2.0, generator=seeded()).numpy()
    q25, q50, q75 = np.quantile(x, [0.25, 0.5, 0.75])
    assert abs(q50 - 1.0) < 0.05 and abs(q25 - (1.0 - 2.0)) < 0.1 and abs(q75 - (1.0 + 2.0)) < 0.1


def test_log_normal_statistics():
    x = ir.empty(N, dtype=ir.float64).log_normal_(0.5, 0.25, generator=seeded()).numpy()
    logs = np.log(x)
    assert abs(logs.mean() - 0.5) < 0.01 and abs(logs.std() - 0.25) < 0.01


def test_bernoulli_with_probability_tensor_and_bool_tensor():
    probs = ir.tensor([0.0, 1.0, 0.25])
    x = ir.empty(N, 3).bernoulli_(probs, generator=seeded()).numpy()
    assert x[:, 0].max() == 0 and x[:, 1].min() == 1
    assert abs(x[:, 2].mean() - 0.25) < 0.01
    flags = ir.empty(1000, dtype=ir.bool).bernoulli_(0.5, generator=seeded())
    assert flags.dtype is ir.bool and 0 < flags.numpy().sum() < 1000
    drawn = ir.full((N,), 0.75).bernoulli(generator=seeded()).numpy()
    assert set(drawn.tolist()) == {0.0, 1.0} and abs(drawn.mean() - 0.75) < 0.01


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda L: L.bernoulli(L.tensor([0.5, 1.5])), "Expected p_in >= 0"),
        (lambda L: L.tensor([float("nan")]).bernoulli(), "Expected p_in >= 0"),
        (lambda L: L.zeros(2).bernoulli_(L.tensor([-0.5])), "Expected p_in >= 0"),
        (lambda L: L.zeros(2).bernoulli_(L.tensor([1])), "not implemented for 'Long'"),
    ],
)
def test_bernoulli_probability_tensors_are_checked(call, message):
    with pytest.raises(RuntimeError, match=message):
        call(ir)


def test_fill_on_a_leaf_that_requires_grad_raises():
    with pytest.raises(RuntimeError, match="leaf Variable"):
        ir.ones(3, requires_grad=True).exponential_()


BAD_CALLS = [
    ("exponential_", ir.int64, (), "Exponential distribution is a continuous"),
    ("exponential_", ir.float32, (-1.0,), "exponential_ expects lambda > 0.0"),
    ("geometric_", ir.float32, (0.0,), r"geometric_ expects p to be in \(0, 1\)"),
    ("geometric_", ir.float32, (1.0,), r"geometric_ expects p to be in \(0, 1\)"),
    ("cauchy_", ir.float32, (0.0, -1.0), "cauchy_ expects sigma > 0.0"),
    ("cauchy_", ir.int64, (), "Cauchy distribution is a continuous"),
    ("log_normal_", ir.float32, (1.0, 0.0), "log_normal_ expects std > 0.0"),
    ("log_normal_", ir.int32, (), "\"log_normal_cpu\" not implemented for 'Int'"),
    ("geometric_", ir.bool, (0.5,), "\"geometric_cpu\" not implemented for 'Bool'"),
    ("bernoulli", ir.int64, (), "\"bernoulli_tensor_cpu_p_\" not implemented for 'Long'"),
    ("bernoulli", ir.float32, (1.5,), r"bernoulli_ expects p to be in \[0, 1\]"),
    ("bernoulli_", ir.float32, (1.5,), r"bernoulli_ expects p to be in \[0, 1\]"),
    ("random_", ir.float32, (5, 2), "random_ expects 'from' to be less than 'to'"),
    ("random_", ir.uint8, (-1, 5), "from is out of bounds for uint8"),
    ("random_", ir.uint8, (0, 300), "to - 1 is out of bounds for uint8"),
    ("random_", ir.bool, (3,), "to - 1 is out of bounds for bool"),
    ("random_", ir.bool, (-1, 1), "from is out of bounds for bool"),
    ("random_", ir.float16, (0, 70000), "to - 1 is out of bounds for float16"),
]


@pytest.mark.parametrize("method, dtype, args, message", BAD_CALLS)
def test_bad_arguments_raise(method, dtype, args, message):
    with pytest.raises(RuntimeError, match=message):
        getattr(ir.empty(3, dtype=dtype), method)(*args)


@pytest.mark.parametrize("method, dtype, args, message", BAD_CALLS)
def test_bad_arguments_raise_where_pytorch_raises(method, dtype, args, message):
    torch = pytest.importorskip("torch")
    with pytest.raises(RuntimeError):
        getattr(torch.empty(3, dtype=getattr(torch, dtype.name)), method)(*args)
