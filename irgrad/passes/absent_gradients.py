"""A backward graph for a call in which some outputs have no gradient.

A compiled function's backward graph takes one gradient per output of the forward.  A
backward may differentiate only some of them (``d, aux = f(x); d.sum().backward()``):
eager autograd then never visits the other outputs' paths.  Given zeros for the missing
gradients, the graph would compute ``0 * inf = NaN`` wherever another output's
derivative is infinite (``x.sqrt()`` at 0), so a gradient eager computes as 2 would come
out NaN.  :func:`without_gradients` makes the graph such a call runs instead: the
missing gradients are known zeros, dropped through every op linear in them
(``OpDef.linear_in``: a product in either factor, a quotient in its numerator, a sum,
``where`` in both values, the other a zero constant; a linear op in all its arguments),
so no product by them is computed.  Where another op reads a known zero (a cast, a
fused gradient routine), it reads zeros (a broadcast scalar, or the missing gradient's
input itself, which the caller fills with zeros), as before.  The inputs and outputs
are the graph's own, so the call's interface does not change.
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np

from ..ir.graph import CONSTANT, INPUT, Graph, TensorType
from ..ir.symbolic import attribute_dim
from ..ops import OPS
from .dce import dce

__all__ = ["without_gradients"]


def without_gradients(g: Graph, absent: Collection[int]) -> Graph:
    """A copy of backward graph ``g`` where the inputs at positions ``absent`` (gradients
    no backward supplies, given as zeros) contribute nothing."""
    out = g.copy()
    zero = {out.inputs[p] for p in absent}
    # the graph's own zeros, which count only beside a missing gradient (where's other
    # value): a product by a zero constant keeps its NaN for an infinite factor, as eager's
    constant_zeros = {
        nid for nid in out.nx if out.node(nid).op == CONSTANT and not np.any(out.node(nid).value)
    }
    zeros_for: dict[int, int] = {}

    def zeros(nid: int) -> int:
        """Zeros of ``nid``'s type, for an op that reads the known zero ``nid``."""
        if out.node(nid).op == INPUT:
            return nid  # a missing gradient: the caller passes zeros
        if nid not in zeros_for:
            zeros_for[nid] = _zeros(out, out.node(nid).type)
        return zeros_for[nid]

    for nid in out.order():
        node = out.node(nid)
        if not node.is_op:
            continue
        args = out.args(nid)
        reads_zero = [pos for pos, a in enumerate(args) if a in zero]
        if not reads_zero:
            continue
        op = OPS.get(node.op)
        groups = () if op is None else op.linear_in + ((tuple(range(len(args))),) if op.is_linear else ())
        if any(all(pos in reads_zero or args[pos] in constant_zeros for pos in group) for group in groups):
            zero.add(nid)
            continue
        for pos in reads_zero:  # (a missing gradient itself stays: it is zeros)
            if zeros(args[pos]) != args[pos]:
                out.nx.remove_edge(args[pos], nid, key=pos)
                out.nx.add_edge(zeros(args[pos]), nid, key=pos)
    out.set_outputs([zeros(o) if o in zero else o for o in out.outputs])
    return dce(out)


def _zeros(g: Graph, type: TensorType) -> int:
    """A node of zeros of ``type``: a scalar broadcast (no memory; its sizes may be
    symbolic)."""
    scalar = g.add_constant(np.zeros((), type.dtype.np), TensorType((), type.dtype))
    return g.add_op("broadcast_to", [scalar], {"shape": tuple(map(attribute_dim, type.shape))}, type)
