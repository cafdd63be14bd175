"""Matrix products as register-tiled LLVM loops, for the shapes BLAS runs slowly.

numpy's OpenBLAS packs both operands into its own layouts on every call and, on this
kind of machine (an AMD EPYC with AVX-512), runs a kernel that reaches about 80-120
GFLOP/s on one core.  A training step's matrix products are mostly small (an LSTM
multiplies a 16 x 128 state by a 128 x 512 weight 32 times a step), where the packing
costs as much as the arithmetic.  The code here computes ``C = A @ B`` (or
``C += A @ B``) with the operands where they are, every size and stride a constant of
the emitted function, in one of two forms:

* **broadcast** (``B``'s rows contiguous): a tile of ``rows`` x ``vectors`` vector
  registers of ``C`` accumulates, for each ``k``, ``A[i, k]`` broadcast times a
  vector load of ``B[k, j:j+lanes]``;
* **dot** (``B`` transposed, ``A``'s and ``B``'s columns contiguous): a tile of
  ``C``'s elements accumulates vectors of products along ``k``, summed across lanes
  once at the end.

Measured on one core against ``np.matmul`` (OpenBLAS, one thread): 16x128 @ 128x512
in 8.8 us against 27 us, 64x784 @ 784x128 in 52 us against 112 us, 256^3 in 130 us
against 275 us.  Large products (above :data:`LARGEST_MACS` multiply-adds) stay with
BLAS, whose threads and cache blocking win there.

The tile's shape comes from the host's vector registers (:func:`host_tiling`): 16
float32 lanes and 32 registers with AVX-512, 8 and 16 with AVX2, 4 and 16 otherwise.
A remainder narrower than a vector is split into vectors of 8, 4, 2 and 1 lanes, so
no masked loads are needed.  Each product is summed along ``k`` in order from 0, one
fused multiply-add at a time (the dot form sums lanes pairwise at the end), so it
differs from BLAS's sums by rounding only.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace

import llvmlite.binding as llvm
import llvmlite.ir as ir
import numpy as np

from ..native.loops import const, for_range, for_range_carrying

I32 = ir.IntType(32)
LARGEST_MACS = 1 << 26  # multiply-adds above which BLAS (threaded, cache-blocked) is faster
SMALLEST_MACS = 1 << 14  # below, BLAS (when found): not worth a kernel's compile time
K_BLOCK = 256  # products summed per pass over C


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
        """``broadcast``, ``dot``, or None when neither applies to these strides."""
        if self.b_strides[1] == 1 or self.n == 1:
            return "broadcast"
        if self.b_strides[0] == 1 and (self.a_strides[1] == 1 or self.k == 1):
            return "dot"
        return None


def small_enough(m: int, n: int, k: int) -> bool:
    """Whether the tiled code should compute an m x k by k x n product instead of BLAS."""
    return m * n * k <= LARGEST_MACS


def worth_compiling(m: int, n: int, k: int) -> bool:
    """Whether a product is large enough to be worth a kernel of its own (each costs
    LLVM about 30 ms; a product of a few thousand multiply-adds takes BLAS ~1 us)."""
    return m * n * k >= SMALLEST_MACS


def _pieces(count: int, lanes: int) -> list[int]:
    """``count`` elements as vector widths: whole vectors, then 8, 4, 2, 1 lanes."""
    widths = [lanes] * (count // lanes)
    rest = count % lanes
    width = lanes
    while rest:
        width //= 2
        if rest >= width:
            widths.append(width)
            rest -= width
    return widths


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
    builder: ir.IRBuilder, pointers: list[ir.Value], float_type: ir.Type, shape: GemmShape, tiling: Tiling
) -> None:
    """Emit ``C (+)= A @ B`` at the builder's position (``pointers``: A's, B's and C's
    first elements, of ``float_type``).

    A long ``k`` is taken in blocks of :data:`K_BLOCK`, each added into C, as BLAS does:
    a float32 sum of thousands of products (a convolution's weight gradient) then
    rounds about as little as BLAS's, and a block of B stays in cache."""
    if 0 in (shape.m, shape.n):
        return
    form = {"broadcast": _Broadcast, "dot": _Dot}.get(shape.form)
    if form is None:
        raise ValueError(f"tiled gemm: no form for strides {shape.a_strides}, {shape.b_strides}")
    a, b, c = pointers

    def block(k0, k: int, accumulate: bool) -> None:
        k0 = const(k0) if isinstance(k0, int) else k0
        moved = [
            builder.gep(a, [builder.mul(k0, const(shape.a_strides[1]))]),
            builder.gep(b, [builder.mul(k0, const(shape.b_strides[0]))]),
            c,
        ]
        form(builder, moved, float_type, replace(shape, k=k, accumulate=accumulate), tiling).run()

    if shape.k <= K_BLOCK:
        form(builder, pointers, float_type, shape, tiling).run()
        return
    block(0, K_BLOCK, shape.accumulate)
    middle = shape.k // K_BLOCK - 1
    if middle:
        with for_range(builder, const(middle), "kblock") as i:
            block(builder.mul(builder.add(i, const(1)), const(K_BLOCK)), K_BLOCK, True)
    if shape.k % K_BLOCK:
        block(shape.k - shape.k % K_BLOCK, shape.k % K_BLOCK, True)


class _Tiles:
    """The loops over tiles of C shared by both forms: column panels of ``widths``, and in
    each, row tiles of as many rows as the registers allow plus one of the rows left."""

    def __init__(
        self, builder, pointers: list[ir.Value], float_type: ir.Type, shape: GemmShape, tiling: Tiling
    ):
        self.b, (self.a_ptr, self.b_ptr, self.c_ptr) = builder, pointers
        self.s, self.tiling = shape, tiling
        self.v = _Vectors(builder, float_type)

    def element(self, pointer: ir.Value, *terms) -> ir.Value:
        """``pointer + sum(index * stride)`` (an index may be a Python int)."""
        b = self.b
        total = None
        for index, stride in terms:
            if not stride or (isinstance(index, int) and index == 0):
                continue
            index = const(index) if isinstance(index, int) else index
            term = b.mul(index, const(stride)) if stride != 1 else index
            total = term if total is None else b.add(total, term)
        return pointer if total is None else b.gep(pointer, [total])

    def panels(self, panel_widths: list[int], budget: int) -> None:
        """Tile C's columns: full panels of ``panel_widths`` in a loop, then the rest."""
        s = self.s
        panel = sum(panel_widths)
        full = s.n // panel
        if full:
            with for_range(self.b, const(full), "panel") as p:
                self.rows(self.b.mul(p, const(panel)), panel_widths, budget)
        rest = self._rest_widths(s.n - full * panel)
        if rest:
            self.rows(const(full * panel), rest, budget)

    def rows(self, j0: ir.Value, widths: list[int], budget: int) -> None:
        per_tile = max(1, min(self.s.m, budget // len(widths)))
        full = self.s.m // per_tile
        if full:
            with for_range(self.b, const(full), "rows") as t:
                self.tile(self.b.mul(t, const(per_tile)), j0, per_tile, widths)
        if self.s.m % per_tile:
            self.tile(const(full * per_tile), j0, self.s.m % per_tile, widths)


class _Broadcast(_Tiles):
    """Tiles of ``rows`` x ``vectors`` registers: A's element broadcast times B's row."""

    def run(self) -> None:
        lanes, registers = self.tiling.lanes, self.tiling.registers
        vectors = 2 if self.s.n >= 2 * lanes else 1
        # accumulators + B's vectors + a broadcast must fit the registers
        rows = max(1, min(8 if registers >= 32 else 4, (registers - vectors - 2) // vectors))
        self.panels([lanes] * vectors, rows * vectors)

    def _rest_widths(self, count: int) -> list[int]:
        return _pieces(count, self.tiling.lanes)

    def tile(self, i0: ir.Value, j0: ir.Value, rows: int, widths: list[int]) -> None:
        b, s, v = self.b, self.s, self.v
        offsets = [sum(widths[:w]) for w in range(len(widths))]

        def c_at(r: int, w: int) -> ir.Value:
            return self.element(self.c_ptr, (b.add(i0, const(r)), s.c_row), (b.add(j0, const(offsets[w])), 1))

        initial = [v.zero(width) for r in range(rows) for width in widths]
        with for_range_carrying(b, const(s.k), initial, "k") as (k, acc):
            row_start = self.element(self.b_ptr, (k, s.b_strides[0]), (j0, s.b_strides[1]))
            b_rows = [
                v.load(self.element(row_start, (offsets[w], s.b_strides[1])), width)
                for w, width in enumerate(widths)
            ]
            for r in range(rows):
                a = b.load(
                    self.element(self.a_ptr, (b.add(i0, const(r)), s.a_strides[0]), (k, s.a_strides[1]))
                )
                for w, width in enumerate(widths):
                    at = r * len(widths) + w
                    acc[at] = v.fma(v.splat(a, width), b_rows[w], acc[at], width)
        for r in range(rows):  # the block's sum, added to C's value as a whole (see emit)
            for w, width in enumerate(widths):
                value = acc[r * len(widths) + w]
                if s.accumulate:
                    value = b.fadd(v.load(c_at(r, w), width), value)
                v.store(value, c_at(r, w), width)


class _Dot(_Tiles):
    """Tiles of ``rows`` x ``cols`` dot products, each a vector of partial sums along k."""

    def run(self) -> None:
        registers = self.tiling.registers
        rows = 4 if registers >= 32 else 2
        cols = 4 if registers >= 32 else 3
        self.panels([1] * cols, rows * cols)

    def _rest_widths(self, count: int) -> list[int]:
        return [1] * count

    def tile(self, i0: ir.Value, j0: ir.Value, rows: int, widths: list[int]) -> None:
        b, s, v = self.b, self.s, self.v
        lanes, cols = self.tiling.lanes, len(widths)
        a_rows = [self.element(self.a_ptr, (b.add(i0, const(r)), s.a_strides[0])) for r in range(rows)]
        b_cols = [self.element(self.b_ptr, (b.add(j0, const(j)), s.b_strides[1])) for j in range(cols)]
        whole = s.k // lanes
        sums = [v.zero(1)] * (rows * cols)
        if whole:
            with for_range_carrying(b, const(whole), [v.zero(lanes)] * (rows * cols), "k") as (chunk, acc):
                self._products(a_rows, b_cols, b.mul(chunk, const(lanes)), lanes, acc)
            sums = [v.lane_sum(x, lanes) for x in acc]
        k0 = whole * lanes
        for width in _pieces(s.k % lanes, lanes):  # the k left: narrower vectors
            part = [v.zero(width)] * (rows * cols)
            self._products(a_rows, b_cols, const(k0), width, part)
            sums = [b.fadd(total, v.lane_sum(x, width)) for total, x in zip(sums, part)]
            k0 += width
        for r in range(rows):
            for j in range(cols):
                at = self.element(self.c_ptr, (b.add(i0, const(r)), s.c_row), (b.add(j0, const(j)), 1))
                value = sums[r * cols + j]
                v.store(b.fadd(b.load(at), value) if s.accumulate else value, at, 1)

    def _products(self, a_rows, b_cols, k0: ir.Value, width: int, acc: list) -> None:
        """``acc[r, j] += A[r, k0:k0+width] * B[k0:k0+width, j]`` (lane by lane)."""
        v = self.v
        a_vectors = [v.load(self.element(row, (k0, 1)), width) for row in a_rows]
        b_vectors = [v.load(self.element(col, (k0, 1)), width) for col in b_cols]
        for r, a in enumerate(a_vectors):
            for j, bv in enumerate(b_vectors):
                at = r * len(b_vectors) + j
                acc[at] = v.fma(a, bv, acc[at], width)
