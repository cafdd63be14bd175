"""``lstm_scan``, ``gru_scan`` and ``rnn_scan``: a recurrent layer's time steps as one op
(what nn.LSTM, nn.GRU and nn.RNN record when traced).

Checked against the steps as separate ops (matmul, add, ``lstm_cell``, the GRU's gates or
the activation) eagerly, values and gradients; natively (the scan and its gradient as loops in the
program) against eager; and through ``irgrad.compile`` of training steps, whose graph no
longer grows with the sequence's length.  Finite differences:
``tests/test_ops_gradcheck.py``.
"""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest
from optim_cases import cross_entropy_step

import irgrad
import irgrad.nn as nn
from irgrad.dispatch import apply
from irgrad.ops import OPS
from irgrad.ops.registry import Meta

SHAPES = [(1, 1, 1), (2, 3, 5), (5, 2, 16), (3, 4, 33)]  # (steps, batch, hidden)
# float32: two orders of summation of a few steps of 33-wide products (the first compiled
# call is native, not the traced eager one): both within 6e-5 of float64's values
TOLERANCE = {np.float32: 1e-4, np.float64: 1e-12}


def inputs(steps, batch, size, dtype, seed=0):
    rng = np.random.default_rng(seed)
    shapes = [(steps, batch, 4 * size), (batch, size), (batch, size), (4 * size, size)]
    gx, h0, c0, w_hh = (
        irgrad.tensor(rng.standard_normal(s).astype(dtype), requires_grad=True) for s in shapes
    )
    return gx, h0, c0, w_hh


def scan(gx, h0, c0, w_hh, reverse):
    return apply(OPS["lstm_scan"], (gx, h0, c0, w_hh.t()), {"reverse": reverse})


def unrolled(gx, h0, c0, w_hh, reverse):
    """The same layer as separate ops per step, laid out as lstm_scan's result."""
    size = h0.shape[-1]
    h, c, rows = h0, c0, [None] * gx.shape[0]
    order = range(gx.shape[0] - 1, -1, -1) if reverse else range(gx.shape[0])
    for t in order:
        gates = gx[t] + h @ w_hh.t()
        hc = apply(OPS["lstm_cell"], (gates, c))
        h, c = hc[:, :size], hc[:, size:]
        rows[t] = irgrad.cat([hc, gates], 1)
    return irgrad.stack(rows, 0)


def values_and_gradients(fn, tensors, weights):
    for t in tensors:
        t.grad = None
    out = fn(*tensors)
    (out * weights).sum().backward()
    return [out.detach().numpy()] + [t.grad.numpy().copy() for t in tensors]


def weights_like(out_shape, dtype, seed=1):
    return irgrad.tensor(np.random.default_rng(seed).standard_normal(out_shape).astype(dtype))


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("shape", SHAPES)
def test_scan_equals_the_steps_as_separate_ops(shape, reverse):
    tensors = inputs(*shape, np.float64)
    steps, batch, size = shape
    weights = weights_like((steps, batch, 6 * size), np.float64)
    expected = values_and_gradients(lambda *t: unrolled(*t, reverse), tensors, weights)
    actual = values_and_gradients(lambda *t: scan(*t, reverse), tensors, weights)
    for e, a in zip(expected, actual):
        np.testing.assert_allclose(a, e, rtol=1e-12, atol=1e-12)


def test_shapes_are_checked():
    gx, h0, c0, w = inputs(2, 3, 4, np.float64)
    with pytest.raises(RuntimeError, match=r"lstm_scan: expected .*\[2, 3, 16\].*\[3, 5\]"):
        apply(OPS["lstm_scan"], (gx, irgrad.zeros(3, 5, dtype=irgrad.float64), c0, w.t()))


@pytest.mark.parametrize(
    "name, per_step, gates, states",
    [("lstm_scan_backward", 6, 4, 1), ("gru_scan_backward", 5, 3, 1), ("rnn_scan_backward", 1, 1, 0)],
)
def test_the_gradient_ops_check_every_operand(name, per_step, gates, states):
    # the shape rules (which the tracer and the IR verifier run) of [T, B, per_step * H]
    # with T=2, B=3, H=4: operands built right, then one of them wrong
    f64, f32 = irgrad.float64, irgrad.float32

    def infer(**wrong):
        out = Meta((2, 3, per_step * 4), f64)
        state = wrong.get("state", Meta((3, 4), f64))
        w = wrong.get("w", Meta((4, gates * 4), f64))
        return OPS[name].infer(*((out, out) + (state,) * states + (w,)))

    width = {"lstm_scan_backward": 16, "gru_scan_backward": 24, "rnn_scan_backward": 4}[name]
    assert infer() == Meta((3, 3, width), f64)
    bad = [{"w": Meta((4, gates * 4 + 1), f64)}, {"w": Meta((4, gates * 4), f32)}]
    if states:
        bad += [{"state": Meta((3, 5), f64)}, {"state": Meta((3, 4), f32)}]
    for wrong in bad:
        with pytest.raises(RuntimeError, match=f"{name}: expected .*recurrent weight"):
            infer(**wrong)


def _explained(compiled) -> str:
    text = io.StringIO()
    with contextlib.redirect_stdout(text):
        compiled.explain()
    return text.getvalue()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("shape", SHAPES)
def test_native_scan_and_its_gradient_equal_eager(shape, reverse, dtype):
    tensors = inputs(*shape, dtype)
    steps, batch, size = shape
    weights = weights_like((steps, batch, 6 * size), dtype)
    expected = values_and_gradients(lambda *t: scan(*t, reverse), tensors, weights)
    compiled = irgrad.compile(lambda *t: scan(*t, reverse), backend="llvm")
    actual = values_and_gradients(compiled, tensors, weights)
    for e, a in zip(expected, actual):
        np.testing.assert_allclose(a, e, rtol=TOLERANCE[dtype], atol=TOLERANCE[dtype])
    assert "left to numpy" not in _explained(compiled)


def test_native_scan_reads_any_layout_of_its_inputs():
    """A transposed state and a gate input that is a slice: the planner copies them."""
    rng = np.random.default_rng(3)
    gx = irgrad.tensor(rng.standard_normal((3, 2, 2, 8)))[:, :, 1]
    h0, c0 = (irgrad.tensor(rng.standard_normal((2, 2))).t() for _ in range(2))
    w = irgrad.tensor(rng.standard_normal((2, 8)))

    def fn(gx, h0, c0, w):
        return apply(OPS["lstm_scan"], (gx, h0, c0, w))

    expected = fn(gx, h0, c0, w).numpy()
    np.testing.assert_allclose(irgrad.compile(fn)(gx, h0, c0, w).numpy(), expected, rtol=1e-12)


def test_the_gradient_op_refuses_a_gradient_of_its_own():
    """lstm_scan's rule uses differentiable ops under create_graph (gradgradcheck in
    tests/test_ops_gradcheck.py): only lstm_scan_backward applied directly gets here."""
    gx, h0, c0, w = inputs(2, 2, 3, np.float64)
    out = scan(gx, h0, c0, w, False).detach().requires_grad_()
    grads = apply(OPS["lstm_scan_backward"], (out, out, c0, w.t()))
    with pytest.raises(RuntimeError, match="no second derivative"):
        grads.sum().backward()


def test_a_compiled_second_derivative_through_nn_lstm_equals_eager():
    irgrad.manual_seed(0)
    lstm = nn.LSTM(3, 4).double()
    x = irgrad.tensor(np.random.default_rng(0).standard_normal((5, 2, 3)), requires_grad=True)

    def penalty(x):
        out, _ = lstm(x)
        (g,) = irgrad.autograd.grad(out.sum(), [x], create_graph=True)
        return (g * g).sum()

    results = []
    for fn in (penalty, irgrad.compile(penalty)):
        x.grad = None
        value = fn(x)
        value.backward()
        results.append((float(value), x.grad.numpy().copy()))
    assert results[1][0] == pytest.approx(results[0][0], rel=1e-12)
    np.testing.assert_allclose(results[1][1], results[0][1], rtol=1e-10, atol=1e-14)


class Classifier(nn.Module):
    def __init__(self, layers=1, bidirectional=False):
        super().__init__()
        self.lstm = nn.LSTM(5, 8, num_layers=layers, bidirectional=bidirectional, batch_first=True)
        self.fc = nn.Linear(8 * (2 if bidirectional else 1), 3)

    def forward(self, x):
        out, (h, c) = self.lstm(x)
        return self.fc(out[:, -1]) + c.sum()


def train(steps: int, compiled: bool, **config):
    irgrad.manual_seed(0)
    model = Classifier(**config).double()
    opt = irgrad.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    rng = np.random.default_rng(0)
    x = irgrad.tensor(rng.standard_normal((4, steps, 5)))
    y = irgrad.tensor(rng.integers(0, 3, 4))

    step = cross_entropy_step(model, opt)

    run = irgrad.compile(step) if compiled else step
    losses = [float(run(x, y)) for _ in range(4)]
    return losses, [p.detach().numpy().copy() for p in model.parameters()], run


@pytest.mark.parametrize(
    "config", [{}, {"layers": 2, "bidirectional": True}], ids=["one-layer", "two-layer-bi"]
)
def test_compiled_lstm_training_equals_eager(config):
    for steps in (1, 6):
        eager_losses, eager_params, _ = train(steps, False, **config)
        losses, params, run = train(steps, True, **config)
        np.testing.assert_allclose(losses, eager_losses, rtol=1e-10)
        for p, e in zip(params, eager_params):
            np.testing.assert_allclose(p, e, rtol=1e-9, atol=1e-12)
        text = _explained(run)
        assert "left to numpy" not in text and "lstm_cell" not in text


def test_the_traced_graph_does_not_grow_with_the_sequence():
    sizes = set()
    for steps in (4, 32):
        *_, run = train(steps, True)
        sizes.add(
            tuple(
                line.split(" nodes")[0].rsplit(" ", 1)[-1]
                for line in _explained(run).splitlines()
                if " nodes" in line
            )
        )
    assert len(sizes) == 1, sizes


# --- rnn_scan ----------------------------------------------------------------------------


def rnn_inputs(steps, batch, size, dtype, seed=0):
    rng = np.random.default_rng(seed)
    shapes = [(steps, batch, size), (batch, size), (size, size)]
    return [irgrad.tensor(rng.standard_normal(s).astype(dtype), requires_grad=True) for s in shapes]


def rnn_scan(gx, h0, w_hh, nonlinearity, reverse):
    return apply(OPS["rnn_scan"], (gx, h0, w_hh.t()), {"nonlinearity": nonlinearity, "reverse": reverse})


def rnn_unrolled(gx, h0, w_hh, nonlinearity, reverse):
    act = getattr(irgrad, nonlinearity)
    h, rows = h0, [None] * gx.shape[0]
    for t in range(gx.shape[0] - 1, -1, -1) if reverse else range(gx.shape[0]):
        h = rows[t] = act(gx[t] + h @ w_hh.t())
    return irgrad.stack(rows, 0)


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("shape", SHAPES)
def test_rnn_scan_equals_the_steps_as_separate_ops(shape, reverse, nonlinearity):
    tensors = rnn_inputs(*shape, np.float64)
    weights = weights_like(shape, np.float64)
    expected = values_and_gradients(lambda *t: rnn_unrolled(*t, nonlinearity, reverse), tensors, weights)
    actual = values_and_gradients(lambda *t: rnn_scan(*t, nonlinearity, reverse), tensors, weights)
    for e, a in zip(expected, actual):
        np.testing.assert_allclose(a, e, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("shape", SHAPES)
def test_native_rnn_scan_and_its_gradient_equal_eager(shape, reverse, nonlinearity, dtype):
    tensors = rnn_inputs(*shape, dtype)
    weights = weights_like(shape, dtype)

    def fn(*t):
        return rnn_scan(*t, nonlinearity, reverse)

    expected = values_and_gradients(fn, tensors, weights)
    compiled = irgrad.compile(fn, backend="llvm")
    actual = values_and_gradients(compiled, tensors, weights)
    for e, a in zip(expected, actual):
        np.testing.assert_allclose(a, e, rtol=TOLERANCE[dtype], atol=TOLERANCE[dtype])
    assert "left to numpy" not in _explained(compiled)


def test_rnn_scan_checks_its_operands():
    gx, h0, w = rnn_inputs(2, 3, 4, np.float64)
    with pytest.raises(RuntimeError, match=r"rnn_scan: expected .*\[2, 3, 4\].*\[3, 5\]"):
        apply(OPS["rnn_scan"], (gx, irgrad.zeros(3, 5, dtype=irgrad.float64), w))
    with pytest.raises(RuntimeError, match="rnn_scan: .*'gelu'"):
        apply(OPS["rnn_scan"], (gx, h0, w), {"nonlinearity": "gelu"})


@pytest.mark.parametrize(
    "config",
    [{}, {"nonlinearity": "relu", "num_layers": 2, "bidirectional": True}],
    ids=["tanh", "relu-two-layer-bi"],
)
def test_compiled_rnn_training_equals_eager(config):
    def run(compiled: bool):
        irgrad.manual_seed(0)
        rnn = nn.RNN(5, 8, batch_first=True, **config).double()
        opt = irgrad.optim.Adam(rnn.parameters(), lr=0.01)
        x = irgrad.tensor(np.random.default_rng(0).standard_normal((4, 6, 5)))

        def step(x):
            opt.zero_grad()
            out, h = rnn(x)
            loss = (out * out).mean() + h.sum()
            loss.backward()
            opt.step()
            return loss.detach()

        fn = irgrad.compile(step) if compiled else step
        return [float(fn(x)) for _ in range(4)], [p.detach().numpy().copy() for p in rnn.parameters()], fn

    eager_losses, eager_params, _ = run(False)
    losses, params, fn = run(True)
    np.testing.assert_allclose(losses, eager_losses, rtol=1e-10)
    for p, e in zip(params, eager_params):
        np.testing.assert_allclose(p, e, rtol=1e-9, atol=1e-12)
    assert "left to numpy" not in _explained(fn)


# --- gru_scan ----------------------------------------------------------------------------


def gru_inputs(steps, batch, size, dtype, seed=0):
    rng = np.random.default_rng(seed)
    shapes = [(steps, batch, 3 * size), (batch, size), (3 * size, size), (size,)]
    return [irgrad.tensor(rng.standard_normal(s).astype(dtype), requires_grad=True) for s in shapes]


def gru_scan(gx, h0, w_hh, b_hn, reverse):
    return apply(OPS["gru_scan"], (gx, h0, w_hh.t(), b_hn), {"reverse": reverse})


def gru_unrolled(gx, h0, w_hh, b_hn, reverse):
    """PyTorch's GRU step as separate ops, laid out as gru_scan's ``[h | r | z | n | nh]``."""
    size = h0.shape[-1]
    h, rows = h0, [None] * gx.shape[0]
    for t in range(gx.shape[0] - 1, -1, -1) if reverse else range(gx.shape[0]):
        gh = h @ w_hh.t()
        rz = irgrad.sigmoid(gx[t, :, : 2 * size] + gh[:, : 2 * size])
        r, z = rz[:, :size], rz[:, size:]
        nh = gh[:, 2 * size :] + b_hn
        n = irgrad.tanh(gx[t, :, 2 * size :] + r * nh)
        h = n + z * (h - n)
        rows[t] = irgrad.cat([h, rz, n, nh], 1)
    return irgrad.stack(rows, 0)


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("shape", SHAPES)
def test_gru_scan_equals_the_steps_as_separate_ops(shape, reverse):
    tensors = gru_inputs(*shape, np.float64)
    steps, batch, size = shape
    weights = weights_like((steps, batch, 5 * size), np.float64)
    expected = values_and_gradients(lambda *t: gru_unrolled(*t, reverse), tensors, weights)
    actual = values_and_gradients(lambda *t: gru_scan(*t, reverse), tensors, weights)
    for e, a in zip(expected, actual):
        np.testing.assert_allclose(a, e, rtol=1e-11, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("shape", SHAPES)
def test_native_gru_scan_and_its_gradient_equal_eager(shape, reverse, dtype):
    tensors = gru_inputs(*shape, dtype)
    steps, batch, size = shape
    weights = weights_like((steps, batch, 5 * size), dtype)

    def fn(*t):
        return gru_scan(*t, reverse)

    expected = values_and_gradients(fn, tensors, weights)
    compiled = irgrad.compile(fn, backend="llvm")
    actual = values_and_gradients(compiled, tensors, weights)
    for e, a in zip(expected, actual):
        np.testing.assert_allclose(a, e, rtol=TOLERANCE[dtype], atol=TOLERANCE[dtype])
    assert "left to numpy" not in _explained(compiled)


def test_gru_scan_checks_its_operands():
    gx, h0, w, b = gru_inputs(2, 3, 4, np.float64)
    with pytest.raises(RuntimeError, match=r"gru_scan: expected .*\[2, 3, 12\].*\[5\]"):
        apply(OPS["gru_scan"], (gx, h0, w.t(), irgrad.zeros(5, dtype=irgrad.float64)))


@pytest.mark.parametrize(
    "config",
    [{}, {"bias": False, "num_layers": 2, "bidirectional": True}],
    ids=["one-layer", "no-bias-two-layer-bi"],
)
def test_compiled_gru_training_equals_eager_and_does_not_grow(config):
    def run(compiled: bool, steps: int):
        irgrad.manual_seed(0)
        gru = nn.GRU(5, 8, batch_first=True, **config).double()
        opt = irgrad.optim.RMSprop(gru.parameters(), lr=0.01)
        x = irgrad.tensor(np.random.default_rng(0).standard_normal((4, steps, 5)))

        def step(x):
            opt.zero_grad()
            out, h = gru(x)
            loss = (out * out).mean() + h.sum()
            loss.backward()
            opt.step()
            return loss.detach()

        fn = irgrad.compile(step) if compiled else step
        return [float(fn(x)) for _ in range(4)], [p.detach().numpy().copy() for p in gru.parameters()], fn

    sizes = set()
    for steps in (2, 9):
        eager_losses, eager_params, _ = run(False, steps)
        losses, params, fn = run(True, steps)
        np.testing.assert_allclose(losses, eager_losses, rtol=1e-10)
        for p, e in zip(params, eager_params):
            np.testing.assert_allclose(p, e, rtol=1e-9, atol=1e-12)
        text = _explained(fn)
        assert "left to numpy" not in text
        sizes.add(
            tuple(
                line.split(" nodes")[0].rsplit(" ", 1)[-1] for line in text.splitlines() if " nodes" in line
            )
        )
    assert len(sizes) == 1, sizes


def test_a_compiled_second_derivative_through_nn_gru_and_rnn_equals_eager():
    for module in (nn.GRU(3, 4).double(), nn.RNN(3, 4).double()):
        x = irgrad.tensor(np.random.default_rng(0).standard_normal((5, 2, 3)), requires_grad=True)

        def penalty(x, module=module):
            out, _ = module(x)
            (g,) = irgrad.autograd.grad(out.sum(), [x], create_graph=True)
            return (g * g).sum()

        results = []
        for fn in (penalty, irgrad.compile(penalty)):
            for _ in range(2):
                x.grad = None
                value = fn(x)
                value.backward()
            results.append((float(value), x.grad.numpy().copy()))
        assert results[1][0] == pytest.approx(results[0][0], rel=1e-12)
        np.testing.assert_allclose(results[1][1], results[0][1], rtol=1e-10, atol=1e-14)


# --- what the modules return, and scans of no steps ---------------------------------------


@pytest.mark.parametrize("module", ["LSTM", "GRU", "RNN"])
def test_compiled_outputs_are_fresh_and_contiguous_as_eager(module):
    """The outputs are a copy of the scan's result (saved for the gradient): written in
    place and viewed as eager's stacked steps can be."""
    irgrad.manual_seed(0)
    layer = getattr(nn, module)(3, 4).double()
    x = irgrad.tensor(np.random.default_rng(0).standard_normal((5, 2, 3)), requires_grad=True)

    def fn(x):
        out, _ = layer(x)
        out.mul_(2.0)
        return out.view(out.shape[0], -1).sum(1)

    results = []
    for run in (fn, irgrad.compile(fn)):
        for _ in range(2):
            x.grad = None
            value = run(x)
            value.sum().backward()
        results.append((value.detach().numpy(), x.grad.numpy().copy()))
    for e, a in zip(*results):
        np.testing.assert_allclose(a, e, rtol=1e-12)


@pytest.mark.parametrize("create_graph", [False, True])
def test_scans_of_no_steps_have_empty_gradients(create_graph):
    cases = [
        ("lstm_scan", inputs(0, 2, 3, np.float64), {}),
        ("gru_scan", gru_inputs(0, 2, 3, np.float64), {}),
        ("rnn_scan", rnn_inputs(0, 2, 3, np.float64), {"nonlinearity": "relu"}),
    ]
    for name, tensors, attrs in cases:
        out = apply(OPS[name], tuple(tensors), attrs)
        grads = irgrad.autograd.grad(out.sum(), tensors, create_graph=create_graph, allow_unused=True)
        for t, g in zip(tensors, grads):
            assert g is not None and tuple(g.shape) == tuple(t.shape), (name, t.shape)
            assert not g.detach().numpy().any()
