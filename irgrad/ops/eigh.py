"""The symmetric eigendecomposition: ``eigh`` and ``eigvalsh`` over any leading batch dims
of float32/float64 square matrices, as LAPACK primitives (:attr:`Kind.LAPACK`, see
:mod:`irgrad.ops.lapack`).  ``uplo`` names the triangle LAPACK reads, as PyTorch's ``UPLO``.

``eigh`` packs its two results in one array ``[..., n + 1, n]``: row 0 the eigenvalues
(ascending), rows ``1..n`` the matrix of eigenvectors (one per column).

Gradients are PyTorch's (``linalg_eig_backward`` for Hermitian matrices), with ``L`` the
eigenvalues and ``V`` the eigenvectors:
``gA = V (skew(V^T gV) / 2 / E + diag(gL)) V^T``, ``E_ij = L_j - L_i`` (a symmetric
gradient whichever triangle was read).  Where PyTorch leaves the eigenvector term out
because the graph does not use ``V``, the rule's 0 / 0 is 0, so the eigenvalues alone are
differentiable through repeated ones; ``eigvalsh``'s rule is ``V diag(gL) V^T`` with
``V`` from ``eigh`` (so it has a second derivative).
"""

from __future__ import annotations

import numpy as np

from ..dtypes import FLOAT
from .linalg import swap_last
from .registry import Kind, Meta, OpDef, register
from .svd import column, diag_embed, eye, row, zero_over_zero


def check_symmetric(a: Meta) -> None:
    """PyTorch's checks of ``eigh``'s input: a batch of square float32/float64 matrices."""
    if len(a.shape) < 2:
        raise RuntimeError("linalg.eigh: The input tensor A must have at least 2 dimensions.")
    if a.shape[-1] != a.shape[-2]:
        raise RuntimeError(
            f"linalg.eigh: A must be batches of square matrices, but they are {a.shape[-2]} by {a.shape[-1]} matrices"
        )
    if a.dtype.category != FLOAT or a.dtype.itemsize < 4:
        raise NotImplementedError(f"\"linalg_eigh_cpu\" not implemented for '{a.dtype.scalar_type}'")


def _infer_eigh(a: Meta, *, uplo: str) -> Meta:
    check_symmetric(a)
    n = a.shape[-1]
    return Meta(tuple(a.shape[:-2]) + (n + 1, n), a.dtype)


def _infer_eigvalsh(a: Meta, *, uplo: str) -> Meta:
    check_symmetric(a)
    return Meta(tuple(a.shape[:-1]), a.dtype)


def eigh(a: np.ndarray, *, uplo: str) -> np.ndarray:
    """The packed eigenvalues and eigenvectors (module doc)."""
    values, vectors = np.linalg.eigh(a, UPLO=uplo)
    return np.concatenate([values[..., None, :], vectors], axis=-2).astype(a.dtype, copy=False)


def eigvalsh(a: np.ndarray, *, uplo: str) -> np.ndarray:
    """The eigenvalues of each matrix, ascending."""
    return np.linalg.eigvalsh(a, UPLO=uplo).astype(a.dtype, copy=False)


def unpack_eigh(F, packed, n: int, batch: tuple[int, ...]):
    """The eigenvalues and the eigenvectors of a packed ``eigh``."""
    lead = (slice(None),) * len(batch)
    return F.slice(packed, index=lead + (0,)), F.slice(packed, index=lead + (slice(1, n + 1),))


def _eigh_vjp(F, g, c):
    meta = c.metas[0]
    batch, n = tuple(meta.shape[:-2]), meta.shape[-1]
    if n == 0:
        return (F.full(shape=tuple(meta.shape), value=0.0, dtype=meta.dtype),)
    gl, gv = unpack_eigh(F, g, n, batch)
    values, vectors = unpack_eigh(F, c.out, n, batch)
    vg = F.matmul(swap_last(F, vectors), gv)
    half_skew = F.mul(F.sub(vg, swap_last(F, vg)), 0.5)
    gaps = F.add(F.sub(row(F, values, batch), column(F, values, batch)), eye(F, n, meta.dtype))
    inner = F.add(zero_over_zero(F, half_skew, gaps), diag_embed(F, gl, batch + (n, n)))
    return (F.matmul(F.matmul(vectors, inner), swap_last(F, vectors)),)


def _eigvalsh_vjp(F, g, c):
    (a,), meta = c.ins, c.metas[0]
    batch, n = tuple(meta.shape[:-2]), meta.shape[-1]
    _, vectors = unpack_eigh(F, F.eigh(a, uplo=c.attrs["uplo"]), n, batch)
    return (F.matmul(F.mul(vectors, row(F, g, batch)), swap_last(F, vectors)),)


register(
    OpDef(
        "eigh",
        Kind.LAPACK,
        eigh,
        _infer_eigh,
        _eigh_vjp,
        save_output=True,
        fresh_layout=True,
        doc="Eigenvalues (row 0) and eigenvectors (rows 1..n) of each symmetric matrix, packed.",
    )
)
register(
    OpDef(
        "eigvalsh",
        Kind.LAPACK,
        eigvalsh,
        _infer_eigvalsh,
        _eigvalsh_vjp,
        save_inputs=True,
        fresh_layout=True,
        doc="The eigenvalues of each symmetric matrix, ascending.",
    )
)
