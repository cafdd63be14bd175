"""irgrad.utils: data loading (``irgrad.utils.data``), as ``torch.utils``."""

from . import data

__all__ = ["data"]
