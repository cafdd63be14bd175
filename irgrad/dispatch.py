"""Dispatch: the one place where a primitive op is applied to tensors.

:func:`apply` runs an op's numpy kernel and, when grad mode is on and an input
requires grad, records a :class:`~irgrad.recording.nodes.Node`.  :func:`elementwise`
adds PyTorch's type promotion, Python-scalar operands and broadcasting in front
of it: promotion becomes explicit ``cast`` ops and, for inputs that need a
gradient, broadcasting becomes explicit ``broadcast_to`` ops, so that every
gradient rule sees operands of one dtype and gradients of the output's shape.
"""

from __future__ import annotations

import numpy as np

from . import _profiling, _tracing
from .dtypes import COMPLEX, COMPLEX_USE, FLOAT, bool_, dtype, get_default_dtype, result_type
from .ops import OPS, DtypeRule, OpDef
from .ops.elementwise import reject_bool
from .ops.shapes import broadcast_shapes
from .recording.grad_mode import STATE
from .recording.nodes import make_node
from .recording.views import record_view
from .tensor import Tensor, refresh_view

_ndarray = np.ndarray

# The kernels of another layout (irgrad.sparse installs them): asked only after an op's
# dense kernel failed, so dense tensors never pay for them.  It returns None when no
# input is of another layout.
_other_layout = None


def set_other_layout(kernels) -> None:
    """Install ``kernels(op, inputs, attrs) -> Tensor | None`` (see ``_other_layout``)."""
    global _other_layout
    _other_layout = kernels


def apply(op: OpDef, inputs: tuple, attrs: dict | None = None) -> Tensor:
    """Run ``op`` on tensors ``inputs``; record it for autograd when needed."""
    profiler = _profiling.ACTIVE
    if profiler is not None:
        start = _profiling.clock()
    for t in inputs:
        if t._base is not None:
            refresh_view(t)  # its storage may have been written in place since
    if COMPLEX_USE.seen and not op.complex:
        refuse_complex(op.name, inputs)
    try:
        if attrs:
            data = op.eval(*[t._data for t in inputs], **attrs)
        else:
            attrs = {}
            n = len(inputs)
            if n == 2:
                data = op.eval(inputs[0]._data, inputs[1]._data)
            elif n == 1:
                data = op.eval(inputs[0]._data)
            else:
                data = op.eval(*[t._data for t in inputs])
    except Exception:
        if _other_layout is not None and (out := _other_layout(op, inputs, attrs or {})) is not None:
            return out  # a sparse input, which the dense kernel cannot read
        # Errors are rare: only now run the shape rule, which raises PyTorch's message.
        op.infer(*inputs, **(attrs or {}))
        raise
    if type(data) is not _ndarray:
        data = np.asarray(data)
    out = Tensor._wrap(data)
    if op.view is not None and (np.may_share_memory(data, inputs[0]._data) or data.size == 0):
        # (an empty result shares no memory, but is a view all the same, as in PyTorch)
        record_view(out, inputs[0], op, attrs)
    for t in inputs:
        if t._rg:
            # Integer results never require grad.
            if STATE.enabled and op.vjp is not None and data.dtype.kind in "fc":
                node = out._node = make_node(op, attrs, inputs, data)
                out._rg = True
                if op.save_output:  # an in-place write to the output must fail its backward
                    node.out_vc = out._shared_version()
            break
    if _tracing.ACTIVE is not None:
        tracer = _tracing.current()
        if tracer is not None:
            tracer.record(op, inputs, attrs, out)
    if _tracing.DEBUG_NANS:
        _tracing.check_finite(op.name, data, inputs=[t._data for t in inputs])
    if profiler is not None:
        profiler.add("irgrad::" + op.name, start, _profiling.clock(), inputs)
    return out


def refuse_complex(name: str, inputs) -> None:
    """PyTorch's error for an op without complex kernels given a complex operand."""
    for t in inputs:
        if t._data.dtype.kind == "c":
            raise NotImplementedError(f"\"{name}\" not implemented for '{t.dtype.scalar_type}'")


def const(value, dt: dtype) -> Tensor:
    """A Python scalar (or array-like) as a tensor of dtype ``dt`` that needs no grad.

    An integer out of ``dt``'s range wraps around, as in PyTorch (``uint8 + -2``).
    """
    try:
        return Tensor._wrap(np.asarray(value, dtype=dt.np))
    except OverflowError:
        return Tensor._wrap(np.asarray(value).astype(dt.np))


def cast(t: Tensor, dt: dtype, discard_imag: bool = False) -> Tensor:
    """``t`` converted to ``dt``: the ``cast`` op (recorded by autograd and tracers).

    Complex values become real only when asked (``discard_imag``: ``Tensor.to``'s
    conversion): a function that casts its input to a float dtype to compute would
    otherwise drop the imaginary parts and give a wrong answer."""
    if t._data.dtype == dt.np:
        return t
    if t._data.dtype.kind == "c" and dt.category != COMPLEX and not discard_imag:
        raise RuntimeError(f"not implemented for '{t.dtype.scalar_type}': the computation is {dt}'s")
    return apply(OPS["cast"], (t,), {"dtype": dt})


def broadcast(t: Tensor, shape: tuple) -> Tensor:
    """``t`` broadcast to ``shape`` as an explicit (differentiable) op."""
    if t._data.shape == shape:
        return t
    return apply(OPS["broadcast_to"], (t,), {"shape": shape})


def compute_dtypes(op: OpDef, promoted: dtype) -> dtype | None:
    """The dtype an elementwise op computes in, given its operands' promoted dtype."""
    rule = op.dtype_rule
    if promoted is bool_:
        reject_bool(op.name)
    if promoted.category == COMPLEX and not op.complex:
        raise NotImplementedError(f"\"{op.name}\" not implemented for '{promoted.scalar_type}'")
    if rule is DtypeRule.FLOAT and promoted.category < FLOAT:
        return get_default_dtype()
    if rule is DtypeRule.INTEGRAL and promoted.category >= FLOAT:
        raise NotImplementedError(
            f"{op.name}: bitwise operations are only supported for integral and bool tensors, got {promoted}"
        )
    if rule is DtypeRule.LOGICAL:
        return None
    return promoted


# Numpy dtype kinds each rule accepts without casting (bool always takes the general path).
_FAST_KINDS = {
    DtypeRule.SAME: "fiu",
    DtypeRule.FLOAT: "f",
    DtypeRule.COMPARE: "fiu",
    DtypeRule.LOGICAL: "fiu",
    DtypeRule.INTEGRAL: "iu",
}


def elementwise(op: OpDef, *args) -> Tensor:
    """Apply an elementwise op to tensors and Python scalars with PyTorch's semantics.

    The common cases (one tensor; two tensors of one dtype that need no explicit
    broadcast; a tensor and a Python scalar of its kind) go straight to ``apply``;
    everything else takes the general path with full promotion.
    """
    ok = _FAST_KINDS.get(op.dtype_rule)
    if ok is not None:
        if len(args) == 1:
            a = args[0]
            if isinstance(a, Tensor) and a._data.dtype.kind in ok:
                return apply(op, args)
        elif len(args) == 2:
            a, b = args
            if isinstance(a, Tensor):
                kind = a._data.dtype.kind
                if kind in ok:
                    if isinstance(b, Tensor):
                        if b._data.dtype is a._data.dtype and (
                            a._data.shape == b._data.shape or not (a._rg or b._rg) or not STATE.enabled
                        ):
                            return apply(op, args)
                    elif _scalar_fits(b, kind):
                        return apply(op, (a, Tensor._wrap(np.asarray(b, dtype=a._data.dtype))))
            elif isinstance(b, Tensor):
                kind = b._data.dtype.kind
                if kind in ok and _scalar_fits(a, kind):
                    return apply(op, (Tensor._wrap(np.asarray(a, dtype=b._data.dtype)), b))
    return _elementwise_general(op, args)


def _scalar_fits(value, kind: str) -> bool:
    """A Python scalar that keeps a tensor of this dtype kind's dtype (PyTorch promotion)."""
    t = type(value)
    return (t is float and kind == "f") or (
        t is int and (kind == "f" or (kind == "i" and -(2**31) <= value < 2**31))
    )


def _elementwise_general(op: OpDef, args: tuple) -> Tensor:
    first = args[0]
    if len(args) == 1:
        promoted = first.dtype
    elif all(isinstance(a, Tensor) for a in args) and all(a._data.dtype == first._data.dtype for a in args):
        promoted = first.dtype
    else:
        promoted = result_type(*args)
    target = compute_dtypes(op, promoted)
    tensors = tuple(_operand(a, target, promoted) for a in args)
    if len(tensors) > 1:
        shape = broadcast_shapes(op.name, *(t._data.shape for t in tensors))
        if STATE.enabled and op.vjp is not None:
            tensors = tuple(broadcast(t, shape) if t._rg else t for t in tensors)
    return apply(op, tensors)


def _operand(a, target: dtype | None, promoted: dtype) -> Tensor:
    if isinstance(a, Tensor):
        return a if target is None else cast(a, target)
    if isinstance(a, (np.ndarray, np.generic)):
        a = a.item() if a.ndim == 0 else a
    return const(a, target or promoted)
