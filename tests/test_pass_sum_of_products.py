"""Sums of matrix products merged into one product (passes/sum_of_products.py): what
merges and what must not, values against the interpreter, random graphs unchanged in
value, and a compiled LSTM step against eager."""

from __future__ import annotations

import textwrap

import numpy as np
from graph_calls import assert_trains_as_eager
from hypothesis import given, settings
from ir_random import graphs, random_inputs

import irgrad
from irgrad.ir import interpret, parse_graph, verify
from irgrad.passes.sum_of_products import merge_sums_of_products


def _graph(text: str):
    return verify(parse_graph(textwrap.dedent(text).strip()))


def _ops(graph) -> list[str]:
    return [n.op for n in graph.op_nodes()]


def _same_values(before, after, seed: int = 0, rtol: float = 1e-5) -> None:
    inputs = random_inputs(before, seed)
    for want, got in zip(interpret(before, inputs), interpret(after, inputs)):
        np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol)


WEIGHT_GRADIENT = """
    graph f(%h0: f32[4,3], %h1: f32[4,3], %h2: f32[4,3], %g0: f32[4,5], %g1: f32[4,5], %g2: f32[4,5]) -> (f32[3,5])
      %0: f32[3,4] = permute(%h0, dims=(1, 0))
      %1: f32[3,5] = matmul(%0, %g0)
      %2: f32[3,4] = permute(%h1, dims=(1, 0))
      %3: f32[3,5] = matmul(%2, %g1)
      %4: f32[3,5] = add(%1, %3)
      %5: f32[3,4] = permute(%h2, dims=(1, 0))
      %6: f32[3,5] = matmul(%5, %g2)
      %7: f32[3,5] = add(%4, %6)
      return %7
"""


def test_a_weight_gradient_over_time_steps_is_one_product():
    before = _graph(WEIGHT_GRADIENT)
    after = verify(merge_sums_of_products(before))
    assert _ops(after).count("matmul") == 1 and "add" not in _ops(after)
    assert _ops(after).count("cat") == 2
    product = next(n for n in after.op_nodes() if n.op == "matmul")
    assert [after.node(a).type.shape for a in after.args(product.id)] == [(3, 12), (12, 5)]
    _same_values(before, after)
    assert str(before) == textwrap.dedent(WEIGHT_GRADIENT).strip(), "the pass mutated its argument"


TRANSPOSED_WEIGHT_GRADIENT = """
    graph f(%h0: f32[4,3], %h1: f32[4,3], %g0: f32[4,5], %g1: f32[4,5], %a: f32[5,2], %b: f32[2,3], %e: f32[5,3]) -> (f32[5,3])
      %0: f32[3,4] = permute(%h0, dims=(1, 0))
      %1: f32[3,5] = matmul(%0, %g0)
      %2: f32[5,3] = permute(%1, dims=(1, 0))
      %3: f32[3,4] = permute(%h1, dims=(1, 0))
      %4: f32[3,5] = matmul(%3, %g1)
      %5: f32[5,3] = permute(%4, dims=(1, 0))
      %6: f32[5,3] = add(%2, %5)
      %7: f32[5,3] = matmul(%a, %b)
      %8: f32[5,3] = add(%6, %7)
      %9: f32[5,3] = add(%8, %e)
      return %9
"""


def test_transposed_products_merge_as_the_transpose_of_one_product():
    # the gradient of ``h @ W.T`` with respect to W, summed over a cell's steps
    before = _graph(TRANSPOSED_WEIGHT_GRADIENT)
    after = verify(merge_sums_of_products(before))
    ops = _ops(after)
    assert ops.count("matmul") == 2 and ops.count("cat") == 2 and ops.count("add") == 2
    product = next(n for n in after.op_nodes() if n.op == "matmul" and n.type.shape == (3, 5))
    assert [after.node(a).type.shape for a in after.args(product.id)] == [(3, 8), (8, 5)]
    _same_values(before, after)


def test_sums_that_concatenate_the_same_operands_share_one_concatenation():
    # a cell called step by step: x_t @ W_ih.T + h_t @ W_hh.T at every step
    before = _graph("""
        graph f(%x0: f32[2,3], %x1: f32[2,3], %h0: f32[2,4], %h1: f32[2,4], %wi: f32[3,6], %wh: f32[4,6]) -> (f32[2,6], f32[2,6])
          %0: f32[2,6] = matmul(%x0, %wi)
          %1: f32[2,6] = matmul(%h0, %wh)
          %2: f32[2,6] = add(%0, %1)
          %3: f32[2,6] = matmul(%x1, %wi)
          %4: f32[2,6] = matmul(%h1, %wh)
          %5: f32[2,6] = add(%3, %4)
          return %2, %5
    """)
    after = verify(merge_sums_of_products(before))
    cats = [n for n in after.op_nodes() if n.op == "cat"]
    assert len(cats) == 3 and sum(1 for c in cats if after.node(c.id).type.shape == (7, 6)) == 1
    _same_values(before, after)


def test_other_terms_stay_added_to_the_product():
    before = _graph("""
        graph f(%a: f32[2,3], %b: f32[3,4], %c: f32[2,3], %d: f32[3,4], %e: f32[2,4]) -> (f32[2,4])
          %0: f32[2,4] = matmul(%a, %b)
          %1: f32[2,4] = add(%0, %e)
          %2: f32[2,4] = matmul(%c, %d)
          %3: f32[2,4] = add(%1, %2)
          return %3
    """)
    after = verify(merge_sums_of_products(before))
    assert _ops(after).count("matmul") == 1 and _ops(after).count("add") == 1
    _same_values(before, after)


def test_what_must_not_merge():
    cases = {
        # a product used elsewhere too: merging would compute it twice
        "shared": """
            graph f(%a: f32[2,3], %b: f32[3,4], %c: f32[2,3], %d: f32[3,4]) -> (f32[2,4], f32[2,4])
              %0: f32[2,4] = matmul(%a, %b)
              %1: f32[2,4] = matmul(%c, %d)
              %2: f32[2,4] = add(%0, %1)
              return %2, %0
        """,
        # a broadcasting add: the terms have other shapes
        "broadcast": """
            graph f(%a: f32[2,3], %b: f32[3,4], %c: f32[1,3], %d: f32[3,4]) -> (f32[2,4])
              %0: f32[2,4] = matmul(%a, %b)
              %1: f32[1,4] = matmul(%c, %d)
              %2: f32[2,4] = add(%0, %1)
              return %2
        """,
        # batched products
        "batched": """
            graph f(%a: f32[5,2,3], %b: f32[5,3,4], %c: f32[5,2,3], %d: f32[5,3,4]) -> (f32[5,2,4])
              %0: f32[5,2,4] = matmul(%a, %b)
              %1: f32[5,2,4] = matmul(%c, %d)
              %2: f32[5,2,4] = add(%0, %1)
              return %2
        """,
        # an alpha-scaled add is not a sum
        "alpha": """
            graph f(%a: f32[2,3], %b: f32[3,4], %c: f32[2,3], %d: f32[3,4]) -> (f32[2,4])
              %0: f32[2,4] = matmul(%a, %b)
              %1: f32[2,4] = matmul(%c, %d)
              %2: f32[2,4] = add(%0, %1, alpha=2.0)
              return %2
        """,
    }
    for name, text in cases.items():
        before = _graph(text)
        after = merge_sums_of_products(before)
        assert str(after) == str(before), name


@settings(max_examples=60, deadline=None)
@given(graphs())
def test_random_graphs_keep_their_values(graph):
    after = verify(merge_sums_of_products(graph))
    inputs = random_inputs(graph, 1)
    for want, got in zip(interpret(graph, inputs), interpret(after, inputs)):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5, equal_nan=True)


def test_a_compiled_lstm_step_trains_as_eager_with_one_weight_gradient_product():
    def make():
        irgrad.manual_seed(7)
        lstm, head = irgrad.nn.LSTM(5, 12, batch_first=True), irgrad.nn.Linear(12, 3)
        params = list(lstm.parameters()) + list(head.parameters())
        opt = irgrad.optim.SGD(params, lr=0.05)
        x, y = irgrad.randn(4, 9, 5), irgrad.randint(0, 3, (4,))

        def step():
            opt.zero_grad()
            _, (h, _) = lstm(x)
            loss = irgrad.nn.functional.cross_entropy(head(h[-1]), y)
            loss.backward()
            opt.step()
            return loss

        return params, step

    assert_trains_as_eager(make, steps=5)


BIAS_GRADIENT = """
    graph f(%g: f32[3,4,5], %h: f32[4,5], %e: f32[5]) -> (f32[5])
      %0: f32[1,4,5] = slice(%g, index=(slice(0, 1, 1),))
      %1: f32[4,5] = reshape(%0, shape=(4, 5))
      %2: f32[1,5] = sum(%1, dims=(0,), keepdim=True)
      %3: f32[5] = reshape(%2, shape=(5,))
      %4: f32[1,4,5] = slice(%g, index=(slice(1, 2, 1),))
      %5: f32[4,5] = reshape(%4, shape=(4, 5))
      %6: f32[1,5] = sum(%5, dims=(0,), keepdim=True)
      %7: f32[5] = reshape(%6, shape=(5,))
      %8: f32[5] = add(%3, %7)
      %9: f32[1,5] = sum(%h, dims=(0,), keepdim=True)
      %10: f32[5] = reshape(%9, shape=(5,))
      %11: f32[5] = add(%8, %10)
      %12: f32[5] = add(%11, %e)
      return %12
"""


def test_a_bias_gradient_over_time_steps_is_one_reduction():
    # a cell's bias gradient: each step's rows (views of the scan's gradients) summed,
    # then added up over the steps; the sum of an unrelated value stays its own
    before = _graph(BIAS_GRADIENT)
    after = verify(merge_sums_of_products(before))
    ops = _ops(after)
    assert ops.count("sum") == 2 and ops.count("add") == 2 and ops.count("cat") == 1
    joined = next(
        n for n in after.op_nodes() if n.op == "sum" and after.node(after.args(n.id)[0]).op == "cat"
    )
    assert after.node(after.args(joined.id)[0]).type.shape == (8, 5)
    _same_values(before, after)


PLACED_PIECES = """
    graph f(%a: f32[8], %b: f32[8], %c: f32[8], %d: f32[16]) -> (f32[24])
      %0: f32[24] = slice_grad(%a, shape=(24,), index=(slice(16, 24, 1),))
      %1: f32[24] = slice_grad(%b, shape=(24,), index=(slice(16, 24, 1),))
      %2: f32[24] = add(%0, %1)
      %3: f32[24] = slice_grad(%d, shape=(24,), index=(slice(0, 16, 1),))
      %4: f32[24] = add(%2, %3)
      %5: f32[24] = slice_grad(%c, shape=(24,), index=(slice(16, 24, 1),))
      %6: f32[24] = add(%4, %5)
      return %6
"""


def test_pieces_put_in_one_place_are_added_before_they_are_placed():
    # a GRU cell loop's bias gradient puts each step's piece in place, then adds: the
    # pieces are added first (exactly: the zeros around them add up to zeros)
    before = _graph(PLACED_PIECES)
    after = verify(merge_sums_of_products(before))
    assert _ops(after).count("slice_grad") == 2 and _ops(after).count("add") == 3
    inputs = random_inputs(before, 0)
    assert [a.tobytes() for a in interpret(after, inputs)] == [a.tobytes() for a in interpret(before, inputs)]


SHARED_ROW_SUMS = """
    graph f(%g: f32[3,4,24], %x: f32[24]) -> (f32[24], f32[24])
      %0: f32[1,4,24] = slice(%g, index=(slice(0, 1, 1),))
      %1: f32[4,24] = reshape(%0, shape=(4, 24))
      %2: f32[1,24] = sum(%1, dims=(0,), keepdim=True)
      %3: f32[24] = reshape(%2, shape=(24,))
      %4: f32[16] = slice(%3, index=(slice(0, 16, 1),))
      %5: f32[24] = slice_grad(%4, shape=(24,), index=(slice(0, 16, 1),))
      %6: f32[1,4,24] = slice(%g, index=(slice(1, 2, 1),))
      %7: f32[4,24] = reshape(%6, shape=(4, 24))
      %8: f32[1,24] = sum(%7, dims=(0,), keepdim=True)
      %9: f32[24] = reshape(%8, shape=(24,))
      %10: f32[16] = slice(%9, index=(slice(0, 16, 1),))
      %11: f32[24] = slice_grad(%10, shape=(24,), index=(slice(0, 16, 1),))
      %12: f32[1,4,24] = slice(%g, index=(slice(2, 3, 1),))
      %13: f32[4,24] = reshape(%12, shape=(4, 24))
      %14: f32[1,24] = sum(%13, dims=(0,), keepdim=True)
      %15: f32[24] = reshape(%14, shape=(24,))
      %16: f32[16] = slice(%15, index=(slice(0, 16, 1),))
      %17: f32[24] = slice_grad(%16, shape=(24,), index=(slice(0, 16, 1),))
      %18: f32[24] = add(%3, %9)
      %19: f32[24] = add(%18, %15)
      %20: f32[24] = add(%5, %11)
      %21: f32[24] = add(%20, %17)
      %22: f32[24] = add(%21, %x)
      return %19, %22
"""


def test_row_sums_that_feed_two_sums_merge_into_one_reduction():
    # a GRU cell loop's biases: each step's row sum is added up for one bias's gradient,
    # and its first 16 entries, put in place, for the other's; both become slices of one
    # reduction over all the steps, so nothing is left per step
    before = _graph(SHARED_ROW_SUMS)
    after = verify(merge_sums_of_products(before))
    ops = _ops(after)
    assert ops.count("sum") == 1 and ops.count("slice_grad") == 1
    reduced = next(n for n in after.op_nodes() if n.op == "sum")
    assert after.node(after.args(reduced.id)[0]).type.shape == (12, 24)
    _same_values(before, after)


def test_a_row_sum_with_another_use_is_not_reduced_again():
    # a step's row sum that is also a result stays a term of its own: merged, its rows
    # would be read a second time; the other steps' row sums still merge
    text = SHARED_ROW_SUMS.replace("-> (f32[24], f32[24])", "-> (f32[24], f32[24], f32[24])")
    before = _graph(text.replace("return %19, %22", "return %19, %22, %9"))
    after = verify(merge_sums_of_products(before))
    sums = [n for n in after.op_nodes() if n.op == "sum"]
    assert sorted(after.node(after.args(n.id)[0]).type.shape for n in sums) == [(4, 24), (8, 24)]
    _same_values(before, after)
