"""Reductions and the composites built on them (mean, var, logsumexp, softmax ...)."""

from __future__ import annotations

import math
import warnings
from collections import namedtuple

from .._arguments import tensor_arguments
from ..dispatch import apply, cast
from ..dtypes import FLOAT, bool_, float16, float32, get_default_dtype, to_dtype
from ..ops import OPS
from ..ops.reduction import float_accumulator
from ..ops.shapes import normalize_dim, normalize_dims, numel
from ..tensor import Tensor
from . import pointwise as P

values_indices = {
    name: namedtuple(name, ["values", "indices"])
    for name in ("max", "min", "sort", "topk", "kthvalue", "mode", "median", "cummax", "cummin")
}


def _dims(op: str, x: Tensor, dim) -> tuple[int, ...]:
    if isinstance(dim, (list, tuple)) and len(dim) == 0:
        dim = None
    return normalize_dims(op, dim, x._data.ndim)


def _reduce(name: str, x: Tensor, dim, keepdim: bool) -> Tensor:
    return apply(OPS[name], (x,), {"dims": _dims(name, x, dim), "keepdim": bool(keepdim)})


@tensor_arguments
def sum(input: Tensor, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """Sum over ``dim`` (an int, a tuple, or all); integers sum in int64, or in ``dtype``
    when it is given (the int64 sum wrapped to it: the same bits)."""
    return _reduce_in("sum", input, dim, keepdim, dtype)


@tensor_arguments
def prod(input: Tensor, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    return _reduce_in("prod", input, dim, keepdim, dtype)


def _reduce_in(name: str, input: Tensor, dim, keepdim: bool, dtype) -> Tensor:
    if dtype is None:
        return _reduce(name, input, dim, keepdim)
    dtype = to_dtype(dtype)
    result = _reduce(name, cast(input, dtype), dim, keepdim)
    return result if result.dtype is dtype else cast(result, dtype)


@tensor_arguments
def mean(input: Tensor, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """Arithmetic mean; like PyTorch, integer inputs need an explicit float ``dtype``."""
    if dtype is not None:
        input = cast(input, to_dtype(dtype))
    if input.dtype.category < FLOAT:
        raise RuntimeError(
            "mean(): could not infer output dtype. Input dtype must be either a floating point "
            f"or complex dtype. Got: {input.dtype.name.capitalize()}"
        )
    dims = _dims("mean", input, dim)
    if input.dtype is float16:  # accumulated and divided in float32, rounded once (PyTorch's)
        return cast(mean(cast(input, float32), dims, keepdim), float16)
    count = numel(input._data.shape[d] for d in dims)
    total = apply(OPS["sum"], (input,), {"dims": dims, "keepdim": bool(keepdim)})
    return P.div(total, count) if count else P.mul(total, float("nan"))


def _correction(unbiased, correction) -> float:
    if correction is not None:
        return float(correction)
    return 1.0 if unbiased is None or unbiased else 0.0


@tensor_arguments
def var(input: Tensor, dim=None, unbiased=None, keepdim: bool = False, *, correction=None) -> Tensor:
    """Variance with Bessel's correction by default (``correction=1``), as ``torch.var``."""
    if isinstance(dim, bool):  # var(x, unbiased) positional form
        dim, unbiased = None, dim
    return _in_type_of(input, _variance(input, dim, unbiased, keepdim, correction))


def _variance(input: Tensor, dim, unbiased, keepdim: bool, correction) -> Tensor:
    """The variance in PyTorch's accumulation type (float64 for float32), where the squares
    are summed: squared in float32, deviations of 1e20 overflow and of 1e-20 vanish (and
    ``std`` takes the root there too: a float32 std of 1e30 has a float64 variance)."""
    if not input.dtype.is_floating_point:
        raise RuntimeError(f"std and var only support floating point and complex dtypes, got {input.dtype}")
    dims = _dims("var", input, dim)
    dof = numel(input._data.shape[d] for d in dims) - _correction(unbiased, correction)
    if dof <= 0:
        return _degenerate_var(input, dims, keepdim, dof)
    centered = P.sub(input, mean(input, dims, keepdim=True))
    wide = to_dtype(float_accumulator(input._data.dtype))
    squares = P.mul(centered, centered) if wide == input.dtype else P.square(cast(centered, wide))
    return P.div(sum(squares, dims, keepdim), dof)


def _in_type_of(input: Tensor, value: Tensor) -> Tensor:
    return value if value.dtype == input.dtype else cast(value, input.dtype)


def _degenerate_var(input: Tensor, dims: tuple, keepdim: bool, dof: float) -> Tensor:
    """The variance with ``dof <= 0`` degrees of freedom, as torch computes it: the sum of
    squares over 0 (inf, or NaN for a constant row) and the gradient ``2 (x - mean) / dof``
    of torch's var backward (+-inf for dof 0, finite for dof < 0), where differentiating the
    forward would meet inf - inf through the mean.  A degenerate case, so the mean's own
    (analytically zero) gradient term is dropped."""
    warnings.warn(
        "var(): degrees of freedom is <= 0. Correction should be strictly less than the "
        "reduction factor (input numel divided by output numel).",
        stacklevel=3,
    )
    centered = P.sub(input, mean(input, dims, keepdim=True).detach())
    squares = sum(P.mul(centered, centered), dims, keepdim)
    if dof == 0:
        return P.div(squares, 0)
    return P.add(P.div(squares, dof), P.sub(P.div(squares, 0), P.div(squares, dof)).detach())


@tensor_arguments
def std(input: Tensor, dim=None, unbiased=None, keepdim: bool = False, *, correction=None) -> Tensor:
    if isinstance(dim, bool):
        dim, unbiased = None, dim
    return _in_type_of(input, _safe_sqrt(_variance(input, dim, unbiased, keepdim, correction)))


@tensor_arguments
def var_mean(input: Tensor, dim=None, unbiased=None, keepdim: bool = False, *, correction=None):
    return var(input, dim, unbiased, keepdim, correction=correction), mean(input, dim, keepdim)


@tensor_arguments
def std_mean(input: Tensor, dim=None, unbiased=None, keepdim: bool = False, *, correction=None):
    return std(input, dim, unbiased, keepdim, correction=correction), mean(input, dim, keepdim)


@tensor_arguments
def amax(input: Tensor, dim=(), keepdim: bool = False) -> Tensor:
    """Maximum over ``dim``; ties share the gradient evenly."""
    return _reduce_nonempty("amax", input, dim, keepdim)


@tensor_arguments
def amin(input: Tensor, dim=(), keepdim: bool = False) -> Tensor:
    return _reduce_nonempty("amin", input, dim, keepdim)


def _reduce_nonempty(name: str, x: Tensor, dim, keepdim: bool) -> Tensor:
    """A reduction without an identity, with PyTorch's errors for an empty input: a
    RuntimeError when reducing every dim, an IndexError naming the first empty dim given."""
    dims = _dims(name, x, dim)
    if x._data.ndim and x.numel() == 0:
        given = tuple(dim) if isinstance(dim, (list, tuple)) else () if dim is None else (dim,)
        if not given:
            raise RuntimeError(
                f"{name}(): Expected reduction dim to be specified for input.numel() == 0. Specify the "
                "reduction dim with the 'dim' argument."
            )
        for d in given:
            if x.shape[normalize_dim(name, d, x._data.ndim)] == 0:
                raise IndexError(f"{name}(): Expected reduction dim {d} to have non-zero size.")
    return apply(OPS[name], (x,), {"dims": dims, "keepdim": bool(keepdim)})


def _position(name: str, input: Tensor, dim: int | None, keepdim: bool) -> Tensor:
    """The ``argmax``/``argmin`` primitive over ``dim`` (any dtype: max and min over a dim
    find their indices with it, bool included)."""
    if dim is not None:
        dim = normalize_dim(name, dim, input._data.ndim) if input._data.ndim else None
    return apply(OPS[name], (input,), {"dim": dim, "keepdim": bool(keepdim)})


@tensor_arguments
def argmax(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    if input.dtype is bool_:  # (PyTorch's max over a dim takes bool, its argmax does not)
        raise RuntimeError("argmax(): does not support bool input")
    return _position("argmax", input, dim, keepdim)


@tensor_arguments
def argmin(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    if input.dtype is bool_:
        raise RuntimeError("argmin(): does not support bool input")
    return _position("argmin", input, dim, keepdim)


def _extremum(name: str, input: Tensor, dim, keepdim: bool, other):
    if isinstance(dim, Tensor):  # max(a, b) is maximum
        return (P.maximum if name == "max" else P.minimum)(input, dim)
    if other is not None:
        return (P.maximum if name == "max" else P.minimum)(input, other)
    if dim is None:
        if input.numel() == 0:
            raise RuntimeError(
                f"{name}(): Expected reduction dim to be specified for input.numel() == 0. Specify the "
                "reduction dim with the 'dim' argument."
            )
        op = OPS["amax" if name == "max" else "amin"]  # with torch's max()/min() gradient rule
        return apply(op, (input,), {"dims": _dims(name, input, None), "keepdim": False, "evenly": True})
    if input._data.ndim and input.shape[normalize_dim(name, dim, input._data.ndim)] == 0:
        raise IndexError(
            f"{name}(): Expected reduction dim {dim} to have non-zero size (input of shape {list(input.shape)})"
        )
    indices = _position("argmax" if name == "max" else "argmin", input, dim, True)
    if input._data.ndim == 0:
        values = input
        indices = indices.reshape(())
    else:
        d = normalize_dim(name, dim, input._data.ndim)
        values = apply(OPS["gather"], (input, indices), {"dim": d})
        if not keepdim:
            values = values.squeeze(d)
            indices = indices.squeeze(d)
    return values_indices[name](values, indices)


@tensor_arguments
def argsort(input: Tensor, dim: int = -1, descending: bool = False, stable: bool = False) -> Tensor:
    """Indices that sort ``input`` along ``dim`` (always stable: ties keep their order)."""
    d = normalize_dim("argsort", dim, input._data.ndim)
    return apply(OPS["argsort"], (input,), {"dim": d, "descending": bool(descending)})


@tensor_arguments
def sort(input: Tensor, dim: int = -1, descending: bool = False, stable: bool = False, *, out=None):
    """(values, indices) of ``input`` sorted along ``dim``; the values carry the gradient."""
    indices = argsort(input, dim, descending)
    if input._data.ndim == 0:
        return values_indices["sort"](input.clone(), indices)
    d = normalize_dim("sort", dim, input._data.ndim)
    return values_indices["sort"](apply(OPS["gather"], (input, indices), {"dim": d}), indices)


@tensor_arguments
def topk(input: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True, *, out=None):
    """(values, indices) of the ``k`` largest (or smallest) elements along ``dim``, in order."""
    ndim = input._data.ndim
    d = normalize_dim("topk", dim, ndim)
    size = input.shape[d] if ndim else 1
    if not 0 <= k <= size:
        raise RuntimeError(f"topk: selected index k out of range (k={k}, size {size} along dim {dim})")
    if ndim == 0:
        return values_indices["topk"](input.clone(), argsort(input, d, descending=largest))
    indices = apply(OPS["argtopk"], (input,), {"dim": d, "k": k, "largest": bool(largest)})
    return values_indices["topk"](apply(OPS["gather"], (input, indices), {"dim": d}), indices)


@tensor_arguments
def kthvalue(input: Tensor, k: int, dim: int = -1, keepdim: bool = False, *, out=None):
    """(values, indices) of the ``k``-th smallest element (1-based) along ``dim``."""
    ndim = input._data.ndim
    d = normalize_dim("kthvalue", dim, ndim)
    size = input.shape[d] if ndim else 1
    if not 1 <= k <= size:
        raise IndexError(
            f"kthvalue(): selected number k out of range for dimension {dim} (k={k}, size {size})"
        )
    order = argsort(input, d)
    if ndim == 0:
        return values_indices["kthvalue"](input.clone(), order)
    index = order.narrow(d, k - 1, 1)
    values = apply(OPS["gather"], (input, index), {"dim": d})
    if not keepdim:
        values, index = values.squeeze(d), index.squeeze(d)
    return values_indices["kthvalue"](values, index)


@tensor_arguments
def max(input: Tensor, dim=None, keepdim: bool = False, *, other: Tensor | None = None):
    """``max()``: the maximum; ``max(dim)``: (values, indices); ``max(other)``: maximum."""
    return _extremum("max", input, dim, keepdim, other)


@tensor_arguments
def min(input: Tensor, dim=None, keepdim: bool = False, *, other: Tensor | None = None):
    return _extremum("min", input, dim, keepdim, other)


@tensor_arguments
def logsumexp(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """``log(sum(exp(x)))`` computed without overflow (the ``logsumexp`` primitive)."""
    if input.dtype.category != FLOAT:
        input = cast(input, get_default_dtype())
    dims = _dims("logsumexp", input, dim)
    return apply(OPS["logsumexp"], (input,), {"dims": dims, "keepdim": keepdim})


@tensor_arguments
def softmax(input: Tensor, dim: int | None = None, dtype=None) -> Tensor:
    """``exp(x) / sum(exp(x))`` along ``dim`` (the ``softmax`` primitive, shifted by the max)."""
    if dtype is not None:
        input = cast(input, to_dtype(dtype))
    dim = _softmax_dim("softmax", input, dim)
    if input.dtype.category != FLOAT:
        input = cast(input, get_default_dtype())
    return apply(OPS["softmax"], (input,), {"dim": dim})


@tensor_arguments
def log_softmax(input: Tensor, dim: int | None = None, dtype=None) -> Tensor:
    """``x - logsumexp(x)`` along ``dim``: finite even for logits of 1000."""
    if dtype is not None:
        input = cast(input, to_dtype(dtype))
    dim = _softmax_dim("log_softmax", input, dim)
    if input.dtype.category != FLOAT:
        input = cast(input, get_default_dtype())
    return apply(OPS["log_softmax"], (input,), {"dim": dim})


def _softmax_dim(name: str, x: Tensor, dim) -> int:
    if dim is None:
        ndim = x._data.ndim
        dim = 0 if ndim in (0, 1, 3) else 1
    return normalize_dim(name, dim, x._data.ndim)


@tensor_arguments
def cumsum(input: Tensor, dim: int, *, dtype=None) -> Tensor:
    if dtype is not None:
        input = cast(input, to_dtype(dtype))
    return apply(OPS["cumsum"], (input,), {"dim": normalize_dim("cumsum", dim, input._data.ndim)})


@tensor_arguments
def any(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """True where some element is non-zero."""
    as_bool = input if input.dtype is bool_ else P.ne(input, 0)
    return P.gt(sum(as_bool, dim, keepdim), 0)


@tensor_arguments
def all(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """True where every element is non-zero (and for an empty reduction)."""
    return P.logical_not(any(P.logical_not(input), dim, keepdim))


@tensor_arguments
def count_nonzero(input: Tensor, dim=None) -> Tensor:
    return sum(P.ne(input, 0), dim)


def p_norm(input: Tensor, p: float, dim=None, keepdim: bool = False) -> Tensor:
    """The vector ``p``-norm over ``dim`` (all elements by default), ``p`` a number: the
    computation behind ``linalg.vector_norm``, ``norm``, ``cdist`` and ``renorm``, which
    check their arguments first."""
    if input.dtype is float16:  # powered, summed and rooted in float32, rounded once (PyTorch's)
        return cast(p_norm(cast(input, float32), p, dim, keepdim), float16)
    if p == 2:
        return _safe_sqrt(sum(P.mul(input, input), dim, keepdim))
    if p == math.inf:
        return amax(P.abs(input), dim if dim is not None else (), keepdim)
    if p == -math.inf:
        return amin(P.abs(input), dim if dim is not None else (), keepdim)
    if p == 1:
        return sum(P.abs(input), dim, keepdim)
    if p == 0:
        # The count of nonzeros, with a zero gradient as in torch: the x * 0 branch only
        # ever holds zeros, and ties the count to x.
        return sum(P.where(P.ne(input, 0), 1.0, P.mul(input, 0.0)), dim, keepdim)
    magnitude = P.abs(input)
    if p < 1:
        # |x|**p's derivative is infinite at x = 0 (times sign(0) = 0: NaN); PyTorch's norm
        # backward multiplies it by 0 there, so the gradient is 0 unless the one flowing in
        # is inf or NaN.  The same here: (|x| + z)**p * (1 - z), with z 1 at the zeros, has
        # a finite derivative times 0 there; |0|**p itself (inf for p < 0) is added apart
        at_zero = P.eq(magnitude, 0)
        zero = cast(at_zero, magnitude.dtype)
        powered = P.mul(P.pow(P.add(magnitude, zero), p), P.rsub(zero, 1.0))
        if p < 0:
            powered = P.add(powered, P.where(at_zero, math.inf, zero))
    else:
        powered = P.pow(magnitude, p)
    return _safe_root(sum(powered, dim, keepdim), p)


def _safe_root(total: Tensor, p: float) -> Tensor:
    """``total ** (1/p)`` with gradient 0 (not nan) where ``total`` is 0, as PyTorch's
    norm and std backward.

    Both ``where``s are needed: the inner keeps the root's derivative finite at 0, the
    outer sends the gradient to the constant branch there.
    """
    zero = P.eq(total, 0)
    safe = P.where(zero, 1.0, total)
    return P.where(zero, 0.0, P.sqrt(safe) if p == 2 else P.pow(safe, 1.0 / p))


def _safe_sqrt(total: Tensor) -> Tensor:
    return _safe_root(total, 2)


@tensor_arguments
def dist(input: Tensor, other: Tensor, p: float = 2) -> Tensor:
    return p_norm(P.sub(input, other), p)
