"""``irgrad.distributed``: data-parallel training across processes, on MPI.

The common subset of ``torch.distributed`` with PyTorch's names and semantics, carried
by a real communication engine: MPI through ``mpi4py`` (``pip install "irgrad[distributed]"``
installs ``mpi4py`` and ``mpich``; on a cluster the site's MPI works the same).  Start
processes with ``mpiexec -n N python train.py`` or ``python -m irgrad.distributed.run
--nproc-per-node N train.py``.  See ``docs/distributed.md``.
"""

from __future__ import annotations

from .collectives import (
    ReduceOp,
    Work,
    all_gather,
    all_gather_into_tensor,
    all_reduce,
    barrier,
    broadcast,
    irecv,
    isend,
    recv,
    reduce_scatter_tensor,
    send,
)
from .process_group import (
    destroy_process_group,
    get_backend,
    get_rank,
    get_world_size,
    init_process_group,
    is_available,
    is_initialized,
)

__all__ = [
    "ReduceOp",
    "Work",
    "all_gather",
    "all_gather_into_tensor",
    "all_reduce",
    "barrier",
    "broadcast",
    "destroy_process_group",
    "get_backend",
    "get_rank",
    "get_world_size",
    "init_process_group",
    "irecv",
    "is_available",
    "is_initialized",
    "isend",
    "recv",
    "reduce_scatter_tensor",
    "send",
]
