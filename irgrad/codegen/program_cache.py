"""Programs kept on disk by their graph, so a later process skips emitting LLVM IR.

The object code of every module is cached by the module's text (:mod:`irgrad.native.jit`),
but finding it needs the text, and emitting the text is most of a warm build (the LSTM
step: about 0.25 s of Python).  This cache keys a program by what its text is made
from, before emission: the lowered graph's full text (lossless: types, attributes,
constants), its write-backs, the host target, and a fingerprint of irgrad's own source
and llvmlite's version (code generation is defined by both).  An entry holds each
segment's module text, symbol, slots and allocations, and the nodes emission handed to
numpy; it is JSON (loading never runs code) with a checksum, and is checked against
the plan made afresh before use: any disagreement, a corrupted file or a symbol that
cannot be provided makes it a miss, and the program is emitted as if there were none.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import llvmlite.binding as llvm
import llvmlite.ir as ir
import numpy as np

from ..native import jit, pool
from . import blas, tiled_gemm

_VERSION = 1  # of the entry format


def key(graph_text: str, write_backs: dict[int, int]) -> str:
    """The entry's name, from the lowered graph's text and what the emitted code depends
    on besides irgrad and llvmlite (the host; the BLAS found, whose integer width the
    calls are emitted with)."""
    found = [blas.gemm(np.dtype(dt)) for dt in (np.float32, np.float64)]
    text = f"{_VERSION}\n{jit.source_fingerprint()}\n{jit.target()}\n{found}\n{sorted(write_backs.items())}\n{graph_text}"
    return hashlib.sha256(text.encode()).hexdigest()


def _path(program_key: str) -> Path:
    return jit.cache_dir().parent / "programs" / f"{program_key}.json"


def load(program_key: str) -> dict | None:
    """The entry for ``program_key``, or None (missing, corrupted, another format)."""
    data = jit.read_checked(_path(program_key))
    if data is None:
        return None
    try:
        entry = json.loads(data)
    except ValueError:
        return None
    return entry if isinstance(entry, dict) and entry.get("version") == _VERSION else None


def store(program_key: str, failed: list, segments: list) -> None:
    """Keep a program: the nodes emission handed to numpy (``[position in the graph's
    order, reason]``) and its segments."""
    entry = {
        "version": _VERSION,
        "failed": failed,
        "segments": [
            {
                "symbol": s.symbol,
                "llvm_ir": s.llvm_ir,
                "slot_buffers": s.slot_buffers,
                "allocations": [[b, list(shape), np.dtype(dt).str] for b, shape, dt in s.allocations],
                "steps": s.steps,
            }
            for s in segments
        ],
    }
    jit.write_checked(_path(program_key), json.dumps(entry).encode())


_GEMM = re.compile(rf"irgrad\.gemm\.({'|'.join(tiled_gemm.FORMS)})\.f(32|64)\.(\d+)x(\d+)(\.part)?$")


def provide_symbols(texts: list[str]) -> bool:
    """Make every function the modules declare linkable, as emitting them would have
    (the tiled product kernels, the thread pool); False when one cannot be provided."""
    host = {tiled_gemm.host_tiling(np.dtype(dt)) for dt in (np.float32, np.float64)}
    for text in texts:
        for name in jit.declared_symbols(text):
            gemm = _GEMM.match(name)
            if gemm is not None:
                tiling = tiled_gemm.Tiling(int(gemm.group(3)), int(gemm.group(4)))
                if tiling not in host:
                    return False  # not what this host emits: no kernel is made from a file's names
                float_type = ir.FloatType() if gemm.group(2) == "32" else ir.DoubleType()
                tiled_gemm.ensure_compiled(gemm.group(1), float_type, tiling)
            elif name in (pool.PARALLEL, pool.WAKE):
                pool.ensure_started()
            if not llvm.address_of_symbol(name):
                return False
    return True
