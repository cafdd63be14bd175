"""Reverse-mode automatic differentiation of an IR graph, with the ops' own gradient rules.

``autodiff(g, wrt)`` returns a JOINT graph: it computes ``g``'s outputs and then the
gradients of those outputs with respect to the chosen inputs.

Signature of the result (the node ids of ``g``'s non-fused nodes are kept)::

    inputs:  g's inputs..., %grad_out0, %grad_out1, ...   (one incoming gradient per output,
                                                           of that output's type)
    outputs: g's outputs..., grad for wrt[0], grad for wrt[1], ...

If the ``grad_out`` names are taken (differentiating a joint graph again) they get a
``d`` prefix: ``%dgrad_out0, %dgrad_out1, ...``.  Each gradient is the vector-Jacobian
product ``sum_k grad_out_k . d out_k / d input`` (what ``torch.autograd.grad(outputs,
inputs, grad_outputs)`` returns), with the input's shape and dtype.

How: nodes are visited in reverse topological order and each op's registered
``vjp(F, g, ctx)`` runs on :class:`~irgrad.ir.builder.GraphOps`, so the rule appends
nodes instead of computing.  Only nodes that depend on a ``wrt`` input through
differentiable, floating-point values are visited, and ``ctx.needs`` is false for
arguments that do not, so rules build no unused gradients.  Gradients of a value used
several times are summed with ``add``; a gradient of an implicitly broadcast operand is
summed back to the operand's shape.  Fused nodes are inlined first (their bodies are
differentiated like any other nodes).  An input with no path to an output gets a zero
gradient (``full_like``).  Because the rules are pure functions of ``F``, the joint
graph can be differentiated again (higher derivatives, Hessian-vector products).
"""

from __future__ import annotations

from collections.abc import Sequence

from ..dtypes import FLOAT
from ..ir.builder import GraphOps, Value
from ..ir.graph import FUSED, Graph, TensorType
from ..ops import OPS, Meta, VjpContext
from ..ops.movement import sum_to

__all__ = ["autodiff", "inline_fused"]


def autodiff(
    g: Graph,
    wrt: Sequence[int] | None = None,
    seeded: Sequence[bool] | None = None,
    higher_order: bool = True,
) -> Graph:
    """The joint forward+backward graph of ``g``.

    ``wrt`` lists positions in ``g.inputs`` (not node ids) to differentiate with
    respect to; by default every floating-point input, in input order.  ``seeded`` says,
    per output, whether a gradient flows from it (by default from every one): each output
    has its gradient input either way, but an unseeded one's is not read, so no gradient
    rule runs for the ops only it depends on (a training step's clipped ``.grad`` values,
    which eager computes without recording a graph).  ``higher_order=False`` promises the
    joint graph's gradient part will not be differentiated again: rules may then use a
    fused gradient op that has no gradient of its own (``lstm_scan_backward``), as
    :func:`irgrad.compiler.build.build` does.
    """
    joint = inline_fused(g)
    joint.name = f"{g.name}_joint"
    positions = _check_wrt(joint, wrt)
    wrt_ids = [joint.inputs[i] for i in positions]
    order = joint.order()
    carries = _carriers(joint, order, set(wrt_ids))

    F = GraphOps(joint)
    forward_outputs = list(joint.outputs)
    taken = {joint.node(i).name for i in joint.inputs}
    grads: dict[int, Value] = {}

    def accumulate(nid: int, grad: Value) -> None:
        grads[nid] = grad if nid not in grads else F.add(grads[nid], grad)

    prefix = "grad_out"
    while any(f"{prefix}{k}" in taken for k in range(len(forward_outputs))):
        prefix = "d" + prefix
    for k, out in enumerate(forward_outputs):
        seed = F.input(f"{prefix}{k}", joint.node(out).type.shape, joint.node(out).type.dtype)
        if out in carries and (seeded is None or seeded[k]):
            accumulate(out, seed)

    for nid in reversed(order):
        node = joint.node(nid)
        if nid not in grads or not node.is_op:
            continue
        args = joint.args(nid)
        ctx = VjpContext(
            ins=tuple(F.value(a) for a in args),
            out=F.value(nid),
            metas=tuple(Meta(joint.node(a).type.shape, joint.node(a).type.dtype) for a in args),
            needs=tuple(a in carries for a in args),
            attrs=node.attrs,
            higher_order=higher_order,
        )
        arg_grads = OPS[node.op].vjp(F, grads.pop(nid), ctx)
        for a, need, grad in zip(args, ctx.needs, arg_grads):
            if need and grad is not None:
                accumulate(a, _fit(F, grad, joint.node(a).type, node.op))

    results = [grads[i] if i in grads else F.full_like(F.value(i), value=0.0) for i in wrt_ids]
    joint.set_outputs(forward_outputs + [r.id for r in results])
    return joint


def inline_fused(g: Graph) -> Graph:
    """A copy of ``g`` with every fused node (recursively) replaced by its body's nodes."""
    out = g.copy()
    fused = [nid for nid in out.order() if out.node(nid).op == FUSED]
    while fused:
        for nid in fused:
            _inline(out, nid)
        fused = [nid for nid in out.order() if out.node(nid).op == FUSED]
    return out


def _inline(g: Graph, nid: int) -> None:
    g.replace_uses(nid, g.splice(g.node(nid).body, g.args(nid))[0])
    g.remove(nid)


def _check_wrt(g: Graph, wrt: Sequence[int] | None) -> list[int]:
    if wrt is None:
        return [i for i, nid in enumerate(g.inputs) if g.node(nid).type.dtype.category == FLOAT]
    positions = []
    for i in wrt:
        if not isinstance(i, int) or not -len(g.inputs) <= i < len(g.inputs):
            raise IndexError(
                f"autodiff: wrt position {i!r} is not an input position of graph {g.name} "
                f"({len(g.inputs)} inputs)"
            )
        node = g.node(g.inputs[i])
        if node.type.dtype.category != FLOAT:
            raise TypeError(
                f"autodiff: input %{node.name} has dtype {node.type.dtype}; only "
                "floating-point inputs have gradients"
            )
        positions.append(i % len(g.inputs))
    return positions


def _carriers(g: Graph, order: list[int], sources: set[int]) -> set[int]:
    """The values that depend on ``sources`` through differentiable floating-point ops."""
    carries = set(sources)
    for nid in order:
        node = g.node(nid)
        if (
            node.is_op
            and OPS[node.op].vjp is not None
            and node.type.dtype.category == FLOAT
            and any(a in carries for a in g.args(nid))
        ):
            carries.add(nid)
    return carries


def _fit(F: GraphOps, grad: Value, target: TensorType, op: str) -> Value:
    """``grad`` summed back to ``target``'s shape if its operand was broadcast implicitly."""
    if grad.dtype is not target.dtype:
        raise TypeError(
            f"autodiff: the gradient rule of {op} gave a {grad.dtype} gradient for a {target.dtype} operand"
        )
    if tuple(grad.shape) != tuple(target.shape):
        grad = sum_to(F, grad, target.shape)
    return grad
