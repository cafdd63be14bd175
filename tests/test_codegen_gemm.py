"""Matrix products in native code (irgrad/codegen/tiled_gemm.py, codegen/gemm.py): the
tiled loops against numpy in float64, and compiled matmuls on every path (tiled, BLAS,
tiled with no BLAS) against eager.  No torch needed."""

from __future__ import annotations

import ctypes

import llvmlite.ir as ir
import numpy as np
import pytest
from graph_calls import assert_trains_as_eager
from hypothesis import given, settings
from hypothesis import strategies as st

import irgrad
from irgrad.codegen import blas, gemm, gemm_kernels, tiled_gemm
from irgrad.native import jit

_KERNELS: dict = {}


def _kernel(shape: tiled_gemm.GemmShape, dtype: np.dtype, tiling: gemm_kernels.Tiling, form: str = ""):
    """``f(a, b, c)``: the tiled product for ``shape`` as a function of its own (``form``:
    the one its shape takes while the caller has a threshold changed)."""
    key = (shape, dtype.str, tiling, form)
    if key not in _KERNELS:
        float_type = ir.FloatType() if dtype == np.float32 else ir.DoubleType()
        module = jit.new_module("tiled_gemm_test")
        fn = ir.Function(module, ir.FunctionType(ir.VoidType(), [float_type.as_pointer()] * 3), "product")
        builder = ir.IRBuilder(fn.append_basic_block("entry"))
        tiled_gemm.emit(builder, list(fn.args), float_type, shape, tiling)
        builder.ret_void()
        signature = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p)
        _KERNELS[key] = jit.compile_function(module, "product", signature)
    return _KERNELS[key]


def _check_product(m, n, k, transpose_a, transpose_b, accumulate, dtype, tiling=None, seed=0):
    rng = np.random.default_rng(seed)
    dtype = np.dtype(dtype)
    a_store = rng.standard_normal((k, m) if transpose_a else (m, k)).astype(dtype)
    b_store = rng.standard_normal((n, k) if transpose_b else (k, n)).astype(dtype)
    a = a_store.T if transpose_a else a_store
    b = b_store.T if transpose_b else b_store
    size = dtype.itemsize
    shape = tiled_gemm.GemmShape(
        m,
        n,
        k,
        (a.strides[0] // size, a.strides[1] // size),
        (b.strides[0] // size, b.strides[1] // size),
        n,
        accumulate,
    )
    if shape.form is None:
        return None
    c = rng.standard_normal((m, n)).astype(dtype)
    expected = (c.astype(np.float64) if accumulate else 0.0) + a.astype(np.float64) @ b.astype(np.float64)
    _kernel(shape, dtype, tiling or gemm_kernels.host_tiling(dtype))(
        a_store.ctypes.data, b_store.ctypes.data, c.ctypes.data
    )
    # each product is k fused multiply-adds in order: within k roundings of the exact sum
    scale = np.abs(a.astype(np.float64)) @ np.abs(b.astype(np.float64)) + (
        np.abs(expected) if accumulate else 0
    )
    bound = (k + 2) * np.finfo(dtype).eps * scale + np.finfo(dtype).tiny
    assert np.all(np.abs(c - expected) <= bound), (shape, np.max(np.abs(c - expected) - bound))
    return shape.form


# Tilings of the three kinds of host: AVX-512, AVX2 and SSE, for either dtype, with and
# without the unrolled loop over k (Intel's cores and AMD's).
_TILINGS = [
    gemm_kernels.Tiling(lanes, registers, k_unroll)
    for lanes, registers in ((16, 32), (8, 32), (8, 16), (4, 16), (2, 16))
    for k_unroll in (1, 4)
]


@settings(max_examples=150, deadline=None)
@given(
    m=st.integers(1, 40),
    n=st.integers(1, 70),
    k=st.integers(0, 40),
    transpose_a=st.booleans(),
    transpose_b=st.booleans(),
    accumulate=st.booleans(),
    dtype=st.sampled_from([np.float32, np.float64]),
    tiling=st.sampled_from([None, *_TILINGS]),
)
def test_tiled_products_equal_numpy_within_rounding(
    m, n, k, transpose_a, transpose_b, accumulate, dtype, tiling
):
    _check_product(m, n, k, transpose_a, transpose_b, accumulate, dtype, tiling)


@settings(max_examples=60, deadline=None)
@given(
    m=st.integers(1, 20),
    n=st.integers(1, 50),
    k=st.integers(0, 12),
    pad=st.integers(1, 20),
    transpose_b=st.booleans(),
    accumulate=st.booleans(),
    dtype=st.sampled_from([np.float32, np.float64]),
    tiling=st.sampled_from([None, *_TILINGS]),
)
def test_a_product_reads_and_writes_only_its_columns(m, n, k, pad, transpose_b, accumulate, dtype, tiling):
    """B's and C's rows padded past n: NaN in B's padding stays out of the product (the
    masked columns at a panel's end read only their lanes) and C's padding is untouched."""
    rng = np.random.default_rng(m * 1000 + n * 10 + k)
    dtype = np.dtype(dtype)
    a = rng.standard_normal((m, k)).astype(dtype)
    if transpose_b:  # B's columns contiguous, padded
        b_store = np.full((n, k + pad), np.nan, dtype)
        b_store[:, :k] = rng.standard_normal((n, k))
        b, b_strides = b_store[:, :k].T, (1, k + pad)
    else:
        b_store = np.full((k, n + pad), np.nan, dtype)
        b_store[:, :n] = rng.standard_normal((k, n))
        b, b_strides = b_store[:, :n], (n + pad, 1)
    shape = tiled_gemm.GemmShape(m, n, k, (k, 1), b_strides, n + pad, accumulate)
    if shape.form is None:
        return
    c_store = np.full((m, n + pad), 7.0, dtype)
    c_store[:, :n] = rng.standard_normal((m, n))
    expected = (c_store[:, :n].astype(np.float64) if accumulate else 0.0) + a.astype(np.float64) @ b.astype(
        np.float64
    )
    _kernel(shape, dtype, tiling or gemm_kernels.host_tiling(dtype))(
        a.ctypes.data, b_store.ctypes.data, c_store.ctypes.data
    )
    np.testing.assert_array_equal(c_store[:, n:], 7.0)
    np.testing.assert_allclose(
        c_store[:, :n], expected, rtol=1e-4 if dtype == np.float32 else 1e-10, atol=1e-5
    )


@pytest.mark.parametrize(
    "m, k, n",
    [
        (16, 128, 512),
        (16, 512, 128),
        (128, 16, 512),
        (64, 784, 128),
        (64, 128, 10),
        (7, 1000, 9),
        (3, 513, 40),
    ],
)
@pytest.mark.parametrize("transpose_b", [False, True])
@pytest.mark.parametrize("accumulate", [False, True])
def test_the_benchmarks_shapes_and_long_sums(m, k, n, transpose_b, accumulate):
    """Products over k > K_BLOCK are summed block by block into C."""
    form = _check_product(m, n, k, False, transpose_b, accumulate, np.float32)
    if transpose_b:
        assert form == ("dot" if m <= tiled_gemm.DOT_ROWS else "packed")
    else:  # B's rows n apart
        copied = n >= tiled_gemm.COPIED_STRIDE and m >= tiled_gemm.COPIED_ROWS and k > tiled_gemm.COPIED_K
        assert form == ("copied" if copied else "broadcast")


def test_long_float32_sums_round_about_as_blas_does():
    rng = np.random.default_rng(5)
    a = rng.standard_normal((8, 6000)).astype(np.float32)
    b = rng.standard_normal((6000, 24)).astype(np.float32)
    shape = tiled_gemm.GemmShape(8, 24, 6000, (6000, 1), (24, 1), 24, False)
    c = np.zeros((8, 24), np.float32)
    _kernel(shape, np.dtype(np.float32), gemm_kernels.host_tiling(np.dtype(np.float32)))(
        a.ctypes.data, b.ctypes.data, c.ctypes.data
    )
    exact = a.astype(np.float64) @ b.astype(np.float64)
    blas_error = np.abs((a @ b) - exact).max()
    assert np.abs(c - exact).max() <= 4 * blas_error


def test_forms_follow_the_strides():
    def shape(a_strides, b_strides, m=4, n=5, k=6):
        return tiled_gemm.GemmShape(m, n, k, a_strides, b_strides, n, False)

    assert shape((6, 1), (5, 1)).form == "broadcast"  # B's rows contiguous
    long = tiled_gemm.COPIED_K + 1
    assert (
        shape((long, 1), (128, 1), m=32, k=long).form == "copied"
    )  # ... a long stride apart, many rows of A and B
    assert shape((long, 1), (128, 1), m=31, k=long).form == "broadcast"
    assert shape((6, 1), (128, 1), m=32).form == "broadcast"  # a few rows of B: read in place
    assert shape((1, 4), (5, 1)).form == "broadcast"  # A is read element by element
    assert shape((6, 1), (1, 6)).form == "dot"  # B transposed, A's rows contiguous
    rows = tiled_gemm.DOT_ROWS + 1
    assert shape((6, 1), (1, 6), m=rows).form == "packed"  # more rows: B packed by panels
    assert shape((1, rows), (1, 6)).form == "packed"  # both transposed: B packed, A read as is
    assert shape((6, 1), (0, 0)).form is None  # a broadcast B: copied
    assert not tiled_gemm.small_enough(2048, 2048, 1100, np.dtype(np.float32))  # BLAS's size


def test_host_tiling_matches_the_cpu():
    import llvmlite.binding as llvm

    tiling = gemm_kernels.host_tiling(np.dtype(np.float32))
    features = llvm.get_host_cpu_features()
    assert tiling.lanes == (16 if features.get("avx512f") else 8 if features.get("avx") else 4)
    assert gemm_kernels.host_tiling(np.dtype(np.float64)).lanes == tiling.lanes // 2


# --- compiled matmuls on each path ---------------------------------------------------------------


def _compiled_agrees(fn, *shapes, dtype=irgrad.float32, calls=3):
    """``fn`` compiled with llvm equals eager on fresh inputs (the first call traces)."""
    compiled = irgrad.compile(fn, backend="llvm")
    rtol = 1e-5 if dtype == irgrad.float32 else 1e-12
    for call in range(calls):
        irgrad.manual_seed(call)
        args = [irgrad.randn(*s, dtype=dtype) for s in shapes]
        expected = fn(*args).detach().numpy()
        # sums of up to 128 products of order 1, rounded in another order than BLAS's
        atol = 20 * rtol * max(1.0, float(np.abs(expected).max(initial=0)))
        np.testing.assert_allclose(compiled(*args).detach().numpy(), expected, rtol=rtol, atol=atol)
    return compiled.explain()


_CASES = {
    "plain": (lambda a, b: a @ b, (5, 7), (7, 3)),
    "transposed_a": (lambda a, b: a.t() @ b, (7, 5), (7, 3)),
    "transposed_b": (lambda a, b: a @ b.t(), (5, 7), (3, 7)),
    "both_transposed": (lambda a, b: a.t() @ b.t(), (7, 5), (3, 7)),
    "batched": (lambda a, b: a @ b, (4, 5, 7), (4, 7, 3)),
    "broadcast_batch": (lambda a, b: a @ b, (2, 1, 5, 7), (3, 7, 3)),
    "tall": (lambda a, b: a @ b, (4, 5, 7), (7, 3)),
    "strided_a": (lambda a, b: a[:, ::2] @ b, (5, 14), (7, 3)),
    "expanded_b": (lambda a, b: a @ b.expand(7, 3), (5, 7), (1, 3)),
    "vector_matrix": (lambda a, b: a @ b, (7,), (7, 3)),
    "matrix_vector": (lambda a, b: a @ b, (5, 7), (7,)),
    "lstm_step": (lambda h, w: (h @ w.t()).tanh(), (16, 128), (512, 128)),
    "weight_gradient": (lambda h, g: h.t() @ g, (16, 128), (16, 512)),
    "empty_k": (lambda a, b: a @ b, (5, 0), (0, 3)),
    # more than DOT_ROWS rows: the transposed B packed by blocks and panels
    "transposed_b_tall": (lambda a, b: a @ b.t(), (40, 37), (70, 37)),
    "both_transposed_tall": (lambda a, b: a.t() @ b.t(), (37, 40), (70, 37)),
    "batched_transposed_b": (lambda a, b: a @ b.transpose(1, 2), (3, 40, 21), (3, 45, 21)),
    "broadcast_transposed_b": (lambda a, b: a @ b.transpose(-1, -2), (40, 21), (3, 45, 21)),
    # computed as (b @ a.T).T: packing a and transposing the result moves less than packing b.T
    "swapped_transposed_b": (lambda a, b: a @ b.t(), (40, 300), (120, 300)),
}


@pytest.mark.parametrize("case", sorted(_CASES))
@pytest.mark.parametrize("dtype", [irgrad.float32, irgrad.float64])
@pytest.mark.parametrize("with_blas", [True, False])
def test_compiled_matmuls_equal_eager(case, dtype, with_blas, monkeypatch):
    if not with_blas:  # every product tiled, operands copied where no form reads them
        monkeypatch.setattr(blas, "gemm", lambda dtype: None)
    fn, *shapes = _CASES[case]
    explain = _compiled_agrees(lambda a, b: fn(a, b) * 2.0, *shapes, dtype=dtype)
    assert "1 native call per run" in explain


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("lead", [(), (6,), (2, 3), (5, 8)])
@pytest.mark.parametrize("sizes", [(8, 5), (300, 120)])  # the second's product is swapped at 40 rows
def test_linear_layers_add_the_product_to_the_bias(bias, lead, sizes):
    irgrad.manual_seed(1)
    layer = irgrad.nn.Linear(*sizes, bias=bias)
    explain = _compiled_agrees(lambda x: irgrad.nn.functional.relu(layer(x)), (*lead, sizes[0]))
    assert "1 native call per run" in explain


def test_a_large_product_calls_blas(monkeypatch):
    calls = []
    original = gemm.GemmLowering._tiled

    def spy(self, *args):
        chosen = original(self, *args)
        calls.append(chosen)
        return chosen

    monkeypatch.setattr(gemm.GemmLowering, "_tiled", spy)
    side = round(tiled_gemm.LARGEST_MACS ** (1 / 3)) + 8
    _compiled_agrees(lambda a, b: a @ b, (side, side), (side, side), calls=2)
    if blas.gemm(np.dtype(np.float32)) is not None:
        assert calls and all(c is None for c in calls)


def test_a_training_step_with_tiled_products_trains_as_eager():
    def make():
        irgrad.manual_seed(3)
        model = irgrad.nn.Sequential(irgrad.nn.Linear(12, 40), irgrad.nn.Tanh(), irgrad.nn.Linear(40, 3))
        opt = irgrad.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        x, y = irgrad.randn(20, 12), irgrad.randint(0, 3, (20,))

        def step():
            opt.zero_grad()
            loss = irgrad.nn.functional.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            return loss

        return list(model.parameters()), step

    assert_trains_as_eager(make, steps=6)


def _parsed(text: str):
    import textwrap

    from irgrad.ir import parse_graph, verify

    return verify(parse_graph(textwrap.dedent(text).strip()))


def test_a_transposed_weight_shared_by_products_is_transposed_once():
    from irgrad.ir import interpret

    before = _parsed("""
        graph f(%w: f32[6,4], %h0: f32[2,4], %h1: f32[2,4]) -> (f32[2,6], f32[2,6])
          %0: f32[4,6] = permute(%w, dims=(1, 0))
          %1: f32[2,6] = matmul(%h0, %0)
          %2: f32[2,6] = matmul(%h1, %0)
          return %1, %2
    """)
    after = gemm.transpose_shared_operands_once(before)
    copies = [n for n in after.op_nodes() if n.op == "copy"]
    assert len(copies) == 1
    products = [n for n in after.op_nodes() if n.op == "matmul"]
    assert all(after.args(p.id)[1] == copies[0].id for p in products)
    rng = np.random.default_rng(0)
    inputs = [rng.standard_normal(before.node(i).type.shape).astype(np.float32) for i in before.inputs]
    for want, got in zip(interpret(before, inputs), interpret(after, inputs)):
        np.testing.assert_array_equal(got, want)


def test_a_transposed_operand_read_once_or_of_a_view_is_left_alone():
    once = _parsed("""
        graph f(%w: f32[6,4], %h: f32[2,4]) -> (f32[2,6])
          %0: f32[4,6] = permute(%w, dims=(1, 0))
          %1: f32[2,6] = matmul(%h, %0)
          return %1
    """)
    of_a_view = _parsed("""
        graph f(%w: f32[4,6], %h0: f32[2,4], %h1: f32[2,4]) -> (f32[2,6], f32[2,6])
          %0: f32[6,4] = permute(%w, dims=(1, 0))
          %1: f32[4,6] = permute(%0, dims=(1, 0))
          %2: f32[2,6] = matmul(%h0, %1)
          %3: f32[2,6] = matmul(%h1, %1)
          return %2, %3
    """)
    for graph in (once, of_a_view):
        assert str(gemm.transpose_shared_operands_once(graph)) == str(graph)


@settings(max_examples=40, deadline=None)
@given(
    st.integers(33, 80),
    st.integers(1, 45),
    st.integers(1, 45),
    st.sampled_from([np.float32, np.float64]),
    st.sampled_from([1, 2, 3]),
)
def test_a_transposed_weight_is_packed_exactly(m, n, k, dtype, threads):
    """A linear's weight read as B is packed by blocks and panels (in 8x8 register
    transposes, and element by element at the edges): the result is the broadcast
    form's product on ``W.T`` made contiguous by numpy, bit for bit, for any thread
    count (large sizes split the product across the pool).  Every product is tiled, as
    where no BLAS is found (a host without 512-bit vectors gives large-k products to it)."""
    from irgrad.codegen import Program, blas
    from irgrad.ir import Graph, TensorType

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(blas, "gemm", lambda dtype: None)
        _check_packed_weight(m, n, k, dtype, threads, Program, Graph, TensorType)


def _check_packed_weight(m, n, k, dtype, threads, Program, Graph, TensorType) -> None:

    scale = 1 if threads == 1 else 24  # large enough to split the copy
    n, k = n * scale, k * scale
    t = irgrad.dtypes.from_numpy_dtype(np.dtype(dtype))
    programs = []
    for op, b_shape in (("linear", (n, k)), ("matmul", (k, n))):
        g = Graph(op)
        a = g.add_input("a", TensorType((m, k), t))
        b = g.add_input("b", TensorType(b_shape, t))
        g.set_outputs([g.add_op(op, [a, b], {}, TensorType((m, n), t))])
        programs.append(Program(g))
    rng = np.random.default_rng(m * n * k)
    a, w = rng.standard_normal((m, k)).astype(dtype), rng.standard_normal((n, k)).astype(dtype)
    before = irgrad.get_num_threads()
    try:
        irgrad.set_num_threads(threads)
        (linear,) = programs[0]([a, w])
        (matmul,) = programs[1]([a, np.ascontiguousarray(w.T)])
    finally:
        irgrad.set_num_threads(before)
    assert linear.tobytes() == matmul.tobytes()
    if n > 1 and k > 1:  # else W.T is a row or a column, read in place by the broadcast form
        assert "irgrad.gemm.packed" in programs[0].segments[0].llvm_ir  # no copy of W.T first
    np.testing.assert_allclose(linear, a.astype(np.float64) @ w.T.astype(np.float64), rtol=1e-4, atol=1e-3)


def test_a_product_is_swapped_where_packing_a_and_transposing_c_moves_less():
    shape = lambda m, n, k: tiled_gemm.GemmShape(m, n, k, (k, 1), (1, k), n, False)  # noqa: E731
    swapped = shape(64, 128, 784).swapped()  # W1's forward: 50K + 16K elements moved, not 100K
    assert swapped == tiled_gemm.GemmShape(128, 64, 784, (784, 1), (1, 784), 64, False)
    assert swapped.form == "packed"
    assert shape(64, 10, 128).swapped() is None  # W1's second layer: packing its weight is cheaper
    assert shape(32, 1024, 1024).swapped() is None  # the dot form: nothing is packed
    assert shape(256, 32, 1024).swapped() is None  # a swapped product in the dot form
    row_major_b = tiled_gemm.GemmShape(64, 128, 784, (784, 1), (128, 1), 128, False)
    assert row_major_b.swapped() is None
    strided_a = tiled_gemm.GemmShape(64, 128, 784, (1, 64), (1, 784), 128, False)
    assert strided_a.swapped() is None


def _swapped_sizes(draw_m: int, more: int, extra: int) -> tuple[int, int, int]:
    """Sizes the swap takes: ``k(n - m) > SWAP_TRANSPOSE_COST * m * n``."""
    m = draw_m
    n = m + more
    k = tiled_gemm.SWAP_TRANSPOSE_COST * m * n // (n - m) + extra
    return m, n, k


@settings(max_examples=25, deadline=None)
@given(
    st.integers(tiled_gemm.DOT_ROWS + 1, 70),
    st.integers(8, 90),
    st.integers(1, 300),
    st.booleans(),
    st.sampled_from([np.float32, np.float64]),
    st.sampled_from([1, 2, 3]),
)
def test_a_swapped_linear_is_the_product_computed_as_it_is_exactly(m, more, extra, bias, dtype, threads):
    """``x @ W.T`` computed as ``(W @ x.T).T`` sums each element's products in the same
    order (blocks of k, one multiply-add at a time), so it has the bits of the product
    of ``x`` and a contiguous ``W.T``; the bias is added to the transposed result, the
    same bits as adding it afterwards.  Any thread count, any remainder of the tiles."""
    from irgrad.codegen import Program
    from irgrad.ir import Graph, TensorType

    m, n, k = _swapped_sizes(m, more, extra)
    assert tiled_gemm.GemmShape(m, n, k, (k, 1), (1, k), n, False).swapped() is not None
    t = irgrad.dtypes.from_numpy_dtype(np.dtype(dtype))
    programs = []
    for op, b_shape in (("linear", (n, k)), ("matmul", (k, n))):
        g = Graph(op)
        args = [g.add_input("a", TensorType((m, k), t)), g.add_input("b", TensorType(b_shape, t))]
        if op == "linear" and bias:
            args.append(g.add_input("bias", TensorType((n,), t)))
        g.set_outputs([g.add_op(op, args, {}, TensorType((m, n), t))])
        programs.append(Program(g))
    rng = np.random.default_rng(m * n * k)
    a, w, b = (rng.standard_normal(s).astype(dtype) for s in ((m, k), (n, k), (n,)))
    before = irgrad.get_num_threads()
    try:
        irgrad.set_num_threads(threads)
        (linear,) = programs[0]([a, w, b] if bias else [a, w])
        (matmul,) = programs[1]([a, np.ascontiguousarray(w.T)])
    finally:
        irgrad.set_num_threads(before)
    assert "copy_matrix" in programs[0].segments[0].llvm_ir  # the transpose of the swapped product
    assert linear.tobytes() == (matmul + b if bias else matmul).tobytes()
    want = a.astype(np.float64) @ w.T.astype(np.float64) + (b if bias else 0)
    np.testing.assert_allclose(linear, want, rtol=1e-4, atol=1e-3)


@settings(max_examples=25, deadline=None)
@given(
    st.integers(tiled_gemm.COPIED_ROWS, 80),
    st.integers(2, 300),
    st.integers(1, 300),
    st.integers(0, 40),
    st.booleans(),
    st.sampled_from([np.float32, np.float64]),
)
def test_a_row_major_b_read_through_copied_panels_is_the_in_place_product_exactly(
    m, n, k, extra, accumulate, dtype
):
    """A row-major B a long row stride apart is read through panels copied to the stack
    (the copied form): the blocks and panels are the broadcast form's, so is every bit."""
    dtype = np.dtype(dtype)
    stride = max(n, tiled_gemm.COPIED_STRIDE) + extra
    shape = tiled_gemm.GemmShape(m, n, k, (k, 1), (stride, 1), n, accumulate)
    previous_k, tiled_gemm.COPIED_K = tiled_gemm.COPIED_K, 0  # any k: the kernel's bits are compared
    try:
        assert shape.form == "copied"
    finally:
        tiled_gemm.COPIED_K = previous_k
    rng = np.random.default_rng(m * n * k + extra)
    a = rng.standard_normal((m, k)).astype(dtype)
    b = rng.standard_normal((k, stride)).astype(dtype)  # B is its first n columns
    start = rng.standard_normal((m, n)).astype(dtype)
    tiling = gemm_kernels.host_tiling(dtype)
    results = []
    for copied_from, form in ((tiled_gemm.COPIED_STRIDE, "copied"), (stride + 1, "broadcast")):
        previous = tiled_gemm.COPIED_STRIDE, tiled_gemm.COPIED_K
        tiled_gemm.COPIED_STRIDE, tiled_gemm.COPIED_K = copied_from, 0
        try:
            assert shape.form == form
            product = _kernel(shape, dtype, tiling, form)
        finally:
            tiled_gemm.COPIED_STRIDE, tiled_gemm.COPIED_K = previous
        c = start.copy()
        product(a.ctypes.data, b.ctypes.data, c.ctypes.data)
        results.append(c)
    assert results[0].tobytes() == results[1].tobytes()
    expected = a.astype(np.float64) @ b[:, :n].astype(np.float64) + (start if accumulate else 0)
    np.testing.assert_allclose(results[0], expected, rtol=1e-3 if dtype == np.float32 else 1e-10, atol=1e-3)


@pytest.mark.parametrize("rows, columns", [(31, 1024), (32, 1023), (32, 1024), (40, 1100)])
def test_a_transposed_a_far_apart_is_read_from_a_contiguous_copy(rows, columns):
    """``dY.T @ X`` (a weight gradient): an A whose columns lie COPIED_A_STRIDE or more
    apart is copied contiguous by the planner first, from COPIED_ROWS rows of A on."""
    expected_copy = rows >= tiled_gemm.COPIED_ROWS and columns >= tiled_gemm.COPIED_A_STRIDE
    assert tiled_gemm.copies_a(rows, (1, columns)) == expected_copy
    assert not tiled_gemm.copies_a(rows, (columns, 1))  # a row-major A is read in place
    rng = np.random.default_rng(rows + columns)
    batch = 24
    dy = rng.standard_normal((batch, columns)).astype(np.float32)[:, :rows]  # rows columns apart
    x = rng.standard_normal((batch, 200)).astype(np.float32)
    compiled = irgrad.compile(lambda dy, x: dy.T @ x)
    for _ in range(2):
        result = compiled(irgrad.from_numpy(dy), irgrad.tensor(x)).numpy()
    np.testing.assert_allclose(result, dy.T.astype(np.float64) @ x.astype(np.float64), rtol=1e-4, atol=1e-4)


@settings(max_examples=40, deadline=None)
@given(
    st.integers(1, 40),
    st.integers(1, 80),
    st.integers(0, 70),
    st.booleans(),
    st.sampled_from([np.float32, np.float64]),
    st.sampled_from([None, *_TILINGS]),
)
def test_the_unrolled_loop_of_a_contiguous_a_adds_in_the_same_order(m, n, k, accumulate, dtype, tiling):
    """A's rows contiguous, a full tile takes 4 k a loop iteration (gemm_tiles.Broadcast._sums);
    the same A read with a stride takes one k an iteration.  Each accumulator adds its
    products in order of k either way: the same bits, whatever k's remainder by 4."""
    dtype = np.dtype(dtype)
    tiling = tiling or gemm_kernels.host_tiling(dtype)
    rng = np.random.default_rng(m * 10_000 + n * 100 + k)
    wide = rng.standard_normal((m, 2 * k)).astype(dtype)  # A is its even columns
    b = rng.standard_normal((k, n)).astype(dtype)
    start = rng.standard_normal((m, n)).astype(dtype)
    results = []
    for a, strides in ((np.ascontiguousarray(wide[:, ::2]), (k, 1)), (wide, (2 * k, 2))):
        shape = tiled_gemm.GemmShape(m, n, k, strides, (n, 1), n, accumulate)
        assert shape.form == "broadcast"
        c = start.copy()
        _kernel(shape, dtype, tiling)(a.ctypes.data, b.ctypes.data, c.ctypes.data)
        results.append(c)
    assert results[0].tobytes() == results[1].tobytes()
