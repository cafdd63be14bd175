"""Code generation: optimized IR graphs lowered to native code with llvmlite.

* :mod:`.scalars`     the scalar ISA of :mod:`irgrad.ops.scalar` emitting LLVM IR,
  so every elementwise op's scalar rule becomes instructions;
* :mod:`.elementwise` one loop nest per fused group of elementwise ops;
* :mod:`.reduce`      reductions fused with the elementwise ops feeding them;
* :mod:`.steps`       every other node's native code: BLAS gemm calls, routines;
* :mod:`.layout`, :mod:`.plan` every value's buffer, offset and strides, the arena,
  and the schedule of native segments and numpy steps;
* :mod:`.program`     a static graph compiled whole: one native function per segment;
* :mod:`.lower`       graphs with symbolic shapes: one native kernel per fused group.

Kernels are compiled for the host CPU by :mod:`irgrad.native.jit` (which also caches
object code on disk).  This package knows graphs and ops; :mod:`irgrad.compiler`
chooses it as the ``"llvm"`` backend.
"""

from .elementwise import ElementwiseKernel
from .lower import Lowering
from .program import Program
from .reduce import ReductionKernel, fuse_reduction_prologues

__all__ = ["ElementwiseKernel", "Lowering", "Program", "ReductionKernel", "fuse_reduction_prologues"]
