"""The BLAS numpy already loaded, called from generated code.

numpy's wheels bundle OpenBLAS (under a prefixed name, with 64-bit integers); a
numpy built against a system BLAS links that one.  Either way the library is mapped
into the process once numpy is imported, so its ``cblas_?gemm`` is found at run
time: by the names such builds export, in the library files the process has mapped
(``/proc/self/maps``).  Generated code calls ``irgrad_cblas_sgemm`` and
``irgrad_cblas_dgemm``; :func:`gemm` registers those names at the found addresses
with LLVM's symbol table, so the object code never holds an address and stays
cacheable across processes.  Where no BLAS is found, matmuls stay with numpy.
"""

from __future__ import annotations

import ctypes
import functools
from pathlib import Path
from typing import NamedTuple

import llvmlite.binding as llvm
import llvmlite.ir as ir
import numpy as np

# (exported name of sgemm, its integer width); dgemm's name has a d in place of the s.
_CANDIDATES = (("scipy_cblas_sgemm64_", 64), ("cblas_sgemm64_", 64), ("cblas_sgemm", 32))

ROW_MAJOR, NO_TRANS, TRANS = 101, 111, 112  # CBLAS enum values (C ints)


class Gemm(NamedTuple):
    """One dtype's ``cblas_?gemm``: the symbol generated code declares and the width of
    the library's integers."""

    symbol: str
    int_bits: int

    def declare(self, module: ir.Module, float_type: ir.Type) -> ir.Function:
        """``cblas_?gemm``'s declaration in ``module`` (once per module)."""
        if self.symbol in module.globals:
            return module.globals[self.symbol]
        i32, n = ir.IntType(32), ir.IntType(self.int_bits)
        pointer = ir.PointerType(float_type)
        args = [i32, i32, i32, n, n, n, float_type, pointer, n, pointer, n, float_type, pointer, n]
        return ir.Function(module, ir.FunctionType(ir.VoidType(), args), self.symbol)


def mapped_libraries() -> list[str]:
    """Shared libraries mapped into this process whose name says BLAS."""
    try:
        lines = Path("/proc/self/maps").read_text().splitlines()
    except OSError:
        return []
    paths: dict[str, None] = {}
    for line in lines:
        if "blas" in line.lower():  # (a few of the process's hundreds of mappings are split)
            fields = line.split(maxsplit=5)
            if len(fields) == 6 and fields[5].startswith("/") and "blas" in Path(fields[5]).name.lower():
                paths[fields[5]] = None
    return list(paths)


@functools.cache
def _found() -> dict[np.dtype, Gemm]:
    """The gemm of each float dtype, registered with LLVM, or {} when none is found."""
    import numpy.linalg  # noqa: F401  (numpy's BLAS is loaded with it at the latest)

    for path in mapped_libraries():
        try:
            library = ctypes.CDLL(path)
        except OSError:
            continue
        for name, bits in _CANDIDATES:
            try:
                functions = {
                    np.dtype(np.float32): library[name],
                    np.dtype(np.float64): library[name.replace("sgemm", "dgemm")],
                }
            except AttributeError:
                continue
            found = {}
            for dtype, function in functions.items():
                symbol = f"irgrad_cblas_{dtype.char}gemm"
                llvm.add_symbol(symbol, ctypes.cast(function, ctypes.c_void_p).value)
                found[dtype] = Gemm(symbol, bits)
            return found
    return {}


def gemm(dtype: np.dtype) -> Gemm | None:
    """The gemm for ``dtype`` (float32 or float64), or None when no BLAS was found."""
    return _found().get(np.dtype(dtype))
