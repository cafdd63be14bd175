"""``multilabel_margin_loss``: a hinge between every target class and every other class,
as PyTorch's.

A row of ``target`` lists the sample's classes, ended by the first -1 (the rest is
ignored).  The loss sums ``max(0, 1 - (x[y_j] - x[i]))`` over those targets ``y_j`` and
the classes ``i`` not among them, divided by the number of classes; a class listed twice
counts twice, as a term of the sum.  Built from gather, broadcasting and masks, so its
gradient is autograd's and compiled code lowers it.
"""

from __future__ import annotations

from ..._arguments import tensor_arguments
from ...dtypes import int64
from ...ops.shapes import fmt
from ...tensor import Tensor
from ...tensor_ops.indexing import check_range, one_hot
from ...tensor_ops.pointwise import where
from .activation import relu
from .loss.reduction import _check_reduction, _legacy_reduction, _reduce

__all__ = ["multilabel_margin_loss"]


@tensor_arguments
def multilabel_margin_loss(
    input: Tensor, target: Tensor, size_average=None, reduce=None, reduction: str = "mean"
) -> Tensor:
    """Per sample, ``sum over targets j and non-targets i of max(0, 1 - x[y_j] + x[i]) / C``."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    if input.dim() not in (1, 2) or (input.dim() == 1 and input.numel() == 0):
        raise RuntimeError(
            f"Expected non-empty vector or matrix with optional 0-dim batch size, but got: {fmt(input.shape)}"
        )
    if target.dtype is not int64:
        raise RuntimeError(f"expected scalar type Long but found {target.dtype.scalar_type}")
    if tuple(target.shape) != tuple(input.shape):
        raise RuntimeError(
            f"inconsistent target size: {fmt(target.shape)} for input of size: {fmt(input.shape)}"
        )
    unbatched = input.dim() == 1
    x = input.unsqueeze(0) if unbatched else input
    y = target.unsqueeze(0) if unbatched else target
    classes = x.shape[1]
    y = check_range(y, -1, classes, "RuntimeError", "argument #2 'target' is out of range")
    listed = (y != -1).to(int64).cumprod(1).bool()  # the targets before the first -1
    safe = where(listed, y, 0)
    is_target = (one_hot(safe, classes) * listed.unsqueeze(2).to(int64)).sum(1) > 0  # (N, C)
    scores = x.gather(1, safe)  # (N, J): each listed target's score
    hinge = relu(1 - scores.unsqueeze(2) + x.unsqueeze(1))  # (N, J, C)
    kept = listed.unsqueeze(2) & ~is_target.unsqueeze(1)
    loss = where(kept, hinge, 0.0).sum((1, 2)) / classes
    return _reduce(loss.squeeze(0) if unbatched else loss, reduction)
