"""``embedding_bag``: the sum, mean or max of each bag of embeddings, as PyTorch's.

A bag is a row of a 2-D ``input``, or, for a 1-D ``input``, the ids from one offset to
the next.  The embeddings come from :func:`.layers.embedding` (its id checks,
``max_norm`` and ``scale_grad_by_freq``); each position's bag number is a running count
of the offsets at or before it (``index_add`` of ones, then ``cumsum``, linear in the
ids and bags, and traceable); the bags are reduced by ``index_add`` (sum, mean) or
``scatter_reduce(amax)`` (max).  Ids at ``padding_idx`` are left out of their bag, and
an empty bag is zeros.
"""

from __future__ import annotations

from ..._arguments import tensor_arguments
from ...creation import arange, ones, zeros
from ...dtypes import FLOAT, int64
from ...tensor import Tensor
from ...tensor_ops.indexing import check_range
from .layers import embedding

__all__ = ["embedding_bag"]

_MODES = ("sum", "mean", "max")


@tensor_arguments
def embedding_bag(
    input: Tensor,
    weight: Tensor,
    offsets: Tensor | None = None,
    max_norm: float | None = None,
    norm_type: float = 2,
    scale_grad_by_freq: bool = False,
    mode: str = "mean",
    sparse: bool = False,
    per_sample_weights: Tensor | None = None,
    include_last_offset: bool = False,
    padding_idx: int | None = None,
) -> Tensor:
    """(bags, embedding_dim): each bag's embeddings summed, averaged or maxed."""
    ids, offsets = _bags(input, offsets, include_last_offset)
    if mode not in _MODES:
        raise ValueError("mode has to be one of sum, mean or max")
    if mode == "max" and scale_grad_by_freq:
        raise ValueError("max mode does not support scaling the gradient by the frequency")
    if per_sample_weights is not None:
        if mode != "sum":
            raise NotImplementedError(
                "embedding_bag: per_sample_weights was not None. per_sample_weights is only supported for "
                f"mode='sum' (got mode='{mode}'). Please open a feature request on GitHub."
            )
        if per_sample_weights.shape != input.shape:
            raise ValueError(
                f"embedding_bag: If per_sample_weights ({per_sample_weights.shape}) is not None, then it must have "
                f"the same shape as the input ({input.shape})"
            )
        per_sample_weights = per_sample_weights.reshape(-1)
    n_bags = offsets.shape[0] - (1 if include_last_offset else 0)
    rows = embedding(ids, weight, padding_idx, max_norm, norm_type, scale_grad_by_freq, sparse)
    bag = _bag_of_each_position(offsets, ids.shape[0], n_bags)
    keep = None if padding_idx is None else (ids != padding_idx % weight.shape[0])
    if keep is not None and ids.shape[0]:
        bag = bag.where(keep, n_bags)  # a padding id goes to a bag past the last, dropped below
    if mode == "max":
        start = zeros((n_bags + 1, weight.shape[1]), dtype=weight.dtype)
        index = bag.unsqueeze(1).expand(-1, weight.shape[1])
        return start.scatter_reduce(0, index, rows, "amax", include_self=False)[:n_bags]
    if per_sample_weights is not None:
        rows = rows * per_sample_weights.unsqueeze(1)
    sums = zeros((n_bags + 1, weight.shape[1]), dtype=weight.dtype).index_add(0, bag, rows)[:n_bags]
    if mode == "sum":
        return sums
    counts = zeros(n_bags + 1, dtype=weight.dtype).index_add(0, bag, ones(ids.shape[0], dtype=weight.dtype))
    return sums / counts[:n_bags].clamp(min=1).unsqueeze(1)


def _bags(input: Tensor, offsets: Tensor | None, include_last_offset: bool) -> tuple[Tensor, Tensor]:
    """(the ids as one 1-D tensor, the offsets of the bags in it), checked as PyTorch checks them."""
    if input.dtype.category == FLOAT:
        raise RuntimeError(
            "Expected tensor for argument #1 'indices' to have one of the following scalar types: Long, Int; but "
            f"got {input.dtype} instead (while checking arguments for embedding_bag)"
        )
    if input.dim() == 2:
        if offsets is not None:
            raise ValueError(
                "if input is 2D, then offsets has to be None, as input is treated is a mini-batch of fixed length "
                f"sequences. However, found offsets of type {type(offsets)}"
            )
        bags, length = input.shape
        return input.reshape(-1), arange(bags, dtype=int64) * length
    if input.dim() != 1:
        raise ValueError(f"input has to be 1D or 2D Tensor, but got Tensor of dimension {input.dim()}")
    if offsets is None:
        raise ValueError("offsets has to be a 1D Tensor but got None")
    if offsets.dim() != 1:
        raise ValueError("offsets has to be a 1D Tensor")
    offsets = offsets.to(int64)
    # checked by the assert_range op, so compiled code checks them too (checks always run)
    check_range(
        offsets[:1],
        0,
        1,
        "RuntimeError",
        "offsets[0] has to be 0, i.e., the first sequence in the mini-batch has to start from position 0. "
        "However, got {value}",
    )
    check_range(
        offsets[-1:],
        -(2**62),
        input.shape[0],
        "RuntimeError",
        f"offsets[-1] can not be greater than input's length {input.shape[0]} but got offsets[-1] of {{value}}",
        closed=True,
    )
    return input, offsets


def _bag_of_each_position(offsets: Tensor, positions: int, n_bags: int) -> Tensor:
    """Each position's bag: how many bag starts are at or before it, less one.  With
    ``include_last_offset`` the last offset is not a start (PyTorch's last bag runs to the
    end of the input whatever its value)."""
    starts = offsets[:n_bags]
    marks = zeros(positions + 1, dtype=int64).index_add(0, starts, ones(n_bags, dtype=int64))
    return marks.cumsum(0)[:positions] - 1
