"""Collectives and point-to-point messages on tensors, as ``torch.distributed``'s.

MPI reads and writes a contiguous tensor's numpy storage directly (no copy); a
non-contiguous tensor goes through a contiguous copy that is written back when the
operation completes.  Every call has ``async_op=True``: it then returns a :class:`Work`
whose ``wait()`` completes it (with a timeout: a rank that never joins is an error,
not a hang).  ``ReduceOp.AVG`` is a sum divided by the world size.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable

import numpy as np

from ..futures import Future
from ..tensor import Tensor
from .process_group import group

# How long a wait tests its requests back to back before it starts sleeping between
# tests: MPI progresses only while called, and a sleep costs 50-100 us, far more than a
# small allreduce takes.
SPIN_SECONDS = 0.005


class ReduceOp(enum.Enum):
    SUM = "SUM"
    AVG = "AVG"
    PRODUCT = "PROD"
    MIN = "MIN"
    MAX = "MAX"


class Work:
    """A started operation: ``wait()`` blocks until it is done (then runs what finishes it:
    averaging, copying into a non-contiguous tensor) and returns True."""

    def __init__(
        self, requests: list, finish: Callable[[], None] | None = None, result: list | None = None
    ) -> None:
        self._requests = requests
        self._finish = finish
        self._done = False
        self._result = [] if result is None else result

    def get_future(self) -> Future[list]:
        """A future of the operation's output tensors (``[tensor]`` for ``all_reduce``),
        completed by waiting for it, as PyTorch's ``Work.get_future()``."""
        future: Future[list] = Future(_drive=lambda: self._settle(future))
        return future

    def _settle(self, future: Future[list]) -> None:
        try:
            self.wait()
        except Exception as error:  # the future carries it to whoever waits
            future.set_exception(error)
        else:
            future.set_result(self._result)

    def is_completed(self) -> bool:
        if not self._done and group()["MPI"].Request.Testall(self._requests):
            self._complete()
        return self._done

    def wait(self, timeout: float | None = None) -> bool:
        if self._done:
            return True
        g = group()
        limit = (
            g["timeout"] if timeout is None else float(getattr(timeout, "total_seconds", lambda: timeout)())
        )
        start = time.monotonic()
        pause = 0.0
        while not g["MPI"].Request.Testall(self._requests):  # each test also drives MPI's progress
            waited = time.monotonic() - start
            if waited > limit:
                raise RuntimeError(
                    f"irgrad.distributed: an operation did not complete within {limit:.0f} s "
                    f"(rank {g['comm'].Get_rank()}): another rank has not joined it"
                )
            if waited > SPIN_SECONDS:  # past a short spin, sleep between tests (up to 1 ms)
                time.sleep(pause)
                pause = min(max(pause * 2, 1e-5), 1e-3)
        self._complete()
        return True

    def _complete(self) -> None:
        self._done = True
        if self._finish is not None:
            self._finish()


def _buffer(tensor: Tensor) -> np.ndarray:
    data = tensor._data
    return data if data.flags.c_contiguous else np.ascontiguousarray(data)


def _written(tensor: Tensor, buffer: np.ndarray) -> Callable[[], None]:
    """What finishes a write into ``tensor`` through ``buffer``."""

    def finish() -> None:
        if buffer is not tensor._data:
            np.copyto(tensor._data, buffer)
        tensor._bump_version()

    return finish


def _run(
    requests: list, finish: Callable[[], None] | None, async_op: bool, result: list | None = None
) -> Work | None:
    work = Work(requests, finish, result)
    if async_op:
        return work
    work.wait()
    return None


def _mpi_op(op: ReduceOp):
    MPI = group()["MPI"]
    return {"SUM": MPI.SUM, "AVG": MPI.SUM, "PROD": MPI.PROD, "MIN": MPI.MIN, "MAX": MPI.MAX}[op.value]


def _averaged(op: ReduceOp, buffer: np.ndarray, then: Callable[[], None]) -> Callable[[], None]:
    size = group()["comm"].Get_size()

    def finish() -> None:
        if op is ReduceOp.AVG:
            if buffer.dtype.kind == "f":
                np.divide(buffer, buffer.dtype.type(size), out=buffer)
            else:
                np.floor_divide(buffer, size, out=buffer)
        then()

    return finish


def all_reduce(tensor: Tensor, op: ReduceOp = ReduceOp.SUM, group=None, async_op: bool = False):
    """Every rank's ``tensor`` becomes the reduction over all ranks, in place."""
    g = _group_checked(group)
    buffer = _buffer(tensor)
    request = g["comm"].Iallreduce(g["MPI"].IN_PLACE, buffer, op=_mpi_op(op))
    return _run([request], _averaged(op, buffer, _written(tensor, buffer)), async_op, [tensor])


def broadcast(tensor: Tensor, src: int, group=None, async_op: bool = False):
    """Every rank's ``tensor`` becomes rank ``src``'s."""
    g = _group_checked(group)
    buffer = _buffer(tensor)
    request = g["comm"].Ibcast(buffer, root=src)
    return _run([request], _written(tensor, buffer), async_op, [tensor])


def all_gather(tensor_list: list, tensor: Tensor, group=None, async_op: bool = False):
    """``tensor_list[r]`` becomes rank ``r``'s ``tensor``."""
    g = _group_checked(group)
    size = g["comm"].Get_size()
    if len(tensor_list) != size:
        raise RuntimeError(f"all_gather: tensor_list has {len(tensor_list)} tensors for a world of {size}")
    send = _buffer(tensor)
    gathered = np.empty((size,) + send.shape, send.dtype)
    request = g["comm"].Iallgather(send, gathered)

    def finish() -> None:
        for out, part in zip(tensor_list, gathered):
            np.copyto(out._data, part)
            out._bump_version()

    return _run([request], finish, async_op, list(tensor_list))


def all_gather_into_tensor(output_tensor: Tensor, input_tensor: Tensor, group=None, async_op: bool = False):
    """``output_tensor`` (world size times ``input_tensor``'s elements) becomes the ranks'
    inputs concatenated along dim 0."""
    g = _group_checked(group)
    send, buffer = _buffer(input_tensor), _buffer(output_tensor)
    if buffer.size != send.size * g["comm"].Get_size():
        raise RuntimeError(
            f"all_gather_into_tensor: output of {buffer.size} elements for {g['comm'].Get_size()} inputs of {send.size}"
        )
    request = g["comm"].Iallgather(send, buffer)
    return _run([request], _written(output_tensor, buffer), async_op, [output_tensor])


def reduce_scatter_tensor(
    output: Tensor, input: Tensor, op: ReduceOp = ReduceOp.SUM, group=None, async_op: bool = False
):
    """``input`` (world size times ``output``'s elements) is reduced over ranks and rank
    ``r`` keeps the ``r``-th block."""
    g = _group_checked(group)
    send, buffer = _buffer(input), _buffer(output)
    if send.size != buffer.size * g["comm"].Get_size():
        raise RuntimeError(
            f"reduce_scatter_tensor: input of {send.size} elements for {g['comm'].Get_size()} outputs of {buffer.size}"
        )
    request = g["comm"].Ireduce_scatter_block(send, buffer, op=_mpi_op(op))
    return _run([request], _averaged(op, buffer, _written(output, buffer)), async_op, [output])


def send(tensor: Tensor, dst: int, group=None, tag: int = 0) -> None:
    isend(tensor, dst, group, tag).wait()


def recv(tensor: Tensor, src: int | None = None, group=None, tag: int = 0) -> int:
    """Receive into ``tensor``; returns the sender's rank."""
    g = _group_checked(group)
    buffer = _buffer(tensor)
    status = g["MPI"].Status()
    g["comm"].Recv(buffer, source=g["MPI"].ANY_SOURCE if src is None else src, tag=tag, status=status)
    _written(tensor, buffer)()
    return status.Get_source()


def isend(tensor: Tensor, dst: int, group=None, tag: int = 0) -> Work:
    g = _group_checked(group)
    buffer = np.array(_buffer(tensor), copy=True)  # the tensor may change before delivery
    return Work([g["comm"].Isend(buffer, dest=dst, tag=tag)])


def irecv(tensor: Tensor, src: int | None = None, group=None, tag: int = 0) -> Work:
    g = _group_checked(group)
    buffer = _buffer(tensor)
    source = g["MPI"].ANY_SOURCE if src is None else src
    return Work([g["comm"].Irecv(buffer, source=source, tag=tag)], _written(tensor, buffer))


def barrier(group=None, async_op: bool = False, device_ids=None):
    g = _group_checked(group)
    return _run([g["comm"].Ibarrier()], None, async_op)


def _group_checked(group_arg) -> dict:
    if group_arg is not None:
        raise NotImplementedError("irgrad.distributed: only the default (world) group is supported")
    return group()
