"""Triangular and Cholesky solves, the LU factorization and its solves, the ``_ex``
variants, ``matrix_exp``, and ``vecdot``/``multi_dot``/``vander``/``diagonal``/``matmul``
of ``torch.linalg`` (and ``torch.triangular_solve``, ``cholesky_solve``,
``cholesky_inverse``, ``lu``, ``lu_unpack``, ``matrix_exp`` and their Tensor methods).

Against PyTorch 2.13 (skipped without it): values, dtypes, pivots and infos on random
well-conditioned batched matrices (size-0 batches too), float64 gradients through
``torch.autograd`` with random cotangents, and errors with their messages.  Without
PyTorch: finite differences (first and second order) and compiled (llvm, train)
against eager.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import run_both

import irgrad
from irgrad.autograd import gradcheck, gradgradcheck
from irgrad.testing import check_compiled

rng = np.random.default_rng(5)
BATCHES = [(), (2,), (2, 1), (0,)]


def well_conditioned(*shape, dtype=np.float64):
    n = shape[-1]
    return (rng.standard_normal(shape) + n * np.eye(n)).astype(dtype)


def normal(*shape, dtype=np.float64):
    return rng.standard_normal(shape).astype(dtype)


def lower_factor(*shape):
    """Cholesky factors of well-conditioned SPD matrices."""
    a = well_conditioned(*shape)
    return np.linalg.cholesky(a @ np.swapaxes(a, -1, -2)) if a.size else a


def torch_module():
    return pytest.importorskip("torch")


def same_error(call, *arrays, match=None):
    """``call(lib, *tensors)`` raises the same exception type with the same message in
    irgrad as in PyTorch."""
    torch = torch_module()
    errors = []
    for lib in (irgrad, torch):
        with pytest.raises(Exception) as info:
            call(lib, *(lib.tensor(a) for a in arrays))
        errors.append(info.value)
    ours, theirs = errors
    kind = next(k for k in (NotImplementedError, RuntimeError, TypeError) if isinstance(theirs, k))
    assert isinstance(ours, kind), (ours, theirs)
    assert str(ours) == (match or str(theirs)), (str(ours), str(theirs))


# --- triangular solves -------------------------------------------------------------------------


@pytest.mark.parametrize("batch", BATCHES)
@pytest.mark.parametrize("upper", [False, True])
@pytest.mark.parametrize("left", [False, True])
@pytest.mark.parametrize("unitriangular", [False, True])
def test_solve_triangular_matches_torch(batch, upper, left, unitriangular):
    b = normal(*batch, 4, 2) if left else normal(*batch, 2, 4)
    run_both(
        lambda lib, a, b: lib.linalg.solve_triangular(
            a, b, upper=upper, left=left, unitriangular=unitriangular
        ),
        well_conditioned(*batch, 4, 4),
        b,
        atol=1e-10,
    )


def test_solve_triangular_broadcasts_and_float32():
    run_both(
        lambda lib, a, b: lib.linalg.solve_triangular(a, b, upper=False),
        well_conditioned(3, 3, dtype=np.float32),
        normal(2, 3, 3, 2, dtype=np.float32),
    )


def test_solve_triangular_zero_diagonal_gives_infinities():
    run_both(
        lambda lib, a, b: lib.linalg.solve_triangular(a, b, upper=True),
        np.array([[0.0, 1.0], [0.0, 1.0]]),
        np.ones((2, 1)),
        grad=False,
    )


@pytest.mark.parametrize("upper", [False, True])
@pytest.mark.parametrize("transpose", [False, True])
def test_triangular_solve_matches_torch(upper, transpose):
    pytest.importorskip("torch")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run_both(
            lambda lib, b, a: tuple(lib.triangular_solve(b, a, upper=upper, transpose=transpose)),
            normal(2, 3, 2),
            well_conditioned(3, 3),
            atol=1e-10,
        )


@pytest.mark.parametrize("upper", [False, True])
def test_cholesky_solve_and_inverse_match_torch(upper):
    factor = lower_factor(2, 3, 3)
    if upper:
        factor = np.swapaxes(factor, -1, -2).copy()
    run_both(lambda lib, b, f: lib.cholesky_solve(b, f, upper), normal(2, 3, 4), factor, atol=1e-9)
    run_both(lambda lib, f: lib.cholesky_inverse(f, upper), factor[0], atol=1e-9)
    run_both(lambda lib, f: f.cholesky_inverse(upper), factor, atol=1e-9)


# --- Cholesky, inverse and solve with info -------------------------------------------------------


def test_cholesky_ex_matches_torch_including_failures():
    good = lower_factor(2, 3, 3)
    spd = good @ np.swapaxes(good, -1, -2)
    run_both(lambda lib, a: tuple(lib.linalg.cholesky_ex(a)), spd, atol=1e-10)
    run_both(lambda lib, a: tuple(lib.linalg.cholesky_ex(a, upper=True)), spd, atol=1e-10)
    bad = np.array([[[4.0, 2, 1], [2, -3, 0], [1, 0, 2]], [[2.0, 0, 0], [0, 2, 0], [0, 0, 2]]])
    run_both(lambda lib, a: tuple(lib.linalg.cholesky_ex(a)), bad, grad=False)
    run_both(lambda lib, a: tuple(lib.linalg.cholesky_ex(a)), np.zeros((0, 2, 2)), grad=False)
    same_error(lambda lib, a: lib.linalg.cholesky_ex(a, check_errors=True), -np.eye(3)[None].repeat(2, 0))


def test_inv_ex_and_solve_ex_match_torch():
    a = well_conditioned(2, 3, 3)
    run_both(lambda lib, a: tuple(lib.linalg.inv_ex(a)), a, atol=1e-10)
    run_both(lambda lib, a, b: tuple(lib.linalg.solve_ex(a, b)), a, normal(2, 3, 2), atol=1e-10)
    run_both(lambda lib, a, b: tuple(lib.linalg.solve_ex(a, b)), a, normal(3), atol=1e-10)
    run_both(lambda lib, a, b: tuple(lib.linalg.solve_ex(a, b, left=False)), a, normal(4, 3), atol=1e-10)
    singular = np.array([[1.0, 2.0], [2.0, 4.0]])
    run_both(lambda lib, a: tuple(lib.linalg.inv_ex(a)), singular, grad=False)
    run_both(lambda lib, a, b: tuple(lib.linalg.solve_ex(a, b)), singular, np.ones((2, 1)), grad=False)
    stacked = np.stack([np.eye(2), singular])
    same_error(lambda lib, a: lib.linalg.inv_ex(a, check_errors=True), stacked)


# --- LU ----------------------------------------------------------------------------------------------

LU_SHAPES = [(4, 4), (2, 3, 3), (3, 5), (2, 5, 3), (0, 3, 3), (2, 1, 4, 4)]


@pytest.mark.parametrize("shape", LU_SHAPES)
def test_lu_factor_matches_torch(shape):
    a = normal(*shape)
    run_both(lambda lib, a: tuple(lib.linalg.lu_factor_ex(a)), a, atol=1e-10)
    run_both(lambda lib, a: tuple(lib.linalg.lu_factor(a)), a, atol=1e-10)
    run_both(lambda lib, a: tuple(lib.linalg.lu(a)), a, atol=1e-10)
    run_both(lambda lib, a: tuple(lib.lu(a, get_infos=True)), a, atol=1e-10)
    run_both(lambda lib, a: tuple(a.lu()), a, atol=1e-10)
    run_both(lambda lib, a: tuple(lib.linalg.lu_factor(a.float())), a, grad=False)


@pytest.mark.parametrize("shape", [(3, 3), (2, 3, 5), (2, 5, 3)])
def test_lu_unpack_matches_torch(shape):
    run_both(lambda lib, a: tuple(lib.lu_unpack(*lib.linalg.lu_factor(a))), normal(*shape), atol=1e-10)
    for data, pivots in ((True, False), (False, True)):
        run_both(
            lambda lib, a, data=data, pivots=pivots: tuple(
                lib.lu_unpack(*lib.linalg.lu_factor(a), data, pivots)
            ),
            normal(*shape),
            grad=False,
        )


@pytest.mark.parametrize("left", [False, True])
@pytest.mark.parametrize("adjoint", [False, True])
def test_lu_solve_matches_torch(left, adjoint):
    b = normal(2, 3, 2) if left else normal(2, 2, 3)

    def fn(lib, a, b):
        LU, pivots = lib.linalg.lu_factor(a)
        return lib.linalg.lu_solve(LU, pivots, b, left=left, adjoint=adjoint)

    run_both(fn, well_conditioned(2, 3, 3), b, atol=1e-10)


def test_singular_lu():
    singular = np.array([[1.0, 2.0], [2.0, 4.0]])
    run_both(lambda lib, a: tuple(lib.linalg.lu_factor_ex(a)), singular, grad=False)
    same_error(lambda lib, a: lib.linalg.lu_factor(a), singular)
    same_error(lambda lib, a: lib.linalg.lu_factor(a), np.stack([np.eye(2), singular]))
    run_both(lambda lib, a: tuple(lib.lu(a)), singular, grad=False)


# --- matrix exponential ------------------------------------------------------------------------------


@pytest.mark.parametrize("scale", [1e-3, 0.5, 3.0, 20.0])
@pytest.mark.parametrize("batch", BATCHES)
def test_matrix_exp_matches_torch(scale, batch):
    a = normal(*batch, 4, 4) * scale
    run_both(lambda lib, a: lib.linalg.matrix_exp(a), a, atol=1e-12, rtol=1e-9, grad_atol=1e-8)
    # float32 elements far below the matrix's largest carry errors relative to the largest
    # (measured over 60 draws at scale 20: irgrad's within 4.8e-6 of it, torch's 1.4e-5)
    largest = float(np.abs(irgrad.linalg.matrix_exp(irgrad.tensor(a)).numpy()).max(initial=0.0))
    run_both(
        lambda lib, a: lib.matrix_exp(a), a.astype(np.float32), grad=False, rtol=1e-4, atol=1e-4 * largest
    )
    run_both(lambda lib, a: a.matrix_exp(), a, atol=1e-12, rtol=1e-9, grad=False)


def test_matrix_exp_edges():
    run_both(lambda lib, a: lib.linalg.matrix_exp(a), np.zeros((2, 0, 0)), grad=False)
    run_both(lambda lib, a: lib.linalg.matrix_exp(a), np.array([[1.0]]))
    ours = irgrad.linalg.matrix_exp(irgrad.tensor([[np.nan, 0.0], [0.0, 1.0]])).numpy()
    assert np.isnan(ours).all()


# --- products -------------------------------------------------------------------------------------


def test_products_match_torch():
    run_both(lambda lib, x, y: lib.linalg.vecdot(x, y), normal(2, 3), normal(3))
    run_both(lambda lib, x, y: lib.linalg.vecdot(x, y, dim=0), normal(3, 2), normal(3, 2))
    run_both(lambda lib, a, b: lib.linalg.matmul(a, b), normal(2, 3, 4), normal(4, 2))
    run_both(lambda lib, a: lib.linalg.diagonal(a, offset=1), normal(2, 3, 4))
    run_both(lambda lib, a, b, c: lib.linalg.multi_dot([a, b, c]), normal(3), normal(3, 4), normal(4))
    run_both(lambda lib, a, b, c: lib.linalg.multi_dot([a, b, c]), normal(2, 3), normal(3, 4), normal(4, 5))
    run_both(lambda lib, x: lib.linalg.vander(x), normal(2, 3))
    run_both(lambda lib, x: lib.linalg.vander(x, N=5), normal(4))
    run_both(lambda lib, x: lib.linalg.vander(x), np.array([1, 2, 3]))


# --- errors ----------------------------------------------------------------------------------------

I32 = np.ones(3, np.int32)


@pytest.mark.parametrize(
    "call, arrays",
    [
        (lambda lib, a, b: lib.linalg.solve_triangular(a, b, upper=True), (normal(3, 3), normal(4, 2))),
        (lambda lib, a, b: lib.linalg.solve_triangular(a, b, upper=True), (normal(3, 3), normal(3))),
        (lambda lib, a, b: lib.linalg.solve_triangular(a, b, upper=True), (normal(3, 4), normal(3, 2))),
        (
            lambda lib, a, b: lib.linalg.solve_triangular(a, b, upper=True),
            (I32.reshape(3, 1) * np.eye(3, dtype=np.int32), I32.reshape(3, 1)),
        ),
        (
            lambda lib, a, b: lib.linalg.solve_triangular(a, b, upper=True, left=False),
            (normal(3, 3), normal(2, 4)),
        ),
        (lambda lib, b, a: lib.triangular_solve(b, a), (normal(3, 2, dtype=np.float32), normal(3, 3))),
        (lambda lib, b, a: lib.triangular_solve(b, a), (normal(4, 2), normal(3, 3))),
        (lambda lib, b, a: lib.cholesky_solve(b, a), (normal(4, 2), normal(3, 3))),
        (lambda lib, a: lib.cholesky_inverse(a), (normal(3, 4),)),
        (lambda lib, a: lib.cholesky_inverse(a), (normal(3),)),
        (lambda lib, a: lib.linalg.lu_factor(a), (normal(3),)),
        (lambda lib, a: lib.linalg.lu_factor(a), (np.eye(3, dtype=np.int32),)),
        (lambda lib, a: lib.linalg.lu_factor(a, pivot=False), (normal(3, 3),)),
        (lambda lib, a, p, b: lib.linalg.lu_solve(a, p, b), (normal(3, 3), I32, normal(4, 2))),
        (lambda lib, a, p, b: lib.linalg.lu_solve(a, p, b), (normal(3, 4), I32, normal(3, 2))),
        (
            lambda lib, a, p, b: lib.linalg.lu_solve(a, p, b),
            (normal(3, 3), I32.astype(np.int64), normal(3, 2)),
        ),
        (lambda lib, a, p: lib.lu_unpack(a, p), (normal(3, 3), I32.astype(np.int64))),
        (lambda lib, a, p: lib.lu_unpack(a, p), (normal(3, 3), np.array([1, 5, 3], np.int32))),
        (lambda lib, a: lib.linalg.matrix_exp(a), (normal(3, 4),)),
        (lambda lib, a: lib.linalg.matrix_exp(a), (np.eye(3, dtype=np.int32),)),
        (lambda lib, a: lib.linalg.matrix_exp(a), (normal(3),)),
        (lambda lib, a: lib.linalg.cholesky_ex(a), (normal(3, 4),)),
        (lambda lib, a: lib.linalg.inv_ex(a), (normal(3, 4),)),
        (lambda lib, a, b: lib.linalg.solve_ex(a, b), (normal(3, 3), normal(4))),
        (lambda lib, x: lib.linalg.vander(x), (np.array(1.0),)),
        (lambda lib, x: lib.linalg.vander(x, N=0), (normal(2),)),
        (lambda lib, x, y: lib.linalg.vecdot(x, y), (normal(2, 3), np.ones(3, np.int64))),
        (lambda lib, x: lib.linalg.multi_dot([x]), (normal(3),)),
        (lambda lib, x, y: lib.linalg.multi_dot([x, y]), (normal(2, 3, 3), normal(3, 2))),
        (lambda lib, x, y: lib.linalg.multi_dot([x, y]), (normal(2, 3), normal(4, 2))),
        (lambda lib, x, y: lib.linalg.multi_dot([x, y]), (normal(2, 3, dtype=np.float32), normal(3, 2))),
    ],
)
def test_errors_match_torch(call, arrays):
    same_error(call, *arrays)


# --- without PyTorch: finite differences and compiled code -------------------------------------------


def _t(*arrays):
    return [irgrad.tensor(a, requires_grad=True) for a in arrays]


def test_finite_differences():
    a, b = _t(well_conditioned(2, 3, 3), normal(2, 3, 2))
    for fn in (
        lambda a, b: irgrad.linalg.solve_triangular(a, b, upper=False),
        lambda a, b: irgrad.linalg.lu_solve(*irgrad.linalg.lu_factor(a), b, adjoint=True),
        lambda a, b: irgrad.linalg.solve_ex(a, b).result,
        lambda a, b: irgrad.cholesky_solve(b, irgrad.linalg.cholesky(a @ a.mT)),
    ):
        assert gradcheck(fn, (a, b))
        assert gradgradcheck(fn, (a, b))
    (m,) = _t(normal(2, 3, 3))
    assert gradcheck(irgrad.linalg.matrix_exp, (m,))
    assert gradgradcheck(irgrad.linalg.matrix_exp, (m,))
    for shape in ((3, 3), (3, 5), (5, 3)):
        (x,) = _t(normal(*shape))
        assert gradcheck(lambda x: irgrad.cat([t.flatten() for t in irgrad.linalg.lu(x)]), (x,))
    (x,) = _t(normal(4))
    assert gradcheck(lambda x: irgrad.linalg.vander(x), (x,))


def test_compiled_matches_eager():
    def fn(a, b, m):
        x = irgrad.linalg.solve_triangular(a, b, upper=True)
        LU, pivots = irgrad.linalg.lu_factor(a)
        y = irgrad.linalg.lu_solve(LU, pivots, b)
        z = irgrad.linalg.cholesky_ex(a @ a.mT).L
        return x, y, z, irgrad.linalg.matrix_exp(m) @ b

    calls = [[well_conditioned(2, 3, 3), normal(2, 3, 2), normal(2, 3, 3)]]
    check_compiled(fn, calls, backend="llvm", train=True)
