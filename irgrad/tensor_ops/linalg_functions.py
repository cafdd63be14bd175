"""The products and views of ``torch.linalg`` that are compositions of irgrad's own:
``vecdot``, ``multi_dot``, ``vander``, and ``matmul`` and ``diagonal`` under their
``torch.linalg`` signatures."""

from __future__ import annotations

from collections.abc import Sequence

from .._arguments import tensor_arguments
from ..creation import ones
from ..tensor import Tensor
from . import pointwise as P
from . import reduce as R
from . import scan
from .diagonals import diagonal as _diagonal
from .linalg import matmul as _matmul
from .shape import squeeze, unsqueeze
from .split_join import cat


@tensor_arguments
def vecdot(x: Tensor, y: Tensor, *, dim: int = -1) -> Tensor:
    """The dot products of ``x`` and ``y`` (broadcast) along ``dim``."""
    if x.dtype is not y.dtype:
        raise RuntimeError(
            f"linalg.vecdot: Expected x and y to have the same dtype, but found x of type "
            f"{x.dtype.scalar_type} and y of type {y.dtype.scalar_type} instead"
        )
    return R.sum(P.mul(x, y), dim)


@tensor_arguments
def matmul(input: Tensor, other: Tensor) -> Tensor:
    """``torch.linalg.matmul``: :func:`irgrad.matmul`."""
    return _matmul(input, other)


@tensor_arguments
def diagonal(A: Tensor, *, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:
    """``torch.linalg.diagonal``: :func:`irgrad.diagonal` over the last two dims by default."""
    return _diagonal(A, offset, dim1, dim2)


def multi_dot(tensors: Sequence[Tensor]) -> Tensor:
    """The product of a chain of matrices, the first and last of which may be vectors (a
    row and a column), with PyTorch's checks; multiplied left to right."""
    tensors = list(tensors)
    if len(tensors) < 2:
        raise RuntimeError(f"multi_dot(): expected at least 2 tensors but got {len(tensors)}")
    first, last = tensors[0], tensors[-1]
    if first.ndim not in (1, 2):
        raise RuntimeError(f"multi_dot(): the first tensor must be 1D or 2D but got {first.ndim}D")
    if last.ndim not in (1, 2):
        raise RuntimeError(f"multi_dot(): the last tensor must be 1D or 2D but got {last.ndim}D")
    for i, t in enumerate(tensors[1:-1], 1):
        if t.ndim != 2:
            raise RuntimeError(f"multi_dot(): tensor {i} must be 2D but got {t.ndim}D")
    for i, t in enumerate(tensors[1:], 1):
        if t.dtype is not first.dtype:
            raise RuntimeError(
                f"multi_dot(): all tensors must have be the same dtype but tensor 0 is "
                f"{first.dtype.scalar_type.lower()} and tensor {i} {t.dtype.scalar_type.lower()}"
            )
    matrices = [unsqueeze(first, 0) if first.ndim == 1 else first, *tensors[1:-1]]
    matrices.append(unsqueeze(last, 1) if last.ndim == 1 else last)
    for i in range(len(matrices) - 1):
        a, b = matrices[i], matrices[i + 1]
        if a.shape[1] != b.shape[0]:
            raise RuntimeError(
                f"multi_dot(): tensors {i} and {i + 1} with shapes {list(tensors[i].shape)} and "
                f"{list(tensors[i + 1].shape)} cannot be multiplied"
            )
    out = matrices[0]
    for m in matrices[1:]:
        out = _matmul(out, m)
    if last.ndim == 1:
        out = squeeze(out, 1)
    if first.ndim == 1:
        out = squeeze(out, 0)
    return out


@tensor_arguments
def vander(x: Tensor, N: int | None = None) -> Tensor:
    """The Vandermonde matrices of ``x``'s last dim: ``x^0, x^1, ..., x^(N-1)`` along a new
    last dim (``N`` defaults to ``x``'s length), by a running product as PyTorch's."""
    if x.ndim == 0:
        raise RuntimeError("N must be greater than 1.")
    n = x.shape[-1] if N is None else N
    if n <= 1:
        raise RuntimeError("N must be greater than 1.")
    column = unsqueeze(x, -1)
    powers = scan.cumprod(column.expand(tuple(x.shape) + (n - 1,)), -1)
    return cat([ones(tuple(x.shape) + (1,), dtype=x.dtype), powers], -1)
