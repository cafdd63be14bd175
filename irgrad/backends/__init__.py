"""``torch.backends``: flags scripts set for GPU libraries.  irgrad runs on the CPU with
numpy and its own native code, so the flags are kept (a script may read back what it set)
and change nothing; ``is_available()`` is False for every GPU backend."""

from __future__ import annotations

from . import cuda, cudnn, mps

__all__ = ["cuda", "cudnn", "mps"]
