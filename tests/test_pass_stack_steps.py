"""Per-step work joined by a cat, done once (passes/stack_steps.py and the ops' stack
rules in ops/stacking.py): each rule against the interpreter, what must stay per step,
random per-step programs unchanged in value, and a compiled cell loop whose native
program no longer grows with the number of steps."""

from __future__ import annotations

import textwrap

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from ir_random import random_inputs

import irgrad
from irgrad.ir import Graph, interpret, parse_graph, verify
from irgrad.ir.builder import GraphOps
from irgrad.passes.stack_steps import stack_steps


def _graph(text: str) -> Graph:
    return verify(parse_graph(textwrap.dedent(text).strip()))


def _ops(graph: Graph) -> list[str]:
    return [n.op for n in graph.op_nodes()]


def _same_values(before: Graph, after: Graph, rtol: float = 0.0) -> None:
    inputs = random_inputs(before, 0)
    for want, got in zip(interpret(before, inputs), interpret(after, inputs)):
        assert got.shape == want.shape and got.dtype == want.dtype
        np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol)


PROJECTIONS = """
    graph f(%x: f32[4,3,5], %w: f32[5,6], %b: f32[6]) -> (f32[3,4,6])
      %0: f32[4,6] = broadcast_to(%b, shape=(4, 6))
      %1: f32[4,5] = slice(%x, index=(slice(0, 4, 1), 0, slice(0, 5, 1)))
      %2: f32[4,6] = matmul(%1, %w)
      %3: f32[4,6] = add(%2, %0)
      %4: f32[1,4,6] = reshape(%3, shape=(1, 4, 6))
      %5: f32[4,5] = slice(%x, index=(slice(0, 4, 1), 1, slice(0, 5, 1)))
      %6: f32[4,6] = matmul(%5, %w)
      %7: f32[4,6] = add(%6, %0)
      %8: f32[1,4,6] = reshape(%7, shape=(1, 4, 6))
      %9: f32[4,5] = slice(%x, index=(slice(0, 4, 1), 2, slice(0, 5, 1)))
      %10: f32[4,6] = matmul(%9, %w)
      %11: f32[4,6] = add(%10, %0)
      %12: f32[1,4,6] = reshape(%11, shape=(1, 4, 6))
      %13: f32[3,4,6] = cat(%4, %8, %12, dim=0)
      return %13
"""


def test_a_loops_per_step_input_projections_are_one_product():
    # the roll pass's cat of an LSTMCell loop's x[:, t] @ W_ih.T + b
    before = _graph(PROJECTIONS)
    after = verify(stack_steps(before))
    ops = _ops(after)
    assert ops.count("matmul") == 1 and "cat" not in ops
    product = next(n for n in after.op_nodes() if n.op == "matmul")
    assert after.node(after.args(product.id)[0]).type.shape == (12, 5)
    _same_values(before, after, rtol=1e-6)
    assert str(before) == textwrap.dedent(PROJECTIONS).strip(), "the pass mutated its argument"


RANGES = """
    graph f(%x: f32[2,9], %y: f32[9,2]) -> (f32[2,6], f32[4,2], f32[2,6])
      %0: f32[2,3] = slice(%x, index=(slice(None, None, None), slice(0, 3, 1)))
      %1: f32[2,3] = slice(%x, index=(slice(None, None, None), slice(3, 6, 1)))
      %2: f32[2,6] = cat(%0, %1, dim=1)
      %3: f32[2,2] = slice(%y, index=(slice(4, 6, 1),))
      %4: f32[2,2] = slice(%y, index=(slice(2, 4, 1),))
      %5: f32[4,2] = cat(%3, %4, dim=0)
      %6: f32[2,3] = slice(%x, index=(slice(None, None, None), slice(0, 3, 1)))
      %7: f32[2,3] = slice(%x, index=(slice(None, None, None), slice(6, 9, 1)))
      %8: f32[2,6] = cat(%6, %7, dim=1)
      return %2, %5, %8
"""


def test_consecutive_ranges_are_one_slice_and_others_stay_concatenated():
    before = _graph(RANGES)
    after = verify(stack_steps(before))
    assert _ops(after).count("cat") == 2  # descending ranges, and a gap, keep their cat
    assert after.node(after.outputs[0]).op == "slice"
    _same_values(before, after)


UNIT_RANGES = """
    graph f(%x: f32[2,3,4]) -> (f32[2,1,12], f32[6,1,4])
      %0: f32[2,1,4] = slice(%x, index=(slice(0, 2, 1), slice(0, 1, 1)))
      %1: f32[2,1,4] = slice(%x, index=(slice(0, 2, 1), slice(1, 2, 1)))
      %2: f32[2,1,4] = slice(%x, index=(slice(0, 2, 1), slice(2, 3, 1)))
      %3: f32[2,1,12] = cat(%0, %1, %2, dim=2)
      %4: f32[6,1,4] = cat(%0, %1, %2, dim=0)
      return %3, %4
"""


def test_steps_of_one_element_along_another_dim_are_one_slice():
    # x[:, t:t+1] for each t, joined along a dim after the one t moves in, and before it
    before = _graph(UNIT_RANGES)
    after = verify(stack_steps(before))
    assert "cat" not in _ops(after)
    _same_values(before, after)


SHARED = """
    graph f(%x: f32[2,3,4], %w: f32[4,4], %v: f32[2,4]) -> (f32[4,4], f32[2,4], f32[8,2])
      %0: f32[2,4] = slice(%x, index=(slice(0, 2, 1), 0))
      %1: f32[2,4] = matmul(%0, %w)
      %2: f32[2,4] = slice(%x, index=(slice(0, 2, 1), 1))
      %3: f32[2,4] = matmul(%2, %w)
      %4: f32[4,4] = cat(%1, %3, dim=0)
      %5: f32[2,4] = add(%1, %v)
      %6: f32[4,2] = permute(%0, dims=(1, 0))
      %7: f32[4,2] = permute(%2, dims=(1, 0))
      %8: f32[8,2] = cat(%6, %7, dim=0)
      return %4, %5, %8
"""


def test_work_used_elsewhere_is_not_done_twice():
    # the first step's product also feeds an add: the products stay per step; the
    # permutes join (a view costs nothing to repeat) although their slices have other uses
    before = _graph(SHARED)
    after = verify(stack_steps(before))
    assert _ops(after).count("matmul") == 2 and _ops(after).count("cat") == 1
    assert after.node(after.outputs[2]).op != "cat"
    _same_values(before, after)


UNALIKE = """
    graph f(%a: f32[2,8], %b: f32[2,16]) -> (f32[4,4])
      %0: f32[8,2] = permute(%a, dims=(1, 0))
      %1: f32[4,2] = slice(%0, index=(slice(0, 4, 1),))
      %2: f32[16,2] = permute(%b, dims=(1, 0))
      %3: f32[4,2] = slice(%2, index=(slice(0, 4, 1),))
      %4: f32[4,4] = cat(%1, %3, dim=1)
      return %4
"""


def test_steps_whose_arguments_differ_in_shape_stay_apart():
    # two slices alike of values of two shapes (a second derivative through nn.LSTM)
    before = _graph(UNALIKE)
    after = verify(stack_steps(before))
    assert _ops(after).count("cat") == 1
    _same_values(before, after)


# --- random per-step programs ------------------------------------------------------------------------


@st.composite
def loops(draw):
    """A source ``x: [B, T, F]`` read one step at a time (``x[:, t]``), each step's value
    put through the same random chain of ops with shared operands, the steps' results
    concatenated (or stacked) along a random dim."""
    batch, steps, features = draw(st.integers(1, 3)), draw(st.integers(2, 4)), draw(st.integers(1, 4))
    chain = draw(
        st.lists(
            st.sampled_from(["mul", "add_row", "tanh", "matmul", "permute", "linear", "broadcast"]),
            max_size=4,
        )
    )
    stacked = draw(st.sampled_from([None, 0, 1, 2]))  # where a new dim stacks the steps
    unit_range = draw(st.booleans())  # x[:, t:t+1] reshaped, rather than x[:, t]
    g = Graph("loop")
    F = GraphOps(g)
    x = F.input("x", (batch, steps, features), irgrad.float64)
    shared = {}

    def operand(name: str, shape: tuple):
        if name not in shared:
            shared[name] = F.input(name, shape, irgrad.float64)
        return shared[name]

    results = []
    for t in range(steps):
        if unit_range:
            v = F.slice(x, index=(slice(0, batch, 1), slice(t, t + 1, 1), slice(0, features, 1)))
            v = F.reshape(v, shape=(batch, features))
        else:
            v = F.slice(x, index=(slice(0, batch, 1), t, slice(0, features, 1)))
        for k, op in enumerate(chain):
            rows, cols = v.shape
            if op == "mul":
                v = F.mul(v, operand(f"m{k}", (rows, cols)))
            elif op == "add_row":
                v = F.add(v, operand(f"r{k}", (cols,)))
            elif op == "tanh":
                v = F.tanh(v)
            elif op == "matmul":
                v = F.matmul(v, operand(f"w{k}", (cols, 3)))
            elif op == "permute":
                v = F.permute(v, dims=(1, 0))
            elif op == "linear":
                v = F.linear(v, operand(f"l{k}", (2, cols)), operand(f"lb{k}", (2,)))
            else:
                v = F.add(v, F.broadcast_to(operand(f"b{k}", (1, cols)), shape=(rows, cols)))
        if stacked is not None:
            v = F.reshape(v, shape=v.shape[:stacked] + (1,) + v.shape[stacked:])
        results.append(v)
    dim = stacked if stacked is not None else draw(st.integers(0, 1))
    g.set_outputs([F.cat(*results, dim=dim).id])
    # the cat sinks all the way to x where it stacks rows that every op keeps rows (no
    # permute), and no operand has a row per step (mul's; a 1-row step repeats a broadcast)
    sinks = stacked is not None and batch > 1 and not {"mul", "permute"} & set(chain)
    return verify(g), sinks


@settings(max_examples=150, deadline=None)
@given(loops())
def test_random_per_step_programs_keep_their_values(case):
    graph, sinks = case
    after = verify(stack_steps(graph))
    assert after.node(after.outputs[0]).type == graph.node(graph.outputs[0]).type
    _same_values(graph, after, rtol=1e-12)
    if sinks:
        assert "cat" not in _ops(after), after


# --- a compiled cell loop ------------------------------------------------------------------------------


def _native_steps(steps: int) -> int:
    irgrad.manual_seed(0)
    cell, head = irgrad.nn.LSTMCell(5, 8), irgrad.nn.Linear(8, 3)
    params = [*cell.parameters(), *head.parameters()]
    opt = irgrad.optim.SGD(params, lr=0.1)

    @irgrad.compile(backend="llvm")
    def step(x, y):
        opt.zero_grad()
        h = c = irgrad.zeros(x.shape[0], 8)
        for t in range(x.shape[1]):
            h, c = cell(x[:, t], (h, c))
        loss = irgrad.nn.functional.cross_entropy(head(h), y)
        loss.backward()
        opt.step()
        return loss.detach()

    x, y = irgrad.randn(4, steps, 5), irgrad.randint(0, 3, (4,))
    for _ in range(3):  # the first call traces, the second retraces with .grad tensors
        step(x, y)
    (entry,) = [e for e in step._compiled.entries if e.runs]
    return entry.built.reports["forward"].kernels


def test_a_compiled_cell_loops_native_program_does_not_grow_with_its_steps():
    assert _native_steps(3) == _native_steps(9)
