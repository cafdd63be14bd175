"""Whole graphs as native programs: view rules, the layout plan, BLAS calls, routines,
segments around numpy steps, the arena, threads.

The view rules are checked against numpy's own views (strides and offsets); programs
against the IR interpreter and against eager irgrad.  No torch needed.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest
from graph_calls import (
    assert_graphs_answered,
    assert_native,
    assert_trains_as_eager,
    fresh_like,
    graph_call,
    run_program,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from optim_cases import elementwise_step

import irgrad
import irgrad.nn.functional as F
from irgrad.codegen import Program, fuse_reduction_prologues
from irgrad.codegen.gemm import matrix_layout
from irgrad.codegen.layout import ARENA, Buffer, pack_arena
from irgrad.ir import Graph, TensorType, interpret
from irgrad.ops import OPS
from irgrad.ops.strides import is_contiguous, reshape_strides, slice_layout
from irgrad.passes import fuse

# --- view rules against numpy ---------------------------------------------------------------------


def _element_layout(base: np.ndarray, view: np.ndarray) -> tuple[int, tuple[int, ...]]:
    offset = view.__array_interface__["data"][0] - base.__array_interface__["data"][0]
    return offset // base.itemsize, tuple(s // base.itemsize for s in view.strides)


@st.composite
def strided_arrays(draw):
    """A view of a fresh array: transposed, stepped or sliced, as numpy makes them."""
    shape = tuple(draw(st.lists(st.integers(1, 5), min_size=1, max_size=4)))
    base = np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape)
    view = base
    if draw(st.booleans()):
        view = view.transpose(draw(st.permutations(range(view.ndim))))
    if draw(st.booleans()):
        view = view[tuple(slice(None, None, draw(st.integers(1, 2))) for _ in range(view.ndim))]
    return base, view


@settings(max_examples=200, deadline=None)
@given(strided_arrays(), st.data())
def test_reshape_is_a_view_exactly_where_numpy_makes_one(arrays, data):
    base, view = arrays
    size = view.size
    factors = [d for d in range(1, size + 1) if size % d == 0]
    first = data.draw(st.sampled_from(factors))
    new_shape = data.draw(
        st.sampled_from([(size,), (first, size // first), (1, size, 1), (size // first, 1, first)])
    )
    _, strides = _element_layout(base, view)
    rule = reshape_strides(view.shape, strides, new_shape)
    try:
        numpy_view = np.reshape(view, new_shape, copy=False)
    except ValueError:
        assert rule is None
        return
    assert rule is not None
    expected_offset, expected_strides = _element_layout(base, numpy_view)
    reshaped = np.lib.stride_tricks.as_strided(view, new_shape, tuple(s * base.itemsize for s in rule))
    np.testing.assert_array_equal(reshaped, numpy_view)  # the same elements, whatever size-1 strides say


@settings(max_examples=200, deadline=None)
@given(strided_arrays(), st.data())
def test_slice_layout_is_numpys(arrays, data):
    base, view = arrays
    index = []
    for n in view.shape:
        kind = data.draw(st.sampled_from(["int", "slice", "none", "all"]))
        if kind == "int":
            index.append(data.draw(st.integers(-n, n - 1)))
        elif kind == "slice":
            start = data.draw(st.integers(0, n))
            index.append(slice(start, data.draw(st.integers(start, n)), data.draw(st.integers(1, 3))))
        elif kind == "none":
            index += [None, slice(None)]
        else:
            index.append(slice(None))
    index = tuple(index)
    start, strides = _element_layout(base, view)
    offset, rule = slice_layout(view.shape, strides, index)
    expected = view[index + (Ellipsis,)]  # a view even when every dim is indexed away
    if expected.size:
        expected_offset, _ = _element_layout(base, expected)
        assert start + offset == expected_offset
    got = np.lib.stride_tricks.as_strided(
        base.reshape(-1)[start + offset :], expected.shape, tuple(s * base.itemsize for s in rule)
    )
    np.testing.assert_array_equal(got, expected)


def test_every_view_op_has_a_rule_and_only_views_do():
    views = {name for name, op in OPS.items() if op.view is not None}
    assert views == {"reshape", "permute", "broadcast_to", "slice", "diagonal", "unfold", "detach", "rebind"}


@settings(max_examples=200, deadline=None)
@given(strided_arrays(), st.data())
def test_unfold_layout_is_the_kernels(arrays, data):
    base, view = arrays
    if view.ndim == 0:
        view = view.reshape(1)
    dim = data.draw(st.integers(0, view.ndim - 1))
    size = data.draw(st.integers(0, view.shape[dim]))
    step = data.draw(st.integers(1, 4))
    start, strides = _element_layout(base, view)
    rule_offset, rule = OPS["unfold"].view(view.shape, strides, dim=dim, size=size, step=step)
    expected = OPS["unfold"].eval(view, dim=dim, size=size, step=step)
    got = np.lib.stride_tricks.as_strided(
        base.reshape(-1)[start + rule_offset :], expected.shape, tuple(s * base.itemsize for s in rule)
    )
    np.testing.assert_array_equal(got, expected)


@settings(max_examples=200, deadline=None)
@given(strided_arrays(), st.data())
def test_diagonal_layout_is_numpys(arrays, data):
    base, view = arrays
    if view.ndim < 2:
        view = view.reshape(view.shape + (1,))
    dim1, dim2 = data.draw(st.permutations(range(view.ndim)))[:2]
    offset = data.draw(st.integers(-view.shape[dim1] - 1, view.shape[dim2] + 1))
    start, strides = _element_layout(base, view)
    rule_offset, rule = OPS["diagonal"].view(view.shape, strides, offset=offset, dim1=dim1, dim2=dim2)
    expected = np.diagonal(view, offset, dim1, dim2)
    got = np.lib.stride_tricks.as_strided(
        base.reshape(-1)[start + rule_offset :], expected.shape, tuple(s * base.itemsize for s in rule)
    )
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize(
    "rows, cols, strides, expected",
    [
        (3, 4, (4, 1), (111, 4)),  # row major
        (3, 4, (1, 3), (112, 3)),  # a transposed matrix
        (3, 4, (8, 1), (111, 8)),  # rows of a wider matrix
        (3, 4, (4, 2), None),  # every other column: copied first
        (3, 1, (0, 1), None),  # a broadcast row
        (1, 4, (99, 1), (111, 4)),  # one row: its stride is irrelevant
    ],
)
def test_matrix_layouts_blas_reads_in_place(rows, cols, strides, expected):
    assert matrix_layout(rows, cols, *strides) == expected


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 300), st.integers(0, 5)), min_size=1, max_size=12))
def test_the_arena_never_overlaps_buffers_alive_together(spec):
    buffers, defined = [], {}
    for k, (size, life) in enumerate(spec):
        buffers.append(Buffer(k, ARENA, (size,), np.dtype(np.uint8), uses=[k + life]))
        defined[k] = k
    total = pack_arena(buffers, defined)
    for a in buffers:
        assert a.offset % 64 == 0 and a.offset + a.nbytes <= total
        for b in buffers:
            alive_together = a.id < b.id and defined[b.id] <= max(a.uses)
            if alive_together:
                assert a.offset + a.nbytes <= b.offset or b.offset + b.nbytes <= a.offset


# --- programs against the interpreter and eager -----------------------------------------------------


def _program(fn, *tensors):
    """``fn`` compiled with llvm and traced on ``tensors``, then called on fresh values
    like them: (that call's result, checked to come from the graph's code, eager's result
    on the same values, ``explain()``)."""
    compiled = irgrad.compile(fn, backend="llvm")
    compiled(*tensors)  # traced: its result is eager's
    fresh = [fresh_like(t) for t in tensors]
    return graph_call(compiled, *fresh), fn(*fresh), assert_graphs_answered(compiled)


def _forward_line(explain: str) -> str:
    (line,) = [line for line in explain.splitlines() if line.strip().startswith("forward:")]
    return line


@pytest.mark.parametrize("dtype", [irgrad.float32, irgrad.float64])
@pytest.mark.parametrize(
    "case",
    ["plain", "transposed_a", "transposed_b", "batched", "broadcast_batch", "tall", "strided_a", "empty_k"],
)
def test_matmuls_call_blas_with_operands_read_in_place(case, dtype):
    irgrad.manual_seed(0)
    shapes = {
        "plain": ((5, 7), (7, 3)),
        "transposed_a": ((7, 5), (7, 3)),
        "transposed_b": ((5, 7), (3, 7)),
        "batched": ((4, 5, 7), (4, 7, 3)),
        "broadcast_batch": ((2, 1, 5, 7), (3, 7, 3)),
        "tall": ((4, 5, 7), (7, 3)),
        "strided_a": ((5, 14), (7, 3)),
        "empty_k": ((5, 0), (0, 3)),
    }[case]
    a, b = (irgrad.randn(*s, dtype=dtype) for s in shapes)

    def f(a, b):
        a = {"transposed_a": lambda t: t.t(), "strided_a": lambda t: t[:, ::2]}.get(case, lambda t: t)(a)
        b = b.t() if case == "transposed_b" else b
        return (a.exp() @ b) * 2.0

    out, expected, explain = _program(f, a, b)
    np.testing.assert_allclose(out.numpy(), expected.numpy(), rtol=1e-5 if dtype == irgrad.float32 else 1e-12)
    assert "1 native call per run" in _forward_line(explain)


@pytest.mark.parametrize("lead", [(), (6,), (2, 3)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_layers_are_gemms_with_the_bias_written_first(lead, bias):
    irgrad.manual_seed(1)
    layer = irgrad.nn.Linear(8, 5, bias=bias)
    x = irgrad.randn(*lead, 8)
    out, expected, explain = _program(lambda x: F.relu(layer(x)), x)
    np.testing.assert_allclose(out.detach().numpy(), expected.detach().numpy(), rtol=1e-6, atol=1e-6)
    assert "1 native call per run" in _forward_line(explain)


def test_a_view_numpy_would_copy_is_copied_before_it_is_read():
    """The issue's example: ``exp(x).permute(1, 0).reshape(12, 1)`` cannot be a view of
    ``exp(x)``'s buffer; read as one, the matmul would get the wrong order."""
    x, w = irgrad.randn(3, 4), irgrad.randn(1, 2)

    def f(x, w):
        return x.exp().permute(1, 0).reshape(12, 1) @ w

    out, expected, explain = _program(f, x, w)
    np.testing.assert_allclose(out.numpy(), expected.numpy(), rtol=1e-6)
    assert "1 native call per run" in _forward_line(explain)


def test_a_classifier_step_runs_as_one_native_call_and_trains_as_eager():
    def make():
        irgrad.manual_seed(2)
        model = irgrad.nn.Sequential(irgrad.nn.Linear(20, 16), irgrad.nn.Tanh(), irgrad.nn.Linear(16, 4))
        opt = irgrad.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        x, y = irgrad.randn(8, 20), irgrad.randint(0, 4, (8,))

        def step():
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            return loss.detach()

        return list(model.parameters()), step

    assert_trains_as_eager(make, steps=4)


def test_a_bad_target_raises_the_eager_error_from_native_code():
    logits = irgrad.randn(4, 3)

    def f(logits, target):
        return F.nll_loss(F.log_softmax(logits, dim=1), target)

    compiled = irgrad.compile(f, backend="llvm")
    good = irgrad.tensor([0, 2, 1, 2])
    np.testing.assert_allclose(graph_call(compiled, logits, good).item(), f(logits, good).item(), rtol=1e-6)
    assert_native(compiled)
    with pytest.raises(IndexError, match="Target 7 is out of bounds"):
        compiled(logits, irgrad.tensor([0, 7, 1, 2]))
    assert compiled.explain().graphs[0]["interpreted"]["forward"] == 1


def test_a_node_without_lowering_runs_with_numpy_between_two_native_calls():
    x = irgrad.randn(5, 6)

    def f(x):
        return irgrad.sort(x.exp() * 2.0, dim=1).values.tanh() @ x.t()

    out, expected, explain = _program(f, x)
    np.testing.assert_allclose(out.numpy(), expected.numpy(), rtol=1e-5)
    line = _forward_line(explain)
    assert "2 native calls per run" in line and "no native lowering of argsort" in line


def test_two_threads_calling_one_program_use_their_own_arenas():
    g = Graph("threads")
    x = g.add_input("x", TensorType((256,), irgrad.float32))
    e = g.add_op("exp", [x], {}, TensorType((256,), irgrad.float32))
    s = g.add_op("sum", [e], {"dims": (0,), "keepdim": True}, TensorType((1,), irgrad.float32))
    g.set_outputs([g.add_op("div", [e, s], {}, TensorType((256,), irgrad.float32))])
    program = Program(fuse_reduction_prologues(fuse(g)))
    assert program.plan.arena_bytes > 0
    failures = []

    def work(seed: int) -> None:
        rng = np.random.default_rng(seed)
        for _ in range(300):
            data = rng.standard_normal(256).astype(np.float32)
            (out,) = program([data])
            if not np.allclose(out, interpret(g, [data])[0], rtol=1e-5):
                failures.append(seed)

    threads = [threading.Thread(target=work, args=(seed,)) for seed in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures and not program.interpreted


def test_inputs_of_another_layout_or_type_are_copied_or_refused():
    g = Graph("inputs")
    x = g.add_input("x", TensorType((3, 4), irgrad.float32))
    g.set_outputs([g.add_op("neg", [x], {}, TensorType((3, 4), irgrad.float32))])
    program = Program(g)
    data = np.arange(12, dtype=np.float32).reshape(3, 4)
    strided = np.arange(24, dtype=np.float32).reshape(3, 8)[:, ::2]
    assert not is_contiguous(strided.shape, tuple(s // 4 for s in strided.strides))
    np.testing.assert_array_equal(run_program(program, [strided])[0], -strided)
    np.testing.assert_array_equal(run_program(program, [data])[0], -data)
    with pytest.raises(RuntimeError, match=r"input 0 is float64\[3, 4\], expected float32\[3, 4\]"):
        program([np.zeros((3, 4))])


@pytest.mark.parametrize(
    "shape, dim", [((6, 5), 1), ((6, 5), -1), ((2, 4, 1), 1), ((3, 1, 4, 1, 1), 2), ((2, 3, 4), 1)]
)
def test_log_softmax_rows_are_found_along_any_dim(shape, dim):
    """Found by the fuzzer: ``log_softmax`` over dim 1 of a (2, 4, 1) input (what
    ``cross_entropy`` of a (N, C, d) input does) has rows of length 4, not 1."""
    out, expected, _ = _program(lambda x: F.log_softmax(x, dim) * 1.5, irgrad.randn(*shape))
    np.testing.assert_allclose(out.numpy(), expected.numpy(), rtol=1e-6, atol=1e-6)


def test_cat_pad_and_slice_gradients_copy_through_strides_on_both_sides():
    irgrad.manual_seed(3)
    a = irgrad.randn(4, 6, requires_grad=True)
    b = irgrad.randn(6, 3, requires_grad=True)

    def f(a, b):
        joined = irgrad.cat([a.t()[:, ::2], b.exp()], dim=1)  # strided and computed inputs
        padded = F.pad(joined, (1, 2, 0, 1), value=-0.5)
        return (padded[1:, 2:5] * 3.0).sum() + padded.tanh().sum()

    compiled = irgrad.compile(f, backend="llvm")
    compiled(a, b)  # traced: its result is eager's
    out = graph_call(compiled, a, b)
    out.backward()
    got = a.grad.numpy().copy(), b.grad.numpy().copy()
    a.grad = b.grad = None
    expected = f(a, b)
    expected.backward()
    np.testing.assert_allclose(out.item(), expected.item(), rtol=1e-6)
    np.testing.assert_allclose(got[0], a.grad.numpy(), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(got[1], b.grad.numpy(), rtol=1e-6, atol=1e-7)
    assert_native(compiled)


@settings(max_examples=8, deadline=None)
@given(
    shape=st.lists(st.integers(1, 5), min_size=2, max_size=4),
    offset=st.integers(-5, 5),
    dims=st.tuples(st.integers(0, 3), st.integers(0, 3)),
    transposed=st.booleans(),
)
def test_diagonal_gradients_write_onto_the_diagonal_natively(shape, offset, dims, transposed):
    """``diagonal``'s gradient (and ``diag_embed``) is zeros with the gradient written
    where ``diagonal``'s view rule puts the diagonal: native code, the interpreter's values."""
    dim1, dim2 = (d % len(shape) for d in dims)
    if dim1 == dim2:
        dim2 = (dim1 + 1) % len(shape)
    a = irgrad.tensor(np.random.default_rng(len(shape)).standard_normal(shape).astype(np.float32))
    a.requires_grad_(True)

    def f(a):
        source = a.transpose(0, 1) if transposed else a
        return (source.diagonal(offset, dim1, dim2).exp() * 2.0).sum()

    compiled = irgrad.compile(f, backend="llvm")
    compiled(a).backward()  # traced: its gradient is eager's
    a.grad = None
    graph_call(compiled, a).backward()
    got = a.grad.numpy().copy()
    a.grad = None
    f(a).backward()
    np.testing.assert_allclose(got, a.grad.numpy(), rtol=1e-6)  # (exp: native within an ulp of numpy's)
    assert_native(compiled)


@settings(max_examples=10, deadline=None)
@given(
    shape=st.lists(st.integers(1, 7), min_size=1, max_size=3),
    dim=st.integers(0, 2),
    size=st.integers(0, 4),
    step=st.integers(1, 4),
    transposed=st.booleans(),
)
def test_unfold_reads_windows_in_place_and_adds_their_gradients_back_natively(
    shape, dim, size, step, transposed
):
    """``unfold`` is read through its view rule and ``unfold_grad`` adds every window of the
    gradient back where it was read (overlapping ones summed): native code, eager's values."""
    dim %= len(shape)
    seen = list(shape)
    if transposed:
        seen[0], seen[-1] = seen[-1], seen[0]
    size = min(size, seen[dim])
    a = irgrad.tensor(np.random.default_rng(len(shape)).standard_normal(shape), requires_grad=True)

    def f(a):
        source = a.transpose(0, -1) if transposed else a
        return (source.unfold(dim, size, step).sin() * 3.0).sum()

    compiled = irgrad.compile(f, backend="llvm")
    compiled(a).backward()  # traced: its gradient is eager's
    a.grad = None
    graph_call(compiled, a).backward()
    got = a.grad.numpy().copy()
    a.grad = None
    f(a).backward()
    np.testing.assert_allclose(got, a.grad.numpy(), rtol=1e-12, atol=1e-12)
    assert_native(compiled)


@pytest.mark.parametrize("dtype", [irgrad.float32, irgrad.float64])
@pytest.mark.parametrize("lead", [(5,), (2, 3), (1,)])
def test_an_lstm_cell_reads_its_gates_and_state_through_their_strides(dtype, lead):
    """The gates a slice of a wider matrix and the state the ``c`` half of an earlier
    cell's ``[h | c]``: read in place (no copy step), the interpreter's values."""
    size = 7
    g = Graph("cell")
    wide = g.add_input("wide", TensorType((*lead, 4 * size + 3), dtype))
    state = g.add_input("state", TensorType((*lead, 2 * size), dtype))
    every = (slice(None),) * len(lead)
    gates = g.add_op(
        "slice", [wide], {"index": (*every, slice(0, 4 * size))}, TensorType((*lead, 4 * size), dtype)
    )
    c = g.add_op(
        "slice", [state], {"index": (*every, slice(size, 2 * size))}, TensorType((*lead, size), dtype)
    )
    g.set_outputs([g.add_op("lstm_cell", [gates, c], {}, TensorType((*lead, 2 * size), dtype))])
    program = Program(g)
    assert program.report.native_steps == 1  # no copy of either argument
    rng = np.random.default_rng(len(lead))
    inputs = [
        rng.standard_normal((*lead, 4 * size + 3)).astype(dtype.np),
        rng.standard_normal((*lead, 2 * size)).astype(dtype.np),
    ]
    np.testing.assert_allclose(run_program(program, inputs)[0], interpret(g, inputs)[0], rtol=1e-6, atol=1e-7)


def test_an_lstm_training_step_is_one_native_call_and_trains_as_eager():
    def make():
        irgrad.manual_seed(4)
        lstm = irgrad.nn.LSTM(5, 8, batch_first=True)
        head = irgrad.nn.Linear(8, 3)
        params = list(lstm.parameters()) + list(head.parameters())
        opt = irgrad.optim.SGD(params, lr=0.5)
        x, y = irgrad.randn(4, 6, 5), irgrad.randint(0, 3, (4,))

        def step():
            opt.zero_grad()
            out, _ = lstm(x)
            loss = F.cross_entropy(head(out[:, -1]), y)
            loss.backward()
            opt.step()
            return loss.detach()

        return params, step

    assert_trains_as_eager(make)


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


def test_a_gradient_handed_to_grad_is_written_once_not_copied():
    """``.grad`` gets a fresh copy of the backward's result; when nothing else reads that
    result, its own buffer is the copy (W5's step: one loop nest writing the gradient,
    the new parameter and the loss; see test_codegen_loop_fusion)."""
    x, step = elementwise_step(1000, lr=0.1)
    compiled = irgrad.compile(step, backend="llvm")
    for _ in range(2):
        compiled()
    (line,) = [line for line in compiled.explain().splitlines() if "native call" in line][-1:]
    assert "1 native steps in 1 native call per run" in line
    before = x.detach().numpy().copy()
    graph_call(compiled)
    np.testing.assert_allclose(x.detach().numpy(), before - 0.1 * x.grad.numpy(), rtol=1e-6, atol=1e-7)
    assert not np.shares_memory(x.grad.numpy(), x.detach().numpy())
    assert_native(compiled)


@pytest.mark.parametrize("padding_idx", [None, 2, -1])
@pytest.mark.parametrize("id_dtype", [irgrad.int64, irgrad.int32])
def test_embeddings_and_their_gradients_run_natively(padding_idx, id_dtype):
    irgrad.manual_seed(6)
    table = irgrad.nn.Embedding(7, 5, padding_idx=padding_idx)
    ids = irgrad.tensor([[0, 2, 6], [2, 2, 1]], dtype=id_dtype)  # repeats accumulate

    def f(ids):
        return (table(ids).tanh() * 3.0).sum()

    compiled = irgrad.compile(f, backend="llvm")
    compiled(ids)  # traced: its result is eager's
    out = graph_call(compiled, ids)
    out.backward()
    got = table.weight.grad.numpy().copy()
    table.weight.grad = None
    expected = f(ids)
    expected.backward()
    # a sum of 30 terms up to 3 that cancel to 0.35; tanh's ulps and the order of the adds differ
    np.testing.assert_allclose(out.item(), expected.item(), rtol=1e-6, atol=1e-5)
    np.testing.assert_allclose(got, table.weight.grad.numpy(), rtol=1e-6, atol=1e-7)
    assert_native(compiled)
    with pytest.raises(IndexError, match="index out of range in self"):
        compiled(irgrad.tensor([[0, 7, 1], [1, 1, 1]], dtype=id_dtype))
    with pytest.raises(IndexError, match="index out of range in self"):
        compiled(irgrad.tensor([[0, -1, 1], [1, 1, 1]], dtype=id_dtype))


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


def test_a_small_gpt_training_step_is_one_native_call_and_trains_as_eager():
    """Embeddings, layer norms, causal attention, GELU MLP, cross-entropy.  (SGD with
    momentum, not Adam: the attention's key bias has an exactly-zero gradient eagerly and
    rounding noise compiled, which Adam's normalisation turns into steps of size lr.)"""
    vocab, width, length, batch = 23, 16, 6, 3

    class Block(irgrad.nn.Module):
        def __init__(self):
            super().__init__()
            self.ln1, self.ln2 = irgrad.nn.LayerNorm(width), irgrad.nn.LayerNorm(width)
            self.attn = irgrad.nn.MultiheadAttention(width, 2, batch_first=True)
            self.mlp = irgrad.nn.Sequential(
                irgrad.nn.Linear(width, 4 * width), irgrad.nn.GELU(), irgrad.nn.Linear(4 * width, width)
            )

        def forward(self, x, mask):
            h = self.ln1(x)
            x = x + self.attn(h, h, h, attn_mask=mask, need_weights=False)[0]
            return x + self.mlp(self.ln2(x))

    def make():
        irgrad.manual_seed(7)
        tok, pos, block = irgrad.nn.Embedding(vocab, width), irgrad.nn.Embedding(length, width), Block()
        head = irgrad.nn.Linear(width, vocab)
        params = [*tok.parameters(), *pos.parameters(), *block.parameters(), *head.parameters()]
        opt = irgrad.optim.SGD(params, lr=0.1, momentum=0.9)
        ids, targets = irgrad.randint(0, vocab, (batch, length)), irgrad.randint(0, vocab, (batch, length))

        def step():
            opt.zero_grad()
            mask = irgrad.triu(irgrad.ones(length, length, dtype=irgrad.bool), diagonal=1)
            x = tok(ids) + pos(irgrad.arange(length))
            loss = F.cross_entropy(head(block(x, mask)).reshape(-1, vocab), targets.reshape(-1))
            loss.backward()
            opt.step()
            return loss.detach()

        return params, step

    assert_trains_as_eager(make, atol=1e-5)


@pytest.mark.parametrize("dtype", [irgrad.float32, irgrad.float64])
@pytest.mark.parametrize("conv, pool", [((3, 1, 1), (2, 2)), ((3, 2, 2), (3, 2)), ((2, 1, 1), (3, 1))])
def test_convolutions_and_max_pooling_train_as_one_native_call(dtype, conv, pool):
    """im2col/col2im and the max-pool kernels as routines around BLAS: overlapping
    pooling windows (kernel 3, stride 2 or 1) add their gradients, dilated convolutions."""
    kernel, stride, dilation = conv

    def make():
        irgrad.manual_seed(8)
        layer = irgrad.nn.Conv2d(2, 3, kernel, stride=stride, dilation=dilation).to(dtype)
        x = irgrad.randn(2, 2, 11, 11, dtype=dtype)
        opt = irgrad.optim.SGD(layer.parameters(), lr=0.1)

        def step():
            opt.zero_grad()
            loss = F.max_pool2d(F.relu(layer(x)), pool[0], stride=pool[1]).square().mean()
            loss.backward()
            opt.step()
            return loss.detach()

        return list(layer.parameters()), step

    compiled = assert_trains_as_eager(make, rtol=1e-5)
    assert "left to numpy" not in compiled.explain()


@pytest.mark.parametrize("dtype", [irgrad.float32, irgrad.float64])
@pytest.mark.parametrize("kernel, stride", [((2, 2), (2, 2)), ((3, 3), (2, 1))])
def test_a_pool_and_its_gradients_positions_are_one_kernel_call(dtype, kernel, stride):
    """``max_pool(x)`` and the ``max_pool_argmax(x, max_pool(x))`` its gradient reads are
    one group with two results, one call of the pool kernel, whose maxima and positions
    are the interpreter's (ties and NaN included) bit for bit."""
    from irgrad.codegen.windows import share_pool_positions
    from irgrad.ir.builder import GraphOps

    g = Graph("pool")
    ops = GraphOps(g)
    x = ops.input("x", (2, 3, 9, 8), dtype)
    attrs = {"kernel": kernel, "stride": stride, "dilation": (1, 1)}
    pooled = ops.max_pool(x, **attrs)
    positions = ops.max_pool_argmax(x, pooled, **attrs)
    g.set_outputs(
        [pooled.id, positions.id, ops.max_pool_scatter(pooled, positions, shape=x.shape, **attrs).id]
    )
    shared = share_pool_positions(g)
    assert [shared.node(n).op for n in shared.order() if shared.node(n).is_op].count("max_pool") == 0
    program = Program(shared)
    assert program.report.segments == 1 and program.report.native_steps == 2  # the pool, the scatter
    data = np.round(np.random.default_rng(0).standard_normal((2, 3, 9, 8)), 1).astype(dtype.np)  # ties
    data[0, 1, 2, 3] = np.nan
    for got, want in zip(run_program(program, [data]), interpret(g, [data])):
        assert got.tobytes() == want.tobytes()


def test_a_code_generator_failure_falls_back_to_numpy_with_a_warning(monkeypatch):
    """A bug in the code generator must not become the user's error: the graph runs with
    the interpreter, and a CodegenWarning (an error in this test suite) says so."""
    from irgrad.codegen import program
    from irgrad.compiler.warnings import CodegenWarning

    def broken(self, graph, write_backs=None):
        raise ZeroDivisionError("injected")

    monkeypatch.setattr(program.Program, "__init__", broken)
    compiled = irgrad.compile(lambda x: (x.exp() * 2.0).sum(), backend="llvm")
    x = irgrad.randn(5)
    with pytest.warns(CodegenWarning, match="code generator failed on graph .*ZeroDivisionError: injected"):
        out = compiled(x)
    np.testing.assert_allclose(out.item(), (x.exp() * 2.0).sum().item(), rtol=1e-6)


@pytest.mark.parametrize("most_sizes", [8, 1])
def test_dynamic_graphs_run_as_one_program_per_size_then_node_by_node(monkeypatch, most_sizes):
    """``dynamic=True``: each distinct batch size gets its own whole-graph program (the
    last, smaller batch of an epoch compiles once more); past MOST_SIZES sizes, the
    node-by-node path; both agree with eager, values and gradients."""
    from irgrad.codegen import sizes
    from irgrad.ir.symbolic import specialize as sizes_specialize

    monkeypatch.setattr(sizes, "MOST_SIZES", most_sizes)
    monkeypatch.setattr(sizes, "MOST_RUN_TIME_PROGRAMS", 0)  # the path of graphs that have none
    specialized = []
    monkeypatch.setattr(
        sizes, "specialize", lambda g, env: specialized.append(env) or sizes_specialize(g, env)
    )
    irgrad.manual_seed(9)
    model = irgrad.nn.Sequential(irgrad.nn.Linear(10, 16), irgrad.nn.Tanh(), irgrad.nn.Linear(16, 3))

    def loss_of(x, y):
        return F.cross_entropy(model(x), y)

    compiled = irgrad.compile(loss_of, dynamic=True, backend="llvm")
    for batch in (4, 7, 4, 9, 7):
        x, y = irgrad.randn(batch, 10), irgrad.randint(0, 3, (batch,))
        got = compiled(x, y)
        got.backward()
        grads = [p.grad.numpy().copy() for p in model.parameters()]
        model.zero_grad()
        expected = loss_of(x, y)
        expected.backward()
        np.testing.assert_allclose(got.item(), expected.item(), rtol=1e-6)
        for g, p in zip(grads, model.parameters()):
            np.testing.assert_allclose(g, p.grad.numpy(), rtol=1e-5, atol=1e-7)
        model.zero_grad()
    assert len(specialized) == 2 * min(3, most_sizes)  # forward and backward, per size (4, 7, 9)
    assert "program(s) for one size each" in assert_graphs_answered(compiled)


def test_a_size_past_the_first_ones_gets_a_program_once_it_is_called_often(monkeypatch):
    """Past MOST_SIZES sizes, a size runs node by node until HOT_CALLS calls at it, then
    as a program of its own; values equal eager's throughout."""
    from irgrad.codegen import sizes
    from irgrad.ir.symbolic import specialize as sizes_specialize

    monkeypatch.setattr(sizes, "MOST_SIZES", 1)
    monkeypatch.setattr(sizes, "HOT_CALLS", 3)
    monkeypatch.setattr(sizes, "MOST_RUN_TIME_PROGRAMS", 0)  # the path of graphs that have none
    specialized = []
    monkeypatch.setattr(
        sizes, "specialize", lambda g, env: specialized.append(dict(env)) or sizes_specialize(g, env)
    )
    compiled = irgrad.compile(lambda x: (x.tanh() * 2.0).sum(dim=1), dynamic=True, backend="llvm")
    built = []
    for batch in (4, 7, 4, 7, 7, 7, 7, 9):
        x = irgrad.randn(batch, 5)
        # (atol: a row's sum of five values near 2 may cancel to near 0)
        want = (x.tanh() * 2.0).sum(dim=1).numpy()
        np.testing.assert_allclose(compiled(x).numpy(), want, rtol=1e-6, atol=1e-6)
        built.append(sorted(next(iter(env.values())) for env in specialized))
    # the first call at each size is traced (eager); then 4 is compiled at its first
    # graph call, and 7 runs node by node twice and is compiled at its third
    assert built == [[], [], [4], [4], [4], [4], [4, 7], [4, 7]]


@settings(max_examples=80, deadline=None)
@given(
    st.sampled_from([np.int64, np.int32, np.uint8, np.float32, np.float64]),
    st.integers(-3, 3),
    st.integers(-2, 6),
    st.booleans(),
    st.sampled_from([None, -100, 2]),
    st.booleans(),
    st.lists(st.integers(-5, 8), min_size=1, max_size=6),
)
def test_native_range_checks_fail_exactly_where_the_kernel_raises(
    dtype, low, span, closed, ignore, nan_ok, values
):
    """``assert_range`` natively: the same values pass and fail as with its kernel (the
    failing call then raises the kernel's error, from the interpreter)."""
    attrs = dict(
        low=low,
        high=low + span,
        error="IndexError",
        message="bad {value}",
        closed=closed,
        ignore=ignore,
        nan_ok=nan_ok,
    )
    data = np.array(values).astype(dtype)
    if data.dtype.kind == "f" and len(values) > 2:
        data[1] = np.nan
    g = Graph("check")
    t = TensorType(data.shape, irgrad.dtypes.from_numpy_dtype(data.dtype))
    x = g.add_input("x", t)
    g.set_outputs([g.add_op("assert_range", [x], attrs, t)])
    program = Program(g)
    assert program.report.segments == 1
    try:
        expected = interpret(g, [data])[0]
    except IndexError as error:
        with pytest.raises(IndexError, match=str(error)):
            program([data])
        assert program.interpreted == 1  # the native check failed: the interpreter raised
        return
    np.testing.assert_array_equal(run_program(program, [data])[0], expected)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 5), min_size=1, max_size=3), st.data(), st.booleans())
def test_gathers_read_the_positions_numpy_reads(shape, data, transposed):
    """``gather`` natively, from a contiguous or a transposed source, against the
    interpreter; exactly the calls with a negative index (which numpy wraps) are handed
    to the interpreter."""
    shape = tuple(shape)
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    index_shape = tuple(
        data.draw(st.integers(1, 4)) if d == dim % len(shape) else data.draw(st.integers(1, n))
        for d, n in enumerate(shape)
    )
    rng = np.random.default_rng(len(shape))
    low = -shape[dim] if data.draw(st.booleans()) else 0
    index = rng.integers(low, shape[dim], index_shape)
    base = rng.standard_normal(shape[::-1] if transposed else shape).astype(np.float32)
    g = Graph("gather")
    x = g.add_input("x", TensorType(base.shape, irgrad.float32))
    source = (
        g.add_op("permute", [x], {"dims": tuple(range(len(shape)))[::-1]}, TensorType(shape, irgrad.float32))
        if transposed
        else x
    )
    i = g.add_input("i", TensorType(index_shape, irgrad.int64))
    g.set_outputs([g.add_op("gather", [source, i], {"dim": dim}, TensorType(index_shape, irgrad.float32))])
    program = Program(g)
    assert program.report.segments == 1
    got = run_program(program, [base, index], interpreted=bool((index < 0).any()))
    np.testing.assert_array_equal(got[0], interpret(g, [base, index])[0])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 5), min_size=1, max_size=3), st.data())
def test_scatter_adds_accumulate_as_numpys_add_at(shape, data):
    """``scatter_add`` natively (the gradient of ``gather``): repeated indices accumulate
    in numpy's order, so the result is bit for bit the interpreter's; exactly the calls
    with a negative index are handed to the interpreter."""
    shape = tuple(shape)
    dim = data.draw(st.integers(0, len(shape) - 1))
    index_shape = tuple(data.draw(st.integers(1, n if d != dim else 6)) for d, n in enumerate(shape))
    rng = np.random.default_rng(len(shape) + dim)
    low = -shape[dim] if data.draw(st.booleans()) else 0
    index = rng.integers(low, shape[dim], index_shape)
    x = rng.standard_normal(shape).astype(np.float32)
    src_shape = tuple(n + data.draw(st.integers(0, 1)) for n in index_shape)
    src = rng.standard_normal(src_shape).astype(np.float32)
    g = Graph("scatter")
    ins = [
        g.add_input(n, TensorType(a.shape, irgrad.dtypes.from_numpy_dtype(a.dtype)))
        for n, a in (("x", x), ("i", index), ("s", src))
    ]
    g.set_outputs([g.add_op("scatter_add", ins, {"dim": dim}, TensorType(shape, irgrad.float32))])
    program = Program(g)
    assert program.report.segments == 1
    got = run_program(program, [x, index, src], interpreted=bool((index < 0).any()))
    np.testing.assert_array_equal(got[0], interpret(g, [x, index, src])[0])


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


@pytest.mark.parametrize("dims", [(0,), (1,), (0, 2), (-1,), ()])
def test_flips_read_from_the_far_end(dims):
    x = irgrad.randn(3, 4, 5)

    def f(x):  # from a permuted (strided) source
        return x.permute(2, 0, 1).flip(dims) * 2.0

    out, expected, explain = _program(f, x)
    np.testing.assert_array_equal(out.numpy(), expected.numpy())
    assert "1 native call per run" in _forward_line(explain) and "left to numpy" not in explain


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 5), min_size=1, max_size=3), st.data(), st.booleans())
def test_rows_picked_by_an_index_array_and_their_gradients(shape, data, negative):
    """``x[:, idx]`` (any dim, any index shape) and its gradient natively, against the
    interpreter (bit for bit: repeated rows accumulate in order), negative indices
    counted from the end as numpy's are."""
    shape = tuple(shape)
    dim = data.draw(st.integers(0, len(shape) - 1))
    index_shape = tuple(data.draw(st.lists(st.integers(1, 4), min_size=1, max_size=2)))
    rng = np.random.default_rng(len(shape) + dim)
    index = rng.integers(-shape[dim] if negative else 0, shape[dim], index_shape)
    x = rng.standard_normal(shape).astype(np.float32)
    spec = (slice(None),) * dim + (Ellipsis,)
    out_shape = shape[:dim] + index_shape + shape[dim + 1 :]
    g = Graph("rows")
    xs = g.add_input("x", TensorType(shape, irgrad.float32))
    ids = g.add_input("i", TensorType(index_shape, irgrad.int64))
    picked = g.add_op("index", [xs, ids], {"spec": spec}, TensorType(out_shape, irgrad.float32))
    scaled = g.add_op("exp", [picked], {}, TensorType(out_shape, irgrad.float32))
    back = g.add_op(
        "index_grad", [scaled, ids], {"shape": shape, "spec": spec}, TensorType(shape, irgrad.float32)
    )
    g.set_outputs([picked, back])
    program = Program(g)
    assert program.report.segments == 1
    outputs = run_program(program, [x, index])
    for got, expected in zip(outputs, interpret(g, [x, index])):
        np.testing.assert_allclose(got, expected, rtol=1e-6)  # exp: the native polynomial


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


def test_an_unused_integer_division_fused_with_its_operand_still_raises():
    """An integer division by zero raises even when nothing reads its value (the op
    ``raises``); fused with a reshape of its operand, the group is effectful too (the
    planner dropped the group: a zero divisor did not raise; found by the fuzzer)."""

    def f(a, b):
        v = a.max(-1)[1]
        _ = v // b
        return a * 2

    compiled = irgrad.compile(f, backend="llvm")
    a = irgrad.tensor([3, 4])
    for _ in range(3):
        np.testing.assert_array_equal(compiled(a, irgrad.tensor([1])).numpy(), [6, 8])
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        f(a, irgrad.tensor([0]))
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        compiled(a, irgrad.tensor([0]))


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
