"""``matmul`` and ``linear`` in native code: irgrad's tiled loops or the BLAS numpy loaded.

Each matrix of the result is one product.  Up to :data:`.tiled_gemm.LARGEST_MACS`
multiply-adds (every product of the LSTM, MLP and CNN benchmarks' steps but the
largest MLP's) it is computed by :mod:`.tiled_gemm`'s register-tiled loops, which run
two to three times as fast as numpy's OpenBLAS on these shapes with 512-bit vectors
(on a host with narrower ones, large products with a long k go to BLAS: see
:func:`.tiled_gemm.small_enough`); above that, and for strides neither form reads in
place, by a call of ``cblas_?gemm`` (:mod:`.blas`), transposed operands read in place.  Where no BLAS is found every product is tiled,
copying an operand first where its strides need it.

A linear's bias is written into the result first and the product added to it.
"""

from __future__ import annotations

import math

import llvmlite.ir as ir
import numpy as np

from ..ir.builder import GraphOps
from ..ir.graph import Graph, Node
from ..ir.run_time_sizes import Size
from ..ops import OPS
from ..ops.strides import broadcast_strides, contiguous_strides, reshape_strides
from . import blas, tiled_gemm
from .emission import I32, Emission, Lowering, Operand
from .gemm_kernels import host_tiling
from .index_loops import loop_nest, offset_function
from .layout import Place
from .parallel import split_outer_loop
from .run_time import size_value
from .scalars import storage_type
from .transpose import copy_matrix


def matrix_layout(rows: int, cols: int, row_stride: int, col_stride: int) -> tuple[int, int] | None:
    """(CBLAS transpose flag, leading dimension) reading a rows x cols matrix with these
    element strides in place, or None when it must be copied first."""
    if cols == 1 or col_stride == 1:
        ld = row_stride if rows > 1 else max(cols, 1)
        if ld >= max(cols, 1):
            return blas.NO_TRANS, ld
    if rows == 1 or row_stride == 1:
        ld = col_stride if cols > 1 else max(rows, 1)
        if ld >= max(rows, 1):
            return blas.TRANS, ld
    return None


class GemmLowering(Lowering):
    """``matmul(a, b)`` (batched, batch dims broadcast) or ``linear(x, w[, bias])``: one
    product per matrix of the result, tiled or by ``gemm`` (None: no BLAS was found)."""

    def __init__(self, node: Node, gemm: blas.Gemm | None, arity: int) -> None:
        super().__init__(node)
        self.gemm = gemm
        self.dtype = np.dtype(node.type.dtype.np)
        self.linear = node.op == "linear"
        self.arity = arity  # the node's arguments (a linear's bias is the third)

    def _matrices(self, args: list[Place], out_shape: tuple) -> tuple:
        """(batch shape, m, n, k, a's and b's matrix strides, a's and b's batch strides):
        the products computing the result.  A linear's x, and a matmul's a when b is one
        matrix, are one tall matrix when their leading dims merge."""
        a, b = args[0], args[1]
        if self.linear:  # x @ w.T: w read through swapped strides
            b = b.view(0, (b.shape[1], b.shape[0]), (b.strides[1], b.strides[0]))
        k, n = a.shape[-1], out_shape[-1]
        if self.linear or (len(b.shape) == 2 and len(a.shape) > 2):
            m = math.prod(a.shape[:-1])
            rows = reshape_strides(a.shape, a.strides, (m, k))
            return (), m, n, k, rows, b.strides, (), ()
        batch = out_shape[:-2]
        a_batch = broadcast_strides(a.shape[:-2], batch, a.strides[:-2])
        b_batch = broadcast_strides(b.shape[:-2], batch, b.strides[:-2])
        return batch, out_shape[-2], n, k, a.strides[-2:], b.strides[-2:], a_batch, b_batch

    def _tiled(self, m: int, n: int, k: int, a2, b2, accumulate: bool) -> tiled_gemm.GemmShape | None:
        """The tiled product for operands with these strides, or None: BLAS's product, or
        (see :meth:`contiguous_args`) a tiled one once an operand has been copied."""
        if a2 is None or not (self.gemm is None or tiled_gemm.small_enough(m, n, k, self.dtype)):
            return None
        shape = tiled_gemm.GemmShape(m, n, k, tuple(a2), tuple(b2), n, accumulate)
        return shape if shape.by_rows() is not None else None

    def _swapped(self, args: list[Place]) -> tiled_gemm.GemmShape | None:
        """The product ``C.T = B.T @ A.T`` computed into a scratch buffer and transposed
        into C (adding a linear's bias on the way), where that moves fewer elements than
        packing B (see :meth:`.tiled_gemm.GemmShape.swapped`); None to compute C as it is."""
        batch, m, n, k, a2, b2, _, _ = self._matrices(args[:2], self.node.type.shape)
        has_bias = self.linear and len(args) > 2
        if batch or (has_bias and args[2].strides[-1] != 1):
            return None
        tiled = self._tiled(m, n, k, a2, b2, has_bias)
        return None if tiled is None else tiled.swapped()

    def _transposed_b(self, args: list[Place]) -> bool:
        """Whether the product is tiled over a row-major copy of B made in a scratch
        buffer: one matrix whose B no tiled form reads in place (neither its rows nor its
        columns contiguous: a broadcast or a strided view).  The copy is split across the
        thread pool like the product."""
        batch, m, n, k, a2, b2, _, _ = self._matrices(args[:2], self.node.type.shape)
        if batch or a2 is None or m * n * k == 0 or self._tiled(m, n, k, a2, b2, False) is not None:
            return False
        return self.gemm is None or tiled_gemm.small_enough(m, n, k, self.dtype)

    def splits(self, places: list[Place]) -> bool:
        args = places[: self.arity]
        batch, m, n, k, a2, b2, _, _ = self._matrices(args, self.node.type.shape)
        if self._tiled(m, n, k, a2, b2, self.arity > 2) is not None:
            if isinstance(m * n * k, Size) and not batch:
                return False  # decided at run time (see tiled_gemm.emit): no wake-up at the start
            return m * n * k >= tiled_gemm.PARALLEL_MACS or self._splits_batch(batch, m, n, k)
        return self._transposed_b(args) and m * n * k >= tiled_gemm.PARALLEL_MACS

    @staticmethod
    def _splits_batch(batch: tuple, m: int, n: int, k: int) -> bool:
        """Whether a batch of tiled products is split by matrices across the pool (each
        thread computing whole products): eight matrices or more, together above the size
        that splits one product.  Interleaved on 2 threads, against splitting each large
        product and running small ones alone: the CNN's training step in 0.87-0.94x the
        time, its inference in 0.88x."""
        matrices = math.prod(batch)
        return matrices >= 8 and tiled_gemm.PARALLEL_MACS <= matrices * m * n * k

    def scratch(self, args: list[Place]) -> list[tuple]:
        swapped = self._swapped(args)
        if swapped is not None:
            return [((swapped.m, swapped.n), self.dtype)]
        if not self._transposed_b(args):
            return []
        _, _, n, k, _, _, _, _ = self._matrices(args[:2], self.node.type.shape)
        return [((k, n), args[1].dtype)]

    def contiguous_args(self, args: list[Place]) -> list[bool]:
        batch, m, n, k, a2, b2, _, _ = self._matrices(args, self.node.type.shape)
        rest = [False] * (len(args) - 2)
        if self._tiled(m, n, k, a2, b2, len(args) > 2) is not None or self._transposed_b(args):
            return [tiled_gemm.copies_a(m, a2), False] + rest
        if self.gemm is None or (a2 is not None and tiled_gemm.small_enough(m, n, k, self.dtype)):
            # tiled after copying: the broadcast form reads any a and a row-major b
            return [a2 is None, True] + rest
        need = [a2 is None or matrix_layout(m, k, *a2) is None, matrix_layout(k, n, *b2) is None]
        return need + rest

    def emit(self, at: Emission, args: list[Operand], out: Operand) -> None:
        b_ = at.builder
        shape = out.place.shape
        args, scratch = args[: self.arity], args[self.arity :]
        batch, m, n, k, a2, b2, a_batch, b_batch = self._matrices([o.place for o in args], shape)
        source_b2 = b2
        copied_b = scratch[0].pointer if scratch else None  # B is copied there row-major, then read
        if copied_b is not None:
            b2 = (n, 1)
        has_bias = self.linear and len(args) > 2
        float_type = storage_type(out.place.dtype)
        swapped = self._swapped([o.place for o in args])
        if swapped is not None:  # C.T into the scratch, then transposed into C
            pointers = [args[1].pointer, args[0].pointer, scratch[0].pointer]
            tiled_gemm.emit(b_, pointers, float_type, swapped, host_tiling(out.place.dtype))
            bias = args[2].pointer if has_bias else None
            copy_matrix(at, scratch[0].pointer, (1, m), out.pointer, m, n, bias)
            return
        if has_bias or k == 0:
            _fill_rows(at, out, args[2] if has_bias else None)
        if 0 in shape or k == 0:
            return
        out_batch = contiguous_strides(batch + (m * n,))[:-1]
        tiled = self._tiled(m, n, k, a2, b2, has_bias)
        if tiled is not None:
            tiling = host_tiling(out.place.dtype)
        else:
            a_trans, lda = matrix_layout(m, k, *a2)
            b_trans, ldb = matrix_layout(k, n, *b2)
            gemm = self.gemm.declare(at.module, float_type)
            integer = ir.IntType(self.gemm.int_bits)

        # a batch of products (a convolution's per-image products) is split by matrices
        by_matrices = tiled is not None and self._splits_batch(batch, m, n, k)

        def nest(b: ir.IRBuilder, pointers: list, start=None, count=None) -> None:
            indices: list[ir.Value] = []
            offset = offset_function(b, indices)

            def one() -> None:  # one matrix of the (broadcast) batch
                pa = b.gep(pointers[0], [offset(a_batch)])
                pb = b.gep(pointers[1], [offset(b_batch)])
                pc = b.gep(pointers[2], [offset(out_batch)])
                if copied_b is not None:
                    copy_matrix(at, pb, source_b2, copied_b, k, n)
                    pb = copied_b
                if tiled is not None:
                    tiled_gemm.emit(b, [pa, pb, pc], float_type, tiled, tiling, split=not by_matrices)
                    return
                m_, n_, k_, lda_, ldb_ = (size_value(b, v, integer) for v in (m, n, k, lda, ldb))
                b.call(
                    gemm,
                    [ir.Constant(I32, blas.ROW_MAJOR), ir.Constant(I32, a_trans), ir.Constant(I32, b_trans)]
                    + [m_, n_, k_, ir.Constant(float_type, 1.0), pa, lda_, pb, ldb_]
                    + [ir.Constant(float_type, 1.0 if has_bias else 0.0), pc, n_],
                )

            loop_nest(b, batch, indices, one, "batch", start, count)

        pointers = [args[0].pointer, args[1].pointer, out.pointer]
        if by_matrices:
            wake = math.prod(batch) * m * n * k >= tiled_gemm.WAKE_MACS
            split_outer_loop(b_, pointers, batch[0], 1, nest, wake)
        else:
            nest(b_, pointers)


def _fill_rows(at: Emission, out: Operand, bias: Operand | None) -> None:
    """Write ``bias`` (broadcast along the last dim) or zeros into every row of ``out``."""
    n = out.place.shape[-1]
    rows = math.prod(out.place.shape[:-1])
    if rows * n == 0:
        return
    dtype = out.place.dtype
    bias_stride = None if bias is None else bias.place.strides[-1]

    def build(builder: ir.IRBuilder, pointers) -> None:
        indices: list[ir.Value] = []

        def element() -> None:
            row, col = indices
            if bias_stride is None:
                value = ir.Constant(storage_type(dtype), 0.0)
            else:
                value = builder.load(
                    builder.gep(pointers[1], [builder.mul(col, size_value(builder, bias_stride))])
                )
            builder.store(
                value, builder.gep(pointers[0], [builder.add(builder.mul(row, size_value(builder, n)), col)])
            )

        loop_nest(builder, (rows, n), indices, element, "fill")

    operands = [out.pointer] + ([] if bias is None else [bias.pointer])
    at.call(("fill_rows", rows, n, bias_stride, dtype.str), "fill_rows", operands, build)


def gemm_lowering(node: Node, arg_types: list) -> Lowering | str:
    """``node``'s (a matmul's or a linear's) lowering, or why it stays with numpy."""
    dtype = np.dtype(node.type.dtype.np)
    if dtype not in (np.float32, np.float64):
        return f"{node.op} of {dtype}"
    if any(np.dtype(t.dtype.np) != dtype for t in arg_types):
        return f"{node.op} of mixed dtypes"
    return GemmLowering(node, blas.gemm(dtype), len(arg_types))


def transpose_shared_operands_once(graph: Graph) -> Graph:
    """A copy of ``graph`` where a transposed matrix that two or more products take as
    their right operand is transposed once, by an explicit copy they all read.

    A recurrent layer multiplies its state by the transposed weight ``w.T`` at every
    time step.  Read in place, ``w.T`` is a product in the dot form; read as a
    contiguous copy, in the broadcast form, which is faster (16x128x512: 11.5 against
    16.4 us): one copy of ``w`` per run pays for itself from the second product on.
    """
    out = graph.copy()
    F = GraphOps(out)
    for nid in out.order():
        node = out.node(nid)
        if node.op != "permute" or tuple(node.attrs.get("dims", ())) != (1, 0):
            continue
        (source,) = out.args(nid)
        source_op = OPS.get(out.node(source).op)
        if source_op is not None and source_op.view is not None:
            continue  # the source may be transposed itself: the permute may be row-major
        readers = [
            u for u in out.users(nid) if out.node(u).op == "matmul" and out.args(u) == [out.args(u)[0], nid]
        ]
        if len(readers) < 2:
            continue
        copied = F.copy(F.value(nid))
        out.node(copied.id).source = node.source
        for user in readers:
            out.nx.remove_edge(nid, user, key=1)
            out.nx.add_edge(copied.id, user, key=1)
    return out
