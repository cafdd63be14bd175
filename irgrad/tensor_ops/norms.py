"""``torch.linalg``'s norms: ``vector_norm``, ``matrix_norm`` and ``norm``, which picks
one; and ``torch.norm`` (``tensor_norm``), which picks one by other rules.

They are composites of the reductions (:func:`irgrad.tensor_ops.reduce.p_norm`, ``amax``,
``amin``), so autograd, the tracer and the compiler need nothing new; what this module
adds is PyTorch's argument rules and errors.  The matrix norms of the singular values
(``'nuc'``, 2, -2: their sum, largest and smallest) reduce the ``svdvals`` primitive
(:mod:`irgrad.ops.svd`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from .._arguments import tensor_arguments
from ..dispatch import apply, cast
from ..dtypes import FLOAT, to_dtype
from ..ops import OPS
from ..ops.shapes import normalize_dim, normalize_dims, numel
from ..tensor import Tensor
from . import reduce as R
from .shape import permute, unsqueeze

_MATRIX_ORDS = (1, -1, 2, -2, math.inf, -math.inf)
_SINGULAR_VALUE_ORDS = ("nuc", 2, -2)


def _ord_text(ord: float) -> str:
    """An order as PyTorch prints it (``inf``, ``-1``, ``2.5``)."""
    return str(int(ord)) if math.isfinite(ord) and ord == int(ord) else str(ord)


def _float_input(name: str, x: Tensor, dtype) -> Tensor:
    """``x`` checked to be floating-point, and cast to ``dtype`` (which may not narrow it)."""
    if x.dtype.category != FLOAT:
        raise RuntimeError(
            f"{name}: Expected a floating point or complex tensor as input. Got {x.dtype.scalar_type}"
        )
    if dtype is None:
        return x
    target = to_dtype(dtype)
    if target.category != FLOAT:
        raise RuntimeError(f"{name}: dtype should be floating point or complex, but got {target.scalar_type}")
    if target.itemsize < x.dtype.itemsize:
        raise RuntimeError(
            f"{name}: the dtype of the input ({x.dtype.scalar_type}) should be convertible without "
            f"narrowing to the specified dtype ({target.scalar_type})"
        )
    return cast(x, target)


@tensor_arguments
def vector_norm(
    x: Tensor, ord: float = 2, dim: int | Sequence[int] | None = None, keepdim: bool = False, *, dtype=None
) -> Tensor:
    """The ``ord``-norm of ``x``'s elements over ``dim`` (all of them by default, whatever
    ``x``'s shape): ``sum(|x|**ord) ** (1/ord)``; ``inf``/``-inf`` the largest/smallest
    ``|x|``, 0 the count of nonzeros."""
    if isinstance(ord, Tensor):
        ord = ord.item()
    if isinstance(ord, str):
        raise TypeError(
            f"linalg_vector_norm(): argument 'ord' (position 2) must be Number, not {type(ord).__name__}"
        )
    x = _float_input("linalg.vector_norm", x, dtype)
    every = dim is None or (isinstance(dim, Sequence) and len(dim) == 0)
    dims = normalize_dims("linalg.vector_norm", None if every else dim, x.ndim)
    if ord < 0 or ord == math.inf:  # no identity: an empty reduction has no value
        what = "inf" if ord == math.inf else _ord_text(ord)
        if every and numel(x.shape) == 0:
            raise RuntimeError(
                f"linalg.vector_norm cannot compute the {what} norm on an empty tensor because the "
                "operation does not have an identity"
            )
        for d in () if every else dims:
            if x.shape[d] == 0:
                raise RuntimeError(
                    f"linalg.vector_norm cannot compute the {what} norm on the dimension {d}because this "
                    "dimension is empty and the operation does not have an identity"
                )
    return R.p_norm(x, ord, dims, keepdim)


@tensor_arguments
def matrix_norm(
    A: Tensor, ord: float | str = "fro", dim: tuple[int, int] = (-2, -1), keepdim: bool = False, *, dtype=None
) -> Tensor:
    """The ``ord``-norm of the matrices in dims ``dim`` of ``A``: ``'fro'`` (the elements'
    2-norm), 1/-1 (the largest/smallest column sum of ``|A|``), ``inf``/``-inf`` (row sums)."""
    if A.ndim < 2:
        raise RuntimeError("linalg.matrix_norm: The input tensor A must have at least 2 dimensions.")
    A = _float_input("linalg.matrix_norm", A, dtype)
    if ord not in ("fro", "nuc") and (isinstance(ord, str) or ord not in _MATRIX_ORDS):
        raise RuntimeError(
            f"linalg.matrix_norm: Order {ord if isinstance(ord, str) else _ord_text(ord)} not supported."
        )
    if isinstance(dim, int):
        raise TypeError("linalg_matrix_norm(): argument 'dim' must be tuple of ints, not int")
    if len(dim) != 2:
        raise RuntimeError(f"linalg.matrix_norm: dim must be a 2-tuple. Got {' '.join(map(str, dim))}")
    rows, cols = (normalize_dim("linalg.matrix_norm", d, A.ndim) for d in dim)
    if rows == cols:
        raise RuntimeError(f"linalg.matrix_norm: dims must be different. Got ({dim[0]}, {dim[1]})")
    if ord in _SINGULAR_VALUE_ORDS:
        return _singular_value_norm(A, ord, rows, cols, keepdim)
    if ord == "fro":
        return vector_norm(A, 2, (rows, cols), keepdim)
    # sum |A| down the columns (1-norms) or along the rows (inf-norms), then the extreme sum
    summed, extreme = (cols, rows) if abs(ord) == math.inf else (rows, cols)
    if not keepdim and summed < extreme:
        extreme -= 1
    sums = vector_norm(A, 1, summed, keepdim)
    if ord > 0 and sums.shape[extreme] == 0:  # PyTorch's: 0, the least a sum of |A| can be
        return R.sum(sums, extreme, keepdim)
    return R.amax(sums, extreme, keepdim) if ord > 0 else R.amin(sums, extreme, keepdim)


def _singular_value_norm(A: Tensor, ord: float | str, rows: int, cols: int, keepdim: bool) -> Tensor:
    """The sum (``'nuc'``), largest (2) or smallest (-2) singular value of the matrices in
    dims ``rows`` and ``cols`` of ``A``; 0 for empty matrices but with -2 (no identity)."""
    if A.dtype.itemsize < 4:
        raise RuntimeError(
            f"linalg.matrix_norm: Low precision dtypes not supported. Got {A.dtype.scalar_type}"
        )
    rest = [d for d in range(A.ndim) if d not in (rows, cols)]
    S = apply(OPS["svdvals"], (permute(A, *rest, rows, cols),))
    if ord == -2:
        out = R.amin(S, -1)
    elif ord == 2 and S.shape[-1]:
        out = R.amax(S, -1)
    else:
        out = R.sum(S, -1)
    if keepdim:
        for d in sorted((rows, cols)):
            out = unsqueeze(out, d)
    return out


@tensor_arguments
def norm(
    A: Tensor,
    ord: float | str | None = None,
    dim: int | Sequence[int] | None = None,
    keepdim: bool = False,
    *,
    dtype=None,
) -> Tensor:
    """``torch.linalg.norm``: a matrix norm for a string ``ord``, or an ``ord`` with two
    ``dim`` (or a 2-D ``A`` and no ``dim``); the vector norm otherwise (the 2-norm of all
    elements when neither is given)."""
    dims = (dim,) if isinstance(dim, int) else None if dim is None else tuple(dim)
    if dims is not None and len(dims) not in (1, 2):
        raise RuntimeError(f"linalg.norm: If dim is specified, it must be of length 1 or 2. Got {list(dims)}")
    if dims is None and ord is not None and A.ndim not in (1, 2):
        raise RuntimeError(
            f"linalg.norm: If dim is not specified but ord is, the input must be 1D or 2D. Got {A.ndim}D."
        )
    if isinstance(ord, str) or (ord is not None and (len(dims) == 2 if dims is not None else A.ndim == 2)):
        return matrix_norm(A, ord, (0, 1) if dims is None else dims, keepdim, dtype=dtype)
    return vector_norm(A, 2 if ord is None else ord, dims, keepdim, dtype=dtype)


@tensor_arguments
def tensor_norm(input: Tensor, p="fro", dim=None, keepdim: bool = False, dtype=None) -> Tensor:
    """``torch.norm`` and ``Tensor.norm`` (deprecated in PyTorch for linalg's), with its
    dispatch, so it accepts and refuses what PyTorch's does: ``'fro'`` over all elements,
    one or two dims is the vector 2-norm; another string order (or ``'fro'`` over more
    dims) a matrix norm over ``dim``, all dims by default; a number the vector norm."""
    dims = [dim] if isinstance(dim, int) else dim
    if isinstance(p, str):
        if p == "fro" and (dim is None or isinstance(dim, int) or len(dim) <= 2):
            return vector_norm(input, 2, dims, keepdim, dtype=dtype)
        return matrix_norm(input, p, list(range(input.ndim)) if dims is None else dims, keepdim, dtype=dtype)
    return vector_norm(input, 2.0 if p is None else p, dims, keepdim, dtype=dtype)
