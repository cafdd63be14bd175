"""Running reductions along a dim: ``cumprod``, ``cummax`` and ``cummin`` (``cumsum``
is in :mod:`irgrad.tensor_ops.reduce`).

``cummax``/``cummin`` return ``(values, indices)`` named tuples as ``max(dim)`` does;
the values are ``input`` gathered at the indices, so the gradient flows through the
indices, as PyTorch's does.
"""

from __future__ import annotations

from .._arguments import tensor_arguments
from ..dispatch import apply, cast
from ..dtypes import to_dtype
from ..ops import OPS
from ..ops.shapes import normalize_dim
from ..tensor import Tensor
from .reduce import values_indices
from .shape import clone


@tensor_arguments
def cumprod(input: Tensor, dim: int, *, dtype=None) -> Tensor:
    """Running product along ``dim`` (integers in int64 unless ``dtype`` says otherwise);
    its gradient is exact where the input has zeros."""
    if dtype is not None:
        input = cast(input, to_dtype(dtype))
    return apply(OPS["cumprod"], (input,), {"dim": normalize_dim("cumprod", dim, input._data.ndim)})


def _running_extremum(name: str, input: Tensor, dim: int):
    d = normalize_dim(name, dim, input._data.ndim)
    indices = apply(OPS[f"cumarg{name[3:]}"], (input,), {"dim": d})
    if input._data.ndim == 0:
        values = clone(input)
    else:
        values = apply(OPS["gather"], (input, indices), {"dim": d})
    return values_indices[name](values, indices)


@tensor_arguments
def cummax(input: Tensor, dim: int):
    """``(values, indices)``: the running maximum along ``dim`` and where it was found
    (the last of equal elements; NaN, once seen, is the maximum)."""
    return _running_extremum("cummax", input, dim)


@tensor_arguments
def cummin(input: Tensor, dim: int):
    """``(values, indices)``: the running minimum along ``dim`` (as :func:`cummax`)."""
    return _running_extremum("cummin", input, dim)
