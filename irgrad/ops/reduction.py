"""Reduction primitives: each output element combines a slice of the input.

Attributes are normalised by the public layer: ``dims`` is a sorted tuple of
non-negative dims to reduce (``()`` reduces nothing), ``keepdim`` a bool.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ..dtypes import FLOAT, int64
from ..native import loss as native_loss
from .registry import Kind, Meta, OpDef, Reduction, register
from .shapes import fmt, reduced_shape


def integral_to_int64(x: np.ndarray):
    """The dtype numpy accumulates ``x`` in: int64 for bool and integers (as PyTorch), None (x's own) for floats."""
    return np.int64 if x.dtype.kind in "biu" else None


_WIDER_FLOAT = {np.dtype(np.float16): np.dtype(np.float32), np.dtype(np.float32): np.dtype(np.float64)}


def float_accumulator(dtype: np.dtype) -> np.dtype:
    """The type PyTorch's CPU kernels accumulate a running sum or product of a float
    ``dtype`` in (``at::acc_type``): float32 for float16, float64 for float32 (and the
    native cumsum, which must equal eager's bit for bit)."""
    return _WIDER_FLOAT.get(np.dtype(dtype), np.dtype(dtype))


def accumulated(x: np.ndarray, total: Callable[[Any], np.ndarray]) -> np.ndarray:
    """``total(dtype)``, a sum (or product) of ``x`` accumulated in the type PyTorch's CPU
    kernels accumulate it in: :func:`float_accumulator`'s for floats, int64 for bool and
    integers, and rounded back to a float's own type once, at the end (a running sum of
    4096 halves drifted by 1.4; of a million float32 tenths, by 1%)."""
    wide = float_accumulator(x.dtype)
    if wide != x.dtype:
        return total(wide).astype(x.dtype)
    return total(integral_to_int64(x))


def float_sum(x: np.ndarray, dims, keepdims: bool = True) -> np.ndarray:
    """``x`` summed over ``dims`` (an int or a tuple) in the type :func:`accumulated` picks,
    a float32 sum as :func:`_float32_sum` adds it (PyTorch's sums accumulate float32 in
    float32, in a cascade: about as accurate, and cheaper than a float64 pass): the ``sum`` op's kernel, and the fused
    kernels' sums (softmax, logsumexp), which then equal their decompositions' sums."""
    dims = (dims,) if isinstance(dims, (int, np.integer)) else tuple(dims)
    dims = tuple(d % x.ndim for d in dims) if x.ndim else dims
    if x.dtype == np.float32 and dims:
        return _float32_sum(x, dims, keepdims)
    return accumulated(x, lambda acc: np.add.reduce(x, axis=dims, keepdims=keepdims, dtype=acc))


def _float32_sum(x: np.ndarray, dims: tuple, keepdims: bool) -> np.ndarray:
    """A float32 sum within rounding of the exact one, as PyTorch's cascade sum is.

    numpy adds the run of reduced dims at the end of a C-contiguous array by a pairwise
    tree (accurate), but the rows of the dims outside that run one by one in float32: a
    million rows of 0.1 summed to 105891.84 (the exact sum is 104857.6), and BatchNorm's
    sum over (0, 2, 3) of 4096x3x16x16 values was off by 4e-5 of itself.  So the run is
    summed by numpy's tree first, and the partial sums left are added in float64 (a
    column sum, a bias's gradient, is all rows: float64 throughout)."""
    inner = []
    if x.flags.c_contiguous or len(dims) == x.ndim:
        for d in reversed(range(x.ndim)):  # the trailing reduced dims (size-1 dims are no run)
            if d in dims:
                inner.append(d)
            elif x.shape[d] != 1:
                break
    outer = tuple(d for d in dims if d not in inner)
    if not outer:
        return np.add.reduce(x, axis=dims, keepdims=keepdims)
    partial = np.add.reduce(x, axis=tuple(inner), keepdims=True) if inner else x
    out = np.add.reduce(partial, axis=outer, keepdims=True, dtype=np.float64).astype(np.float32)
    return out if keepdims else out.reshape(reduced_shape(x.shape, dims, False))


def _keep(F, value, c):
    """``value`` reshaped so it broadcasts against the input (the reduced dims kept as 1)."""
    if c.attrs["keepdim"]:
        return value
    shape = reduced_shape(c.metas[0].shape, c.attrs["dims"], True)
    return F.reshape(value, shape=shape)


def _infer_reduce(name: str, result_dtype=None, allow_empty: bool = True):
    def infer(x: Meta, *, dims, keepdim) -> Meta:
        if not allow_empty and any(x.shape[d] == 0 for d in dims):
            raise RuntimeError(
                f"{name}(): Expected reduction dim to be specified for input.numel() == 0, "
                f"or a non-empty reduced dim; got shape {fmt(x.shape)} and dims {dims}"
            )
        dt = result_dtype(x.dtype) if result_dtype else x.dtype
        return Meta(reduced_shape(x.shape, dims, keepdim), dt)

    return infer


def sum_dtype(d):
    """A sum's (or running sum's or product's) result dtype: floats and complex keep theirs,
    the rest int64."""
    return d if d.category >= FLOAT else int64


def _sum_vjp(F, g, c):
    return (F.broadcast_to(_keep(F, g, c), shape=c.metas[0].shape),)


register(
    OpDef(
        "sum",
        Kind.REDUCTION,
        lambda x, *, dims, keepdim: float_sum(x, dims, keepdim),
        _infer_reduce("sum", sum_dtype),
        _sum_vjp,
        reduction=Reduction("add", 0.0),
        linear_in=((0,),),
        complex=True,
        doc="Sum over `dims`; bool and integer inputs sum in int64.",
    )
)


def _prod_vjp(F, g, c):
    # d prod / d x_i = product of the other elements, computed without dividing by zero:
    # with no zero in the slice it is out / x_i; with exactly one zero it is the product
    # of the non-zeros at the zero's position and 0 elsewhere; with more it is 0.
    (x,) = c.ins
    dims = c.attrs["dims"]
    shape = c.metas[0].shape
    is_zero = F.eq(x, 0.0)
    zeros = F.sum(F.cast(is_zero, dtype=c.metas[0].dtype), dims=dims, keepdim=True)
    safe = F.where(is_zero, 1.0, x)
    nonzero_prod = F.prod(safe, dims=dims, keepdim=True)
    one_zero_here = F.logical_and(is_zero, F.eq(zeros, 1.0))
    others = F.where(
        F.eq(zeros, 0.0),
        F.div(_keep(F, c.out, c), safe),
        F.where(one_zero_here, nonzero_prod, 0.0),
    )
    return (F.mul(F.broadcast_to(_keep(F, g, c), shape=shape), others),)


register(
    OpDef(
        "prod",
        Kind.REDUCTION,
        lambda x, *, dims, keepdim: np.multiply.reduce(
            x, axis=dims, keepdims=keepdim, dtype=integral_to_int64(x)
        ),
        _infer_reduce("prod", sum_dtype),
        _prod_vjp,
        save_inputs=True,
        save_output=True,
        complex=True,
    )
)


def _extremum_vjp(F, g, c):
    # PyTorch's two rules. amax/amin: the gradient over the count of elements equal to the
    # result, times that mask (a NaN result equals nothing: 0/0, NaN everywhere).  max()/min()
    # over all elements (``evenly``): the count of elements equal to the result, or of the
    # NaN elements when it is NaN, and every other element gets exactly 0, even when the
    # incoming gradient is NaN (a select, not a product).
    (x,) = c.ins
    dims = c.attrs["dims"]
    shape = c.metas[0].shape
    out = _keep(F, c.out, c)
    hit = F.eq(x, out)
    if c.attrs.get("evenly", False):
        hit = F.logical_or(hit, F.logical_and(F.isnan(x), F.isnan(out)))
    mask = F.cast(hit, dtype=c.metas[0].dtype)
    share = F.broadcast_to(F.div(_keep(F, g, c), F.sum(mask, dims=dims, keepdim=True)), shape=shape)
    if c.attrs.get("evenly", False):
        return (F.where(hit, share, 0.0),)
    return (F.mul(share, mask),)


def _infer_extremum(name: str):
    infer_reduce = _infer_reduce(name, allow_empty=False)

    def infer(x: Meta, *, dims, keepdim, evenly: bool = False) -> Meta:
        return infer_reduce(x, dims=dims, keepdim=keepdim)

    return infer


# --- decompositions of the composite primitives into simpler ones (OpDef.decompose) ---


def _shifted(F, x, dims: tuple):
    """``x`` less its maximum over ``dims`` (by 0 where that maximum is -inf), as the
    kernels shift: a row of -inf stays -inf, and NaN propagates."""
    peak = F.amax(x, dims=dims, keepdim=True)
    return F.sub(x, F.where(F.eq(peak, -np.inf), 0.0, peak))


def _one_row_dim(x, dim: int) -> tuple | None:
    """``(dim,)`` normalised, or None for a 0-d or empty input (the kernels' special cases)."""
    shape = x.shape
    if not shape or 0 in shape:
        return None
    return (dim % len(shape),)


def _softmax_parts(F, x, *, dim):
    dims = _one_row_dim(x, dim)
    if dims is None:
        return None
    e = F.exp(_shifted(F, x, dims))
    return F.div(e, F.sum(e, dims=dims, keepdim=True))


def _log_softmax_parts(F, x, *, dim):
    dims = _one_row_dim(x, dim)
    if dims is None:
        return None
    shifted = _shifted(F, x, dims)
    return F.sub(shifted, F.log(F.sum(F.exp(shifted), dims=dims, keepdim=True)))


def _logsumexp_parts(F, x, *, dims, keepdim):
    shape = x.shape
    if not shape or 0 in shape or not dims:
        return None
    dims = tuple(sorted(d % len(shape) for d in dims))
    peak = F.amax(x, dims=dims, keepdim=True)
    shift = F.where(F.isinf(peak), 0.0, peak)
    out = F.add(F.log(F.sum(F.exp(F.sub(x, shift)), dims=dims, keepdim=True)), shift)
    if keepdim:
        return out
    return F.reshape(out, shape=tuple(n for k, n in enumerate(shape) if k not in dims))


def _logsumexp_kernel(x, *, dims, keepdim):
    # Shifted by the max (rows of +-inf shift by 0: -inf stays -inf, +inf gives +inf);
    # an empty reduction is log(0) = -inf, as in torch.
    shift = np.maximum.reduce(x, axis=dims, keepdims=True, initial=-np.inf)
    shift = np.where(np.isinf(shift), 0, shift).astype(x.dtype)  # an array also for a 0-d x
    total = float_sum(np.exp(x - shift), dims)
    out = np.log(total) + shift
    return out if keepdim else np.squeeze(out, axis=dims)


def _logsumexp_vjp(F, g, c):
    # softmax(x) = exp((x - shift) - log(total)), recomputed from x: torch's exp(x - out)
    # (the same at +-inf: NaN for an infinite element, 0 for a finite one beside +inf)
    # without its rounding of out, which at x = [1e30, 1e30] gives [1, 1], not [0.5, 0.5].
    (x,) = c.ins
    dims = c.attrs["dims"]
    shape = c.metas[0].shape
    grad = F.broadcast_to(_keep(F, g, c), shape=shape)
    if any(shape[d] == 0 for d in dims):
        return (grad,)  # empty
    peak = F.amax(x, dims=dims, keepdim=True)
    shifted = F.sub(x, F.where(F.isinf(peak), 0.0, peak))
    log_total = F.log(F.sum(F.exp(shifted), dims=dims, keepdim=True))
    return (F.mul(grad, F.exp(F.sub(shifted, log_total))),)


def _infer_logsumexp(x: Meta, *, dims, keepdim) -> Meta:
    if x.dtype.category != FLOAT:
        raise RuntimeError(f"logsumexp: expected a floating-point input, got {x.dtype}")
    return Meta(reduced_shape(x.shape, dims, keepdim), x.dtype)


register(
    OpDef(
        "logsumexp",
        Kind.REDUCTION,
        _logsumexp_kernel,
        _infer_logsumexp,
        _logsumexp_vjp,
        save_inputs=True,
        decompose=_logsumexp_parts,
        doc="log(sum(exp(x))) over `dims`, shifted by the max (by 0 where the max is infinite).",
    )
)


for _name, _ufunc, _combine in (("amax", np.maximum, "maximum"), ("amin", np.minimum, "minimum")):
    register(
        OpDef(
            _name,
            Kind.REDUCTION,
            lambda x, *, dims, keepdim, evenly=False, _u=_ufunc: _u.reduce(x, axis=dims, keepdims=keepdim),
            _infer_extremum(_name),
            _extremum_vjp,
            save_inputs=True,
            save_output=True,
            reduction=Reduction(_combine, -math.inf if _combine == "maximum" else math.inf),
        )
    )


def _arg_kernel(fn):
    def kernel(x, *, dim, keepdim):
        if dim is None:
            out = fn(x)
            return np.asarray(out).reshape((1,) * x.ndim) if keepdim else out
        return fn(x, axis=dim, keepdims=keepdim)

    return kernel


def _infer_arg(name: str):
    def infer(x: Meta, *, dim, keepdim) -> Meta:
        if x.shape and (dim is None and 0 in x.shape or dim is not None and x.shape[dim] == 0):
            raise IndexError(
                f"{name}(): Expected reduction dim to be specified for input.numel() == 0 "
                f"(shape {fmt(x.shape)})"
            )
        if dim is None:
            return Meta((1,) * len(x.shape) if keepdim else (), int64)
        return Meta(reduced_shape(x.shape, (dim,), keepdim), int64)

    return infer


for _name, _fn in (("argmax", np.argmax), ("argmin", np.argmin)):
    register(OpDef(_name, Kind.SELECTION, _arg_kernel(_fn), _infer_arg(_name)))


def _cumsum_vjp(F, g, c):
    dim = c.attrs["dim"]
    if not c.metas[0].shape:  # a 0-d running sum is the identity
        return (g,)
    return (F.flip(F.cumsum(F.flip(g, dims=(dim,)), dim=dim), dims=(dim,)),)


def _infer_cumsum(x: Meta, *, dim) -> Meta:
    return Meta(x.shape, sum_dtype(x.dtype))


def along_dim(kernel):
    """``kernel(x, dim=...)`` for any ``x``: a 0-d input is a one-element row (its result
    0-d again, as PyTorch's), and an input with no elements gives an empty result (numpy's
    reductions refuse an empty axis)."""

    def run(x, *, dim):
        if x.ndim == 0:
            return kernel(x.reshape(1), dim=0).reshape(())
        if x.size == 0:
            return np.empty(x.shape, kernel(np.zeros((1,), x.dtype), dim=0).dtype)
        return kernel(x, dim=dim)

    return run


def _cumsum(x: np.ndarray, *, dim: int) -> np.ndarray:
    """A running sum accumulated as PyTorch's (:func:`accumulated`: a float32 one in
    float64, equal to PyTorch's bit for bit).  numpy's starts from the first value,
    PyTorch's from +0.0: a leading -0.0 stays -0.0 in numpy's and is +0.0 in PyTorch's
    (``+ 0.0`` changes nothing else)."""
    out = accumulated(x, lambda acc: np.cumsum(x, axis=dim, dtype=acc))
    if out.dtype.kind in "fc":
        out += 0.0
    return out


register(
    OpDef(
        "cumsum",
        Kind.SCAN,
        along_dim(_cumsum),
        _infer_cumsum,
        _cumsum_vjp,
        complex=True,
        doc="Running sum along `dim`; integers accumulate in int64; a float sum starts from +0.0.",
    )
)


# --- softmax family: primitives because every classifier's loss runs them, and as
# composites they cost ~10 dispatched ops each way where one fused kernel is exact.


def _log_softmax_kernel(x, *, dim):
    native = native_loss.log_softmax(x, dim)
    if native is not None:
        return native
    shift = np.max(x, axis=dim, keepdims=True)
    shift[shift == -np.inf] = 0  # rows of -inf stay -inf, not nan (a row holding +inf is nan, as in torch)
    shifted = x - shift
    return shifted - np.log(float_sum(np.exp(shifted), dim))


def _softmax_kernel(x, *, dim):
    shift = np.max(x, axis=dim, keepdims=True)
    shift[shift == -np.inf] = 0
    e = np.exp(x - shift)
    e /= float_sum(e, dim)
    return e


def _infer_softmax(x: Meta, *, dim) -> Meta:
    if x.dtype.category != FLOAT:
        raise RuntimeError(f"softmax: expected a floating-point input, got {x.dtype}")
    return Meta(tuple(x.shape), x.dtype)


def _row_dims(c) -> tuple:
    """The dims a softmax normalises over: its ``dim``, or none for a 0-d input (one element)."""
    return (c.attrs["dim"],) if c.metas[0].shape else ()


def _log_softmax_vjp(F, g, c):
    # d/dx: g - softmax(x) * sum(g), with softmax(x) = exp(out).
    return (F.sub(g, F.mul(F.exp(c.out), F.sum(g, dims=_row_dims(c), keepdim=True))),)


def _softmax_vjp(F, g, c):
    # d/dx: out * (g - sum(g * out)).
    return (F.mul(c.out, F.sub(g, F.sum(F.mul(g, c.out), dims=_row_dims(c), keepdim=True))),)


register(
    OpDef(
        "log_softmax",
        Kind.REDUCTION,
        along_dim(_log_softmax_kernel),
        _infer_softmax,
        _log_softmax_vjp,
        save_output=True,
        decompose=_log_softmax_parts,
        doc="x - logsumexp(x) along `dim`, shifted by the max so logits of 1000 stay finite.",
    )
)
register(
    OpDef(
        "softmax",
        Kind.REDUCTION,
        along_dim(_softmax_kernel),
        _infer_softmax,
        _softmax_vjp,
        save_output=True,
        decompose=_softmax_parts,
        doc="exp(x) / sum(exp(x)) along `dim`, shifted by the max.",
    )
)
