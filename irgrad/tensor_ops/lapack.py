"""Matrix inverse, determinants, linear solves and the Cholesky factor, as ``torch.linalg``'s.

Each is one LAPACK primitive of :mod:`irgrad.ops.lapack` applied to the argument
normalised here: PyTorch's argument checks run first (the kernels would take an
integer matrix), ``solve`` decides whether ``B`` is a vector and broadcasts the batch
dims, and ``left=False`` or ``upper=True`` are transposes around the primitive.
"""

from __future__ import annotations

import math
from collections import namedtuple

from .._arguments import tensor_arguments
from ..dispatch import apply
from ..dtypes import FLOAT
from ..ops import OPS
from ..ops.lapack import check_square
from ..tensor import Tensor
from . import pointwise as P
from .select import where
from .shape import squeeze, transpose, unsqueeze

slogdet_result = namedtuple("slogdet", ["sign", "logabsdet"])


def _t(x: Tensor) -> Tensor:
    return transpose(x, -2, -1)


@tensor_arguments
def inv(A: Tensor) -> Tensor:
    """The inverse of each square matrix of ``A`` (any leading batch dims)."""
    check_square("linalg.inv", A)
    return apply(OPS["inv"], (A,))


@tensor_arguments
def inverse(input: Tensor) -> Tensor:
    """``torch.inverse``: :func:`inv`."""
    return inv(input)


@tensor_arguments
def det(A: Tensor) -> Tensor:
    """The determinant of each square matrix of ``A``."""
    check_square("linalg.det", A)
    return apply(OPS["det"], (A,))


@tensor_arguments
def slogdet(A: Tensor) -> slogdet_result:
    """``(sign, logabsdet)`` of each determinant: its log without over- or underflow (what
    a normalizing flow's log-likelihood needs). ``sign`` is 0 and ``logabsdet`` -inf for a
    singular matrix; ``sign``'s gradient is zero, as PyTorch's (piecewise constant)."""
    check_square("linalg.slogdet", A)
    both = apply(OPS["slogdet"], (A,))
    return slogdet_result(both[..., 0], both[..., 1])


@tensor_arguments
def logdet(input: Tensor) -> Tensor:
    """The log of each determinant: NaN where it is negative, -inf where it is 0 (PyTorch's
    ``where(sign == -1, nan, logabsdet)`` of :func:`slogdet`)."""
    sign, logabsdet = slogdet(input)
    return where(P.eq(sign, -1), math.nan, logabsdet)


@tensor_arguments
def cholesky(A: Tensor, *, upper: bool = False) -> Tensor:
    """The Cholesky factor ``L`` of each symmetric positive-definite matrix (``A = L L^T``),
    reading its lower triangle; ``upper=True`` gives ``U = L^T`` (``A = U^T U``) reading
    the upper triangle, as LAPACK's and PyTorch's do (the lower factor of ``A^T``)."""
    check_square("linalg.cholesky", A)
    if upper:
        return _t(apply(OPS["cholesky"], (_t(A),)))
    return apply(OPS["cholesky"], (A,))


def _is_vector(A: Tensor, B: Tensor) -> bool:
    """PyTorch's rule: ``B`` is a (batch of) vector(s) if it is 1-D or has ``A``'s shape
    without its last dim."""
    return B.ndim == 1 or (B.ndim == A.ndim - 1 and tuple(B.shape) == tuple(A.shape[:-1]))


def _check_same_dtype(A: Tensor, B: Tensor) -> None:
    """PyTorch's error for ``linalg.solve`` operands of different dtypes."""
    if A.dtype is not B.dtype:
        raise RuntimeError(
            f"linalg.solve: Expected A and B to have the same dtype, but found A of type "
            f"{A.dtype.scalar_type} and B of type {B.dtype.scalar_type} instead"
        )


def solve_operands(A: Tensor, B: Tensor, left: bool) -> tuple[bool, Tensor]:
    """(whether ``B`` is a vector, ``B`` as columns) for ``linalg.solve`` and ``solve_ex``,
    with PyTorch's errors for shapes the equation does not fit."""
    vector = _is_vector(A, B)
    columns = unsqueeze(B, -1) if vector else B
    n = A.shape[-1]
    rows, cols = columns.shape[-2:]
    if (rows if left else cols) != n:
        equation = "AX = B" if left else "XA = B"
        raise RuntimeError(
            f"linalg.solve: Incompatible shapes of A and B for the equation {equation} ({n}x{n} and {rows}x{cols})"
        )
    if not left and vector:
        raise RuntimeError(
            "linalg.solve: Vector broadcasting of the left hand side is not supported for left=False. "
            "In this case linalg.solve is equivalent to B / A.squeeze(-1)"
        )
    return vector, columns


@tensor_arguments
def solve(A: Tensor, B: Tensor, *, left: bool = True) -> Tensor:
    """``X`` with ``A X = B`` (``X A = B`` with ``left=False``) for each square matrix of
    ``A``; ``B`` is a vector or a matrix (see :func:`_is_vector`), batch dims broadcast."""
    if A.dtype.category != FLOAT:
        check_square("linalg.solve", A, dtype_first=True)
    _check_same_dtype(A, B)
    check_square("linalg.solve", A, dtype_first=True)
    vector, columns = solve_operands(A, B, left)
    n = A.shape[-1]
    if not left:
        A, columns = _t(A), _t(columns)
    batch = _broadcast_batch(tuple(columns.shape[:-2]), tuple(A.shape[:-2]))
    A = A.expand(batch + (n, n))
    columns = columns.expand(batch + tuple(columns.shape[-2:]))
    x = apply(OPS["solve"], (A, columns))
    if not left:
        x = _t(x)
    return squeeze(x, -1) if vector else x


def _broadcast_batch(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    """The broadcast of two batch shapes, with PyTorch's message (``B``'s batch is tensor a)."""
    ndim = max(len(a), len(b))
    a, b = (1,) * (ndim - len(a)) + a, (1,) * (ndim - len(b)) + b
    out = []
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y and 1 not in (x, y):
            raise RuntimeError(
                f"The size of tensor a ({x}) must match the size of tensor b ({y}) at non-singleton dimension {i}"
            )
        out.append(y if x == 1 else x)
    return tuple(out)
