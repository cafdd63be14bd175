"""Names for native code in ``perf``'s reports: ``IRGRAD_PERF_MAP=1``.

Linux ``perf`` resolves a sample in executable memory that no file backs (JIT code)
through ``/tmp/perf-<pid>.map``, one ``START SIZE name`` line (hex) per function.  Without
it, a profile of a compiled step shows addresses only.  With ``IRGRAD_PERF_MAP=1`` the JIT
appends a line for every function of every object it loads, the loops it outlined
included (``train_step.fused8.15.part``, ``irgrad.gemm.broadcast.f32.16x32u1``): the
object's ELF symbol table gives each function's offset and size in its section, and a
function whose address the engine returned places the section in memory.  Then::

    IRGRAD_PERF_MAP=1 perf record -g python train.py
    perf report --sort sym

Nothing is written unless asked: the file lives on after the process, as perf needs it.
"""

from __future__ import annotations

import os
import struct
import threading
from typing import NamedTuple


def asked(setting: str | None) -> bool:
    """Whether the value of ``IRGRAD_PERF_MAP`` asks for the map (unset: no)."""
    return (setting or "0").strip().lower() not in ("", "0", "false", "no", "off")


ENABLED = asked(os.environ.get("IRGRAD_PERF_MAP"))
_LOCK = threading.Lock()

_SHT_SYMTAB = 2
_STT_FUNC = 2


class Function(NamedTuple):
    """A function symbol of an ELF object: its section's index, offset in it and size."""

    name: str
    section: int
    offset: int
    size: int


def path(pid: int | None = None) -> str:
    """Where perf looks for the names of process ``pid``'s (this process's) JIT code."""
    return f"/tmp/perf-{os.getpid() if pid is None else pid}.map"


def functions(elf: bytes) -> list[Function]:
    """The function symbols of a 64-bit little-endian ELF object (what LLVM emits for the
    x86-64 host); an empty list for anything else."""
    if len(elf) < 64 or elf[:4] != b"\x7fELF" or elf[4] != 2 or elf[5] != 1:
        return []
    (section_table,) = struct.unpack_from("<Q", elf, 0x28)
    entry_size, count = struct.unpack_from("<HH", elf, 0x3A)
    sections = [struct.unpack_from("<IIQQQQIIQQ", elf, section_table + k * entry_size) for k in range(count)]
    found = []
    for _, kind, _, _, offset, size, link, _, _, symbol_size in sections:
        if kind != _SHT_SYMTAB or not symbol_size:
            continue
        names = sections[link][4]  # the string table's offset in the file
        for at in range(offset, offset + size, symbol_size):
            name_at, info, _, section, value, length = struct.unpack_from("<IBBHQQ", elf, at)
            if info & 0xF != _STT_FUNC or not length:
                continue
            end = elf.index(b"\0", names + name_at)
            found.append(
                Function(elf[names + name_at : end].decode(errors="replace"), section, value, length)
            )
    return found


def record(elf: bytes, addresses: dict[str, int]) -> int:
    """Append to this process's perf map a line for each function of
    ``elf`` in a section holding one of ``addresses`` (function name -> the address the
    engine loaded it at); return how many lines were written."""
    symbols = functions(elf)
    bases = {}
    for symbol in symbols:
        if symbol.name in addresses and addresses[symbol.name]:
            bases[symbol.section] = addresses[symbol.name] - symbol.offset
    lines = [
        f"{bases[symbol.section] + symbol.offset:x} {symbol.size:x} {symbol.name}\n"
        for symbol in symbols
        if symbol.section in bases
    ]
    with _LOCK, open(path(), "a", encoding="utf-8") as out:
        out.writelines(lines)
    return len(lines)
