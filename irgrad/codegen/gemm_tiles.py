"""The register tiles of the tiled products: how a kernel of :mod:`.gemm_kernels` loops
over tiles of ``C`` and accumulates each in vector registers.

* :class:`Broadcast`: a tile of ``rows`` x ``vectors`` registers adds, for each ``k``,
  ``A[i, k]`` broadcast times a vector of ``B``'s row ``k``;
* :class:`Dot`: a tile of ``C``'s elements accumulates vectors of products along ``k``
  (``A``'s rows and ``B``'s columns contiguous), summed across lanes at the end.

:class:`Vectors` emits the vector operations both use (masked loads and stores,
splats, fused multiply-adds, lane sums) for the float type of a kernel.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import llvmlite.ir as ir

from ..native.loops import I64, const, entry_alloca, for_range, for_range_carrying, vector_constant

if TYPE_CHECKING:
    from .gemm_kernels import Tiling

I32 = ir.IntType(32)


class Vectors:
    """Vector helpers for one function: loads, stores, splats and fused multiply-adds
    of ``float_type`` vectors of any width (width 1 is the scalar itself)."""

    def __init__(self, builder: ir.IRBuilder, float_type: ir.Type) -> None:
        self.b, self.float = builder, float_type
        self._fma: dict[int, ir.Function] = {}

    def type(self, width: int) -> ir.Type:
        return self.float if width == 1 else ir.VectorType(self.float, width)

    def zero(self, width: int) -> ir.Constant:
        return ir.Constant(self.float, 0.0) if width == 1 else vector_constant(self.float, (0.0,) * width)

    def load(self, pointer: ir.Value, width: int, mask: ir.Value | None = None) -> ir.Value:
        """A vector from ``pointer``; with ``mask`` only its lanes set are read (the others are 0)."""
        if width == 1:
            return self.b.load(pointer)
        vector_pointer = self.b.bitcast(pointer, self.type(width).as_pointer())
        if mask is None:
            return self.b.load(vector_pointer, align=self.float_size)
        alignment = ir.Constant(I32, self.float_size)
        return self.b.call(self._masked("load", width), [vector_pointer, alignment, mask, self.zero(width)])

    def store(self, value: ir.Value, pointer: ir.Value, width: int, mask: ir.Value | None = None) -> None:
        """Store a vector at ``pointer``; with ``mask`` only its lanes set are written."""
        if width == 1:
            self.b.store(value, pointer)
            return
        vector_pointer = self.b.bitcast(pointer, self.type(width).as_pointer())
        if mask is None:
            self.b.store(value, vector_pointer, align=self.float_size)
        else:
            alignment = ir.Constant(I32, self.float_size)
            self.b.call(self._masked("store", width), [value, vector_pointer, alignment, mask])

    def _masked(self, kind: str, width: int) -> ir.Function:
        """LLVM's masked load or store intrinsic for vectors of ``width`` (AVX-512 and AVX
        have them as instructions; elsewhere LLVM expands them lane by lane).  Declared in
        the form with an alignment argument, which LLVM 22 upgrades as it parses."""
        vector = self.type(width)
        name = f"llvm.masked.{kind}.v{width}f{8 * self.float_size}.p0"
        function = self.b.module.globals.get(name)
        if function is None:
            mask = ir.VectorType(ir.IntType(1), width)
            arguments = (
                [vector.as_pointer(), I32, mask, vector]
                if kind == "load"
                else [vector, vector.as_pointer(), I32, mask]
            )
            function = ir.Function(
                self.b.module, ir.FunctionType(vector if kind == "load" else ir.VoidType(), arguments), name
            )
        return function

    def first_lanes(self, count: ir.Value, width: int, skip: int = 0) -> ir.Value:
        """The mask of a vector's lanes ``i`` with ``skip + i < count`` (``count`` an i64)."""
        lanes = vector_constant(I32, tuple(skip + lane for lane in range(width)))
        return self.b.icmp_signed("<", lanes, self.splat(self.b.trunc(count, I32), width, I32))

    @property
    def float_size(self) -> int:
        return 4 if isinstance(self.float, ir.FloatType) else 8

    def splat(self, scalar: ir.Value, width: int, element: ir.Type | None = None) -> ir.Value:
        """``scalar`` in every lane of a vector of ``width`` (of ``element``s: the float type unless given)."""
        if width == 1:
            return scalar
        vt = self.type(width) if element is None else ir.VectorType(element, width)
        one = self.b.insert_element(ir.Constant(vt, ir.Undefined), scalar, ir.Constant(I32, 0))
        return self.b.shuffle_vector(one, ir.Constant(vt, ir.Undefined), vector_constant(I32, (0,) * width))

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
            low = b.shuffle_vector(vector, vector, vector_constant(I32, tuple(range(half))))
            high = b.shuffle_vector(vector, vector, vector_constant(I32, tuple(range(half, width))))
            vector, width = b.fadd(low, high), half
        return b.fadd(
            b.extract_element(vector, ir.Constant(I32, 0)), b.extract_element(vector, ir.Constant(I32, 1))
        )


class Sizes(NamedTuple):
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

    def __init__(self, builder, pointers: list[ir.Value], float_type: ir.Type, sizes: Sizes, tiling: Tiling):
        self.b, (self.a_ptr, self.b_ptr, self.c_ptr) = builder, pointers
        self.s, self.tiling = sizes, tiling
        self.v = Vectors(builder, float_type)

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

    def panels(self, panel_widths: list[int], budget: int) -> ir.Value:
        """Tile C's full panels of ``panel_widths`` columns in a loop; return the columns done."""
        b = self.b
        panel = sum(panel_widths)
        full = b.udiv(self.s.n, const(panel))
        with for_range(b, full, "panel") as p:
            self.rows(b.mul(p, const(panel)), panel_widths, budget)
        return b.mul(full, const(panel))

    def rows(self, j0: ir.Value, widths: list[int], budget: int, masks: list | None = None) -> None:
        """The tiles of the columns from ``j0``: as many rows a tile as ``budget``
        accumulators allow, then the rows left one by one (``masks``: see :meth:`tile`)."""
        b = self.b
        per_tile = max(1, budget // len(widths))
        full = b.udiv(self.s.m, const(per_tile))
        with for_range(b, full, "rows") as t:
            self.tile(b.mul(t, const(per_tile)), j0, per_tile, widths, masks)
        done = b.mul(full, const(per_tile))
        with for_range(b, b.sub(self.s.m, done), "row") as r:
            self.tile(b.add(done, r), j0, 1, widths, masks)

    def slot(self, type_: ir.Type) -> ir.Value:
        """A stack slot for a value set in conditional blocks, made in the entry block
        (where LLVM turns it into a register; one inside a loop would grow the stack)."""
        return entry_alloca(self.b, type_)

    def store(self, value: ir.Value, pointer: ir.Value, width: int, mask: ir.Value | None = None) -> None:
        """Store a block's sum at ``pointer`` (the lanes of ``mask``), added to C's value
        where the block is not the first."""
        v = self.v
        added = self.b.fadd(v.load(pointer, width, mask), value)
        v.store(self.b.select(self.s.add_to_c, added, value), pointer, width, mask)


class Broadcast(_Tiles):
    """Tiles of ``rows`` x ``vectors`` registers: A's element broadcast times B's row."""

    def run(self) -> None:
        lanes, registers = self.tiling.lanes, self.tiling.registers
        vectors = 2  # per row of a tile: a panel is 2 * lanes columns
        # accumulators + B's vectors + a broadcast must fit the registers
        rows = max(1, min(8 if registers >= 32 else 4, (registers - vectors - 2) // vectors))
        budget = rows * vectors
        b, v = self.b, self.v
        self.panel = [lanes] * vectors  # the full tiles' widths (see tile)
        done = self.panels(self.panel, budget)
        # The columns left (fewer than a panel): a vector's worth, then the rest in one
        # masked vector, of half the lanes where they hold it (Zen 4 takes a full AVX-512
        # vector in two halves: 20 columns of 128 rows ran 25% longer in a full one).
        # Vectors of lanes/2 ... 1 lanes took four tile shapes; the kernel's module is
        # half the size, and its LLVM time with it.
        column = self.slot(I64)
        b.store(done, column)
        with b.if_then(b.icmp_signed("<=", b.add(done, const(lanes)), self.s.n)):
            self.rows(done, [lanes], budget)
            b.store(b.add(done, const(lanes)), column)
        last = b.load(column)
        left = b.sub(self.s.n, last)
        with b.if_then(b.icmp_signed(">", left, const(0))):
            if lanes < 4:
                self.rows(last, [lanes], budget, [v.first_lanes(left, lanes)])
                return
            with b.if_else(b.icmp_signed("<=", left, const(lanes // 2))) as (narrow, wide):
                with narrow:
                    self.rows(last, [lanes // 2], budget, [v.first_lanes(left, lanes // 2)])
                with wide:
                    self.rows(last, [lanes], budget, [v.first_lanes(left, lanes)])

    def tile(
        self, i0: ir.Value, j0: ir.Value, rows: int, widths: list[int], masks: list | None = None
    ) -> None:
        """A ``rows`` x ``widths`` tile of C at (i0, j0); with ``masks`` (one per vector
        of ``widths``) only those columns of B are read and of C written."""
        b, s, v = self.b, self.s, self.v
        masks = masks or [None] * len(widths)
        offsets = [sum(widths[:w]) for w in range(len(widths))]
        c_rows = [self.at(self.c_ptr, (b.add(i0, const(r)), s.c_row), (j0, 1)) for r in range(rows)]
        b_panel = self.at(self.b_ptr, (j0, 1))

        def products(k: ir.Value, a_strides: tuple, acc: list) -> None:
            """Add the products of one ``k`` to the accumulators (A's element strides
            ``a_strides``, either of them possibly the constant 1)."""
            b_row = self.at(b_panel, (k, s.b_stride))
            b_vectors = [
                v.load(self.at(b_row, (offsets[w], 1)), width, masks[w]) for w, width in enumerate(widths)
            ]
            a_row, a_col = a_strides
            for r in range(rows):
                a = b.load(self.at(self.a_ptr, (b.add(i0, const(r)), a_row), (k, a_col)))
                for w, width in enumerate(widths):
                    at = r * len(widths) + w
                    acc[at] = v.fma(v.splat(a, width), b_vectors[w], acc[at], width)

        zeros = [v.zero(width) for r in range(rows) for width in widths]
        if rows > 1 and widths == self.panel and masks == [None] * len(widths):
            acc = self._sums(products, zeros)
        else:  # the edges (rows and columns left over): one loop, the kernel's code stays small
            acc, _ = self._one_k_an_iteration(products, zeros)
        for r in range(rows):
            for w, width in enumerate(widths):
                self.store(acc[r * len(widths) + w], self.at(c_rows[r], (offsets[w], 1)), width, masks[w])

    def _sums(self, products, zeros: list) -> list:
        """The accumulators after all ``k``: the tiling's ``k_unroll`` products a loop
        iteration (then the rest one by one), with A's elements read at constant offsets,
        where A's rows are contiguous (tested at run time); other strides, and tilings of
        one ``k`` an iteration, take :meth:`_one_k_an_iteration`.

        An iteration of one ``k`` spent about 9 integer instructions (A's row addresses,
        a counter, two branches) beside 16 multiply-adds, which compete for the ports
        the multiply-adds issue on.  Measured on one Sapphire Rapids core (AVX-512, 8 x 2
        tiles, best of 25 alternating runs): 64x128x784 169.5 -> 186.7 GFLOP/s,
        256x128x256 167.2 -> 184.1, an 8x32x256 tile in L1 176.3 -> 179.1.  8 a loop
        iteration ran slower than 4 (register pressure).  The sums are the same bits: each
        accumulator still adds its products in order of ``k``.

        Each unrolled loop costs LLVM time when the kernel is first compiled on a
        machine: this one 20-25 ms.  A second for a transposed A (a_row == 1: a weight
        gradient's dY.T read in place) took W1's 128x784x64 weight gradient from 139 to
        146 GFLOP/s (1.6% of its training step) for 40 ms more, which W1's first compile
        (300 ms aimed at) could not afford."""
        unroll = self.tiling.k_unroll
        if unroll == 1:
            return self._one_k_an_iteration(products, zeros)[0]
        b, s = self.b, self.s
        contiguous = (s.a_row, 1)
        k_unrolled = b.mul(b.udiv(s.k, const(unroll)), const(unroll))
        with b.if_else(b.icmp_unsigned("==", s.a_col, const(1))) as (rows_contiguous, strided):
            with rows_contiguous:
                with for_range_carrying(b, b.udiv(s.k, const(unroll)), list(zeros), "ku") as (ku, unrolled):
                    for u in range(unroll):
                        products(b.add(b.mul(ku, const(unroll)), const(u)), contiguous, unrolled)
                with for_range_carrying(b, b.sub(s.k, k_unrolled), unrolled, "k") as (k, unrolled):
                    products(b.add(k, k_unrolled), contiguous, unrolled)
                from_unrolled = b.block
            with strided:
                one_by_one, from_strided = self._one_k_an_iteration(products, zeros)
        sums = []
        for value, other in zip(unrolled, one_by_one):
            phi = b.phi(value.type)
            phi.add_incoming(value, from_unrolled)
            phi.add_incoming(other, from_strided)
            sums.append(phi)
        return sums

    def _one_k_an_iteration(self, products, zeros: list) -> tuple[list, ir.Block]:
        """The accumulators after a loop of one ``k`` an iteration, A's strides read at
        run time, and the block the loop ends in."""
        with for_range_carrying(self.b, self.s.k, list(zeros), "k") as (k, acc):
            products(k, (self.s.a_row, self.s.a_col), acc)
        return acc, self.b.block


class Dot(_Tiles):
    """Tiles of ``rows`` x ``cols`` dot products, each a vector of partial sums along k."""

    def run(self) -> None:
        registers = self.tiling.registers
        rows = 4 if registers >= 32 else 2
        cols = 4 if registers >= 32 else 3
        b, budget = self.b, rows * cols
        done = self.panels([1] * cols, budget)
        with for_range(b, b.sub(self.s.n, done), "column") as j:  # the columns left, one at a time
            self.rows(b.add(done, j), [1], budget)

    def tile(self, i0: ir.Value, j0: ir.Value, rows: int, widths: list[int], masks: None = None) -> None:
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
