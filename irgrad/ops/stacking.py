"""How a ``cat`` of per-step values passes through the op that computed each of them.

A traced Python loop leaves one copy of its per-step work per step; where the steps'
results are concatenated, ``cat(f(a_0), ..., f(a_n-1)) == f(cat(a_0, ..., a_n-1))`` for
many ops ``f``: the work is done once, on all the steps' arguments together.  Each op
that allows it carries the rule in its registry entry (``OpDef.stack``)::

    stack(F, name, dim, steps, attrs, shape) -> Value | None

``steps[t]`` are step t's arguments (handles of the graph ``F`` appends to), ``attrs[t]``
its attributes, ``shape`` the shape every step's value has, ``dim`` the dim they are
concatenated along.  A rule returns the concatenation computed once (concatenating
arguments with ``F.cat`` where it needs to: :mod:`irgrad.passes.stack_steps` sinks those
cats in turn), or None where it does not apply.  The results are the same values: an
elementwise op or a view computes each element as before; a matmul over the joined
rows computes each row as before, up to the order a GEMM adds in.
"""

from __future__ import annotations

import math
from numbers import Integral

from .registry import OPS
from .strides import slice_indices


def _same(values: list) -> bool:
    return all(v.id == values[0].id for v in values)


def _joined(shape: tuple, dim: int, n: int) -> tuple:
    """``shape`` with dim ``dim`` ``n`` times as long: the shape of the cat of n values."""
    return shape[:dim] + (shape[dim] * n,) + shape[dim + 1 :]


def _broadcasting_args(F, dim: int, steps: list, shape: tuple, rank: int | None = None) -> list | None:
    """Each argument of a broadcasting op for its steps' values concatenated along
    ``dim`` of the result (arguments right-aligned over the result's first ``rank``
    dims): one value for all steps where it broadcasts along ``dim`` (it must be the
    same value in every step), else the steps' values concatenated along its aligned
    dim; None where neither holds."""
    rank = len(shape) if rank is None else rank
    args = []
    for column in zip(*steps):
        column = list(column)
        value = column[0]
        own = len(value.shape) - (len(shape) - rank)  # the argument's dims over the result's first `rank`
        k = dim - (rank - own)
        if k < 0 or value.shape[k] == 1 != shape[dim]:
            if not _same(column):
                return None
            args.append(value)
        elif value.shape[k] == shape[dim]:
            args.append(F.cat(*column, dim=k))
        else:
            return None
    return args


def elementwise(F, name: str, dim: int, steps: list, attrs: list, shape: tuple):
    """An elementwise op: its arguments concatenated (those that vary along ``dim``)."""
    if any(a != attrs[0] for a in attrs):
        return None
    args = _broadcasting_args(F, dim, steps, shape)
    return None if args is None else F.apply(name, args, attrs[0])


def broadcast_to(F, name: str, dim: int, steps: list, attrs: list, shape: tuple):
    """``broadcast_to(x, shape)``: to the joined shape, from x (one value broadcast along
    ``dim``) or from the steps' x concatenated."""
    if any(a != attrs[0] for a in attrs):
        return None
    args = _broadcasting_args(F, dim, steps, shape)
    return None if args is None else F.broadcast_to(args[0], shape=_joined(shape, dim, len(steps)))


def permute(F, name: str, dim: int, steps: list, attrs: list, shape: tuple):
    """``permute(x, dims)``: the steps' x concatenated along the dim that becomes ``dim``."""
    dims = attrs[0]["dims"]
    if any(a != attrs[0] for a in attrs):
        return None
    return F.permute(F.cat(*(s[0] for s in steps), dim=dims[dim]), dims=dims)


def reshape(F, name: str, dim: int, steps: list, attrs: list, shape: tuple):
    """``reshape(x, shape)`` whose dims before ``dim`` hold one element (the cat is the
    steps' elements one after another, as is the cat of their x along x's first dim), or
    that only inserts a 1 at ``dim`` (the cat stacks the steps' x along a new dim)."""
    x, n = steps[0][0], len(steps)
    if any(a != attrs[0] for a in attrs) or not x.shape:
        return None
    if math.prod(shape[:dim]) == 1:
        return F.reshape(F.cat(*(s[0] for s in steps), dim=0), shape=_joined(shape, dim, n))
    if shape[dim] == 1 and shape[:dim] + shape[dim + 1 :] == tuple(x.shape):
        order = list(range(1, len(shape)))
        order.insert(dim, 0)
        stacked = F.reshape(F.cat(*(s[0] for s in steps), dim=0), shape=(n, *x.shape))
        return F.permute(stacked, dims=tuple(order))
    return None


def slice_grad(F, name: str, dim: int, steps: list, attrs: list, shape: tuple):
    """``slice_grad(g, shape, index)`` (zeros with g written at ``index``) whose index
    takes all of ``dim``: the steps' g concatenated along the dim it has there."""
    if any(a != attrs[0] for a in attrs):
        return None
    index, n = attrs[0]["index"], len(steps)
    found = _sliced_axis(index, dim)
    if found is None:
        return None
    position, g_dim = found
    size = shape[dim]
    if position < len(index):
        if slice_indices(index[position], size) != (0, size, 1):
            return None
        index = index[:position] + (slice(0, size * n, 1),) + index[position + 1 :]
    joined = F.cat(*(s[0] for s in steps), dim=g_dim)
    return F.slice_grad(joined, shape=_joined(shape, dim, n), index=index)


def matmul(F, name: str, dim: int, steps: list, attrs: list, shape: tuple):
    """``a @ b``: the steps' rows of a (``dim`` the result's rows, b the same in every
    step), columns of b (``dim`` its columns), or batches (as a broadcasting op does)."""
    rank = len(shape)
    a, b = steps[0]
    if dim == rank - 2:
        if not _same([s[1] for s in steps]):
            return None
        return F.matmul(F.cat(*(s[0] for s in steps), dim=len(a.shape) - 2), b)
    if dim == rank - 1:
        if not _same([s[0] for s in steps]):
            return None
        return F.matmul(a, F.cat(*(s[1] for s in steps), dim=len(b.shape) - 1))
    args = _broadcasting_args(F, dim, steps, shape, rank - 2)
    return None if args is None else F.matmul(*args)


def linear(F, name: str, dim: int, steps: list, attrs: list, shape: tuple):
    """``linear(x, w, b)`` along any dim but the features: the steps' x concatenated, the
    same weight and bias in every step."""
    if dim == len(shape) - 1 or any(not _same([s[j] for s in steps]) for j in range(1, len(steps[0]))):
        return None
    x = steps[0][0]
    return F.linear(F.cat(*(s[0] for s in steps), dim=dim - (len(shape) - len(x.shape))), *steps[0][1:])


def slice_(F, name: str, dim: int, steps: list, attrs: list, shape: tuple):
    """``x[index]``: consecutive steps of one x (an integer index or a range that moves on
    by one step each time) are one slice of it; the steps' own x, sliced alike and whole
    along the dim that becomes ``dim``, are their cat sliced (where each x is a view, so
    that cat sinks on rather than copying whole values the slices narrow)."""
    sources = [s[0] for s in steps]
    if _same(sources):
        return _consecutive(F, sources[0], dim, [a["index"] for a in attrs], shape)
    if any(a != attrs[0] for a in attrs) or not all(_is_view(x) for x in sources):
        return None  # (the steps' own values concatenated whole: views, so the cat sinks on)
    index = attrs[0]["index"]
    x = sources[0]
    axis = _input_axis(index, dim)
    if axis is None:
        return None
    position, k = axis
    size = x.shape[k]
    if position < len(index) and slice_indices(index[position], size) != (0, size, 1):
        return None
    joined = F.cat(*sources, dim=k)
    if position < len(index):
        index = index[:position] + (slice(0, size * len(steps), 1),) + index[position + 1 :]
    return F.slice(joined, index=index)


def _is_view(value) -> bool:
    """Whether ``value`` is made by a view op (an input or a computed value is not)."""
    op = OPS.get(value.graph.node(value.id).op)
    return op is not None and op.view is not None


def _kept_dims(index: tuple) -> tuple[list[tuple[int, int, int]], int, int]:
    """``(position, input dim, result dim)`` of each slice item of ``index`` (the dims a
    slice keeps), and the input and result dims after its last item, from which the
    trailing dims, kept whole, pair off."""
    kept, k, out = [], 0, 0
    for position, item in enumerate(index):
        if isinstance(item, slice):
            kept.append((position, k, out))
        k += item is not None  # an integer or a slice reads an input dim
        out += not isinstance(item, Integral)  # a slice or a new axis makes a result dim
    return kept, k, out


def _input_axis(index: tuple, dim: int) -> tuple[int, int] | None:
    """(the position in ``index``, the input dim) of the result's dim ``dim`` when a
    slice (or no item: a trailing dim) of an input dim makes it; None for a new axis."""
    kept, k, out = _kept_dims(index)
    if dim >= out:
        return len(index), k + dim - out
    return next(((position, i) for position, i, o in kept if o == dim), None)


def _sliced_axis(index: tuple, axis: int) -> tuple[int, int] | None:
    """(the position in ``index``, the result's dim) of the sliced value's dim ``axis``
    where a slice (or no item: a trailing dim) keeps it; None where an integer drops it."""
    kept, k, out = _kept_dims(index)
    if axis >= k:
        return len(index), out + axis - k
    return next(((position, o) for position, i, o in kept if i == axis), None)


def _consecutive(F, x, dim: int, indices: list, shape: tuple):
    """The steps' slices of one ``x`` concatenated, where they differ in one item only:
    integers one apart (x's dim taken whole over those steps, moved to ``dim`` and
    merged into it), ranges of one length one after another along ``dim``, or ranges of
    one element one after another along another dim (as integers)."""
    first = indices[0]
    if any(len(i) != len(first) for i in indices):
        return None
    differ = {p for i in indices for p, item in enumerate(i) if item != first[p]}
    if len(differ) != 1:
        return None
    (position,) = differ
    k = sum(item is not None for item in first[:position])  # the input dim it indexes
    items = [i[position] for i in indices]
    n = len(items)
    if all(isinstance(item, Integral) for item in items):
        if items != list(range(items[0], items[0] + n)):
            return None
        return _integer_steps(F, x, dim, first, position, items[0], n, shape)
    if not all(isinstance(item, slice) for item in items):
        return None
    ranges = [slice_indices(item, x.shape[k]) for item in items]
    length = ranges[0][1] - ranges[0][0]
    consecutive = all(
        step == 1 and stop - start == length and start == ranges[0][0] + t * length
        for t, (start, stop, step) in enumerate(ranges)
    )
    if not consecutive or length <= 0:
        return None
    if _input_axis(first, dim) == (position, k):
        whole = slice(ranges[0][0], ranges[0][0] + n * length, 1)
        return F.slice(x, index=first[:position] + (whole,) + first[position + 1 :])
    if length != 1:
        return None
    # one element of another dim per step (x[:, t:t+1]): integer steps, that dim kept as 1
    q = sum(not isinstance(item, Integral) for item in first[:position])  # its dim in each step
    dropped = shape[:q] + shape[q + 1 :]
    value = _integer_steps(F, x, dim - (q < dim), first, position, ranges[0][0], n, dropped)
    return F.reshape(value, shape=_joined(shape, dim, n))


def _integer_steps(F, x, dim: int, first: tuple, position: int, start: int, n: int, shape: tuple):
    """The cat along ``dim`` of ``x[index]`` where ``index`` is ``first`` with the
    integers ``start .. start + n - 1`` at ``position`` (each step's value of ``shape``):
    that dim taken whole over the steps, moved to ``dim`` and merged into it."""
    taken = F.slice(x, index=first[:position] + (slice(start, start + n, 1),) + first[position + 1 :])
    axis = sum(not isinstance(item, Integral) for item in first[:position])  # its dim in `taken`
    order = [d for d in range(len(taken.shape)) if d != axis]
    order.insert(dim, axis)
    if order != list(range(len(order))):
        taken = F.permute(taken, dims=tuple(order))
    return F.reshape(taken, shape=_joined(shape, dim, n))
