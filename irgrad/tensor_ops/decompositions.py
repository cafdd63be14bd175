"""The SVD-, eigh- and QR-based part of ``torch.linalg``: ``svd``, ``svdvals``, ``eigh``,
``eigvalsh``, ``qr``, ``pinv``, ``matrix_rank``, ``lstsq`` and ``cond``, and the older
``torch.svd``, ``torch.qr`` and ``torch.pinverse``.

The factorizations are primitives of :mod:`irgrad.ops.svd`, :mod:`irgrad.ops.eigh` and
:mod:`irgrad.ops.qr` returning their results packed in one array; this module runs
PyTorch's argument checks first (the kernels would take an integer matrix), slices the
results apart into PyTorch's named tuples, and composes the rest:

* ``matrix_rank`` counts the singular values (eigenvalues' magnitudes) above
  ``max(atol, rtol * the largest)``, as PyTorch's, with no gradient;
* ``lstsq`` is ``pinv(A) B`` with ``rcond`` as the relative tolerance (see
  ``docs/pytorch-differences.md``), and fills the fields PyTorch's CPU driver does: the
  default ``'gelsy'`` gives the rank and leaves ``residuals`` and ``singular_values``
  empty;
* ``cond`` is the ratio of the extreme singular values for ``p`` in (None, 2, -2), and
  ``norm(A, p) * norm(inv(A), p)`` (infinite for a singular matrix) otherwise.
"""

from __future__ import annotations

import math
from collections import namedtuple

import numpy as np

from .._arguments import tensor_arguments
from ..creation import eye, tensor, zeros
from ..dispatch import apply
from ..dtypes import FLOAT, finfo, float64, int64
from ..ops import OPS
from ..ops.eigh import check_symmetric
from ..ops.qr import MODES
from ..ops.svd import check_matrices, check_pinv, svd_widths
from ..tensor import Tensor
from . import pointwise as P
from . import reduce as R
from .lapack import _broadcast_batch, inv
from .norms import matrix_norm
from .select import where
from .shape import squeeze, transpose, unsqueeze

svd_result = namedtuple("linalg_svd", ["U", "S", "Vh"])
legacy_svd_result = namedtuple("svd", ["U", "S", "V"])
eigh_result = namedtuple("linalg_eigh", ["eigenvalues", "eigenvectors"])
qr_result = namedtuple("linalg_qr", ["Q", "R"])
legacy_qr_result = namedtuple("qr", ["Q", "R"])
lstsq_result = namedtuple("linalg_lstsq", ["solution", "residuals", "rank", "singular_values"])

_LSTSQ_DRIVERS = ("gels", "gelsy", "gelsd", "gelss")


def _t(x: Tensor) -> Tensor:
    return transpose(x, -2, -1)


def _lead(x: Tensor) -> tuple:
    return (slice(None),) * (x.ndim - 2)


# --- SVD -----------------------------------------------------------------------------------


def _packed_svd(A: Tensor, full_matrices: bool) -> tuple[Tensor, Tensor, Tensor]:
    """``U``, ``S`` and ``V`` (not ``Vh``) sliced from the ``svd`` primitive."""
    check_matrices("linalg.svd", A, "linalg_svd_cpu")
    m, n = A.shape[-2:]
    ku, kv = svd_widths(m, n, full_matrices)
    packed = apply(OPS["svd"], (A,), {"full_matrices": bool(full_matrices)})
    lead = _lead(A)
    u = packed[lead + (slice(0, m), slice(0, ku))]
    v = packed[lead + (slice(m, m + n), slice(0, kv))]
    return u, packed[lead + (m + n, slice(0, min(m, n)))], v


@tensor_arguments
def svd(A: Tensor, full_matrices: bool = True, *, driver: str | None = None) -> svd_result:
    """``A = U diag(S) Vh`` for each matrix of ``A``: ``U`` and ``Vh`` with orthonormal
    columns and rows, ``S`` descending; with ``full_matrices`` ``U`` is ``m x m`` and ``Vh``
    ``n x n`` (their extra columns and rows, any orthonormal completion, get no gradient)."""
    if driver is not None:
        raise RuntimeError(
            "torch.linalg.svd: keyword argument `driver=` is only supported on CUDA inputs with cuSOLVER backend."
        )
    u, s, v = _packed_svd(A, full_matrices)
    return svd_result(u, s, _t(v))


@tensor_arguments
def svdvals(A: Tensor, *, driver: str | None = None) -> Tensor:
    """The singular values of each matrix of ``A``, descending."""
    if driver is not None:
        raise RuntimeError(
            "torch.linalg.svd: keyword argument `driver=` is only supported on CUDA inputs with cuSOLVER backend."
        )
    check_matrices("linalg.svd", A, "linalg_svd_cpu")
    return apply(OPS["svdvals"], (A,))


@tensor_arguments
def legacy_svd(input: Tensor, some: bool = True, compute_uv: bool = True) -> legacy_svd_result:
    """``torch.svd``: ``U, S, V`` (``V``, not ``Vh``), reduced unless ``some=False``; with
    ``compute_uv=False`` only ``S``, and ``U``, ``V`` square zero matrices, as PyTorch's."""
    if input.ndim < 2:
        raise RuntimeError(
            f"linalg.svd: input should have at least 2 dimensions, but has {input.ndim} dimensions instead"
        )
    if compute_uv:
        u, s, v = _packed_svd(input, not some)
        return legacy_svd_result(u, s, v)
    s = svdvals(input)
    batch, (m, n) = tuple(input.shape[:-2]), input.shape[-2:]
    return legacy_svd_result(
        zeros(batch + (m, m), dtype=input.dtype), s, zeros(batch + (n, n), dtype=input.dtype)
    )


# --- eigh ----------------------------------------------------------------------------------


def _uplo(UPLO: str) -> str:
    if not isinstance(UPLO, str) or UPLO.upper() not in ("L", "U"):
        raise RuntimeError(f"Expected UPLO argument to be 'L' or 'U', but got {UPLO}")
    return UPLO.upper()


@tensor_arguments
def eigh(A: Tensor, UPLO: str = "L") -> eigh_result:
    """The eigenvalues (ascending) and eigenvectors (columns) of each symmetric matrix of
    ``A``, reading its ``UPLO`` triangle."""
    uplo = _uplo(UPLO)
    check_symmetric(A)
    packed, lead = apply(OPS["eigh"], (A,), {"uplo": uplo}), _lead(A)
    return eigh_result(packed[lead + (0,)], packed[lead + (slice(1, None),)])


@tensor_arguments
def eigvalsh(A: Tensor, UPLO: str = "L") -> Tensor:
    """The eigenvalues of each symmetric matrix of ``A``, ascending."""
    uplo = _uplo(UPLO)
    check_symmetric(A)
    return apply(OPS["eigvalsh"], (A,), {"uplo": uplo})


# --- QR ------------------------------------------------------------------------------------


@tensor_arguments
def qr(A: Tensor, mode: str = "reduced") -> qr_result:
    """``A = Q R`` for each matrix of ``A``: ``Q`` with orthonormal columns, ``R`` upper
    triangular; ``mode`` ``'reduced'``, ``'complete'`` (``Q`` square) or ``'r'`` (``Q``
    empty, and no gradient, as PyTorch's)."""
    if mode not in MODES:
        raise RuntimeError(
            f"qr received unrecognized mode '{mode}' but expected one of 'reduced' (default), 'r', or 'complete'"
        )
    check_matrices("linalg.qr", A, "geqrf_cpu")
    m, n = A.shape[-2:]
    packed = apply(OPS["qr"], (A,), {"mode": mode})
    rows = 0 if mode == "r" else m
    lead = _lead(A)
    q = packed[lead + (slice(0, rows),)]
    return qr_result(q.reshape(0) if mode == "r" else q, _t(packed[lead + (slice(rows, rows + n),)]))


@tensor_arguments
def legacy_qr(input: Tensor, some: bool = True) -> legacy_qr_result:
    """``torch.qr``: :func:`qr` in mode ``'reduced'``, or ``'complete'`` with ``some=False``."""
    return legacy_qr_result(*qr(input, "reduced" if some else "complete"))


# --- pseudo-inverse, rank, least squares -----------------------------------------------------


def _epsilon(A: Tensor) -> float:
    if A.dtype.category != FLOAT or A.dtype.itemsize < 4:
        raise RuntimeError("This function doesn't handle types other than float and double")
    return finfo(A.dtype).eps


def _tolerances(A: Tensor, atol, rtol) -> tuple[Tensor, Tensor]:
    """PyTorch's ``get_atol_rtol``, as float64 tensors: ``atol`` 0 unless given; ``rtol``
    ``eps * max(m, n)`` unless given, or 0 where a given ``atol`` is positive."""

    def default() -> float:
        return _epsilon(A) * max(A.shape[-2:])

    def as_float64(x) -> Tensor:
        return x.detach().double() if isinstance(x, Tensor) else tensor(float(x), dtype=float64)

    if rtol is None:
        if atol is None:
            rtol = default()
        elif isinstance(atol, Tensor):
            rtol = where(P.gt(atol, 0), 0.0, as_float64(default()))
        else:
            rtol = 0.0 if atol > 0 else default()
    return as_float64(0.0 if atol is None else atol), as_float64(rtol)


def _pinv(A: Tensor, atol, rtol, hermitian: bool) -> Tensor:
    check_pinv(A, hermitian)
    atol, rtol = _tolerances(A, atol, rtol)
    batch = _broadcast_batch(tuple(atol.shape), _broadcast_batch(tuple(rtol.shape), tuple(A.shape[:-2])))
    A = A.expand(batch + tuple(A.shape[-2:]))
    return apply(OPS["pinv"], (A, atol.expand(batch), rtol.expand(batch)), {"hermitian": bool(hermitian)})


@tensor_arguments
def pinv(A: Tensor, rcond=None, hermitian: bool = False, *, atol=None, rtol=None) -> Tensor:
    """The pseudo-inverse of each matrix of ``A``: singular values at most
    ``max(atol, rtol * the largest)`` count as 0 (``rcond``, PyTorch's older name, is
    ``rtol``); with ``hermitian`` from ``eigh`` of the lower triangle."""
    if rcond is not None:
        if atol is not None or rtol is not None:
            raise RuntimeError("linalg.pinv: rcond cannot be given together with atol or rtol")
        rtol = rcond
    return _pinv(A, atol, rtol, hermitian)


@tensor_arguments
def pinverse(input: Tensor, rcond: float = 1e-15) -> Tensor:
    """``torch.pinverse``: :func:`pinv` with relative tolerance ``rcond``."""
    return _pinv(input, None, rcond, False)


def _count_above(S: Tensor, largest: Tensor, atol: Tensor, rtol: Tensor) -> Tensor:
    """How many of ``S``'s last dim exceed ``max(atol, rtol * largest)`` (int64)."""
    tol = P.maximum(unsqueeze(atol, -1), P.mul(unsqueeze(rtol, -1), largest))
    return R.sum(P.gt(S, tol), -1)


@tensor_arguments
def matrix_rank(A: Tensor, tol=None, hermitian: bool = False, *, atol=None, rtol=None) -> Tensor:
    """The number of singular values of each matrix of ``A`` above
    ``max(atol, rtol * the largest)`` (eigenvalues' magnitudes with ``hermitian``); ``tol``,
    PyTorch's older argument, is ``atol`` with ``rtol`` 0.  int64, no gradient."""
    if A.ndim < 2:
        raise RuntimeError(
            "torch.linalg.matrix_rank: The input tensor input must have at least 2 dimensions."
        )
    if tol is not None:
        atol, rtol = tol, 0.0
    atol, rtol = _tolerances(A, atol, rtol)
    A = A.detach()
    if hermitian:
        S = P.abs(eigvalsh(A))
    else:
        S = svdvals(A)
    if S.shape[-1] == 0:
        return zeros(_broadcast_batch(tuple(S.shape[:-1]), tuple(atol.shape)), dtype=int64)
    largest = R.amax(S, -1, keepdim=True)
    return _count_above(S, largest, atol, rtol)


@tensor_arguments
def lstsq(A: Tensor, B: Tensor, rcond: float | None = None, *, driver: str | None = None) -> lstsq_result:
    """The least-squares solution ``X`` of ``A X = B`` (minimum norm where ``A`` is wide or
    rank-deficient), ``B`` a matrix or (with one dim less than ``A``) a vector, batch dims
    broadcast; the other fields as PyTorch's CPU ``driver`` (``'gelsy'`` by default) fills
    them (module doc)."""
    name = "torch.linalg.lstsq"
    if A.ndim < 2:
        raise RuntimeError(f"{name}: input must have at least 2 dimensions.")
    if B.ndim < 1:
        raise RuntimeError(f"{name}: other must have at least 1 dimension.")
    if A.dtype is not B.dtype:
        raise RuntimeError(
            f"{name}: Expected input and other to have the same dtype, but got input's dtype "
            f"{A.dtype.scalar_type} and other's dtype {B.dtype.scalar_type}"
        )
    vector = A.ndim - B.ndim == 1
    if not 0 <= A.ndim - B.ndim <= 1:
        raise RuntimeError(
            f"{name}: input.dim() must be greater or equal to other.dim() and (input.dim() - other.dim()) <= 1"
        )
    columns = unsqueeze(B, -1) if vector else B
    if A.shape[-2] != columns.shape[-2]:
        raise RuntimeError(f"{name}: input.size(-2) should match other.size({-1 if vector else -2})")
    driver = "gelsy" if driver is None else driver
    if driver not in _LSTSQ_DRIVERS:
        raise RuntimeError(f"{name}: parameter `driver` should be one of (gels, gelsy, gelsd, gelss)")
    m, n = A.shape[-2:]
    rcond = _epsilon(A) * max(m, n) if rcond is None else float(rcond)
    empty = zeros(0, dtype=A.dtype)
    rank = zeros(0, dtype=int64)
    singular_values = empty
    if driver != "gels":  # of A's own batch, as PyTorch's
        S = svdvals(A.detach())
        atol, rtol = _tolerances(A, 0.0, rcond)
        rank = _count_above(S, S[..., :1], atol, rtol) if S.shape[-1] else zeros(A.shape[:-2], dtype=int64)
        if driver in ("gelsd", "gelss"):
            singular_values = S
    batch = _broadcast_batch(tuple(A.shape[:-2]), tuple(columns.shape[:-2]))
    A = A.expand(batch + (m, n))
    columns = columns.expand(batch + tuple(columns.shape[-2:]))
    X = _pinv(A, 0.0, rcond, False) @ columns
    residuals = empty
    full_rank = driver == "gels" or (driver != "gelsy" and bool(P.eq(rank, n).all()))
    if m > n and full_rank:
        residuals = R.sum(P.square(A @ X - columns), -2)
    return lstsq_result(squeeze(X, -1) if vector else X, residuals, rank, singular_values)


# --- condition number ------------------------------------------------------------------------


def _singular(A: Tensor) -> np.ndarray:
    """Which matrices of ``A`` LAPACK's LU finds exactly singular (``inv_ex``'s ``info > 0``)."""
    flat = A.detach().numpy().reshape((-1,) + tuple(A.shape[-2:]))

    def singular(a: np.ndarray) -> bool:
        try:
            np.linalg.inv(a)
        except np.linalg.LinAlgError:
            return True
        return False

    return np.array([singular(a) for a in flat], dtype=bool).reshape(A.shape[:-2])


@tensor_arguments
def cond(A: Tensor, p=None) -> Tensor:
    """The condition number of each matrix of ``A`` in the ``p``-norm: the ratio of its
    extreme singular values for ``p`` None, 2 or -2 (any shape), ``norm(A) * norm(A^-1)``
    for ``'fro'``, ``'nuc'``, 1, -1, inf and -inf (square; infinite where singular)."""
    if A.ndim < 2:
        raise RuntimeError("linalg.cond: The input tensor must have at least 2 dimensions.")
    if p not in (None, "fro", "nuc", 2, -2, 1, -1, math.inf, -math.inf):
        raise RuntimeError(f"linalg.cond got an invalid norm type: {p}")
    if A.numel() == 0:
        check_matrices("linalg.svd", A, "linalg_svd_cpu")
        return zeros(tuple(A.shape[:-2]), dtype=A.dtype)
    if p is None or p in (2, -2):
        S = svdvals(A)
        largest, smallest = S[..., 0], S[..., -1]
        return P.div(smallest, largest) if p == -2 else P.div(largest, smallest)
    if A.shape[-1] != A.shape[-2]:
        shown = p if isinstance(p, str) or not isinstance(p, float) else f"{p:f}" if math.isfinite(p) else p
        raise RuntimeError(
            f"linalg.cond(ord={shown}): A must be batches of square matrices, but they are "
            f"{A.shape[-2]} by {A.shape[-1]} matrices"
        )
    singular = _singular(A)
    if singular.any():
        mask = tensor(singular[..., None, None])
        inverse = where(mask, math.inf, inv(where(mask, eye(A.shape[-1], dtype=A.dtype), A)))
    else:
        inverse = inv(A)
    product = P.mul(matrix_norm(A, p), matrix_norm(inverse, p))
    return P.nan_to_num(product, math.inf, math.inf, -math.inf)
