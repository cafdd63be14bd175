"""What every loss shares: the ``reduction`` argument and the dtype a loss is stored in.

``_legacy_reduction`` maps PyTorch's deprecated ``size_average``/``reduce`` flags to a
reduction (with its warning), ``_check_reduction`` raises its error for an unknown one,
and ``_reduce`` applies it.  ``_stored_as`` casts a loss to an argument's dtype where
PyTorch's kernel writes it into a tensor of that type.  The loss modules of this package,
the other loss modules of ``irgrad.nn.functional`` and the loss ``Module``s use them, so
that every loss parses and reports its options the same way.
"""

from __future__ import annotations

import warnings

from ....dtypes import FLOAT
from ....tensor import Tensor


def _legacy_reduction(size_average, reduce, reduction: str) -> str:
    """Map the deprecated ``size_average``/``reduce`` flags to a reduction string."""
    if size_average is None and reduce is None:
        return reduction
    warnings.warn(
        "size_average and reduce args will be deprecated, please use reduction='{}' instead.".format(
            "none" if reduce is False else ("sum" if size_average is False else "mean")
        ),
        stacklevel=3,
    )
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    if size_average and reduce:
        return "mean"
    return "sum" if reduce else "none"


def _stored_as(loss: Tensor, like: Tensor) -> Tensor:
    """``loss`` cast to ``like``'s dtype, as PyTorch's kernels that write a loss computed in
    the promoted type into a tensor of one argument's type (an in-place op or an output
    made with ``empty_like``); PyTorch's error where a float does not fit that type."""
    if loss.dtype is like.dtype:
        return loss
    if loss.dtype.category == FLOAT and like.dtype.category != FLOAT:
        raise RuntimeError(
            f"result type {loss.dtype.scalar_type} can't be cast to the desired output type "
            f"{like.dtype.scalar_type}"
        )
    return loss.to(like.dtype)


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "none":
        return loss
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    raise ValueError(f"{reduction} is not a valid value for reduction")


def _check_reduction(reduction: str) -> None:
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
