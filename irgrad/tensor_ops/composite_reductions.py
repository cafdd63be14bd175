"""Reductions and scans composed of others: ``aminmax``, ``nansum``, ``nanmean``,
``logcumsumexp``, ``trapezoid`` (``trapz``), ``cumulative_trapezoid``, ``cov``, ``corrcoef``
and ``renorm``, each in
the steps of PyTorch's implementation."""

from __future__ import annotations

import math
import warnings
from collections import namedtuple
from numbers import Number

from .._arguments import tensor_arguments
from ..creation import full, zeros
from ..dtypes import FLOAT, bool_
from ..ops.shapes import normalize_dim
from ..tensor import Tensor
from . import pointwise as P
from .legacy import NAMES
from .pointwise_composites import logaddexp
from .reduce import amax, amin, p_norm, sum
from .select import where
from .split_join import cat

aminmax_result = namedtuple("aminmax", ["min", "max"])


@tensor_arguments
def aminmax(input: Tensor, *, dim: int | None = None, keepdim: bool = False):
    """``(min, max)`` of ``input`` (over ``dim``, or every element), as ``torch.aminmax``;
    equal extremes share the gradient, as ``amin``/``amax``."""
    if dim is None:
        if input.numel() == 0:
            raise RuntimeError(
                "aminmax(): cannot compute aminmax over an empty dimension as the operation has no identity."
            )
        low, high = amin(input, (), keepdim), amax(input, (), keepdim)
        return aminmax_result(low, high)
    d = normalize_dim("aminmax", dim, input._data.ndim)
    if input._data.ndim and input.shape[d] == 0:
        raise IndexError(f"aminmax: Expected reduction dim {dim} to have non-zero size.")
    if input._data.ndim == 0:
        return aminmax_result(input.clone(), input.clone())
    return aminmax_result(amin(input, d, keepdim), amax(input, d, keepdim))


@tensor_arguments
def nansum(input: Tensor, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """The sum treating NaN as 0 (NaN elements get a zero gradient), as ``torch.nansum``."""
    values = where(P.isnan(input), 0, input) if input.dtype.category == FLOAT else input
    return sum(values, dim, keepdim, dtype=dtype)


@tensor_arguments
def nanmean(input: Tensor, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """The mean of the non-NaN elements (NaN where there are none), as ``torch.nanmean``."""
    if input.dtype.category != FLOAT:
        raise RuntimeError(
            f"nanmean(): expected input to have floating point or complex dtype but got {NAMES[input.dtype]}"
        )
    count = P.logical_not(P.isnan(input)).sum(dim, keepdim)
    return P.div(nansum(input, dim, keepdim, dtype=dtype), count)


@tensor_arguments
def logcumsumexp(input: Tensor, dim: int, *, out=None) -> Tensor:
    """``log(cumsum(exp(input), dim))`` without overflow: a scan of ``logaddexp`` in
    log2(n) doubling steps (Hillis and Steele's), each adding the values ``2^k`` back."""
    if input.dtype.category != FLOAT:
        raise NotImplementedError(f"\"logcumsumexp_out_cpu\" not implemented for '{NAMES[input.dtype]}'")
    if input._data.ndim == 0:
        return P._maybe_out(input.clone(), out)
    d = normalize_dim("logcumsumexp", dim, input._data.ndim)
    n = input.shape[d]
    result, step = input, 1
    while step < n:
        pad_shape = list(input.shape)
        pad_shape[d] = step
        shifted = cat([full(pad_shape, -math.inf, dtype=input.dtype), result.narrow(d, 0, n - step)], d)
        result = logaddexp(result, shifted)
        step *= 2
    return P._maybe_out(result if n > 1 else result.clone(), out)


def _zeros_without(y: Tensor, d: int) -> Tensor:
    return zeros([s for i, s in enumerate(y.shape) if i != d], dtype=y.dtype)


@tensor_arguments
def trapezoid(y: Tensor, x: Tensor | None = None, *, dx: Number | None = None, dim: int = -1) -> Tensor:
    """The trapezoidal rule along ``dim``, with sample points ``x`` or a spacing ``dx``
    (default 1), in PyTorch's arithmetic: ``(sum - (first + last) / 2) * dx`` for a
    spacing, ``sum((left + right) * dx) / 2`` for points."""
    d = normalize_dim("trapezoid", dim, y._data.ndim)
    if y.dtype is bool_:
        raise RuntimeError("trapezoid: received a bool input for `y`, but bool is not supported")
    if y.shape[d] == 0:
        return _zeros_without(y, d)
    if x is None:
        spacing = 1.0 if dx is None else float(dx)
        ends = P.mul(P.add(y.select(d, 0), y.select(d, -1)), 0.5)
        return P.mul(P.sub(y.sum(d), ends), spacing)
    if x._data.ndim == 1:
        if x.shape[0] != y.shape[d]:
            raise RuntimeError("trapezoid: There must be one `x` value for each sample point")
        shape = [1] * y._data.ndim
        shape[d] = x.shape[0]
        x = x.reshape(shape)
    elif x._data.ndim < y._data.ndim:
        x = x.reshape((1,) * (y._data.ndim - x._data.ndim) + tuple(x.shape))
    n = x.shape[d]
    spacing = P.sub(x.narrow(d, 1, n - 1), x.narrow(d, 0, n - 1))
    m = y.shape[d]
    return P.div(P.mul(P.add(y.narrow(d, 0, m - 1), y.narrow(d, 1, m - 1)), spacing).sum(d), 2.0)


@tensor_arguments
def cumulative_trapezoid(
    y: Tensor, x: Tensor | None = None, *, dx: Number | None = None, dim: int = -1
) -> Tensor:
    """The running trapezoidal integrals along ``dim`` (one fewer than the samples), in
    PyTorch's arithmetic: ``cumsum(dx / 2 * (left + right))`` for a spacing,
    ``cumsum(dx * (left + right) / 2)`` for points."""
    d = normalize_dim("cumulative_trapezoid", dim, y._data.ndim)
    if y.dtype is bool_:
        raise RuntimeError("cumulative_trapezoid: received a bool input for `y`, but bool is not supported")
    m = y.shape[d]
    pairs = P.add(y.narrow(d, 0, max(m - 1, 0)), y.narrow(d, min(1, m), max(m - 1, 0)))
    if x is None:
        spacing = 1.0 if dx is None else float(dx)
        return P.mul(pairs, spacing / 2.0).cumsum(d)
    if x._data.ndim == 1:
        if x.shape[0] != m:
            raise RuntimeError("cumulative_trapezoid: There must be one `x` value for each sample point")
        shape = [1] * y._data.ndim
        shape[d] = m
        x = x.reshape(shape)
    elif x._data.ndim < y._data.ndim:
        x = x.reshape((1,) * (y._data.ndim - x._data.ndim) + tuple(x.shape))
    n = x.shape[d]
    spacing = P.sub(x.narrow(d, min(1, n), max(n - 1, 0)), x.narrow(d, 0, max(n - 1, 0)))
    return P.div(P.mul(spacing, pairs), 2.0).cumsum(d)


@tensor_arguments
def trapz(y: Tensor, x: Tensor | None = None, *, dx: Number | None = None, dim: int = -1) -> Tensor:
    """``torch.trapz``: :func:`trapezoid`."""
    return trapezoid(y, x, dx=dx, dim=dim)


def _cov_weights(name: str, weights: Tensor | None, observations: int, integral: bool) -> Tensor | None:
    if weights is None:
        return None
    if weights._data.ndim > 1:
        raise RuntimeError(
            f"cov(): expected {name} to have one or fewer dimensions but got {weights._data.ndim}"
        )
    if weights.numel() != observations:
        raise RuntimeError(
            f"cov(): expected {name} to have the same numel as there are observations in the input but "
            f"got {weights.numel()} != {observations}"
        )
    if integral and weights.dtype.category == FLOAT:
        raise RuntimeError(f"cov(): expected {name} to have integral dtype but got {weights.dtype}")
    if not integral and weights.dtype.category != FLOAT:
        raise RuntimeError(f"cov(): expected {name} to have floating point dtype but got {weights.dtype}")
    if bool((weights < 0).any()):
        raise RuntimeError(f"cov(): {name} cannot be negative")
    return weights


@tensor_arguments
def cov(
    input: Tensor, *, correction: int = 1, fweights: Tensor | None = None, aweights: Tensor | None = None
) -> Tensor:
    """The covariance matrix of the variables in ``input``'s rows (observations in columns;
    a 1-D input is one variable), with frequency and analytic weights, as ``torch.cov``
    (numpy's definition)."""
    if input._data.ndim > 2:
        raise RuntimeError(
            f"cov(): expected input to have two or fewer dimensions but got an input with "
            f"{input._data.ndim} dimensions"
        )
    if input.dtype is bool_:
        raise RuntimeError("cov(): bool dtype is not supported for input")
    rows = input.reshape(1, -1) if input._data.ndim < 2 else input
    observations = rows.shape[1]
    weights = _cov_weights("fweights", fweights, observations, integral=True)
    analytic = _cov_weights("aweights", aweights, observations, integral=False)
    if analytic is not None:
        weights = analytic if weights is None else P.mul(weights, analytic)
    if weights is None:  # (sizes only: no data-dependent check, so compiled code has no break)
        average = P.div(rows.sum(1), observations)
        norm = observations - correction
        degenerate = norm <= 0
    else:
        total = weights.sum()
        if not bool(P.ne(total, 0)):
            raise RuntimeError("cov(): weights sum to zero, can't be normalized")
        average = P.div(P.mul(rows, weights).sum(1), total)
        if analytic is not None and correction != 0:
            norm = P.sub(total, P.div(P.mul(P.mul(weights, analytic).sum(), correction), total))
        else:
            norm = P.sub(total, correction)
        degenerate = bool(P.le(norm, 0))
    if degenerate:
        warnings.warn(
            "cov(): degrees of freedom is <= 0. Correction should be strictly less than the number of "
            "observations.",
            UserWarning,
            stacklevel=2,
        )
        norm = P.mul(norm, 0)
    centered = P.sub(rows, average.unsqueeze(1))
    products = centered @ (centered if weights is None else P.mul(centered, weights)).t()
    return P.div(products, norm).squeeze()


@tensor_arguments
def corrcoef(input: Tensor) -> Tensor:
    """Pearson's correlation coefficients of the rows' variables: :func:`cov` scaled by the
    standard deviations on both sides, clipped to ``[-1, 1]``, as ``torch.corrcoef``."""
    if input._data.ndim > 2:
        raise RuntimeError(
            f"corrcoef(): expected input to have two or fewer dimensions but got an input with "
            f"{input._data.ndim} dimensions"
        )
    c = cov(input)
    if c._data.ndim == 0:
        return P.div(c, c)
    deviation = P.sqrt(c.diagonal())
    c = P.div(c, deviation.reshape(-1, 1))
    c = P.div(c, deviation.reshape(1, -1))
    return P.clamp(c, -1, 1)


@tensor_arguments
def renorm(input: Tensor, p: float, dim: int, maxnorm: float) -> Tensor:
    """Each slice along ``dim`` whose ``p``-norm exceeds ``maxnorm`` scaled down to it (by
    ``maxnorm / (norm + 1e-7)``, PyTorch's factor), the others unchanged."""
    if input.dtype.category != FLOAT:
        raise RuntimeError(f"renorm: expected a floating point tensor, got {input.dtype}")
    if p <= 0:
        raise RuntimeError(f"renorm: non-positive-norm not supported (p={p})")
    if input._data.ndim <= 1:
        raise RuntimeError(f"renorm: input needs at least 2 dimensions, got {input._data.ndim} dimensions")
    d = normalize_dim("renorm", dim, input._data.ndim)
    others = tuple(i for i in range(input._data.ndim) if i != d)
    norms = p_norm(input, p, others, keepdim=True)
    factor = where(P.gt(norms, maxnorm), P.div(maxnorm, P.add(norms, 1e-7)), 1.0)
    return P.mul(input, factor)
