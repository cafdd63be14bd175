"""Reductions and scans as native loops: sums in numpy's order (bit for bit where the
values are computed exactly), maxima, minima and integer sums in vector lanes, sums
over rows, cumulative sums, and the machine code they must not become (masked stores).
Checked against the IR interpreter and eager irgrad; no torch needed.
"""

from __future__ import annotations

import numpy as np
import pytest
from graph_calls import assert_native, graph_call, run_program
from hypothesis import given, settings
from hypothesis import strategies as st

import irgrad
from irgrad.codegen import Program, fuse_reduction_prologues
from irgrad.ir import Graph, TensorType, interpret
from irgrad.ops import OPS
from irgrad.passes import fuse


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(1, 7), min_size=1, max_size=4),
    st.data(),
    st.sampled_from(["sum", "amax", "amin"]),
    st.sampled_from([irgrad.float32, irgrad.float64]),
)
def test_reductions_over_outer_dims_walk_rows_in_order_and_match_numpy(shape, data, op, dtype):
    """A sum over the rows of a row-major matrix (a bias gradient) keeps one running
    value per column and reads each row in order; any dims, any op, same values."""
    shape = tuple(shape)
    dims = tuple(sorted(data.draw(st.sets(st.integers(0, len(shape) - 1), min_size=1))))
    g = Graph("reduce")
    x = g.add_input("x", TensorType(shape, dtype))
    e = g.add_op("exp", [x], {}, TensorType(shape, dtype))
    kept = tuple(n for k, n in enumerate(shape) if k not in dims)
    g.set_outputs([g.add_op(op, [e], {"dims": dims, "keepdim": False}, TensorType(kept, dtype))])
    value = np.random.default_rng(len(shape)).standard_normal(shape).astype(np.dtype(dtype.np))
    (got,) = run_program(Program(fuse_reduction_prologues(fuse(g))), [value])
    np.testing.assert_allclose(got, interpret(g, [value])[0], rtol=1e-6)


@pytest.mark.parametrize("n", [1, 1023, 1024, 1025, 1_000_003])
def test_float32_sums_of_a_million_elements_stay_accurate(n):
    """Blocks of 1024 summed in float32 lanes, block sums added in float64: the sum of
    1M values near 1 is within a few float32 ulps of the float64 sum (numpy's pairwise
    float32 sum is the yardstick PyTorch's tolerance is set against)."""
    g = Graph("sum")
    x = g.add_input("x", TensorType((n,), irgrad.float32))
    s = g.add_op("sigmoid", [x], {}, TensorType((n,), irgrad.float32))
    g.set_outputs([g.add_op("sum", [s], {"dims": (0,), "keepdim": False}, TensorType((), irgrad.float32))])
    values = np.random.default_rng(n).standard_normal(n).astype(np.float32)
    (got,) = run_program(Program(fuse_reduction_prologues(fuse(g))), [values])
    exact = (1 / (1 + np.exp(-values.astype(np.float64)))).sum()
    assert abs(float(got) - exact) <= 4 * np.spacing(np.float32(exact)) + 1e-6 * n**0.5
    numpy_error = abs(float(interpret(g, [values])[0]) - exact)
    assert abs(float(got) - exact) <= max(numpy_error * 2, 4 * np.spacing(np.float32(exact)))


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(1, 6), min_size=1, max_size=3),
    st.data(),
    st.sampled_from([np.bool_, np.int32, np.int64, np.uint8]),
    st.sampled_from(["sum", "amax", "amin"]),
)
def test_integer_and_bool_reductions_run_natively_as_numpy_computes_them(shape, data, dtype, op):
    shape = tuple(shape)
    if op != "sum" and dtype == np.bool_:
        return
    dims = tuple(sorted(data.draw(st.sets(st.integers(0, len(shape) - 1), min_size=1))))
    rng = np.random.default_rng(len(shape))
    value = (rng.integers(0, 2, shape) if dtype == np.bool_ else rng.integers(-100, 100, shape)).astype(dtype)
    meta = OPS[op].infer(
        TensorType(shape, irgrad.dtypes.from_numpy_dtype(value.dtype)), dims=dims, keepdim=False
    )
    g = Graph("ints")
    x = g.add_input("x", TensorType(shape, irgrad.dtypes.from_numpy_dtype(value.dtype)))
    g.set_outputs(
        [g.add_op(op, [x], {"dims": dims, "keepdim": False}, TensorType(tuple(meta.shape), meta.dtype))]
    )
    program = Program(g)
    assert program.report.segments == 1
    (got,) = run_program(program, [value])
    expected = interpret(g, [value])[0]
    assert got.dtype == expected.dtype
    np.testing.assert_array_equal(got, expected)


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.integers(0, 40), min_size=1, max_size=3),
    st.sampled_from(["all", "last", "first"]),
    st.sampled_from([np.float32, np.float64]),
    st.integers(0, 2**16),
)
def test_sums_of_stored_values_are_numpys_bit_for_bit(shape, which, dtype, seed):
    """A sum over one contiguous run follows numpy's pairwise tree and a sum over rows
    adds them in order from +0.0, as numpy does: the same bits, -0.0 and empty sums
    included (so compiled sums of stored values equal eager ones even when cancellation
    makes the sum ill-conditioned)."""
    shape = tuple(shape)
    dims = {"all": tuple(range(len(shape))), "last": (len(shape) - 1,), "first": (0,)}[which]
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(shape) * rng.choice([1.0, 1e4, 1e30], shape)).astype(dtype)
    if x.size:
        x.reshape(-1)[rng.integers(x.size)] = -0.0
    t = irgrad.dtypes.from_numpy_dtype(x.dtype)
    g = Graph("sum")
    i = g.add_input("x", TensorType(shape, t))
    kept = tuple(n for k, n in enumerate(shape) if k not in dims)
    g.set_outputs([g.add_op("sum", [i], {"dims": dims, "keepdim": False}, TensorType(kept, t))])
    (got,) = run_program(Program(g), [x])
    assert got.tobytes() == np.asarray(interpret(g, [x])[0]).tobytes()


@settings(max_examples=60, deadline=None)
@given(
    st.integers(0, 3000),
    st.sampled_from([np.float32, np.float64]),
    st.booleans(),
    st.integers(0, 2**16),
)
def test_sums_of_an_exact_prologue_are_numpys_bit_for_bit(n, dtype, strided, seed):
    """A sum whose fused prologue is exact (``1 / (1 + x * x) - y`` rounds as numpy's
    ops do) follows numpy's pairwise tree, its 8 running sums in vector lanes: eager's
    bits at every size (fewer than 8, one block of up to 128, split blocks, a remainder),
    over a strided operand too."""
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(2 * n if strided else n) * 3).astype(dtype)
    y = rng.standard_normal(n).astype(dtype)

    def f(x, y):
        return (1 / (1 + x * x) - y).sum()

    compiled = irgrad.compile(f, backend="llvm")
    xt = irgrad.tensor(x)[::2] if strided else irgrad.tensor(x)
    got = graph_call(compiled, xt, irgrad.tensor(y))
    assert got.numpy().tobytes() == f(xt, irgrad.tensor(y)).numpy().tobytes()
    assert_native(compiled)


def test_an_ill_conditioned_sum_with_an_exact_prologue_is_numpys():
    """Found by the fuzzer (seed 2034): ``where(isnan(x), 0, x).sum()`` over values with
    1e30 and -1e30 depends on the order of the additions; with a prologue of exact ops
    the native sum follows numpy's pairwise tree, so compiled gives eager's -9998."""
    x = np.array(
        [0.0, -1, -1, -0.0, 1e30, 1, 2, -0.0, 2, 1, 1, -1, 1, -0.0, -1, -1]
        + [-0.0, -0.0, 1, -10000, 1, np.nan, -0.0, -1e30],
        np.float32,
    )

    def f(x):
        return irgrad.where(irgrad.isnan(x), 0.0, x).sum()

    compiled = irgrad.compile(f, backend="llvm")
    assert graph_call(compiled, irgrad.tensor(x)).item() == f(irgrad.tensor(x)).item() == -9998.0
    assert_native(compiled)


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.integers(1, 40), min_size=1, max_size=3),
    st.sampled_from(["amax", "amin", "sum"]),
    st.sampled_from(["all", "last", "first"]),
    st.sampled_from([np.float32, np.float64, np.int32, np.int64, np.int8]),
    st.integers(0, 2**16),
)
def test_maxima_minima_and_integer_sums_in_lanes_are_eagers(shape, op, which, dtype, seed):
    """A maximum, a minimum or an integer sum folds its values into 8 lanes that the loop
    vectorizer widens, then the lanes in order: eager's values (NaN propagated, integer
    sums wrapping as eager's) at every size, with a prologue (``x * 3``, ``x + x``)."""
    shape = tuple(shape)
    if op == "sum" and np.dtype(dtype).kind == "f":
        return  # float sums: the tests above
    dims = {"all": tuple(range(len(shape))), "last": (len(shape) - 1,), "first": (0,)}[which]
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(shape) * 50).astype(dtype)
    if np.dtype(dtype).kind == "f" and x.size > 1 and rng.random() < 0.5:
        x.reshape(-1)[rng.integers(x.size)] = np.nan

    def f(x):
        return getattr(x * 3 + x, op)(dims)

    compiled = irgrad.compile(f, backend="llvm")
    got = graph_call(compiled, irgrad.tensor(x)).numpy()
    want = f(irgrad.tensor(x)).numpy()
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)
    assert_native(compiled)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(1, 6), min_size=1, max_size=3),
    st.data(),
    st.sampled_from([np.float32, np.float64, np.int32, np.int64, np.bool_, np.uint8]),
    st.booleans(),
)
def test_cumsums_add_in_numpys_order(shape, data, dtype, transposed):
    """``cumsum`` natively: running sums in order (floats in their own type, bools and
    integers in int64), bit for bit the interpreter's, from a strided source too."""
    shape = tuple(shape)
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    rng = np.random.default_rng(len(shape))
    base = (rng.standard_normal(shape[::-1] if transposed else shape) * 10).astype(dtype)
    in_type = TensorType(base.shape, irgrad.dtypes.from_numpy_dtype(base.dtype))
    g = Graph("scan")
    x = g.add_input("x", in_type)
    source = (
        g.add_op("permute", [x], {"dims": tuple(range(len(shape)))[::-1]}, TensorType(shape, in_type.dtype))
        if transposed
        else x
    )
    meta = OPS["cumsum"].infer(TensorType(shape, in_type.dtype), dim=dim)
    g.set_outputs([g.add_op("cumsum", [source], {"dim": dim}, TensorType(tuple(meta.shape), meta.dtype))])
    program = Program(g)
    assert program.report.segments == 1
    np.testing.assert_array_equal(run_program(program, [base])[0], interpret(g, [base])[0])


@pytest.mark.parametrize(
    "write",
    [
        lambda x: x.relu_(),
        lambda x: x.masked_fill_(x > 1, 0.0),
        lambda x: x.clamp_(max=0.5),
        lambda x: x.amax(0),  # running maxima over rows, in stack arrays
        lambda x: x.amin(0),
    ],
    ids=["relu_", "masked_fill_", "clamp_", "amax0", "amin0"],
)
def test_a_select_written_back_where_it_was_read_is_no_masked_store(write, tmp_path):
    """Storing ``select(c, x, other)`` where ``x`` was loaded from makes LLVM's x86 backend
    emit a masked store (``vmaskmovps``), microcoded on AMD's cores (3-5x slower than a
    blend and a store): loaded elements are frozen, and running maxima alternate arrays."""
    compiled = irgrad.compile(write, backend="llvm", dump=str(tmp_path))
    with irgrad.no_grad():
        x = irgrad.randn(64, 64)
        graph_call(compiled, x)
    assembly = "".join(p.read_text() for p in tmp_path.glob("*.s"))
    assert assembly, "no native code was dumped"
    assert "maskmov" not in assembly
