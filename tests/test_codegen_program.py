"""Whole graphs as native programs: BLAS calls, routines, segments around numpy steps,
the arena, threads, whole training steps as one native call.

Programs are checked against the IR interpreter and against eager irgrad (the view
rules and the layout plan: test_codegen_layout; reductions and scans:
test_codegen_reductions).  No torch needed.
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
from irgrad.ir import Graph, TensorType, interpret
from irgrad.ops.strides import is_contiguous
from irgrad.passes import fuse

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
