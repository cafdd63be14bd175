"""Scatter primitives that write rather than add: ``scatter`` replaces the addressed
elements, ``scatter_reduce`` combines them with a product, maximum or minimum.

Both address ``x`` as ``scatter_add`` does (:mod:`irgrad.ops.movement`): an element of
``index`` at position ``p`` names the element of ``x`` at ``p`` with ``p[dim]`` replaced by
its value, and carries ``src[p]`` there (``src`` may be larger than ``index``: only its
leading corner is read).  The public layer checks shapes, dtypes and index ranges first.
An element written more than once by ``scatter`` keeps the last write in the index's
row-major order, as PyTorch's CPU loop does.  The gradient rules are PyTorch's, ties
and zeros included (``scatter_reduce``'s ``amax``/``amin`` share the gradient evenly
among the elements equal to the result; ``prod`` divides only by non-zeros).
"""

from __future__ import annotations

import numpy as np

from .movement import bound_along_dim, padded_to, positions_along
from .registry import Kind, Meta, OpDef, register
from .shapes import fmt, numel

# The reductions a primitive does; "sum" and "mean" are composites over scatter_add.
REDUCERS = {"prod": np.multiply, "amax": np.maximum, "amin": np.minimum}


def _leading(src: np.ndarray, shape: tuple) -> np.ndarray:
    return src[tuple(slice(0, s) for s in shape)]


def _last_writes(targets: np.ndarray) -> np.ndarray:
    """Positions in the flat ``targets`` of the last write to each distinct target."""
    first_from_end = np.unique(targets[::-1], return_index=True)[1]
    return targets.size - 1 - first_from_end


def _scatter_kernel(x, index, src, *, dim):
    out = x.copy()
    if index.size == 0:
        return out
    index = np.where(index < 0, index + x.shape[dim], index)  # numpy's reading of a negative index
    grids = np.broadcast_arrays(*positions_along(index, dim))
    targets = np.ravel_multi_index(grids, x.shape).reshape(-1)
    last = _last_writes(targets)
    out.reshape(-1)[targets[last]] = _leading(src, index.shape).reshape(-1)[last]
    return out


def _identity(reduce: str, dtype: np.dtype):
    """The value a reduction starts from where ``x`` is not included."""
    if reduce == "prod":
        return 1
    largest = reduce == "amin"
    if dtype.kind == "f":
        return np.inf if largest else -np.inf
    if dtype.kind == "b":
        return largest
    info = np.iinfo(dtype)
    return info.max if largest else info.min


def _scatter_reduce_kernel(x, index, src, *, dim, reduce, include_self):
    out = x.copy()
    grids = positions_along(index, dim)
    if not include_self:
        out[grids] = _identity(reduce, x.dtype)
    with np.errstate(all="ignore"):  # inf * 0 is NaN, as in PyTorch, without numpy's warning
        REDUCERS[reduce].at(out, grids, _leading(src, index.shape))
    return out


def _infer_scatter(name: str):
    def infer(x: Meta, index: Meta, src: Meta, *, dim, **_) -> Meta:
        if len(index.shape) != len(x.shape) or len(src.shape) != len(x.shape):
            raise RuntimeError(
                f"{name}: Index tensor must have the same number of dimensions as self and src tensors "
                f"(self {fmt(x.shape)}, index {fmt(index.shape)}, src {fmt(src.shape)})"
            )
        too_large = any(i > s for d, (i, s) in enumerate(zip(index.shape, x.shape)) if d != dim)
        if numel(index.shape) and (too_large or any(i > s for i, s in zip(index.shape, src.shape))):
            raise RuntimeError(
                f"{name}: Expected index {fmt(index.shape)} to be no larger than self {fmt(x.shape)} apart "
                f"from dimension {dim} and to be no larger size than src {fmt(src.shape)}"
            )
        if src.dtype is not x.dtype:
            raise RuntimeError(
                f"{name}: Expected self.dtype to be equal to src.dtype ({x.dtype}, {src.dtype})"
            )
        return Meta(tuple(x.shape), x.dtype)

    return infer


def _zeros_at(F, index, dtype):
    """Zeros of ``index``'s shape in ``dtype``: what a gradient rule scatters to clear positions."""
    return F.cast(F.full_like(index, value=0), dtype=dtype)


def _scatter_vjp(F, g, c):
    index = c.ins[1]
    dim = c.attrs["dim"]
    gx = F.scatter(g, index, _zeros_at(F, index, c.metas[0].dtype), dim=dim) if c.needs[0] else None
    gsrc = padded_to(F, F.gather(g, index, dim=dim), c.metas[2].shape) if c.needs[2] else None
    return gx, None, gsrc


register(
    OpDef(
        "scatter",
        Kind.MOVEMENT,
        _scatter_kernel,
        _infer_scatter("scatter"),
        _scatter_vjp,
        save_inputs=(1,),
        arity=3,
        index_bounds=bound_along_dim,
        doc="x with src written at index along `dim` (the last of repeated writes wins).",
    )
)


def _extremum_grads(F, g, c, src):
    """PyTorch's rule: the gradient at each result is shared evenly by the elements of
    ``x`` and ``src`` equal to it (the original ``x``'s, even where it is not included)."""
    x, index, _ = c.ins
    dim, dtype = c.attrs["dim"], c.metas[0].dtype
    self_hit = F.cast(F.eq(x, c.out), dtype=dtype)
    src_hit = F.cast(F.eq(src, F.gather(c.out, index, dim=dim)), dtype=dtype)
    share = F.div(g, F.scatter_add(self_hit, index, src_hit, dim=dim))
    return F.mul(self_hit, share), F.mul(src_hit, F.gather(share, index, dim=dim))


def _prod_grads(F, g, c, src):
    """PyTorch's rule: the product of the other factors, found without dividing by a
    zero (a zero factor is replaced by 1 and the product recomputed)."""
    x, index, _ = c.ins
    attrs = c.attrs
    dim, dtype = attrs["dim"], c.metas[0].dtype
    options = {"dim": dim, "reduce": "prod", "include_self": attrs["include_self"]}
    safe_x = F.where(F.eq(x, 0.0), 1.0, x)
    gx = F.div(F.mul(g, F.scatter_reduce(safe_x, index, src, **options)), safe_x)
    src_zero = F.eq(src, 0.0)
    zeros = F.scatter_add(F.full_like(x, value=0.0), index, F.cast(src_zero, dtype=dtype), dim=dim)
    lone_zero = F.logical_and(src_zero, F.eq(F.gather(zeros, index, dim=dim), 1.0))
    without_zero = F.scatter_reduce(x, index, F.where(lone_zero, 1.0, src), **options)
    gsrc = F.where(
        lone_zero,
        F.gather(F.mul(g, without_zero), index, dim=dim),
        F.div(F.gather(F.mul(g, c.out), index, dim=dim), F.where(src_zero, 1.0, src)),
    )
    return gx, gsrc


def _scatter_reduce_vjp(F, g, c):
    _, index, src = c.ins
    attrs = c.attrs
    dim = attrs["dim"]
    if tuple(src.shape) != tuple(index.shape):
        src = F.slice(src, index=tuple(slice(0, s, 1) for s in index.shape))
    grads = _prod_grads if attrs["reduce"] == "prod" else _extremum_grads
    gx, gsrc = grads(F, g, c, src)
    if not attrs["include_self"]:
        gx = F.scatter(gx, index, _zeros_at(F, index, c.metas[0].dtype), dim=dim)
    return (gx if c.needs[0] else None), None, (padded_to(F, gsrc, c.metas[2].shape) if c.needs[2] else None)


register(
    OpDef(
        "scatter_reduce",
        Kind.MOVEMENT,
        _scatter_reduce_kernel,
        _infer_scatter("scatter_reduce"),
        _scatter_reduce_vjp,
        save_inputs=True,
        save_output=True,
        arity=3,
        index_bounds=bound_along_dim,
        doc="x with src combined in at index along `dim` by `reduce` ('prod', 'amax' or 'amin'), "
        "starting from x's element (`include_self`) or from the reduction's identity.",
    )
)
