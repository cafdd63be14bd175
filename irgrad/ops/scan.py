"""Running reductions along a dim beyond ``cumsum`` (:mod:`irgrad.ops.reduction`):
``cumprod``, and ``cumargmax`` / ``cumargmin``, the position of the running extremum.

``cummax`` and ``cummin`` are composites: the position primitive, then a ``gather`` of
the input there, so their values are differentiable through ``gather``'s rule (PyTorch's
gradient: each result's gradient goes to the element it came from).
"""

from __future__ import annotations

import numpy as np

from ..dtypes import int64
from .reduction import accumulated, along_dim, sum_dtype
from .registry import Kind, Meta, OpDef, register
from .shapes import numel


def _reversed_cumsum(F, x, dim: int):
    return F.flip(F.cumsum(F.flip(x, dims=(dim,)), dim=dim), dims=(dim,))


def _cumprod_vjp(F, g, c):
    # d out_j / d x_k = prod_{i <= j, i != k} x_i for j >= k.  A rule on arrays (a plain
    # backward, never differentiated again) takes the O(n) form exact to first order;
    # elsewhere (create_graph, traced or IR graphs) the O(n^2) form, exact to any order.
    if numel(c.metas[0].shape) <= 1:  # the running product of one element is the identity
        return (g,)
    first_order = isinstance(g, np.ndarray)
    return ((_cumprod_grad_linear if first_order else _cumprod_grad_quadratic)(F, g, c),)


def _cumprod_grad_linear(F, g, c):
    """Before a row's first zero the derivative is out_j / x_k; at the first zero z it is
    prod(x[:z]) * prod(x[z+1..j]), which vanishes from the next zero on; after the first
    zero every term holds that zero.  Every division is by a non-zero."""
    (x,) = c.ins
    dim = c.attrs["dim"]
    is_zero = F.eq(x, 0.0)
    zeros_so_far = F.cumsum(is_zero, dim=dim)
    before = F.eq(zeros_so_far, 0)
    first_run = F.eq(zeros_so_far, 1)  # from the first zero up to the second
    first_zero = F.logical_and(is_zero, first_run)
    after_first_zero = F.logical_and(first_run, F.logical_not(is_zero))
    tail = _reversed_cumsum(F, F.where(before, F.mul(g, c.out), 0.0), dim)
    grad_before = F.div(tail, F.where(before, x, 1.0))
    prefix = F.cumprod(F.where(before, x, 1.0), dim=dim)
    run = F.cumprod(F.where(after_first_zero, x, 1.0), dim=dim)
    inner = F.sum(F.mul(F.where(first_run, g, 0.0), run), dims=(dim,), keepdim=True)
    return F.where(first_zero, F.mul(prefix, inner), F.where(before, grad_before, 0.0))


def _cumprod_grad_quadratic(F, g, c):
    """For each k, the running product of x with x_k replaced by 1 (a new axis of k's
    beside ``dim``), weighted by g and summed over j >= k: no division at all."""
    (x,) = c.ins
    dim = c.attrs["dim"]
    shape = tuple(c.metas[0].shape)
    lead, n, trail = shape[:dim], shape[dim], shape[dim + 1 :]
    along_k, along_j = lead + (n, 1) + trail, lead + (1, n) + trail
    position = F.cumsum(F.full_like(x, value=1.0), dim=dim)
    k, j = F.reshape(position, shape=along_k), F.reshape(position, shape=along_j)
    without_k = F.cumprod(F.where(F.eq(k, j), 1.0, F.reshape(x, shape=along_j)), dim=dim + 1)
    terms = F.where(F.ge(j, k), F.mul(F.reshape(g, shape=along_j), without_k), 0.0)
    return F.sum(terms, dims=(dim + 1,), keepdim=False)


register(
    OpDef(
        "cumprod",
        Kind.SCAN,
        along_dim(lambda x, *, dim: accumulated(x, lambda acc: np.cumprod(x, axis=dim, dtype=acc))),
        lambda x, *, dim: Meta(tuple(x.shape), sum_dtype(x.dtype)),
        _cumprod_vjp,
        save_inputs=True,
        save_output=True,
        doc="Running product along `dim`, accumulated as PyTorch's (a float32 one in float64; integers in int64).",
    )
)


def _running_position(accumulate):
    """A kernel for the position of the running extremum ``accumulate`` finds: the last
    element equal to it (PyTorch's ties), or the last NaN once one was seen (NaN wins)."""

    def kernel(x, *, dim):
        hit = x == accumulate(x, axis=dim)
        if x.dtype.kind == "f":
            hit |= np.isnan(x)
        shape = [1] * x.ndim
        shape[dim] = x.shape[dim]
        positions = np.arange(x.shape[dim], dtype=np.int64).reshape(shape)
        return np.maximum.accumulate(np.where(hit, positions, 0), axis=dim)

    return along_dim(kernel)


for _name, _accumulate in (("cumargmax", np.maximum.accumulate), ("cumargmin", np.minimum.accumulate)):
    register(
        OpDef(
            _name,
            Kind.SELECTION,
            _running_position(_accumulate),
            lambda x, *, dim: Meta(tuple(x.shape), int64),
            doc="The position along `dim` of the running extremum (the last of equal ones, "
            "the last NaN once one is seen).",
        )
    )
