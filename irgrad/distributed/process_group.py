"""The process group: which process this is, how many there are, and the MPI
communicator that connects them.  One group, the world (PyTorch's default group).

A rank that raises an uncaught exception after ``init_process_group`` aborts the whole
job (``MPI_Abort``), so the other ranks stop with an error instead of waiting forever
for a collective it will never join.
"""

from __future__ import annotations

import os
import sys
import time
from datetime import timedelta
from typing import Any

_GROUP: dict[str, Any] = {}
BACKENDS = ("mpi", "gloo")  # gloo: PyTorch's CPU backend name, served by MPI here
DEFAULT_TIMEOUT = timedelta(minutes=30)


def _mpi():
    """mpi4py's MPI module (imported on first use: irgrad itself does not need MPI)."""
    try:
        from mpi4py import MPI  # an optional dependency, imported only by distributed code
    except ImportError as error:
        raise RuntimeError(
            "irgrad.distributed needs MPI through mpi4py: pip install 'irgrad[distributed]' "
            "(mpi4py and mpich) or mpi4py built against your cluster's MPI"
        ) from error
    return MPI


def is_available() -> bool:
    """Whether mpi4py can be imported."""
    try:
        _mpi()
    except RuntimeError:
        return False
    return True


def init_process_group(
    backend: str | None = None,
    init_method: str | None = None,
    timeout: timedelta | None = None,
    world_size: int = -1,
    rank: int = -1,
    **kwargs: Any,
) -> None:
    """Join the world group.  Rank and size come from MPI (``mpiexec``); ``RANK`` and
    ``WORLD_SIZE`` in the environment, or ``rank=``/``world_size=``, must agree with them."""
    if _GROUP:
        raise RuntimeError("trying to initialize the default process group twice!")
    backend = (backend or "mpi").lower()
    if backend not in BACKENDS:
        raise ValueError(
            f"irgrad.distributed: backend {backend!r} is not available; use one of {BACKENDS} (MPI)"
        )
    MPI = _mpi()
    comm = MPI.COMM_WORLD
    actual = {"rank": comm.Get_rank(), "world_size": comm.Get_size()}
    asked = {
        "rank": rank if rank >= 0 else int(os.environ.get("RANK", -1)),
        "world_size": world_size if world_size > 0 else int(os.environ.get("WORLD_SIZE", -1)),
    }
    for key, value in asked.items():
        if value >= 0 and value != actual[key]:
            raise RuntimeError(
                f"init_process_group: {key}={value} was asked for, but MPI started this process as "
                f"{key}={actual[key]} (start ranks with mpiexec)"
            )
    _GROUP.update(comm=comm, MPI=MPI, backend=backend, timeout=(timeout or DEFAULT_TIMEOUT).total_seconds())
    _abort_on_uncaught_exceptions(comm)


_ABORT_GRACE_SECONDS = 0.5


def _abort_on_uncaught_exceptions(comm) -> None:
    previous = sys.excepthook

    def hook(kind, value, traceback) -> None:
        previous(kind, value, traceback)
        sys.stderr.flush()
        if _GROUP and comm.Get_size() > 1:
            # The launcher forwards each rank's stderr through a pipe; an abort right away
            # can tear the job down before it has passed the traceback on (seen under load:
            # the error's last line lost).  A moment first, only on this failing path.
            time.sleep(_ABORT_GRACE_SECONDS)
            comm.Abort(1)

    sys.excepthook = hook


def group() -> dict[str, Any]:
    """The initialized group (an error naming the missing call otherwise)."""
    if not _GROUP:
        raise RuntimeError(
            "Default process group has not been initialized, please make sure to call init_process_group."
        )
    return _GROUP


def is_initialized() -> bool:
    return bool(_GROUP)


def get_rank(group_: Any = None) -> int:
    return group()["comm"].Get_rank() if _GROUP else -1


def get_world_size(group_: Any = None) -> int:
    return group()["comm"].Get_size() if _GROUP else -1


def get_backend(group_: Any = None) -> str:
    return group()["backend"]


def destroy_process_group(group_: Any = None) -> None:
    """Leave the group (MPI itself is finalized when the process exits)."""
    group()["comm"].Barrier()
    _GROUP.clear()
