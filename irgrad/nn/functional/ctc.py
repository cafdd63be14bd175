"""``ctc_loss``: the connectionist temporal classification loss, as PyTorch's, on the
``ctc_loss`` primitive (:mod:`irgrad.ops.ctc`).

Targets come padded, (N, S), or concatenated, 1-D with ``target_lengths`` saying where
each sample's labels end (that form reads the lengths' values, so a compiled function
taking it runs eagerly); the lengths may be tensors or sequences of ints.  ``mean``
divides each sample's loss by its target length (at least 1) before averaging.
"""

from __future__ import annotations

from ..._arguments import tensor_arguments
from ...creation import tensor, zeros
from ...dispatch import apply
from ...dtypes import int64
from ...ops import OPS
from ...tensor import Tensor
from .loss.reduction import _check_reduction

__all__ = ["ctc_loss"]


def _lengths(value) -> Tensor:
    if isinstance(value, Tensor):
        return value.to(int64)
    return tensor([value] if isinstance(value, int) else list(value), dtype=int64)


def _padded(targets: Tensor, target_lengths: Tensor) -> Tensor:
    """Concatenated 1-D targets as an (N, longest) tensor, zeros after each sample's labels."""
    lengths = [int(v) for v in target_lengths.tolist()]
    out = zeros((len(lengths), max(lengths, default=0)), dtype=targets.dtype)
    start = 0
    for i, length in enumerate(lengths):
        out[i, :length] = targets[start : start + length]
        start += length
    return out


@tensor_arguments
def ctc_loss(
    log_probs: Tensor,
    targets: Tensor,
    input_lengths,
    target_lengths,
    blank: int = 0,
    reduction: str = "mean",
    zero_infinity: bool = False,
) -> Tensor:
    """The CTC loss of ``log_probs`` (T, N, C) (log_softmax outputs) against ``targets``."""
    _check_reduction(reduction)
    unbatched = log_probs.dim() == 2
    if unbatched:
        log_probs = log_probs.unsqueeze(1)
        targets = targets.unsqueeze(0) if targets.dim() == 1 else targets
    input_lengths, target_lengths = _lengths(input_lengths), _lengths(target_lengths)
    if unbatched:
        input_lengths, target_lengths = input_lengths.reshape(1), target_lengths.reshape(1)
    classes = log_probs.shape[-1]
    if not 0 <= blank < classes:
        raise RuntimeError("blank must be in label range")
    if targets.dim() == 1:
        targets = _padded(targets, target_lengths)
    attrs = {"blank": int(blank), "zero_infinity": bool(zero_infinity)}
    loss = apply(OPS["ctc_loss"], (log_probs, targets.to(int64), input_lengths, target_lengths), attrs)
    if reduction == "mean":
        return (loss / target_lengths.clamp(min=1).to(loss.dtype)).mean()
    if reduction == "sum":
        return loss.sum()
    return loss.squeeze(0) if unbatched else loss
