"""Lowering a fused graph's nodes to native kernels, one node at a time.

The LLVM backend runs a graph with the interpreter's schedule (one call per node, each
value freed after its last use) and asks :class:`Lowering` for every node's kernel:

* a fused group of elementwise ops becomes one :class:`ElementwiseKernel`, and one
  ending in a reduction of its value one :class:`ReductionKernel`;
* a group anchored on a matmul or a reduction (its epilogue: bias, activation,
  scaling) runs the anchor's own kernel (BLAS for a matmul) and the epilogue as one
  native kernel reading the anchor's result;
* a matmul or reduction with a one-op epilogue keeps numpy, which runs it as fast;
* every other node, and any group whose scalar rules use something the code
  generator has no exact lowering for, keeps its numpy kernel: the reason is
  recorded, so ``explain()`` can say which groups stayed in numpy and why.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..ir.graph import CONSTANT, FUSED, Graph, Node
from ..ir.symbolic import has_sym
from ..native.jit import CodeMemoryFull
from ..ops import OPS, Kind
from ..ops.scalar import Unsupported
from ..passes.fusion import ANCHOR_KINDS
from .elementwise import ElementwiseKernel, NativeKernel
from .reduce import ReductionKernel, is_map_reduce


class Lowering:
    """``lowering(node)``: a native kernel for ``node``, or None to run it with numpy.

    ``kernels`` holds what was compiled, ``fallbacks`` one line per fused group left
    to numpy, with the reason.
    """

    def __init__(self) -> None:
        self.kernels: list[NativeKernel] = []
        self.fallbacks: list[str] = []

    def __call__(self, node: Node) -> Callable | None:
        if node.op != FUSED or _one_op_epilogue(node.body):
            return None
        try:
            return self._fused(node.body)
        except (Unsupported, CodeMemoryFull) as reason:
            self.fallbacks.append(f"{node.body.name}: {reason}")
            return None

    def _fused(self, body: Graph) -> Callable:
        if is_map_reduce(body):
            kernel = ReductionKernel(body)
            self.kernels.append(kernel)
            return kernel
        anchors = [n for n in body.op_nodes() if n.op in OPS and OPS[n.op].kind in ANCHOR_KINDS]
        if not anchors:
            kernel = ElementwiseKernel(body)
            self.kernels.append(kernel)
            return kernel
        (anchor,) = anchors  # fusion puts at most one anchor in a group
        if has_sym(anchor.attrs):
            raise Unsupported(f"{anchor.op} with symbolic attributes")
        epilogue, sources = split_anchor(body, anchor)
        kernel = ElementwiseKernel(epilogue)
        self.kernels.append(kernel)
        evaluate, attrs = OPS[anchor.op].eval, anchor.attrs

        def anchored(*arrays: np.ndarray) -> np.ndarray:
            args = [arrays[s] if isinstance(s, int) else s for s in sources]
            return kernel(*arrays, np.asarray(evaluate(*args, **attrs)))

        return anchored


def _one_op_epilogue(body: Graph) -> bool:
    """A matmul or reduction followed by one elementwise op: numpy runs that op as fast
    as a native kernel call costs (measured: 1.4-2.4 us against 1.6-2.9 us from 256 to
    16384 elements), so the group stays with numpy by choice, not as a fallback."""
    ops = [n for n in body.op_nodes() if n.op in OPS]
    anchors = [n for n in ops if OPS[n.op].kind in ANCHOR_KINDS]
    return len(anchors) == 1 and sum(OPS[n.op].kind is Kind.ELEMENTWISE for n in ops) == 1


def split_anchor(body: Graph, anchor: Node) -> tuple[Graph, list]:
    """``body`` with ``anchor`` replaced by a new last input (the epilogue), and where
    the anchor's arguments come from: a position among the body's inputs, or the value
    of a constant fusion copied into the body."""
    position = {nid: k for k, nid in enumerate(body.inputs)}
    sources: list = []
    for a in body.args(anchor.id):
        node = body.node(a)
        if a in position:
            sources.append(position[a])
        elif node.op == CONSTANT:
            sources.append(node.value)
        else:
            raise Unsupported(f"{anchor.op}'s arguments are computed inside its group")
    epilogue = body.copy()
    epilogue.name = f"{body.name}.epilogue"
    result = epilogue.add_input("anchor", anchor.type)
    epilogue.replace_uses(anchor.id, result)
    epilogue.remove(anchor.id)
    return epilogue, sources
