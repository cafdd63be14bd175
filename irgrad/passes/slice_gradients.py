"""Sums of slice gradients that tile a range of one axis become one concatenation.

The gradient of ``x[i]`` is ``slice_grad``: ``g`` placed at ``i`` in zeros of ``x``'s
shape.  A value sliced into pieces (a recurrent layer's time steps, an LSTM state
split into ``h`` and ``c``) gets one such zero-filled gradient per piece, added up in
a chain: for 32 time steps, 32 full-size buffers written and 31 added.  When the
pieces are disjoint ranges of one axis, that sum is the pieces concatenated along the
axis (and, if they do not cover it, placed by one ``slice_grad``).

The values are those of the sum, except that a piece's ``-0.0`` stays ``-0.0`` where
the sum gave ``-0.0 + 0.0 = +0.0``: a lowering pass of the native backend, not an
exact rewrite of :mod:`.simplify`.
"""

from __future__ import annotations

from numbers import Integral
from typing import NamedTuple

from ..ir.builder import GraphOps
from ..ir.graph import Graph
from ..ops.strides import slice_indices
from .add_trees import is_sum_root, summands
from .dce import prune


class _Piece(NamedTuple):
    """A ``slice_grad`` leaf: its value placed at ``[start, stop)`` of ``axis`` (squeezed:
    an integer index, so the value lacks the axis)."""

    nid: int
    axis: int
    start: int
    stop: int
    squeezed: bool


def _piece(graph: Graph, nid: int, shape: tuple) -> _Piece | None:
    """``nid`` as a piece of a tiling of ``shape``, or None when it is not one."""
    node = graph.node(nid)
    if node.op != "slice_grad" or tuple(node.attrs.get("shape", ())) != shape:
        return None
    index = node.attrs["index"]
    if not isinstance(index, tuple) or len(index) > len(shape):
        return None
    axis = None
    for dim, entry in enumerate(index):
        if isinstance(entry, slice):
            start, stop, step = slice_indices(entry, shape[dim])
            if step != 1:
                return None
            if (start, stop) == (0, shape[dim]):
                continue
            span = (start, stop, False)
        elif isinstance(entry, Integral) and not isinstance(entry, bool):
            position = entry % shape[dim] if -shape[dim] <= entry < shape[dim] else None
            if position is None:
                return None
            span = (position, position + 1, True)
        else:
            return None
        if axis is not None:
            return None  # pieces of more than one axis
        axis, found = dim, span
    if axis is None:
        return None
    return _Piece(nid, axis, *found)


def assemble_slice_gradients(graph: Graph) -> Graph:
    """A copy of ``graph`` whose sums of disjoint slice gradients along one axis are
    concatenations."""
    out = graph.copy()
    F = GraphOps(out)
    for root in out.order():
        if root not in out or not is_sum_root(out, root):
            continue
        shape = tuple(out.node(root).type.shape)
        leaves = summands(out, root)
        pieces = [_piece(out, leaf, shape) for leaf in leaves]
        if len(leaves) < 2 or any(p is None for p in pieces) or len({p.axis for p in pieces}) != 1:
            continue
        pieces.sort(key=lambda p: p.start)
        if any(a.stop != b.start for a, b in zip(pieces, pieces[1:])):
            continue  # overlapping, or with a gap between them
        axis = pieces[0].axis
        parts = []
        for p in pieces:
            value = F.value(out.args(p.nid)[0])
            if p.squeezed:
                value = F.reshape(value, shape=shape[:axis] + (1,) + shape[axis + 1 :])
            parts.append(value)
        total = F.cat(*parts, dim=axis) if len(parts) > 1 else parts[0]
        start, stop = pieces[0].start, pieces[-1].stop
        if (start, stop) != (0, shape[axis]):
            index = (slice(None),) * axis + (slice(start, stop, 1),)
            total = F.slice_grad(total, shape=shape, index=index)
        out.set_source((total.id, *(p.id for p in parts)), out.node(root).source)
        out.replace_uses(root, total.id)
        prune(out, [root])
    return out
