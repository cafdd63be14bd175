"""Differences from PyTorch 2.13 that earlier probes found: each checked against torch
where it is installed (skipped cleanly where not), and without it where no oracle is
needed."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

import irgrad
from irgrad import nn


def _torch():
    return pytest.importorskip("torch")


# --- lgamma's zeros are +0.0 ----------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
def test_lgamma_zeros_are_positive(dtype):
    x = irgrad.tensor([1.0, 2.0], dtype=getattr(irgrad, dtype))
    for result in (irgrad.lgamma(x), irgrad.special.gammaln(x), x.lgamma()):
        assert result.tolist() == [0.0, 0.0]
        assert not result.signbit().any()


def test_lgamma_signs_match_torch():
    torch = _torch()
    values = [1.0, 2.0, 1.5, 0.5, 1.0 + 1e-12, 1.0 - 1e-12, 2.0 - 1e-9, 3.0, -0.5, 0.0, -0.0]
    for name in ("float32", "float64"):
        expected = torch.lgamma(torch.tensor(values, dtype=getattr(torch, name)))
        actual = irgrad.lgamma(irgrad.tensor(values, dtype=getattr(irgrad, name)))
        assert actual.signbit().tolist() == expected.signbit().tolist()
        np.testing.assert_allclose(actual.numpy(), expected.numpy(), rtol=1e-6)


# --- Tensor.type() names torch's legacy types -------------------------------------------------


def test_type_names_are_torch_s():
    assert irgrad.ones(1).type() == "torch.FloatTensor"
    assert irgrad.ones(1, dtype=irgrad.int64).type() == "torch.LongTensor"
    assert irgrad.ones(1, dtype=irgrad.bool).type() == "torch.BoolTensor"
    x = irgrad.ones(2)
    assert x.type("torch.DoubleTensor").dtype is irgrad.float64
    assert x.type("irgrad.IntTensor").dtype is irgrad.int32
    assert x.type(irgrad.LongTensor).dtype is irgrad.int64
    assert x.type(x.long().type()).dtype is irgrad.int64  # the name round-trips


def test_type_names_match_torch():
    torch = _torch()
    for name in ("float32", "float64", "float16", "int64", "int32", "int16", "int8", "uint8", "bool"):
        assert (
            irgrad.zeros(1, dtype=getattr(irgrad, name)).type()
            == torch.zeros(1, dtype=getattr(torch, name)).type()
        )
    with pytest.raises(TypeError, match="cannot assign 'torch.FloatTensor' object to parameter 'w'"):
        nn.Module().register_parameter("w", irgrad.ones(1))  # type: ignore[arg-type]


# --- saving lazy modules' placeholders ------------------------------------------------------


def _round_trip(obj):
    buffer = io.BytesIO()
    irgrad.save(obj, buffer)
    buffer.seek(0)
    return irgrad.load(buffer)


def test_save_and_load_an_uninitialized_lazy_state_dict():
    state = _round_trip(nn.LazyLinear(3, dtype=irgrad.float64).state_dict())
    assert [type(v) for v in state.values()] == [nn.UninitializedParameter] * 2
    assert state["weight"].dtype is irgrad.float64 and state["weight"].requires_grad
    bn = _round_trip(nn.LazyBatchNorm1d().state_dict())
    assert type(bn["running_mean"]) is nn.UninitializedBuffer
    assert type(bn["num_batches_tracked"]) is irgrad.Tensor
    frozen = _round_trip(nn.UninitializedParameter(requires_grad=False))
    assert type(frozen) is nn.UninitializedParameter and not frozen.requires_grad


def test_load_placeholders_into_lazy_modules():
    state = _round_trip(nn.LazyLinear(3).state_dict())
    fresh = nn.LazyLinear(3)
    fresh.load_state_dict(state)  # still uninitialized: the first call decides the shape
    assert fresh.has_uninitialized_params()
    assert fresh(irgrad.ones(2, 4)).shape == (2, 3)
    initialized = nn.LazyLinear(3)
    initialized(irgrad.ones(1, 4))
    with pytest.raises(RuntimeError, match="Can't access the shape of an uninitialized parameter"):
        initialized.load_state_dict(state)
    lazy = nn.LazyLinear(3)
    lazy.load_state_dict(_round_trip(initialized.state_dict()))
    assert lazy.weight.shape == (3, 4) and type(lazy.weight) is nn.Parameter


@pytest.mark.parametrize("flag", [True, 1, "yes"])
def test_a_placeholder_in_a_file_holds_no_data(flag):
    """A placeholder entry over a non-empty storage, or with a flag other than true, is a
    corrupted file (a LoadError), not a tensor."""
    from irgrad import serialization
    from irgrad.serialization import writing

    header, placed = writing._plan({"w": irgrad.ones(2)})
    spec = json.loads(header)
    spec["tensors"][0]["uninitialized"] = flag
    buffer = io.BytesIO()
    writing._write(buffer, json.dumps(spec).encode(), placed)
    buffer.seek(0)
    with pytest.raises(serialization.LoadError, match="malformed entry"):
        irgrad.load(buffer)


def test_lazy_save_load_matches_torch():
    """What ``torch.load(weights_only=False)`` gives back (its default, weights_only=True,
    refuses the placeholder class unless allowlisted; irgrad's data-only format needs no
    allowlist), and what loading it into lazy modules does."""
    torch = _torch()
    for make in (lambda lib: lib.nn.LazyLinear(3), lambda lib: lib.nn.LazyBatchNorm1d()):
        buffer = io.BytesIO()
        torch.save(make(torch).state_dict(), buffer)
        buffer.seek(0)
        expected = torch.load(buffer, weights_only=False)
        actual = _round_trip(make(irgrad).state_dict())
        assert list(actual) == list(expected)
        assert [type(v).__name__ for v in actual.values()] == [type(v).__name__ for v in expected.values()]
        assert [v.requires_grad for v in actual.values()] == [v.requires_grad for v in expected.values()]
        for lib, state in ((torch, expected), (irgrad, actual)):
            module = make(lib)
            module.load_state_dict(state)
            assert module.has_uninitialized_params()


# --- gcd and lcm trace -----------------------------------------------------------------------

_INTEGERS = ["int64", "int32", "int16", "int8", "uint8"]


def _integer_pairs(name: str) -> tuple[np.ndarray, np.ndarray]:
    """All pairs of zeros, signs, extremes, Fibonacci neighbours (Euclid's longest runs)
    and random values of integer dtype ``name``."""
    info = np.iinfo(name)
    fibonacci = [1, 2]
    while fibonacci[-1] + fibonacci[-2] <= info.max:
        fibonacci.append(fibonacci[-1] + fibonacci[-2])
    special = [0, 1, -1, 2, -2, 6, -6, 9, 12, -18, info.min, info.max, info.min + 1, *fibonacci[-3:]]
    special += [-v for v in fibonacci[-2:]]
    values = np.array([v for v in special if info.min <= v <= info.max], dtype=np.int64)
    values = np.concatenate([values, np.random.default_rng(0).integers(max(info.min, -1000), 1000, 12)])
    a, b = np.meshgrid(values, values)
    return a.ravel().astype(name), b.ravel().astype(name)


@pytest.mark.parametrize("dtype", _INTEGERS)
def test_gcd_lcm_match_torch(dtype):
    torch = _torch()
    a, b = _integer_pairs(dtype)
    for name in ("gcd", "lcm"):
        if name == "lcm" and np.dtype(dtype).itemsize >= 4:
            # PyTorch's lcm divides the most negative integer by its gcd, which can be -1:
            # a SIGFPE in its C++ kernel
            keep = (a != np.iinfo(dtype).min) & (b != np.iinfo(dtype).min)
            a, b = a[keep], b[keep]
        expected = getattr(torch, name)(torch.from_numpy(a), torch.from_numpy(b)).numpy()
        actual = getattr(irgrad, name)(irgrad.from_numpy(a), irgrad.from_numpy(b)).numpy()
        assert actual.dtype == expected.dtype
        np.testing.assert_array_equal(actual, expected, err_msg=f"{name} of {dtype}")


def test_gcd_lcm_errors_match_torch():
    torch = _torch()
    for lib in (torch, irgrad):
        with pytest.raises(NotImplementedError, match="\"gcd_cpu\" not implemented for 'Bool'"):
            lib.gcd(lib.tensor([True]), lib.tensor([False]))
        with pytest.raises(NotImplementedError, match="\"lcm_cpu\" not implemented for 'Float'"):
            lib.lcm(lib.tensor([1.0]), lib.tensor([2]))


def _gcd_and_lcm(x, y):
    g = irgrad.gcd(x, y) + irgrad.lcm(y, x)
    z = x.clone()
    z.gcd_(y)
    z.mul_(3)
    z.lcm_(y)
    return g, z


@pytest.mark.parametrize("backend", ["numpy", "llvm"])
@pytest.mark.parametrize("dtype", ["int64", "int32", "int8"])
def test_gcd_lcm_compile_without_a_graph_break(backend, dtype):
    a, b = _integer_pairs(dtype)
    x, y = irgrad.from_numpy(a), irgrad.from_numpy(b)
    compiled = irgrad.compile(_gcd_and_lcm, backend=backend, fullgraph=True)
    for got, expected in zip(compiled(x, y), _gcd_and_lcm(x, y)):
        assert got.dtype is expected.dtype
        np.testing.assert_array_equal(got.numpy(), expected.numpy())
    small = irgrad.tensor([[0, 4, -6], [9, 0, -12]], dtype=getattr(irgrad, dtype))
    other = irgrad.tensor([0, 6, 4], dtype=getattr(irgrad, dtype))
    for got, expected in zip(compiled(small, other), _gcd_and_lcm(small, other)):
        np.testing.assert_array_equal(got.numpy(), expected.numpy())


# --- numbers where PyTorch takes tensors -----------------------------------------------------


def _calls(lib):
    t = lib.tensor([1.0, -2.0])
    return {
        "atan2(number, t)": lambda: lib.atan2(3, t),
        "atan2(t, number)": lambda: lib.atan2(t, 3.0),
        "atan2(number, number)": lambda: lib.atan2(2, 3),
        "t.atan2(number)": lambda: t.atan2(3),
        "t.atan2_(number)": lambda: t.clone().atan2_(3),
        "t.arctan2_(number)": lambda: t.clone().arctan2_(3),
        "copysign(number, t)": lambda: lib.copysign(3, t),
        "copysign(number, number)": lambda: lib.copysign(3, -1.0),
    }


def test_numbers_where_pytorch_takes_tensors_raise():
    for call in _calls(irgrad).values():
        with pytest.raises(TypeError, match="Tensor"):
            call()
    with pytest.raises(
        TypeError, match=r"atan2\(\): argument 'input' \(position 1\) must be Tensor, not int"
    ):
        irgrad.atan2(3, irgrad.ones(1))
    with pytest.raises(
        TypeError, match=r"copysign\(\) received an invalid combination of arguments - got \(int, Tensor\)"
    ):
        irgrad.copysign(3, irgrad.ones(1))
    assert irgrad.copysign(irgrad.ones(1), -2).tolist() == [-1.0]  # a number second is fine


def test_numbers_where_pytorch_takes_tensors_match_torch():
    torch = _torch()
    ours, theirs = _calls(irgrad), _calls(torch)
    for label, call in theirs.items():
        with pytest.raises(TypeError) as expected:
            call()
        with pytest.raises(TypeError) as actual:
            ours[label]()
        if not label.startswith("t."):  # a method's message counts self as position 0 in PyTorch
            assert str(actual.value) == str(expected.value), label
