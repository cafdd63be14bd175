"""The QR decomposition ``A = Q R`` over any leading batch dims of float32/float64
matrices, as a LAPACK primitive (:attr:`Kind.LAPACK`, see :mod:`irgrad.ops.lapack`), in
PyTorch's three modes: ``'reduced'`` (``Q`` is ``m x k``, ``R`` is ``k x n``,
``k = min(m, n)``), ``'complete'`` (``Q`` is ``m x m``, ``R`` is ``m x n``) and ``'r'``
(``R`` alone, as in ``'reduced'``).

The op packs both results: ``[..., rows + n, width]``, ``Q`` in the first ``rows`` rows
(none with ``'r'``) and ``R^T`` in the last ``n`` (``width`` is ``Q``'s columns, ``R``'s rows).

The gradient is PyTorch's (``linalg_qr_backward``), and refused where it is:
with ``'r'`` and with ``'complete'`` for ``m > n`` (where ``Q``'s last columns are not
determined).  For ``m >= n``: ``gA = (gQ + Q copyltu(M)) R^-T``, ``M = R gR^T - gQ^T Q``,
``copyltu`` the symmetric matrix of ``M``'s lower triangle.  For ``m < n``, with
``A = [X | Y]`` split after column ``m`` and ``R = [U | V]`` likewise (``X = Q U``,
``Y = Q V``): ``gY = Q gV`` and ``gX`` is the square rule for ``Q, U`` with
``gQ + Y gV^T`` in place of ``gQ``.
"""

from __future__ import annotations

import numpy as np

from .linalg import swap_last
from .registry import Kind, Meta, OpDef, register
from .svd import check_matrices

MODES = ("reduced", "complete", "r")


def qr_widths(m: int, n: int, mode: str) -> tuple[int, int]:
    """The rows of ``Q`` and the columns of ``Q`` (rows of ``R``) in the packed ``qr``."""
    width = m if mode == "complete" else min(m, n)
    return (0 if mode == "r" else m), width


def _infer_qr(a: Meta, *, mode: str) -> Meta:
    check_matrices("linalg.qr", a, "geqrf_cpu")
    m, n = a.shape[-2:]
    rows, width = qr_widths(m, n, mode)
    return Meta(tuple(a.shape[:-2]) + (rows + n, width), a.dtype)


def qr(a: np.ndarray, *, mode: str) -> np.ndarray:
    """The packed ``Q`` and ``R^T`` (module doc) of numpy's (LAPACK geqrf's, as PyTorch's)
    factorization."""
    if mode == "r":
        return np.swapaxes(np.linalg.qr(a, mode="r"), -1, -2).astype(a.dtype, copy=False)
    q, r = np.linalg.qr(a, mode=mode)
    return np.concatenate([q, np.swapaxes(r, -1, -2)], axis=-2).astype(a.dtype, copy=False)


def _copyltu(F, x, k: int, dtype):
    """The symmetric matrix whose lower triangle is ``x``'s."""
    lower = F.mul(x, F.tri(shape=(k, k), offset=0, lower=True, inside=1, outside=0, dtype=dtype))
    strictly = F.mul(x, F.tri(shape=(k, k), offset=-1, lower=True, inside=1, outside=0, dtype=dtype))
    return F.add(lower, swap_last(F, strictly))


def _square_backward(F, q, r, gq, gr, dtype):
    """``gA`` for ``A = Q R`` with ``R`` square (``m >= n``, or the first ``m`` columns)."""
    k = r.shape[-1]
    m_ = F.sub(F.matmul(r, swap_last(F, gr)), F.matmul(swap_last(F, gq), q))
    b = F.add(gq, F.matmul(q, _copyltu(F, m_, k, dtype)))
    return swap_last(F, F.solve(r, swap_last(F, b)))  # b R^-T


def _qr_vjp(F, g, c):
    mode, meta = c.attrs["mode"], c.metas[0]
    batch, (m, n) = tuple(meta.shape[:-2]), meta.shape[-2:]
    if mode == "r":
        raise RuntimeError(
            "The derivative of linalg.qr depends on Q, which is not computed when mode='r'. Please use "
            "linalg.qr(A, mode='reduced') if you are going to differentiate through linalg.qr."
        )
    if mode == "complete" and m > n:
        raise RuntimeError(
            "The QR decomposition is not differentiable when mode='complete' and nrows > ncols."
        )
    if m == 0 or n == 0:
        return (F.full(shape=tuple(meta.shape), value=0.0, dtype=meta.dtype),)
    lead = (slice(None),) * len(batch)

    def parts(packed):
        q = F.slice(packed, index=lead + (slice(0, m),))
        return q, swap_last(F, F.slice(packed, index=lead + (slice(m, m + n),)))

    (q, r), (gq, gr) = parts(c.out), parts(g)
    if m >= n:
        return (_square_backward(F, q, r, gq, gr, meta.dtype),)

    def columns(x, start, stop):
        return F.slice(x, index=lead + (slice(None), slice(start, stop)))

    u, v, gu, gv = columns(r, 0, m), columns(r, m, n), columns(gr, 0, m), columns(gr, m, n)
    y = F.matmul(q, v)
    gx = _square_backward(F, q, u, F.add(gq, F.matmul(y, swap_last(F, gv))), gu, meta.dtype)
    return (F.cat(gx, F.matmul(q, gv), dim=len(batch) + 1),)


register(
    OpDef(
        "qr",
        Kind.LAPACK,
        qr,
        _infer_qr,
        _qr_vjp,
        save_output=True,
        fresh_layout=True,
        doc="Q and R^T of each matrix, packed (ops/qr.py); mode 'reduced', 'complete' or 'r'.",
    )
)
