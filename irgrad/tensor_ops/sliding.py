"""``Tensor.unfold(dimension, size, step)``: sliding windows along a dim as a view (the
``unfold`` op), with PyTorch's argument checks; not ``nn.functional.unfold``, which is
im2col over a batch of images."""

from __future__ import annotations

from .._arguments import tensor_arguments
from ..dispatch import apply
from ..ops import OPS
from ..ops.shapes import normalize_dim
from ..tensor import Tensor


@tensor_arguments
def unfold(input: Tensor, dimension: int, size: int, step: int) -> Tensor:
    """The windows of ``size`` elements ``step`` apart along ``dimension``, which becomes the
    windows' dim, with a last dim of ``size`` appended: a view, so windows closer than
    their size share memory (``x.unfold(0, 3, 1)`` of ``[a, b, c, d]`` is ``[[a, b, c],
    [b, c, d]]``).  A 0-d tensor gives ``size`` (0 or 1) elements, as PyTorch's."""
    size, step = int(size), int(step)
    if input.ndim == 0:
        normalize_dim("unfold", dimension, 1)
        if size > 1 or size < 0:
            raise RuntimeError(f"maximum size for tensor at dimension 0 is 1 but size is {size}")
        if step <= 0:
            raise RuntimeError(f"step is {step} but must be > 0")
        return input.reshape(1)[:size]
    dim = normalize_dim("unfold", dimension, input.ndim)
    if size < 0:
        raise RuntimeError(f"size is {size} but must be >= 0")
    return apply(OPS["unfold"], (input,), {"dim": dim, "size": size, "step": step})
