"""``index_reduce``: whole slices of ``source`` combined into ``input``'s slices picked by
an index vector along a dim, by product, mean, maximum or minimum, with its in-place form.

It is ``scatter_reduce`` (:mod:`irgrad.tensor_ops.scatter`) with the index vector
expanded over the source's slices, so autograd and the tracer see ordinary ops and the
gradients are PyTorch's ``index_reduce_backward``: ``amax``/``amin`` share the gradient
evenly among the elements equal to the result, ``prod`` divides only by non-zeros,
``mean`` divides by the count, and without ``include_self`` the written slices of
``input`` get no gradient.
"""

from __future__ import annotations

import warnings

from .. import _tracing
from .._arguments import tensor_arguments
from ..creation import ensure_tensor
from ..dispatch import apply, cast
from ..dtypes import bool_, int32, int64
from ..ops import OPS
from ..ops.shapes import normalize_dim
from ..recording.function import Function
from ..recording.grad_mode import STATE
from ..tensor import Tensor
from .index_along import checked_index_arguments, over_slices
from .indexing import at_least_1d, check_range
from .scatter import cleared, divided_by_count
from .writes import update_inplace

INDEX_REDUCES = ("prod", "mean", "amax", "amin")
_warned = []  # PyTorch warns once per process that the op is in beta


@tensor_arguments
def index_reduce(
    input: Tensor, dim: int, index: Tensor, source: Tensor, reduce: str, *, include_self: bool = True
) -> Tensor:
    """``input`` with ``source[..., i, ...]`` combined into its slice ``index[i]`` along
    ``dim`` by ``reduce`` ('prod', 'mean', 'amax' or 'amin'), starting from ``input``'s
    slice or, without ``include_self``, from the combined slices alone."""
    if not isinstance(include_self, bool):
        raise TypeError(
            f"index_reduce(): argument 'include_self' must be bool, not {type(include_self).__name__}"
        )
    if reduce not in INDEX_REDUCES:
        raise RuntimeError(
            f"index_reduce(): Expected reduce to be one of prod, mean, amax or amin but got {reduce}."
        )
    d = normalize_dim("index_reduce", dim, input._data.ndim)
    index = checked_index_arguments("index_reduce_()", input, d, ensure_tensor(index), source)
    if not _warned:
        _warned.append(True)
        warnings.warn(
            "index_reduce() is in beta and the API may change at any time.", UserWarning, stacklevel=3
        )
    if input.dtype is bool_:
        raise NotImplementedError("\"index_func_\" not implemented for 'Bool'")
    int32_index = index.dtype is int32
    size = input._data.shape[d] if input._data.ndim else 1
    index = check_range(cast(index, int64).reshape(-1), 0, size, "IndexError", "index out of range in self")
    x, source = at_least_1d(input), at_least_1d(source)

    def combine() -> Tensor:
        return _combined(x, over_slices(index, d, source._data.shape), source, d, reduce, include_self)

    if int32_index and not include_self and STATE.enabled and (x._rg or source._rg):
        _tracing.untraceable("index_reduce(include_self=False) with an int32 index (its backward raises)")
        return _FailingBackward.apply(combine, x, source).reshape(input.shape)
    return combine().reshape(input.shape)


class _FailingBackward(Function):
    """PyTorch's backward of ``index_reduce`` without ``include_self`` clears the written
    slices with ``index_fill``, which refuses an int32 index: the same error here."""

    @staticmethod
    def forward(ctx, compute, *inputs):
        return compute()

    @staticmethod
    def backward(ctx, grad):
        raise IndexError("index_fill_(): Expected dtype int64 for index.")


def _combined(x: Tensor, spread: Tensor, source: Tensor, d: int, reduce: str, include_self: bool) -> Tensor:
    """``scatter_reduce`` of ``source`` into ``x`` at ``spread`` (the index over slices)."""
    if reduce == "mean":
        start = x if include_self else cleared(x, spread, source, d)
        total = apply(OPS["scatter_add"], (start, spread, source), {"dim": d})
        return divided_by_count(total, x, spread, source, d, include_self)
    attrs = {"dim": d, "reduce": reduce, "include_self": include_self}
    return apply(OPS["scatter_reduce"], (x, spread, source), attrs)


@tensor_arguments
def index_reduce_(
    self: Tensor, dim: int, index: Tensor, source: Tensor, reduce: str, *, include_self: bool = True
) -> Tensor:
    def compute(old: Tensor) -> Tensor:
        return index_reduce(old, dim, index, source, reduce, include_self=include_self)

    return update_inplace(self, compute, source, name="index_reduce_")
