"""irgrad.utils: data loading (``irgrad.utils.data``) and activation checkpointing
(``irgrad.utils.checkpoint``), as ``torch.utils``."""

from . import checkpoint, data

__all__ = ["checkpoint", "data"]
