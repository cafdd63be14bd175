"""The IR op namespace (irgrad.ir.builder) and reverse-mode autodiff on the IR.

Gradients of every differentiable primitive, of random elementwise programs and of
small models are compared with the eager autograd engine running the same ops
(float64: equal up to rounding); second derivatives come from differentiating the
joint graph again and are checked against eager double backward, a closed form and
finite differences.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ir_random import graphs, random_inputs

import irgrad
from irgrad.autograd.op_namespaces import TENSOR_OPS
from irgrad.dispatch import apply
from irgrad.ir import CONSTANT, FUSED, INPUT, Graph, TensorType, interpret, parse_graph, verify
from irgrad.ir.builder import GraphOps, Value
from irgrad.ops import OPS
from irgrad.ops.conv import out_size
from irgrad.passes import autodiff

RTOL, ATOL = 1e-10, 1e-12


# --- inputs for one-op graphs --------------------------------------------------------


def f(*shape, lo=None, hi=None):
    """A float64 input: normals kept away from 0 and ties, or uniform in [lo, hi]."""

    def make(rng):
        if lo is not None:
            return rng.uniform(lo, hi, shape)
        x = rng.standard_normal(shape)
        return np.where(np.abs(x) < 0.1, 0.4, x)

    return make


def off(*shape):
    """Floats away from integers and half-integers (floor/round/remainder have no jumps there)."""
    return lambda rng: (
        rng.integers(-4, 4, shape) + rng.uniform(0.1, 0.4, shape) + rng.integers(0, 2, shape) * 0.5
    )


def idx(high, *shape):
    return lambda rng: rng.integers(0, high, shape).astype(np.int64)


def mask(*shape):
    return lambda rng: rng.random(shape) < 0.5


POS = dict(lo=0.5, hi=2.0)
WIN = dict(kernel=(2, 3), stride=(1, 2), dilation=(1, 1))
N_COLS = out_size(5, 2, 1, 1) * out_size(5, 3, 2, 1)
UNARY = [
    "neg",
    "abs",
    "sign",
    "floor",
    "ceil",
    "round",
    "trunc",
    "relu",
    "exp",
    "expm1",
    "sin",
    "cos",
    "tanh",
    "sigmoid",
    "erf",
]
POSITIVE_UNARY = ["log", "log1p", "sqrt", "rsqrt", "reciprocal"]

# op name -> (input makers, attrs): one case for every op with a gradient rule.
CASES: dict[str, tuple[list, dict]] = {
    **{name: ([off(3, 4)], {}) for name in UNARY},
    **{name: ([f(3, 4, **POS)], {}) for name in POSITIVE_UNARY},
    "tan": ([f(3, 4, lo=-1.0, hi=1.0)], {}),
    **{name: ([f(3, 4, lo=-0.9, hi=0.9)], {}) for name in ("asin", "acos", "atanh")},
    **{name: ([off(3, 4)], {}) for name in ("atan", "sinh", "cosh", "asinh")},
    "acosh": ([f(3, 4, lo=1.1, hi=3.0)], {}),
    **{name: ([f(3, 4, lo=0.3, hi=4.0)], {}) for name in ("lgamma", "digamma")},
    "polygamma": ([f(3, 4, lo=0.3, hi=4.0)], {"n": 2}),
    "erfinv": ([f(3, 4, lo=-0.9, hi=0.9)], {}),
    **{name: ([f(3, 4, lo=-12.0, hi=12.0)], {}) for name in ("i0", "i0e", "i1", "i1e")},
    "cast": ([f(3, 4)], {"dtype": irgrad.float32}),
    **{
        name: ([f(3, 4), f(3, 4)], {})
        for name in ("add", "sub", "mul", "maximum", "minimum", "atan2", "copysign")
    },
    "div": ([f(3, 4), f(3, 4, **POS)], {}),
    "pow": ([f(3, 4, **POS), f(3, 4)], {}),
    **{name: ([off(3, 4), f(3, 4, **POS)], {}) for name in ("floor_divide", "remainder", "fmod")},
    "where": ([mask(3, 4), f(3, 4), f(3, 4)], {}),
    "reshape": ([f(3, 4)], {"shape": (2, 6)}),
    "permute": ([f(2, 3, 4)], {"dims": (2, 0, 1)}),
    "broadcast_to": ([f(3, 1)], {"shape": (2, 3, 4)}),
    "slice": ([f(4, 5)], {"index": (slice(1, 4, 1), None, 2)}),
    "slice_grad": ([f(3, 1)], {"shape": (4, 5), "index": (slice(1, 4, 1), None, 2)}),
    "diagonal": ([f(3, 2, 4)], {"offset": 1, "dim1": 2, "dim2": 0}),
    "diagonal_grad": ([f(2, 2)], {"shape": (3, 2, 4), "offset": 1, "dim1": 2, "dim2": 0}),
    "unfold": ([f(3, 7)], {"dim": 1, "size": 3, "step": 2}),
    "unfold_grad": ([f(3, 3, 3)], {"shape": (3, 7), "dim": 1, "size": 3, "step": 2}),
    "index": (
        [f(5, 4), lambda rng: np.array([0, 2, 0], dtype=np.int64)],
        {"spec": (..., slice(None, None, None))},
    ),
    "index_grad": (
        [f(3, 4), lambda rng: np.array([0, 2, 0], dtype=np.int64)],
        {"shape": (5, 4), "spec": (..., slice(None, None, None))},
    ),
    "index_put": (  # a repeated position (0): the last value written wins
        [f(5, 4), f(3, 4), lambda rng: np.array([0, 2, 0], dtype=np.int64)],
        {"spec": (..., slice(None, None, None))},
    ),
    "gather": ([f(3, 4), idx(4, 3, 2)], {"dim": 1}),
    "embedding": ([f(5, 3), idx(5, 2, 4)], {"padding_idx": 1}),
    "embedding_grad": ([f(2, 4, 3), idx(5, 2, 4)], {"rows": 5, "padding_idx": None}),
    "rebind": ([f(3, 4), f(3, 4)], {}),
    "assert_range": ([f(3, 4)], {"low": -10.0, "high": 10.0, "error": "RuntimeError", "message": "{value}"}),
    "scatter_add": ([f(3, 4), idx(4, 2, 3), f(3, 3)], {"dim": 1}),
    "scatter": ([f(3, 4), idx(4, 2, 3), f(3, 3)], {"dim": 1}),
    "scatter_reduce": ([f(3, 4), idx(4, 2, 3), f(3, 3)], {"dim": 1, "reduce": "prod", "include_self": False}),
    "cat": ([f(2, 3), f(2, 1), f(2, 2)], {"dim": 1}),
    "flip": ([f(3, 4)], {"dims": (0, 1)}),
    "pad": ([f(2, 3)], {"widths": ((1, 0), (2, 1)), "value": 0.5}),
    "copy": ([f(3, 4)], {}),
    "conj": ([f(3, 4)], {}),
    "matmul": ([f(2, 3, 4), f(4, 5)], {}),
    "linear": ([f(2, 3, 4), f(5, 4), f(5)], {}),
    "nll_loss": (
        [f(3, 4), lambda rng: np.array([1, -1, 3], dtype=np.int64)],
        {"ignore_index": -1, "reduction": "mean"},
    ),
    "nll_loss_grad": (
        [f(3), lambda rng: np.array([1, -1, 3], dtype=np.int64)],
        {"shape": (3, 4), "ignore_index": -1, "reduction": "none"},
    ),
    "einsum": ([f(3, 4), f(4, 5)], {"equation": "ij,jk->i"}),
    "ctc_loss": (
        [
            lambda rng: np.log(rng.dirichlet(np.ones(4), (6, 2))),
            lambda rng: np.array([[1, 2, 2], [3, 1, 0]], dtype=np.int64),
            lambda rng: np.array([6, 5], dtype=np.int64),
            lambda rng: np.array([3, 2], dtype=np.int64),
        ],
        {"blank": 0, "zero_infinity": False},
    ),
    "sum": ([f(3, 4, 5)], {"dims": (0, 2), "keepdim": False}),
    "prod": ([f(3, 4)], {"dims": (1,), "keepdim": True}),
    "amax": ([f(3, 4)], {"dims": (1,), "keepdim": False}),
    "amin": ([f(3, 4)], {"dims": (0, 1), "keepdim": True}),
    "logsumexp": ([f(3, 4, 2)], {"dims": (0, 2), "keepdim": False}),
    "cumsum": ([f(3, 4)], {"dim": 1}),
    "cumprod": ([f(3, 4)], {"dim": 1}),
    "log_softmax": ([f(3, 4)], {"dim": 1}),
    "lstm_cell": ([f(3, 8), f(3, 2)], {}),
    "lstm_scan": ([f(3, 2, 8), f(2, 2), f(2, 2), f(2, 8)], {"reverse": True}),
    "rnn_scan": ([f(3, 2, 4), f(2, 4), f(4, 4)], {"nonlinearity": "tanh"}),
    "gru_scan": ([f(3, 2, 6), f(2, 2), f(2, 6), f(2)], {"reverse": True}),
    "softmax": ([f(2, 3, 4)], {"dim": 0}),
    "im2col": ([f(2, 3, 5, 5)], WIN),
    "col2im": ([f(2, N_COLS, 3 * 2 * 3)], {"shape": (2, 3, 5, 5), **WIN}),
    "relu_grad": ([f(3, 4), f(3, 4)], {}),
    "max_pool": ([f(2, 3, 5, 5)], WIN),
    "max_pool_scatter": (
        [f(2, 3, 4, 2), lambda rng: rng.integers(0, 6, (2, 3, 4, 2)).astype(np.int8)],
        {"shape": (2, 3, 5, 5), **WIN},
    ),
}


def square(*shape, spd=False):
    """Well-conditioned square matrices (symmetric positive-definite with ``spd``)."""

    def make(rng):
        x = rng.standard_normal(shape)
        x = x @ np.swapaxes(x, -1, -2) if spd else x
        return x + shape[-1] * np.eye(shape[-1])

    return make


CASES.update(
    {name: ([square(2, 3, 3)], {}) for name in ("inv", "det", "slogdet", "cofactor")}
    | {"solve": ([square(2, 3, 3), f(2, 3, 2)], {}), "cholesky": ([square(2, 3, 3, spd=True)], {})}
)
CASES.update(
    {
        "svd": ([f(2, 4, 3)], {"full_matrices": False}),
        "solve_triangular": ([square(2, 3, 3), f(2, 3, 2)], {"upper": True, "unitriangular": False}),
        "cholesky_ex": ([square(2, 3, 3, spd=True)], {}),
        "lu_factor": ([square(2, 3, 3)], {}),
        "matrix_exp": ([f(2, 3, 3)], {}),
        "svdvals": ([f(3, 5)], {}),
        "eigh": ([square(2, 3, 3, spd=True)], {"uplo": "L"}),
        "eigvalsh": ([square(2, 3, 3, spd=True)], {"uplo": "U"}),
        "qr": ([f(2, 3, 5)], {"mode": "reduced"}),
        "pinv": ([f(2, 4, 3), lambda rng: np.zeros(()), lambda rng: np.full((), 1e-9)], {"hermitian": False}),
    }
)


def is_float(a: np.ndarray) -> bool:
    return a.dtype.kind == "f"


def xfail_wrong_arity(name: str, n_args: int) -> None:
    arity = OPS[name].arity
    if arity not in (-1, n_args):  # a registry bug (reported): the IR cannot hold such a node
        pytest.xfail(f"OPS[{name!r}].arity is {arity} but the op takes {n_args} arguments")


def one_op_graph(name: str, arrays: list[np.ndarray], attrs: dict) -> Graph:
    g = Graph("one_op")
    F = GraphOps(g)
    ins = [F.input(f"x{i}", a.shape, irgrad.dtypes.from_numpy_dtype(a.dtype)) for i, a in enumerate(arrays)]
    g.set_outputs([getattr(F, name)(*ins, **attrs).id])
    return verify(g)


def eager_grads(fn, arrays: list[np.ndarray], grad_outs: list[np.ndarray], double: list | None = None):
    """Outputs and input gradients by the eager engine (second-order terms with ``double``)."""
    tensors = [irgrad.tensor(a, requires_grad=is_float(a)) for a in arrays]
    wrt = [t for t, a in zip(tensors, arrays) if is_float(a)]
    outs = fn(*tensors)
    outs = list(outs) if isinstance(outs, (tuple, list)) else [outs]
    grads = irgrad.autograd.grad(
        outs,
        wrt,
        [irgrad.tensor(g) for g in grad_outs],
        create_graph=double is not None,
        allow_unused=True,
        materialize_grads=True,
    )
    values = [o.detach().numpy() for o in outs] + [g.detach().numpy() for g in grads]
    if double is None:
        return values
    pairs = [(g, irgrad.tensor(v)) for g, v in zip(grads, double) if g.requires_grad]
    if not pairs:
        return values + [np.zeros_like(a) for a in arrays if is_float(a)]
    second = irgrad.autograd.grad(
        [g for g, _ in pairs], wrt, [v for _, v in pairs], allow_unused=True, materialize_grads=True
    )
    return values + [s.numpy() for s in second]


def assert_all_close(actual: list, expected: list) -> None:
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected):
        assert a.shape == e.shape and a.dtype == e.dtype, (a.shape, a.dtype, e.shape, e.dtype)
        np.testing.assert_allclose(a, e, rtol=RTOL, atol=ATOL)


# --- the op namespace -------------------------------------------------------------------


def test_builder_appends_typed_nodes_and_weak_scalars():
    g = Graph("b")
    F = GraphOps(g)
    x = F.input("x", (4, 3), irgrad.float32)
    b = F.input("b", (3,), irgrad.float32)
    y = F.mul(F.add(x, b), 2.0)  # implicit broadcasting; the scalar takes x's dtype
    m = F.where(F.gt(y, 0), y, 0.0)  # the scalar of where takes the value operands' dtype
    s = F.sum(m, dims=(0,), keepdim=False)
    assert isinstance(s, Value) and s.shape == (3,) and s.dtype is irgrad.float32 and s.ndim == 1
    g.set_outputs([s.id])
    verify(g)
    assert F.mul(x, 2.0).graph is g
    assert sum(1 for n in g.nx if g.node(n).op == "constant") == 2  # 2.0 is made once; 0 and 0.0 share one
    xs = np.arange(12, dtype=np.float32).reshape(4, 3) - 5
    (out,) = interpret(g, [xs, np.ones(3, np.float32)])
    np.testing.assert_allclose(out, np.maximum((xs + 1) * 2, 0).sum(0))


def test_builder_errors_name_the_op():
    g = Graph("b")
    F = GraphOps(g)
    x = F.input("x", (4, 3), irgrad.float32)
    with pytest.raises(RuntimeError, match="matmul"):
        F.matmul(x, x)
    with pytest.raises(TypeError, match="add takes 2 arguments"):
        F.add(x)
    with pytest.raises(AttributeError, match="no_such_op"):
        F.no_such_op(x)
    with pytest.raises(TypeError, match="scalar"):
        F.mul(1.0, 2.0)
    with pytest.raises(TypeError, match="not representable"):
        F.mul(F.input("i", (2,), irgrad.int64), 0.5)


# --- joint graph layout -------------------------------------------------------------------


def test_joint_graph_text():
    g = parse_graph("""
    graph f(%x: f32[3], %y: f32[3]) -> (f32[3])
      %0: f32[3] = mul(%x, %y)
      %1: f32[3] = neg(%0)
      return %1
    """)
    before = str(g)
    joint = autodiff(g, wrt=[1])
    assert str(g) == before  # the argument is not mutated
    assert str(verify(joint)) == str(
        parse_graph("""
    graph f_joint(%x: f32[3], %y: f32[3], %grad_out0: f32[3]) -> (f32[3], f32[3])
      %0: f32[3] = mul(%x, %y)
      %1: f32[3] = neg(%0)
      %2: f32[3] = neg(%grad_out0)
      %3: f32[3] = mul(%2, %x)
      return %1, %3
    """)
    )


def test_default_wrt_is_float_inputs_and_unused_inputs_get_zeros():
    g = parse_graph("""
    graph f(%x: f64[3], %i: i64[3], %u: f64[2], %y: f64[3]) -> (f64[3], i64[3])
      %0: f64[3] = cast(%i, dtype=f64)
      %1: f64[3] = mul(%x, %0)
      %2: f64[3] = add(%1, %y)
      %3: i64[3] = mul(%i, %i)
      return %2, %3
    """)
    joint = verify(autodiff(g))
    assert [joint.node(n).name for n in joint.inputs] == ["x", "i", "u", "y", "grad_out0", "grad_out1"]
    assert [joint.node(n).type.shape for n in joint.outputs] == [(3,), (3,), (3,), (2,), (3,)]
    i, go = np.array([1, 2, 3]), np.array([0.5, -1.0, 2.0])
    out = interpret(joint, [np.ones(3), i, np.ones(2), np.ones(3), go, np.zeros(3, np.int64)])
    assert_all_close(out[2:], [go * i, np.zeros(2), go])
    with pytest.raises(TypeError, match="%i has dtype irgrad.int64"):
        autodiff(g, wrt=[1])
    with pytest.raises(IndexError, match="wrt position 7"):
        autodiff(g, wrt=[7])
    swapped = interpret(
        autodiff(g, wrt=[3, 0]), [np.ones(3), i, np.ones(2), np.ones(3), go, np.zeros(3, np.int64)]
    )
    assert_all_close(swapped[2:], [go, go * i])


def test_value_used_twice_and_output_used_twice_accumulate():
    g = parse_graph("""
    graph f(%x: f64[3]) -> (f64[3], f64[3], f64[3])
      %0: f64[3] = mul(%x, %x)
      %1: f64[3] = add(%0, %x)
      return %1, %1, %x
    """)
    x, a, b, c = np.array([1.0, -2.0, 3.0]), np.ones(3), np.full(3, 2.0), np.full(3, 10.0)
    out = interpret(verify(autodiff(g)), [x, a, b, c])
    assert_all_close(out[3:], [(a + b) * (2 * x + 1) + c])


def test_fused_nodes_are_differentiated_through_their_bodies():
    body = Graph("body")
    B = GraphOps(body)
    u, v = B.input("u", (4,), irgrad.float64), B.input("v", (4,), irgrad.float64)
    body.set_outputs([B.mul(B.tanh(u), B.add(v, 1.0)).id])
    g = Graph("f")
    x, y = (
        g.add_input("x", TensorType((4,), irgrad.float64)),
        g.add_input("y", TensorType((4,), irgrad.float64)),
    )
    call = g.add_op(FUSED, [x, y], {}, TensorType((4,), irgrad.float64), body=body)
    F = GraphOps(g)
    g.set_outputs([F.sum(F.mul(F.value(call), F.value(x)), dims=(0,), keepdim=False).id])
    verify(g)
    joint = verify(autodiff(g))
    assert all(joint.node(n).op != FUSED for n in joint.nx)
    rng = np.random.default_rng(0)
    xs, ys = rng.standard_normal(4), rng.standard_normal(4)
    expected = eager_grads(lambda a, b: ((a.tanh() * (b + 1.0)) * a).sum(), [xs, ys], [np.array(1.5)])
    assert_all_close(interpret(joint, [xs, ys, np.array(1.5)]), expected)


# --- every primitive's gradient against the eager engine ---------------------------------


# ops whose gradient rule refuses, with a clear error (lstm_scan's rule never emits
# lstm_scan_backward where its gradient would be taken, nor gru_scan's and rnn_scan's:
# tests/test_recurrent_scan.py)
REFUSED = {"lstm_scan_backward", "gru_scan_backward", "rnn_scan_backward"}
# igamma and igammac refuse the gradient of `a` (as PyTorch's), which these tests take
# with `x`'s: tests/test_special_igamma.py takes `x`'s alone, compiled
REFUSED |= {"igamma", "igammac"}
# complex values are never compiled (the tracer breaks the graph: tests/test_complex_compile.py)
REFUSED |= {"view_as_real", "view_as_complex", "fft_c2c", "fft_r2c", "fft_c2r"}


def test_every_differentiable_op_has_a_case():
    assert set(CASES) | REFUSED == {name for name, op in OPS.items() if op.vjp is not None}


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("seed", [0, 1])
def test_one_op_gradient_matches_eager(name, seed):
    rng = np.random.default_rng(seed)
    makers, attrs = CASES[name]
    xfail_wrong_arity(name, len(makers))
    arrays = [m(rng) for m in makers]
    g = one_op_graph(name, arrays, attrs)
    out_type = g.node(g.outputs[0]).type
    gout = rng.standard_normal(out_type.shape).astype(out_type.dtype.np)
    joint = verify(autodiff(g))
    expected = eager_grads(lambda *ts: apply(OPS[name], ts, attrs), arrays, [gout])
    assert_all_close(interpret(joint, arrays + [gout]), expected)


@pytest.mark.parametrize("name", sorted(CASES))
def test_one_op_second_derivative_matches_eager_double_backward(name):
    rng = np.random.default_rng(2)
    makers, attrs = CASES[name]
    xfail_wrong_arity(name, len(makers))
    arrays = [m(rng) for m in makers]
    g = one_op_graph(name, arrays, attrs)
    out_type = g.node(g.outputs[0]).type
    gout = rng.standard_normal(out_type.shape).astype(out_type.dtype.np)
    floats = [i for i, a in enumerate(arrays) if is_float(a)]
    vs = [rng.standard_normal(arrays[i].shape) for i in floats]
    joint = verify(autodiff(g))
    twice = verify(autodiff(joint, wrt=floats))
    feeds = arrays + [gout, np.zeros_like(gout)] + vs  # d(out) seeds 0: only the gradients' derivative
    expected = eager_grads(lambda *ts: apply(OPS[name], ts, attrs), arrays, [gout], double=vs)
    assert_all_close(interpret(twice, feeds), expected)


# --- random elementwise programs (values reused, implicit broadcasting) -------------------

UNARY_PROGRAM_OPS = ["tanh", "sin", "sigmoid", "neg", "exp"]
BINARY_PROGRAM_OPS = ["add", "sub", "mul", "maximum", "div"]


def run_program(F, program, x, b):
    """Apply ``program`` (a list of (op, argument indices)) to x (3, 4) and b (4,)."""
    values = [x, b]
    for name, args in program:
        operands = [values[i % len(values)] for i in args]
        if name == "div":
            operands[1] = F.add(F.mul(operands[1], operands[1]), 1.0)
        if name == "exp":
            operands[0] = F.tanh(operands[0])
        values.append(getattr(F, name)(*operands))
    return values[-1], values[-2]


programs = st.lists(
    st.one_of(
        st.tuples(st.sampled_from(UNARY_PROGRAM_OPS), st.tuples(st.integers(0, 20))),
        st.tuples(st.sampled_from(BINARY_PROGRAM_OPS), st.tuples(st.integers(0, 20), st.integers(0, 20))),
    ),
    min_size=1,
    max_size=8,
)


@settings(max_examples=40, deadline=None)
@given(program=programs, seed=st.integers(0, 2**16))
def test_random_programs_match_eager(program, seed):
    rng = np.random.default_rng(seed)
    x, b = rng.standard_normal((3, 4)), rng.standard_normal(4)
    g = Graph("program")
    F = GraphOps(g)
    outs = run_program(F, program, F.input("x", (3, 4), irgrad.float64), F.input("b", (4,), irgrad.float64))
    g.set_outputs([o.id for o in outs])
    joint = verify(autodiff(verify(g)))
    gouts = [rng.standard_normal(g.node(o).type.shape) for o in g.outputs]
    expected = eager_grads(lambda xt, bt: run_program(TENSOR_OPS, program, xt, bt), [x, b], gouts)
    assert_all_close(interpret(joint, [x, b] + gouts), expected)


def eager_replay(g: Graph, tensors: list) -> list:
    """Run ``g`` op by op on irgrad tensors (recording autograd), as eager code would."""
    env = dict(zip(g.inputs, tensors))
    for nid in g.order():
        node = g.node(nid)
        if node.op == CONSTANT:
            env[nid] = irgrad.tensor(node.value)
        elif node.op != INPUT:
            env[nid] = getattr(TENSOR_OPS, node.op)(*(env[a] for a in g.args(nid)), **node.attrs)
    return [env[o] for o in g.outputs]


@settings(max_examples=40, deadline=None)
@given(g=graphs(), seed=st.integers(0, 2**16))
def test_random_ir_graphs_match_eager(g, seed):
    rng = np.random.default_rng(seed)
    arrays = random_inputs(g, rng)
    gouts = [rng.standard_normal(g.node(o).type.shape).astype(g.node(o).type.dtype.np) for o in g.outputs]
    joint = verify(autodiff(g))
    with np.errstate(all="ignore"):
        got = interpret(joint, arrays + gouts)
        tensors = [irgrad.tensor(a, requires_grad=True) for a in arrays]
        outs = eager_replay(g, tensors)
        live = [(o, irgrad.tensor(go)) for o, go in zip(outs, gouts) if o.requires_grad]
        grads = [np.zeros_like(a) for a in arrays]
        if live:
            grads = [
                t.numpy()
                for t in irgrad.autograd.grad(
                    [o for o, _ in live],
                    tensors,
                    [go for _, go in live],
                    allow_unused=True,
                    materialize_grads=True,
                )
            ]
    expected = [o.detach().numpy() for o in outs] + grads
    assert len(got) == len(expected)
    for a, e in zip(got, expected):
        assert a.shape == e.shape and a.dtype == e.dtype
        np.testing.assert_allclose(a, e, rtol=1e-5, atol=1e-6, equal_nan=True)


# --- small models ---------------------------------------------------------------------


def mlp(F, x, w1, b1, w2, b2, target):
    """Two linear layers with relu, then log_softmax and a negative log-likelihood."""
    h = F.relu(F.add(F.matmul(x, F.permute(w1, dims=(1, 0))), b1))
    z = F.add(F.matmul(h, F.permute(w2, dims=(1, 0))), b2)
    shifted = F.sub(z, F.amax(z, dims=(1,), keepdim=True))
    logp = F.sub(shifted, F.log(F.sum(F.exp(shifted), dims=(1,), keepdim=True)))
    return F.neg(F.sum(F.mul(logp, target), dims=(0, 1), keepdim=False))


def conv_net(F, x, w, b):
    """A padded 3x3 convolution as im2col + matmul, then tanh(y) * y summed."""
    cols = F.im2col(
        F.pad(x, widths=((0, 0), (0, 0), (1, 1), (1, 1)), value=0.0),
        kernel=(3, 3),
        stride=(1, 1),
        dilation=(1, 1),
    )
    weight = F.permute(F.reshape(w, shape=(4, 27)), dims=(1, 0))
    y = F.add(F.matmul(cols, weight), b)
    return F.sum(F.mul(F.tanh(y), y), dims=(0, 1, 2), keepdim=False)


def lstm_cell(F, x, h, c, w_ih, w_hh, b):
    """One LSTM step: the gates from one matmul per input, sliced in four; returns (h', c')."""
    gates = F.add(
        F.add(F.matmul(x, F.permute(w_ih, dims=(1, 0))), F.matmul(h, F.permute(w_hh, dims=(1, 0)))), b
    )
    i, f_, g, o = (F.slice(gates, index=(slice(0, 3, 1), slice(4 * k, 4 * k + 4, 1))) for k in range(4))
    c2 = F.add(F.mul(F.sigmoid(f_), c), F.mul(F.sigmoid(i), F.tanh(g)))
    return F.mul(F.sigmoid(o), F.tanh(c2)), c2


def model_graph(fn, arrays: list[np.ndarray]) -> Graph:
    g = Graph(fn.__name__)
    F = GraphOps(g)
    outs = fn(F, *(F.input(f"a{i}", a.shape, irgrad.float64) for i, a in enumerate(arrays)))
    g.set_outputs([o.id for o in (outs if isinstance(outs, tuple) else (outs,))])
    return verify(g)


def model_inputs(rng):
    target = np.eye(3)[rng.integers(0, 3, 5)]
    return {
        mlp: [rng.standard_normal(s) for s in ((5, 6), (8, 6), (8,), (3, 8), (3,))] + [target],
        conv_net: [rng.standard_normal(s) for s in ((2, 3, 5, 5), (4, 3, 3, 3), (4,))],
        lstm_cell: [rng.standard_normal(s) for s in ((3, 5), (3, 4), (3, 4), (16, 5), (16, 4), (16,))],
    }


@pytest.mark.parametrize("model", [mlp, conv_net, lstm_cell], ids=lambda m: m.__name__)
def test_models_match_eager(model):
    rng = np.random.default_rng(3)
    arrays = model_inputs(rng)[model]
    g = model_graph(model, arrays)
    gouts = [rng.standard_normal(g.node(o).type.shape) for o in g.outputs]
    joint = verify(autodiff(g))
    expected = eager_grads(lambda *ts: model(TENSOR_OPS, *ts), arrays, gouts)
    assert_all_close(interpret(joint, arrays + gouts), expected)


def test_mlp_matches_public_functional_api():
    rng = np.random.default_rng(4)
    x, w1, b1, w2, b2, target = model_inputs(rng)[mlp]
    g = model_graph(mlp, [x, w1, b1, w2, b2, target])
    out = interpret(autodiff(g, wrt=[1, 2, 3, 4]), [x, w1, b1, w2, b2, target, np.array(1.0)])
    params = [irgrad.tensor(a, requires_grad=True) for a in (w1, b1, w2, b2)]
    hidden = irgrad.nn.functional.relu(irgrad.nn.functional.linear(irgrad.tensor(x), params[0], params[1]))
    logp = irgrad.nn.functional.log_softmax(irgrad.nn.functional.linear(hidden, params[2], params[3]), dim=1)
    loss = -(logp * irgrad.tensor(target)).sum()
    grads = irgrad.autograd.grad(loss, params)
    np.testing.assert_allclose(out[0], loss.item(), rtol=1e-12)
    for a, e in zip(out[1:], grads):
        np.testing.assert_allclose(a, e.numpy(), rtol=1e-9, atol=1e-12)


# --- higher derivatives ----------------------------------------------------------------


def test_second_derivative_of_sum_of_cubes_is_6x():
    g = parse_graph("""
    graph f(%x: f64[5]) -> (f64[])
      %0: f64[] = constant(3.0)
      %1: f64[5] = pow(%x, %0)
      %2: f64[] = sum(%1, dims=(0,), keepdim=False)
      return %2
    """)
    twice = verify(autodiff(autodiff(g), wrt=[0]))
    assert [twice.node(n).name for n in twice.inputs] == ["x", "grad_out0", "dgrad_out0", "dgrad_out1"]
    x = np.array([-2.0, -0.5, 0.0, 1.0, 3.0])
    y, dx, d2x = interpret(twice, [x, np.array(1.0), np.array(0.0), np.ones(5)])
    assert_all_close([y, dx, d2x], [np.sum(x**3), 3 * x**2, 6 * x])


@pytest.mark.parametrize("model", [mlp, conv_net, lstm_cell], ids=lambda m: m.__name__)
def test_hessian_vector_products_match_finite_differences(model):
    rng = np.random.default_rng(5)
    arrays = model_inputs(rng)[model]
    g = model_graph(model, arrays)
    gouts = [rng.standard_normal(g.node(o).type.shape) for o in g.outputs]
    n_in = len(arrays)
    joint = verify(autodiff(g))
    twice = verify(autodiff(joint, wrt=list(range(n_in))))
    vs = [rng.standard_normal(a.shape) for a in arrays]
    zero_seeds = [np.zeros_like(o) for o in gouts]
    hvp = interpret(twice, arrays + gouts + zero_seeds + vs)[-n_in:]
    eps = 1e-5
    plus = interpret(joint, [a + eps * v for a, v in zip(arrays, vs)] + gouts)[len(gouts) :]
    minus = interpret(joint, [a - eps * v for a, v in zip(arrays, vs)] + gouts)[len(gouts) :]
    for h, p, m in zip(hvp, plus, minus):
        np.testing.assert_allclose(h, (p - m) / (2 * eps), rtol=1e-5, atol=1e-6)


def test_integer_and_bool_values_stop_gradients():
    g = parse_graph("""
    graph f(%x: f64[4]) -> (f64[4])
      %0: f64[] = constant(0.0)
      %1: bool[4] = gt(%x, %0)
      %2: f64[4] = cast(%1, dtype=f64)
      %3: f64[4] = mul(%2, %x)
      return %3
    """)
    joint = verify(autodiff(g))
    x = np.array([-1.0, 2.0, -3.0, 4.0])
    assert_all_close(interpret(joint, [x, np.ones(4)])[1:], [(x > 0).astype(np.float64)])


def test_float_dtypes_are_kept():
    g = parse_graph("""
    graph f(%x: f32[4], %y: f64[4]) -> (f64[])
      %0: f64[4] = cast(%x, dtype=f64)
      %1: f64[4] = mul(%0, %y)
      %2: f64[] = sum(%1, dims=(0,), keepdim=False)
      return %2
    """)
    joint = verify(autodiff(g))
    assert [joint.node(n).type.dtype for n in joint.outputs] == [
        irgrad.float64,
        irgrad.float32,
        irgrad.float64,
    ]
