"""Native elementwise kernels.

``select_zero`` is ``np.where(cond, a, 0)`` (or ``np.where(cond, 0, a)``) for
arrays of one shape: the gradient of relu, of max pooling's mask and of every other
rule that zeroes a gradient where a mask is false.  numpy's ``where`` branches per
element; a branch-free mask costs it four passes; one vectorized loop does it here.
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Callable

import llvmlite.ir as ir
import numpy as np

from . import jit
from .loops import I64, for_range

_FLOATS = {np.dtype(np.float32): ir.FloatType(), np.dtype(np.float64): ir.DoubleType()}
_KERNELS: dict[np.dtype, Callable] = {}
_LOCK = threading.Lock()


def _build_select_zero(float_type: ir.Type) -> Callable:
    """out[i] = a[i] if (cond[i] != 0) != flip else +0.0, for i < n."""
    name = f"select_zero_{float_type}"
    module = jit.new_module(name)
    i8 = ir.IntType(8)
    args = [ir.PointerType(i8), ir.PointerType(float_type), ir.PointerType(float_type), I64, I64]
    fn = ir.Function(module, ir.FunctionType(ir.VoidType(), args), name)
    cond, a, out, n, flip = fn.args
    for pointer in (cond, a, out):
        pointer.add_attribute("noalias")
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    flip = b.icmp_signed("!=", flip, ir.Constant(I64, 0))
    with for_range(b, n, "i") as i:
        hit = b.icmp_signed("!=", b.load(b.gep(cond, [i], inbounds=True)), ir.Constant(i8, 0))
        keep = b.xor(hit, flip)
        value = b.load(b.gep(a, [i], inbounds=True))
        b.store(b.select(keep, value, ir.Constant(float_type, 0.0)), b.gep(out, [i], inbounds=True))
    b.ret_void()
    signature = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64)
    return jit.compile_function(module, name, signature)


def select_zero(cond: np.ndarray, a: np.ndarray, keep_where_true: bool) -> np.ndarray | None:
    """``where(cond, a, 0)`` (``keep_where_true``) or ``where(cond, 0, a)`` for a bool
    ``cond`` and a float ``a`` of one shape; None when the kernel does not cover them."""
    if not jit.enabled() or a.dtype not in _FLOATS or cond.dtype != np.bool_ or cond.shape != a.shape:
        return None
    out = np.empty(a.shape, dtype=a.dtype)
    cond, a = np.ascontiguousarray(cond), np.ascontiguousarray(a)  # (0-d arrays become 1-d)
    fn = _KERNELS.get(a.dtype)
    if fn is None:
        with _LOCK:
            fn = _KERNELS.get(a.dtype) or _KERNELS.setdefault(a.dtype, _build_select_zero(_FLOATS[a.dtype]))
    fn(cond.ctypes.data, a.ctypes.data, out.ctypes.data, a.size, 0 if keep_where_true else 1)
    return out
