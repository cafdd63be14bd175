"""passes/roll_scans.py: a Python loop over a recurrent cell, compiled, is one scan.

Traced, each call of nn.LSTMCell / GRUCell / RNNCell records a scan of one step; the
pass joins a chain of them (each starting from the state the one before ended in) into
one scan, and a traced training step's per-step gradient ops into one.  Every test
trains compiled against eager (float64, several calls, every parameter compared) and
checks what the graph holds: one scan and one gradient op where the steps form a chain,
the steps kept apart where they do not (a step's input computed from an earlier state,
a state detached or changed between steps).  Random loops mix all of these."""

from __future__ import annotations

import numpy as np
import pytest
from test_compile_cell_loops import assert_trains_as_eager

import irgrad
from irgrad import nn
from irgrad.ir.interpreter import node_values
from irgrad.passes.cse import cse
from irgrad.passes.roll_scans import roll_scans

CELLS = {
    "lstm": lambda i, h: nn.LSTMCell(i, h),
    "gru": lambda i, h: nn.GRUCell(i, h),
    "rnn": lambda i, h: nn.RNNCell(i, h),
}
SCANS = {"lstm": "lstm_scan", "gru": "gru_scan", "rnn": "rnn_scan"}


def state_of(state):
    return state[0] if isinstance(state, tuple) else state


def link(state, how: str, head: nn.Module):
    """The state carried to the next step: as it is, detached, or changed."""
    if how == "detach":
        return tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()
    if how == "scale":
        return tuple(s * 0.9 for s in state) if isinstance(state, tuple) else state * 0.9
    return state


class Loop(nn.Module):
    """A loop over a cell; ``links[t]`` says how step t's state reaches step t + 1, and
    ``feedback[t]`` whether step t + 1 reads step t's output instead of x[:, t + 1]."""

    def __init__(self, cell: str, links: list[str], feedback: list[bool], layers: int = 1) -> None:
        super().__init__()
        self.cells = nn.ModuleList([CELLS[cell](5 if k == 0 else 6, 6) for k in range(layers)])
        self.back = nn.Linear(6, 5)
        self.head = nn.Linear(6, 3)
        self.links, self.feedback = links, feedback

    def forward(self, x):
        states = [None] * len(self.cells)
        outs = []
        step_input = x[:, 0]
        for t in range(x.shape[1]):
            value = step_input
            for k, cell in enumerate(self.cells):
                states[k] = cell(value, states[k])
                value = state_of(states[k])
            outs.append(value)
            if t + 1 < x.shape[1]:
                states = [link(s, self.links[t], self.head) for s in states]
                step_input = self.back(value) if self.feedback[t] else x[:, t + 1]
        return self.head(irgrad.stack(outs, 1))


def ops_of(run) -> list[str]:
    graph = run._compiled.entries[-1].built.forward
    return [n.op for n in graph.op_nodes()]


@pytest.mark.parametrize("cell", sorted(CELLS))
def test_a_loop_over_a_cell_is_one_scan_and_one_gradient_op(cell):
    run = assert_trains_as_eager(lambda: Loop(cell, ["keep"] * 7, [False] * 7), 8)
    ops = ops_of(run)
    assert ops.count(SCANS[cell]) == 1
    assert ops.count(SCANS[cell] + "_backward") == 1


@pytest.mark.parametrize("cell", sorted(CELLS))
def test_stacked_cells_are_one_scan_each(cell):
    run = assert_trains_as_eager(lambda: Loop(cell, ["keep"] * 5, [False] * 5, layers=2), 6)
    ops = ops_of(run)
    assert ops.count(SCANS[cell]) == 2
    assert ops.count(SCANS[cell] + "_backward") == 2


@pytest.mark.parametrize("cell", sorted(CELLS))
def test_a_step_reading_an_earlier_output_cuts_the_chain(cell):
    # step 3 reads step 2's output: steps 0-2 and 3-5 are joined apart
    feedback = [False, False, True, False, False]
    run = assert_trains_as_eager(lambda: Loop(cell, ["keep"] * 5, feedback), 6)
    assert ops_of(run).count(SCANS[cell]) == 2


@pytest.mark.parametrize("cell", sorted(CELLS))
@pytest.mark.parametrize("how", ["detach", "scale"])
def test_a_state_detached_or_changed_between_steps_cuts_the_chain(cell, how):
    links = ["keep", how, "keep", "keep", how]
    run = assert_trains_as_eager(lambda: Loop(cell, links, [False] * 5), 6)
    assert ops_of(run).count(SCANS[cell]) == 3


@pytest.mark.parametrize("seed", range(12))
def test_random_loops_train_as_eager(seed):
    rng = np.random.default_rng(seed)
    cell = sorted(CELLS)[seed % 3]
    steps = int(rng.integers(1, 8))
    links = [str(rng.choice(["keep", "keep", "keep", "detach", "scale"])) for _ in range(steps)]
    feedback = [bool(rng.random() < 0.2) for _ in range(steps)]
    layers = int(rng.integers(1, 3))
    assert_trains_as_eager(lambda: Loop(cell, links, feedback, layers), steps)


def test_a_compiled_model_rolls_before_autodiff():
    # irgrad.compile(model): the forward graph is joined, so autodiff differentiates one scan
    irgrad.manual_seed(0)
    model = Loop("lstm", ["keep"] * 5, [False] * 5).to(irgrad.float64)
    compiled = irgrad.compile(model)
    x = irgrad.randn(4, 6, 5, dtype=irgrad.float64)
    for _ in range(2):
        out = compiled(x)
        out.sum().backward()
    entry = compiled._compiled.entries[-1].built
    assert [n.op for n in entry.forward.op_nodes()].count("lstm_scan") == 1
    assert [n.op for n in entry.backward.op_nodes()].count("lstm_scan_backward") == 1
    used = [p for p in model.parameters() if p.grad is not None]  # not `back`: no feedback
    grads = [p.grad.numpy().copy() for p in used]
    model.zero_grad()
    model(x).sum().backward()
    for g, p in zip(grads, used):
        np.testing.assert_allclose(g / 2, p.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_lstm_layers_called_on_chunks_are_one_scan():
    # nn.LSTM over a sequence in chunks, the state carried: scans of several steps chained
    class Chunks(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(5, 6)
            self.head = nn.Linear(6, 3)

        def forward(self, x):
            state, outs = None, []
            for chunk in x.split(2, dim=1):
                out, state = self.lstm(chunk.transpose(0, 1), state)
                outs.append(out.transpose(0, 1))
            return self.head(irgrad.cat(outs, 1))

    run = assert_trains_as_eager(Chunks, 6)
    ops = ops_of(run)
    assert ops.count("lstm_scan") == 1
    assert ops.count("lstm_scan_backward") == 1


@pytest.mark.parametrize("cell", sorted(CELLS))
def test_the_joined_forward_is_exact(cell):
    # the pass changes no value: the joined scan runs the same ops in the same order
    irgrad.manual_seed(1)
    model = Loop(cell, ["keep"] * 4, [False] * 4)
    x = irgrad.randn(3, 5, 5)
    graph = cse(irgrad.trace(model, x))  # the steps' weights one node, as the pipeline runs it
    rolled = roll_scans(graph)
    assert [n.op for n in rolled.op_nodes()].count(SCANS[cell]) == 1
    named = {"x": x.numpy(), **{k: p.detach().numpy() for k, p in model.named_parameters()}}
    arrays = [named[graph.node(i).name] for i in graph.inputs]
    before, after = node_values(graph, arrays), node_values(rolled, arrays)
    for a, b in zip(graph.outputs, rolled.outputs):
        np.testing.assert_array_equal(before[a], after[b])


def test_a_graph_without_chains_is_returned_as_it_is():
    graph = irgrad.trace(nn.Linear(3, 2), irgrad.randn(4, 3))
    assert roll_scans(graph) is graph


def test_every_recurrence_names_its_gradient_op_and_states():
    from irgrad.ops import OPS

    scans = {name: op for name, op in OPS.items() if op.recurrence is not None}
    assert set(scans) == set(SCANS.values())
    for op in scans.values():
        recurrence = op.recurrence
        assert OPS[recurrence.backward].arity == 2 + len(recurrence.backward_args)
        assert all(0 < i < op.arity for i in recurrence.states + recurrence.backward_args)
