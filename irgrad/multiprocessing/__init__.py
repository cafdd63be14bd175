"""``irgrad.multiprocessing``: Python's :mod:`multiprocessing` whose processes exchange
tensors, as ``torch.multiprocessing``.

Everything of :mod:`multiprocessing` is here under its own name (``Process``,
``Queue``, ``set_start_method``, ``get_context`` ...), so ``import
irgrad.multiprocessing as mp`` replaces ``import multiprocessing``.  Tensors sent
through its queues, pipes and to spawned processes' arguments travel with their class
and flags (:mod:`.reductions`); a tensor moved to shared memory with
``Tensor.share_memory_()`` (``Module.share_memory()`` for a model) is seen and written
by every process that has it (:mod:`.shared_storage`).  :func:`spawn` runs a function
in several processes and reports their failures (:mod:`.spawn`).

Sharing strategies: PyTorch shares memory by file descriptor (``"file_descriptor"``,
Linux's default) or by named files (``"file_system"``, which avoids the open-descriptor
limit).  irgrad shares by file descriptor under either setting; both names are
accepted, so scripts that choose one run (see ``docs/pytorch-differences.md``).
"""

import multiprocessing
import sys
from multiprocessing import *  # noqa: F403  (the whole API of multiprocessing, as torch's)

from .reductions import register_tensor_classes
from .spawn import (
    ProcessContext,
    ProcessException,
    ProcessExitedException,
    ProcessRaisedException,
    spawn,
    start_processes,
)

__all__ = [
    "ProcessContext",
    "ProcessException",
    "ProcessExitedException",
    "ProcessRaisedException",
    "get_all_sharing_strategies",
    "get_sharing_strategy",
    "set_sharing_strategy",
    "spawn",
    "start_processes",
    *multiprocessing.__all__,
]

_ALL_STRATEGIES = (
    {"file_system"} if sys.platform in ("darwin", "win32") else {"file_descriptor", "file_system"}
)
_strategy = "file_system" if sys.platform in ("darwin", "win32") else "file_descriptor"


def set_sharing_strategy(new_strategy: str) -> None:
    """Choose how shared tensors travel: one of :func:`get_all_sharing_strategies`."""
    global _strategy
    if new_strategy not in _ALL_STRATEGIES:
        raise AssertionError(f"invalid sharing strategy {new_strategy!r}, expected one of {_ALL_STRATEGIES}")
    _strategy = new_strategy


def get_sharing_strategy() -> str:
    """The sharing strategy in effect (``"file_descriptor"`` by default on Linux)."""
    return _strategy


def get_all_sharing_strategies() -> set[str]:
    """The sharing strategies this system offers, as PyTorch names them."""
    return set(_ALL_STRATEGIES)


register_tensor_classes()  # tensors travel through this module's queues from the first import
