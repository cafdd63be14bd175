"""The machine a benchmark runs on: thread settings, a description, and its measured limits.

Thread counts must reach the BLAS and OpenMP runtimes before they load, which is
when numpy or torch is first imported; :func:`thread_env` gives the environment
that pins them, and ``benchmarks.run`` re-executes itself with it.  The limits
(large-sgemm GFLOP/s through numpy, copy bandwidth in GB/s) turn a workload's
FLOP and byte counts into a lower bound on its time per step.
"""

from __future__ import annotations

import datetime
import importlib
import os
import platform
import time
from dataclasses import asdict, dataclass

THREAD_VARS = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
)


def thread_env(threads: int) -> dict[str, str]:
    """Environment variables that limit numpy's BLAS, OpenMP and torch to ``threads`` threads."""
    return {name: str(threads) for name in THREAD_VARS}


def threads_pinned(threads: int) -> bool:
    """Whether this process was started with the thread environment for ``threads``."""
    return all(os.environ.get(name) == value for name, value in thread_env(threads).items())


def pin_cpus(threads: int) -> list[int] | None:
    """Restrict this process to ``threads`` of the CPUs it may run on, when it may use
    more; returns the CPUs it now runs on (None where affinity cannot be set).

    XLA's CPU client sizes its thread pool by the CPUs the process may use and ignores
    ``XLA_FLAGS``' thread settings (jax 0.10: a 2048^3 sgemm took 87 ms of wall time and
    171 ms of CPU time with ``intra_op_parallelism_threads=1``); only affinity, set
    before jax loads, holds it to the thread count the other contenders use.
    """
    if not hasattr(os, "sched_setaffinity"):
        return None
    allowed = sorted(os.sched_getaffinity(0))
    if threads < len(allowed):
        os.sched_setaffinity(0, allowed[:threads])
    return sorted(os.sched_getaffinity(0))


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (or the platform's processor string)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(module: str) -> str | None:
    try:
        mod = importlib.import_module(module)
    except Exception:  # noqa: BLE001 - any import failure means "not available"
        return None
    version = getattr(mod, "__version__", None)
    if version is None:
        from importlib.metadata import PackageNotFoundError
        from importlib.metadata import version as dist_version

        try:
            version = dist_version(module)
        except PackageNotFoundError:
            version = "unknown"
    return str(version)


def describe(threads: int, frameworks: tuple[str, ...]) -> dict[str, str | int | None]:
    """CPU, core count, threads used, OS, Python and library versions, and the date."""
    info: dict[str, str | int | None] = {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "threads": threads,
        "cpus used": " ".join(map(str, sorted(os.sched_getaffinity(0))))
        if hasattr(os, "sched_getaffinity")
        else None,
        "os": platform.platform(),
        "python": platform.python_version(),
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "numpy": _version("numpy"),
        "irgrad": _version("irgrad"),
        "native code for": native_target(),
        "numpy's BLAS": numpy_blas(),
    }
    for name in frameworks:
        if name not in info:
            info[name] = _version(name)
    if "torch" in frameworks:
        info["torch's BLAS"] = torch_blas()
    try:
        with open("/proc/loadavg", encoding="utf-8") as f:
            info["load average at start"] = " ".join(f.read().split()[:3])
    except OSError:
        pass
    return info


def native_target() -> str:
    """The CPU LLVM compiles irgrad's native code for, and its widest vectors: ratios
    between contenders move with both (the GEMM tiles are twice as wide with AVX-512)."""
    import llvmlite.binding as llvm

    features = llvm.get_host_cpu_features()
    vectors = "AVX-512" if features.get("avx512f") else "AVX2" if features.get("avx2") else "SSE"
    return f"{llvm.get_host_cpu_name()} ({vectors})"


def numpy_blas() -> str | None:
    """numpy's BLAS and the kernel it chose for this CPU (irgrad eager's matmuls)."""
    import numpy as np

    try:
        config = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
    except Exception:  # noqa: BLE001 - older numpy: no dict form
        return None
    parts = (config.get("name"), config.get("version"), _openblas_core())
    return " ".join(str(part) for part in parts if part)


def _openblas_core() -> str | None:
    """The kernel family OpenBLAS picked at load time (e.g. SkylakeX, Haswell, Zen), asked
    of the BLAS numpy mapped into this process (the one irgrad's native code calls)."""
    import ctypes

    import numpy.linalg  # noqa: F401  (numpy's BLAS is loaded with it at the latest)

    from irgrad.codegen.blas import mapped_libraries

    for path in mapped_libraries():
        try:
            library = ctypes.CDLL(path)
        except OSError:
            continue
        for symbol in ("scipy_openblas_get_corename64_", "openblas_get_corename64_", "openblas_get_corename"):
            function = getattr(library, symbol, None)
            if function is not None:
                function.restype = ctypes.c_char_p
                return f"({function().decode()} kernels)"
    return None


def torch_blas() -> str | None:
    """The BLAS PyTorch was built with (MKL on x86: on Intel cores its sgemm ran 15-25%
    faster than numpy's OpenBLAS on W2's products, which sets W2's torch column)."""
    import re

    import torch

    found = re.search(r"BLAS_INFO=(\w+)", torch.__config__.show())
    return found.group(1) if found else None


@dataclass
class Limits:
    """The best measured large-sgemm FLOP rate and memory copy bandwidth."""

    sgemm_gflops: float
    copy_gbs: float
    sgemm_n: int
    copy_mb: float

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def measure_limits(sgemm_n: int = 2048, copy_mb: float = 256.0, repeats: int = 5) -> Limits:
    """Measure float32 matmul GFLOP/s (n x n @ n x n) and copy GB/s (read + write bytes) with numpy.

    The best of ``repeats`` runs is kept: a lower bound should use what the machine
    can reach, not a run slowed by a neighbour.
    """
    import numpy as np

    rng = np.random.default_rng(0)
    a = rng.standard_normal((sgemm_n, sgemm_n), dtype=np.float32)
    b = rng.standard_normal((sgemm_n, sgemm_n), dtype=np.float32)
    out = np.empty_like(a)
    np.matmul(a, b, out=out)  # warm-up: loads the BLAS and spins up its threads
    best = min(_timed(lambda: np.matmul(a, b, out=out)) for _ in range(repeats))
    gflops = 2.0 * sgemm_n**3 / best / 1e9

    n = int(copy_mb * 1e6 / 4)
    src = np.ones(n, dtype=np.float32)
    dst = np.empty_like(src)
    np.copyto(dst, src)
    best = min(_timed(lambda: np.copyto(dst, src)) for _ in range(repeats))
    copy_gbs = 2.0 * src.nbytes / best / 1e9
    return Limits(gflops, copy_gbs, sgemm_n, src.nbytes / 1e6)


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start
