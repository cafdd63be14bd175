"""Native elementwise kernels.

``select_zero`` is ``np.where(cond, a, 0)`` (or ``np.where(cond, 0, a)``) for
arrays of one shape: the gradient rules that zero a gradient where a mask is false.
numpy's ``where`` branches per element; a branch-free mask costs it four passes; one
vectorized loop does it here.  ``relu_grad`` is relu's gradient in one pass, with no
boolean mask in between.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable

import llvmlite.ir as ir
import numpy as np

from . import jit
from .loops import FLOATS, I64, for_range


def _build(name: str, float_type: ir.Type) -> Callable:
    """``select_zero``: out[i] = a[i] if (cond[i] != 0) != flip else +0.0;
    ``relu_grad``: out[i] = 0.0 if y[i] <= 0 else g[i] (a NaN y passes g), for i < n."""
    module = jit.new_module(f"{name}_{float_type}")
    i8 = ir.IntType(8)
    first = i8 if name == "select_zero" else float_type
    args = [ir.PointerType(first), ir.PointerType(float_type), ir.PointerType(float_type), I64, I64]
    fn = ir.Function(module, ir.FunctionType(ir.VoidType(), args), module.name)
    mask, a, out, n, flip = fn.args
    for pointer in (mask, a, out):
        pointer.add_attribute("noalias")
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    zero = ir.Constant(float_type, 0.0)
    flip = b.icmp_signed("!=", flip, ir.Constant(I64, 0))
    with for_range(b, n, "i") as i:
        m = b.load(b.gep(mask, [i], inbounds=True))
        if name == "select_zero":
            keep = b.xor(b.icmp_signed("!=", m, ir.Constant(i8, 0)), flip)
        else:
            keep = b.fcmp_unordered(">", m, zero)  # not (y <= 0): true for NaN
        value = b.load(b.gep(a, [i], inbounds=True))
        b.store(b.select(keep, value, zero), b.gep(out, [i], inbounds=True))
    b.ret_void()
    signature = ctypes.CFUNCTYPE(
        None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64
    )
    return jit.compile_function(module, module.name, signature)


def _run(name: str, first: np.ndarray, a: np.ndarray, flip: int) -> np.ndarray:
    out = np.empty(a.shape, dtype=a.dtype)
    first, a = np.ascontiguousarray(first), np.ascontiguousarray(a)  # (0-d arrays become 1-d)
    fn = jit.kernel((name, a.dtype), lambda: _build(name, FLOATS[a.dtype]))
    fn(jit.address(first), jit.address(a), jit.address(out), a.size, flip)
    return out


@jit.numpy_when_full
def select_zero(cond: np.ndarray, a: np.ndarray, keep_where_true: bool) -> np.ndarray | None:
    """``where(cond, a, 0)`` (``keep_where_true``) or ``where(cond, 0, a)`` for a bool
    ``cond`` and a float ``a`` of one shape; None when the kernel does not cover them."""
    if not jit.enabled() or a.dtype not in FLOATS or cond.dtype != np.bool_ or cond.shape != a.shape:
        return None
    return _run("select_zero", cond, a, 0 if keep_where_true else 1)


@jit.numpy_when_full
def relu_grad(g: np.ndarray, y: np.ndarray) -> np.ndarray | None:
    """``where(y <= 0, 0, g)`` for float arrays of one shape and dtype, or None."""
    if not jit.enabled() or g.dtype not in FLOATS or y.dtype != g.dtype or y.shape != g.shape:
        return None
    return _run("relu_grad", y, g, 0)
