"""Matrix products as register-tiled LLVM loops, for the shapes BLAS runs slowly.

numpy's OpenBLAS packs both operands into its own layouts on every call and, on this
kind of machine (an AMD EPYC with AVX-512), runs a kernel that reaches about 80-120
GFLOP/s on one core.  A training step's matrix products are mostly small (an LSTM
multiplies a 16 x 128 state by a 128 x 512 weight 32 times a step), where the packing
costs as much as the arithmetic.  The code here computes ``C = A @ B`` (or
``C += A @ B``) with the operands where they are, in one of three forms:

* **broadcast** (``B``'s rows contiguous): a tile of ``rows`` x ``vectors`` vector
  registers of ``C`` accumulates, for each ``k``, ``A[i, k]`` broadcast times a
  vector load of ``B[k, j:j+lanes]``;
* **dot** (``B`` transposed, ``A``'s and ``B``'s columns contiguous, at most
  :data:`DOT_ROWS` rows): a tile of ``C``'s elements accumulates vectors of products
  along ``k``, summed across lanes once at the end;
* **packed** (``B`` transposed, more rows: a linear's weight): each block of ``k`` and
  panel of columns of ``B`` is transposed into a buffer on the stack, then multiplied
  in the broadcast form.

Sizes and strides are run-time arguments of one function per form, dtype and tiling
(:func:`kernel`), compiled once per process in a module of its own (about 100 ms, and
kept in the disk cache) and called by programs through its symbol; a function per shape
had cost about 30 ms of LLVM time each, and ran no faster.

Measured on one core against ``np.matmul`` (OpenBLAS, one thread): 16x128 @ 128x512
in 8.8 us against 27 us, 64x784 @ 784x128 in 52 us against 112 us, 256^3 in 130 us
against 275 us.  Large products (above :data:`LARGEST_MACS` multiply-adds) stay with
BLAS, whose threads and cache blocking win there.

The tile's shape comes from the host's vector registers (:func:`host_tiling`): 16
float32 lanes and 32 registers with AVX-512, 8 and 16 with AVX2, 4 and 16 otherwise.
Columns left over are taken in vectors of 8, 4, 2 and 1 lanes, so no masked loads are
needed, and rows left over one at a time.  Along ``k``, each block of :data:`K_BLOCK`
products is summed by fused multiply-adds in order (the dot form sums lanes pairwise
at the end) and added to C, so results differ from BLAS's by rounding only.
"""

from __future__ import annotations

import ctypes
import re
from typing import NamedTuple

import llvmlite.binding as llvm
import llvmlite.ir as ir
import numpy as np

from ..ir.run_time_sizes import Size
from ..native import jit, pool
from ..native.loops import I64, const
from .gemm_kernels import LOOPS_VECTORIZED, ROW_MAJOR_B, Tiling, define, define_part, host_tiling, signature
from .parallel import call_parallel
from .run_time import size_value

# Multiply-adds above which BLAS (cache-blocked) is used instead of the tiled loops: on
# the products measured, up to 256x4096x4096 = 2^32, the tiled loops on irgrad's threads
# won (2 threads: 345 against OpenBLAS's 239 GFLOP/s at 256x1024x784, 262 against 234
# at 2^32), also when an operand is copied first (a transposed B).
LARGEST_MACS = 1 << 32
# Multiply-adds from which the thread pool splits a product (when a worker is awake), and
# from which it wakes a sleeping one: 2^22 is 40 to 70 us of work on one core of the
# machines measured, and a wake-up takes about 20.  W1's inference (64x784x128, 2^22.6)
# ran its program in 133 us alone, 95 us woken (AMD EPYC, 2 threads; numpy's two
# OpenBLAS threads 107 us), so its compiled model went from 1.2x to 0.9x eager's time.
PARALLEL_MACS = 1 << 19
WAKE_MACS = 1 << 22
# Without 512-bit vectors (see small_enough): the largest k the tiled code computes, and
# the multiply-adds up to which any product is tiled.
NARROW_K = 64
NARROW_MACS = 1 << 23
NARROW_SIDE = 256  # and the fewest rows or columns: a skinny product stays tiled
# Rows of A up to which a transposed B is read in place (the dot form) rather than
# reordered for the broadcast form, which runs faster from more rows on.  Measured on one
# core: 16x128x512 in place 16.4 us, from a row-major copy 11 + 8 us; 64x784x128 in place
# 89 us, from a copy 53 + 12 us.
DOT_ROWS = 32


FORMS = ("broadcast", "dot", "packed", "copied")  # the kernels' forms (see GemmShape.form)
CALLS = {"packed": ("broadcast",), "copied": ("broadcast",)}  # what a form's code calls (on its panels)
# A row-major B is read through panels copied to the stack (the copied form) from this
# row stride and this many rows of A on: read in place, a panel's rows lie a row stride
# apart.  On an Emerald Rapids core, one thread, copied against in place: 256x784x1024
# 2.82 against 3.99 ms (numpy 2.90), 64x784x1024 0.83 against 1.02, 256x512x128 0.35
# against 0.40, 256x256x256 0.21 against 0.25; 128x64x784 and 64x128x512 alike; below
# 32 rows, or 16x256x1024, the copy can cost more than it saves.
COPIED_STRIDE = 128
COPIED_ROWS = 32
# ... and from more than this many rows of B (k): a panel of fewer rows is a few cache
# lines either way (128x64x784 and 64x128x512 ran alike both ways), and the copied form's
# kernel is one more for LLVM to compile (39 ms of W1's 370 ms cold compile, for its
# 64x10x128 gradient product).
COPIED_K = 128
# A transposed A (a weight gradient's dY.T) whose columns lie this far apart is copied
# contiguous first (by the planner): each k step of a row tile read a line this many
# elements away.  One core: 1024x256x784 took 3.50 ms in place, 2.69 from a copy.
COPIED_A_STRIDE = 1024
# A product the packed form would compute (B transposed: a linear's weight) is computed
# swapped, ``C.T = B.T @ A.T`` into a scratch buffer then transposed into C, when packing
# A (m x k) and transposing the result (m x n elements, read and written) moves fewer
# elements than packing B (n x k): W1's 64x784x128 forward, whose 8 row tiles each
# weight panel served, packs 50K elements instead of 100K.  One AMD Zen 4 core (AVX-512),
# the kernels alone: 64x784x128 packed 102-103 GFLOP/s, swapped 108-110.
SWAP_TRANSPOSE_COST = 2


class GemmShape(NamedTuple):
    """``C[m, n] (+)= A[m, k] @ B[k, n]``: sizes and element strides (C's rows are
    contiguous: column stride 1)."""

    m: int
    n: int
    k: int
    a_strides: tuple[int, int]
    b_strides: tuple[int, int]
    c_row: int
    accumulate: bool

    @property
    def form(self) -> str | None:
        """One of :data:`FORMS`, or None when none applies to these strides."""
        choice = self.by_rows()
        if choice is None:
            return None
        rows, fewer, more = choice
        return fewer if fewer == more or self.m < rows else more

    def swapped(self) -> GemmShape | None:
        """``C.T = B.T @ A.T`` as a product into a row-major ``n x m`` buffer (not
        accumulating: see :data:`SWAP_TRANSPOSE_COST`), or None where the product is
        better computed as it is.  Both are the packed form's, A's rows (then B's)
        contiguous; every size is known (a run-time size would make the choice a branch)."""
        m, n, k = self.m, self.n, self.k
        if not all(isinstance(x, int) for x in (m, n, k)) or self.form != "packed" or self.a_strides[1] != 1:
            return None
        if m * k + SWAP_TRANSPOSE_COST * m * n >= n * k:
            return None
        swapped = GemmShape(n, m, k, (self.b_strides[1], 1), (1, self.a_strides[0]), m, False)
        return swapped if swapped.form == "packed" else None

    def by_rows(self) -> tuple[int, str, str] | None:
        """``(rows, form below rows of A, form from rows on)``: which form runs depends
        on ``m`` only through that threshold, so with ``m`` known at run time (a
        :class:`Size`) the choice is a branch (see :func:`emit`), not a fact of the
        program.  None when no form applies to these strides."""
        if self.b_strides[1] == 1 or self.n == 1:
            short = isinstance(self.k, int) and self.k <= COPIED_K
            if self.b_strides[0] >= COPIED_STRIDE and self.n > 1 and not short:
                return COPIED_ROWS, "broadcast", "copied"
            return COPIED_ROWS, "broadcast", "broadcast"
        if self.b_strides[0] == 1:  # B transposed: its columns contiguous
            if self.a_strides[1] == 1 or self.k == 1:
                return DOT_ROWS + 1, "dot", "packed"
            return DOT_ROWS + 1, "packed", "packed"
        return None


def copies_a(m: int, a_strides: tuple | None) -> bool:
    """Whether the tiled product reads its A from a contiguous copy (see COPIED_A_STRIDE)."""
    return (
        a_strides is not None and a_strides[0] == 1 and a_strides[1] >= COPIED_A_STRIDE and m >= COPIED_ROWS
    )


def small_enough(m: int, n: int, k: int, dtype: np.dtype) -> bool:
    """Whether the tiled code should compute an m x k by k x n product instead of BLAS.

    With 512-bit vectors (AVX-512), any product up to :data:`LARGEST_MACS`.  With
    narrower ones, whose tile holds half as much, OpenBLAS's kernels are faster on large
    products with more than :data:`NARROW_K` products per element (measured on an AMD
    EPYC Zen 3, AVX2, one core, against numpy's matmul: 256x1024x1024 in 6.96 ms against
    5.99, 32x3136x128 in 495 us against 330; but 4096x64x64 in 368 against 418 and
    25088x9x32 in 212 against 345).  Below :data:`NARROW_MACS` multiply-adds the tiled
    code stays: in a program its fused epilogue (a bias, a relu) makes up for the rest
    (W1's 64x784x128 forward, 165 us against 153 alone, ran its step no slower).  So do
    skinny products (fewer than :data:`NARROW_SIDE` rows or columns): on two threads
    OpenBLAS's own workers made W3's (6272x288x64 and 32x3136x128) twice as slow as the
    tiled code split across irgrad's pool.  Sizes known only at run time never pick BLAS
    by size: that would be one more fact of the program.  W2's training step
    (256x784x1024 and 256x1024x1024 products) went from 31.7 to 29.1 ms on one thread
    (min of 12 interleaved turns, one process), from 16.7 to 15.7 on two."""
    macs = m * n * k
    if macs > LARGEST_MACS:
        return False
    wide = host_tiling(np.dtype(dtype)).lanes * np.dtype(dtype).itemsize >= 64
    if wide or k <= NARROW_K or not isinstance(macs, int) or macs <= NARROW_MACS:
        return True
    return not (isinstance(m, int) and isinstance(n, int)) or min(m, n) < NARROW_SIDE


def emit(
    builder: ir.IRBuilder,
    pointers: list[ir.Value],
    float_type: ir.Type,
    shape: GemmShape,
    tiling: Tiling,
    split: bool = True,
) -> None:
    """Emit a call computing ``C (+)= A @ B`` at the builder's position (``pointers``:
    A's, B's and C's first elements, of ``float_type``).

    The work is done by one function per form, dtype and tiling in the module
    (:func:`kernel`), which takes the sizes and strides at run time: every product of a
    program shares it, so LLVM compiles it once, not once per shape.  A product of at
    least PARALLEL_MACS multiply-adds is split across the thread pool unless ``split`` is
    False (its caller splits a batch of them)."""
    if 0 in (shape.m, shape.n):
        return
    choice = shape.by_rows()
    if choice is None:
        raise ValueError(f"tiled gemm: no form for strides {shape.a_strides}, {shape.b_strides}")
    rows, fewer, more = choice
    if isinstance(shape.m, Size) and fewer != more:  # A's rows known at run time: a branch
        with builder.if_else(builder.icmp_signed("<", size_value(builder, shape.m), const(rows))) as (
            few,
            many,
        ):
            with few:
                _emit_form(builder, pointers, float_type, shape, fewer, tiling, split)
            with many:
                _emit_form(builder, pointers, float_type, shape, more, tiling, split)
        return
    _emit_form(builder, pointers, float_type, shape, shape.form, tiling, split)


def _emit_form(
    builder: ir.IRBuilder,
    pointers: list[ir.Value],
    float_type: ir.Type,
    shape: GemmShape,
    form: str,
    tiling: Tiling,
    split: bool,
) -> None:
    """:func:`emit`'s call of the ``form`` kernel (split across the pool from
    PARALLEL_MACS multiply-adds: a branch when the sizes are known at run time)."""
    b_stride = shape.b_strides[0] if form in ROW_MAJOR_B else shape.b_strides[1]
    numbers = (shape.m, shape.n, shape.k, *shape.a_strides, b_stride, shape.c_row, int(shape.accumulate))
    macs = shape.m * shape.n * shape.k

    def whole() -> None:
        fn = kernel(builder.module, form, float_type, tiling)
        builder.call(fn, list(pointers) + [size_value(builder, x) for x in numbers])

    def parts(wake) -> None:  # the pool splits it: the kernel's arguments go in a context its part reads
        task = _declared_part(builder.module, form, float_type, tiling)
        context = [builder.ptrtoint(p, I64) for p in pointers] + [size_value(builder, x) for x in numbers]
        call_parallel(builder, task, context, wake)

    if not split or (not isinstance(macs, Size) and macs < PARALLEL_MACS):
        whole()
    elif isinstance(macs, Size):  # sizes known at run time: split from PARALLEL_MACS on, then
        total = size_value(builder, macs)
        with builder.if_else(builder.icmp_signed("<", total, const(PARALLEL_MACS))) as (small, large):
            with small:
                whole()
            with large:
                parts(builder.zext(builder.icmp_signed(">=", total, const(WAKE_MACS)), I64))
    else:
        parts(macs >= WAKE_MACS)


def kernel(module: ir.Module, form: str, float_type: ir.Type, tiling: Tiling) -> ir.Function:
    """``void gemm(A, B, C, m, n, k, a_row, a_col, b_stride, c_row, accumulate)`` for
    ``form``, declared in ``module``: ``b_stride`` is B's row stride in the broadcast
    form (its columns are contiguous), its column stride in the dot form (its rows are;
    A's rows are too).

    The function is compiled once per process in a module of its own (and kept in the
    disk cache like every module), and programs call it by its symbol: a program's
    module then holds no product code, which took LLVM about 125 ms per program (the
    LSTM step's cold compile spent 593 ms in LLVM, 467 ms without it).  It is compiled
    when a module calling it is loaded (:func:`_provide`), not as a side effect of
    emitting one."""
    name = _symbol(form, float_type, tiling)
    if name in module.globals:
        return module.globals[name]
    fn = ir.Function(module, signature(float_type), name)
    for argument in fn.args[:3]:
        argument.add_attribute("noalias")
    return fn


def _declared_part(module: ir.Module, form: str, float_type: ir.Type, tiling: Tiling) -> ir.Function:
    """The kernel's task for the thread pool, declared in ``module`` (see :func:`.gemm_kernels.define_part`)."""
    name = _symbol(form, float_type, tiling) + ".part"
    if name not in module.globals:
        ir.Function(module, pool.TASK, name)  # (provided at load time: see kernel)
    return module.globals[name]


def _symbol(form: str, float_type: ir.Type, tiling: Tiling) -> str:
    """The kernel's symbol, which is also what its module is kept under in the disk cache."""
    bits = 32 if isinstance(float_type, ir.FloatType) else 64
    return f"irgrad.gemm.{form}.f{bits}.{tiling.lanes}x{tiling.registers}u{tiling.k_unroll}"


_SYMBOL = re.compile(rf"irgrad\.gemm\.({'|'.join(FORMS)})\.f(32|64)\.(\d+)x(\d+)u(\d+)(\.part)?$")


def _parsed(name: str) -> tuple[str, ir.Type, Tiling] | None:
    """``(form, float type, tiling)`` of a kernel's symbol (or its part's); None for others."""
    found = _SYMBOL.match(name)
    if found is None:
        return None
    float_type = ir.FloatType() if found.group(2) == "32" else ir.DoubleType()
    return found.group(1), float_type, Tiling(*(int(found.group(g)) for g in (3, 4, 5)))


def symbol_tiling(name: str) -> Tiling | None:
    """The register tiling a kernel's symbol names (None: not a kernel's symbol)."""
    parsed = _parsed(name)
    return None if parsed is None else parsed[2]


def _provide(name: str) -> None:
    """Compile (or load) the kernel a module being loaded calls by ``name`` (or its part
    for the pool): see ``jit.provide_symbols_with``."""
    parsed = _parsed(name)
    if parsed is not None:
        ensure_compiled(*parsed)


jit.provide_symbols_with(_provide)


def ensure_compiled(form: str, float_type: ir.Type, tiling: Tiling) -> None:
    """Compile the kernel's own module (or load it from the disk cache) once per process
    and make its symbol known to the linker, so programs referring to it link (and
    their cached object code stays valid: it names the symbol, not an address)."""
    name = _symbol(form, float_type, tiling)
    for called in CALLS.get(form, ()):  # linked first: its cached code may be loaded unemitted
        ensure_compiled(called, float_type, tiling)

    def module() -> ir.Module:
        made = jit.new_module(name)
        declare = lambda called: kernel(made, called, float_type, tiling)  # noqa: E731
        define_part(made, define(made, name, form, float_type, tiling, declare), form, tiling)
        return made

    def build():
        signature = ctypes.CFUNCTYPE(None, *[ctypes.c_void_p] * 3, *[ctypes.c_int64] * 8)
        task = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64)
        # its name says all the module is made from: its cache entry is found without emitting it
        functions = jit.compile_functions(
            module, {name: signature, f"{name}.part": task}, source=name, light=form not in LOOPS_VECTORIZED
        )
        for symbol, function in functions.items():
            llvm.add_symbol(symbol, ctypes.cast(function, ctypes.c_void_p).value)
        return functions[name]

    jit.kernel(("tiled gemm", name), build)
