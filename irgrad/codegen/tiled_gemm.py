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
import functools
from dataclasses import dataclass
from typing import NamedTuple

import llvmlite.binding as llvm
import llvmlite.ir as ir
import numpy as np

from ..ir.run_time_sizes import Size
from ..native import jit, pool
from ..native.loops import I64, const, entry_alloca, for_range, for_range_carrying
from .parallel import call_parallel
from .run_time import size_value
from .transpose import TILE, transpose_tile

I32 = ir.IntType(32)
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
K_BLOCK = 256  # products summed per pass over C
# Rows of A up to which a transposed B is read in place (the dot form) rather than
# reordered for the broadcast form, which runs faster from more rows on.  Measured on one
# core: 16x128x512 in place 16.4 us, from a row-major copy 11 + 8 us; 64x784x128 in place
# 89 us, from a copy 53 + 12 us.
DOT_ROWS = 32


@dataclass(frozen=True)
class Tiling:
    """The host's vector registers, for one dtype."""

    lanes: int  # elements per vector register
    registers: int  # vector registers the ISA has


@functools.cache
def host_tiling(dtype: np.dtype) -> Tiling:
    """Vector width and register count of the CPU this process runs on."""
    features = llvm.get_host_cpu_features()
    if features.get("avx512f"):
        bits, registers = 512, 32
    elif features.get("avx"):
        bits, registers = 256, 16
    else:
        bits, registers = 128, 16
    return Tiling(bits // (8 * np.dtype(dtype).itemsize), registers)


FORMS = ("broadcast", "dot", "packed", "copied")  # the kernels' forms (see GemmShape.form)
CALLS = {"packed": ("broadcast",), "copied": ("broadcast",)}  # what a form's code calls (on its panels)
ROW_MAJOR_B = ("broadcast", "copied")  # the forms whose b_stride is B's row stride (else its column's)
# A row-major B is read through panels copied to the stack (the copied form) from this
# row stride and this many rows of A on: read in place, a panel's rows lie a row stride
# apart.  On an Emerald Rapids core, one thread, copied against in place: 256x784x1024
# 2.82 against 3.99 ms (numpy 2.90), 64x784x1024 0.83 against 1.02, 256x512x128 0.35
# against 0.40, 256x256x256 0.21 against 0.25; 128x64x784 and 64x128x512 alike; below
# 32 rows, or 16x256x1024, the copy can cost more than it saves.
COPIED_STRIDE = 128
COPIED_ROWS = 32
# A transposed A (a weight gradient's dY.T) whose columns lie this far apart is copied
# contiguous first (by the planner): each k step of a row tile read a line this many
# elements away.  One core: 1024x256x784 took 3.50 ms in place, 2.69 from a copy.
COPIED_A_STRIDE = 1024


@dataclass(frozen=True)
class GemmShape:
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

    def by_rows(self) -> tuple[int, str, str] | None:
        """``(rows, form below rows of A, form from rows on)``: which form runs depends
        on ``m`` only through that threshold, so with ``m`` known at run time (a
        :class:`Size`) the choice is a branch (see :func:`emit`), not a fact of the
        program.  None when no form applies to these strides."""
        if self.b_strides[1] == 1 or self.n == 1:
            if self.b_strides[0] >= COPIED_STRIDE and self.n > 1:
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


def small_enough(m: int, n: int, k: int) -> bool:
    """Whether the tiled code should compute an m x k by k x n product instead of BLAS."""
    return m * n * k <= LARGEST_MACS


class _Vectors:
    """Vector helpers for one function: loads, stores, splats and fused multiply-adds
    of ``float_type`` vectors of any width (width 1 is the scalar itself)."""

    def __init__(self, builder: ir.IRBuilder, float_type: ir.Type) -> None:
        self.b, self.float = builder, float_type
        self._fma: dict[int, ir.Function] = {}

    def type(self, width: int) -> ir.Type:
        return self.float if width == 1 else ir.VectorType(self.float, width)

    def zero(self, width: int) -> ir.Constant:
        return ir.Constant(self.type(width), 0.0 if width == 1 else [0.0] * width)

    def load(self, pointer: ir.Value, width: int) -> ir.Value:
        if width == 1:
            return self.b.load(pointer)
        return self.b.load(self.b.bitcast(pointer, self.type(width).as_pointer()), align=self.float_size)

    def store(self, value: ir.Value, pointer: ir.Value, width: int) -> None:
        if width == 1:
            self.b.store(value, pointer)
        else:
            self.b.store(value, self.b.bitcast(pointer, self.type(width).as_pointer()), align=self.float_size)

    @property
    def float_size(self) -> int:
        return 4 if isinstance(self.float, ir.FloatType) else 8

    def splat(self, scalar: ir.Value, width: int) -> ir.Value:
        if width == 1:
            return scalar
        vt = self.type(width)
        one = self.b.insert_element(ir.Constant(vt, ir.Undefined), scalar, ir.Constant(I32, 0))
        mask = ir.Constant(ir.VectorType(I32, width), [0] * width)
        return self.b.shuffle_vector(one, ir.Constant(vt, ir.Undefined), mask)

    def fma(self, a: ir.Value, b: ir.Value, c: ir.Value, width: int) -> ir.Value:
        fn = self._fma.get(width)
        if fn is None:
            module = self.b.module
            suffix = ("f32" if self.float_size == 4 else "f64") if width == 1 else None
            name = f"llvm.fma.{suffix}" if suffix else f"llvm.fma.v{width}f{8 * self.float_size}"
            vt = self.type(width)
            fn = self._fma[width] = module.globals.get(name) or ir.Function(
                module, ir.FunctionType(vt, [vt, vt, vt]), name
            )
        return self.b.call(fn, [a, b, c])

    def lane_sum(self, vector: ir.Value, width: int) -> ir.Value:
        """The sum of a vector's lanes, halves added pairwise."""
        b = self.b
        if width == 1:
            return vector
        while width > 2:
            half = width // 2
            low = b.shuffle_vector(vector, vector, ir.Constant(ir.VectorType(I32, half), list(range(half))))
            high = b.shuffle_vector(
                vector, vector, ir.Constant(ir.VectorType(I32, half), list(range(half, width)))
            )
            vector, width = b.fadd(low, high), half
        return b.fadd(
            b.extract_element(vector, ir.Constant(I32, 0)), b.extract_element(vector, ir.Constant(I32, 1))
        )


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
    LSTM step's cold compile spent 593 ms in LLVM, 467 ms without it)."""
    name = _symbol(form, float_type, tiling)
    if name in module.globals:
        return module.globals[name]
    ensure_compiled(form, float_type, tiling)
    fn = ir.Function(module, _signature(float_type), name)
    for argument in fn.args[:3]:
        argument.add_attribute("noalias")
    return fn


def _declared_part(module: ir.Module, form: str, float_type: ir.Type, tiling: Tiling) -> ir.Function:
    """The kernel's task for the thread pool, declared in ``module`` (see :func:`_define_part`)."""
    name = _symbol(form, float_type, tiling) + ".part"
    if name not in module.globals:
        pool.ensure_started()  # programs calling the pool link against its symbol
        ensure_compiled(form, float_type, tiling)
        ir.Function(module, pool.TASK, name)
    return module.globals[name]


def _define_part(module: ir.Module, kernel_fn: ir.Function, form: str, tiling: Tiling) -> None:
    """``part(context, i, parts)``: the kernel on part ``i`` of ``parts`` of C, its
    arguments read from ``context`` (eleven i64: A, B, C, then the kernel's numbers).
    C is cut along its longer side, in whole register tiles (8 rows, or a tile's
    columns), so each thread writes its own block of C."""
    fn = ir.Function(module, pool.TASK, kernel_fn.name + ".part")
    context, part, parts = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    slots = b.bitcast(context, I64.as_pointer())
    a, bb, c, m, n, k, a_row, a_col, b_stride, c_row, accumulate = (
        b.load(b.gep(slots, [const(position)])) for position in range(11)
    )
    by_rows = b.icmp_signed(">=", m, n)
    extent = b.select(by_rows, m, n)
    # whole register tiles: a narrower piece leaves the tile's registers half used (cut
    # in vectors of 16 columns, W1's 64x784x128 product ran 1.5 times as long on 2
    # threads as on one)
    columns = 4 if form == "dot" else 2 * tiling.lanes
    grain = b.select(by_rows, const(8), const(columns))
    share = b.udiv(b.add(extent, b.sub(parts, const(1))), parts)  # ceil(extent / parts)
    share = b.mul(b.udiv(b.add(share, b.sub(grain, const(1))), grain), grain)
    first = b.mul(part, share)
    with b.if_then(b.icmp_signed("<", first, extent)):
        rest = b.sub(extent, first)
        size = b.select(b.icmp_signed("<", rest, share), rest, share)
        # along rows: A and C move down; along columns: B and C move right
        b_step = const(1) if form in ROW_MAJOR_B else b_stride  # B's column stride
        float_pointer = kernel_fn.args[0].type
        size_of = 4 if isinstance(float_pointer.pointee, ir.FloatType) else 8
        a_moved = b.add(a, b.mul(b.select(by_rows, b.mul(first, a_row), const(0)), const(size_of)))
        b_moved = b.add(bb, b.mul(b.select(by_rows, const(0), b.mul(first, b_step)), const(size_of)))
        c_offset = b.select(by_rows, b.mul(first, c_row), first)
        c_moved = b.add(c, b.mul(c_offset, const(size_of)))
        pointers = [b.inttoptr(x, float_pointer) for x in (a_moved, b_moved, c_moved)]
        rows = b.select(by_rows, size, m)
        columns = b.select(by_rows, n, size)
        b.call(kernel_fn, pointers + [rows, columns, k, a_row, a_col, b_stride, c_row, accumulate])
    b.ret_void()


def _symbol(form: str, float_type: ir.Type, tiling: Tiling) -> str:
    bits = 32 if isinstance(float_type, ir.FloatType) else 64
    return f"irgrad.gemm.{form}.f{bits}.{tiling.lanes}x{tiling.registers}"


def _signature(float_type: ir.Type) -> ir.FunctionType:
    pointer = float_type.as_pointer()
    return ir.FunctionType(ir.VoidType(), [pointer] * 3 + [I64] * 8)


def ensure_compiled(form: str, float_type: ir.Type, tiling: Tiling) -> None:
    """Compile the kernel's own module (or load it from the disk cache) once per process
    and make its symbol known to the linker, so programs referring to it link (and
    their cached object code stays valid: it names the symbol, not an address)."""
    name = _symbol(form, float_type, tiling)
    for called in CALLS.get(form, ()):  # linked first: its cached code may be loaded unemitted
        ensure_compiled(called, float_type, tiling)

    def module() -> ir.Module:
        made = jit.new_module(name)
        _define_part(made, _define(made, name, form, float_type, tiling), form, tiling)
        return made

    def build():
        signature = ctypes.CFUNCTYPE(None, *[ctypes.c_void_p] * 3, *[ctypes.c_int64] * 8)
        task = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64)
        # its name says all the module is made from: its cache entry is found without emitting it
        functions = jit.compile_functions(module, {name: signature, f"{name}.part": task}, source=name)
        for symbol, function in functions.items():
            llvm.add_symbol(symbol, ctypes.cast(function, ctypes.c_void_p).value)
        return functions[name]

    jit.kernel(("tiled gemm", name), build)


def _define(module: ir.Module, name: str, form: str, float_type: ir.Type, tiling: Tiling) -> ir.Function:
    """The kernel's body (see :func:`kernel`).  A long ``k`` is taken in blocks of
    :data:`K_BLOCK`, each summed in registers and added into C, as BLAS does: a float32
    sum of thousands of products (a convolution's weight gradient) then rounds about as
    little as BLAS's, and a block of B stays in cache."""
    if form in ("packed", "copied"):
        return _define_packed(module, name, float_type, tiling, transposed=form == "packed")
    return _define_tiled(module, name, form, float_type, tiling)


def _define_tiled(
    module: ir.Module, name: str, form: str, float_type: ir.Type, tiling: Tiling
) -> ir.Function:
    """The broadcast or dot form's body."""
    fn = ir.Function(module, _signature(float_type), name)
    fn.attributes.add("noinline")  # one copy, called by the part function too
    fn.attributes.add("minsize")  # vectors are explicit: no more unrolling (LLVM time 200 -> 100 ms)
    for argument in fn.args[:3]:
        argument.add_attribute("noalias")
    builder = ir.IRBuilder(fn.append_basic_block("entry"))
    a, b, c, m, n, k, a_row, a_col, b_stride, c_row, accumulate = fn.args
    k_stride = b_stride if form == "broadcast" else const(1)  # B's step along k
    blocks = builder.udiv(builder.add(k, const(K_BLOCK - 1)), const(K_BLOCK))
    blocks = builder.select(builder.icmp_unsigned("==", blocks, const(0)), const(1), blocks)  # k = 0: C = 0
    with for_range(builder, blocks, "kblock") as block:
        k0 = builder.mul(block, const(K_BLOCK))
        length = _at_most(builder, builder.sub(k, k0), K_BLOCK)
        add_to_c = builder.or_(
            builder.icmp_unsigned("!=", accumulate, const(0)), builder.icmp_unsigned("!=", block, const(0))
        )
        moved = [builder.gep(a, [builder.mul(k0, a_col)]), builder.gep(b, [builder.mul(k0, k_stride)]), c]
        sizes = _Sizes(m, n, length, a_row, a_col, b_stride, c_row, add_to_c)
        {"broadcast": _Broadcast, "dot": _Dot}[form](builder, moved, float_type, sizes, tiling).run()
    builder.ret_void()
    return fn


def _define_packed(
    module: ir.Module, name: str, float_type: ir.Type, tiling: Tiling, transposed: bool
) -> ir.Function:
    """The packed form's body: B transposed (its columns contiguous, a linear's weight),
    each block of :data:`K_BLOCK` rows of k and panel of ``2 * lanes`` columns of it
    copied row-major into a buffer on the stack, in 8x8 register transposes, and
    multiplied by the broadcast form's kernel.  The copied form's (not ``transposed``:
    B row-major, a long row stride apart) copies the panels' rows as they are.  The
    products are the broadcast form's on a row-major copy of B, bit for bit (the panels
    and blocks are its own), without
    copying all of B out to memory and back first (the MLP's 256x1024x1024 forward
    product took 3.2 ms so on 2 threads, 2.6 ms from a row-major B)."""
    broadcast = kernel(module, "broadcast", float_type, tiling)
    fn = ir.Function(module, _signature(float_type), name)
    fn.attributes.add("noinline")  # one copy, called by the part function too
    for argument in fn.args[:3]:
        argument.add_attribute("noalias")
    builder = ir.IRBuilder(fn.append_basic_block("entry"))
    a, b, c, m, n, k, a_row, a_col, b_stride, c_row, accumulate = fn.args
    width = 2 * tiling.lanes  # a panel: the broadcast form's tile columns
    packed = builder.alloca(float_type, size=K_BLOCK * width, name="packed")
    packed.align = 64
    blocks = builder.udiv(builder.add(k, const(K_BLOCK - 1)), const(K_BLOCK))
    blocks = builder.select(builder.icmp_unsigned("==", blocks, const(0)), const(1), blocks)  # k = 0: C = 0
    panels = builder.udiv(builder.add(n, const(width - 1)), const(width))
    with for_range(builder, blocks, "kblock") as block:
        k0 = builder.mul(block, const(K_BLOCK))
        length = _at_most(builder, builder.sub(k, k0), K_BLOCK)
        first = builder.icmp_unsigned("==", block, const(0))
        add_to_c = builder.select(first, accumulate, const(1))
        a_block = builder.gep(a, [builder.mul(k0, a_col)])
        with for_range(builder, panels, "panel") as panel:
            j0 = builder.mul(panel, const(width))
            columns = _at_most(builder, builder.sub(n, j0), width)
            if transposed:
                source = builder.gep(b, [builder.add(builder.mul(j0, b_stride), k0)])
                _pack(builder, source, b_stride, packed, length, columns, width)
            else:
                source = builder.gep(b, [builder.add(builder.mul(k0, b_stride), j0)])
                _copy_rows(builder, source, b_stride, packed, length, columns, width)
            numbers = [m, columns, length, a_row, a_col, const(width), c_row, add_to_c]
            builder.call(broadcast, [a_block, packed, builder.gep(c, [j0])] + numbers)
    builder.ret_void()
    return fn


def _at_most(builder: ir.IRBuilder, value: ir.Value, most: int) -> ir.Value:
    """``min(value, most)``."""
    return builder.select(builder.icmp_signed("<", value, const(most)), value, const(most))


def _copy_rows(builder: ir.IRBuilder, source, stride, target, rows, columns, width: int) -> None:
    """``target[r * width + j] = source[r * stride + j]`` for ``r < rows``, ``j < columns``."""
    b = builder
    with for_range(b, rows, "copy_r", unroll=False) as r:
        source_row, target_row = b.mul(r, stride), b.mul(r, const(width))
        with for_range(b, columns, "copy_j") as j:
            value = b.load(b.gep(source, [b.add(source_row, j)]))
            b.store(value, b.gep(target, [b.add(target_row, j)]))


def _pack(builder: ir.IRBuilder, source, stride, target, rows, columns, width: int) -> None:
    """``target[r * width + j] = source[j * stride + r]`` for ``r < rows``, ``j < columns``:
    8x8 tiles transposed in registers, the edges element by element."""
    b = builder
    row_tiles = b.udiv(rows, const(TILE))
    column_tiles = b.udiv(columns, const(TILE))
    with (
        for_range(b, column_tiles, "pack_j", unroll=False) as tj,
        for_range(b, row_tiles, "pack_r", unroll=False) as tr,
    ):
        j, r = b.mul(tj, const(TILE)), b.mul(tr, const(TILE))
        source_at = b.add(b.mul(j, stride), r)
        target_at = b.add(b.mul(r, const(width)), j)
        transpose_tile(b, source, source_at, stride, target, target_at, const(width))

    def element_by_element(r0, j0, j1) -> None:  # rows r0 .. rows of columns j0 .. j1
        with for_range(b, b.sub(rows, r0), "pack_er") as er, for_range(b, b.sub(j1, j0), "pack_ej") as ej:
            r, j = b.add(r0, er), b.add(j0, ej)
            value = b.load(b.gep(source, [b.add(b.mul(j, stride), r)]))
            b.store(value, b.gep(target, [b.add(b.mul(r, const(width)), j)]))

    tiled_columns = b.mul(column_tiles, const(TILE))
    element_by_element(b.mul(row_tiles, const(TILE)), const(0), tiled_columns)  # rows past the tiles
    element_by_element(const(0), tiled_columns, columns)  # columns past the tiles


class _Sizes(NamedTuple):
    """A block's sizes and strides, run-time values of the kernel."""

    m: ir.Value
    n: ir.Value
    k: ir.Value
    a_row: ir.Value
    a_col: ir.Value
    b_stride: ir.Value
    c_row: ir.Value
    add_to_c: ir.Value  # i1: add the block's sum to C's value (else store it)


class _Tiles:
    """The loops over tiles of C shared by both forms: column panels of ``widths`` and
    then the columns left, and in each, row tiles of as many rows as the registers allow
    and then the rows left one by one."""

    def __init__(self, builder, pointers: list[ir.Value], float_type: ir.Type, sizes: _Sizes, tiling: Tiling):
        self.b, (self.a_ptr, self.b_ptr, self.c_ptr) = builder, pointers
        self.s, self.tiling = sizes, tiling
        self.v = _Vectors(builder, float_type)

    def at(self, pointer: ir.Value, *terms) -> ir.Value:
        """``pointer + sum(index * stride)`` (an index, or a stride, may be a Python int)."""
        b = self.b
        total = None
        for index, stride in terms:
            if isinstance(index, int) and index == 0:
                continue
            index = const(index) if isinstance(index, int) else index
            term = (
                index
                if isinstance(stride, int) and stride == 1
                else b.mul(index, const(stride) if isinstance(stride, int) else stride)
            )
            total = term if total is None else b.add(total, term)
        return pointer if total is None else b.gep(pointer, [total])

    def panels(self, panel_widths: list[int], rest_widths: list[int] | None, budget: int) -> None:
        """Tile C's columns: full panels of ``panel_widths`` in a loop, then the columns
        left: in pieces of ``rest_widths`` (each taken where that many are left), or with
        None one at a time."""
        b = self.b
        panel = sum(panel_widths)
        full = b.udiv(self.s.n, const(panel))
        with for_range(b, full, "panel") as p:
            self.rows(b.mul(p, const(panel)), panel_widths, budget)
        done = b.mul(full, const(panel))
        if rest_widths is None:
            with for_range(b, b.sub(self.s.n, done), "column") as j:
                self.rows(b.add(done, j), [1], budget)
            return
        column = self.slot(I64)
        b.store(done, column)
        for width in rest_widths:
            with b.if_then(b.icmp_signed("<=", b.add(b.load(column), const(width)), self.s.n)):
                j0 = b.load(column)
                self.rows(j0, [width], budget)
                b.store(b.add(j0, const(width)), column)

    def rows(self, j0: ir.Value, widths: list[int], budget: int) -> None:
        b = self.b
        per_tile = max(1, budget // len(widths))
        full = b.udiv(self.s.m, const(per_tile))
        with for_range(b, full, "rows") as t:
            self.tile(b.mul(t, const(per_tile)), j0, per_tile, widths)
        done = b.mul(full, const(per_tile))
        with for_range(b, b.sub(self.s.m, done), "row") as r:
            self.tile(b.add(done, r), j0, 1, widths)

    def slot(self, type_: ir.Type) -> ir.Value:
        """A stack slot for a value set in conditional blocks, made in the entry block
        (where LLVM turns it into a register; one inside a loop would grow the stack)."""
        return entry_alloca(self.b, type_)

    def store(self, value: ir.Value, pointer: ir.Value, width: int) -> None:
        """Store a block's sum at ``pointer``, added to C's value where the block is not the first."""
        v = self.v
        v.store(
            self.b.select(self.s.add_to_c, self.b.fadd(v.load(pointer, width), value), value), pointer, width
        )


class _Broadcast(_Tiles):
    """Tiles of ``rows`` x ``vectors`` registers: A's element broadcast times B's row."""

    def run(self) -> None:
        lanes, registers = self.tiling.lanes, self.tiling.registers
        vectors = 2  # per row of a tile: a panel is 2 * lanes columns
        # accumulators + B's vectors + a broadcast must fit the registers
        rows = max(1, min(8 if registers >= 32 else 4, (registers - vectors - 2) // vectors))
        halves = [lanes >> shift for shift in range(lanes.bit_length())]  # lanes, lanes/2 ... 1
        self.panels([lanes] * vectors, halves, rows * vectors)

    def tile(self, i0: ir.Value, j0: ir.Value, rows: int, widths: list[int]) -> None:
        b, s, v = self.b, self.s, self.v
        offsets = [sum(widths[:w]) for w in range(len(widths))]
        a_rows = [self.at(self.a_ptr, (b.add(i0, const(r)), s.a_row)) for r in range(rows)]
        c_rows = [self.at(self.c_ptr, (b.add(i0, const(r)), s.c_row), (j0, 1)) for r in range(rows)]
        b_panel = self.at(self.b_ptr, (j0, 1))
        initial = [v.zero(width) for r in range(rows) for width in widths]
        with for_range_carrying(b, s.k, initial, "k") as (k, acc):
            b_row = self.at(b_panel, (k, s.b_stride))
            b_vectors = [v.load(self.at(b_row, (offsets[w], 1)), width) for w, width in enumerate(widths)]
            for r in range(rows):
                a = b.load(self.at(a_rows[r], (k, s.a_col)))
                for w, width in enumerate(widths):
                    at = r * len(widths) + w
                    acc[at] = v.fma(v.splat(a, width), b_vectors[w], acc[at], width)
        for r in range(rows):
            for w, width in enumerate(widths):
                self.store(acc[r * len(widths) + w], self.at(c_rows[r], (offsets[w], 1)), width)


class _Dot(_Tiles):
    """Tiles of ``rows`` x ``cols`` dot products, each a vector of partial sums along k."""

    def run(self) -> None:
        registers = self.tiling.registers
        rows = 4 if registers >= 32 else 2
        cols = 4 if registers >= 32 else 3
        self.panels([1] * cols, None, rows * cols)

    def tile(self, i0: ir.Value, j0: ir.Value, rows: int, widths: list[int]) -> None:
        b, s, v = self.b, self.s, self.v
        lanes, cols = self.tiling.lanes, len(widths)
        a_rows = [self.at(self.a_ptr, (b.add(i0, const(r)), s.a_row)) for r in range(rows)]
        b_cols = [self.at(self.b_ptr, (b.add(j0, const(j)), s.b_stride)) for j in range(cols)]
        whole = b.udiv(s.k, const(lanes))
        with for_range_carrying(b, whole, [v.zero(lanes)] * (rows * cols), "k") as (chunk, acc):
            self._products(a_rows, b_cols, b.mul(chunk, const(lanes)), lanes, acc)
        done = b.mul(whole, const(lanes))
        sums = [v.lane_sum(partial, lanes) for partial in acc]
        # the k left (fewer than a vector's lanes), one at a time
        with for_range_carrying(b, b.sub(s.k, done), sums, "k_left") as (kk, sums):
            self._products(a_rows, b_cols, b.add(done, kk), 1, sums)
        for r in range(rows):
            for j in range(cols):
                at = self.at(self.c_ptr, (b.add(i0, const(r)), s.c_row), (b.add(j0, const(j)), 1))
                self.store(sums[r * cols + j], at, 1)

    def _products(self, a_rows, b_cols, k0: ir.Value, width: int, acc: list) -> None:
        """``acc[r, j] += A[r, k0:k0+width] * B[k0:k0+width, j]`` (lane by lane)."""
        v = self.v
        a_vectors = [v.load(self.at(row, (k0, 1)), width) for row in a_rows]
        b_vectors = [v.load(self.at(col, (k0, 1)), width) for col in b_cols]
        for r, a in enumerate(a_vectors):
            for j, bv in enumerate(b_vectors):
                at = r * len(b_vectors) + j
                acc[at] = v.fma(a, bv, acc[at], width)
