"""Loop fusion (irgrad/codegen/loop_fusion.py) and loops with several results
(irgrad/codegen/multi_loops.py): what joins, what must not, and native code against
the interpreter."""

from __future__ import annotations

import numpy as np
import pytest
from graph_calls import run_program
from hypothesis import given, settings
from hypothesis import strategies as st
from ir_random import NATIVE_RTOL, graphs, random_inputs
from optim_cases import elementwise_step

import irgrad
from irgrad.codegen import Program, fuse_reduction_prologues
from irgrad.codegen.loop_fusion import fuse_loops
from irgrad.ir import FUSED, RESULT, Graph, TensorType, interpret, verify
from irgrad.ir.builder import GraphOps
from irgrad.passes import fuse

F32, F64 = irgrad.float32, irgrad.float64


def lowered(g: Graph) -> Graph:
    """``g`` through the llvm backend's fusion passes, loops joined."""
    return verify(fuse_loops(fuse_reduction_prologues(fuse(g))))


def fused_nodes(g: Graph) -> list:
    return [g.node(n) for n in g.order() if g.node(n).op == FUSED]


def graph(inputs: dict, body) -> Graph:
    """A graph of inputs ``{name: (shape, dtype)}`` whose outputs ``body(F, *inputs)`` returns."""
    g = Graph("g")
    F = GraphOps(g)
    outputs = body(F, *[F.input(name, shape, dt) for name, (shape, dt) in inputs.items()])
    g.set_outputs([o.id for o in outputs])
    return verify(g)


def training_step_graph(n: int, dtype=F32) -> Graph:
    """``sum(tanh(x) * sigmoid(x) + 0.5 * x * x)``, its gradient (copied, as ``.grad``
    is) and the SGD update: six loops once fused (W5's step)."""

    def step(F, x, lr):
        t, s, hx = F.tanh(x), F.sigmoid(x), F.mul(0.5, x)
        loss = F.sum(F.add(F.mul(t, s), F.mul(hx, x)), dims=(0,), keepdim=False)
        grad = F.add(
            F.add(F.add(hx, F.mul(x, 0.5)), F.mul(t, F.mul(s, F.sub(1.0, s)))),
            F.mul(s, F.sub(1.0, F.mul(t, t))),
        )
        grad = F.copy(grad)
        new = F.add(x, F.mul(F.cast(F.neg(lr), dtype=dtype), grad))
        return loss, grad, new

    return graph({"x": ((n,), dtype), "lr": ((), F64)}, step)


def test_a_training_step_over_one_space_is_one_loop_with_three_results():
    g = training_step_graph(1000)
    joined = lowered(g)
    (group,) = fused_nodes(joined)
    assert len(group.body.outputs) == 3
    results = [joined.node(n) for n in joined.order() if joined.node(n).op == RESULT]
    assert sorted(r.attrs["index"] for r in results) == [1, 2]
    inputs = [np.random.default_rng(0).standard_normal(1000).astype(np.float32), np.array(0.1)]
    for want, got in zip(interpret(g, inputs), interpret(joined, inputs)):
        np.testing.assert_array_equal(want, got)


@pytest.mark.parametrize("n", [0, 1, 7, 1000, 1 << 19, (1 << 19) + 77])
@pytest.mark.parametrize("dtype", [F32, F64])
def test_the_joined_loop_computes_what_the_interpreter_does(n, dtype):
    g = training_step_graph(n, dtype)
    program = Program(lowered(g))
    assert program.report.native_steps == 1 and program.report.segments == 1
    rng = np.random.default_rng(n)
    inputs = [rng.standard_normal(n).astype(dtype.np), np.array(0.1)]
    expected = interpret(g, inputs)
    for want, got in zip(expected, run_program(program, inputs)):
        np.testing.assert_allclose(got, want, rtol=2e-6, atol=1e-5 * max(1, n) ** 0.5)


def test_a_split_loop_gives_the_same_bits_for_any_number_of_threads():
    g = training_step_graph((1 << 20) + 5)
    program = Program(lowered(g))
    inputs = [np.random.default_rng(1).standard_normal((1 << 20) + 5).astype(np.float32), np.array(0.1)]
    before = irgrad.get_num_threads()
    try:
        answers = []
        for threads in (1, 2, 3):
            irgrad.set_num_threads(threads)
            answers.append(run_program(program, inputs))
    finally:
        irgrad.set_num_threads(before)
    for other in answers[1:]:
        for a, b in zip(answers[0], other):
            np.testing.assert_array_equal(a, b)


REDUCTIONS = [
    ("sum", F32, np.float32),
    ("sum", F64, np.float64),
    ("amax", F32, np.float32),
    ("amin", F64, np.float64),
]


@pytest.mark.parametrize("reduction, dtype, np_dtype", REDUCTIONS)
@pytest.mark.parametrize("shape", [(3, 5), (64, 33), (2, 1, 70000)])
def test_reductions_with_elementwise_results_over_strided_and_broadcast_inputs(
    reduction, dtype, np_dtype, shape
):
    """A transposed input and a broadcast row keep the nest at several dimensions;
    a NaN in the data propagates through maximum and minimum."""
    g = Graph("g")
    transposed = g.add_input("xt", TensorType(tuple(reversed(shape)), dtype))
    row = g.add_input("row", TensorType((shape[-1],), dtype))
    x = g.add_op(
        "permute", [transposed], {"dims": tuple(reversed(range(len(shape))))}, TensorType(shape, dtype)
    )
    e = g.add_op("exp", [x], {}, TensorType(shape, dtype))
    y = g.add_op("mul", [e, row], {}, TensorType(shape, dtype))
    total = g.add_op(
        reduction, [y], {"dims": tuple(range(len(shape))), "keepdim": False}, TensorType((), dtype)
    )
    z = g.add_op("add", [y, x], {}, TensorType(shape, dtype))
    g.set_outputs([total, z, y])
    joined = lowered(g)
    (group,) = fused_nodes(joined)
    assert len(group.body.outputs) == 3
    program = Program(joined)
    rng = np.random.default_rng(0)
    xt = rng.standard_normal(tuple(reversed(shape))).astype(np_dtype)
    if reduction != "sum":
        xt.flat[7] = np.nan
    inputs = [xt, rng.standard_normal(shape[-1]).astype(np_dtype)]
    for want, got in zip(interpret(g, inputs), run_program(program, inputs)):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_a_sum_of_bools_counts_in_int64_beside_elementwise_results():
    def body(F, x):
        positive = F.gt(x, 0.0)
        return F.sum(positive, dims=(0,), keepdim=False), F.mul(F.relu(x), x), positive

    g = graph({"x": ((1000,), F32)}, body)
    joined = lowered(g)
    assert len(fused_nodes(joined)) == 1
    x = np.random.default_rng(3).standard_normal(1000).astype(np.float32)
    for want, got in zip(interpret(g, [x]), run_program(Program(joined), [x])):
        np.testing.assert_array_equal(got, want)


def _joined_groups(inputs: dict, body) -> list[int]:
    """The number of results of each fused node after loop fusion."""
    return [len(n.body.outputs) for n in fused_nodes(lowered(graph(inputs, body)))]


def test_a_loop_reading_a_reduction_result_does_not_join_it():
    # the sum is ready only after the whole loop: e - sum is a loop of its own
    def body(F, x):
        e = F.exp(x)
        s = F.sum(e, dims=(0,), keepdim=True)
        return F.sub(e, s), s

    joined = lowered(graph({"x": ((100,), F32)}, body))
    (group,) = fused_nodes(joined)  # exp and the sum: e is stored, and read again by sub
    assert {group.body.node(n).op for n in group.body.nx.nodes} >= {"exp", "sum"}
    assert "sub" not in {group.body.node(n).op for n in group.body.nx.nodes}
    assert any(joined.node(n).op == "sub" for n in joined.nx.nodes)


def test_a_loop_reading_a_result_through_a_reshape_does_not_join_it():
    def body(F, x):
        e = F.exp(x)
        return F.tanh(F.reshape(e, shape=(6, 4))), F.sin(e)

    assert _joined_groups({"x": ((4, 6), F32)}, body) != [2]


def test_loops_joined_around_a_matmul_would_make_a_cycle():
    # c reads a through a matmul of a: joining a's loop and c's would put the matmul
    # both before and after the joined loop
    def body(F, x):
        a = F.exp(x)
        return F.mul(F.matmul(a, x), a), F.tanh(a)

    for node in fused_nodes(lowered(graph({"x": ((8, 8), F32)}, body))):
        ops = {node.body.node(n).op for n in node.body.nx.nodes}
        assert not {"exp", "mul"} <= ops


def test_loops_over_different_spaces_stay_apart():
    def body(F, x, y):
        a = F.exp(x)
        return a, F.sin(a), F.exp(y)

    assert _joined_groups({"x": ((8,), F32), "y": ((9,), F32)}, body) == [2]


def test_a_group_left_to_numpy_still_gives_every_result():
    def body(F, a, b):
        q = F.floor_divide(a, b)
        return F.add(q, a), F.mul(q, b)

    g = graph({"a": ((6,), irgrad.int64), "b": ((6,), irgrad.int64)}, body)
    joined = lowered(g)
    assert [len(n.body.outputs) for n in fused_nodes(joined)] == [2]
    program = Program(joined)
    assert program.report.numpy_nodes and "integer division" in program.report.numpy_nodes[0]
    inputs = [np.arange(6), np.array([1, 2, 3, 1, 2, 3])]
    for want, got in zip(interpret(g, inputs), program(inputs)):
        np.testing.assert_array_equal(got, want)


@settings(max_examples=120, deadline=None)
@given(graphs(), st.integers(0, 2**32 - 1))
def test_random_graphs_keep_their_values_and_run_natively(g, seed):
    joined = lowered(g)
    inputs = random_inputs(g, np.random.default_rng(seed))
    expected = interpret(g, inputs)
    for want, got in zip(expected, interpret(joined, inputs)):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
    for want, got in zip(expected, Program(joined)(inputs)):
        np.testing.assert_allclose(np.asarray(got), want, rtol=NATIVE_RTOL, atol=1e-6)


def test_a_compiled_training_step_is_one_loop_that_trains_as_eager():
    x, step = elementwise_step(4099, lr=0.05, momentum=0.9)
    eager_x, eager_step = elementwise_step(4099, lr=0.05, momentum=0.9)
    compiled = irgrad.compile(step)
    for _ in range(6):
        assert compiled().item() == pytest.approx(eager_step().item(), rel=1e-5)
    np.testing.assert_allclose(x.detach().numpy(), eager_x.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(x.grad.numpy(), eager_x.grad.numpy(), rtol=1e-5, atol=1e-6)
    text = compiled._compiled.explain()
    assert "1 native steps in 1 native call per run" in text
    assert "2 updates written in place" in text  # the parameter and its momentum buffer


def test_a_loop_only_a_run_reads_joins_the_run():
    """A value two joined loops read, whose loop ran earlier (an LSTM's backward
    recomputing its gates' sigmoids): its loop joins theirs, so it is computed in
    registers; one also read outside the run, or through a reshape, stays apart."""
    from irgrad.codegen.loop_fusion import _absorb_producers, _contract, loop_space

    def body(F, x, y):
        s = F.sigmoid(x)  # read by the run only: absorbed
        shared = F.tanh(x)  # read by the run and returned: stays apart
        flat = F.exp(F.reshape(y, shape=(16, 8)))  # read through a reshape: stays apart
        u = F.mul(s, F.add(shared, F.reshape(flat, shape=(8, 16))))
        v = F.sub(s, y)
        return F.add(u, v), shared

    g = graph({"x": ((8, 16), F32), "y": ((8, 16), F32)}, body)
    order = {n: k for k, n in enumerate(g.order())}
    ops = {g.node(n).op: n for n in g.nx.nodes}
    spaces = {n: sp for n in g.nx.nodes if (sp := loop_space(g, n)) is not None}
    run = [ops["mul"], ops["sub"], ops["add"]]
    _absorb_producers(g, run, spaces, set(run), order)
    assert ops["sigmoid"] in run and ops["tanh"] not in run and ops["exp"] not in run
    assert run == sorted(run, key=order.__getitem__)
    joined = g.copy()
    _contract(joined, run, (8, 16), "joined")
    verify(joined)
    inputs = [np.random.default_rng(5).standard_normal((8, 16)).astype(np.float32) for _ in range(2)]
    for want, got in zip(interpret(g, inputs), interpret(joined, inputs)):
        np.testing.assert_array_equal(got, want)


# --- found by review: numpy runs of joined groups, pool pairs of other dtypes, float16 ----


def test_a_group_run_by_numpy_returns_arrays_of_its_own():
    """Joining turns a ``copy`` into its argument: a body may return its input, a constant
    or one value twice.  Run with numpy, each result is still an array of its own."""
    from irgrad.ir.interpreter import body_kernel

    body = Graph("body")
    F = GraphOps(body)
    a = F.input("a", (4,), irgrad.float32)
    e = F.exp(a)
    body.set_outputs([e.id, a.id, e.id, F.constant(np.float32(2.0)).id, F.reshape(a, shape=(2, 2)).id])
    x = np.arange(4, dtype=np.float32)
    results = body_kernel(body, every_result=True)(x)
    arrays = [x] + results
    for i, u in enumerate(arrays):
        for v in arrays[i + 1 :]:
            assert not np.shares_memory(u, v)
    np.testing.assert_array_equal(results[1], x)


def test_a_pool_pair_of_integers_runs_with_numpy_and_says_why():
    from irgrad.codegen.windows import share_pool_positions

    g = Graph("pool")
    F = GraphOps(g)
    x = F.input("x", (1, 2, 6, 6), irgrad.int32)
    attrs = {"kernel": (2, 2), "stride": (2, 2), "dilation": (1, 1)}
    pooled = F.max_pool(x, **attrs)
    g.set_outputs([pooled.id, F.max_pool_argmax(x, pooled, **attrs).id])
    data = np.random.default_rng(0).integers(-50, 50, (1, 2, 6, 6)).astype(np.int32)
    program = Program(verify(share_pool_positions(g)))
    for got, want in zip(program([data]), interpret(g, [data])):
        np.testing.assert_array_equal(got, want)
    assert any("max_pool of int32" in reason for reason in program.report.numpy_nodes)


def test_a_loop_without_native_code_stays_apart():
    """A float16 loop joined with float32 ones would take them to numpy with it."""

    g = Graph("g")
    F = GraphOps(g)
    x = F.input("x", (1000,), irgrad.float32)
    a = F.tanh(F.exp(x))
    s = F.sum(F.mul(F.exp(x), x), dims=(0,), keepdim=False)
    h = F.cast(F.sin(x), dtype=irgrad.float16)
    g.set_outputs([a.id, s.id, h.id])
    joined = fuse_loops(fuse_reduction_prologues(fuse(verify(g))))
    numpy_nodes = Program(joined).report.numpy_nodes
    assert len(numpy_nodes) == 1 and "float16" in numpy_nodes[0]
    assert sum(node.op == FUSED and len(node.body.outputs) > 1 for node in joined.op_nodes()) == 1


def test_verify_rejects_two_result_nodes_of_one_index():
    """The planner and the interpreter keep one node per later result: a second would be
    silently left without a value."""
    from irgrad.ir.verifier import VerificationError

    joined = lowered(training_step_graph(8))
    (group,) = fused_nodes(joined)
    (first,) = [n for n in joined.users(group.id) if joined.node(n).attrs.get("index") == 1]
    twin = joined.add_op(RESULT, [group.id], {"index": 1}, joined.node(first).type)
    joined.set_outputs(joined.outputs + [twin])
    with pytest.raises(VerificationError, match="another result node takes the group's result 1"):
        verify(joined)
