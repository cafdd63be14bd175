"""Type promotion and result dtypes against PyTorch, for every dtype pair."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import irgrad

torch = pytest.importorskip("torch")

NAMES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64"]
PAIRS = list(itertools.product(NAMES, NAMES))
SCALARS = [True, 3, -2, 2.5]


def mine(name):
    return getattr(irgrad, name)


def theirs(name):
    return getattr(torch, name)


def same(a, b) -> bool:
    return str(a).split(".")[-1] == str(b).split(".")[-1]


def sample(lib, name, shape):
    values = np.arange(1, 1 + int(np.prod(shape))).reshape(shape) % 3 + 1
    return lib.tensor(values.tolist(), dtype=getattr(lib, name))


@pytest.mark.parametrize("a,b", PAIRS)
def test_promote_types(a, b):
    assert same(irgrad.promote_types(mine(a), mine(b)), torch.promote_types(theirs(a), theirs(b)))


@pytest.mark.parametrize("a,b", PAIRS)
@pytest.mark.parametrize("shapes", [((3,), (3,)), ((3,), ()), ((), (3,)), ((), ())], ids=str)
def test_result_type_tensors(a, b, shapes):
    x_m, y_m = sample(irgrad, a, shapes[0]), sample(irgrad, b, shapes[1])
    x_t, y_t = sample(torch, a, shapes[0]), sample(torch, b, shapes[1])
    assert same(irgrad.result_type(x_m, y_m), torch.result_type(x_t, y_t))


@pytest.mark.parametrize("a", NAMES)
@pytest.mark.parametrize("scalar", SCALARS, ids=repr)
@pytest.mark.parametrize("zero_d", [False, True])
def test_result_type_scalars(a, scalar, zero_d):
    shape = () if zero_d else (3,)
    assert same(
        irgrad.result_type(sample(irgrad, a, shape), scalar),
        torch.result_type(sample(torch, a, shape), scalar),
    )


OPS = {
    "add": lambda x, y: x + y,
    "mul": lambda x, y: x * y,
    "truediv": lambda x, y: x / y,
    "floordiv": lambda x, y: x // y,
    "lt": lambda x, y: x < y,
    "eq": lambda x, y: x == y,
    "maximum": lambda x, y: x.maximum(y) if hasattr(x, "maximum") else None,
}


def _outcome(fn):
    try:
        out = fn()
    except Exception as exc:  # noqa: BLE001
        return type(exc)
    return out.dtype


@pytest.mark.parametrize("op", list(OPS))
@pytest.mark.parametrize("a,b", PAIRS)
@pytest.mark.parametrize("shapes", [((3,), (3,)), ((3,), ())], ids=str)
def test_op_result_dtypes(op, a, b, shapes):
    fn = OPS[op]
    got = _outcome(lambda: fn(sample(irgrad, a, shapes[0]), sample(irgrad, b, shapes[1])))
    want = _outcome(lambda: fn(sample(torch, a, shapes[0]), sample(torch, b, shapes[1])))
    if isinstance(want, type):
        assert got is want, (got, want)
    else:
        assert same(got, want), (got, want)


@pytest.mark.parametrize("op", list(OPS))
@pytest.mark.parametrize("a", NAMES)
@pytest.mark.parametrize("scalar", SCALARS, ids=repr)
def test_op_result_dtypes_with_scalars(op, a, scalar):
    if op == "maximum":
        pytest.skip("torch.maximum takes tensors only")
    fn = OPS[op]
    for left in (True, False):
        call = (lambda x, f=fn: f(x, scalar)) if left else (lambda x, f=fn: f(scalar, x))
        got = _outcome(lambda c=call: c(sample(irgrad, a, (3,))))
        want = _outcome(lambda c=call: c(sample(torch, a, (3,))))
        if isinstance(want, type):
            assert got is want, (left, got, want)
        else:
            assert same(got, want), (left, got, want)


def test_defaults():
    assert irgrad.tensor([1.0, 2.0]).dtype is irgrad.float32
    assert irgrad.tensor(1.5).dtype is irgrad.float32
    assert irgrad.tensor([1, 2]).dtype is irgrad.int64
    assert irgrad.tensor([True]).dtype is irgrad.bool
    assert irgrad.tensor([1, 2.0]).dtype is irgrad.float32
    assert irgrad.zeros(2).dtype is irgrad.float32
    assert irgrad.get_default_dtype() is irgrad.float32
    assert (irgrad.tensor([1, 2]) * 1.5).dtype is irgrad.float32
    assert (irgrad.tensor([1, 2]) / 2).dtype is irgrad.float32
    assert (irgrad.tensor([1, 2]) + irgrad.tensor([1.0])).dtype is irgrad.float32
    assert (irgrad.tensor([1.0], dtype=irgrad.float64) * 2.5).dtype is irgrad.float64
    assert (irgrad.tensor([1.0]) + irgrad.tensor(2.0, dtype=irgrad.float64)).dtype is irgrad.float32


@pytest.mark.parametrize("name", ["bool", "uint8", "int32", "int64"])
def test_integral_reduction_dtypes(name):
    x = sample(irgrad, name, (2, 3))
    assert x.sum().dtype is irgrad.int64
    assert x.sum(0).dtype is irgrad.int64
    assert x.cumsum(1).dtype is irgrad.int64
    assert x.prod().dtype is irgrad.int64
    if name == "bool":  # PyTorch's argmax and argmin refuse bool
        with pytest.raises(RuntimeError, match="does not support bool"):
            x.argmax()
    else:
        assert x.argmax().dtype is irgrad.int64
        assert x.argmin(1).dtype is irgrad.int64
    assert (x < 2).dtype is irgrad.bool
    with pytest.raises(RuntimeError, match="mean"):
        x.mean()
    assert x.mean(dtype=irgrad.float32).dtype is irgrad.float32


@pytest.mark.parametrize("name", ["float16", "float32", "float64"])
def test_float_reduction_dtypes(name):
    x = sample(irgrad, name, (2, 3))
    for fn in ("sum", "mean", "prod", "amax", "logsumexp", "var", "std"):
        out = getattr(x, fn)() if fn not in ("amax", "logsumexp") else getattr(x, fn)(0)
        assert out.dtype is mine(name), fn
    assert x.argmax().dtype is irgrad.int64
    assert (x == x).dtype is irgrad.bool
    assert x.softmax(0).dtype is mine(name)


def test_to_dtype_aliases():
    assert irgrad.float is irgrad.float32 and irgrad.double is irgrad.float64
    assert irgrad.long is irgrad.int64 and irgrad.int is irgrad.int32
    assert repr(irgrad.float32) == "irgrad.float32"
    assert irgrad.float32.is_floating_point and not irgrad.int64.is_floating_point
    x = irgrad.tensor([1.7, -1.7])
    assert x.long().tolist() == [1, -1]  # float -> int truncates toward zero, as PyTorch
    assert x.to(irgrad.int32).dtype is irgrad.int32
    assert x.to(dtype=irgrad.float64).dtype is irgrad.float64
    assert x.to(irgrad.tensor([1], dtype=irgrad.int16)).dtype is irgrad.int16
    assert x.to("cpu") is x and x.to(irgrad.float32) is x
    assert x.type(irgrad.float64).dtype is irgrad.float64
    assert x.type() == "torch.FloatTensor"


def _elementwise_ops():
    from irgrad.ops import OPS, DtypeRule, Kind

    # Ops with no dtype rule of their own (cast, fused cells) are not public arithmetic.
    return [
        (name, op.arity)
        for name, op in OPS.items()
        if op.kind is Kind.ELEMENTWISE
        and op.dtype_rule is not DtypeRule.NONE
        and name not in ("full_like", "where")
    ]


@pytest.mark.parametrize("name,arity", _elementwise_ops())
def test_every_elementwise_op_every_dtype(name, arity):
    """Result dtype (or exception type) of each elementwise primitive's public function."""
    for a in NAMES:
        for b in NAMES if arity == 2 else [None]:

            def call(lib, a=a, b=b):
                args = (sample(lib, a, (3,)),) + ((sample(lib, b, (3,)),) if b else ())
                return getattr(lib, name)(*args)

            got, want = _outcome(lambda: call(irgrad)), _outcome(lambda: call(torch))
            if isinstance(want, type):
                assert got is want, (a, b, got, want)
            else:
                assert same(got, want), (a, b, got, want)


@pytest.mark.parametrize("op", ["add", "sub"])
@pytest.mark.parametrize("a,b", PAIRS)
def test_alpha_scales_in_the_result_type(op, a, b):
    # add(x, y, alpha=3) is x + 3 * y in the result's type: an int8 y times 3 was computed
    # in int8 (100 * 3 wrapped to 44) and a bool y times 3 in int64 (a uint8 x gave int64)
    def run(lib):
        x = lib.tensor([100, 20, 1], dtype=getattr(lib, a))
        y = lib.tensor([100, -77, 1], dtype=getattr(lib, b))
        try:
            return getattr(lib, op)(x, y, alpha=3)
        except Exception as exc:  # noqa: BLE001
            return type(exc)

    got, want = run(irgrad), run(torch)
    if isinstance(want, type):
        assert got is want, (got, want)
    else:
        assert same(got.dtype, want.dtype), (got.dtype, want.dtype)
        np.testing.assert_array_equal(got.numpy(), want.numpy())


@pytest.mark.parametrize("a", NAMES)
def test_square_result_dtypes(a):
    # torch squares as pow(x, 2): a bool tensor gives int64
    got = irgrad.tensor([1, 0, 1], dtype=mine(a)).square()
    want = torch.tensor([1, 0, 1], dtype=theirs(a)).square()
    assert same(got.dtype, want.dtype), (got.dtype, want.dtype)
    np.testing.assert_array_equal(got.numpy(), want.numpy())


@pytest.mark.parametrize("name", NAMES)
def test_finfo_and_iinfo(name):
    """``finfo``/``iinfo``: the same fields and repr as PyTorch's, and its TypeErrors."""
    for info, fields in (
        ("finfo", ["bits", "eps", "max", "min", "tiny", "smallest_normal", "resolution", "dtype"]),
        ("iinfo", ["bits", "max", "min", "dtype"]),
    ):
        try:
            expected = getattr(torch, info)(theirs(name))
        except TypeError as err:
            with pytest.raises(TypeError) as raised:
                getattr(irgrad, info)(mine(name))
            assert str(raised.value) == str(err)
            continue
        got = getattr(irgrad, info)(mine(name))
        assert repr(got) == repr(expected)
        assert [getattr(got, f) for f in fields] == [getattr(expected, f) for f in fields]
        assert got == getattr(irgrad, info)(mine(name))
    assert irgrad.finfo() == irgrad.finfo(irgrad.get_default_dtype())
    with pytest.raises(TypeError, match="must be torch.dtype, not str"):
        irgrad.finfo("float32")


FILLS = {
    "full": lambda L, dt, v: L.full((2,), v, dtype=dt),
    "full_like": lambda L, dt, v: L.full_like(L.zeros(2, dtype=dt), v),
    "fill_": lambda L, dt, v: L.zeros(2, dtype=dt).fill_(v),
    "masked_fill": lambda L, dt, v: L.zeros(2, dtype=dt).masked_fill(L.tensor([True, False]), v),
    "index_fill_": lambda L, dt, v: L.zeros(2, dtype=dt).index_fill_(0, L.tensor([1]), v),
    "setitem": lambda L, dt, v: (lambda t: (t.__setitem__(0, v), t)[1])(L.zeros(2, dtype=dt)),
    "pad": lambda L, dt, v: L.nn.functional.pad(L.zeros(2, dtype=dt), (1, 1), value=v),
}


@pytest.mark.parametrize("fill", sorted(FILLS))
@pytest.mark.parametrize(
    "dtype,value",
    [
        ("int64", float("nan")),
        ("int32", float("inf")),
        ("int64", 1e30),
        ("int8", 300),
        ("int8", 127.5),
        ("uint8", -1),
        ("uint8", -0.5),
        ("uint8", 255.9),
        ("int16", -2.7),
        ("float32", 1e300),
        ("float32", float("inf")),
        ("bool", float("nan")),
    ],
)
def test_fill_values_are_converted_with_torchs_overflow_check(fill, dtype, value):
    # numpy wrote INT64_MIN for a NaN filled into an int64 tensor, inf for 1e300 into
    # float32, and raised OverflowError for -1 into uint8 (which PyTorch wraps to 255);
    # PyTorch's Scalar conversion raises "value cannot be converted to type int64_t
    # without overflow" (found by probing F.pad's constant value)
    fn = FILLS[fill]
    try:
        want = fn(torch, getattr(torch, dtype), value)
    except RuntimeError as theirs:
        with pytest.raises(RuntimeError) as mine:
            fn(irgrad, getattr(irgrad, dtype), value)
        assert str(mine.value) == str(theirs)
        return
    got = fn(irgrad, getattr(irgrad, dtype), value)
    assert got.numpy().tolist() == want.numpy().tolist()
