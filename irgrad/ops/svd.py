"""The singular value decomposition and what is built on it: ``svd``, ``svdvals`` and
``pinv``, over any leading batch dims of float32/float64 matrices, as LAPACK primitives
(:attr:`Kind.LAPACK`, see :mod:`irgrad.ops.lapack`).

An op has one result, so ``svd`` packs its three: rows ``[0, m)`` hold ``U`` (``m x ku``),
rows ``[m, m + n)`` hold ``V = Vh^T`` (``n x kv``) and row ``m + n`` the singular values
(``k = min(m, n)`` of them), zero-padded to a common width (:func:`svd_widths`).  The
public functions slice it apart, so the gradient reaches the rule as one packed array
with zeros where an output was unused.

Gradients (real matrices) are PyTorch's ``svd_backward`` and ``pinv_backward``:

* ``svd``: ``gA = U (sym-part / E + diag(gS)) V^T`` plus the terms leaving the span of
  ``U`` (``m > n``) or ``V`` (``m < n``), ``E_ij = S_j^2 - S_i^2``.  Where PyTorch skips a
  term for an output the graph does not use, the rule divides 0 / 0 as 0 instead, so
  ``S`` alone is differentiable through repeated singular values as in PyTorch; the
  first ``k`` columns of ``U`` and rows of ``Vh`` carry the gradient with
  ``full_matrices``, as PyTorch's.
* ``svdvals``: ``U diag(gS) V^T``, with ``U`` and ``V`` from ``svd`` (so it has a second
  derivative);
* ``pinv``: PyTorch's ``pinv_backward`` of the result and the input, defined whatever the
  rank and however the singular values repeat.
"""

from __future__ import annotations

import numpy as np

from ..dtypes import FLOAT, float64
from .lapack import LinAlgError
from .linalg import swap_last
from .registry import Kind, Meta, OpDef, register
from .shapes import broadcast_shapes

# --- shape rules --------------------------------------------------------------------------


def check_matrices(name: str, a: Meta, kernel: str) -> None:
    """PyTorch's checks of a batch of float32/float64 matrices for the LAPACK routine whose
    CPU kernel is called ``kernel`` (named by the error for float16)."""
    if len(a.shape) < 2:
        raise RuntimeError(f"{name}: The input tensor A must have at least 2 dimensions.")
    if a.dtype.category != FLOAT:
        raise RuntimeError(
            f"{name}: Expected a floating point or complex tensor as input. Got {a.dtype.scalar_type}"
        )
    if a.dtype.itemsize < 4:
        raise NotImplementedError(f"\"{kernel}\" not implemented for '{a.dtype.scalar_type}'")


def svd_widths(m: int, n: int, full_matrices: bool) -> tuple[int, int]:
    """The columns of ``U`` and of ``V`` in the packed ``svd`` of ``m x n`` matrices."""
    return (m, n) if full_matrices else (min(m, n), min(m, n))


def _infer_svd(a: Meta, *, full_matrices: bool) -> Meta:
    check_matrices("linalg.svd", a, "linalg_svd_cpu")
    m, n = a.shape[-2:]
    return Meta(tuple(a.shape[:-2]) + (m + n + 1, max(svd_widths(m, n, full_matrices))), a.dtype)


def _infer_svdvals(a: Meta) -> Meta:
    check_matrices("linalg.svd", a, "linalg_svd_cpu")
    return Meta(tuple(a.shape[:-2]) + (min(a.shape[-2:]),), a.dtype)


def check_pinv(a: Meta, hermitian: bool) -> None:
    """PyTorch's checks of ``pinv``'s input: float32/float64 matrices, square if ``hermitian``."""
    if len(a.shape) < 2 or a.dtype.category != FLOAT or a.dtype.itemsize < 4:
        raise RuntimeError(
            f"linalg.pinv({a.dtype.scalar_type}{{{list(a.shape)}}}): expected a tensor with 2 or more "
            "dimensions of float, double, cfloat or cdouble types"
        )
    m, n = a.shape[-2:]
    if hermitian and m != n:
        raise RuntimeError(
            f"linalg.eigh: A must be batches of square matrices, but they are {m} by {n} matrices"
        )


def _infer_pinv(a: Meta, atol: Meta, rtol: Meta, *, hermitian: bool) -> Meta:
    check_pinv(a, hermitian)
    m, n = a.shape[-2:]
    batch = tuple(a.shape[:-2])
    for tol in (atol, rtol):
        if tol.dtype is not float64 or broadcast_shapes("linalg.pinv", tuple(tol.shape), batch) != batch:
            raise RuntimeError(
                f"linalg.pinv: tolerances must be float64 and broadcast to the batch shape {batch}, "
                f"got {tol.dtype} of shape {tuple(tol.shape)}"
            )
    return Meta(batch + (n, m), a.dtype)


# --- kernels ------------------------------------------------------------------------------


def _not_finite(name: str, a: np.ndarray) -> LinAlgError:
    """PyTorch's error for the first matrix holding NaN or infinity (LAPACK's SVD does not
    converge on one)."""
    bad = ~np.isfinite(a).all(axis=(-2, -1))
    element = int(np.flatnonzero(bad.reshape(-1))[0]) if bad.ndim else 0
    where = f"(Batch element {element}): " if a.ndim > 2 else ""
    return LinAlgError(
        f"{name}: {where}The algorithm failed to converge because the input matrix contained non-finite values."
    )


def factor(a: np.ndarray, full_matrices: bool = False, compute_uv: bool = True):
    """numpy's (LAPACK gesdd's, as PyTorch's) ``U, S, Vh``, or ``S`` alone; PyTorch's
    :class:`LinAlgError` for a matrix that is not finite."""
    if a.size and not np.isfinite(a).all():
        raise _not_finite("linalg.svd", a)
    return np.linalg.svd(a, full_matrices=full_matrices, compute_uv=compute_uv)


def svd(a: np.ndarray, *, full_matrices: bool) -> np.ndarray:
    """The packed ``U``, ``V`` and singular values (module doc)."""
    u, s, vh = factor(a, full_matrices)
    m, n = a.shape[-2:]
    ku, kv = svd_widths(m, n, full_matrices)
    out = np.zeros(a.shape[:-2] + (m + n + 1, max(ku, kv)), a.dtype)
    out[..., :m, :ku] = u
    out[..., m : m + n, :kv] = np.swapaxes(vh, -1, -2)
    out[..., m + n, : s.shape[-1]] = s
    return out


def svdvals(a: np.ndarray) -> np.ndarray:
    """The singular values of each matrix, in descending order."""
    return factor(a, compute_uv=False).astype(a.dtype, copy=False)


def pinv(a: np.ndarray, atol: np.ndarray, rtol: np.ndarray, *, hermitian: bool) -> np.ndarray:
    """The pseudo-inverse of each matrix, as PyTorch computes it: the singular values (the
    eigenvalues' magnitudes with ``hermitian``, reading the lower triangle) above
    ``max(atol, rtol * the largest)`` inverted, the others taken as 0."""
    m, n = a.shape[-2:]
    if a.size == 0:
        return np.zeros(a.shape[:-2] + (n, m), a.dtype)
    if hermitian:
        s, v = np.linalg.eigh(a)
        magnitude = np.abs(s)
        left, right = v, np.swapaxes(v, -1, -2)
    else:
        u, s, vh = factor(a)
        magnitude = s
        left, right = np.swapaxes(vh, -1, -2), np.swapaxes(u, -1, -2)
    largest = magnitude.max(axis=-1, keepdims=True)
    tol = np.maximum(atol[..., None], rtol[..., None] * largest)
    with np.errstate(divide="ignore"):
        inverted = np.where(magnitude > tol, 1 / s, 0).astype(a.dtype)
    return (left * inverted[..., None, :]) @ right


# --- gradients ----------------------------------------------------------------------------


def eye(F, k: int, dtype):
    """The ``k x k`` identity."""
    return diag_embed(F, F.full(shape=(k,), value=1.0, dtype=dtype), (k, k))


def diag_embed(F, d, shape: tuple[int, ...]):
    """Matrices of ``shape`` with ``d``'s last dim on their diagonals."""
    n = len(shape)
    return F.diagonal_grad(d, shape=tuple(shape), offset=0, dim1=n - 2, dim2=n - 1)


def zero_over_zero(F, num, den):
    """``num / den`` with 0 / 0 taken as 0: what a term PyTorch leaves out for an output the
    graph does not use (a zero gradient here) contributes, even where ``den`` is 0."""
    return F.where(F.eq(num, 0.0), 0.0, F.div(num, den))


def row(F, x, batch: tuple[int, ...]):
    """The vectors ``x`` (last dim ``k``) as ``1 x k`` matrices."""
    return F.reshape(x, shape=tuple(batch) + (1, x.shape[-1]))


def column(F, x, batch: tuple[int, ...]):
    """The vectors ``x`` (last dim ``k``) as ``k x 1`` matrices."""
    return F.reshape(x, shape=tuple(batch) + (x.shape[-1], 1))


def skew(F, x):
    return F.sub(x, swap_last(F, x))


def unpack_svd(F, packed, m: int, n: int, batch: tuple[int, ...]):
    """``U`` (``m x k``), ``S`` and ``V`` (``n x k``) of a packed ``svd``, ``k = min(m, n)``."""
    lead, k = (slice(None),) * len(batch), min(m, n)
    return (
        F.slice(packed, index=lead + (slice(0, m), slice(0, k))),
        F.slice(packed, index=lead + (m + n, slice(0, k))),
        F.slice(packed, index=lead + (slice(m, m + n), slice(0, k))),
    )


def svd_backward(F, gu, gs, gv, u, s, v, meta: Meta):
    """PyTorch's ``svd_backward`` (module doc) for ``A = U diag(S) V^T`` of shape ``meta``."""
    batch, (m, n) = tuple(meta.shape[:-2]), meta.shape[-2:]
    k = min(m, n)
    if k == 0:
        return F.full(shape=tuple(meta.shape), value=0.0, dtype=meta.dtype)
    s2 = F.mul(s, s)
    e = F.add(F.sub(row(F, s2, batch), column(F, s2, batch)), eye(F, k, meta.dtype))
    sym = F.add(
        F.mul(skew(F, F.matmul(swap_last(F, u), gu)), row(F, s, batch)),
        F.mul(column(F, s, batch), skew(F, F.matmul(swap_last(F, v), gv))),
    )
    inner = F.add(zero_over_zero(F, sym, e), diag_embed(F, gs, batch + (k, k)))
    if m > n:
        gu_s = zero_over_zero(F, gu, row(F, s, batch))
        outer = F.add(F.matmul(u, inner), F.sub(gu_s, F.matmul(u, F.matmul(swap_last(F, u), gu_s))))
        return F.matmul(outer, swap_last(F, v))
    if m < n:
        s_gvh = zero_over_zero(F, swap_last(F, gv), column(F, s, batch))
        outer = F.add(
            F.matmul(inner, swap_last(F, v)), F.sub(s_gvh, F.matmul(F.matmul(s_gvh, v), swap_last(F, v)))
        )
        return F.matmul(u, outer)
    return F.matmul(F.matmul(u, inner), swap_last(F, v))


def _svd_vjp(F, g, c):
    meta = c.metas[0]
    m, n = meta.shape[-2:]
    batch = tuple(meta.shape[:-2])
    return (svd_backward(F, *unpack_svd(F, g, m, n, batch), *unpack_svd(F, c.out, m, n, batch), meta),)


def _svdvals_vjp(F, g, c):
    (a,), meta = c.ins, c.metas[0]
    m, n = meta.shape[-2:]
    batch = tuple(meta.shape[:-2])
    u, _, v = unpack_svd(F, F.svd(a, full_matrices=False), m, n, batch)
    return (F.matmul(F.mul(u, row(F, g, batch)), swap_last(F, v)),)


def _pinv_vjp(F, g, c):
    """PyTorch's ``pinv_backward``, ordered so the products are of the smaller dim."""
    (a, _, _), p = c.ins, c.out
    m, n = c.metas[0].shape[-2:]
    p_t, g_t = swap_last(F, p), swap_last(F, g)
    if m <= n:
        k = F.matmul(g_t, p)
        k_p_t = F.matmul(k, p_t)
        ga = F.add(
            F.sub(k_p_t, swap_last(F, F.matmul(p, k))),
            F.sub(
                F.matmul(F.matmul(p_t, p), F.sub(g_t, F.matmul(k, a))),
                F.matmul(F.matmul(a, p), k_p_t),
            ),
        )
    else:
        k = F.matmul(p, g_t)
        p_t_k = F.matmul(p_t, k)
        ga = F.add(
            F.sub(p_t_k, swap_last(F, F.matmul(k, p))),
            F.sub(
                F.matmul(F.matmul(F.sub(g_t, F.matmul(a, k)), p), p_t),
                F.matmul(F.matmul(p_t_k, p), a),
            ),
        )
    return ga, None, None


register(
    OpDef(
        "svd",
        Kind.LAPACK,
        svd,
        _infer_svd,
        _svd_vjp,
        save_output=True,
        fresh_layout=True,
        doc="U, V and the singular values of each matrix, packed in one array (ops/svd.py).",
    )
)
register(
    OpDef(
        "svdvals",
        Kind.LAPACK,
        svdvals,
        _infer_svdvals,
        _svdvals_vjp,
        save_inputs=True,
        fresh_layout=True,
        doc="The singular values of each matrix, descending.",
    )
)
register(
    OpDef(
        "pinv",
        Kind.LAPACK,
        pinv,
        _infer_pinv,
        _pinv_vjp,
        save_inputs=(0,),
        save_output=True,
        arity=3,
        fresh_layout=True,
        doc="The pseudo-inverse of each matrix; singular values at most max(atol, rtol * largest) "
        "(float64 tolerances broadcast to the batch) count as 0.",
    )
)
