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

A program with run-time sizes (:mod:`.sizes`) is emitted from its graph and from the
answers to what its build asked of the sizes (the facts of its
:class:`~irgrad.ir.run_time_sizes.Assumptions`): a build where the same questions get
the same answers emits the same code.  Its entry holds a variant per set of facts, the
sizes in its tables and allocations as polynomials; a build takes the first variant
whose facts hold at its own sizes, and those facts become its assumptions, so the
program serves the sizes where they hold, as the build that emitted it did.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from ..ir.run_time_sizes import Assumptions, Size
from ..native import jit
from . import blas, tiled_gemm
from .gemm_kernels import host_tiling

_VERSION = 2  # of the entry format
MOST_VARIANTS = 8  # kept per graph (a program with run-time sizes: one per set of facts)


def key(graph_text: str, write_backs: dict[int, int]) -> str:
    """The entry's name, from the lowered graph's text and what the emitted code depends
    on besides irgrad and llvmlite (the host; the BLAS found, whose integer width the
    calls are emitted with)."""
    found = [blas.gemm(np.dtype(dt)) for dt in (np.float32, np.float64)]
    text = f"{_VERSION}\n{jit.source_fingerprint()}\n{jit.target()}\n{found}\n{sorted(write_backs.items())}\n{graph_text}"
    return hashlib.sha256(text.encode()).hexdigest()


def _path(program_key: str) -> Path:
    return jit.cache_dir().parent / "programs" / f"{program_key}.json"


def load(program_key: str) -> list[dict]:
    """The variants kept for ``program_key`` (none: missing, corrupted, another format)."""
    data = jit.read_checked(_path(program_key))
    if data is None:
        return []
    try:
        entry = json.loads(data)
    except ValueError:
        return []
    if not isinstance(entry, dict) or entry.get("version") != _VERSION:
        return []
    variants = entry.get("variants")
    return [v for v in variants if isinstance(v, dict)] if isinstance(variants, list) else []


def store(program_key: str, variant: dict) -> None:
    """Keep ``variant`` (see :func:`variant`) with the others of its key, in place of one
    of the same symbols; the oldest go past :data:`MOST_VARIANTS`."""
    kept = [v for v in load(program_key) if v.get("digest") != variant["digest"]]
    entry = {"version": _VERSION, "variants": (kept + [variant])[-MOST_VARIANTS:]}
    jit.write_checked(_path(program_key), json.dumps(entry).encode())


def variant(digest: str, assumptions: Assumptions | None, failed: list, segments: list) -> dict:
    """A program as kept: its symbols' digest, the facts its build took (none for a
    static graph), the nodes emission handed to numpy (``[position in the graph's
    order, reason]``) and its segments."""
    facts = [] if assumptions is None else encoded_facts(assumptions.facts)
    return {
        "digest": digest,
        "facts": facts,
        "failed": failed,
        "segments": [
            {
                "symbol": s.symbol,
                "llvm_ir": s.llvm_ir,
                "slot_buffers": s.slot_buffers,
                "allocations": encoded_allocations(s.allocations),
                "steps": s.steps,
                "table": None if s.table is None else [_encoded(value) for value in s.table],
            }
            for s in segments
        ],
    }


def encoded_facts(facts: dict) -> list:
    """:attr:`Assumptions.facts` as JSON: ``[terms, relation, outcome]`` each."""
    return [[_terms(terms), relation, outcome] for (terms, relation), outcome in facts.items()]


def decoded_facts(facts: list) -> dict:
    """The facts :func:`encoded_facts` wrote."""
    return {
        (tuple((tuple(monomial), int(c)) for monomial, c in terms), str(relation)): bool(outcome)
        for terms, relation, outcome in facts
    }


def encoded_allocations(allocations: list) -> list:
    """A segment's allocations ``(buffer, shape, dtype)`` as JSON (a size may be run-time)."""
    return [[b, [_encoded(d) for d in shape], np.dtype(dt).str] for b, shape, dt in allocations]


def decoded_table(table: list, assumptions: Assumptions | None) -> list:
    """A segment's table (see :meth:`.dispatch.StepTable.flat`) as :func:`variant` kept it."""
    return [_decoded(value, assumptions) for value in table]


def _terms(terms: tuple) -> list:
    return [[list(monomial), c] for monomial, c in terms]


def _encoded(value):
    """An int, a run-time :class:`Size` or an arena reference ``(buffer, offset)``, as JSON."""
    if isinstance(value, Size):
        return {"size": _terms(value.key)}
    if isinstance(value, tuple):
        return {"arena": [value[0], _encoded(value[1])]}
    return int(value)


def _decoded(value, assumptions: Assumptions | None):
    if not isinstance(value, dict):
        return int(value)
    if "arena" in value:
        buffer, offset = value["arena"]
        return (int(buffer), _decoded(offset, assumptions))
    if assumptions is None:
        raise ValueError("a run-time size in a static program's entry")
    return Size({tuple(monomial): int(c) for monomial, c in value["size"]}, assumptions)


def provide_symbols(texts: list[str]) -> bool:
    """Make every function the modules declare linkable (the tiled product kernels, the
    thread pool: ``jit.link``); False when one cannot be provided (a kernel of another
    host's register tiling)."""
    host = {host_tiling(np.dtype(dt)) for dt in (np.float32, np.float64)}
    names = [name for text in texts for name in jit.declared_symbols(text)]
    if any(tiled_gemm.symbol_tiling(name) not in (None, *host) for name in names):
        return False  # not what this host emits: no kernel is made from a file's names
    try:
        jit.link(names)
    except RuntimeError:
        return False
    return True
