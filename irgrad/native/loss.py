"""Native kernels of the classification loss: ``log_softmax`` over rows, ``nll_loss``
and its gradient.

Every classifier's step runs these on small arrays (a batch of logits), where numpy
spends its time in per-call overhead: the numpy ``log_softmax`` is seven passes,
``nll_loss`` nine, each a few microseconds on a 64x10 batch.  Here each is one call.

The kernels take C-ordered float32/float64 arrays whose class dim is the last one,
with int64 targets; the wrappers return ``None`` for anything else, and the op runs
its numpy path.  The arithmetic is the numpy path's, in the same order within a row,
except that sums over a row may be vectorized (reassociated), so results can differ
from it in the last bit.
"""

from __future__ import annotations

import ctypes
import math
from collections.abc import Callable

import llvmlite.ir as ir
import numpy as np

from . import jit
from .exp import exp_nonpositive
from .loops import FLOATS, I64, const, for_range, for_range_carrying

_MODES = {"none": 0, "sum": 1, "mean": 2}
_OK = -1  # what the nll kernels return when every target is a class or ignored


def _reassociable(instruction: ir.Instruction) -> ir.Instruction:
    """Let the loop vectorizer split this running sum into lanes."""
    instruction.flags.append("reassoc")
    return instruction


def _log_softmax_module(ft: ir.Type) -> ir.Module:
    """``log_softmax_rows(x, out, rows, n)``: each row of ``n`` as numpy computes it:
    ``(x - shift) - log(sum(exp(x - shift)))`` with ``shift`` the row's maximum (NaN if
    the row holds one), or 0 for a row of ``-inf``."""
    module = jit.new_module(f"log_softmax_rows_{ft}")
    fn = ir.Function(
        module, ir.FunctionType(ir.VoidType(), [ir.PointerType(ft)] * 2 + [I64] * 2), module.name
    )
    x, out, rows, n = fn.args
    for pointer in (x, out):
        pointer.add_attribute("noalias")
    log = module.declare_intrinsic("llvm.log", [ft])
    maximum = ir.Function(module, ir.FunctionType(ft, [ft, ft]), f"llvm.maximum.{ft.intrinsic_name}")
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    with for_range(b, rows, "r") as r:
        row = b.mul(r, n)

        def load(j: ir.Value) -> ir.Value:
            return b.load(b.gep(x, [b.add(row, j)], inbounds=True))

        with for_range_carrying(b, n, [ir.Constant(ft, float("-inf"))], "max") as (j, carried):
            carried[0] = b.call(maximum, [carried[0], load(j)])  # NaN wins, as in numpy's max
        is_minus_inf = b.fcmp_ordered("==", carried[0], ir.Constant(ft, float("-inf")))
        shift = b.select(is_minus_inf, ir.Constant(ft, 0.0), carried[0])
        with for_range_carrying(b, n, [ir.Constant(ft, 0.0)], "sum") as (j, carried):
            carried[0] = _reassociable(b.fadd(carried[0], exp_nonpositive(b, b.fsub(load(j), shift))))
        log_total = b.call(log, [carried[0]])
        with for_range(b, n, "out") as j:
            b.store(b.fsub(b.fsub(load(j), shift), log_total), b.gep(out, [b.add(row, j)], inbounds=True))
    b.ret_void()
    return module


def _target_checks(
    b: ir.IRBuilder, target: ir.Value, r: ir.Value, n: ir.Value, ignore: ir.Value, bad
) -> tuple:
    """Load row ``r``'s target; branch to the ``bad`` block (returning ``r``) when it
    is neither ignored nor a class.  Returns (target, counted: i1)."""
    block, row = bad
    row.add_incoming(r, b.block)
    t = b.load(b.gep(target, [r], inbounds=True))
    counted = b.icmp_signed("!=", t, ignore)
    in_range = b.and_(b.icmp_signed(">=", t, const(0)), b.icmp_signed("<", t, n))
    ok = b.append_basic_block("target.ok")
    b.cbranch(b.or_(b.not_(counted), in_range), ok, block)
    b.position_at_end(ok)
    return t, counted


def _nll_function(name: str, ft: ir.Type) -> tuple[ir.Module, ir.Function]:
    """``name(values, target, out, rows, n, ignore_index, mode) -> i64``."""
    module = jit.new_module(f"{name}_{ft}")
    args = [ir.PointerType(ft), ir.PointerType(I64), ir.PointerType(ft)] + [I64] * 4
    return module, ir.Function(module, ir.FunctionType(I64, args), module.name)


def _returning_bad_row(fn: ir.Function, b: ir.IRBuilder) -> tuple[ir.Block, ir.PhiInstr]:
    """A block that returns the first bad row (a phi its branches fill)."""
    bad = fn.append_basic_block("bad")
    here = b.block
    b.position_at_end(bad)
    row = b.phi(I64)
    b.ret(row)
    b.position_at_end(here)
    return bad, row


def _nll_loss_module(ft: ir.Type) -> ir.Module:
    """``nll_loss_rows(logp, target, out, rows, n, ignore_index, mode)``: for ``mode``
    none, ``out[r] = -logp[r, target[r]]`` (0 where ignored); for sum the total, for
    mean the total over the count of counted targets (NaN if none), into ``out[0]``.
    Returns -1, or the first row whose target is out of range (before reading it).

    The total is added in float64 and rounded once: added in float32, the mean loss of
    131,072 rows was off by 4e-6 of itself (PyTorch's cascade sum: 6e-8)."""
    module, fn = _nll_function("nll_loss_rows", ft)
    logp, target, out, rows, n, ignore, mode = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    bad = _returning_bad_row(fn, b)
    zero = ir.Constant(ft, 0.0)
    wide = ir.DoubleType()
    with for_range_carrying(b, rows, [ir.Constant(wide, 0.0), const(0)], "r") as (r, carried):
        t, counted = _target_checks(b, target, r, n, ignore, bad)
        safe = b.select(counted, t, const(0))
        picked = b.fneg(b.load(b.gep(logp, [b.add(b.mul(r, n), safe)], inbounds=True)))
        picked = b.select(counted, picked, zero)
        with b.if_then(b.icmp_signed("==", mode, const(_MODES["none"]))):
            b.store(picked, b.gep(out, [r], inbounds=True))
        carried[0] = b.fadd(carried[0], picked if ft == wide else b.fpext(picked, wide))
        carried[1] = b.add(carried[1], b.zext(counted, I64))
    total, count = carried
    total = total if ft == wide else b.fptrunc(total, ft)
    with b.if_then(b.icmp_signed("!=", mode, const(_MODES["none"]))):
        mean = b.select(
            b.icmp_signed("==", count, const(0)),
            ir.Constant(ft, float("nan")),
            b.fdiv(total, b.sitofp(count, ft)),
        )
        is_mean = b.icmp_signed("==", mode, const(_MODES["mean"]))
        b.store(b.select(is_mean, mean, total), out)
    b.ret(const(_OK))
    return module


def _nll_loss_grad_module(ft: ir.Type) -> ir.Module:
    """``nll_loss_grad_rows(g, target, out, rows, n, ignore_index, mode)``: ``out``
    (rows x n) is zero but at each counted target, which gets ``-g[r]`` (none),
    ``-g[0]`` (sum) or ``-g[0] / count`` (mean).  Returns as ``nll_loss_rows``."""
    module, fn = _nll_function("nll_loss_grad_rows", ft)
    g, target, out, rows, n, ignore, mode = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    bad = _returning_bad_row(fn, b)
    with for_range_carrying(b, rows, [const(0)], "count") as (r, carried):
        _, counted = _target_checks(b, target, r, n, ignore, bad)
        carried[0] = b.add(carried[0], b.zext(counted, I64))
    count = carried[0]
    with for_range(b, b.mul(rows, n), "zero") as i:
        b.store(ir.Constant(ft, 0.0), b.gep(out, [i], inbounds=True))
    first = b.fneg(b.load(g))
    divided = b.fdiv(first, b.sitofp(count, ft))
    scale = b.select(
        b.and_(b.icmp_signed("==", mode, const(_MODES["mean"])), b.icmp_signed("!=", count, const(0))),
        divided,
        first,
    )
    with for_range(b, rows, "r") as r:
        t = b.load(b.gep(target, [r], inbounds=True))
        with b.if_then(b.icmp_signed("!=", t, ignore)):
            per_row = b.icmp_signed("==", mode, const(_MODES["none"]))
            own = b.fneg(b.load(b.gep(g, [b.select(per_row, r, const(0))], inbounds=True)))
            value = b.select(per_row, own, scale)
            b.store(value, b.gep(out, [b.add(b.mul(r, n), t)], inbounds=True))
    b.ret(const(_OK))
    return module


_NLL_SIGNATURE = ctypes.CFUNCTYPE(ctypes.c_int64, *[ctypes.c_void_p] * 3, *[ctypes.c_int64] * 4)
# Per kernel: its module, the function's name (before the float type's) and signature.
_BUILDERS = {
    "log_softmax": (
        _log_softmax_module,
        "log_softmax_rows",
        ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64),
    ),
    "nll_loss": (_nll_loss_module, "nll_loss_rows", _NLL_SIGNATURE),
    "nll_loss_grad": (_nll_loss_grad_module, "nll_loss_grad_rows", _NLL_SIGNATURE),
}


def _function(name: str, dtype: np.dtype) -> Callable:
    """The kernel, from the disk cache by its name without emitting it where it can."""
    make, symbol, signature = _BUILDERS[name]
    ft = FLOATS[dtype]
    symbol = f"{symbol}_{ft}"
    return jit.kernel(
        ("loss", name, dtype),
        lambda: jit.compile_function(lambda: make(ft), symbol, signature, source=symbol),
    )


def routine_address(name: str, dtype: np.dtype) -> int:
    """The address of kernel ``name`` (``log_softmax``, ``nll_loss``, ``nll_loss_grad``)
    for ``dtype``, compiled on first use: generated code calls these as routines."""
    return ctypes.cast(_function(name, np.dtype(dtype)), ctypes.c_void_p).value


@jit.numpy_when_full
def log_softmax(x: np.ndarray, dim: int) -> np.ndarray | None:
    """``log_softmax`` of a float array along ``dim`` when no dim after it is longer
    than 1 (the rows are contiguous), or None."""
    if (
        not jit.enabled()
        or x.dtype not in FLOATS
        or x.size == 0
        or x.ndim == 0
        or math.prod(x.shape[dim:][1:]) != 1
    ):
        return None
    x = np.ascontiguousarray(x)
    out = np.empty(x.shape, dtype=x.dtype)
    n = x.shape[dim]
    _function("log_softmax", x.dtype)(jit.address(x), jit.address(out), x.size // n, n)
    return out


def _targets_usable(values: np.ndarray, target: np.ndarray, rows: int) -> bool:
    return jit.enabled() and values.dtype in FLOATS and target.dtype == np.int64 and target.shape == (rows,)


def _check_status(status: int, target: np.ndarray) -> None:
    if status != _OK:
        raise IndexError(f"Target {int(target[status])} is out of bounds.")


@jit.numpy_when_full
def nll_loss(logp: np.ndarray, target: np.ndarray, ignore_index: int, reduction: str) -> np.ndarray | None:
    """``nll_loss`` of (rows, classes) log-probabilities and int64 targets, or None."""
    if logp.ndim != 2 or not _targets_usable(logp, target, logp.shape[0]):
        return None
    logp, target = np.ascontiguousarray(logp), np.ascontiguousarray(target)
    rows, n = logp.shape
    out = np.empty((rows,) if reduction == "none" else (), dtype=logp.dtype)
    status = _function("nll_loss", logp.dtype)(
        jit.address(logp), jit.address(target), jit.address(out), rows, n, ignore_index, _MODES[reduction]
    )
    _check_status(status, target)
    return out


@jit.numpy_when_full
def nll_loss_grad(
    g: np.ndarray, target: np.ndarray, shape: tuple, ignore_index: int, reduction: str
) -> np.ndarray | None:
    """The gradient of ``nll_loss`` for an input of ``shape`` (rows, classes), or None."""
    if len(shape) != 2 or not _targets_usable(g, target, shape[0]):
        return None
    g, target = np.ascontiguousarray(g), np.ascontiguousarray(target)
    out = np.empty(shape, dtype=g.dtype)
    status = _function("nll_loss_grad", g.dtype)(
        jit.address(g),
        jit.address(target),
        jit.address(out),
        shape[0],
        shape[1],
        ignore_index,
        _MODES[reduction],
    )
    _check_status(status, target)
    return out
