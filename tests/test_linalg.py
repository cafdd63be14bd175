"""irgrad.linalg (norms, inv, det, slogdet, solve, cholesky) and irgrad.inverse/det/slogdet.

Values, dtypes and gradients against PyTorch (skipped without it), PyTorch's errors,
float64 finite differences (first and second order), and a compiled function against
eager.  The primitives' registry invariants are in test_registry, test_ops_gradcheck and
test_pass_autodiff.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import run_both

import irgrad
from irgrad.autograd import gradcheck, gradgradcheck

rng = np.random.default_rng(5)


def matrices(*shape, dtype=np.float64, spd=False):
    """Well-conditioned square matrices (symmetric positive-definite with ``spd``)."""
    n = shape[-1]
    x = rng.standard_normal(shape)
    x = x @ np.swapaxes(x, -1, -2) if spd else x
    return (x + n * np.eye(n)).astype(dtype)


def lib_linalg(lib):
    return lib.linalg


# --- norms ---------------------------------------------------------------------------------

VECTOR_NORMS = [
    (2, None, False),
    (1, 1, True),
    (3.5, (0, 2), False),
    (math.inf, -1, False),
    (-math.inf, 0, True),
    (0, None, False),
    (-1, 1, False),
    (0.5, (), False),
]


@pytest.mark.parametrize("ord,dim,keepdim", VECTOR_NORMS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_vector_norm_matches_torch(ord, dim, keepdim, dtype):
    x = rng.standard_normal((2, 3, 4)).astype(dtype)
    run_both(lambda lib, t: lib.linalg.vector_norm(t, ord, dim, keepdim), x)


@pytest.mark.parametrize(
    "ord,dim,keepdim",
    [("fro", (-2, -1), False), (1, (-2, -1), True), (-1, (0, 2), False), (math.inf, (2, 0), True)]
    + [(-math.inf, (1, 2), False), ("fro", (1, 0), True)],
)
def test_matrix_norm_matches_torch(ord, dim, keepdim):
    x = rng.standard_normal((2, 3, 4))
    run_both(lambda lib, t: lib.linalg.matrix_norm(t, ord, dim, keepdim), x)


@pytest.mark.parametrize(
    "shape,kwargs",
    [
        ((3, 4), {}),
        ((2, 3, 4), {}),
        ((3, 4), {"ord": 1}),
        ((3, 4), {"ord": math.inf}),
        ((3, 4), {"ord": "fro"}),
        ((4,), {"ord": 3}),
        ((2, 3, 4), {"ord": 1, "dim": (2, 1)}),
        ((2, 3, 4), {"ord": 3, "dim": 1, "keepdim": True}),
        ((2, 3, 4), {"dim": (0, 1)}),
        ((2, 3, 4), {"ord": "fro", "dim": (0, 2)}),
        ((3, 4), {"dtype": irgrad.float64}),
    ],
)
def test_norm_dispatches_as_torch(shape, kwargs):
    x = rng.standard_normal(shape).astype(np.float32)

    def fn(lib, t):
        args = dict(kwargs)
        if "dtype" in args:
            args["dtype"] = lib.float64
        return lib.linalg.norm(t, **args)

    run_both(fn, x)


@pytest.mark.parametrize(
    "args, kwargs",
    [
        ((), {}),
        (("fro",), {"dim": (0, 2)}),
        (("fro",), {"dim": 1, "keepdim": True}),
        ((1,), {"dim": (0, 2)}),
        ((math.inf,), {}),
        ((-math.inf,), {"dim": 2}),
        ((0.5,), {"dim": -1}),
        ((3,), {"dim": (0, 1, 2)}),
        ((None,), {}),
        ((2,), {"dtype": "float64"}),
        (("fro",), {"dim": (0, 1, 2)}),
        (("inf",), {}),
    ],
)
def test_torch_norm_dispatches_and_refuses_as_torch(args, kwargs):
    """torch.norm (and Tensor.norm): 'fro' over at most two dims is the vector 2-norm,
    other strings (or 'fro' over three dims) go to matrix_norm and its errors."""
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((2, 3, 4)).astype(np.float32)
    outcomes = []
    for lib in (irgrad, torch):
        kw = {**kwargs, "dtype": lib.float64} if "dtype" in kwargs else kwargs
        try:
            outcomes.append(lib.norm(lib.tensor(x), *args, **kw).numpy())
        except (RuntimeError, NotImplementedError) as error:
            outcomes.append(type(error))
    ours, theirs = outcomes
    if isinstance(theirs, type):
        assert isinstance(ours, type), f"torch raises {theirs.__name__}, irgrad gave {ours}"
    else:
        np.testing.assert_allclose(ours, theirs, rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.int64, np.bool_])
def test_torch_norm_refuses_integer_input_as_torch(dtype):
    with pytest.raises(RuntimeError, match="Expected a floating point"):
        irgrad.norm(irgrad.tensor(np.ones(3, dtype)))


def test_norm_of_zeros_has_a_zero_gradient_as_torch():
    run_both(lambda lib, t: lib.linalg.vector_norm(t, 2, 1), np.zeros((2, 3)))


@pytest.mark.parametrize("ord", [0.5, -0.5, -1, -2])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_norm_below_one_at_zero_elements_has_torchs_gradient(ord, dtype):
    # |x|**p with p < 1 has an infinite derivative at 0, times sign(0): irgrad's gradient
    # was NaN there, PyTorch's is 0 (and NaN where the norm is inf); found by probing
    x = np.array([[1.0, 0.0, -2.0], [0.0, 0.0, 0.0], [3.0, -0.0, np.inf]], dtype)
    run_both(lambda lib, t: lib.linalg.vector_norm(t, ord, 1), x)
    run_both(lambda lib, t: lib.norm(t, ord), x[:2])


def test_float16_norms_are_computed_in_float32_as_torch():
    # irgrad powered and summed float16 elements in float16: inf past 65504 where PyTorch's
    # kernel accumulates in float32 and rounds once (found by probing)
    x = (np.random.default_rng(0).standard_normal((4, 50)) * 30).astype(np.float16)
    for ord in (2, 3, 0.5, 1, math.inf):
        run_both(lambda lib, t, o=ord: lib.linalg.vector_norm(t, o, 1), x, grad=False, rtol=1e-3)
    run_both(lambda lib, t: lib.linalg.matrix_norm(t), x, grad=False, rtol=1e-3)
    run_both(lambda lib, t: lib.norm(t, 3), x, grad=False, rtol=1e-3)
    x = irgrad.tensor(np.full(100, 1000.0, np.float16))
    assert (
        irgrad.linalg.vector_norm(x).item() == 10000.0
        and irgrad.linalg.vector_norm(x).dtype == irgrad.float16
    )


def test_empty_matrix_norms_and_extrema_as_torch():
    # matrix_norm with ord 1/inf of an empty matrix is 0, as PyTorch's; ord -1/-inf and
    # amax/amin over an empty dim raise PyTorch's IndexError (irgrad raised a RuntimeError)
    torch = pytest.importorskip("torch")
    for shape in [(0, 4), (4, 0)]:
        for ord in (1, math.inf):
            for dim in ((-2, -1), (1, 0)):
                run_both(lambda lib, t, o=ord, d=dim: lib.linalg.matrix_norm(t, o, d), np.zeros(shape))
    for lib in (irgrad, torch):
        for ord in (-1, -math.inf):
            with pytest.raises(IndexError, match="Expected reduction dim 0 to have non-zero size"):
                lib.linalg.matrix_norm(lib.zeros(0, 4), ord, (1, 0) if ord == -1 else (-2, -1))
        with pytest.raises(IndexError, match="amin\\(\\): Expected reduction dim -1 to have non-zero size"):
            lib.amin(lib.zeros(4, 0), -1)
        with pytest.raises(IndexError, match="amax\\(\\): Expected reduction dim 2 to have non-zero size"):
            lib.amax(lib.zeros(2, 0, 0), (2, 1))
        with pytest.raises(RuntimeError, match="Specify the reduction dim"):
            lib.amax(lib.zeros(0, 4))
        assert tuple(lib.amax(lib.zeros(0, 4), 1).shape) == (0,)


NORM_ERRORS = [
    (lambda L, x: L.vector_norm(x.long()), RuntimeError, "Expected a floating point"),
    (lambda L, x: L.vector_norm(x, dtype=x.long().dtype), RuntimeError, "dtype should be floating point"),
    (lambda L, x: L.vector_norm(x.double(), dtype=x.dtype), RuntimeError, "without narrowing"),
    (lambda L, x: L.vector_norm(x, "fro"), TypeError, "must be Number, not str"),
    (lambda L, x: L.vector_norm(x[:0], math.inf), RuntimeError, "on an empty tensor"),
    (lambda L, x: L.vector_norm(x[:0], -1, dim=0), RuntimeError, "on the dimension 0"),
    (lambda L, x: L.vector_norm(x, 2, dim=5), IndexError, "Dimension out of range"),
    (lambda L, x: L.matrix_norm(x[0]), RuntimeError, "at least 2 dimensions"),
    (lambda L, x: L.matrix_norm(x, 3), RuntimeError, "Order 3 not supported"),
    (lambda L, x: L.matrix_norm(x, "abc"), RuntimeError, "Order abc not supported"),
    (lambda L, x: L.matrix_norm(x, dim=(0, 0)), RuntimeError, "dims must be different"),
    (lambda L, x: L.matrix_norm(x, dim=(0,)), RuntimeError, "dim must be a 2-tuple"),
    (lambda L, x: L.matrix_norm(x.long()), RuntimeError, "Expected a floating point"),
    (lambda L, x: L.norm(x.unsqueeze(0), 1), RuntimeError, "must be 1D or 2D. Got 3D"),
    (lambda L, x: L.norm(x, dim=(0, 1, 1)), RuntimeError, "must be of length 1 or 2"),
    (lambda L, x: L.norm(x, "fro", dim=1), RuntimeError, "dim must be a 2-tuple"),
]


@pytest.mark.parametrize("call,error,message", NORM_ERRORS)
def test_norm_errors_are_torchs(call, error, message):
    torch = pytest.importorskip("torch")
    x = np.arange(12.0, dtype=np.float32).reshape(3, 4)
    for lib in (irgrad, torch):
        with pytest.raises(error, match=message):
            call(lib.linalg, lib.tensor(x))


@pytest.mark.parametrize(
    "fn",
    [
        lambda x: irgrad.linalg.vector_norm(x, 3.5, 1),
        lambda x: irgrad.linalg.vector_norm(x, -1.5),
        lambda x: irgrad.linalg.matrix_norm(x, 1),
        lambda x: irgrad.linalg.matrix_norm(x, -math.inf, keepdim=True),
        lambda x: irgrad.linalg.norm(x, "fro", (0, 1)),
    ],
)
def test_norm_gradients_by_finite_differences(fn):
    x = irgrad.tensor(rng.standard_normal((3, 4)) + 0.5, requires_grad=True)
    assert gradcheck(fn, (x,))


# --- inv, det, slogdet, solve, cholesky: values and gradients against torch ----------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(3, 3), (2, 4, 4), (2, 1, 3, 3)])
def test_factorizations_match_torch(dtype, shape):
    a = matrices(*shape, dtype=dtype)
    tol = {"atol": 1e-4, "rtol": 1e-4} if dtype == np.float32 else {"atol": 1e-10, "rtol": 1e-10}
    run_both(lambda lib, t: lib.linalg.inv(t), a, **tol)
    run_both(lambda lib, t: lib.inverse(t), a, **tol)
    run_both(lambda lib, t: t.inverse(), a, **tol)
    run_both(lambda lib, t: lib.linalg.det(t), a, **tol)
    run_both(lambda lib, t: t.det(), a, **tol)
    run_both(lambda lib, t: lib.linalg.slogdet(-t), a, **tol)
    run_both(lambda lib, t: lib.slogdet(t), a, **tol)
    run_both(lambda lib, t: t.slogdet(), a, **tol)
    spd = matrices(*shape, dtype=dtype, spd=True)
    run_both(lambda lib, t: lib.linalg.cholesky(t @ t.mT), spd, **tol)
    run_both(lambda lib, t: lib.linalg.cholesky(t + t.mT, upper=True), spd, **tol)


@pytest.mark.parametrize(
    "a_shape,b_shape,left",
    [
        ((3, 3), (3,), True),
        ((3, 3), (3, 4), True),
        ((2, 3, 3), (3,), True),
        ((2, 3, 3), (2, 3), True),
        ((2, 3, 3), (3, 3), True),
        ((1, 3, 3), (5, 3, 2), True),
        ((2, 1, 3, 3), (4, 3, 1), True),
        ((3, 3), (4, 3), False),
        ((2, 3, 3), (5, 3), False),
    ],
)
def test_solve_matches_torch(a_shape, b_shape, left):
    a, b = matrices(*a_shape), rng.standard_normal(b_shape)
    run_both(lambda lib, x, y: lib.linalg.solve(x, y, left=left), a, b, atol=1e-10, rtol=1e-9)


def test_empty_matrices_as_torch():
    for shape in [(0, 0), (2, 0, 0)]:
        a = np.zeros(shape, np.float32)
        run_both(lambda lib, t: lib.linalg.inv(t), a, grad=False)
        run_both(lambda lib, t: lib.linalg.det(t), a, grad=False)
        run_both(lambda lib, t: lib.linalg.slogdet(t), a, grad=False)
        run_both(lambda lib, t: lib.linalg.cholesky(t), a, grad=False)


def test_singular_matrices_values_as_torch():
    singular = np.array([[1.0, 2.0], [2.0, 4.0]])
    run_both(lambda lib, t: lib.linalg.det(t), singular, grad=False)
    run_both(lambda lib, t: lib.linalg.slogdet(t), singular, grad=False)
    nan = np.array([[np.nan, 2.0], [1.0, 3.0]])
    run_both(lambda lib, t: lib.linalg.inv(t), nan, grad=False)
    run_both(lambda lib, t: lib.linalg.det(t), nan, grad=False)


def test_matrices_holding_nan_give_nan_as_torch():
    # LAPACK's LU takes a NaN pivot for zero: numpy's det was 0 and slogdet -inf, inv and
    # solve raised LinAlgError (found by probing; the cases above pivot past the NaN)
    for nan in (
        np.array([[np.nan, 1.0], [1.0, 1.0]]),
        np.array([[[1.0, 0.0], [0.0, np.nan]], [[2.0, 1.0], [1.0, 1.0]]]),
    ):
        for dtype in (np.float32, np.float64):
            a = nan.astype(dtype)
            run_both(lambda lib, t: lib.linalg.det(t), a, grad=False)
            run_both(lambda lib, t: lib.linalg.slogdet(t), a, grad=False)
            run_both(lambda lib, t: lib.linalg.inv(t), a, grad=False)
            run_both(lambda lib, t: lib.linalg.solve(t, t.new_ones(t.shape[:-1])), a, grad=False)
    a = irgrad.tensor([[np.nan, 1.0], [1.0, 1.0]], requires_grad=True)
    irgrad.linalg.det(a).backward()  # det's gradient took the SVD of the NaN matrix: raised
    assert np.isnan(a.grad.numpy()).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cholesky_upper_reads_the_upper_triangle_as_torch(dtype):
    # LAPACK's potrf with uplo='U', PyTorch's upper=True, reads A's upper triangle: irgrad
    # read the lower one and transposed the factor (found by probing a non-symmetric A)
    a = matrices(2, 3, 3, spd=True) + np.triu(np.ones((3, 3)), 1)
    run_both(lambda lib, t: lib.linalg.cholesky(t, upper=True), a.astype(dtype), atol=1e-4)
    run_both(lambda lib, t: lib.linalg.cholesky(t), a.astype(dtype), atol=1e-4)


def test_slogdet_logabsdet_survives_underflow():
    a = irgrad.tensor(np.eye(400) * 1e-3, requires_grad=True)
    sign, logabsdet = irgrad.linalg.slogdet(a)
    assert sign.item() == 1.0
    assert logabsdet.item() == pytest.approx(400 * math.log(1e-3))
    assert irgrad.linalg.det(a).item() == 0.0  # (underflows: why flows use slogdet)
    logabsdet.backward()
    np.testing.assert_allclose(a.grad.numpy(), np.eye(400) * 1e3)


def test_det_gradient_at_singular_matrices_is_the_cofactor_matrix():
    # det is a polynomial: its gradient, the matrix of cofactors, exists everywhere.
    # PyTorch 2.13 returns zeros for this matrix (docs/pytorch-differences.md).
    a = irgrad.tensor([[1.0, 2.0], [2.0, 4.0]], dtype=irgrad.float64, requires_grad=True)
    irgrad.linalg.det(a).backward()
    np.testing.assert_allclose(a.grad.numpy(), [[4.0, -2.0], [-2.0, 1.0]], rtol=1e-15, atol=1e-15)
    rank_one = irgrad.tensor(np.outer([1.0, 2.0, 3.0], [1.0, -1.0, 0.5]), requires_grad=True)
    assert gradcheck(irgrad.linalg.det, (rank_one,))


# --- errors --------------------------------------------------------------------------------

FACTORIZATION_ERRORS = [
    (lambda L, t: L.inv(t.ones(2, 3)), "A must be batches of square matrices, but they are 2 by 3"),
    (lambda L, t: L.inv(t.ones(3)), "must have at least 2 dimensions"),
    (lambda L, t: L.inv(t.ones(3, 3, dtype=t.int64)), "Expected a floating point or complex tensor"),
    (lambda L, t: L.inv(t.ones(3, 3, dtype=t.float16)), "Low precision dtypes not supported. Got Half"),
    (lambda L, t: L.det(t.ones(2, 3)), "linalg.det: A must be batches of square matrices"),
    (
        lambda L, t: L.slogdet(t.ones(3, dtype=t.int64)),
        "linalg.slogdet: The input tensor A must have at least",
    ),
    (lambda L, t: L.slogdet(t.ones(3, 3, dtype=t.int64)), "linalg.slogdet: Expected a floating point"),
    (lambda L, t: L.solve(t.ones(3, dtype=t.int64), t.ones(3)), "linalg.solve: Expected a floating point"),
    (lambda L, t: L.solve(t.eye(1), t.ones(1), left=False), "Vector broadcasting of the left hand side"),
    (lambda L, t: L.solve(t.ones(2, 3, 3), t.ones(4, 3)), r"equation AX = B \(3x3 and 4x3\)"),
    (lambda L, t: L.cholesky(t.ones(4, 2, 3)), "linalg.cholesky: A must be batches of square"),
    (lambda L, t: L.solve(t.ones(2, 3), t.ones(2)), "linalg.solve: A must be batches of square"),
    (lambda L, t: L.solve(t.eye(3), t.ones(4)), r"equation AX = B \(3x3 and 4x1\)"),
    (lambda L, t: L.solve(t.eye(3), t.ones(3, 4), left=False), r"equation XA = B \(3x3 and 3x4\)"),
    (lambda L, t: L.solve(t.eye(3), t.ones(3, dtype=t.float64)), "Expected A and B to have the same dtype"),
    (lambda L, t: L.solve(t.ones(2, 3, 3), t.ones(5, 3, 2)), r"size of tensor a \(5\) must match"),
]


@pytest.mark.parametrize("call,message", FACTORIZATION_ERRORS)
def test_argument_errors_are_torchs(call, message):
    torch = pytest.importorskip("torch")
    for lib in (irgrad, torch):
        with pytest.raises(RuntimeError, match=message):
            call(lib.linalg, lib)


SINGULAR = [
    (lambda L, t: L.inv(t.zeros(3, 3)), "The diagonal element 1 is zero"),
    (lambda L, t: L.inv(t.tensor([[1.0, 2.0], [2.0, 4.0]])), "The diagonal element 2 is zero"),
    (lambda L, t: L.inv(t.stack([t.eye(3), t.zeros(3, 3)])), r"\(Batch element 1\): The diagonal element 1"),
    (lambda L, t: L.solve(t.zeros(3, 3), t.ones(3)), "^torch.linalg.solve: The solver failed"),
    (lambda L, t: L.solve(t.stack([t.eye(2), t.zeros(2, 2)]), t.ones(2)), r"\(Batch element 1\): The solver"),
    (lambda L, t: L.cholesky(-t.eye(3)), "the leading minor of order 1 is not positive-definite"),
    (lambda L, t: L.cholesky(t.tensor([[1.0, 2.0], [2.0, 1.0]])), "leading minor of order 2"),
    (lambda L, t: L.cholesky(t.stack([t.eye(2), -t.eye(2)])), r"\(Batch element 1\): The factorization"),
    (lambda L, t: L.cholesky(t.tensor([[float("nan"), 0.0], [0.0, 1.0]])), "leading minor of order 1"),
]


@pytest.mark.parametrize("call,message", SINGULAR)
def test_singular_and_indefinite_matrices_raise_linalg_error(call, message):
    torch = pytest.importorskip("torch")
    with pytest.raises(irgrad.linalg.LinAlgError, match=message) as mine:
        call(irgrad.linalg, irgrad)
    with pytest.raises(torch.linalg.LinAlgError) as theirs:
        call(torch.linalg, torch)
    assert str(mine.value) == str(theirs.value)
    assert isinstance(mine.value, RuntimeError)


# --- finite differences, second order ------------------------------------------------------


def _spd(x):
    return x @ x.mT + 3 * irgrad.eye(x.shape[-1], dtype=x.dtype)


@pytest.mark.parametrize(
    "fn,shapes",
    [
        (lambda a: irgrad.linalg.inv(a), [(2, 3, 3)]),
        (lambda a: irgrad.linalg.det(a), [(3, 3)]),
        (lambda a: irgrad.linalg.slogdet(a).logabsdet, [(2, 3, 3)]),
        (lambda a, b: irgrad.linalg.solve(a, b), [(3, 3), (3, 2)]),
        (lambda x: irgrad.linalg.cholesky(_spd(x)), [(3, 3)]),
    ],
)
def test_second_derivatives_by_finite_differences(fn, shapes):
    inputs = [
        irgrad.tensor(matrices(*s) if s[-1] == s[-2] else rng.standard_normal(s), requires_grad=True)
        for s in shapes
    ]
    assert gradgradcheck(fn, inputs)


# --- compiled ------------------------------------------------------------------------------


def _flow_step(a, b, x):
    """A normalizing-flow style loss touching every primitive: slogdet, inv, solve, det,
    cholesky and the norms."""
    sign, logabsdet = irgrad.linalg.slogdet(a)
    z = irgrad.linalg.solve(a, x)
    spd = b @ b.mT + irgrad.eye(3, dtype=b.dtype)
    chol = irgrad.linalg.cholesky(spd)
    return (
        irgrad.linalg.vector_norm(z, dim=-1).sum()
        - logabsdet.sum()
        + irgrad.linalg.matrix_norm(irgrad.inverse(a), 1).sum()
        + irgrad.linalg.det(chol).sum() * sign.sum()
        + irgrad.linalg.norm(chol, "fro", dim=(-2, -1)).sum()
    )


def test_compiled_function_gives_eager_values_and_gradients(backend):
    a_np, b_np, x_np = matrices(2, 3, 3), rng.standard_normal((2, 3, 3)), rng.standard_normal((2, 3))
    compiled = irgrad.compile(_flow_step, backend=backend)
    for _ in range(2):  # the first call captures, the second runs the compiled graphs
        results = []
        for fn in (_flow_step, compiled):
            a, b, x = (irgrad.tensor(v, requires_grad=True) for v in (a_np, b_np, x_np))
            loss = fn(a, b, x)
            loss.backward()
            results.append([loss.detach().numpy(), a.grad.numpy(), b.grad.numpy(), x.grad.numpy()])
        for got, want in zip(results[1], results[0]):
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    graphs = str(irgrad.trace(_flow_step, irgrad.tensor(a_np), irgrad.tensor(b_np), irgrad.tensor(x_np)))
    for op in ("slogdet", "solve", "inv", "det", "cholesky"):
        assert f" {op}(" in graphs, op


def test_compiled_singular_matrix_raises_linalg_error(backend):
    step = irgrad.compile(lambda a: irgrad.linalg.inv(a).sum(), backend=backend)
    step(irgrad.eye(2))
    with pytest.raises(irgrad.linalg.LinAlgError, match="singular"):
        step(irgrad.zeros(2, 2))
