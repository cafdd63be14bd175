"""The LU factorization with partial pivoting and its permutation, as LAPACK primitives
(:attr:`Kind.LAPACK`, see :mod:`irgrad.ops.lapack`).

* ``lu_factor``: LAPACK ``getrf``'s ``P^T A = L U`` of each ``m x n`` matrix, packed as
  one result ``(..., m + 1, n)``: rows ``[0, m)`` hold ``L`` (strictly below the diagonal,
  its unit diagonal implied) and ``U`` (on and above it), row ``m`` the ``k = min(m, n)``
  1-based pivots (row ``i`` was swapped with row ``pivots[i]``, in order), zero-padded.
  Each step takes the first largest magnitude in its column as pivot, as ``idamax``; an
  exactly zero pivot is kept (no division), for the public function's ``info``.
* ``lu_permutation``: ``P`` (``m x m``, of ``dtype``) from pivots, so that ``A = P L U``.

The gradient of ``lu_factor`` is PyTorch's ``linalg_lu_backward``: for square matrices
``gA = P L^-T (tril(L^T gL, -1) + triu(gU U^T)) U^-T``; a wide matrix ``[A1 A2]`` adds the
part of ``U2 = L^-1 (P^T A)_2`` and a tall one the part of ``L2 = (P^T A)_2 U^-1``, each
through the square rule of the leading block.  Every step is a triangular solve, so
second derivatives follow.
"""

from __future__ import annotations

import numpy as np

from ..dtypes import FLOAT
from .linalg import swap_last
from .registry import Kind, Meta, OpDef, register


def _infer_lu_factor(a: Meta) -> Meta:
    if len(a.shape) < 2:
        raise RuntimeError(
            f"torch.lu_factor: Expected tensor with 2 or more dimensions. Got size: {list(a.shape)} instead"
        )
    if a.dtype.category != FLOAT or a.dtype.itemsize < 4:
        raise NotImplementedError(f"\"lu_cpu\" not implemented for '{a.dtype.scalar_type}'")
    m, n = a.shape[-2:]
    return Meta(tuple(a.shape[:-2]) + (m + 1, n), a.dtype)


def lu_factor(a: np.ndarray) -> np.ndarray:
    """Gaussian elimination with partial pivoting, one vectorized step per column."""
    m, n = a.shape[-2:]
    k = min(m, n)
    batch = a.shape[:-2]
    out = np.zeros(batch + (m + 1, n), a.dtype)
    u = a.reshape((int(np.prod(batch)), m, n)).copy()
    rows = np.arange(u.shape[0])
    pivots = np.zeros((u.shape[0], k), np.int64)
    with np.errstate(all="ignore"):
        for j in range(k):
            p = j + np.argmax(np.abs(u[:, j:, j]), axis=1)
            pivots[:, j] = p + 1
            top, chosen = u[rows, j].copy(), u[rows, p].copy()
            u[rows, j], u[rows, p] = chosen, top
            pivot = u[:, j, j]
            scale = np.where(pivot == 0, 1, pivot).astype(a.dtype)
            u[:, j + 1 :, j] /= scale[:, None]
            u[:, j + 1 :, j + 1 :] -= u[:, j + 1 :, j, None] * u[:, j, None, j + 1 :]
    out[..., :m, :] = u.reshape(batch + (m, n))
    out[..., m, :k] = pivots.reshape(batch + (k,))
    return out


def lu_permutation(pivots: np.ndarray, *, m: int, dtype) -> np.ndarray:
    """``P`` with ``A = P L U`` from LAPACK's pivots (1-based, any numeric dtype)."""
    k = pivots.shape[-1]
    batch = pivots.shape[:-1]
    flat = pivots.reshape((int(np.prod(batch)), k)).astype(np.int64) - 1
    if flat.size and (flat.min() < 0 or flat.max() >= m):
        raise RuntimeError(
            "pivots passed to lu_unpack must be between 1 and LU.size(-2) inclusive."
            "Did you properly pass the result of lu_factor?"
        )
    perm = np.broadcast_to(np.arange(m), (flat.shape[0], m)).copy()
    rows = np.arange(flat.shape[0])
    for i in range(k):
        p = flat[:, i]
        here, there = perm[rows, i].copy(), perm[rows, p].copy()
        perm[rows, i], perm[rows, p] = there, here
    out = np.zeros((flat.shape[0], m, m), dtype.np)
    out[rows[:, None], perm, np.arange(m)[None, :]] = 1  # (P^T A)[i] = A[perm[i]]
    return out.reshape(batch + (m, m))


def _infer_lu_permutation(pivots: Meta, *, m: int, dtype) -> Meta:
    return Meta(tuple(pivots.shape[:-1]) + (m, m), dtype)


# --- gradient -------------------------------------------------------------------------------


def _mask(F, k: int, dtype, *, strict_lower: bool):
    return F.tri(
        shape=(k, k), offset=-1 if strict_lower else 0, lower=strict_lower, inside=1, outside=0, dtype=dtype
    )


def _square_rule(F, lu, g_lower, g_upper, dtype, k: int):
    """``L^-T (tril(L^T gL, -1) + triu(gU U^T)) U^-T`` for the packed square factor ``lu``
    (``g_lower``, ``g_upper`` already kept to their triangles)."""
    strict, upper = _mask(F, k, dtype, strict_lower=True), _mask(F, k, dtype, strict_lower=False)
    lt_gl = F.add(F.matmul(swap_last(F, F.mul(lu, strict)), g_lower), g_lower)  # (Ls + I)^T gL
    phi = F.add(F.mul(lt_gl, strict), F.mul(F.matmul(g_upper, swap_last(F, F.mul(lu, upper))), upper))
    left = F.solve_triangular(swap_last(F, lu), phi, upper=True, unitriangular=True)
    return swap_last(F, F.solve_triangular(lu, swap_last(F, left), upper=True, unitriangular=False))


def _lu_factor_vjp(F, g, c):
    meta = c.metas[0]
    m, n = meta.shape[-2:]
    k, dtype = min(m, n), meta.dtype
    lead = (slice(None),) * (len(meta.shape) - 2)
    out = c.out
    lu = F.slice(out, index=lead + (slice(0, k), slice(0, k)))
    g_lu = F.slice(g, index=lead + (slice(0, k), slice(0, k)))
    g_lower = F.mul(g_lu, _mask(F, k, dtype, strict_lower=True))
    g_upper = F.mul(g_lu, _mask(F, k, dtype, strict_lower=False))
    nd = len(meta.shape)
    if m < n:  # U2 = L^-1 (P^T A)_2
        u2 = F.slice(out, index=lead + (slice(0, m), slice(m, n)))
        w = F.solve_triangular(
            swap_last(F, lu),
            F.slice(g, index=lead + (slice(0, m), slice(m, n))),
            upper=True,
            unitriangular=True,
        )  # L^-T gU2
        g_lower = F.sub(g_lower, F.mul(F.matmul(w, swap_last(F, u2)), _mask(F, k, dtype, strict_lower=True)))
        g_permuted = F.cat(_square_rule(F, lu, g_lower, g_upper, dtype, k), w, dim=nd - 1)
    elif m > n:  # L2 = (P^T A)_2 U^-1
        l2 = F.slice(out, index=lead + (slice(n, m), slice(0, n)))
        g_l2 = F.slice(g, index=lead + (slice(n, m), slice(0, n)))
        v = swap_last(F, F.solve_triangular(lu, swap_last(F, g_l2), upper=True, unitriangular=False))
        g_upper = F.sub(g_upper, F.mul(F.matmul(swap_last(F, l2), v), _mask(F, k, dtype, strict_lower=False)))
        g_permuted = F.cat(_square_rule(F, lu, g_lower, g_upper, dtype, k), v, dim=nd - 2)
    else:
        g_permuted = _square_rule(F, lu, g_lower, g_upper, dtype, k)
    pivots = F.slice(out, index=lead + (m, slice(0, k)))
    return (F.matmul(F.lu_permutation(pivots, m=m, dtype=dtype), g_permuted),)


register(
    OpDef(
        "lu_factor",
        Kind.LAPACK,
        lu_factor,
        _infer_lu_factor,
        _lu_factor_vjp,
        save_output=True,
        fresh_layout=True,
        doc="P^T A = L U with partial pivoting, packed: L and U in rows [0, m), the 1-based pivots in row m.",
    )
)
register(
    OpDef(
        "lu_permutation",
        Kind.LAPACK,
        lu_permutation,
        _infer_lu_permutation,
        fresh_layout=True,
        doc="The m x m permutation P (of `dtype`) with A = P L U, from LAPACK's 1-based pivots.",
    )
)
