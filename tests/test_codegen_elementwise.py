"""Native elementwise kernels against the numpy kernels and the IR interpreter.

Each elementwise op, on every dtype it accepts, is compiled alone into a native
kernel and run on the special values of ``elementwise_cases``: the result must equal
the op's numpy kernel bit for bit (signed zeros and NaN included), except the
transcendental functions, which are another implementation (vectorizable
polynomials, ``test_codegen_math.py`` checks them closely) and must agree to a few ulps.  Random fused graphs run
through the whole LLVM backend must match the interpreter.  No torch needed.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from elementwise_cases import (
    DTYPES,
    FORMULA_RULES,
    accepts,
    assert_close_in_ulps,
    assert_identical,
    cases,
    single_op_body,
)
from graph_calls import assert_graphs_answered, run_program
from hypothesis import given, settings
from hypothesis import strategies as st
from ir_random import NATIVE_RTOL, graphs, random_inputs

import irgrad
from irgrad import dtypes
from irgrad.codegen import ElementwiseKernel, Lowering, Program, ReductionKernel, fuse_reduction_prologues
from irgrad.codegen.index_loops import coalesce
from irgrad.compiler.backends import LlvmBackend
from irgrad.ir import FUSED, Graph, TensorType, interpret
from irgrad.ops import OPS, Kind
from irgrad.ops.scalar import Unsupported
from irgrad.ops.strides import broadcast_strides
from irgrad.passes import fuse

ELEMENTWISE = sorted(name for name, op in OPS.items() if op.kind is Kind.ELEMENTWISE)
# Computed by another implementation than numpy's (within ULPS of it, not bit for bit).
APPROXIMATE = {"exp", "expm1", "log", "log1p", "sin", "cos", "tan", "tanh", "erf", "atan2", "pow", "sigmoid"}
APPROXIMATE |= FORMULA_RULES  # scalar rules built from other functions than numpy's kernel
APPROXIMATE |= {"i0", "i1"}  # Chebyshev sums times exp: native exp's ulp shows through
ULPS = 4
# What the code generator leaves to numpy on integers, by design: an integer division must
# raise on a zero divisor (and numpy's integer power on a negative exponent) as eager does,
# which a native loop cannot; gcd's Euclid steps are integer remainders too.
LEFT_TO_NUMPY_ON_INTEGERS = {"floor_divide", "remainder", "fmod", "pow", "gcd"}
INTEGER_ONLY = {"gcd"}  # ops of integers alone, so all left to numpy: none is compiled
# Special functions whose scalar primitive has no LLVM code yet (irgrad.ops.scalar): their
# nodes run numpy's kernel in compiled code (test_ops_without_native_code_run_numpy_in_compiled_code).
NO_NATIVE_CODE_YET = {"lgamma", "digamma", "polygamma", "erfinv"}


@pytest.mark.parametrize("name", sorted(set(ELEMENTWISE) - NO_NATIVE_CODE_YET))
def test_native_kernel_of_each_op_matches_numpy(name):
    op = OPS[name]
    rng = np.random.default_rng(1)
    compiled = 0
    for dt in DTYPES:
        for arrays, attrs in cases(op, dt, rng):
            if not accepts(op, arrays, attrs):
                continue
            with np.errstate(all="ignore"):
                expected = np.asarray(op.eval(*arrays, **attrs))
            body = single_op_body(name, arrays, attrs)
            if expected.dtype != np.dtype(body.node(body.outputs[0]).type.dtype.np):
                continue  # numpy's own kernel disagrees with the op's type (floor of an int)
            try:
                kernel = ElementwiseKernel(body)
            except Unsupported:
                integer = np.dtype(dt.np).kind in "iu"
                assert integer and name in LEFT_TO_NUMPY_ON_INTEGERS, f"{name} on {dt} was not lowered"
                continue
            actual = kernel(*arrays)
            context = f"{name} on {dt} {attrs} {[a.shape for a in arrays]}"
            if name in APPROXIMATE and expected.dtype.kind == "f":
                assert_close_in_ulps(expected, actual, context, ULPS)
            else:
                assert_identical(expected, actual, context)
            compiled += 1
    assert compiled or name in INTEGER_ONLY, f"{name}: nothing was compiled"


@pytest.mark.parametrize("name", sorted(NO_NATIVE_CODE_YET))
def test_ops_without_native_code_are_refused_by_the_lowering(name):
    x = np.linspace(0.25, 0.75, 11)
    attrs = {"n": 1} if name == "polygamma" else {}
    with pytest.raises(Unsupported, match=f"no native code for {name}"):
        ElementwiseKernel(single_op_body(name, [x], attrs))


def test_ops_without_native_code_run_numpy_in_compiled_code():
    def f(x, y):
        return (x.lgamma() + x.digamma() * y.exp()).tanh() + irgrad.polygamma(2, x) * y.erfinv()

    rng = np.random.default_rng(3)
    x = irgrad.tensor(rng.uniform(0.3, 4.0, (5, 7)), requires_grad=True)
    y = irgrad.tensor(rng.uniform(-0.9, 0.9, (5, 7)), requires_grad=True)
    compiled = irgrad.compile(f, backend="llvm")
    for _ in range(2):
        expected = f(x, y)
        ex, ey = irgrad.autograd.grad(expected.sum(), (x, y))
        actual = compiled(x, y)
        ax, ay = irgrad.autograd.grad(actual.sum(), (x, y))
        for want, got in ((expected, actual), (ex, ax), (ey, ay)):
            np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), rtol=1e-12, atol=1e-12)
    report = compiled.explain()
    for name in NO_NATIVE_CODE_YET:  # each alone: fusion keeps them apart, the rest is native
        assert f"{name}: no native code for {name} yet" in report
    assert "native steps" in report


def test_float_to_integer_casts_match_numpy_at_the_edges():
    x = np.array(
        [np.nan, np.inf, -np.inf, 3e9, -3e9, 2.0**31, -(2.0**31), 2.0**63, 1e20, -0.7, 0.7, 300.5, -129.9]
    )
    for src in (np.float32, np.float64):
        for target in (dtypes.int64, dtypes.int32, dtypes.int16, dtypes.int8, dtypes.uint8, dtypes.bool_):
            a = x.astype(src)
            body = single_op_body("cast", [a], {"dtype": target})
            with np.errstate(all="ignore"):
                assert_identical(a.astype(target.np), ElementwiseKernel(body)(a), f"{src} -> {target}")


@given(st.lists(st.integers(1, 4), min_size=0, max_size=4), st.data())
@settings(max_examples=60, deadline=None)
def test_broadcast_strides_read_what_numpy_broadcasting_reads(out_shape, data):
    out_shape = tuple(out_shape)
    lead = data.draw(st.integers(0, len(out_shape)))
    data_shape = tuple(d if data.draw(st.booleans()) else 1 for d in out_shape[lead:])
    values = np.arange(int(np.prod(data_shape)), dtype=np.int64).reshape(data_shape)
    strides = broadcast_strides(data_shape, out_shape)
    expected = np.broadcast_to(values, out_shape)
    for index in np.ndindex(*out_shape):
        assert values.reshape(-1)[sum(i * s for i, s in zip(index, strides))] == expected[index]
    dims, (merged,) = coalesce(out_shape, [strides])
    assert int(np.prod(dims)) == int(np.prod(out_shape))


def test_broadcast_operands_and_a_zero_d_exponent():
    body = Graph("b")
    a = body.add_input("a", TensorType((3, 1, 4), irgrad.float32))
    b = body.add_input("b", TensorType((5, 1), irgrad.float32))
    e = body.add_input("e", TensorType((), irgrad.float32))
    s = body.add_op("add", [a, b], {}, TensorType((3, 5, 4), irgrad.float32))
    body.set_outputs([body.add_op("pow", [s, e], {}, TensorType((3, 5, 4), irgrad.float32))])
    rng = np.random.default_rng(0)
    x, y = rng.random((3, 1, 4), dtype=np.float32), rng.random((5, 1), dtype=np.float32)
    for exponent in (0.5, 2.0, -1.0, 1.3):
        arrays = [x, y, np.asarray(exponent, np.float32)]
        assert_close_in_ulps(
            interpret(body, arrays)[0], ElementwiseKernel(body)(*arrays), f"pow {exponent}", ULPS
        )


def test_a_kernel_refuses_arrays_of_other_shapes_or_dtypes():
    body = single_op_body("add", [np.zeros(3, np.float32), np.zeros(3, np.float32)], {})
    kernel = ElementwiseKernel(body)
    with pytest.raises(RuntimeError, match=r"input 1 is float32\[4\], expected float32\[3\]"):
        kernel(np.zeros(3, np.float32), np.zeros(4, np.float32))
    with pytest.raises(RuntimeError, match="float64"):
        kernel(np.zeros(3, np.float64), np.zeros(3, np.float32))
    strided = np.arange(6, dtype=np.float32)[::2]  # not contiguous: copied first
    np.testing.assert_array_equal(kernel(strided, strided), strided * 2)


@settings(max_examples=150, deadline=None)
@given(graphs())
def test_random_graphs_run_natively_as_the_interpreter_runs_them(g):
    run, report = LlvmBackend().build(g)
    assert isinstance(run, Program) and report.segments <= 1  # the whole graph is one native call
    inputs = random_inputs(g, np.random.default_rng(0))
    expected = interpret(g, inputs)
    for e, a in zip(expected, run_program(run, inputs)):
        np.testing.assert_allclose(np.asarray(a), e, rtol=NATIVE_RTOL, atol=1e-6)


def test_a_chain_of_exps_stays_within_the_amplified_rounding():
    """The fuzzer's case: four nested exps reach 1.1e9; an ulp of difference inside is 19
    ulps at the end (one exp alone is within an ulp: tests/test_codegen_math.py)."""
    x = np.array([0.0, 0.1, 0.104, -3.0], dtype=np.float32)
    kernel = ElementwiseKernel(single_op_body("exp", [x], {}))
    native, reference = x, x
    for _ in range(4):
        native, reference = kernel(native), np.exp(reference)
    np.testing.assert_allclose(native, reference, rtol=NATIVE_RTOL)


def test_a_group_left_to_numpy_says_why():
    g = Graph("g")
    a = g.add_input("a", TensorType((4,), irgrad.int64))
    b = g.add_input("b", TensorType((4,), irgrad.int64))
    q = g.add_op("floor_divide", [a, b], {}, TensorType((4,), irgrad.int64))
    g.set_outputs([g.add_op("add", [q, a], {}, TensorType((4,), irgrad.int64))])
    lowering = Lowering()
    run = irgrad.ir.compile_graph(fuse(g), lower=lowering)
    assert not lowering.kernels and "integer division" in lowering.fallbacks[0]
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        run([np.arange(4), np.array([1, 0, 1, 1])])


def test_a_symbolic_group_left_to_numpy_gets_the_graph_sizes():
    """Found by the fuzzer: a fused group whose attributes use a size symbol no input of
    the group carries (``broadcast_to(x, shape=(B, ...))``) runs with the graph's sizes."""

    def f(x, m):
        return irgrad.where(m, irgrad.tile(x[1:, :, :, -1], (1, 1, 1, 2)), 0.0)

    compiled = irgrad.compile(f, backend="llvm")
    mask = irgrad.tensor(np.array([[[[False, True]]]]))
    for batch in (2, 3, 4):
        x = irgrad.randn(batch, 1, 1, 1)
        irgrad.mark_dynamic(x, 0)
        np.testing.assert_array_equal(compiled(x, mask).numpy(), f(x, mask).numpy())
    assert_graphs_answered(compiled)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 5), st.sampled_from(["transpose", "step", "flip", "column"]), st.booleans())
def test_strided_inputs_are_read_in_place_through_their_strides(seed, layout, reduce):
    rng = np.random.default_rng(seed)
    base = rng.standard_normal((6, 8)).astype(np.float32)
    view = {
        "transpose": base.T[:4, :6],
        "step": base[::2, ::3],
        "flip": base[::-1, ::-2],
        "column": base[:, 1:2],
    }[layout]
    shape = view.shape
    g = Graph("strided")
    a = g.add_input("a", TensorType(shape, irgrad.float32))
    b = g.add_input("b", TensorType((shape[1],), irgrad.float32))
    value = g.add_op(
        "mul",
        [g.add_op("exp", [a], {}, TensorType(shape, irgrad.float32)), b],
        {},
        TensorType(shape, irgrad.float32),
    )
    if reduce:
        value = g.add_op(
            "sum", [value], {"dims": (0,), "keepdim": False}, TensorType((shape[1],), irgrad.float32)
        )
    g.set_outputs([value])
    other = rng.standard_normal(shape[1]).astype(np.float32)
    fused = fuse_reduction_prologues(fuse(g))
    (node,) = [n for n in fused.op_nodes() if n.op == FUSED]
    kernel = (ReductionKernel if reduce else ElementwiseKernel)(node.body)
    expected = interpret(g, [np.ascontiguousarray(view), other])[0]
    np.testing.assert_allclose(kernel(view, other), expected, rtol=2e-6, atol=1e-6)
    assert len(kernel._variants) == (1 if view.flags.c_contiguous else 2)  # one variant per layout


def test_dump_writes_each_kernels_llvm_ir_before_and_after_optimization_and_its_assembly(tmp_path):
    compiled = irgrad.compile(lambda x: (x.exp() * 2.0 + 1.0).sum(), dump=str(tmp_path))
    compiled(irgrad.randn(64))
    names = sorted(p.name for p in tmp_path.iterdir())
    for suffix in (".ll", ".opt.ll", ".s"):
        (kernel,) = [
            n for n in names if n.endswith(suffix) and (suffix != ".ll" or not n.endswith(".opt.ll"))
        ]
        assert "segment0" in kernel
        text = (tmp_path / kernel).read_text()
        assert "graph_" in text  # the segment's entry function
        if suffix == ".ll":  # before LLVM inlines it: the map-reduce's loop nest, named after its group
            assert "fused0.sum" in text
    assert any(n.endswith("-fused.ir") for n in names)
    (line,) = [line for line in compiled.explain().splitlines() if "forward:" in line]
    assert "1 native steps in 1 native call per run" in line


def test_a_scalar_input_is_read_once_before_the_loop_and_not_at_every_element(tmp_path):
    """SGD's learning rate is a float64 input of a float32 training step's one loop.  Read at
    every element, its float64 was the widest type in the loop, and LLVM's vectorizer then
    gave the float32 data half the lanes a vector holds: W5's step ran 1.7x slower."""
    import re

    def train(compiled: bool, dump=None) -> tuple:
        irgrad.manual_seed(0)
        w = irgrad.randn(1000, requires_grad=True)
        opt = irgrad.optim.SGD([w], lr=0.1)

        def step():
            opt.zero_grad()
            loss = (w.tanh() * w.sigmoid() + 0.5 * w * w).sum()
            loss.backward()
            opt.step()
            return loss.detach()

        run = irgrad.compile(step, dump=dump) if compiled else step
        losses = [run().item() for _ in range(4)]
        return losses, w.detach().numpy().copy()

    eager_losses, eager_w = train(False)
    losses, w = train(True, str(tmp_path))
    np.testing.assert_allclose(losses, eager_losses, rtol=1e-6)
    np.testing.assert_allclose(w, eager_w, rtol=1e-6, atol=1e-7)
    (source,) = [p for p in tmp_path.iterdir() if p.name.endswith("segment0.ll") and ".opt." not in p.name]
    blocks = re.split(r"\n(?=\"?[\w.]+\"?:)", source.read_text())
    (innermost,) = [b for b in blocks if b.startswith("block.body:")]  # the elements' loop
    assert "float" in innermost and "double" not in innermost


def test_when_code_memory_is_used_up_groups_run_with_numpy(monkeypatch):
    """LLVM aborts the process when it cannot map more code (each kernel takes two of the
    process's vm.max_map_count mappings, for good); the JIT stops short of that and the
    code generator falls back to numpy, saying why."""
    from irgrad.native import jit

    monkeypatch.setitem(jit._STATE, "budget", jit.STATS.compiled + jit.STATS.cache_hits)
    g = Graph("full")
    a = g.add_input("a", TensorType((5,), irgrad.float32))
    g.set_outputs(
        [
            g.add_op(
                "add",
                [g.add_op("sin", [a], {}, TensorType((5,), irgrad.float32)), a],
                {},
                TensorType((5,), irgrad.float32),
            )
        ]
    )
    lowering = Lowering()
    run = irgrad.ir.compile_graph(fuse(g), lower=lowering)
    assert not lowering.kernels and "memory mappings" in lowering.fallbacks[0]
    x = np.arange(5, dtype=np.float32)
    np.testing.assert_allclose(run([x])[0], np.sin(x) + x, rtol=1e-6)


def test_eager_native_kernels_fall_back_to_numpy_when_code_memory_is_used_up(monkeypatch):
    from irgrad.native import jit

    monkeypatch.setattr(jit, "_KERNELS", {})  # nothing compiled yet in this process's view
    monkeypatch.setitem(jit._STATE, "budget", 0)
    x = irgrad.randn(2, 3, 6, 6, requires_grad=True)
    w = irgrad.randn(4, 3, 3, 3)
    out = irgrad.nn.functional.max_pool2d(irgrad.nn.functional.conv2d(x, w), 2).relu()
    loss = irgrad.nn.functional.cross_entropy(out.flatten(1), irgrad.tensor([1, 2]))
    loss.backward()
    monkeypatch.undo()
    x2 = x.detach().requires_grad_()
    expected = irgrad.nn.functional.cross_entropy(
        irgrad.nn.functional.max_pool2d(irgrad.nn.functional.conv2d(x2, w), 2).relu().flatten(1),
        irgrad.tensor([1, 2]),
    )
    expected.backward()
    np.testing.assert_allclose(loss.item(), expected.item(), rtol=1e-6)
    np.testing.assert_allclose(x.grad.numpy(), x2.grad.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["erf", "expm1", "log1p"])
def test_vectorized_float32_erf_expm1_and_log1p_round_once_from_float64(name):
    # straight-line float64 code rounded once to float32: within half an ulp of the float64
    # result (erf's fit is good to 3e-10 relative, 0.006 float32 ulp), at every scale, both ends of the piecewise ranges and
    # the special values (no libm call in the loop)
    rng = np.random.default_rng(3)
    scales = (1e-6, 1e-3, 2.0**-10, 0.3, 0.5, 1.0, 2.0, 3.9, 10.0, 90.0)
    x = np.concatenate(
        [rng.standard_normal(20_000) * s for s in scales]
        + [
            np.array(
                [
                    0.0,
                    -0.0,
                    np.inf,
                    -np.inf,
                    np.nan,
                    0.5,
                    -0.5,
                    4.0,
                    -4.0,
                    2.0**-10,
                    88.72,
                    89.0,
                    -104.0,
                    1e-45,
                ]
            )
        ]
    ).astype(np.float32)
    body = single_op_body(name, [x], {})
    actual = ElementwiseKernel(body)(x)
    exact = np.vectorize(math.erf) if name == "erf" else getattr(np, name)
    expected = exact(x.astype(np.float64))
    with np.errstate(over="ignore", invalid="ignore"):
        rounded = expected.astype(np.float32)
    finite = np.isfinite(rounded)
    ulps = np.abs(actual[finite].astype(np.float64) - expected[finite]) / np.spacing(np.abs(rounded[finite]))
    assert ulps.max() <= 0.51, f"{name}: {ulps.max()} ulp"  # the float64 code is good to 3e-10
    np.testing.assert_array_equal(actual[~finite], rounded[~finite])
    assert np.signbit(actual[x == 0]).tolist() == np.signbit(x[x == 0]).tolist()


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 40),
    st.integers(1, 40),
    st.integers(0, 3),
    st.sampled_from([np.float32, np.float64, np.int64, np.int8, np.bool_]),
    st.booleans(),
    st.sampled_from([None, 1, 3]),
)
def test_a_transposing_copy_copies_every_element(rows, cols, extra, dtype, large, batch):
    """``copy(x.T)`` of a matrix or of a batch of them (of a slice too: rows ``extra``
    wider than read), taken in 8x8 register transposes where the matrix has them and
    element by element at its edges; large ones split across the pool."""
    scale = 30 if large and batch is None else 1
    rows, cols = rows * scale, cols * scale
    lead = () if batch is None else (batch,)
    t = dtypes.from_numpy_dtype(np.dtype(dtype))
    g = Graph("transpose")
    x = g.add_input("x", TensorType((*lead, cols, rows + extra), t))
    index = (slice(None),) * len(lead) + (slice(None), slice(0, rows))
    window = g.add_op("slice", [x], {"index": index}, TensorType((*lead, cols, rows), t))
    dims = tuple(range(len(lead))) + (len(lead) + 1, len(lead))
    flipped = g.add_op("permute", [window], {"dims": dims}, TensorType((*lead, rows, cols), t))
    g.set_outputs([g.add_op("copy", [flipped], {}, TensorType((*lead, rows, cols), t))])
    data = (np.random.default_rng(rows * cols).standard_normal((*lead, cols, rows + extra)) * 50).astype(
        dtype
    )
    (got,) = run_program(Program(g), [data])
    expected = np.ascontiguousarray(np.swapaxes(data[..., :rows], -1, -2))
    assert got.flags.c_contiguous and got.tobytes() == expected.tobytes()
