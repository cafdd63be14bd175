"""Triangular solves and the Cholesky factor that reports failure instead of raising, as
LAPACK primitives (:attr:`Kind.LAPACK`, see :mod:`irgrad.ops.lapack`).

* ``solve_triangular(A, B)``: ``X`` with ``A X = B`` reading only ``A``'s ``upper`` or
  lower triangle (and taking its diagonal as ones with ``unitriangular``), by
  substitution as LAPACK's ``trsm``: a zero on the diagonal gives inf/NaN, not an error,
  as PyTorch's.  Gradient: ``gB = solve_triangular(A^T, g)`` (the other triangle),
  ``gA = -gB X^T`` kept to the triangle read (without the diagonal when it is unit).
* ``cholesky_ex``: the lower Cholesky factor where the matrix is positive-definite and
  otherwise what LAPACK's unblocked ``potf2`` leaves: the columns before the failing one
  factored, the failing pivot's value (not positive, or NaN) on the diagonal, the rest
  of the lower triangle as it was; the public function reads ``info`` off the diagonal.
  Gradient: ``cholesky``'s.
"""

from __future__ import annotations

import numpy as np

from .lapack import _cholesky_vjp, check_square
from .linalg import swap_last
from .registry import Kind, Meta, OpDef, register
from .shapes import fmt


def _infer_solve_triangular(a: Meta, b: Meta, *, upper: bool, unitriangular: bool) -> Meta:
    check_square("linalg.solve_triangular", a)
    if len(b.shape) != len(a.shape) or b.shape[:-2] != a.shape[:-2] or b.shape[-2] != a.shape[-1]:
        raise RuntimeError(
            f"linalg.solve_triangular: expected B of shape {fmt(a.shape[:-1] + (-1,))} (the public "
            f"function broadcasts the batch dims), got {fmt(b.shape)}"
        )
    if a.dtype is not b.dtype:
        raise RuntimeError(
            f"linalg.solve_triangular: expected A and B of one dtype, got {a.dtype.scalar_type} and "
            f"{b.dtype.scalar_type}"
        )
    return Meta(tuple(b.shape), b.dtype)


def solve_triangular(a: np.ndarray, b: np.ndarray, *, upper: bool, unitriangular: bool) -> np.ndarray:
    """Row-by-row substitution over the whole batch (one vectorized step per row)."""
    x = np.array(b, copy=True)
    n = a.shape[-1]
    with np.errstate(all="ignore"):
        for i in range(n - 1, -1, -1) if upper else range(n):
            done = slice(i + 1, n) if upper else slice(0, i)
            if done.stop > done.start:
                x[..., i, :] -= (a[..., i : i + 1, done] @ x[..., done, :])[..., 0, :]
            if not unitriangular:
                x[..., i, :] /= a[..., i, i, None]
    return x


def _triangle_mask(F, meta: Meta, *, upper: bool, strict: bool):
    n = meta.shape[-1]
    offset = (1 if upper else -1) if strict else 0
    return F.tri(shape=(n, n), offset=offset, lower=not upper, inside=1, outside=0, dtype=meta.dtype)


def _solve_triangular_vjp(F, g, c):
    a = c.ins[0]
    upper, unit = c.attrs["upper"], c.attrs["unitriangular"]
    gb = F.solve_triangular(swap_last(F, a), g, upper=not upper, unitriangular=unit)
    ga = None
    if c.needs[0]:
        mask = _triangle_mask(F, c.metas[0], upper=upper, strict=unit)
        ga = F.mul(F.neg(F.matmul(gb, swap_last(F, c.out))), mask)
    return ga, gb if c.needs[1] else None


def _potf2(a: np.ndarray) -> np.ndarray:
    """LAPACK's unblocked Cholesky of one matrix, stopping at the first pivot that is not
    positive (kept on the diagonal), the lower triangle past it left as it was."""
    out = np.tril(a).astype(np.float64)
    n = a.shape[-1]
    for j in range(n):
        d = out[j, j] - out[j, :j] @ out[j, :j]
        if not d > 0:
            out[j, j] = d
            break
        out[j, j] = np.sqrt(d)
        out[j + 1 :, j] = (out[j + 1 :, j] - out[j + 1 :, :j] @ out[j, :j]) / out[j, j]
    return out.astype(a.dtype)


def cholesky_ex(a: np.ndarray) -> np.ndarray:
    """numpy's Cholesky where it succeeds, :func:`_potf2` for the matrices where it fails."""
    if a.size == 0:
        return a.copy()
    try:
        out = np.linalg.cholesky(a)
        if not np.isnan(np.diagonal(out, axis1=-2, axis2=-1)).any():
            return out
    except np.linalg.LinAlgError:
        pass
    n = a.shape[-1]
    flat = a.reshape(-1, n, n)
    out = np.empty_like(flat)
    for i, m in enumerate(flat):
        try:
            out[i] = np.linalg.cholesky(m)
            failed = np.isnan(np.diagonal(out[i])).any()
        except np.linalg.LinAlgError:
            failed = True
        if failed:
            out[i] = _potf2(m)
    return out.reshape(a.shape)


register(
    OpDef(
        "solve_triangular",
        Kind.LAPACK,
        solve_triangular,
        _infer_solve_triangular,
        _solve_triangular_vjp,
        save_inputs=(0,),
        save_output=True,
        arity=2,
        fresh_layout=True,
        doc="X with A X = B reading A's `upper` or lower triangle (unit diagonal with `unitriangular`).",
    )
)
register(
    OpDef(
        "cholesky_ex",
        Kind.LAPACK,
        cholesky_ex,
        lambda a: (check_square("linalg.cholesky", a), Meta(tuple(a.shape), a.dtype))[1],
        _cholesky_vjp,
        save_output=True,
        fresh_layout=True,
        doc="The lower Cholesky factor, or LAPACK potf2's partial one where the matrix is not "
        "positive-definite (no error).",
    )
)
