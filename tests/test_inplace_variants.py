"""The in-place forms derived from out-of-place methods (``sin_``, ``eq_``, ``cumsum_``,
``addmm_`` ...): against PyTorch 2.13, the written values and dtype, that ``self`` is
returned, the gradient through the write on a non-leaf, and the cast errors."""

from __future__ import annotations

import numpy as np
import pytest

import irgrad as ir
from irgrad.tensor_ops.inplace_variants import NAMES


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


rng = np.random.default_rng(0)
X = rng.uniform(0.2, 0.9, (3, 4))
Y = rng.uniform(0.2, 0.9, (3, 4))
M1, M2 = rng.standard_normal((3, 5)), rng.standard_normal((5, 4))

# name -> (extra arguments as arrays or numbers, keyword arguments, differentiable)
CASES = {
    **{
        name: ((), {}, True)
        for name in "sin_ cos_ tan_ erf_ exp2_ expm1_ log10_ log1p_ log2_ rsqrt_ square_ negative_".split()
    },
    "absolute_": ((), {}, True),
    "trunc_": ((), {}, True),
    "fix_": ((), {}, True),
    "bitwise_not_": ((), {}, False),
    "logical_not_": ((), {}, False),  # PyTorch's passes the gradient through (documented)
    "fmod_": ((0.3,), {}, True),
    "atan2_": ((Y,), {}, True),
    "arctan2_": ((Y,), {}, True),
    "logical_xor_": ((Y - 0.5,), {}, False),
    # comparisons into a float self keep it in the graph, with a zero gradient
    **{
        name: ((0.5,), {}, True)
        for name in "eq_ ne_ lt_ le_ gt_ ge_ greater_ greater_equal_ less_ less_equal_ not_equal_".split()
    },
    "multiply_": ((Y,), {}, True),
    "divide_": ((Y,), {"rounding_mode": "floor"}, True),
    "subtract_": ((Y,), {"alpha": 2}, True),
    "true_divide_": ((Y,), {}, True),
    "clamp_max_": ((0.5,), {}, True),
    "clamp_min_": ((0.5,), {}, True),
    "cumsum_": ((1,), {}, True),
    "cumprod_": ((0,), {}, True),
    "nan_to_num_": ((), {"nan": 0.0}, True),
    "renorm_": ((2, 0, 1.0), {}, True),
    "addmm_": ((M1, M2), {"beta": 0.5, "alpha": 2.0}, True),
    "nextafter_": ((Y,), {}, False),  # PyTorch has no derivative for nextafter
}


def test_every_variant_has_a_case():
    assert set(CASES) == set(NAMES)


def _args(lib, args):
    return [lib.tensor(a) if isinstance(a, np.ndarray) else a for a in args]


@pytest.mark.parametrize("name", sorted(CASES))
def test_variant_matches_torch(name, torch):
    args, kwargs, differentiable = CASES[name]
    integer = name == "bitwise_not_"
    data = (X * 10).astype(np.int64) if integer else X
    ours, theirs = ir.tensor(data), torch.tensor(data)
    out = getattr(ours, name)(*_args(ir, args), **kwargs)
    getattr(theirs, name)(*_args(torch, args), **kwargs)
    assert out is ours
    assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1]
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6, atol=1e-12)
    if not differentiable:
        return
    leaf_ours, leaf_theirs = ir.tensor(X, requires_grad=True), torch.tensor(X, requires_grad=True)
    for leaf, lib in ((leaf_ours, ir), (leaf_theirs, torch)):
        h = leaf * 1.5
        getattr(h, name)(*_args(lib, args), **kwargs)
        (h * lib.tensor(Y)).sum().backward()
    np.testing.assert_allclose(leaf_ours.grad.numpy(), leaf_theirs.grad.numpy(), rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("name", ["sin_", "log2_", "rsqrt_", "true_divide_"])
def test_a_float_result_into_an_integer_tensor_raises(name, torch):
    args = (ir.tensor([2, 3]),) if name == "true_divide_" else ()
    with pytest.raises(RuntimeError, match=f"{name}: result type Float32 can't be cast"):
        getattr(ir.tensor([1, 2]), name)(*args)
    with pytest.raises(RuntimeError, match="can't be cast"):
        getattr(torch.tensor([1, 2]), name)(*((torch.tensor([2, 3]),) if args else ()))


def test_a_comparison_records_a_zero_gradient_to_other(torch):
    grads = []
    for lib in (ir, torch):
        other = lib.tensor(Y, requires_grad=True)
        out = lib.tensor(X).lt_(other)
        assert out.requires_grad
        out.sum().backward()
        grads.append(other.grad.numpy())
    np.testing.assert_array_equal(grads[0], grads[1])
    assert not ir.tensor([True, False]).logical_xor_(ir.tensor([1.0, 0.0], requires_grad=True)).requires_grad


def test_logical_not_into_a_float_self_has_a_zero_gradient():
    x = ir.tensor([0.5, 0.0], requires_grad=True)
    h = x * 1.5
    h.logical_not_()
    (h * 2).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0])


@pytest.mark.parametrize("name", ["cumsum_", "cumprod_"])
def test_a_cumulative_op_into_another_dtype_raises(name, torch):
    for lib in (ir, torch):
        with pytest.raises(RuntimeError, match="Bad in-place call: input tensor dtype"):
            getattr(lib.tensor([1.0, 2.0]), name)(0, dtype=lib.float64)
    assert ir.tensor([1.0, 2.0]).cumsum_(0, dtype=ir.float32).tolist() == [1.0, 3.0]


def test_a_leaf_that_requires_grad_refuses_the_write():
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        ir.ones(3, requires_grad=True).cos_()
