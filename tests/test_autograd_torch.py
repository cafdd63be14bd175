"""The autograd engine against PyTorch's: random graphs, repeated backward, higher order, hooks."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import irgrad

torch = pytest.importorskip("torch")

LIBS = (irgrad, torch)

# Values stay broadcastable with (3, 4); every op maps such values to such values.
LEAF_SHAPES = [(3, 4), (4,), (3, 1), (), (1, 4)]

UNARY = {
    "tanh": lambda lib, x: x.tanh(),
    "sigmoid": lambda lib, x: x.sigmoid(),
    "sin": lambda lib, x: x.sin(),
    "exp_tanh": lambda lib, x: x.tanh().exp(),
    "relu": lambda lib, x: x.relu(),
    "square": lambda lib, x: x**2,
    "softsqrt": lambda lib, x: (x * x + 1).sqrt(),
    "log1": lambda lib, x: (x * x + 1).log(),
    "neg": lambda lib, x: -x,
    "sum_keep": lambda lib, x: x.sum(dim=-1, keepdim=True) if x.dim() else x,
    "mean_keep0": lambda lib, x: x.mean(dim=0, keepdim=True) if x.dim() == 2 else x * 0.5,
    "softmax": lambda lib, x: x.softmax(dim=-1) if x.dim() else x,
    "transpose_back": lambda lib, x: (
        x.transpose(0, 1).reshape(4, 3).transpose(0, 1).reshape(3, 4) if tuple(x.shape) == (3, 4) else x
    ),
}
BINARY = {
    "add": lambda lib, x, y: x + y,
    "sub": lambda lib, x, y: x - y,
    "mul": lambda lib, x, y: x * y,
    "div": lambda lib, x, y: x / (y * y + 1),
    "maximum": lambda lib, x, y: lib.maximum(x, y),
    "matmul_w": lambda lib, x, y: (
        (x @ lib.ones(4, 4, dtype=lib.float64) * 0.1 + y) if x.dim() == 2 and x.shape[-1] == 4 else x + y
    ),
}


@st.composite
def programs(draw):
    """A random straight-line program: each step applies an op to earlier values (reuse allowed)."""
    n_leaves = draw(st.integers(2, len(LEAF_SHAPES)))
    steps = []
    for i in range(draw(st.integers(2, 10))):
        n_values = n_leaves + i
        if draw(st.booleans()):
            steps.append(("u", draw(st.sampled_from(sorted(UNARY))), draw(st.integers(0, n_values - 1))))
        else:
            a, b = draw(st.integers(0, n_values - 1)), draw(st.integers(0, n_values - 1))
            steps.append(("b", draw(st.sampled_from(sorted(BINARY))), a, b))
    return n_leaves, steps, draw(st.integers(0, 2**16))


def make_leaves(lib, n_leaves, seed):
    rng = np.random.default_rng(seed)
    return [
        lib.tensor(rng.standard_normal(s), dtype=lib.float64, requires_grad=True)
        for s in LEAF_SHAPES[:n_leaves]
    ]


def run_program(lib, leaves, steps):
    values = list(leaves)
    for step in steps:
        if step[0] == "u":
            values.append(UNARY[step[1]](lib, values[step[2]]))
        else:
            values.append(BINARY[step[1]](lib, values[step[2]], values[step[3]]))
    # Every value feeds the loss, so shared subexpressions get gradient from several paths.
    loss = values[-1].sum() * 1.0
    for k, v in enumerate(values[len(leaves) : -1]):
        loss = loss + v.mean() * (0.1 * (k + 1))
    return loss, values


def assert_close(a, b, rtol=1e-9, atol=1e-11):
    if a is None or b is None:
        assert a is None and b is None
        return
    np.testing.assert_allclose(np.asarray(a.detach().numpy()), b.detach().numpy(), rtol=rtol, atol=atol)


@settings(max_examples=60, deadline=None)
@given(programs())
def test_random_graphs_same_grads(program):
    n_leaves, steps, seed = program
    results = []
    for lib in LIBS:
        leaves = make_leaves(lib, n_leaves, seed)
        loss, _ = run_program(lib, leaves, steps)
        loss.backward()
        results.append((loss, [leaf.grad for leaf in leaves]))
    (l_ig, g_ig), (l_t, g_t) = results
    assert_close(l_ig, l_t)
    for a, b in zip(g_ig, g_t):
        if b is None:  # torch: unused leaf
            assert a is None
        else:
            assert a is not None and tuple(a.shape) == tuple(b.shape)
            assert_close(a, b)


@settings(max_examples=20, deadline=None)
@given(programs())
def test_repeated_backward_accumulates_like_torch(program):
    n_leaves, steps, seed = program
    results = []
    for lib in LIBS:
        leaves = make_leaves(lib, n_leaves, seed)
        loss, _ = run_program(lib, leaves, steps)
        loss.backward(retain_graph=True)
        loss.backward(retain_graph=True)
        (loss * 3).backward()
        results.append([leaf.grad for leaf in leaves])
    for a, b in zip(*results):
        assert_close(a, b)


@settings(max_examples=25, deadline=None)
@given(programs())
def test_second_derivatives_like_torch(program):
    n_leaves, steps, seed = program
    firsts, seconds = [], []
    for lib in LIBS:
        leaves = make_leaves(lib, n_leaves, seed)
        loss, _ = run_program(lib, leaves, steps)
        grads = lib.autograd.grad(loss, leaves, create_graph=True, allow_unused=True)
        firsts.append(grads)
        # A gradient may be constant (no graph) on one side and carry a graph with a zero
        # derivative on the other (PyTorch's relu backward does): compare second derivatives
        # as arrays, with "no gradient" meaning zeros.
        used = [g for g in grads if g is not None and g.requires_grad]
        second = [None] * len(leaves)
        if used:
            penalty = sum((g * g).sum() for g in used)
            second = lib.autograd.grad(penalty, leaves, allow_unused=True)
        seconds.append(
            [
                np.zeros(tuple(leaf.shape)) if g is None else g.detach().numpy()
                for g, leaf in zip(second, leaves)
            ]
        )
    for a, b in zip(*firsts):
        assert_close(a, b)
    for a, b in zip(*seconds):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-10)


@settings(max_examples=25, deadline=None)
@given(programs(), st.sampled_from(["scale", "clamp", "observe"]))
def test_hooks_and_retain_grad_like_torch(program, kind):
    n_leaves, steps, seed = program
    hook = {
        "scale": lambda g: g * 2,
        "clamp": lambda g: g.clamp(-0.1, 0.1),
        "observe": lambda g: None,
    }[kind]
    results = []
    for lib in LIBS:
        leaves = make_leaves(lib, n_leaves, seed)
        values = list(leaves)
        loss, values = run_program(lib, leaves, steps)
        watched = [v for v in values if v.requires_grad]
        for v in watched[:: max(1, len(watched) // 3)]:
            v.register_hook(hook)
        mid = values[-2] if values[-2].requires_grad and not values[-2].is_leaf else None
        if mid is not None:
            mid.retain_grad()
        loss.backward()
        results.append(([leaf.grad for leaf in leaves], mid.grad if mid is not None else None))
    (g_ig, mid_ig), (g_t, mid_t) = results
    for a, b in zip(g_ig, g_t):
        assert_close(a, b)
    assert_close(mid_ig, mid_t)


def test_autograd_grad_options_like_torch():
    out = []
    for lib in LIBS:
        x = lib.tensor(np.linspace(-1, 1, 6).reshape(2, 3), dtype=lib.float64, requires_grad=True)
        w = lib.tensor(np.arange(3.0), dtype=lib.float64, requires_grad=True)
        h = (x * w).tanh()
        y = h.exp() * x
        go = lib.tensor(np.arange(6.0).reshape(2, 3), dtype=lib.float64)
        gh, gw = lib.autograd.grad(y, [h, w], grad_outputs=go, retain_graph=True)
        (gx,) = lib.autograd.grad(y.sum(), x, create_graph=True)
        (gxx,) = lib.autograd.grad(gx.sum(), w)
        out.append([gh, gw, gx, gxx])
    for a, b in zip(*out):
        assert_close(a, b)


def test_backward_inputs_like_torch():
    out = []
    for lib in LIBS:
        a = lib.tensor([1.0, 2.0], dtype=lib.float64, requires_grad=True)
        b = lib.tensor([0.5, -1.0], dtype=lib.float64, requires_grad=True)
        c = a * b
        (c * c + a).sum().backward(inputs=[b, c])
        out.append([a.grad, b.grad, c.grad])
    for x, y in zip(*out):
        assert_close(x, y)


def test_inplace_ops_in_graph_like_torch():
    out = []
    for lib in LIBS:
        a = lib.tensor([1.0, -2.0, 3.0], dtype=lib.float64, requires_grad=True)
        b = a * 2
        b.add_(1.0)
        b.mul_(a)
        c = b.exp().sum()
        c.backward()
        out.append([c, a.grad])
    for x, y in zip(*out):
        assert_close(x, y)


@pytest.mark.parametrize(
    "scenario",
    [
        "freed",
        "non_scalar",
        "no_grad_output",
        "shape_mismatch",
        "unused",
        "inplace_saved",
        "inplace_leaf",
        "int_requires_grad",
    ],
)
def test_same_error_types_as_torch(scenario):
    def run(lib):
        a = lib.ones(3, requires_grad=True)
        if scenario == "freed":
            y = (a * a).sum()
            y.backward()
            y.backward()
        elif scenario == "non_scalar":
            (a * 2).backward()
        elif scenario == "no_grad_output":
            lib.ones(3).sum().backward()
        elif scenario == "shape_mismatch":
            (a * 2).backward(lib.ones(2))
        elif scenario == "unused":
            lib.autograd.grad((a * 2).sum(), [a, lib.ones(3, requires_grad=True)])
        elif scenario == "inplace_saved":
            b = a * 2
            c = b * b
            b.add_(1)
            c.sum().backward()
        elif scenario == "inplace_leaf":
            a.add_(1)
        elif scenario == "int_requires_grad":
            lib.ones(3, dtype=lib.int64).requires_grad_()

    errors = []
    for lib in LIBS:
        with pytest.raises(Exception) as info:
            run(lib)
        errors.append(info)
    assert errors[0].type is errors[1].type
    first_words = " ".join(str(errors[1].value).split()[:4])
    if scenario not in ("int_requires_grad",):
        assert first_words.lower() in str(errors[0].value).lower()


def test_grad_fn_names_like_torch():
    names = []
    for lib in LIBS:
        a = lib.ones(2, 2, requires_grad=True)
        ts = [
            a + 1,
            a * a,
            a.exp(),
            a.sum(),
            a.tanh(),
            a.sigmoid(),
            a.relu(),
            a / 2,
            a - a,
            -a,
            a.expand(3, 2, 2),
            a.clone(),
        ]
        names.append([t.grad_fn.name() for t in ts])
        leaf_fn = ts[1].grad_fn.next_functions[0][0]
        names[-1].append(type(leaf_fn).__name__)
    assert names[0] == names[1]
