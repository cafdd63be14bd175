"""The tiled product kernels' bodies, one LLVM function per form, dtype and tiling.

:mod:`.tiled_gemm` chooses a form for a product and calls its kernel; this module
writes the kernels: blocks of ``k`` over register tiles of ``C`` (the broadcast and
dot forms, whose tiles :mod:`.gemm_tiles` emits), the packed and copied forms' panels
of ``B`` copied to the stack and multiplied in the broadcast form, and each kernel's
part for the thread pool.
Every size and stride is a run-time argument, so one kernel serves every product.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import NamedTuple

import llvmlite.binding as llvm
import llvmlite.ir as ir
import numpy as np

from ..native import pool
from ..native.loops import I64, const, for_range
from .gemm_tiles import Broadcast, Dot, Sizes
from .transpose import TILE, transpose_tile

K_BLOCK = 256  # products summed per pass over C
ROW_MAJOR_B = ("broadcast", "copied")  # the forms whose b_stride is B's row stride (else its column's)
# The forms with a scalar loop that LLVM's O2 pipeline vectorizes (the copied form's
# row copy ran 1.2 to 2.1 times as long without it); the others' vectors are explicit,
# and a light pipeline compiles them in a quarter of the time (the broadcast form's
# module: 102 -> 28 ms, then 76 ms of code generation) to the same speed.
LOOPS_VECTORIZED = ("copied",)


class Tiling(NamedTuple):
    """The host's vector registers, for one dtype, and how the tile loop uses them."""

    lanes: int  # elements per vector register
    registers: int  # vector registers the ISA has
    k_unroll: int  # products of consecutive k a loop iteration (see gemm_tiles.Broadcast._sums)


@functools.cache
def host_tiling(dtype: np.dtype) -> Tiling:
    """Vector width and register count of the CPU this process runs on, and its unrolling
    of ``k``: 4 on Intel's cores, where the tile loop's integer work (A's row addresses,
    a counter, branches) competes with the multiply-adds for issue ports; 1 on AMD's Zen
    cores, whose integer and vector units issue apart.  Measured on one Zen 4 core (one
    process each, alternating): W1's step, inference and its 64x784x128 and 128x64x784
    products ran the same either way, 256x1024x1024 at 101-103 GFLOP/s against 98-99
    unrolled; the unrolled loop cost 20-25 ms of LLVM time when the kernel is first
    compiled on a machine (W1's first compiled call: 284-305 ms unrolled, 245-266 not)."""
    features = llvm.get_host_cpu_features()
    if features.get("avx512f"):
        bits, registers = 512, 32
    elif features.get("avx"):
        bits, registers = 256, 16
    else:
        bits, registers = 128, 16
    k_unroll = 1 if llvm.get_host_cpu_name().startswith("znver") else 4
    return Tiling(bits // (8 * np.dtype(dtype).itemsize), registers, k_unroll)


def signature(float_type: ir.Type) -> ir.FunctionType:
    pointer = float_type.as_pointer()
    return ir.FunctionType(ir.VoidType(), [pointer] * 3 + [I64] * 8)


def define_part(module: ir.Module, kernel_fn: ir.Function, form: str, tiling: Tiling) -> None:
    """``part(context, i, parts)``: the kernel on part ``i`` of ``parts`` of C, its
    arguments read from ``context`` (eleven i64: A, B, C, then the kernel's numbers).
    C is cut along its longer side, in whole register tiles (8 rows, or a tile's
    columns), so each thread writes its own block of C.  The forms that copy B's panels
    cut rows into one part a thread, not the pool's four: each such part copies all of B
    (W1's forward swapped, 128x784x64 on 2 threads, copied its B 8 times in 8 parts and
    took 86 us, 67 in 2 parts; its 2 parts of 32 columns took as long but left every
    thread reading all of the weight, which the SGD update then wrote from one thread:
    the step took 220 us against 202)."""
    fn = ir.Function(module, pool.TASK, kernel_fn.name + ".part")
    context, part, parts = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    slots = b.bitcast(context, I64.as_pointer())
    a, bb, c, m, n, k, a_row, a_col, b_stride, c_row, accumulate = (
        b.load(b.gep(slots, [const(position)])) for position in range(11)
    )
    by_rows = b.icmp_signed(">=", m, n)
    if form in ("packed", "copied"):  # rows cut in one part a thread, each copying all of B
        per_thread = const(pool.CHUNKS_PER_THREAD)
        threads = b.udiv(b.add(parts, b.sub(per_thread, const(1))), per_thread)  # (1 part: alone)
        parts = b.select(by_rows, threads, parts)
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


def define(
    module: ir.Module,
    name: str,
    form: str,
    float_type: ir.Type,
    tiling: Tiling,
    declare: Callable[[str], ir.Function],
) -> ir.Function:
    """The kernel's body (see :func:`.tiled_gemm.kernel`); ``declare(form)`` declares in
    ``module`` the kernel of another form that this one calls.  A long ``k`` is taken in blocks of
    :data:`K_BLOCK`, each summed in registers and added into C, as BLAS does: a float32
    sum of thousands of products (a convolution's weight gradient) then rounds about as
    little as BLAS's, and a block of B stays in cache."""
    if form in ("packed", "copied"):
        return _define_packed(module, name, float_type, tiling, declare, transposed=form == "packed")
    return _define_tiled(module, name, form, float_type, tiling)


def _define_tiled(
    module: ir.Module, name: str, form: str, float_type: ir.Type, tiling: Tiling
) -> ir.Function:
    """The broadcast or dot form's body."""
    fn = ir.Function(module, signature(float_type), name)
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
        sizes = Sizes(m, n, length, a_row, a_col, b_stride, c_row, add_to_c)
        {"broadcast": Broadcast, "dot": Dot}[form](builder, moved, float_type, sizes, tiling).run()
    builder.ret_void()
    return fn


def _define_packed(
    module: ir.Module,
    name: str,
    float_type: ir.Type,
    tiling: Tiling,
    declare: Callable[[str], ir.Function],
    transposed: bool,
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
    broadcast = declare("broadcast")
    fn = ir.Function(module, signature(float_type), name)
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
    # (eight rows of k at a time across the panel: 1x784x128 took 14 us to pack where a
    # panel's column of tiles at a time took 18, on one AMD Zen 4 core)
    with (
        for_range(b, row_tiles, "pack_r", unroll=False) as tr,
        for_range(b, column_tiles, "pack_j", unroll=False) as tj,
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
