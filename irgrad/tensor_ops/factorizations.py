"""Triangular and Cholesky solves, the LU factorization and its solves, the ``_ex``
variants reporting failures in ``info`` tensors, and the matrix exponential, as
``torch.linalg``'s (and the older ``torch.triangular_solve``, ``torch.cholesky_solve``,
``torch.cholesky_inverse``, ``torch.lu``, ``torch.lu_unpack``).

The primitives are ``solve_triangular`` and ``cholesky_ex`` (:mod:`irgrad.ops.triangular`),
``lu_factor`` and ``lu_permutation`` (:mod:`irgrad.ops.lu`) and ``matrix_exp``
(:mod:`irgrad.ops.matrix_exp`); this module runs PyTorch's argument checks, broadcasts
the batch dims, and composes the rest with them: a Cholesky solve is two triangular
solves, ``inv_ex`` and ``solve_ex`` an LU factorization and ``lu_solve`` (so a singular
matrix gives PyTorch's infinities, not an error), and ``info`` is read off the factor's
diagonal (LAPACK's first zero pivot, or first minor that is not positive-definite).
With ``check_errors`` (and in ``lu_factor``) the info is read eagerly to
raise :class:`LinAlgError` naming the batch element, as PyTorch's.
"""

from __future__ import annotations

from collections import namedtuple

from .._arguments import tensor_arguments
from ..creation import eye, zeros
from ..dispatch import apply
from ..dtypes import FLOAT, int32
from ..ops import OPS
from ..ops.lapack import LinAlgError, check_square
from ..tensor import Tensor
from . import pointwise as P
from . import reduce as R
from .lapack import _broadcast_batch, _check_same_dtype, solve_operands
from .select import where
from .shape import squeeze, transpose

triangular_solve_result = namedtuple("triangular_solve", ["solution", "cloned_coefficient"])
cholesky_ex_result = namedtuple("linalg_cholesky_ex", ["L", "info"])
inv_ex_result = namedtuple("linalg_inv_ex", ["inverse", "info"])
solve_ex_result = namedtuple("linalg_solve_ex", ["result", "info"])
lu_factor_result = namedtuple("linalg_lu_factor", ["LU", "pivots"])
lu_factor_ex_result = namedtuple("linalg_lu_factor_ex", ["LU", "pivots", "info"])
lu_result = namedtuple("linalg_lu", ["P", "L", "U"])
lu_unpack_result = namedtuple("lu_unpack", ["P", "L", "U"])


def _t(x: Tensor) -> Tensor:
    return transpose(x, -2, -1)


def _expand_batch(A: Tensor, B: Tensor) -> tuple[Tensor, Tensor]:
    """``A`` and ``B`` with their batch dims broadcast (``B`` is tensor a in the message)."""
    batch = _broadcast_batch(tuple(B.shape[:-2]), tuple(A.shape[:-2]))
    return A.expand(batch + tuple(A.shape[-2:])), B.expand(batch + tuple(B.shape[-2:]))


def _check_float(kernel: str, *xs: Tensor) -> None:
    for x in xs:
        if x.dtype.category != FLOAT or x.dtype.itemsize < 4:
            raise NotImplementedError(f"\"{kernel}\" not implemented for '{x.dtype.scalar_type}'")


def _trsm(A: Tensor, B: Tensor, upper: bool, unitriangular: bool) -> Tensor:
    """``A^-1 B`` reading one triangle of ``A``: the primitive on broadcast batch dims."""
    A, B = _expand_batch(A, B)
    return apply(
        OPS["solve_triangular"], (A, B), {"upper": bool(upper), "unitriangular": bool(unitriangular)}
    )


def _first_failure(info_mask: Tensor) -> Tensor:
    """LAPACK's ``info``: the 1-based position of the first true entry of the last dim, 0
    if none is (int32)."""
    if info_mask.shape[-1] == 0:
        return zeros(tuple(info_mask.shape[:-1]), dtype=int32)
    first = P.add(R.argmax(info_mask.int(), -1), 1)
    return where(R.any(info_mask, -1), first, 0).to(int32)


def _raise_for(info: Tensor, name: str, message: str) -> None:
    """:class:`LinAlgError` for the first batch element whose ``info`` is positive;
    ``message`` is formatted with that ``info``."""
    values = info.detach().numpy().reshape(-1)
    failed = values.nonzero()[0]
    if failed.size:
        element = int(failed[0])
        prefix = f"(Batch element {element}): " if info.ndim > 0 else ""
        raise LinAlgError(f"{name}: {prefix}{message.format(info=int(values[element]))}")


# --- triangular solves ---------------------------------------------------------------------


@tensor_arguments
def solve_triangular(
    A: Tensor, B: Tensor, *, upper: bool, left: bool = True, unitriangular: bool = False
) -> Tensor:
    """``X`` with ``A X = B`` (``X A = B`` with ``left=False``) for triangular ``A``,
    reading only its ``upper`` or lower triangle; a zero on the diagonal gives inf/NaN."""
    name = "linalg.solve_triangular"
    if B.ndim < 2:
        raise RuntimeError(f"{name}: The input tensor B must have at least 2 dimensions.")
    _check_float("triangular_solve_cpu", A, B)
    check_square(name, A)
    n = A.shape[-1]
    rows, cols = B.shape[-2:]
    if (rows if left else cols) != n:
        equation = "AX = B" if left else "XA = B"
        raise RuntimeError(
            f"{name}: Incompatible shapes of A and B for the equation {equation} ({n}x{n} and {rows}x{cols})"
        )
    if A.dtype is not B.dtype:
        common = P.result_type(A, B)
        A, B = A.to(common), B.to(common)
    if left:
        return _trsm(A, B, upper, unitriangular)
    return _t(_trsm(_t(A), _t(B), not upper, unitriangular))


@tensor_arguments
def triangular_solve(
    b: Tensor, A: Tensor, upper: bool = True, transpose: bool = False, unitriangular: bool = False
) -> triangular_solve_result:
    """``torch.triangular_solve``: ``X`` with ``A X = b`` (``A^T X = b`` with ``transpose``),
    and a copy of ``A`` broadcast to the batch dims."""
    _check_matrix_pair("triangular_solve", b, A)
    if transpose:
        A_used, upper_used = _t(A), not upper
    else:
        A_used, upper_used = A, upper
    solution = _trsm(A_used, b, upper_used, unitriangular)
    batch = tuple(solution.shape[:-2])
    return triangular_solve_result(solution, A.expand(batch + tuple(A.shape[-2:])).clone())


def _check_matrix_pair(name: str, b: Tensor, A: Tensor) -> None:
    """The checks ``triangular_solve`` and ``cholesky_solve`` share, in PyTorch's words."""
    for x, which in ((b, "b"), (A, "A")):
        if x.ndim < 2:
            raise RuntimeError(
                f"{which} should have at least 2 dimensions, but has {x.ndim} dimensions instead"
            )
    if b.dtype is not A.dtype:
        raise RuntimeError(
            f"Expected b and A to have the same dtype, but found b of type {b.dtype.scalar_type} and A of type "
            f"{A.dtype.scalar_type} instead."
        )
    if A.shape[-1] != A.shape[-2]:
        raise RuntimeError(
            f"A must be batches of square matrices, but they are {A.shape[-2]} by {A.shape[-1]} matrices"
        )
    if A.shape[-1] != b.shape[-2]:
        raise RuntimeError(
            f"Incompatible matrix sizes for {name}: each A matrix is {A.shape[-2]} by {A.shape[-1]} but each b "
            f"matrix is {b.shape[-2]} by {b.shape[-1]}"
        )
    _check_float(f"{name}_cpu", A)


# --- Cholesky ------------------------------------------------------------------------------


@tensor_arguments
def cholesky_solve(B: Tensor, L: Tensor, upper: bool = False) -> Tensor:
    """``X`` with ``A X = B`` given ``A``'s Cholesky factor: ``A = L L^T``, or ``U^T U``
    with ``upper``; two triangular solves."""
    _check_matrix_pair("cholesky_solve", B, L)
    X = _cholesky_solve_values(B, L.detach(), upper)
    if not L.requires_grad:
        return X
    # PyTorch differentiates as if A = L L^T were formed from all of L (its gradient is
    # -(gB X^T + X gB^T) L, not kept to a triangle). With A0 = A's value held constant,
    # A^-1 B = X - A^-1 (A - A0) X exactly: the second term's value is zero (A - A0 is
    # computed from equal values) and its derivatives in L are those of A^-1 B to every order.
    L_used = _t(L) if upper else L
    L_fixed = L_used.detach()
    drift = L_used @ _t(L_used) - L_fixed @ _t(L_fixed)
    return X - _cholesky_solve_values(drift @ X, L, upper)


def _cholesky_solve_values(B: Tensor, L: Tensor, upper: bool) -> Tensor:
    """``A^-1 B`` from ``A``'s factor by two triangular solves (reading one triangle)."""
    if upper:
        return _trsm(L, _trsm(_t(L), B, False, False), True, False)
    return _trsm(_t(L), _trsm(L, B, False, False), True, False)


@tensor_arguments
def cholesky_inverse(L: Tensor, upper: bool = False) -> Tensor:
    """``A^-1`` given ``A``'s Cholesky factor (:func:`cholesky_solve` of the identity)."""
    check_square("cholesky_inverse", L)
    return cholesky_solve(eye(L.shape[-1], dtype=L.dtype).expand(tuple(L.shape)), L, upper)


@tensor_arguments
def cholesky_ex(A: Tensor, *, upper: bool = False, check_errors: bool = False) -> cholesky_ex_result:
    """``(L, info)``: the Cholesky factor, and per matrix 0 or the order of the first
    leading minor that is not positive-definite (where ``L`` is LAPACK's partial factor)."""
    check_square("linalg.cholesky", A)
    factor = _t(apply(OPS["cholesky_ex"], (_t(A),))) if upper else apply(OPS["cholesky_ex"], (A,))
    info = _first_failure(P.logical_not(P.gt(factor.detach().diagonal(dim1=-2, dim2=-1), 0)))
    if check_errors:
        _raise_for(
            info,
            "linalg.cholesky_ex",
            "The factorization could not be completed because the input is not positive-definite "
            "(the leading minor of order {info} is not positive-definite).",
        )
    return cholesky_ex_result(factor, info)


# --- LU ------------------------------------------------------------------------------------


def _lu_factor(A: Tensor, pivot: bool) -> lu_factor_ex_result:
    if A.ndim < 2:
        raise RuntimeError(
            f"torch.lu_factor: Expected tensor with 2 or more dimensions. Got size: {list(A.shape)} instead"
        )
    _check_float("lu_cpu", A)
    if not pivot:
        raise RuntimeError("linalg.lu_factor: LU without pivoting is not implemented on the CPU")
    m, n = A.shape[-2:]
    k = min(m, n)
    packed = apply(OPS["lu_factor"], (A,))
    LU = packed[..., :m, :]
    pivots = packed[..., m, :k].detach().to(int32)
    diagonal = LU.detach().diagonal(dim1=-2, dim2=-1)
    return lu_factor_ex_result(LU, pivots, _first_failure(P.eq(diagonal, 0)))


@tensor_arguments
def lu_factor_ex(A: Tensor, *, pivot: bool = True, check_errors: bool = False) -> lu_factor_ex_result:
    """``(LU, pivots, info)``: ``P^T A = L U`` packed in ``LU`` (``L``'s unit diagonal
    implied), LAPACK's 1-based int32 ``pivots``, and the first zero pivot of ``U`` (1-based)
    or 0 per matrix."""
    result = _lu_factor(A, pivot)
    if check_errors:
        _raise_for(
            result.info,
            "torch.linalg.lu_factor_ex",
            "The factorization could not be completed because the "
            "input is singular (U[{info},{info}] is zero).",
        )
    return result


_LU_FACTOR_SINGULAR = (
    "U[{info},{info}] is zero and using it on lu_solve would result in a division by zero. If you still want to "
    "perform the factorization, consider calling linalg.lu(A, pivot) or linalg.lu_factor_ex(A, pivot)"
)


@tensor_arguments
def lu_factor(A: Tensor, *, pivot: bool = True) -> lu_factor_result:
    """``(LU, pivots)`` of :func:`lu_factor_ex`, raising for a singular matrix as PyTorch's."""
    LU, pivots, info = _lu_factor(A, pivot)
    _raise_for(info, "torch.linalg.lu_factor", _LU_FACTOR_SINGULAR)
    return lu_factor_result(LU, pivots)


@tensor_arguments
def lu(A: Tensor, *, pivot: bool = True) -> lu_result:
    """``A = P L U``: ``P`` a permutation, ``L`` unit lower (``m x k``), ``U`` upper (``k x n``)."""
    LU, pivots, _ = _lu_factor(A, pivot)
    return lu_result(*lu_unpack(LU, pivots))


@tensor_arguments
def legacy_lu(A: Tensor, pivot: bool = True, get_infos: bool = False):
    """``torch.lu`` / ``Tensor.lu``: ``(LU, pivots)``, with ``info`` too if ``get_infos``
    (a singular matrix does not raise, as PyTorch's)."""
    LU, pivots, info = _lu_factor(A, pivot)
    return (LU, pivots, info) if get_infos else (LU, pivots)


@tensor_arguments
def lu_unpack(
    LU_data: Tensor, LU_pivots: Tensor, unpack_data: bool = True, unpack_pivots: bool = True
) -> lu_unpack_result:
    """``P``, ``L`` and ``U`` from :func:`lu_factor`'s packed result (each empty if not
    asked for)."""
    if LU_pivots.dtype is not int32:
        raise RuntimeError(
            "torch.lu_unpack: LU_pivots is expected to be a contiguous tensor of torch.int32 dtype.\n"
            "Note: this function is intended to be used with the output produced by torch.linalg.lu_factor"
        )
    m, n = LU_data.shape[-2:]
    k = min(m, n)
    empty = zeros(0, dtype=LU_data.dtype)
    L = U = Pm = empty
    if unpack_data:
        L = P.add(LU_data[..., :, :k].tril(-1), eye(m, k, dtype=LU_data.dtype))
        U = LU_data[..., :k, :].triu()
    if unpack_pivots:
        Pm = apply(OPS["lu_permutation"], (LU_pivots,), {"m": m, "dtype": LU_data.dtype})
    return lu_unpack_result(Pm, L, U)


def _lu_solve_columns(LU: Tensor, pivots: Tensor, B: Tensor, adjoint: bool) -> Tensor:
    """``A^-1 B`` (``A^-T B`` with ``adjoint``) from ``A = P L U``."""
    Pm = apply(OPS["lu_permutation"], (pivots,), {"m": LU.shape[-1], "dtype": LU.dtype})
    if adjoint:  # A^T = U^T L^T P^T
        return Pm @ _trsm(_t(LU), _trsm(_t(LU), B, False, False), True, True)
    return _trsm(LU, _trsm(LU, _t(Pm) @ B, False, True), True, False)


@tensor_arguments
def lu_solve(LU: Tensor, pivots: Tensor, B: Tensor, *, left: bool = True, adjoint: bool = False) -> Tensor:
    """``X`` with ``A X = B`` (``X A = B`` with ``left=False``; ``A^T`` for ``A`` with
    ``adjoint``) from :func:`lu_factor`'s ``(LU, pivots)``."""
    if B.ndim < 2:
        raise RuntimeError("linalg.lu_solve: The input tensor B must have at least 2 dimensions.")
    check_square("torch.linalg.lu_solve", LU)
    if pivots.dtype is not int32:
        raise RuntimeError("linalg.lu_solve: pivots should be a Tensor of scalar type torch.int32")
    n = LU.shape[-1]
    rows, cols = B.shape[-2:]
    if (rows if left else cols) != n:
        equation = "AX = B" if left else "XA = B"
        raise RuntimeError(
            f"linalg.lu_solve: Incompatible shapes of A and B for the equation {equation} ({n}x{n} and {rows}x{cols})"
        )
    if left:
        return _lu_solve_columns(LU, pivots, B, adjoint)
    return _t(_lu_solve_columns(LU, pivots, _t(B), not adjoint))


# --- inverse and solve with info -------------------------------------------------------------


@tensor_arguments
def inv_ex(A: Tensor, *, check_errors: bool = False) -> inv_ex_result:
    """``(inverse, info)``: the inverse from the LU factorization (infinities where it is
    singular) and its first zero pivot (1-based) or 0 per matrix."""
    check_square("linalg.inv", A)
    LU, pivots, info = _lu_factor(A, True)
    if check_errors:
        _raise_for(
            info,
            "linalg.inv_ex",
            "The diagonal element {info} is zero, the inversion could not be "
            "completed because the input matrix is singular.",
        )
    identity = eye(A.shape[-1], dtype=A.dtype).expand(tuple(A.shape))
    return inv_ex_result(_lu_solve_columns(LU, pivots, identity, False), info)


@tensor_arguments
def solve_ex(A: Tensor, B: Tensor, *, left: bool = True, check_errors: bool = False) -> solve_ex_result:
    """``(result, info)``: :func:`irgrad.linalg.solve`'s ``X`` from the LU factorization
    (infinities where ``A`` is singular) and the first zero pivot (1-based) or 0 per matrix."""
    check_square("linalg.solve", A, dtype_first=True)
    _check_same_dtype(A, B)
    vector, columns = solve_operands(A, B, left)
    A, columns = _expand_batch(A, columns)
    LU, pivots, info = _lu_factor(A, True)
    if check_errors:
        _raise_for(info, "torch.linalg.solve_ex", "The solver failed because the input matrix is singular.")
    if left:
        x = _lu_solve_columns(LU, pivots, columns, False)
    else:
        x = _t(_lu_solve_columns(LU, pivots, _t(columns), True))
    return solve_ex_result(squeeze(x, -1) if vector else x, info)


# --- matrix exponential ----------------------------------------------------------------------


@tensor_arguments
def matrix_exp(A: Tensor) -> Tensor:
    """``exp(A)`` of each square matrix: ``sum_k A^k / k!``."""
    check_square("linalg.matrix_exp", A)
    return apply(OPS["matrix_exp"], (A,))
