"""Autodiff's identities (detach, rebind) read through (irgrad/passes/value_identities.py)."""

from __future__ import annotations

import textwrap

import numpy as np
from ir_random import random_inputs

from irgrad.ir import interpret, parse_graph, verify
from irgrad.passes.value_identities import read_through_identities

GRAPH = """
    graph f(%x: f32[4], %w: f32[4], %u: f32[4]) -> (f32[4], f32[4], f32[4])
      %0: f32[4] = exp(%x)
      %1: f32[4] = detach(%0)
      %2: f32[4] = detach(%1)
      %3: f32[4] = mul(%2, %0)
      %4: f32[4] = neg(%u)
      %5: f32[4] = rebind(%3, %4)
      %6: f32[4] = add(%w, %5)
      %7: f32[4] = rebind(%6, %w)
      %8: f32[4] = detach(%x)
      return %7, %8, %1
"""


def test_every_identity_is_read_through_and_the_values_stay():
    before = verify(parse_graph(textwrap.dedent(GRAPH).strip()))
    after = verify(read_through_identities(before))
    ops = [n.op for n in after.op_nodes()]
    assert ops == ["exp", "mul", "add"]  # neg only fed a rebind's gradient side: pruned
    assert after.outputs[1] == after.inputs[0]  # an output that was detach(x) is x
    inputs = random_inputs(before, 0)
    for want, got in zip(interpret(before, inputs), interpret(after, inputs)):
        np.testing.assert_array_equal(got, want)


def test_a_graph_without_identities_is_returned_as_it_is():
    graph = verify(parse_graph("graph g(%x: f32[2]) -> (f32[2])\n  %0: f32[2] = exp(%x)\n  return %0"))
    assert read_through_identities(graph) is graph
