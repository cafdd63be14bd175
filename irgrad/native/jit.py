"""The JIT: LLVM IR modules built with ``llvmlite.ir``, optimized for the host CPU
and compiled to machine code in this process, once per kernel.

One MCJIT engine holds every kernel.  Modules are optimized with LLVM's new pass
builder for the host's CPU name and features, so loops are vectorized for the
machine they run on.  Compiling a kernel takes 40-100 ms, so the object code is
also cached on disk, keyed by a hash of the module's text, the CPU and the llvmlite
version: a later process loads it in well under a millisecond.  The cache lives in
``$IRGRAD_CACHE_DIR`` (default ``~/.cache/irgrad``), under ``native/``; a file that
fails its checksum is ignored and rewritten, and an unwritable directory only means
no caching.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import re
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import llvmlite
import llvmlite.binding as llvm
import llvmlite.ir as ir
import numpy as np

from . import perf_map

_LOCK = threading.RLock()  # re-entered: a kernel is built, and compiled, under it
_STATE: dict = {}
_KERNELS: dict = {}
_DIGEST = hashlib.sha256().digest_size
_DECLARED = re.compile(r'^declare [^@]*@"?([\w.$]+)"?\(', re.MULTILINE)


_ENABLED = os.environ.get("IRGRAD_NATIVE", "1") != "0"  # read once: ops ask on every call


def enabled() -> bool:
    """Whether native kernels are used (``IRGRAD_NATIVE=0`` at start-up turns them off)."""
    return _ENABLED


_char_view = ctypes.c_char.from_buffer


def _array_data_offset() -> int | None:
    """Where a numpy array object holds the address of its first element: numpy's
    ``PyArrayObject`` starts with Python's object header and then ``char *data``.
    Compiled programs take their buffers as array objects (``id(array)``) and read the
    address there, which a call makes in nanoseconds where ``ctypes`` took 0.2 us an
    array.  Checked against numpy's own answer: None where it differs (a Python build
    whose objects are laid out otherwise: compiled programs then refuse to build, and
    run with numpy)."""
    offset = object.__basicsize__
    for probe in (np.empty(3, np.float64), np.arange(12.0)[5:]):
        if ctypes.c_void_p.from_address(id(probe) + offset).value != probe.ctypes.data:
            return None
    return offset


ARRAY_DATA_OFFSET = _array_data_offset()


def address(array) -> int:
    """The address of a C-contiguous numpy array's first element, for a kernel call.

    A ctypes view of a writable array's buffer gives it several times faster than
    ``array.ctypes.data``, which matters for kernels on small arrays; read-only and
    empty arrays take the slow way.
    """
    try:
        return ctypes.addressof(_char_view(array))
    except (TypeError, ValueError):
        return array.ctypes.data


@functools.cache
def source_fingerprint() -> str:
    """A digest of irgrad's source files and llvmlite's version: what code generation
    depends on, besides its inputs and the host."""
    root = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
    return tree_fingerprint(root, f"llvmlite {llvmlite.__version__}")


def tree_fingerprint(root: str, salt: str) -> str:
    """A digest of the ``.py`` files under ``root``: each one's path, size and
    modification time, as Python's own bytecode cache checks them (reading them all took
    23 ms of a warm process's first compiled call, pathlib's walk 10, and os.walk with
    relative paths 2.5)."""
    digest = hashlib.sha256(salt.encode())
    lines: list[str] = []

    def walk(folder: str, relative: str) -> None:
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    if entry.name != "__pycache__":
                        walk(entry.path, f"{relative}{entry.name}/")
                elif entry.name.endswith(".py"):
                    stat = entry.stat()
                    lines.append(f"{relative}{entry.name} {stat.st_size} {stat.st_mtime_ns}\n")

    walk(root, "")
    digest.update("".join(sorted(lines)).encode())
    return digest.hexdigest()


def cache_dir() -> Path:
    """Where compiled kernels are kept between processes."""
    root = os.environ.get("IRGRAD_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "irgrad"
    )
    return Path(root) / "native"


def _features() -> str:
    """The host CPU's features for the target machine, with full-width vectors on AVX-512.

    LLVM tunes Intel's AVX-512 server cores (Skylake-X to Emerald Rapids) to prefer
    256-bit vectors, for the clock drop 512-bit instructions cost on the first of them;
    its loop vectorizer then widens the generated math to 8 floats.  On an Emerald Rapids
    core, 16 floats a vector ran W5's fused tanh/sigmoid loop in 0.9-1.0 ms against
    1.2-1.4 ms (same process kind, alternating runs); AMD's Zen 4, which splits 512-bit
    operations in two, was measured indifferent.  The explicit GEMM tiles use 512-bit
    registers either way (:func:`irgrad.codegen.gemm_kernels.host_tiling`)."""
    features = llvm.get_host_cpu_features()
    flat = features.flatten()
    return flat + ",-prefer-256-bit" if features.get("avx512f") else flat


def _engine():
    """(target machine, execution engine), made on first use."""
    if "machine" not in _STATE:
        llvm.initialize_native_target()
        llvm.initialize_native_asmprinter()
        target = llvm.Target.from_default_triple()
        cpu, features = llvm.get_host_cpu_name(), _features()
        machine = target.create_target_machine(cpu=cpu, features=features, opt=3)
        _STATE["machine"] = machine
        _STATE["engine"] = llvm.create_mcjit_compiler(llvm.parse_assembly(""), machine)
        _STATE["target"] = f"{llvm.get_process_triple()} {cpu} {features} llvmlite {llvmlite.__version__}"
    return _STATE["machine"], _STATE["engine"]


def target() -> str:
    """The host's triple, CPU name and features, and llvmlite's version: what object
    code is compiled for (part of every cache key)."""
    _engine()
    return _STATE["target"]


def new_module(name: str) -> ir.Module:
    """An empty module for the host's triple and data layout."""
    machine, _ = _engine()
    module = ir.Module(name)
    module.triple = llvm.get_process_triple()
    module.data_layout = str(machine.target_data)
    return module


@dataclass
class Stats:
    """What the JIT did since the process started (or since the caller's snapshot):
    kernels compiled by LLVM and the seconds that took, kernels loaded from the disk cache."""

    compiled: int = 0
    seconds: float = 0.0
    cache_hits: int = 0

    def since(self, earlier: Stats) -> Stats:
        return Stats(
            self.compiled - earlier.compiled,
            self.seconds - earlier.seconds,
            self.cache_hits - earlier.cache_hits,
        )


STATS = Stats()


def _optimized(machine, text: str, light: bool = False):
    """Parse, verify and optimize one module's text: LLVM's O2 pipeline for the host, or
    with ``light`` only stack slots promoted to registers, instructions combined, values
    numbered and dead code and blocks removed, for code whose loops and vectors are
    already as they should run (the tiled product kernels: a quarter of O2's time, the
    same speed, the same results)."""
    compiled = llvm.parse_assembly(text)
    compiled.verify()
    if not light:
        passes = llvm.create_pass_builder(machine, llvm.create_pipeline_tuning_options(speed_level=2))
        passes.getModulePassManager().run(compiled, passes)
        return compiled
    passes = llvm.create_pass_builder(machine, llvm.create_pipeline_tuning_options(speed_level=0))
    manager = llvm.create_new_module_pass_manager()
    manager.add_sroa_pass()
    manager.add_instruction_combine_pass()
    manager.add_simplify_cfg_pass()
    manager.add_new_gvn_pass()
    manager.add_dead_code_elimination_pass()
    manager.add_simplify_cfg_pass()
    manager.run(compiled, passes)
    return compiled


def _object_code(machine, text: str, light: bool = False) -> bytes:
    """One module's text compiled to an object file (see :func:`_optimized`)."""
    return machine.emit_object(_optimized(machine, text, light))


def optimized_and_assembly(text: str) -> tuple[str, str]:
    """A module's text after LLVM's optimizer, and its assembly for the host CPU (for dumps)."""
    with _LOCK:
        machine, _ = _engine()
        compiled = _optimized(machine, text)
        return str(compiled), machine.emit_assembly(compiled)


def declared_symbols(text: str) -> list[str]:
    """The functions a module's text declares and does not define (LLVM's intrinsics
    aside): what must be linkable before its object code is loaded."""
    return sorted({name for name in _DECLARED.findall(text) if not name.startswith("llvm.")})


_PROVIDERS: list[Callable[[str], None]] = []


def provide_symbols_with(provider: Callable[[str], None]) -> None:
    """Register ``provider(name)``, which makes the symbol ``name`` linkable if it is one
    of its own (compiling or loading the module that defines it): the tiled products'
    and the thread pool's modules register theirs, so a module that calls them gets them
    when it is loaded, not as a side effect of emitting it."""
    _PROVIDERS.append(provider)


def link(names: list[str]) -> None:
    """Make every symbol in ``names`` linkable, asking the providers for those that are
    not; RuntimeError if one stays unresolved (LLVM would abort the process on it)."""
    for name in names:
        if not llvm.address_of_symbol(name):
            for provider in _PROVIDERS:
                provider(name)
            if not llvm.address_of_symbol(name):
                raise RuntimeError(f"native code: no module provides {name!r}, which a module calls")


def _linkable(entry: bytes | None) -> bytes | None:
    """The object code of a cache entry kept by its source (its needed symbols, a NUL,
    the object), or None when one of those symbols cannot be linked: the module is then
    emitted afresh instead."""
    if entry is None or b"\0" not in entry:
        return None
    needs, data = entry.split(b"\0", 1)
    try:
        link(needs.decode().split("\n") if needs else [])
    except RuntimeError:
        return None
    return data


def read_checked(path: Path) -> bytes | None:
    """A cache file's data, or None when it is missing or fails its checksum."""
    try:
        blob = path.read_bytes()
    except OSError:
        return None
    digest, data = blob[:_DIGEST], blob[_DIGEST:]
    return data if hashlib.sha256(data).digest() == digest else None


def write_checked(path: Path, data: bytes) -> None:
    """Write atomically (a temporary file renamed over the target); give up quietly."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as f:
            f.write(hashlib.sha256(data).digest() + data)
        os.replace(f.name, path)
    except OSError:
        pass


def kernel(key: tuple, build: Callable[[], Callable]) -> Callable:
    """The kernel for ``key``, built (and compiled) by ``build()`` on first use, once
    per process even when threads ask for it together."""
    fn = _KERNELS.get(key)
    if fn is None:
        with _LOCK:
            fn = _KERNELS.get(key)
            if fn is None:
                fn = _KERNELS[key] = build()
    return fn


class CodeMemoryFull(RuntimeError):
    """The process has loaded as many kernels as its memory mappings allow."""


def numpy_when_full(fn: Callable) -> Callable:
    """A native kernel wrapper that returns None (its caller's numpy path) instead of
    raising when the process's code memory is used up (:class:`CodeMemoryFull`)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except CodeMemoryFull:
            return None

    return wrapper


def _object_budget() -> int:
    """How many object files the engine may load.  Each takes two memory mappings (code
    and data) that stay for the life of the process, and when the kernel's mapping limit
    (``vm.max_map_count``, 65530 by default) is reached LLVM aborts the process; a
    quarter of the limit leaves room for everything else the process maps."""
    try:
        limit = int(Path("/proc/sys/vm/max_map_count").read_text())
    except (OSError, ValueError):
        limit = 65530
    return limit // 4


def compile_function(
    module: ir.Module | str | Callable[[], ir.Module],
    name: str,
    signature: ctypes.CFUNCTYPE,
    *,
    reserve: int = 0,
    source: str | None = None,
) -> Callable:
    """Compile ``module`` (or its text; or load it from the disk cache); return its function
    ``name`` as a ctypes callable.  Raises :class:`CodeMemoryFull` (a Python error the
    callers turn into a numpy fallback) rather than let LLVM abort the process when the
    code memory the process may map is used up; a caller passing ``reserve`` stops that
    many kernels earlier (compiled graphs leave room for the eager kernels).  ``source``:
    see :func:`compile_functions`."""
    return compile_functions(module, {name: signature}, reserve=reserve, source=source)[name]


def compile_functions(
    module: ir.Module | str | Callable[[], ir.Module],
    signatures: dict[str, ctypes.CFUNCTYPE],
    *,
    reserve: int = 0,
    source: str | None = None,
    light: bool = False,
) -> dict[str, Callable]:
    """:func:`compile_function` for several functions of one module, loaded once (so they
    share its globals).

    With ``source``, a name for everything the module's text is made from, the disk
    cache is keyed by it (and irgrad's source, see :func:`source_fingerprint`) instead
    of the text, and ``module`` may be a function making the module, called only when
    the cache does not have it: a kernel whose emission is slow (the tiled products')
    then costs a later process nothing but loading.  ``light``: the module is optimized
    lightly (see :func:`_optimized`)."""
    with _LOCK:
        if "budget" not in _STATE:
            _STATE["budget"] = _object_budget()
        if STATS.compiled + STATS.cache_hits + reserve >= _STATE["budget"]:
            raise CodeMemoryFull(
                f"native code: {_STATE['budget']} kernels are loaded, as many as this process's memory "
                "mappings allow (vm.max_map_count / 4); further kernels run with numpy"
            )
        machine, engine = _engine()
        text = str(module) if source is None else None
        named = text if source is None else f"{source_fingerprint()}\n{source}"
        key = hashlib.sha256(f"{_STATE['target']}\n{named}".encode()).hexdigest()
        path = cache_dir() / f"{key}.o"
        data = read_checked(path) if source is None else _linkable(read_checked(path))
        if data is None:
            start = time.perf_counter()
            if text is None:
                text = str(module() if callable(module) else module)
            data = _object_code(machine, text, light)
            STATS.compiled += 1
            STATS.seconds += time.perf_counter() - start
            # kept by its source, with the symbols it needs linked first: loading it must not abort
            needs = b"" if source is None else "\n".join(declared_symbols(text)).encode() + b"\0"
            write_checked(path, needs + data)
        else:
            STATS.cache_hits += 1
        if text is not None:  # (a cache entry kept by its source linked its needs when read)
            link(declared_symbols(text))
        engine.add_object_file(llvm.ObjectFileRef.from_data(data))
        engine.finalize_object()
        entries = {name: engine.get_function_address(name) for name in signatures}
        if perf_map.ENABLED:
            perf_map.record(data, entries)
    missing = [name for name, entry in entries.items() if not entry]
    if missing:
        raise RuntimeError(f"native kernel {missing[0]!r} was compiled but its symbol was not found")
    return {name: signature(entries[name]) for name, signature in signatures.items()}
