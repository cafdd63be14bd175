"""Dense linear-algebra primitives on numpy's LAPACK: ``inv``, ``det``, ``slogdet``, ``cofactor``,
``solve`` and ``cholesky``, over any leading batch dims of float32/float64 square matrices.

They are of :attr:`Kind.LAPACK`: no code generator lowers a factorization, so compiled
graphs run these kernels between native segments; fusion leaves them alone and the
forward/backward partition saves their results rather than recompute them.

Failures are PyTorch's: :class:`LinAlgError` (a ``RuntimeError``, as
``torch.linalg.LinAlgError``) names the first failing batch element and, as LAPACK's
``info`` does, the zero pivot or the leading minor that is not positive-definite.

Gradients (real matrices; ``A^-T`` is the transposed inverse, ``X`` the op's result):

* ``inv``: ``-X^T g X^T``;  ``solve(A, B) = X``: ``gB = solve(A^T, g)``, ``gA = -gB X^T``;
* ``det``: ``g * cofactor(A)``, the matrix of cofactors ``det(A) A^-T``, which the SVD
  continues through singular matrices (where ``A^-T`` does not exist);
* ``slogdet`` (sign and log|det| stacked in a last dim of 2): ``g_logabsdet * A^-T``; the
  sign is piecewise constant;
* ``cholesky`` (``A = L L^T``, lower): PyTorch's ``L^-T Phi(L^T gL) L^-1``, symmetrized,
  where ``Phi`` keeps the lower triangle and halves the diagonal.

Every rule is written with differentiable primitives (``cofactor``'s own rule with
``inv`` and ``det``), so second derivatives follow.
"""

from __future__ import annotations

import numpy as np

from ..dtypes import FLOAT
from .linalg import swap_last
from .registry import Kind, Meta, OpDef, register
from .shapes import fmt


class LinAlgError(RuntimeError):
    """A matrix a factorization cannot handle (singular, not positive-definite), as
    ``torch.linalg.LinAlgError``: a ``RuntimeError``, so code catching that still works."""


# --- shape rules --------------------------------------------------------------------------


# the routine PyTorch has no float16 kernel for, where its message names one
_HALF_KERNELS = {"linalg.det": "lu_cpu", "linalg.solve": "lu_cpu", "linalg.cholesky": "cholesky_cpu"}


def check_square(name: str, a: Meta, *, dtype_first: bool = False) -> None:
    """PyTorch's checks of a batch of square float32/float64 matrices, in its order: the
    shape first (the dtype first for ``solve``)."""
    if dtype_first:
        _check_dtype(name, a)
    if len(a.shape) < 2:
        raise RuntimeError(f"{name}: The input tensor A must have at least 2 dimensions.")
    if a.shape[-1] != a.shape[-2]:
        raise RuntimeError(
            f"{name}: A must be batches of square matrices, but they are {a.shape[-2]} by {a.shape[-1]} matrices"
        )
    _check_dtype(name, a)


def _check_dtype(name: str, a: Meta) -> None:
    if a.dtype.category != FLOAT:
        raise RuntimeError(
            f"{name}: Expected a floating point or complex tensor as input. Got {a.dtype.scalar_type}"
        )
    if a.dtype.itemsize < 4:
        if name in _HALF_KERNELS:
            raise NotImplementedError(
                f"\"{_HALF_KERNELS[name]}\" not implemented for '{a.dtype.scalar_type}'"
            )
        raise RuntimeError(f"{name}: Low precision dtypes not supported. Got {a.dtype.scalar_type}")


def _same(name: str):
    def infer(a: Meta) -> Meta:
        check_square(name, a)
        return Meta(tuple(a.shape), a.dtype)

    return infer


def _infer_det(a: Meta) -> Meta:
    check_square("linalg.det", a)
    return Meta(tuple(a.shape[:-2]), a.dtype)


def _infer_slogdet(a: Meta) -> Meta:
    check_square("linalg.slogdet", a)
    return Meta(tuple(a.shape[:-2]) + (2,), a.dtype)


def _infer_solve(a: Meta, b: Meta) -> Meta:
    check_square("linalg.solve", a, dtype_first=True)
    if len(b.shape) != len(a.shape) or b.shape[:-2] != a.shape[:-2] or b.shape[-2] != a.shape[-1]:
        raise RuntimeError(
            f"linalg.solve: expected B of shape {fmt(a.shape[:-1] + (-1,))} (the public function "
            f"broadcasts the batch dims and makes a vector a column), got {fmt(b.shape)}"
        )
    if a.dtype is not b.dtype:
        raise RuntimeError(
            f"linalg.solve: Expected A and B to have the same dtype, but found A of type "
            f"{a.dtype.scalar_type} and B of type {b.dtype.scalar_type} instead"
        )
    return Meta(tuple(b.shape), b.dtype)


# --- where a factorization fails (only computed to word the error) -----------------------


def _batch_prefix(a: np.ndarray, element: int) -> str:
    return f"(Batch element {element}): " if a.ndim > 2 else ""


def _first_zero_pivot(a: np.ndarray) -> tuple[int, int]:
    """The first batch element whose LU factorization with partial pivoting (LAPACK's
    getrf) meets an exactly zero pivot, and that pivot's 1-based position: (-1, 0) if
    none does."""
    n = a.shape[-1]
    u = a.reshape(-1, n, n).astype(np.float64)
    rows = np.arange(u.shape[0])
    first = np.zeros(u.shape[0], np.int64)
    for k in range(n):
        p = k + np.argmax(np.abs(u[:, k:, k]), axis=1)
        top, chosen = u[rows, k].copy(), u[rows, p].copy()
        u[rows, k], u[rows, p] = chosen, top
        pivot = u[:, k, k]
        zero = pivot == 0
        first[zero & (first == 0)] = k + 1
        factors = np.where(zero[:, None], 0.0, u[:, k + 1 :, k] / np.where(zero, 1.0, pivot)[:, None])
        u[:, k + 1 :, :] -= factors[:, :, None] * u[:, k, None, :]
    failed = np.flatnonzero(first)
    return (int(failed[0]), int(first[failed[0]])) if failed.size else (-1, 0)


def _singular(name: str, a: np.ndarray, what: str) -> LinAlgError:
    element, pivot = _first_zero_pivot(a)
    element = max(element, 0)
    return LinAlgError(f"{name}: {_batch_prefix(a, element)}{what.format(pivot=pivot)}")


def _first_not_positive_definite(a: np.ndarray) -> tuple[int, int]:
    """The first batch element whose Cholesky factorization (LAPACK's potrf, reading the
    lower triangle) fails, and the order of the leading minor where it does (a pivot that
    is not positive, or NaN): (-1, 0) if none does."""
    n = a.shape[-1]
    m = np.tril(a.reshape(-1, n, n).astype(np.float64))
    lower = np.zeros_like(m)
    order = np.zeros(m.shape[0], np.int64)
    for j in range(n):
        d = m[:, j, j] - np.sum(lower[:, j, :j] ** 2, axis=1)
        bad = ~(d > 0)
        order[bad & (order == 0)] = j + 1
        root = np.sqrt(np.where(bad, 1.0, d))
        lower[:, j, j] = root
        below = m[:, j + 1 :, j] - np.einsum("bik,bk->bi", lower[:, j + 1 :, :j], lower[:, j, :j])
        lower[:, j + 1 :, j] = below / root[:, None]
    failed = np.flatnonzero(order)
    return (int(failed[0]), int(order[failed[0]])) if failed.size else (-1, 0)


# --- kernels ------------------------------------------------------------------------------


def _without_nan(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``a`` with each matrix holding NaN replaced by the identity, and where those were.

    LAPACK's LU takes a NaN pivot for a zero one (numpy's ``det`` gives 0, ``inv`` and
    ``solve`` raise "singular"), where PyTorch's results are NaN: the kernels factor the
    identity in its place and :func:`_nan_results` overwrites what it gave."""
    bad = np.isnan(a).any(axis=(-2, -1))
    if not bad.any():
        return a, bad
    clean = a.copy()
    clean[bad] = np.eye(a.shape[-1], dtype=a.dtype)
    return clean, bad


def _nan_results(bad: np.ndarray, out: np.ndarray, value=np.nan) -> np.ndarray:
    """``out`` with the results of the matrices that held NaN set to ``value`` (all NaN by
    default, as PyTorch's)."""
    if bad.any():
        out[bad] = value
    return out


def inv(a: np.ndarray) -> np.ndarray:
    """The inverse of each matrix; :class:`LinAlgError` for an exactly singular one."""
    if a.size == 0:
        return a.copy()
    a, bad = _without_nan(a)
    try:
        out = np.linalg.inv(a)
    except np.linalg.LinAlgError:
        raise _singular(
            "linalg.inv",
            a,
            "The diagonal element {pivot} is zero, the inversion could not be completed because "
            "the input matrix is singular.",
        ) from None
    return _nan_results(bad, out)


def det(a: np.ndarray) -> np.ndarray:
    a, bad = _without_nan(a)
    with np.errstate(all="ignore"):
        return _nan_results(bad, np.array(np.linalg.det(a), a.dtype))


def slogdet(a: np.ndarray) -> np.ndarray:
    """``[..., 2]``: the sign of each determinant, then the log of its absolute value
    (sign 0 and NaN for a matrix holding NaN, as PyTorch's)."""
    a, bad = _without_nan(a)
    with np.errstate(all="ignore"):
        sign, logabsdet = np.linalg.slogdet(a)
    return _nan_results(bad, np.stack([sign, logabsdet], axis=-1).astype(a.dtype, copy=False), (0, np.nan))


def cofactor(a: np.ndarray) -> np.ndarray:
    """The matrix of cofactors, ``det(A) A^-T`` where ``A`` is invertible.  Where it is not
    (its determinant is 0), from the SVD ``A = U S V^T``: ``det(U) det(V) U diag(c) V^T`` with
    ``c_i`` the product of the singular values but the ``i``-th (a product of the others,
    not a quotient, so a zero singular value costs no division)."""
    if a.size == 0:
        return a.copy()
    a, bad = _without_nan(a)
    with np.errstate(all="ignore"):
        d = np.linalg.det(a)
    singular = d == 0
    out = np.empty_like(a)
    regular = ~singular
    if regular.any():
        out[regular] = d[regular][..., None, None] * np.swapaxes(np.linalg.inv(a[regular]), -1, -2)
    if singular.any():
        u, s, vt = np.linalg.svd(a[singular])
        ones = np.ones_like(s[..., :1])
        before = np.cumprod(np.concatenate([ones, s[..., :-1]], -1), -1)
        after = np.flip(np.cumprod(np.concatenate([ones, np.flip(s[..., 1:], -1)], -1), -1), -1)
        signs = np.sign(np.linalg.det(u)) * np.sign(np.linalg.det(vt))
        out[singular] = signs[..., None, None] * (u * (before * after)[..., None, :]) @ vt
    return _nan_results(bad, out)


def solve(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``X`` with ``A X = B`` for each matrix ``A`` and matrix of columns ``B`` (equal batch dims)."""
    if a.size == 0 or b.size == 0:
        return np.zeros(b.shape, b.dtype)
    a, bad = _without_nan(a)
    try:
        return _nan_results(bad, np.linalg.solve(a, b))
    except np.linalg.LinAlgError:
        raise _singular(
            "torch.linalg.solve", a, "The solver failed because the input matrix is singular."
        ) from None


def cholesky(a: np.ndarray) -> np.ndarray:
    """The lower Cholesky factor of each matrix (its lower triangle is read); :class:`LinAlgError`
    where a matrix is not positive-definite."""
    if a.size == 0:
        return a.copy()
    try:
        out = np.linalg.cholesky(a)
        failed = np.isnan(np.diagonal(out, axis1=-2, axis2=-1)).any()  # LAPACK passes NaN through
    except np.linalg.LinAlgError:
        failed = True
    if failed:
        element, order = _first_not_positive_definite(a)
        element = max(element, 0)
        raise LinAlgError(
            f"linalg.cholesky: {_batch_prefix(a, element)}The factorization could not be completed "
            f"because the input is not positive-definite (the leading minor of order {order} is not "
            "positive-definite)."
        )
    return out


# --- gradients ----------------------------------------------------------------------------


def _as_matrix_scalars(F, x, batch: tuple[int, ...]):
    """A batch of scalars shaped ``batch + (1, 1)``, to scale a batch of matrices."""
    return F.reshape(x, shape=tuple(batch) + (1, 1))


def _inv_vjp(F, g, c):
    x_t = swap_last(F, c.out)
    return (F.neg(F.matmul(F.matmul(x_t, g), x_t)),)


def _det_vjp(F, g, c):
    (a,) = c.ins
    return (F.mul(_as_matrix_scalars(F, g, c.metas[0].shape[:-2]), F.cofactor(a)),)


def _slogdet_vjp(F, g, c):
    (a,) = c.ins
    batch = tuple(c.metas[0].shape[:-2])
    g_logabsdet = F.slice(g, index=(slice(None),) * len(batch) + (1,))
    return (F.mul(_as_matrix_scalars(F, g_logabsdet, batch), swap_last(F, F.inv(a))),)


def _cofactor_vjp(F, g, c):
    # C = det(A) A^-T;  dC = tr(A^-1 dA) C - det(A) A^-T dA^T A^-T, so
    # gA = <g, A^-T> C - det(A) A^-T g^T A^-T (for invertible A)
    (a,), cof = c.ins, c.out
    shape = tuple(c.metas[0].shape)
    batch, n = shape[:-2], len(shape)
    inv_t = swap_last(F, F.inv(a))
    along_g = F.sum(F.mul(g, inv_t), dims=(n - 2, n - 1), keepdim=True)
    det_a = _as_matrix_scalars(F, F.det(a), batch)
    return (F.sub(F.mul(along_g, cof), F.mul(det_a, F.matmul(F.matmul(inv_t, swap_last(F, g)), inv_t))),)


def _solve_vjp(F, g, c):
    a = c.ins[0]
    gb = F.solve(swap_last(F, a), g)
    ga = F.neg(F.matmul(gb, swap_last(F, c.out))) if c.needs[0] else None
    return ga, gb if c.needs[1] else None


def _triangle(F, x, meta: Meta, offset: int):
    """The lower triangle of ``x``'s matrices (shaped as ``meta``) up to diagonal ``offset``."""
    n = meta.shape[-1]
    mask = F.tri(shape=(n, n), offset=offset, lower=True, inside=1, outside=0, dtype=meta.dtype)
    return F.mul(x, mask)


def _cholesky_vjp(F, g, c):
    low, meta = c.out, c.metas[0]
    phi = _triangle(F, F.matmul(swap_last(F, low), g), meta, 0)
    sym = F.mul(
        F.add(phi, swap_last(F, _triangle(F, phi, meta, -1))), 0.5
    )  # (Phi + Phi^T) / 2, diagonal halved
    left = F.solve(swap_last(F, low), sym)  # L^-T sym
    return (swap_last(F, F.solve(swap_last(F, low), swap_last(F, left))),)  # L^-T sym L^-1


for _name, _kernel, _infer, _vjp, _saves, _doc in (
    ("inv", inv, _same("linalg.inv"), _inv_vjp, (False, True), "The inverse of each matrix."),
    ("det", det, _infer_det, _det_vjp, (True, False), ""),
    ("slogdet", slogdet, _infer_slogdet, _slogdet_vjp, (True, False), "Sign and log|det|, stacked."),
    (
        "cofactor",
        cofactor,
        _same("linalg.det"),
        _cofactor_vjp,
        (True, True),
        "The matrix of cofactors det(A) A^-T (det's gradient), through singular matrices too.",
    ),
    ("cholesky", cholesky, _same("linalg.cholesky"), _cholesky_vjp, (False, True), "The lower factor."),
):
    register(
        OpDef(
            _name,
            Kind.LAPACK,
            _kernel,
            _infer,
            _vjp,
            save_inputs=_saves[0],
            save_output=_saves[1],
            fresh_layout=True,
            doc=_doc,
        )
    )

register(
    OpDef(
        "solve",
        Kind.LAPACK,
        solve,
        _infer_solve,
        _solve_vjp,
        save_inputs=(0,),
        save_output=True,
        arity=2,
        fresh_layout=True,
        doc="X with A X = B: B a batch of matrices with A's batch dims.",
    )
)
