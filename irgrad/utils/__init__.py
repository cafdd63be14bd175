"""irgrad.utils: data loading (``irgrad.utils.data``), activation checkpointing
(``irgrad.utils.checkpoint``) and TensorBoard logging (``irgrad.utils.tensorboard``),
as ``torch.utils``."""

from . import checkpoint, data, tensorboard

__all__ = ["checkpoint", "data", "tensorboard"]
