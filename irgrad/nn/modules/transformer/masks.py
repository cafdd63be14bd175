"""Causal masks: ``_generate_square_subsequent_mask``, the float mask that
``Transformer.generate_square_subsequent_mask`` returns, and ``_detect_is_causal_mask``,
with which the encoder and decoder stacks tell whether the mask they are given is that
one.  A module of its own because both the stacks and ``Transformer`` use them.
"""

from __future__ import annotations

from .... import _tracing
from ....creation import full
from ....tensor import Tensor
from ....tensor_ops.diagonals import triu


def _generate_square_subsequent_mask(sz: int, device=None, dtype=None) -> Tensor:
    """A float causal mask: ``-inf`` above the diagonal, ``0`` elsewhere."""
    return triu(full((sz, sz), float("-inf"), dtype=dtype), diagonal=1)


def _detect_is_causal_mask(
    mask: Tensor | None, is_causal: bool | None = None, size: int | None = None
) -> bool:
    """``is_causal`` if given, else whether ``mask`` equals the float causal mask of its size.

    The answer is a hint (attention with the mask computes the same values), so while
    tracing, where reading the mask's values would be a graph break, the mask is used.
    """
    if is_causal is None and mask is not None and not _tracing.tracing():
        sz = size if size is not None else mask.shape[-2]
        causal = _generate_square_subsequent_mask(sz, dtype=mask.dtype)
        return tuple(mask.shape) == tuple(causal.shape) and bool((mask == causal).all())
    return is_causal is True
