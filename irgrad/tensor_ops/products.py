"""Products built on ``matmul``: ``tensordot``, ``kron``, ``cross`` (and ``linalg.cross``),
``vdot``, ``chain_matmul``, ``matrix_power`` (and ``linalg.matrix_power``), and the scaled
accumulations ``baddbmm``, ``addbmm``, ``addmv`` and ``addr``.

Each reshapes, permutes and multiplies with existing differentiable ops, in the order
PyTorch's implementation multiplies (``matrix_power``'s repeated squaring, ``cross``'s
``a1 b2 - a2 b1``), so rounding agrees too.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from numbers import Number

from .._arguments import tensor_arguments
from ..creation import eye, zeros
from ..dtypes import FLOAT, bool_
from ..ops.shapes import broadcast_shapes, fmt, normalize_dim
from ..tensor import Tensor
from . import pointwise as P
from .lapack import inv
from .linalg import add_scaled, bmm, dot, matmul, mm, mv, outer
from .select import where
from .shape import permute
from .shifts import roll


def _contracted_dims(dims, a: Tensor, b: Tensor) -> tuple[list, list]:
    if isinstance(dims, Tensor):
        dims = dims.tolist()
    if isinstance(dims, int):
        if dims < 0:
            raise RuntimeError(f"tensordot expects dims >= 0, but got dims={dims}")
        if dims > min(a._data.ndim, b._data.ndim):
            raise RuntimeError(
                f"tensordot expects dims < ndim_a or ndim_b, but got dims={dims} for shapes "
                f"{fmt(a.shape)} and {fmt(b.shape)}"
            )
        return list(range(a._data.ndim - dims, a._data.ndim)), list(range(dims))
    first, second = ([d] if isinstance(d, int) else list(d) for d in dims)
    if len(first) != len(second):
        raise RuntimeError("both dimension lists should have same length")
    return first, second


@tensor_arguments
def tensordot(a: Tensor, b: Tensor, dims: int | Sequence = 2, out=None) -> Tensor:
    """The sum of products over ``dims`` (the last ``dims`` of ``a`` with the first of
    ``b``, or two lists of dims), as ``torch.tensordot``: one matrix product of the
    permuted, flattened operands."""
    if a.dtype is not b.dtype:
        raise RuntimeError("both inputs should have same dtype")
    first, second = _contracted_dims(dims, a, b)
    first = [normalize_dim("tensordot", d, a._data.ndim) for d in first]
    second = [normalize_dim("tensordot", d, b._data.ndim) for d in second]
    for i, j in zip(first, second):
        if a.shape[i] != b.shape[j] and a.shape[i] != 1 and b.shape[j] != 1:
            raise RuntimeError(
                f"contracted dimensions need to match, but first has size {a.shape[i]} in dim {i} and "
                f"second has size {b.shape[j]} in dim {j}"
            )
    free_a = [d for d in range(a._data.ndim) if d not in first]
    free_b = [d for d in range(b._data.ndim) if d not in second]
    size = 1
    for i in first:
        size *= a.shape[i]
    left = permute(a, free_a + first).reshape(-1, size)
    right = permute(b, second + free_b).reshape(size, -1)
    shape = [a.shape[d] for d in free_a] + [b.shape[d] for d in free_b]
    return P._maybe_out(mm(left, right).reshape(shape), out)


@tensor_arguments
def kron(input: Tensor, other: Tensor) -> Tensor:
    """The Kronecker product: block ``(i, j, ...)`` is ``input[i, j, ...] * other``, over the
    operands' dims aligned from the right (the shorter padded with 1s)."""
    ndim = max(input._data.ndim, other._data.ndim)
    a = input.reshape((1,) * (ndim - input._data.ndim) + tuple(input.shape))
    b = other.reshape((1,) * (ndim - other._data.ndim) + tuple(other.shape))
    interleaved_a = a.reshape([s for size in a.shape for s in (size, 1)])
    interleaved_b = b.reshape([s for size in b.shape for s in (1, size)])
    return P.mul(interleaved_a, interleaved_b).reshape([x * y for x, y in zip(a.shape, b.shape)])


def _cross(input: Tensor, other: Tensor, d: int) -> Tensor:
    # c = (a1 b2 - a2 b1, a2 b0 - a0 b2, a0 b1 - a1 b0): rolls by one and two along d
    return P.sub(
        P.mul(roll(input, -1, d), roll(other, -2, d)),
        P.mul(roll(input, -2, d), roll(other, -1, d)),
    )


@tensor_arguments
def linalg_cross(input: Tensor, other: Tensor, *, dim: int = -1) -> Tensor:
    """The cross product of 3-vectors along ``dim`` (broadcasting the other dims), as
    ``torch.linalg.cross``."""
    if input.dtype is not other.dtype:
        raise RuntimeError(f"expected scalar type {input.dtype} but found {other.dtype}")
    if input._data.ndim != other._data.ndim:
        raise RuntimeError(
            f"linalg.cross: inputs must have the same number of dimensions, got {fmt(input.shape)} "
            f"and {fmt(other.shape)}"
        )
    d = normalize_dim("linalg.cross", dim, input._data.ndim)
    if input.shape[d] != 3 or other.shape[d] != 3:
        raise RuntimeError(
            f"linalg.cross: inputs dimension {dim} must have length 3. Got {input.shape[d]} and "
            f"{other.shape[d]}"
        )
    shape = broadcast_shapes("linalg.cross", tuple(input.shape), tuple(other.shape))
    return _cross(input.expand(shape), other.expand(shape), d)


@tensor_arguments
def cross(input: Tensor, other: Tensor, dim: int | None = None) -> Tensor:
    """``torch.cross``: :func:`linalg_cross` along ``dim``, or (deprecated, with PyTorch's
    warning) along the first dim of size 3."""
    if dim is None:
        warnings.warn(
            "Using torch.cross without specifying the dim arg is deprecated.\nPlease either pass the "
            "dim explicitly or simply use torch.linalg.cross.\nThe default value of dim will change to "
            "agree with that of linalg.cross in a future release.",
            UserWarning,
            stacklevel=2,
        )
        shape = broadcast_shapes("cross", tuple(input.shape), tuple(other.shape))
        sized = [d for d, s in enumerate(shape) if s == 3]
        if not sized:
            raise RuntimeError("no dimension of size 3 in input")
        dim = sized[0]
    return linalg_cross(input, other, dim=dim)


@tensor_arguments
def vdot(input: Tensor, other: Tensor) -> Tensor:
    """The dot product of two 1-D tensors (conjugating ``input``: the same for real ones)."""
    if input.dtype is not other.dtype:
        raise RuntimeError(
            f"dot : expected both vectors to have same dtype, but found {input.dtype} and {other.dtype}"
        )
    return dot(input, other)


def chain_matmul(*matrices: Tensor) -> Tensor:
    """The product of 2-D matrices, left to right (deprecated in PyTorch for
    ``linalg.multi_dot``, which may order the products differently)."""
    warnings.warn(
        "torch.chain_matmul is deprecated and will be removed in a future PyTorch release. Use "
        "torch.linalg.multi_dot instead, which accepts a list of two or more tensors rather than "
        "multiple parameters.",
        UserWarning,
        stacklevel=2,
    )
    if not matrices:
        raise RuntimeError("chain_matmul(): Expected one or more matrices")
    for m in matrices:
        if m._data.ndim != 2:
            raise RuntimeError(f"Tensor dimension is {m._data.ndim}, expected 2 instead.")
    result = matrices[0] if len(matrices) > 1 else matrices[0].clone()
    for m in matrices[1:]:
        result = mm(result, m)
    return result


@tensor_arguments
def matrix_power(A: Tensor, n: int) -> Tensor:
    """``A`` to the integer power ``n`` (batched), as ``torch.linalg.matrix_power``: the
    identity for 0, the inverse's power for negative ``n``, and PyTorch's repeated
    squaring otherwise (so products round as PyTorch's)."""
    if A._data.ndim < 2 or A.shape[-1] != A.shape[-2]:
        rows, cols = (A.shape[-2], A.shape[-1]) if A._data.ndim >= 2 else (A.numel(), 1)
        raise RuntimeError(
            f"linalg.matrix_power: A must be batches of square matrices, but they are {rows} by {cols} matrices"
        )
    if n == 0:  # (the identity, recorded as depending on A with a zero gradient, as PyTorch's)
        return where(zeros(A.shape, dtype=bool_), A, eye(A.shape[-1], dtype=A.dtype))
    if n < 0:
        if A.dtype.category != FLOAT:
            raise RuntimeError(
                f"linalg.inv: Expected a floating point or complex tensor as input. Got {A.dtype}"
            )
        A, n = inv(A), -n
    if n == 1:
        return A.clone()
    if n == 2:
        return matmul(A, A)
    if n == 3:
        return matmul(matmul(A, A), A)
    result = square = None
    while n > 0:
        square = A if square is None else matmul(square, square)
        if n & 1:
            result = square if result is None else matmul(result, square)
        n >>= 1
    return result


def _same_dtypes(name: str, *tensors: Tensor) -> None:
    if len({t.dtype for t in tensors}) > 1:
        names = ", ".join(str(t.dtype) for t in tensors[:-1]) + f", and {tensors[-1].dtype}"
        raise RuntimeError(f"{name} input tensors must have the same dtype, but got {names}")


@tensor_arguments
def baddbmm(
    input: Tensor, batch1: Tensor, batch2: Tensor, *, beta: Number = 1, alpha: Number = 1, out=None
) -> Tensor:
    """``beta * input + alpha * (batch1 @ batch2)`` per batch (``input`` broadcast)."""
    _same_dtypes("baddbmm", input, batch1, batch2)
    return P._maybe_out(add_scaled("baddbmm", input, bmm(batch1, batch2), beta, alpha), out)


@tensor_arguments
def addbmm(
    input: Tensor, batch1: Tensor, batch2: Tensor, *, beta: Number = 1, alpha: Number = 1, out=None
) -> Tensor:
    """``beta * input + alpha * sum_b(batch1[b] @ batch2[b])``."""
    _same_dtypes("addbmm", input, batch1, batch2)
    return P._maybe_out(add_scaled("addbmm", input, bmm(batch1, batch2).sum(0), beta, alpha), out)


@tensor_arguments
def addmv(
    input: Tensor, mat: Tensor, vec: Tensor, *, beta: Number = 1, alpha: Number = 1, out=None
) -> Tensor:
    """``beta * input + alpha * (mat @ vec)``."""
    _same_dtypes("addmv", input, mat, vec)
    if mat._data.ndim != 2 or vec._data.ndim != 1:
        raise RuntimeError(
            f"vector + matrix @ vector expected, got {input._data.ndim}, {mat._data.ndim}, {vec._data.ndim}"
        )
    return P._maybe_out(add_scaled("addmv", input, mv(mat, vec), beta, alpha), out)


@tensor_arguments
def addr(
    input: Tensor, vec1: Tensor, vec2: Tensor, *, beta: Number = 1, alpha: Number = 1, out=None
) -> Tensor:
    """``beta * input + alpha * outer(vec1, vec2)``."""
    return P._maybe_out(add_scaled("addr", input, outer(vec1, vec2), beta, alpha), out)
