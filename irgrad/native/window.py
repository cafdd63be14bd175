"""Native window kernels: im2col/col2im in the ``"cols"`` layout and max pooling.

Every kernel walks one (H, W) plane per image and channel (``planes = N*C``).  The
window geometry (kernel, stride, dilation) is compiled in as constants, so the window
loops unroll into straight-line code; the sizes are runtime arguments, so one compiled
function per dtype and geometry serves every batch and image size, and a call on a
range of planes is a call on those planes alone.  Eager calls run on the calling
thread: splitting planes across two threads made them 25-40% faster alone, but the
eager W3 training step slower, since numpy's OpenBLAS workers keep spinning on the
other core between GEMMs.  Compiled code, whose GEMMs run on irgrad's own pool, splits
large calls by planes across that pool (:mod:`irgrad.codegen.windows`).

The wrappers take 4-D arrays of float32 or float64 (copied to C order if need be)
and return ``None`` otherwise (the op then runs its numpy path); they allocate the
outputs themselves from the shapes the op's shape rule checked, so a kernel never
reads or writes outside an array it was given.

The max-pool kernels follow PyTorch's CPU loop: an element replaces the running
maximum when it is greater or NaN, so the first maximum in raster order wins, or the
window's last NaN.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable

import llvmlite.ir as ir
import numpy as np

from . import jit
from .loops import FLOATS, I64, const, for_range, mul_add

# Output columns a max-pool vector holds.  Pooled rows are short (W3's 7 and 14), and a
# row's columns past the last whole vector run one by one, at several times the cost:
# 4 lanes (128-bit float32 vectors) against the 8 LLVM picks on an AVX2 host ran W3's
# pools in 0.17 and 0.29 ms against 0.29 and 0.40, and 112-wide images no slower (2.39
# against 2.71 ms); float64 (whose default is 4 lanes there) in 2 lanes ran slower.
_POOL_LANES = 4
_INDICES = {np.dtype(np.int8): ir.IntType(8), np.dtype(np.int16): ir.IntType(16), np.dtype(np.int64): I64}
_SIZES = ("planes", "h", "w", "oh", "ow")  # runtime arguments
_WINDOW = ("kh", "kw", "sh", "sw", "dh", "dw")  # compile-time constants


class _Kernel:
    """A function ``name(ptr..., planes, h, w, oh, ow)`` being built for one window
    geometry: its builder, pointer arguments and sizes (``g``: the runtime sizes and
    the window's constants), by name."""

    def __init__(self, name: str, pointers: dict[str, ir.Type], window: tuple[int, ...]) -> None:
        self.name = f"{name}_" + "_".join(map(str, window))
        self.module = jit.new_module(self.name)
        args = [ir.PointerType(t) for t in pointers.values()] + [I64] * len(_SIZES)
        fn = ir.Function(self.module, ir.FunctionType(ir.VoidType(), args), self.name)
        for arg in fn.args[: len(pointers)]:
            arg.add_attribute("noalias")
        self.builder = ir.IRBuilder(fn.append_basic_block("entry"))
        self.ptr = dict(zip(pointers, fn.args))
        self.g = dict(zip(_SIZES, fn.args[len(pointers) :]))
        self.g.update(zip(_WINDOW, map(const, window)))

    def at(self, array: str, index: ir.Value) -> ir.Value:
        return self.builder.gep(self.ptr[array], [index], inbounds=True)

    def load(self, array: str, index: ir.Value) -> ir.Value:
        return self.builder.load(self.at(array, index))

    def store(self, array: str, index: ir.Value, value: ir.Value) -> None:
        self.builder.store(value, self.at(array, index))

    def add_to(self, array: str, index: ir.Value, value: ir.Value) -> None:
        pointer = self.at(array, index)
        self.builder.store(self.builder.fadd(self.builder.load(pointer), value), pointer)

    def compile(self) -> Callable:
        self.builder.ret_void()
        signature = ctypes.CFUNCTYPE(
            None, *[ctypes.c_void_p] * len(self.ptr), *[ctypes.c_int64] * len(_SIZES)
        )
        return jit.compile_function(self.module, self.name, signature)


def _window_source(k: _Kernel, plane, oy, ox, ki, kj) -> ir.Value:
    """Flat index of window element (ki, kj) of output position (oy, ox) in ``plane``."""
    g, b = k.g, k.builder
    row = mul_add(b, (oy, g["sh"]), (ki, g["dh"]))
    col = mul_add(b, (ox, g["sw"]), (kj, g["dw"]))
    return mul_add(b, (mul_add(b, (plane, g["h"]), row), g["w"]), col)


def _zero_plane(k: _Kernel, array: str, plane: ir.Value) -> None:
    """Set image plane ``plane`` of ``array`` to zero.  The accumulating kernels start
    from zeros; clearing a plane just before filling it keeps it in cache, where a
    separate ``np.zeros`` would be one more pass over the whole image."""
    g, b = k.g, k.builder
    size = b.mul(g["h"], g["w"])
    zero = ir.Constant(k.ptr[array].type.pointee, 0.0)
    with for_range(b, size, "z") as i:
        k.store(array, mul_add(b, (plane, size), i), zero)


def _build_im2col(float_type: ir.Type, window: tuple, accumulate: bool) -> Callable:
    """im2col (x -> cols) or, with ``accumulate``, col2im (cols -> image, summed)."""
    name = "col2im" if accumulate else "im2col"
    k = _Kernel(f"{name}_{float_type}", {"image": float_type, "cols": float_type}, window)
    g, b = k.g, k.builder
    with for_range(b, g["planes"], "p") as p:
        if accumulate:
            _zero_plane(k, "image", p)
        with for_range(b, g["kh"], "ki") as ki, for_range(b, g["kw"], "kj") as kj:
            _copy_window_rows(k, p, ki, kj, accumulate)
    return k.compile()


def _copy_window_rows(k: _Kernel, p, ki, kj, accumulate: bool) -> None:
    """The (oh, ow) plane of window element (ki, kj): copied out of, or added into, the image."""
    g, b = k.g, k.builder
    window = mul_add(b, (mul_add(b, (p, g["kh"]), ki), g["kw"]), kj)
    with for_range(b, g["oh"], "oy") as oy:
        row = mul_add(b, (mul_add(b, (window, g["oh"]), oy), g["ow"]))
        with for_range(b, g["ow"], "ox") as ox:
            source = _window_source(k, p, oy, ox, ki, kj)
            column = b.add(row, ox)
            if accumulate:
                k.add_to("image", source, k.load("cols", column))
            else:
                k.store("cols", column, k.load("image", source))


def _build_max_pool(float_type: ir.Type, window: tuple, index_type: ir.Type) -> Callable:
    """Each window's maximum (into ``out``) and its position in the window (into
    ``positions``).

    PyTorch's rule (take an element when it is greater or NaN) is kept as two running
    choices, each selected by one comparison: the first greatest element, and the last
    NaN, which wins when there is one.  One comparison per select is what x86 does
    without branches (``maxss``, ``blendv``); a select on the *or* of the two tests
    became a branch per element in the scalar loops (windows narrower than a vector,
    W3's 7-wide second pool), mispredicted half the time on random data: 15 ns per
    output against 2."""
    arrays = {"image": float_type, "out": float_type, "positions": index_type}
    k = _Kernel(f"max_pool_{float_type}_{index_type}", arrays, window)
    g, b = k.g, k.builder
    # The running choices live in stack slots; LLVM promotes them to registers.
    best, best_at = b.alloca(float_type, name="best"), b.alloca(I64, name="best_at")
    nan, nan_at = b.alloca(float_type, name="nan"), b.alloca(I64, name="nan_at")
    with (
        for_range(b, g["planes"], "p") as p,
        for_range(b, g["oh"], "oy") as oy,
        for_range(b, g["ow"], "ox", lanes=_POOL_LANES) as ox,
    ):
        b.store(k.load("image", _window_source(k, p, oy, ox, const(0), const(0))), best)
        b.store(const(0), best_at)
        b.store(const(-1), nan_at)
        b.store(ir.Constant(float_type, 0.0), nan)
        with for_range(b, g["kh"], "ki") as ki, for_range(b, g["kw"], "kj") as kj:
            candidate = k.load("image", _window_source(k, p, oy, ox, ki, kj))
            position = mul_add(b, (ki, g["kw"]), kj)
            for value, at, take in (
                (best, best_at, b.fcmp_ordered(">", candidate, b.load(best))),
                (nan, nan_at, b.fcmp_unordered("uno", candidate, candidate)),
            ):
                b.store(b.select(take, candidate, b.load(value)), value)
                b.store(b.select(take, position, b.load(at)), at)
        any_nan = b.icmp_signed(">=", b.load(nan_at), const(0))
        at = mul_add(b, (mul_add(b, (p, g["oh"]), oy), g["ow"]), ox)
        k.store("out", at, b.select(any_nan, b.load(nan), b.load(best)))
        position = b.select(any_nan, b.load(nan_at), b.load(best_at))
        k.store("positions", at, position if index_type == I64 else b.trunc(position, index_type))
    return k.compile()


def _build_max_pool_scatter(float_type: ir.Type, window: tuple, index_type: ir.Type) -> Callable:
    """A zero image, then image[window position] += g for every output position
    (positions outside the window are skipped)."""
    arrays = {"g": float_type, "positions": index_type, "image": float_type}
    k = _Kernel(f"max_pool_scatter_{float_type}_{index_type}", arrays, window)
    g, b = k.g, k.builder
    window_size = b.mul(g["kh"], g["kw"])
    with for_range(b, g["planes"], "p") as p:
        _zero_plane(k, "image", p)
        _scatter_plane(k, p, index_type, window_size)
    return k.compile()


def _scatter_plane(k: _Kernel, p, index_type: ir.Type, window_size) -> None:
    """Add each of plane ``p``'s pooled gradients at its window position."""
    g, b = k.g, k.builder
    with for_range(b, g["oh"], "oy") as oy, for_range(b, g["ow"], "ox") as ox:
        index = mul_add(b, (mul_add(b, (p, g["oh"]), oy), g["ow"]), ox)
        position = k.load("positions", index)
        position = b.sext(position, I64) if index_type != I64 else position
        inside = b.and_(b.icmp_signed(">=", position, const(0)), b.icmp_signed("<", position, window_size))
        with b.if_then(inside):
            ki = b.sdiv(position, g["kw"])
            kj = b.sub(position, b.mul(ki, g["kw"]))
            k.add_to("image", _window_source(k, p, oy, ox, ki, kj), k.load("g", index))


_BUILDERS = {
    "im2col": lambda f, w, i: _build_im2col(f, w, accumulate=False),
    "col2im": lambda f, w, i: _build_im2col(f, w, accumulate=True),
    "max_pool": _build_max_pool,
    "max_pool_scatter": _build_max_pool_scatter,
}


def _function(name: str, window: tuple, float_dtype, index_dtype=None) -> Callable:
    """Kernel ``name`` for these dtypes and window geometry, compiled on first use."""
    index_type = _INDICES[index_dtype] if index_dtype is not None else None
    return jit.kernel(
        (name, float_dtype, index_dtype, window),
        lambda: _BUILDERS[name](FLOATS[float_dtype], window, index_type),
    )


def routine_address(name: str, window: tuple, float_dtype, index_dtype=None) -> int:
    """The address of window kernel ``name`` (``im2col``, ``col2im``, ``max_pool``,
    ``max_pool_scatter``) for ``window`` = kernel + stride + dilation, compiled on first
    use: generated code calls these as routines."""
    index_dtype = None if index_dtype is None else np.dtype(index_dtype)
    return ctypes.cast(
        _function(name, tuple(window), np.dtype(float_dtype), index_dtype), ctypes.c_void_p
    ).value


def _run(name: str, arrays: tuple, shape, pooled, window: tuple, float_dtype, index_dtype=None) -> None:
    """Run kernel ``name`` for these dtypes and window geometry, compiling it on first use."""
    fn = _function(name, window, float_dtype, index_dtype)
    n, c, h, w = shape
    fn(*[jit.address(a) for a in arrays], n * c, h, w, pooled[0], pooled[1])


def _contiguous(*arrays: np.ndarray) -> tuple[np.ndarray, ...] | None:
    """The arrays as C-contiguous 4-D arrays of one supported float dtype (the
    first's), or None when the kernels do not cover them."""
    if not jit.enabled() or arrays[0].dtype not in FLOATS or any(a.ndim != 4 for a in arrays):
        return None
    return tuple(np.ascontiguousarray(a) for a in arrays)


def _window(kernel, stride, dilation) -> tuple[int, ...]:
    return (*kernel, *stride, *dilation)


@jit.numpy_when_full
def im2col(x: np.ndarray, pooled, kernel, stride, dilation) -> np.ndarray | None:
    """(N, C*kh*kw, oh*ow) columns of ``x`` (the ``"cols"`` layout), or None."""
    arrays = _contiguous(x)
    if arrays is None:
        return None
    (x,) = arrays
    n, c = x.shape[:2]
    cols = np.empty((n, c * kernel[0] * kernel[1], pooled[0] * pooled[1]), dtype=x.dtype)
    _run("im2col", (x, cols), x.shape, pooled, _window(kernel, stride, dilation), x.dtype)
    return cols


@jit.numpy_when_full
def col2im(cols: np.ndarray, shape, pooled, kernel, stride, dilation) -> np.ndarray | None:
    """Sum ``"cols"``-layout columns back into an image of ``shape``, or None."""
    if not jit.enabled() or cols.dtype not in FLOATS:
        return None
    cols = np.ascontiguousarray(cols)
    image = np.empty(shape, dtype=cols.dtype)  # the kernel zeroes it
    _run("col2im", (image, cols), shape, pooled, _window(kernel, stride, dilation), cols.dtype)
    return image


@jit.numpy_when_full
def max_pool(
    x: np.ndarray, pooled, kernel, stride, dilation, index_dtype
) -> tuple[np.ndarray, np.ndarray] | None:
    """(each window's maximum, its position in the window as ``index_dtype``), or None."""
    index_dtype = np.dtype(index_dtype)
    arrays = _contiguous(x)
    if arrays is None or index_dtype not in _INDICES:
        return None
    (x,) = arrays
    out = np.empty(x.shape[:2] + tuple(pooled), dtype=x.dtype)
    positions = np.empty(out.shape, dtype=index_dtype)
    _run(
        "max_pool",
        (x, out, positions),
        x.shape,
        pooled,
        _window(kernel, stride, dilation),
        x.dtype,
        index_dtype,
    )
    return out, positions


@jit.numpy_when_full
def max_pool_scatter(
    g: np.ndarray, positions: np.ndarray, shape, kernel, stride, dilation
) -> np.ndarray | None:
    """A zero image of ``shape`` with ``g`` added at each window's position, or None."""
    arrays = _contiguous(g, positions)
    if arrays is None or positions.dtype not in _INDICES or positions.shape != g.shape:
        return None
    g, positions = arrays
    image = np.empty(shape, dtype=g.dtype)  # the kernel zeroes it
    window = _window(kernel, stride, dilation)
    _run("max_pool_scatter", (g, positions, image), shape, g.shape[2:], window, g.dtype, positions.dtype)
    return image
