"""Convolution windows and max pooling in native code: irgrad's window kernels as routines.

``im2col``/``col2im`` in the ``"cols"`` layout (a convolution is those and a BLAS
call), ``max_pool``, ``max_pool_argmax`` and ``max_pool_scatter`` call the eager
native kernels of :mod:`irgrad.native.window` (one compiled function per dtype and
window geometry, registered as a symbol so object code stays cacheable).  The max-pool
kernel computes a window's maximum and its position together; ``max_pool`` keeps the
positions in a scratch buffer, ``max_pool_argmax`` the maxima.

Every kernel walks (H, W) planes, one per image and channel, and writes each plane's
output alone: a large call is split across the thread pool by planes, each part calling
the kernel on its own planes.  On W3's training step at 2 threads these calls had been
a third of the step, run on one core while the other waited.
"""

from __future__ import annotations

import llvmlite.binding as llvm
import llvmlite.ir as ir
import numpy as np

from ..ir.graph import FUSED, RESULT, Graph, Node
from ..native import window as native_window
from ..native.loops import I64
from ..ops.conv import out_size, window_index_dtype
from .emission import Emission, Lowering, Operand
from .parallel import PARALLEL_ELEMENTS, WAKE_ELEMENTS, split_outer_loop
from .run_time import size_value

_INDEX_DTYPES = ("int8", "int16", "int64")
_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))  # the window kernels' dtypes


class WindowLowering(Lowering):
    """A call of window kernel ``kernel_name`` on contiguous 4-D float images.

    ``arrays`` names what each pointer the kernel takes holds, in its order, each a
    sequence of per-plane blocks: ``"image"`` (h*w elements a plane), ``"cols"`` (the
    columns, kh*kw*oh*ow) or ``"pooled"`` (oh*ow).
    """

    arrays: tuple[str, ...] = ()

    def __init__(
        self, node: Node, kernel_name: str, image_shape: tuple, dtype: np.dtype, index_dtype=None
    ) -> None:
        super().__init__(node)
        attrs = node.attrs
        self.window = (*attrs["kernel"], *attrs["stride"], *attrs["dilation"])
        n, c, h, w = image_shape
        self.sizes = (n * c, h, w) + tuple(
            out_size(size, k, s, d)
            for size, k, s, d in zip((h, w), attrs["kernel"], attrs["stride"], attrs["dilation"])
        )
        self.pooled = (n, c) + self.sizes[3:]
        self.index_dtype = index_dtype
        self.symbol = f"irgrad_{kernel_name}_{dtype.char}_{index_dtype or ''}_" + "_".join(
            map(str, self.window)
        )
        llvm.add_symbol(
            self.symbol, native_window.routine_address(kernel_name, self.window, dtype, index_dtype)
        )

    def contiguous_args(self, args) -> list[bool]:
        return [True] * len(args)

    def _plane_sizes(self) -> list[int]:
        """Elements of one plane of each of :attr:`arrays`."""
        _, h, w, oh, ow = self.sizes
        kh, kw = self.window[:2]
        per_plane = {"image": h * w, "cols": kh * kw * oh * ow, "pooled": oh * ow}
        return [per_plane[kind] for kind in self.arrays]

    def _elements(self) -> int:
        return self.sizes[0] * sum(self._plane_sizes())

    def splits(self, places) -> bool:
        return self.sizes[0] > 1 and self._elements() >= PARALLEL_ELEMENTS

    def _call(self, at: Emission, pointers: list[ir.Value]) -> None:
        """Call the kernel on ``pointers`` (see :attr:`arrays`): over all planes, or split
        across the pool, each part on its planes' blocks."""
        types = [p.type for p in pointers] + [I64] * len(self.sizes)
        fn = at.module.globals.get(self.symbol) or ir.Function(
            at.module, ir.FunctionType(ir.VoidType(), types), self.symbol
        )
        plane_sizes = self._plane_sizes()
        planes, *extents = self.sizes

        def call(b: ir.IRBuilder, ptrs: list, start=None, count=None) -> None:
            if start is not None:
                ptrs = [
                    b.gep(p, [b.mul(start, size_value(b, n))], inbounds=True)
                    for p, n in zip(ptrs, plane_sizes)
                ]
            counts = [size_value(b, planes) if count is None else count]
            b.call(fn, ptrs + counts + [size_value(b, n) for n in extents])

        if self.splits(None):
            split_outer_loop(at.builder, pointers, planes, 1, call, self._elements() >= WAKE_ELEMENTS)
        else:
            call(at.builder, pointers)


class Im2col(WindowLowering):
    arrays = ("image", "cols")

    def emit(self, at: Emission, args: list[Operand], out: Operand) -> None:
        self._call(at, [args[0].pointer, out.pointer])


class Col2im(WindowLowering):
    arrays = ("image", "cols")

    def emit(self, at: Emission, args: list[Operand], out: Operand) -> None:
        self._call(at, [out.pointer, args[0].pointer])


class MaxPool(WindowLowering):
    """The maxima; the positions go to a scratch buffer."""

    arrays = ("image", "pooled", "pooled")

    def scratch(self, args) -> list[tuple]:
        return [(self.pooled, np.dtype(self.index_dtype))]

    def emit(self, at: Emission, args: list[Operand], out: Operand) -> None:
        x, positions = args
        self._call(at, [x.pointer, out.pointer, positions.pointer])


class MaxPoolArgmax(WindowLowering):
    """The positions; the maxima (recomputed, as the kernel makes both) go to scratch."""

    arrays = ("image", "pooled", "pooled")

    def scratch(self, args) -> list[tuple]:
        return [(self.pooled, args[0].dtype)]

    def emit(self, at: Emission, args: list[Operand], out: Operand) -> None:
        x, _, maxima = args
        self._call(at, [x.pointer, maxima.pointer, out.pointer])


class MaxPoolPair(MaxPool):
    """A pool's maxima and their positions, both results of one call (see
    :func:`share_pool_positions`): the positions are the group's later result, passed
    where :class:`MaxPool` passes its scratch buffer."""

    def scratch(self, args) -> list[tuple]:
        return []


class MaxPoolScatter(WindowLowering):
    arrays = ("pooled", "pooled", "image")

    def emit(self, at: Emission, args: list[Operand], out: Operand) -> None:
        g, positions = args
        self._call(at, [g.pointer, positions.pointer, out.pointer])


def window_lowering(node: Node, arg_types: list) -> Lowering | str:
    """The window op's lowering, or why it has none."""
    dtype = np.dtype(arg_types[0].dtype.np)
    if dtype not in _FLOATS:
        return f"{node.op} of {dtype}"
    attrs = node.attrs
    if node.op in ("im2col", "col2im"):
        if attrs.get("layout", "rows") != "cols":
            return f"{node.op} in the {attrs.get('layout', 'rows')} layout"
        image = tuple(arg_types[0].shape) if node.op == "im2col" else tuple(attrs["shape"])
        return (Im2col if node.op == "im2col" else Col2im)(node, node.op, image, dtype)
    window_size = attrs["kernel"][0] * attrs["kernel"][1]
    index = window_index_dtype(window_size).np
    if node.op == "max_pool_scatter":
        index = np.dtype(arg_types[1].dtype.np)
        if index.name not in _INDEX_DTYPES:
            return f"max_pool_scatter with {index} positions"
        return MaxPoolScatter(node, "max_pool_scatter", tuple(attrs["shape"]), dtype, index)
    lowering = MaxPool if node.op == "max_pool" else MaxPoolArgmax
    return lowering(node, "max_pool", tuple(arg_types[0].shape), dtype, np.dtype(index))


WINDOW_OPS = ("im2col", "col2im", "max_pool", "max_pool_argmax", "max_pool_scatter")


def share_pool_positions(g: Graph) -> Graph:
    """A copy of ``g`` in which ``max_pool(x)`` and the ``max_pool_argmax(x, max_pool(x))``
    of its gradient are one fused group with two results (the pool's maxima, then their
    positions): the kernel finds both at once, so a training step no longer pools each
    image twice (the backward's positions were the forward's pool computed again)."""
    g = g.copy()
    for nid in g.order():
        if nid not in g:  # a pool already joined with its positions
            continue
        node = g.node(nid)
        if node.op != "max_pool_argmax":
            continue
        x, pooled = g.args(nid)
        pool = g.node(pooled)
        if pool.op != "max_pool" or g.args(pooled) != [x] or pool.attrs != node.attrs:
            continue
        body = Graph(f"{g.name}.pool{pooled}")
        image = body.add_input("in0", g.node(x).type)
        maxima = body.add_op("max_pool", [image], pool.attrs, pool.type, source=pool.source)
        positions = body.add_op("max_pool_argmax", [image, maxima], node.attrs, node.type, source=node.source)
        body.set_outputs([maxima, positions])
        group = g.add_op(FUSED, [x], {}, pool.type, source=pool.source, body=body)
        later = g.add_op(RESULT, [group], {"index": 1}, node.type)
        g.replace_uses(nid, later)
        g.remove(nid)
        g.replace_uses(pooled, group)
        g.remove(pooled)
    return g


def pool_pair_lowering(body: Graph) -> Lowering | str | None:
    """The lowering of a group :func:`share_pool_positions` made (the reason there is none,
    for an image of another dtype), or None for another body."""
    ops = [body.node(n) for n in body.order() if body.node(n).is_op]
    if [n.op for n in ops] != ["max_pool", "max_pool_argmax"] or len(body.outputs) != 2:
        return None
    pool, positions = ops
    image = body.node(body.inputs[0]).type
    dtype, index = np.dtype(image.dtype.np), np.dtype(positions.type.dtype.np)
    if dtype not in _FLOATS:
        return f"max_pool of {dtype}"
    return MaxPoolPair(pool, "max_pool", tuple(image.shape), dtype, index)
