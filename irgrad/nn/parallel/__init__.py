"""``torch.nn.parallel``: ``DistributedDataParallel`` (data-parallel training across
processes, on MPI) and ``DataParallel``, which on irgrad's one CPU device is the module
itself behind a wrapper (scripts wrap their model when several devices exist and read
``.module`` afterwards)."""

from __future__ import annotations

from .data_parallel import DataParallel
from .distributed import DistributedDataParallel

__all__ = ["DataParallel", "DistributedDataParallel"]
