"""Binary-search ops: ``searchsorted`` and ``bucketize``.

Every value runs PyTorch's binary search at once: ``bit_length(n)`` halving steps of
gathers and comparisons over the whole tensor (a fixed number, so a compiled function
traces it as one graph). The comparisons are PyTorch's, ``not (boundary >= v)`` to go
right on the left side and ``not (boundary > v)`` on the right side, so NaN values and
boundaries land where PyTorch's search puts them.
"""

from __future__ import annotations

from numbers import Number

from .._arguments import tensor_arguments
from ..creation import full, tensor, zeros
from ..dispatch import cast
from ..dtypes import int32, int64
from ..ops.shapes import fmt
from ..tensor import Tensor
from . import pointwise as P
from .indexing import gather, take, take_along_dim
from .select import where


def _positions(boundaries: Tensor, values: Tensor, right: bool, out_int32: bool) -> Tensor:
    """Where each of ``values`` goes among the last dim of ``boundaries`` (1-d, or with
    ``values``' leading dims)."""
    edges, points = boundaries.detach(), values.detach()
    n = edges.shape[-1]
    start = zeros(points.shape, dtype=int64)
    end = full(points.shape, n, dtype=int64)
    for _ in range(n.bit_length()):
        searching = P.lt(start, end)
        middle = P.floor_divide(P.add(start, end), 2)
        inside = P.clamp_max(middle, n - 1)  # (a finished search's middle may be n)
        edge = take(edges, inside) if edges._data.ndim == 1 else gather(edges, -1, inside)
        above = P.gt(edge, points) if right else P.ge(edge, points)
        go_right = P.logical_and(searching, P.logical_not(above))
        start = where(go_right, P.add(middle, 1), start)
        end = where(P.logical_and(searching, above), middle, end)
    return cast(start, int32) if out_int32 else start


@tensor_arguments
def searchsorted(
    sorted_sequence: Tensor,
    input: Tensor | Number,
    *,
    out_int32: bool = False,
    right: bool = False,
    side: str | None = None,
    sorter: Tensor | None = None,
    out=None,
) -> Tensor:
    """The indices at which ``input``'s values would be inserted into the sorted last dim
    of ``sorted_sequence`` to keep it sorted (the first such index, or with ``right`` /
    ``side='right'`` the last), as ``torch.searchsorted``."""
    if side is not None:
        if side not in ("left", "right"):
            raise RuntimeError(f"torch.searchsorted(): side can only be 'left' or 'right' but got {side}")
        if right and side == "left":
            raise RuntimeError(
                "torch.searchsorted(): side and right can't be set to opposites, got side of left while "
                "right was True"
            )
        right = side == "right"
    values = input if isinstance(input, Tensor) else tensor(input)
    if sorted_sequence._data.ndim > 1 and (
        values._data.ndim != sorted_sequence._data.ndim or values.shape[:-1] != sorted_sequence.shape[:-1]
    ):
        raise RuntimeError(
            "torch.searchsorted(): boundaries tensor should be 1 dimension or the first N-1 dimensions of "
            "boundaries tensor and input value tensor must match, but we got boundaries tensor "
            f"{fmt(sorted_sequence.shape)} and input value tensor {fmt(values.shape)}"
        )
    if sorter is not None:
        if sorter.shape != sorted_sequence.shape:
            raise RuntimeError(
                "torch.searchsorted(): boundary and sorter must have the same size, but got boundary tensor "
                f"{fmt(sorted_sequence.shape)}and got sorter tensor {fmt(sorter.shape)}"
            )
        sorted_sequence = take_along_dim(sorted_sequence, sorter, -1)
    return P._maybe_out(_positions(sorted_sequence, values, right, out_int32), out)


@tensor_arguments
def bucketize(
    input: Tensor | Number, boundaries: Tensor, *, out_int32: bool = False, right: bool = False, out=None
) -> Tensor:
    """The bucket of each of ``input``'s values among the sorted 1-d ``boundaries``:
    :func:`searchsorted` with the arguments the other way round."""
    if boundaries._data.ndim != 1:
        raise RuntimeError(f"boundaries tensor must be 1 dimension, but got dim({boundaries._data.ndim})")
    return searchsorted(boundaries, input, out_int32=out_int32, right=right, out=out)
