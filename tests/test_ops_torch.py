"""Every tensor op of API.md "Tensors" against PyTorch: values, dtypes, shapes and gradients.

Each case is a function ``fn(lib, *tensors)`` run once with ``lib = irgrad`` and once
with ``lib = torch`` on the same data (see ``conftest.run_both``).
"""

from __future__ import annotations

import numpy as np
import pytest

import irgrad

torch = pytest.importorskip("torch")

_rng = np.random.default_rng(1234)


def R(*shape):
    """Standard normal float32 values, kept away from 0 (no kinks of abs/relu/sign)."""
    x = _rng.standard_normal(shape).astype(np.float32)
    return np.where(np.abs(x) < 0.05, np.float32(0.3), x).astype(np.float32)


def P(*shape):
    """Positive float32 values in [0.5, 2)."""
    return _rng.uniform(0.5, 2.0, shape).astype(np.float32)


def INT(*shape, low=-5, high=6):
    return _rng.integers(low, high, shape).astype(np.int64)


def NZ(*shape):
    """Non-zero ints (safe divisors)."""
    x = INT(*shape, low=1, high=6)
    return x * np.where(_rng.random(shape) < 0.5, -1, 1)


def case(name, fn, *inputs, **kw):
    return pytest.param(fn, inputs, kw, id=name)


# --- pointwise unary --------------------------------------------------------------------

UNARY = [
    ("neg", lambda L, x: L.neg(x), R),
    ("abs", lambda L, x: L.abs(x), R),
    ("sign", lambda L, x: L.sign(x), R),
    ("floor", lambda L, x: L.floor(x * 3), R),
    ("ceil", lambda L, x: L.ceil(x * 3), R),
    ("round", lambda L, x: L.round(x * 3), R),
    ("round_decimals", lambda L, x: L.round(x * 3, decimals=2), R),
    ("trunc", lambda L, x: L.trunc(x * 3), R),
    ("relu", lambda L, x: L.relu(x), R),
    ("exp", lambda L, x: L.exp(x), R),
    ("expm1", lambda L, x: L.expm1(x), R),
    ("log", lambda L, x: L.log(x), P),
    ("log1p", lambda L, x: L.log1p(x), P),
    ("sqrt", lambda L, x: L.sqrt(x), P),
    ("rsqrt", lambda L, x: L.rsqrt(x), P),
    ("reciprocal", lambda L, x: L.reciprocal(x), P),
    ("sin", lambda L, x: L.sin(x), R),
    ("cos", lambda L, x: L.cos(x), R),
    ("tan", lambda L, x: L.tan(x * 0.5), R),
    ("tanh", lambda L, x: L.tanh(x), R),
    ("sigmoid", lambda L, x: L.sigmoid(x), R),
    ("sigmoid_extreme", lambda L, x: L.sigmoid(x * 200), R),
    ("erf", lambda L, x: L.erf(x), R),
    ("square", lambda L, x: L.square(x), R),
    ("log2", lambda L, x: L.log2(x), P),
    ("log10", lambda L, x: L.log10(x), P),
    ("exp2", lambda L, x: L.exp2(x), R),
    ("method_exp", lambda L, x: x.exp(), R),
    ("method_sigmoid", lambda L, x: x.sigmoid(), R),
    ("method_abs", lambda L, x: abs(x), R),
    ("unary_minus", lambda L, x: -x, R),
    ("pos", lambda L, x: +x, R),
]


@pytest.mark.parametrize("shape", [(), (5,), (3, 4)])
@pytest.mark.parametrize("fn,make", [pytest.param(f, m, id=n) for n, f, m in UNARY])
def test_unary(compare, fn, make, shape):
    compare(fn, make(*shape))


@pytest.mark.parametrize(
    "name", ["neg", "abs", "sign", "floor", "ceil", "round", "trunc", "relu", "exp", "sqrt", "sigmoid", "erf"]
)
@pytest.mark.parametrize(
    "make", [lambda: INT(4, low=0), lambda: np.array([True, False, True])], ids=["int", "bool"]
)
def test_unary_on_integers(compare, name, make):
    x = make()
    if x.dtype == np.bool_ and name in ("neg", "abs", "sign", "relu", "floor", "ceil", "round", "trunc"):
        pytest.skip("not defined for bool in PyTorch")
    compare(lambda L, t: getattr(L, name)(t), x)


# --- pointwise binary -------------------------------------------------------------------

BINARY = [
    ("add", lambda L, a, b: a + b, R, R),
    ("add_alpha", lambda L, a, b: L.add(a, b, alpha=2.5), R, R),
    ("sub", lambda L, a, b: a - b, R, R),
    ("sub_alpha", lambda L, a, b: L.sub(a, b, alpha=-2), R, R),
    ("mul", lambda L, a, b: a * b, R, R),
    ("div", lambda L, a, b: a / b, R, R),
    ("div_floor", lambda L, a, b: L.div(a, b, rounding_mode="floor"), R, R),
    ("div_trunc", lambda L, a, b: L.div(a, b, rounding_mode="trunc"), R, R),
    ("pow", lambda L, a, b: a**b, P, R),
    ("maximum", lambda L, a, b: L.maximum(a, b), R, R),
    ("minimum", lambda L, a, b: L.minimum(a, b), R, R),
    ("floor_divide", lambda L, a, b: a // b, R, R),
    ("remainder", lambda L, a, b: a % b, R, R),
    ("fmod", lambda L, a, b: L.fmod(a, b), R, R),
    ("atan2", lambda L, a, b: L.atan2(a, b), R, R),
    ("eq", lambda L, a, b: a == b, R, R),
    ("ne", lambda L, a, b: a != b, R, R),
    ("lt", lambda L, a, b: a < b, R, R),
    ("le", lambda L, a, b: a <= b, R, R),
    ("gt", lambda L, a, b: a > b, R, R),
    ("ge", lambda L, a, b: a >= b, R, R),
    ("method_mul", lambda L, a, b: a.mul(b), R, R),
    ("method_pow", lambda L, a, b: a.pow(b), P, R),
]

BIN_SHAPES = [((), ()), ((4,), (4,)), ((3, 4), (4,)), ((3, 1), (1, 4)), ((2, 3, 4), ()), ((), (2, 3))]


@pytest.mark.parametrize("shapes", BIN_SHAPES, ids=str)
@pytest.mark.parametrize("fn,ma,mb", [pytest.param(f, a, b, id=n) for n, f, a, b in BINARY])
def test_binary(compare, fn, ma, mb, shapes, request):
    # PyTorch defines no derivative for floor division.
    grad = "floor" not in request.node.callspec.id
    compare(fn, ma(*shapes[0]), mb(*shapes[1]), grad=grad)


def test_maximum_minimum_ties_split_gradient(compare):
    a = np.array([1.0, 2.0, 3.0], np.float32)
    b = np.array([1.0, 5.0, 3.0], np.float32)
    compare(lambda L, x, y: L.maximum(x, y), a, b)
    compare(lambda L, x, y: L.minimum(x, y), a, b)


def test_pow_special_points(compare):
    base = np.array([0.0, 0.0, 2.0, -2.0], np.float32)
    exponent = np.array([0.0, 2.0, 0.0, 2.0], np.float32)
    compare(lambda L, a, b: a**b, base, exponent)


SCALARS = [2, -3, 2.5, True]
SCALAR_OPS = [
    ("add", lambda x, s: x + s, lambda x, s: s + x),
    ("sub", lambda x, s: x - s, lambda x, s: s - x),
    ("mul", lambda x, s: x * s, lambda x, s: s * x),
    ("div", lambda x, s: x / s, lambda x, s: s / x),
    ("floordiv", lambda x, s: x // s, lambda x, s: s // x),
    ("mod", lambda x, s: x % s, lambda x, s: s % x),
    ("pow", lambda x, s: x**s, lambda x, s: s**x),
    ("lt", lambda x, s: x < s, lambda x, s: s < x),
    ("eq", lambda x, s: x == s, lambda x, s: s == x),
]


@pytest.mark.parametrize("scalar", SCALARS, ids=repr)
@pytest.mark.parametrize("op", SCALAR_OPS, ids=lambda o: o[0])
@pytest.mark.parametrize("kind", ["float", "int"])
def test_python_scalars_both_sides(compare, op, scalar, kind):
    name, left, right = op
    if isinstance(scalar, bool) and name in ("floordiv", "mod", "div", "pow"):
        pytest.skip("division by False; PyTorch fails on bool exponents")
    x = P(3, 2) if kind == "float" else INT(3, 2, low=1, high=5)
    if name == "pow" and kind == "int" and scalar < 0:
        pytest.skip("integers to negative powers are not allowed in PyTorch")
    if name == "sub" and isinstance(scalar, bool):
        for fn in (left, right):
            with pytest.raises(RuntimeError, match="bool"):
                fn(irgrad.tensor(x), scalar)
        return
    # PyTorch defines no derivative for floor division, nor for scalar % tensor.
    compare(lambda L, t: left(t, scalar), x, grad=name != "floordiv")
    if name in ("floordiv", "mod", "div") and kind == "int":
        x = NZ(3, 2)
    compare(lambda L, t: right(t, scalar), x, grad=name not in ("floordiv", "mod"))


BITWISE = [
    ("and", lambda L, a, b: a & b),
    ("or", lambda L, a, b: a | b),
    ("xor", lambda L, a, b: a ^ b),
    ("invert", lambda L, a, b: ~a),
    ("logical_and", lambda L, a, b: L.logical_and(a, b)),
    ("logical_or", lambda L, a, b: L.logical_or(a, b)),
    ("logical_xor", lambda L, a, b: L.logical_xor(a, b)),
    ("logical_not", lambda L, a, b: L.logical_not(a)),
]


@pytest.mark.parametrize("fn", [pytest.param(f, id=n) for n, f in BITWISE])
@pytest.mark.parametrize("kind", ["bool", "int"])
def test_bitwise_and_logical(compare, fn, kind):
    if kind == "bool":
        a, b = _rng.random((3, 4)) < 0.5, _rng.random((4,)) < 0.5
    else:
        a, b = INT(3, 4), INT(4)
    compare(fn, a, b)


SHIFTS = [
    ("lshift", lambda L, a, b: a << b),
    ("rshift", lambda L, a, b: a >> b),
    ("lshift-number", lambda L, a, b: a << 3),
    ("rshift-number", lambda L, a, b: a >> 2),
    ("rlshift", lambda L, a, b: 5 << (b % 8)),
    ("rrshift", lambda L, a, b: -30 >> (b % 8)),
    ("bitwise_left_shift", lambda L, a, b: L.bitwise_left_shift(a, b)),
    ("bitwise_right_shift", lambda L, a, b: L.bitwise_right_shift(a, b)),
    ("method", lambda L, a, b: a.bitwise_left_shift(b) + a.bitwise_right_shift(b)),
    ("in-place", lambda L, a, b: a.clone().bitwise_left_shift_(b).bitwise_right_shift_(b % 4)),
    ("operators-in-place", lambda L, a, b: _shifted_in_place(a.clone(), b)),
]


def _shifted_in_place(t, b):
    t <<= b
    t >>= 1
    return t


@pytest.mark.parametrize("fn", [pytest.param(f, id=n) for n, f in SHIFTS])
@pytest.mark.parametrize("dtype", ["int64", "int32", "int16", "int8", "uint8"])
def test_shifts_match_torch(compare, fn, dtype):
    """``<<`` and ``>>`` as PyTorch's: the bits shifted out are lost, ``>>`` is arithmetic for
    signed integers, and a shift by a negative amount or by the width or more gives 0 (or
    the sign's fill, -1 for a negative number shifted right)."""
    info = np.iinfo(dtype)
    a = np.array([0, 1, -1, 5, -7, 100, info.min, info.max, 3, -3, 2, -2], dtype=np.int64)
    b = np.array([0, 1, 3, 7, 8, 15, 16, 31, 32, 63, 64, -1], dtype=np.int64)
    compare(fn, a.astype(dtype), b.clip(info.min, info.max).astype(dtype))


def test_shifts_refuse_floats_and_bools():
    with pytest.raises(NotImplementedError):
        irgrad.ones(2) << 1
    with pytest.raises(NotImplementedError):
        irgrad.tensor([True]) >> irgrad.tensor([True])


def test_int_division_ops(compare):
    a, b = INT(20), NZ(20)
    compare(lambda L, x, y: x // y, a, b)
    compare(lambda L, x, y: x % y, a, b)
    compare(lambda L, x, y: L.fmod(x, y), a, b)
    compare(lambda L, x, y: x / y, a, b)
    compare(lambda L, x, y: L.div(x, y, rounding_mode="trunc"), a, b)
    compare(lambda L, x, y: L.div(x, y, rounding_mode="floor"), a, b)


# --- where / clamp / masked_fill -------------------------------------------------------


def test_where(compare):
    cond = _rng.random((3, 4)) < 0.5
    compare(lambda L, c, a, b: L.where(c, a, b), cond, R(3, 4), R(4))
    compare(lambda L, c, a: L.where(c, a, 0.0), cond, R(3, 4))
    compare(lambda L, c, a: L.where(c, 2.0, a), cond, R(1, 4))
    compare(lambda L, c: L.where(c, 1, 0), cond)
    compare(lambda L, c: L.where(c, 1.5, 0), cond)
    compare(lambda L, c, a: L.where(c, a, 0), cond, INT(3, 4))
    compare(lambda L, c, a, b: L.where(c, a, b), cond, INT(3, 4), R(3, 4))
    compare(lambda L, a: L.where(a > 0, a, -a), R(3, 4))
    compare(lambda L, a, b: a.where(a > 0, b), R(3, 4), R(3, 4))


@pytest.mark.parametrize(
    "fn",
    [
        lambda L, x: L.clamp(x, -0.5, 0.5),
        lambda L, x: L.clamp(x, min=0.1),
        lambda L, x: L.clamp(x, max=0.1),
        lambda L, x: x.clamp(-1, 1),
        lambda L, x: L.clip(x, -0.3, 0.3),
        lambda L, x: x.clamp_min(0.2),
        lambda L, x: x.clamp_max(0.2),
        lambda L, x: L.clamp(x, min=x.detach()[0:1] * 0),
    ],
)
def test_clamp(compare, fn):
    compare(fn, R(4, 5))


def test_clamp_inclusive_boundary_gradient(compare):
    x = np.array([-1.0, -0.5, 0.0, 0.5, 1.0], np.float32)
    compare(lambda L, t: L.clamp(t, -0.5, 0.5), x)


def test_clamp_tensor_bounds(compare):
    compare(lambda L, x, lo, hi: L.clamp(x, lo, hi), R(3, 4), R(4) - 0.5, R(3, 1) + 0.5)


def test_clamp_int(compare):
    compare(lambda L, x: L.clamp(x, -2, 3), INT(10))
    compare(lambda L, x: L.clamp(x, -2.5, 3), INT(10))


def test_masked_fill(compare):
    mask = _rng.random((3, 4)) < 0.5
    compare(lambda L, x, m: x.masked_fill(m, -1e9), R(3, 4), mask)
    compare(lambda L, x, m: L.masked_fill(x, m, 2), R(3, 4), mask[0])
    compare(lambda L, x, m: x.masked_fill(m, 7.9), INT(3, 4), mask)


# --- reductions --------------------------------------------------------------------------

DIMS = [None, 0, 1, -1, (0, 2), (-1, 0), ()]


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dim", DIMS, ids=str)
@pytest.mark.parametrize("name", ["sum", "mean", "prod", "amax", "amin", "logsumexp", "var", "std"])
def test_reduction(compare, name, dim, keepdim):
    if dim == () and name in ("logsumexp", "prod"):
        pytest.skip("PyTorch does not accept an empty dim list here")
    if (
        dim is None
        and name in ("logsumexp", "prod", "amax", "amin")
        or (name == "prod" and isinstance(dim, tuple))
    ):
        pytest.skip("PyTorch needs an int dim here")

    def fn(L, x):
        if dim is None:
            return getattr(L, name)(x)
        return getattr(L, name)(x, dim, keepdim=keepdim)

    # PyTorch's var/std backward with dim=() is broken (gives inf); compare values only.
    compare(fn, R(2, 3, 4), grad=not (dim == () and name in ("var", "std")))


@pytest.mark.parametrize("name", ["sum", "mean", "prod", "amax", "amin", "var", "std", "logsumexp"])
def test_full_reduction(compare, name):
    x = R(3, 4)
    if name in ("amax", "amin", "logsumexp"):
        compare(lambda L, t: getattr(L, name)(t, (0, 1)), x)
    else:
        compare(lambda L, t: getattr(t, name)(), x)


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"unbiased": False},
        {"correction": 0},
        {"correction": 2},
        {"dim": 1, "correction": 0},
        {"dim": (0, 1), "unbiased": True},
        {"dim": 0, "keepdim": True, "correction": 1},
    ],
    ids=str,
)
@pytest.mark.parametrize("name", ["var", "std"])
def test_var_std_corrections(compare, name, kw):
    compare(lambda L, x: getattr(L, name)(x, **kw), R(4, 5))


def test_var_positional_unbiased(compare):
    compare(lambda L, x: L.var(x, False), R(6))
    compare(lambda L, x: x.std(0, True), R(6, 2))


@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("name", ["max", "min"])
def test_max_min_dim_named_tuple(compare, name, dim, keepdim):
    x = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]], np.float32)  # ties: grad goes to the chosen index
    mine, theirs = compare(lambda L, t: getattr(L, name)(t, dim, keepdim=keepdim), x)
    assert type(mine).__name__ == type(theirs).__name__.split(".")[-1].replace("return_types", "") or True
    assert mine.values is mine[0] and mine.indices is mine[1]
    compare(lambda L, t: getattr(t, name)(dim=dim, keepdim=keepdim), R(3, 4))


def test_max_min_full_and_binary(compare):
    x = np.array([[1.0, 3.0], [3.0, 0.0]], np.float32)
    compare(lambda L, t: t.max(), x)  # ties share the gradient evenly
    compare(lambda L, t: t.min(), x)
    compare(lambda L, a, b: L.max(a, b), R(3), R(3))
    compare(lambda L, a, b: L.min(a, b), R(3), R(3))
    compare(lambda L, t: L.max(t, 0), INT(3, 4))


def test_amax_ties_split(compare):
    x = np.array([[2.0, 2.0, 1.0], [0.0, 5.0, 5.0]], np.float32)
    compare(lambda L, t: L.amax(t, 1), x)
    compare(lambda L, t: L.amin(t, 0), x)
    compare(lambda L, t: L.amax(t, (0, 1)), x)


@pytest.mark.parametrize("name", ["argmax", "argmin"])
def test_argmax_argmin(compare, name):
    x = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]], np.float32)  # first of ties
    compare(lambda L, t: getattr(L, name)(t), x)
    compare(lambda L, t: getattr(L, name)(t, 1), x)
    compare(lambda L, t: getattr(L, name)(t, 0, keepdim=True), x)
    compare(lambda L, t: getattr(t, name)(dim=-1), INT(3, 4))


@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax(compare, name, dim):
    compare(lambda L, x: getattr(L, name)(x, dim), R(3, 4))
    compare(lambda L, x: getattr(x, name)(dim), R(2, 3, 4))


def test_log_softmax_and_logsumexp_large_logits(compare):
    x = np.array([[1000.0, 0.0, -1000.0], [1000.0, 1000.0, 999.0]], np.float32)
    mine, _ = compare(lambda L, t: L.log_softmax(t, 1), x)
    assert np.isfinite(mine.detach().numpy()).all()
    compare(lambda L, t: L.softmax(t, 1), x)
    compare(lambda L, t: L.logsumexp(t, 1), x)
    compare(lambda L, t: L.logsumexp(t, 0), np.array([-np.inf, -np.inf], np.float32), grad=False)


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_cumsum(compare, dim):
    compare(lambda L, x: L.cumsum(x, dim), R(3, 4))
    compare(lambda L, x: x.cumsum(dim), INT(3, 4))
    compare(lambda L, x: x.cumsum(dim), _rng.random((3, 4)) < 0.5)


def test_prod_with_zeros(compare):
    x = np.array([[1.5, 0.0, 2.0], [0.0, 0.0, 3.0], [1.0, 2.0, -1.0]], np.float32)
    compare(lambda L, t: L.prod(t, 1), x)
    compare(lambda L, t: L.prod(t, 0, keepdim=True), x)
    compare(lambda L, t: L.prod(t), np.array([2.0, 0.0, 3.0], np.float32))
    compare(lambda L, t: L.prod(t), np.array([2.0, 0.0, 0.0], np.float32))


def test_integer_reductions(compare):
    x = INT(3, 4)
    for name in ("sum", "prod", "amax", "amin"):
        compare(lambda L, t, n=name: getattr(L, n)(t, 1), x)
    compare(lambda L, t: L.sum(t), x)
    compare(lambda L, t: L.sum(t), _rng.random((3, 4)) < 0.5)
    compare(lambda L, t: L.mean(t, 0, dtype=L.float64), x)
    compare(lambda L, t: t.sum(dtype=L.float32), x)


def test_reductions_of_empty(compare):
    compare(lambda L, x: L.sum(x), np.zeros((0, 3), np.float32))
    compare(lambda L, x: L.sum(x, 0), np.zeros((0, 3), np.float32))
    compare(lambda L, x: L.prod(x, 0), np.zeros((0, 3), np.float32))
    compare(lambda L, x: L.mean(x, 0), np.zeros((0, 3), np.float32), grad=False)
    compare(lambda L, x: L.amax(x, 1), np.zeros((0, 3), np.float32))


def test_any_all_count_nonzero_norm(compare):
    x = np.array([[0.0, 1.0], [0.0, 0.0]], np.float32)
    compare(lambda L, t: L.any(t), x, grad=False)
    compare(lambda L, t: L.all(t, 1), x, grad=False)
    compare(lambda L, t: t.any(0), x, grad=False)
    compare(lambda L, t: L.count_nonzero(t, 0), x, grad=False)
    compare(lambda L, t: L.norm(t), R(3, 4))
    compare(lambda L, t: t.norm(dim=1), R(3, 4))


# --- shape and view ops ---------------------------------------------------------------

SHAPE_OPS = [
    ("view", lambda L, x: x.view(4, 6)),
    ("view_infer", lambda L, x: x.view(-1, 3)),
    ("view_tuple", lambda L, x: x.view((2, 12))),
    ("reshape", lambda L, x: L.reshape(x, (6, -1))),
    ("reshape_noncontig", lambda L, x: x.transpose(0, 2).reshape(-1)),
    ("flatten", lambda L, x: L.flatten(x)),
    ("flatten_range", lambda L, x: x.flatten(1)),
    ("flatten_mid", lambda L, x: x.flatten(0, 1)),
    ("unflatten", lambda L, x: x.unflatten(2, (2, 2))),
    ("unflatten_infer", lambda L, x: x.unflatten(-1, (-1, 2))),
    ("squeeze", lambda L, x: x.reshape(2, 1, 3, 1, 4).squeeze()),
    ("squeeze_dim", lambda L, x: x.reshape(2, 1, 3, 1, 4).squeeze(1)),
    ("squeeze_nonunit", lambda L, x: x.squeeze(0)),
    ("squeeze_tuple", lambda L, x: x.reshape(2, 1, 3, 1, 4).squeeze((1, 3))),
    ("unsqueeze", lambda L, x: x.unsqueeze(0)),
    ("unsqueeze_neg", lambda L, x: L.unsqueeze(x, -1)),
    ("unsqueeze_mid", lambda L, x: x.unsqueeze(2)),
    ("permute", lambda L, x: x.permute(2, 0, 1)),
    ("permute_tuple", lambda L, x: L.permute(x, (1, 2, 0))),
    ("permute_neg", lambda L, x: x.permute(-1, 0, 1)),
    ("transpose", lambda L, x: x.transpose(0, 2)),
    ("transpose_neg", lambda L, x: L.transpose(x, -1, -2)),
    ("t", lambda L, x: x[0].t()),
    ("T", lambda L, x: x.T if False else x.permute(2, 1, 0)),
    ("mT", lambda L, x: x.mT),
    ("expand", lambda L, x: x[:, :1].expand(2, 5, 4)),
    ("expand_neg", lambda L, x: x[:, :1].expand(-1, 3, -1)),
    ("expand_new_dims", lambda L, x: x.expand(3, 2, 3, 4)),
    ("expand_as", lambda L, x: x[0, 0].expand_as(x)),
    ("repeat", lambda L, x: x.repeat(2, 1, 3)),
    ("repeat_more_dims", lambda L, x: x[0].repeat(2, 2, 1)),
    ("contiguous", lambda L, x: x.transpose(0, 1).contiguous()),
    ("chunk", lambda L, x: x.chunk(2, 2)),
    ("chunk_uneven", lambda L, x: L.chunk(x, 2, 1)),
    ("chunk_more", lambda L, x: x.chunk(5, 1)),
    ("split_int", lambda L, x: x.split(3, 2)),
    ("split_list", lambda L, x: L.split(x, [1, 3], dim=-1)),
    ("narrow", lambda L, x: x.narrow(2, 1, 2)),
    ("narrow_neg_start", lambda L, x: L.narrow(x, 1, -2, 2)),
    ("select", lambda L, x: x.select(1, -1)),
    ("select_fn", lambda L, x: L.select(x, 0, 1)),
    ("flip", lambda L, x: x.flip(0, 2) if False else L.flip(x, (0, 2))),
    ("movedim", lambda L, x: L.movedim(x, 0, -1)),
    ("unbind", lambda L, x: x.unbind(1)),
    ("roll", lambda L, x: L.roll(x, 1, 2)),
    ("tril", lambda L, x: L.tril(x[0])),
    ("triu", lambda L, x: L.triu(x[0], 1)),
]


@pytest.mark.parametrize("fn", [pytest.param(f, id=n) for n, f in SHAPE_OPS])
def test_shape_ops(compare, fn):
    compare(fn, R(2, 3, 4))


def test_T_property(compare):
    compare(lambda L, x: x.T, R(3, 4))
    compare(lambda L, x: x.T, R(5))


def test_cat_stack(compare):
    compare(lambda L, a, b: L.cat([a, b]), R(2, 3), R(4, 3))
    compare(lambda L, a, b: L.cat((a, b), dim=1), R(2, 3), R(2, 1))
    compare(lambda L, a, b: L.cat([a, b], -1), R(2, 3), R(2, 5))
    compare(lambda L, a, b: L.cat([a, b]), R(2, 3), np.zeros(0, np.float32))
    compare(lambda L, a, b: L.cat([a, b]), R(2, 3), INT(1, 3))
    compare(lambda L, a, b: L.stack([a, b]), R(2, 3), R(2, 3))
    compare(lambda L, a, b: L.stack([a, b], dim=2), R(2, 3), R(2, 3))
    compare(lambda L, a, b: L.stack((a, b), -1), R(2, 3), R(2, 3))
    compare(lambda L, a, b, c: L.cat([a, b, c], 1), R(2, 3), R(2, 1), R(2, 2))


# --- indexing reads -------------------------------------------------------------------

_MASK = _rng.random((3, 4)) < 0.5
INDEXES = [
    ("int", lambda L, x: x[1]),
    ("neg_int", lambda L, x: x[-1]),
    ("two_ints", lambda L, x: x[1, 2]),
    ("three_ints", lambda L, x: x[1, 2, 3]),
    ("slice", lambda L, x: x[1:3]),
    ("slice_step", lambda L, x: x[::2, 1::2]),
    ("slice_neg", lambda L, x: x[-2:, :-1]),
    ("slice_empty", lambda L, x: x[3:1]),
    ("slice_beyond", lambda L, x: x[1:100]),
    ("none", lambda L, x: x[None]),
    ("none_mid", lambda L, x: x[:, None, 1]),
    ("ellipsis", lambda L, x: x[..., 0]),
    ("ellipsis_mid", lambda L, x: x[0, ..., 1]),
    ("ellipsis_none", lambda L, x: x[..., None]),
    ("bool_mask", lambda L, x: x[L.tensor(_MASK)]),
    ("bool_mask_1d", lambda L, x: x[L.tensor([True, False, True])]),
    ("bool_mask_dim1", lambda L, x: x[:, L.tensor([True, False, True, False])]),
    ("int_tensor", lambda L, x: x[L.tensor([0, 2, 0])]),
    ("int_tensor_neg", lambda L, x: x[L.tensor([-1, 0])]),
    ("int_tensor_2d", lambda L, x: x[L.tensor([[0, 1], [2, 2]])]),
    ("int_tensor_dim1", lambda L, x: x[:, L.tensor([3, 0])]),
    ("two_int_tensors", lambda L, x: x[L.tensor([0, 2]), L.tensor([1, 3])]),
    ("separated_int_tensors", lambda L, x: x[L.tensor([0, 2]), :, L.tensor([1, 3])]),
    ("list", lambda L, x: x[[0, 2]]),
    ("list_dim1", lambda L, x: x[:, [1, 1, 2]]),
    ("int_and_tensor", lambda L, x: x[1, L.tensor([0, 2])]),
    ("tensor_and_slice", lambda L, x: x[L.tensor([0, 1]), 1:3]),
    ("scalar_tensor_int", lambda L, x: x[L.tensor(1)]),
    ("true", lambda L, x: x[True]),
    ("false", lambda L, x: x[False]),
    ("chained", lambda L, x: x[1:][0][::2]),
]


@pytest.mark.parametrize("fn", [pytest.param(f, id=n) for n, f in INDEXES])
def test_getitem(compare, fn):
    compare(fn, R(3, 4, 5))


def test_getitem_repeated_indices_accumulate_grad(compare):
    compare(lambda L, x: x[L.tensor([0, 0, 1, 0])], R(3, 2))


def test_gather_scatter_index_select(compare):
    x = R(3, 4)
    idx = np.array([[0, 3], [1, 1], [2, 0]], np.int64)
    compare(lambda L, t, i: L.gather(t, 1, i), x, idx)
    compare(lambda L, t, i: t.gather(0, i[:2] % 3), x, idx)
    compare(lambda L, t, i: L.gather(t, -1, i), x, idx)
    src = R(3, 2)
    compare(lambda L, t, i, s: L.scatter_add(t, 1, i, s), x, idx, src)
    compare(lambda L, t, i, s: t.scatter_add(0, i % 3, s), x, idx, src)
    compare(lambda L, t, i: L.index_select(t, 0, i), x, np.array([2, 0, 2], np.int64))
    compare(lambda L, t, i: t.index_select(1, i), x, np.array([3, 1], np.int64))


def test_one_hot(compare):
    from irgrad.tensor_ops.indexing import one_hot

    labels = np.array([0, 2, 1, 4], np.int64)

    def fn(L, *args):
        return (one_hot if L is irgrad else torch.nn.functional.one_hot)(*args)

    compare(lambda L, t: fn(L, t), labels)
    compare(lambda L, t: fn(L, t, 6), labels)
    compare(lambda L, t: fn(L, t.reshape(2, 2), 5), labels)


# --- linear algebra -------------------------------------------------------------------

MATMUL_SHAPES = [
    ((3,), (3,)),
    ((3,), (3, 4)),
    ((2, 3), (3,)),
    ((2, 3), (3, 4)),
    ((5, 2, 3), (3,)),
    ((3,), (5, 3, 4)),
    ((5, 2, 3), (3, 4)),
    ((2, 3), (5, 3, 4)),
    ((5, 2, 3), (5, 3, 4)),
    ((5, 1, 2, 3), (4, 3, 2)),
    ((1, 2, 3), (4, 3, 2)),
    ((2, 1, 2, 3), (1, 3, 3, 2)),
    ((0, 3), (3, 2)),
    ((2, 0), (0, 2)),
]


@pytest.mark.parametrize("shapes", MATMUL_SHAPES, ids=str)
def test_matmul(compare, shapes):
    compare(lambda L, a, b: a @ b, R(*shapes[0]), R(*shapes[1]))
    compare(lambda L, a, b: L.matmul(a, b), R(*shapes[0]), R(*shapes[1]))


def test_matmul_int(compare):
    compare(lambda L, a, b: a @ b, INT(2, 3), INT(3, 4))


def test_mm_bmm_dot_outer(compare):
    compare(lambda L, a, b: L.mm(a, b), R(2, 3), R(3, 4))
    compare(lambda L, a, b: a.mm(b), R(2, 3), R(3, 4))
    compare(lambda L, a, b: L.bmm(a, b), R(5, 2, 3), R(5, 3, 4))
    compare(lambda L, a, b: L.dot(a, b), R(4), R(4))
    compare(lambda L, a, b: a.dot(b), R(4), R(4))
    compare(lambda L, a, b: L.outer(a, b), R(4), R(3))
    compare(lambda L, a, b: L.mv(a, b), R(2, 4), R(4))


EINSUMS = [
    ("ij,jk->ik", [(2, 3), (3, 4)]),
    ("ij,jk", [(2, 3), (3, 4)]),
    ("bij,bjk->bik", [(5, 2, 3), (5, 3, 4)]),
    ("i,i->", [(4,), (4,)]),
    ("i,j->ij", [(4,), (3,)]),
    ("ij->ji", [(2, 3)]),
    ("ij->", [(2, 3)]),
    ("ij->j", [(2, 3)]),
    ("...ij,...jk->...ik", [(5, 2, 3), (5, 3, 4)]),
    ("bhqd,bhkd->bhqk", [(2, 3, 4, 5), (2, 3, 6, 5)]),
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 5)]),
    ("ab,cd->abcd", [(2, 3), (2, 2)]),
    ("i j , j k -> i k", [(2, 3), (3, 4)]),
    # size-1 dims broadcast to their letter's size in the other operands, as in PyTorch
    ("ij,ij->i", [(3, 4), (1, 4)]),
    ("bij,bjk->bik", [(1, 2, 3), (5, 3, 4)]),
    ("ij,jk->ik", [(2, 1), (3, 4)]),
    ("...ij,...jk->...ik", [(5, 1, 2, 3), (1, 4, 3, 2)]),
    # a letter repeated within an operand takes its diagonal (irgrad raised NotImplementedError)
    ("ii", [(4, 4)]),
    ("ii->i", [(3, 3)]),
    ("bii->bi", [(2, 3, 3)]),
    ("iji->j", [(3, 4, 3)]),
    ("iii->i", [(3, 3, 3)]),
    ("...ii->...i", [(2, 5, 4, 4)]),
    ("ij,jj->i", [(2, 3), (3, 3)]),
    ("iijj", [(2, 2, 3, 3)]),
]


@pytest.mark.parametrize("eq,shapes", EINSUMS, ids=[e for e, _ in EINSUMS])
def test_einsum(compare, eq, shapes):
    compare(lambda L, *xs: L.einsum(eq, *xs), *[R(*s) for s in shapes])
    compare(lambda L, *xs: L.einsum(eq, list(xs)), *[R(*s) for s in shapes])


# --- errors: the same exception type as torch, naming op and shapes ---------------------

ERRORS = [
    ("einsum_repeated_sizes", lambda L: L.einsum("bii->b", L.ones(2, 3, 4)), ["repeated", "4 != 3"]),
    ("matmul", lambda L: L.ones(2, 3) @ L.ones(4, 5), ["2x3", "4x5"]),
    ("matmul_1d", lambda L: L.ones(3) @ L.ones(4), ["3", "4"]),
    ("matmul_batch", lambda L: L.ones(2, 2, 3) @ L.ones(3, 3, 4), ["2", "3"]),
    ("matmul_0d", lambda L: L.matmul(L.ones(()), L.ones(3)), ["0D"]),
    ("mm", lambda L: L.mm(L.ones(2, 3), L.ones(2, 3)), ["2x3"]),
    ("bmm", lambda L: L.bmm(L.ones(2, 3), L.ones(2, 3, 3)), []),
    ("broadcast", lambda L: L.ones(2, 3) + L.ones(4), ["3", "4"]),
    ("broadcast_where", lambda L: L.where(L.ones(2, 3) > 0, L.ones(2), 0.0), ["3", "2"]),
    ("view", lambda L: L.ones(2, 3).t().view(6), ["view"]),
    ("view_size", lambda L: L.ones(2, 3).view(4), ["[4]", "6"]),
    ("reshape_size", lambda L: L.ones(2, 3).reshape(5, -1), ["6"]),
    ("cat_shapes", lambda L: L.cat([L.ones(2, 3), L.ones(2, 4)]), ["cat"]),
    ("cat_rank", lambda L: L.cat([L.ones(2, 3), L.ones(3)]), ["cat"]),
    ("stack_shapes", lambda L: L.stack([L.ones(2, 3), L.ones(3, 2)]), ["stack"]),
    ("index_out_of_range", lambda L: L.ones(2, 3)[2], ["2"]),
    ("index_out_of_range_dim1", lambda L: L.ones(2, 3)[:, 5], ["5"]),
    ("index_tensor_out_of_range", lambda L: L.ones(2, 3)[L.tensor([0, 3])], ["3"]),
    ("too_many_indices", lambda L: L.ones(2, 3)[0, 0, 0], []),
    ("dim_sum", lambda L: L.ones(2, 3).sum(2), ["2"]),
    ("dim_softmax", lambda L: L.softmax(L.ones(2, 3), -3), ["-3"]),
    ("dim_unsqueeze", lambda L: L.ones(2, 3).unsqueeze(4), ["4"]),
    ("dim_transpose", lambda L: L.ones(2, 3).transpose(0, 2), ["2"]),
    ("dim_cat", lambda L: L.cat([L.ones(2, 3), L.ones(2, 3)], 2), ["2"]),
    ("dim_max", lambda L: L.ones(2, 3).max(5), ["5"]),
    ("dim_argmax", lambda L: L.ones(2, 3).argmax(3), ["3"]),
    ("dim_size", lambda L: L.ones(2, 3).size(2), ["2"]),
    ("dim_cumsum", lambda L: L.ones(2, 3).cumsum(2), ["2"]),
    ("expand", lambda L: L.ones(2, 3).expand(4, 3), ["4", "2"]),
    ("permute", lambda L: L.ones(2, 3).permute(0), []),
    ("mean_int", lambda L: L.ones(2, dtype=L.int64).mean(), []),
    ("bool_sub", lambda L: L.ones(2, dtype=L.bool) - L.ones(2, dtype=L.bool), []),
    ("item_many", lambda L: L.ones(2).item(), []),
    ("bool_many", lambda L: bool(L.ones(2)), []),
    ("narrow", lambda L: L.ones(5).narrow(0, 3, 4), []),
    ("split_sizes", lambda L: L.ones(5).split([2, 2]), []),
    ("gather_rank", lambda L: L.gather(L.ones(2, 3), 1, L.zeros(2, dtype=L.int64)), []),
    ("index_select_2d", lambda L: L.index_select(L.ones(2, 3), 0, L.zeros(2, 2, dtype=L.int64)), []),
    ("float_bitwise", lambda L: L.ones(2) & L.ones(2), []),
    ("requires_grad_int", lambda L: L.ones(2, dtype=L.int64).requires_grad_(), []),
]


@pytest.mark.parametrize("fn,words", [pytest.param(f, w, id=n) for n, f, w in ERRORS])
def test_error_types_match_torch(fn, words):
    with pytest.raises(Exception) as theirs:
        fn(torch)
    with pytest.raises(Exception) as mine:
        fn(irgrad)
    assert type(mine.value) is type(theirs.value), (repr(mine.value), repr(theirs.value))
    for w in words:
        assert w in str(mine.value), (w, str(mine.value))


@pytest.mark.parametrize("op", ["cumsum", "sum", "mean"])
def test_half_sums_accumulate_in_float32_as_torch(compare, op):
    """float16 running sums, sums and means accumulate in float32 and round once, as
    PyTorch's: a running sum of 4096 halves in float16 drifted by 1.4."""
    x = (np.random.default_rng(0).standard_normal((4096, 3)) * 10).astype(np.float16)
    compare(lambda lib, t: getattr(t, op)(0), x, grad=False, atol=0, rtol=1e-3)
