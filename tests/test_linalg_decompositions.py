"""The SVD-, eigh- and QR-based part of irgrad.linalg: svd, svdvals, eigh, eigvalsh, qr,
pinv, matrix_rank, lstsq, cond, the singular-value norms, and torch.svd / torch.qr /
torch.pinverse and their Tensor methods.

Against PyTorch 2.13 (skipped without it): values, dtypes and shapes, gradients of the
same float64 inputs through ``torch.autograd`` (random cotangents), and errors.  Singular
and eigen vectors are determined up to sign, so they are compared through quantities that
do not depend on it (squares of their entries, ``|U^T U_torch|``, reconstructions), as
PyTorch's own tests do.  Without PyTorch: float64 finite differences (first and second
order) of sign-free functions, gradients through repeated singular values, and compiled
functions against eager.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import run_both

import irgrad
from irgrad.autograd import gradcheck, gradgradcheck

rng = np.random.default_rng(11)

# tall, wide, square, batched, a 4-d batch, a single row and column
SHAPES = [(5, 3), (3, 5), (4, 4), (2, 4, 3), (2, 3, 4), (2, 1, 3, 3), (1, 4), (4, 1)]
EMPTY = [(0, 3), (3, 0), (0, 0), (2, 0, 0), (0, 3, 2)]


def normal(*shape, dtype=np.float64):
    return rng.standard_normal(shape).astype(dtype)


def symmetric(*shape):
    x = rng.standard_normal(shape)
    return x + np.swapaxes(x, -1, -2)


def rank_deficient(*shape, rank):
    """Matrices of ``shape`` of exactly ``rank`` (a product of thin factors)."""
    m, n = shape[-2:]
    return rng.standard_normal(shape[:-2] + (m, rank)) @ rng.standard_normal(shape[:-2] + (rank, n))


def svd_invariants(lib, a, full_matrices=False):
    """What the SVD determines whatever its signs: ``S``, the squares of the entries of
    ``U`` and ``Vh`` (their first ``k`` columns and rows) and ``U diag(S^2) Vh``."""
    u, s, vh = lib.linalg.svd(a, full_matrices=full_matrices)
    k = s.shape[-1]
    u, vh = u[..., :k], vh[..., :k, :]
    return s, u * u, vh * vh, (u * s.square().unsqueeze(-2)) @ vh


def torch_module():
    return pytest.importorskip("torch")


def same_error(call, *arrays, match=None):
    """``call(lib, *tensors)`` raises the same exception type with the same message in
    irgrad as in PyTorch (the PyTorch message, or ``match``, must be irgrad's)."""
    torch = torch_module()
    errors = []
    for lib in (irgrad, torch):
        with pytest.raises(Exception) as info:
            call(lib, *(lib.tensor(a) for a in arrays))
        errors.append(info.value)
    ours, theirs = errors
    expected = (RuntimeError, NotImplementedError, TypeError, IndexError)
    kind = next(k for k in expected if isinstance(theirs, k))
    assert isinstance(ours, kind), (ours, theirs)
    assert str(ours) == (match or str(theirs)), (str(ours), str(theirs))


# --- svd, svdvals, torch.svd ------------------------------------------------------------------


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("full_matrices", [False, True])
def test_svd_matches_torch(shape, full_matrices):
    run_both(lambda lib, a: svd_invariants(lib, a, full_matrices), normal(*shape), atol=1e-9, rtol=1e-8)


@pytest.mark.parametrize("shape", SHAPES + EMPTY)
@pytest.mark.parametrize("full_matrices", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_svd_shapes_dtypes_and_orthonormal_vectors(shape, full_matrices, dtype):
    torch = torch_module()
    a = normal(*shape, dtype=dtype)
    ours = irgrad.linalg.svd(irgrad.tensor(a), full_matrices=full_matrices)
    theirs = torch.linalg.svd(torch.tensor(a), full_matrices=full_matrices)
    assert ours._fields == ("U", "S", "Vh") and theirs.Vh is theirs[2]
    tol = 1e-4 if dtype == np.float32 else 1e-10
    for mine, ref in zip(ours, theirs):
        assert tuple(mine.shape) == tuple(ref.shape) and str(mine.dtype)[-7:] == str(ref.dtype)[-7:]
    np.testing.assert_allclose(ours.S.numpy(), theirs.S.numpy(), atol=tol, rtol=tol)
    u, vh = ours.U.numpy().astype(np.float64), ours.Vh.numpy().astype(np.float64)
    eye_u, eye_v = np.eye(u.shape[-1]), np.eye(vh.shape[-2])
    np.testing.assert_allclose(
        np.swapaxes(u, -1, -2) @ u, np.broadcast_to(eye_u, u.shape[:-2] + eye_u.shape), atol=tol
    )
    np.testing.assert_allclose(
        vh @ np.swapaxes(vh, -1, -2), np.broadcast_to(eye_v, vh.shape[:-2] + eye_v.shape), atol=tol
    )
    k = min(shape[-2:])
    # the singular vectors of distinct singular values agree up to sign: |U^T U_torch| = I
    overlap = np.abs(np.swapaxes(u[..., :k], -1, -2) @ theirs.U.numpy()[..., :k])
    np.testing.assert_allclose(overlap, np.broadcast_to(np.eye(k), overlap.shape), atol=tol * 10)
    rebuilt = (u[..., :k] * ours.S.numpy()[..., None, :]) @ vh[..., :k, :]
    np.testing.assert_allclose(rebuilt, a, atol=tol * 10)


@pytest.mark.parametrize("shape", SHAPES + EMPTY)
def test_svdvals_matches_torch(shape):
    run_both(lambda lib, a: lib.linalg.svdvals(a), normal(*shape), atol=1e-10, rtol=1e-9)
    run_both(lambda lib, a: lib.linalg.svdvals(a), normal(*shape, dtype=np.float32), grad=False)


@pytest.mark.parametrize("shape", [(5, 3), (2, 3, 4), (3, 3), (0, 3)])
@pytest.mark.parametrize("some", [True, False])
def test_legacy_svd_returns_v_and_zeros_without_uv(shape, some):
    torch = torch_module()

    def invariants(lib, a):
        u, s, v = lib.svd(a, some=some)
        k = s.shape[-1]
        return s, (u[..., :k] * s.unsqueeze(-2)) @ v[..., :k].mT, u.shape[-1], v.shape[-1]

    run_both(invariants, normal(*shape), atol=1e-10, rtol=1e-9)
    run_both(lambda lib, a: a.svd(some=some, compute_uv=False), normal(*shape), atol=1e-10, rtol=1e-9)
    ours = irgrad.svd(irgrad.tensor(normal(*shape), requires_grad=True), compute_uv=False)
    assert ours._fields == ("U", "S", "V") and torch.svd(torch.ones(2, 2)).V is not None
    assert [t.requires_grad for t in ours] == [False, True, False]


def test_svd_gradient_through_repeated_singular_values():
    # S alone: finite (U diag(gS) Vh) as in PyTorch; using U there: not finite, as in PyTorch
    torch = torch_module()
    weights = normal(3, 3)
    for lib in (irgrad, torch):
        a = lib.eye(3, dtype=lib.float64, requires_grad=True)
        (g,) = lib.autograd.grad(lib.linalg.svd(a).S.sum(), a)
        np.testing.assert_allclose(g.numpy(), np.eye(3))
        (g,) = lib.autograd.grad((lib.linalg.svd(a).U * lib.tensor(weights)).sum(), a)
        assert not np.isfinite(g.numpy()).all()
        (g,) = lib.autograd.grad(lib.linalg.matrix_norm(a, 2), a)
        np.testing.assert_allclose(g.numpy(), np.eye(3) / 3)


def test_svd_of_non_finite_matrices_raises_linalg_error():
    a = np.stack([np.eye(2), [[math.nan, 1.0], [1.0, 1.0]]])
    same_error(lambda lib, t: lib.linalg.svd(t), a)
    same_error(lambda lib, t: lib.linalg.svdvals(t[1:]), a)
    with pytest.raises(irgrad.linalg.LinAlgError, match="Batch element 1"):
        irgrad.linalg.pinv(irgrad.tensor(a))


# --- eigh, eigvalsh -----------------------------------------------------------------------------


def eigh_invariants(lib, a, uplo="L"):
    values, vectors = lib.linalg.eigh(a, UPLO=uplo)
    return values, vectors * vectors, (vectors * values.unsqueeze(-2)) @ vectors.mT


@pytest.mark.parametrize("shape", [(3, 3), (2, 4, 4), (2, 1, 2, 2), (1, 1), (0, 0), (2, 0, 0)])
@pytest.mark.parametrize("uplo", ["L", "U", "u"])
def test_eigh_matches_torch(shape, uplo):
    # a symmetric input, and one that is not (the triangle UPLO names is read)
    run_both(lambda lib, a: eigh_invariants(lib, a, uplo), symmetric(*shape), atol=1e-9, rtol=1e-8)
    run_both(lambda lib, a: eigh_invariants(lib, a, uplo), normal(*shape), atol=1e-9, rtol=1e-8)
    run_both(lambda lib, a: lib.linalg.eigvalsh(a, uplo), normal(*shape), atol=1e-10, rtol=1e-9)
    run_both(lambda lib, a: lib.linalg.eigvalsh(a, uplo), normal(*shape, dtype=np.float32), grad=False)


def test_eigh_vectors_agree_with_torch_up_to_sign():
    torch = torch_module()
    a = symmetric(2, 4, 4)
    ours = irgrad.linalg.eigh(irgrad.tensor(a))
    theirs = torch.linalg.eigh(torch.tensor(a))
    assert ours._fields == ("eigenvalues", "eigenvectors") and theirs.eigenvectors is theirs[1]
    overlap = np.abs(ours.eigenvectors.numpy().swapaxes(-1, -2) @ theirs.eigenvectors.numpy())
    np.testing.assert_allclose(overlap, np.broadcast_to(np.eye(4), overlap.shape), atol=1e-10)


def test_eigh_gradient_through_repeated_eigenvalues():
    torch = torch_module()
    weights = normal(3, 3)
    for lib in (irgrad, torch):
        a = lib.eye(3, dtype=lib.float64, requires_grad=True)
        (g,) = lib.autograd.grad(lib.linalg.eigh(a).eigenvalues.sum(), a)
        np.testing.assert_allclose(g.numpy(), np.eye(3))
        (g,) = lib.autograd.grad((lib.linalg.eigh(a).eigenvectors * lib.tensor(weights)).sum(), a)
        assert not np.isfinite(g.numpy()).all()


# --- qr -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", SHAPES + EMPTY)
@pytest.mark.parametrize("mode", ["reduced", "complete", "r"])
def test_qr_matches_torch(shape, mode):
    # LAPACK's Householder QR fixes the signs: Q and R are compared as they are
    m, n = shape[-2:]
    differentiable = mode == "reduced" or (mode == "complete" and m <= n)
    run_both(
        lambda lib, a: tuple(lib.linalg.qr(a, mode)),
        normal(*shape),
        atol=1e-10,
        rtol=1e-9,
        grad=differentiable,
    )
    run_both(
        lambda lib, a: tuple(lib.linalg.qr(a, mode)), normal(*shape, dtype=np.float32), atol=1e-5, grad=False
    )


@pytest.mark.parametrize("some", [True, False])
def test_legacy_qr_and_method(some):
    run_both(lambda lib, a: tuple(lib.qr(a, some)), normal(2, 3, 5), atol=1e-10, rtol=1e-9)
    run_both(lambda lib, a: tuple(a.qr(some)), normal(3, 3), atol=1e-10, rtol=1e-9)
    assert irgrad.qr(irgrad.ones(2, 2))._fields == ("Q", "R")


@pytest.mark.parametrize(
    "mode,shape", [("complete", (5, 3)), ("r", (3, 3)), ("r", (3, 5))], ids=["complete-tall", "r", "r-wide"]
)
def test_qr_backward_refused_as_torch(mode, shape):
    same_error(lambda lib, a: lib.linalg.qr(a.requires_grad_(), mode)[1].sum().backward(), normal(*shape))


# --- pinv, matrix_rank -------------------------------------------------------------------------


@pytest.mark.parametrize("shape", SHAPES + EMPTY)
def test_pinv_matches_torch(shape):
    run_both(lambda lib, a: lib.linalg.pinv(a), normal(*shape), atol=1e-9, rtol=1e-8)
    run_both(lambda lib, a: lib.pinverse(a), normal(*shape, dtype=np.float32), grad=False)


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"atol": 0.5}, {"rtol": 0.3}, {"atol": 0.1, "rtol": 0.2}, {"hermitian": True}, {"rcond": 0.25}],
    ids=lambda k: ",".join(k) or "default",
)
def test_pinv_tolerances_and_rank_deficient_matrices(kwargs):
    a = rank_deficient(2, 4, 4, rank=2) + 0.01 * normal(2, 4, 4)
    if kwargs.get("hermitian"):
        a = a + a.swapaxes(-1, -2)
    args = (kwargs.pop("rcond"),) if "rcond" in kwargs else ()
    run_both(lambda lib, t: lib.linalg.pinv(t, *args, **kwargs), a, atol=1e-8, rtol=1e-7)


def test_pinv_and_matrix_rank_take_tensor_tolerances_per_batch():
    torch = torch_module()
    a = normal(2, 3, 3)
    for tol in (np.array([0.1, 5.0]), np.array(0.5)):
        run_both(lambda lib, t, tol=tol: lib.linalg.pinv(t, atol=lib.tensor(tol)), a, atol=1e-9)
        run_both(lambda lib, t, tol=tol: lib.linalg.pinv(t, rtol=lib.tensor(tol)), a, atol=1e-9)
        run_both(lambda lib, t, tol=tol: lib.linalg.matrix_rank(t, atol=lib.tensor(tol)), a)
    assert torch.linalg.matrix_rank(torch.ones(2, 2)).dtype == torch.int64
    same_error(lambda lib, t: lib.linalg.pinv(t, atol=lib.tensor([0.1, 5.0, 3.0])), a)


@pytest.mark.parametrize("shape", [(4, 4), (5, 3), (3, 5), (2, 4, 4)])
@pytest.mark.parametrize("rank", [0, 1, 2])
@pytest.mark.parametrize("hermitian", [False, True])
def test_matrix_rank_matches_torch(shape, rank, hermitian):
    a = rank_deficient(*shape, rank=rank)
    if hermitian:
        if shape[-1] != shape[-2]:
            return
        a = a + a.swapaxes(-1, -2)
    for kwargs in ({}, {"atol": 1.0}, {"rtol": 0.5}, {"tol": 0.5}):
        mine, _ = run_both(lambda lib, t, kw=kwargs: lib.linalg.matrix_rank(t, hermitian=hermitian, **kw), a)
        assert not mine.requires_grad


@pytest.mark.parametrize("shape", EMPTY)
def test_matrix_rank_and_norms_of_empty_matrices(shape):
    run_both(lambda lib, a: lib.linalg.matrix_rank(a), normal(*shape))
    for ord in ("nuc", 2):
        run_both(lambda lib, a, ord=ord: lib.linalg.matrix_norm(a, ord), normal(*shape))
    if min(shape[-2:]) == 0:  # no singular values: the smallest has no identity
        same_error(lambda lib, a: lib.linalg.matrix_norm(a, -2), normal(*shape))
    else:
        run_both(lambda lib, a: lib.linalg.matrix_norm(a, -2), normal(*shape))


# --- lstsq --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "a_shape,b_shape",
    [
        ((5, 3), (5, 2)),
        ((3, 5), (3, 2)),
        ((4, 4), (4,)),
        ((2, 5, 3), (2, 5)),
        ((2, 5, 3), (1, 5, 2)),
        ((1, 3, 5), (2, 3, 1)),
        ((0, 3), (0, 2)),
        ((3, 0), (3, 2)),
    ],
)
@pytest.mark.parametrize("driver", [None, "gels", "gelsy", "gelsd", "gelss"])
def test_lstsq_matches_torch(a_shape, b_shape, driver):
    m, n = a_shape[-2:]
    if driver == "gels" and (m < n or 0 in a_shape):  # LAPACK's gels: full-rank tall or square only
        return
    a, b = normal(*a_shape), normal(*b_shape)
    mine, _ = run_both(lambda lib, a, b: lib.linalg.lstsq(a, b, driver=driver), a, b, grad=False)
    assert mine._fields == ("solution", "residuals", "rank", "singular_values")
    assert mine.rank.dtype == irgrad.int64
    # gradients (PyTorch's empty residuals require grad but have no graph to take one through)
    run_both(lambda lib, a, b: lib.linalg.lstsq(a, b, driver=driver).solution, a, b, atol=1e-9, rtol=1e-8)
    if mine.residuals.numel():
        run_both(
            lambda lib, a, b: lib.linalg.lstsq(a, b, driver=driver).residuals, a, b, atol=1e-9, rtol=1e-8
        )


@pytest.mark.parametrize("driver", [None, "gelsd"])
def test_lstsq_rank_deficient_gives_the_minimum_norm_solution(driver):
    # (rcond well above rounding: with the default, LAPACK's and numpy's rounding decide the rank)
    a = rank_deficient(2, 5, 4, rank=2)
    for b in (normal(2, 5, 3), normal(1, 5, 3), normal(2, 5)):
        run_both(lambda lib, t, b: lib.linalg.lstsq(t, b, 1e-10, driver=driver), a, b, grad=False, atol=1e-9)


# --- norms and cond -----------------------------------------------------------------------------


@pytest.mark.parametrize("ord", ["nuc", 2, -2])
@pytest.mark.parametrize("dim,keepdim", [((-2, -1), False), ((0, 2), True), ((2, 1), False), ((1, 0), True)])
def test_singular_value_norms_match_torch(ord, dim, keepdim):
    x = normal(2, 3, 4)
    run_both(lambda lib, a: lib.linalg.matrix_norm(a, ord, dim, keepdim), x, atol=1e-10)
    run_both(lambda lib, a: lib.linalg.norm(a, ord, dim, keepdim), x, atol=1e-10)
    run_both(
        lambda lib, a: lib.linalg.matrix_norm(a, ord, dim, keepdim, dtype=lib.float64), x.astype(np.float32)
    )
    run_both(lambda lib, a: lib.linalg.norm(a, ord), x[0], atol=1e-10)


def test_torch_norm_nuclear():
    run_both(lambda lib, a: lib.norm(a, "nuc"), normal(3, 4), atol=1e-10)
    run_both(lambda lib, a: a.norm("nuc", dim=(0, 2), keepdim=True), normal(3, 4, 2), atol=1e-10)
    same_error(lambda lib, a: lib.norm(a, "nuc"), normal(2, 3, 4))


@pytest.mark.parametrize("p", [None, 2, -2, "fro", "nuc", 1, -1, math.inf, -math.inf])
@pytest.mark.parametrize("shape", [(3, 3), (2, 4, 4)])
def test_cond_matches_torch(p, shape):
    # PyTorch's backward of cond fails but for p None, 2, -2 (it writes inf into its inverse in
    # place): irgrad's gradient there is checked by finite differences below
    by_svd = p in (None, 2, -2)
    run_both(lambda lib, a: lib.linalg.cond(a, p), normal(*shape), atol=1e-8, rtol=1e-8, grad=by_svd)
    if p != "nuc":  # (docs/pytorch-differences.md)
        # (exactly singular with exactly computed singular values on any LAPACK: the SVD of
        # np.ones((3, 3)) leaves 2e-48 or 0 in place of 0, depending on the host's kernels)
        singular = np.stack([np.eye(3), np.diag([1.0, 2.0, 0.0]), np.zeros((3, 3))])
        run_both(lambda lib, a: lib.linalg.cond(a, p), singular, grad=False)


@pytest.mark.parametrize("shape", [(3, 5), (5, 3), (0, 0), (2, 0, 0)])
def test_cond_of_rectangular_and_empty_matrices(shape):
    for p in (None, -2):
        run_both(lambda lib, a, p=p: lib.linalg.cond(a, p), normal(*shape), atol=1e-9)
    if 0 not in shape:
        for p in ("fro", 1, 1.0, math.inf):
            same_error(lambda lib, a, p=p: lib.linalg.cond(a, p), normal(*shape))


# --- errors -------------------------------------------------------------------------------------

INT = np.ones((3, 3), np.int64)
HALF = np.ones((3, 3), np.float16)
VECTOR = np.ones(3)
WIDE = np.ones((3, 4))

ERRORS = [
    (lambda lib, a: lib.linalg.svd(a), VECTOR),
    (lambda lib, a: lib.linalg.svd(a), INT),
    (lambda lib, a: lib.linalg.svd(a), HALF),
    (lambda lib, a: lib.linalg.svd(a, driver="gesvd"), WIDE),
    (lambda lib, a: lib.linalg.svdvals(a), VECTOR),
    (lambda lib, a: lib.linalg.svdvals(a), INT),
    (lambda lib, a: lib.svd(a), VECTOR),
    (lambda lib, a: lib.svd(a), INT),
    (lambda lib, a: lib.linalg.eigh(a), WIDE),
    (lambda lib, a: lib.linalg.eigh(a), VECTOR),
    (lambda lib, a: lib.linalg.eigh(a), INT),
    (lambda lib, a: lib.linalg.eigh(a), HALF),
    (lambda lib, a: lib.linalg.eigh(a, UPLO="X"), np.eye(3)),
    (lambda lib, a: lib.linalg.eigvalsh(a, UPLO="X"), np.eye(3)),
    (lambda lib, a: lib.linalg.eigvalsh(a), WIDE),
    (lambda lib, a: lib.linalg.qr(a, mode="x"), WIDE),
    (lambda lib, a: lib.linalg.qr(a), VECTOR),
    (lambda lib, a: lib.linalg.qr(a), INT),
    (lambda lib, a: lib.linalg.qr(a), HALF),
    (lambda lib, a: lib.linalg.pinv(a), VECTOR),
    (lambda lib, a: lib.linalg.pinv(a), INT),
    (lambda lib, a: lib.linalg.pinv(a), HALF),
    (lambda lib, a: lib.linalg.pinv(a, hermitian=True), WIDE),
    (lambda lib, a: lib.linalg.matrix_rank(a), INT),
    (lambda lib, a: lib.linalg.matrix_rank(a), HALF),
    (lambda lib, a: lib.linalg.matrix_rank(a), VECTOR),
    (lambda lib, a: lib.linalg.matrix_rank(a, hermitian=True), WIDE),
    (lambda lib, a: lib.linalg.matrix_norm(a, "nuc"), INT),
    (lambda lib, a: lib.linalg.matrix_norm(a, "nuc"), HALF),
    (lambda lib, a: lib.linalg.matrix_norm(a, 2, dim=(0, 0)), WIDE),
    (lambda lib, a: lib.linalg.cond(a), VECTOR),
    (lambda lib, a: lib.linalg.cond(a), INT),
    (lambda lib, a: lib.linalg.cond(a, 3), WIDE),
    (lambda lib, a: lib.linalg.lstsq(a, a[0]), np.ones((2, 3, 3))),
    (lambda lib, a: lib.linalg.lstsq(a, a[:2]), WIDE),
    (lambda lib, a: lib.linalg.lstsq(a, a[0, :2]), WIDE),
    (lambda lib, a: lib.linalg.lstsq(a, a, driver="foo"), WIDE),
    (lambda lib, a: lib.linalg.lstsq(a, a.double()), WIDE.astype(np.float32)),
    (lambda lib, a: lib.linalg.lstsq(a[0], a), np.ones((3, 3))),
    (lambda lib, a: lib.linalg.lstsq(a, a), INT),
    (lambda lib, a: lib.linalg.lstsq(a, lib.ones(3, 3, 2, dtype=a.dtype)), np.ones((2, 3, 3))),
]


@pytest.mark.parametrize("call,x", ERRORS)
def test_errors_match_torch(call, x):
    same_error(call, x)


# --- finite differences (no PyTorch) --------------------------------------------------------------


def _tensor(x):
    return irgrad.tensor(x, requires_grad=True)


def _svd_loss(full_matrices):
    def loss(a):
        return irgrad.cat([t.flatten() for t in svd_invariants(irgrad, a, full_matrices)])

    return loss


FINITE_DIFFERENCES = [
    (_svd_loss(False), (2, 4, 3)),
    (_svd_loss(False), (3, 5)),
    (_svd_loss(True), (5, 3)),
    (lambda a: irgrad.linalg.svdvals(a), (2, 3, 4)),
    (lambda a: irgrad.cat([t.flatten() for t in eigh_invariants(irgrad, a + a.mT)]), (2, 3, 3)),
    (lambda a: irgrad.linalg.eigvalsh(a + a.mT, "U"), (3, 3)),
    (lambda a: irgrad.cat([t.flatten() for t in irgrad.linalg.qr(a)]), (2, 5, 3)),
    (lambda a: irgrad.cat([t.flatten() for t in irgrad.linalg.qr(a)]), (3, 5)),
    (lambda a: irgrad.cat([t.flatten() for t in irgrad.linalg.qr(a, "complete")]), (2, 4)),
    (lambda a: irgrad.linalg.pinv(a), (2, 5, 3)),
    (lambda a: irgrad.linalg.pinv(a), (3, 4)),
    (lambda a: irgrad.linalg.pinv(a + a.mT, hermitian=True), (3, 3)),
    (lambda a: irgrad.linalg.lstsq(a, a[..., :1].exp()).solution, (5, 3)),
    (lambda a: irgrad.linalg.lstsq(a[:, :3], a[:, 3:], driver="gelsd").residuals, (5, 5)),
    (lambda a: irgrad.linalg.matrix_norm(a, "nuc"), (2, 3, 4)),
    (lambda a: irgrad.linalg.matrix_norm(a, 2), (4, 3)),
    (lambda a: irgrad.linalg.matrix_norm(a, -2, dim=(0, 2)), (3, 2, 4)),
    (lambda a: irgrad.linalg.cond(a), (2, 3, 4)),
    (lambda a: irgrad.linalg.cond(a, "fro"), (3, 3)),
]


@pytest.mark.parametrize("fn,shape", FINITE_DIFFERENCES)
def test_gradients_match_finite_differences(fn, shape):
    assert gradcheck(fn, [_tensor(normal(*shape))])


@pytest.mark.parametrize("fn,shape", FINITE_DIFFERENCES[::2])
def test_second_derivatives_match_finite_differences(fn, shape):
    assert gradgradcheck(fn, [_tensor(normal(*shape))])


def test_singular_values_alone_are_differentiable_at_repeated_values():
    # the rule's 0/0 is 0 for the unused vectors: U diag(gS) Vh, here the identity
    for norm in (lambda a: irgrad.linalg.svd(a).S.sum(), lambda a: irgrad.linalg.matrix_norm(a, "nuc")):
        a = irgrad.eye(3, dtype=irgrad.float64, requires_grad=True)
        norm(a).backward()
        np.testing.assert_allclose(a.grad.numpy(), np.eye(3))
    a = irgrad.zeros(3, 2, dtype=irgrad.float64, requires_grad=True)
    irgrad.linalg.svd(a, full_matrices=False).S.sum().backward()
    assert np.isfinite(a.grad.numpy()).all()


def test_reconstructions_and_orthogonality_without_torch():
    a = normal(2, 5, 3)
    q, r = irgrad.linalg.qr(irgrad.tensor(a))
    np.testing.assert_allclose((q @ r).numpy(), a, atol=1e-12)
    np.testing.assert_allclose(np.triu(r.numpy()), r.numpy())
    x = irgrad.tensor(a)
    np.testing.assert_allclose((x @ irgrad.linalg.pinv(x) @ x).numpy(), a, atol=1e-12)
    assert irgrad.linalg.matrix_rank(irgrad.tensor(rank_deficient(5, 4, rank=2))).item() == 2


# --- compiled --------------------------------------------------------------------------------------


def _spectral_loss(a, b):
    """A loss through svdvals, pinv, the nuclear norm and lstsq."""
    s = irgrad.linalg.svdvals(a)
    p = irgrad.linalg.pinv(a)
    return (
        s.square().sum()
        + (p @ b.mT).tanh().sum()
        + irgrad.linalg.matrix_norm(a, "nuc").sum()
        + irgrad.linalg.lstsq(a, b.mT).solution.sum()
    )


def test_compiled_function_gives_eager_values_and_gradients(backend):
    a_np, b_np = normal(2, 5, 3), normal(2, 4, 5)
    compiled = irgrad.compile(_spectral_loss, backend=backend)
    for _ in range(2):  # the first call captures, the second runs the compiled graphs
        results = []
        for fn in (_spectral_loss, compiled):
            a, b = _tensor(a_np), _tensor(b_np)
            loss = fn(a, b)
            loss.backward()
            results.append([loss.detach().numpy(), a.grad.numpy(), b.grad.numpy()])
        for got, want in zip(results[1], results[0]):
            np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    graph = str(irgrad.trace(_spectral_loss, irgrad.tensor(a_np), irgrad.tensor(b_np)))
    for op in ("svdvals", "pinv"):
        assert f" {op}(" in graph, op
