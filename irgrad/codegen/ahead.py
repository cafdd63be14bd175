"""The shared kernels compiled ahead, in a second process, while the first call traces.

Every program calls the same few kernels: the thread pool and the tiled matrix
products for float32 (:mod:`irgrad.native.pool`, :mod:`.tiled_gemm`).  They are compiled
once per machine and irgrad version and kept in the disk cache, but on a machine whose
cache does not hold them yet they are most of a first compile: W1's (the MLP's training
forward and backward) took 204 of its 300-420 ms in LLVM on those three modules, the
model's own two programs 120.  LLVM cannot compile two modules at once in one process
(llvmlite serializes every call into LLVM under one lock), so when ``irgrad.compile``
finds the cache without them, a forked child process compiles them into the cache on
another core, while this process traces, optimizes and compiles the model's programs; a
build that needs one of them waits for the child and loads its object code
(:func:`irgrad.native.jit.compiled_elsewhere`).  A model that needs none of them does
not wait at all.

Only where it is safe and can help: Linux (``fork``), at least two CPUs this process may
run on, native code enabled, and no MPI in the process (a forked MPI process must not
run).  The child does nothing but compile and write the cache (atomically, as every
writer of it does), and leaves with ``os._exit``: no atexit handler, no buffered output
of the parent's, no finalizer runs twice.
"""

from __future__ import annotations

import os
import sys

import llvmlite.ir as ir
import numpy as np

from ..native import jit, pool
from . import tiled_gemm
from .gemm_kernels import host_tiling

_STARTED: list[int] = []  # the child's pid, once one was started in this process


def _kernels() -> dict[str, object]:
    """The modules compiled ahead, by their cache source, with what builds each."""
    f32 = ir.FloatType()
    tiling = host_tiling(np.dtype(np.float32))
    return {
        pool.MODULE: pool.compile_module,
        **{
            tiled_gemm.symbol(form, f32, tiling): (
                lambda form=form: tiled_gemm.ensure_compiled(form, f32, tiling)
            )
            for form in ("broadcast", "packed")
        },
    }


def _can_fork() -> bool:
    return (
        sys.platform == "linux"
        and jit.enabled()
        and len(os.sched_getaffinity(0)) >= 2
        and "mpi4py.MPI" not in sys.modules
    )


def start() -> None:
    """Fork a process compiling the kernels the disk cache lacks (once per process; see
    the module doc).  Returns at once."""
    if _STARTED or not _can_fork():
        return
    kernels = {source: build for source, build in _kernels().items() if not jit.cached(source)}
    if not kernels:
        return
    pid = os.fork()
    if pid == 0:  # the child: compile, then leave without running anything of the parent's
        status = 0
        try:
            for build in kernels.values():
                build()
        except BaseException:  # noqa: BLE001 - the parent compiles what the cache lacks
            status = 1
        finally:
            os._exit(status)
    _STARTED.append(pid)
    jit.compiled_elsewhere(list(kernels), pid)
