"""How one node of a lowered graph becomes native code inside a graph's entry function.

Each lowering knows, from the node alone, whether it can run natively; given its
arguments' places it says which must be contiguous (the planner copies those that
are not), and it emits code reading its arguments where they are and writing its
result, contiguous, at ``out``:

* :class:`LoopLowering`: a fused group, a lone elementwise op, a reduction with a
  combiner, a copy: a loop nest (:mod:`.elementwise`, :mod:`.reduce`) emitted as an
  internal function of the entry's module and called from it (LLVM inlines it);
* :class:`GemmLowering`: ``matmul`` and ``linear``: a call of the BLAS numpy loaded
  (:mod:`.blas`) per matrix, transposed operands read in place;
* :class:`RoutineLowering`: the softmax-and-loss ops, calls of irgrad's own native
  kernels (:mod:`irgrad.native.loss`), whose error status becomes the entry's.
"""

from __future__ import annotations

import functools
import math

import llvmlite.binding as llvm
import llvmlite.ir as ir
import numpy as np

from ..dtypes import from_numpy_dtype
from ..ir.graph import FUSED, Graph, Node, TensorType
from ..native import loss as native_loss
from ..native.loops import I64
from ..ops import OPS, Kind
from ..ops.scalar import Unsupported
from ..passes.fusion import ANCHOR_KINDS
from .elementwise import ElementwiseLoops, LoopKernel
from .emission import Emission, Lowering, Operand
from .gemm import gemm_lowering
from .layout import Place
from .lower import split_anchor
from .multi_loops import MultiLoops
from .reduce import ReductionLoops, is_map_reduce
from .run_time import size_value
from .windows import WINDOW_OPS, pool_pair_lowering, window_lowering


class LoopLowering(Lowering):
    """A loop nest over a body (see :class:`LoopKernel`)."""

    def __init__(self, loops: LoopKernel) -> None:
        super().__init__()
        self.loops = loops
        self.name = loops.name

    def contiguous_args(self, args: list[Place]) -> list[bool]:
        needs = [not ok for ok in self.loops.strided_ok]
        return needs + [False] * (len(args) - len(needs))  # a multi-result loop's later results

    def scratch(self, args: list[Place]) -> list[tuple]:
        return self.loops.scratch(tuple(None if p.contiguous else p.strides for p in args))

    def splits(self, places: list[Place]) -> bool:
        return self.loops.splits()

    def _key(self, args: list[Place], out: Place) -> tuple:
        layout = tuple(None if p.contiguous else p.strides for p in args)
        # inputs that are a result itself (an update written in place): read through the
        # result's pointer (its position among the pointers), so LLVM sees one address per
        # element and vectorizes without a run-time overlap check (which fails for an exact
        # overlap: a scalar loop)
        n = len(self.loops.input_types)
        results = {p: k for k, p in enumerate(args) if k >= n}
        results[out] = len(args)
        itself = tuple((k, results[p]) for k, p in enumerate(args[:n]) if p in results)
        return (type(self.loops).__name__, structure(self.loops.body), layout, itself)

    def signature(self, places: list[Place]) -> tuple:
        # the kernel's key and the operands' types: the step is a call of that kernel
        return ("loop", self._key(places[:-1], places[-1]), tuple(p.dtype for p in places))

    def emit(self, at: Emission, args: list[Operand], out: Operand) -> None:
        key = self._key([a.place for a in args], out.place)
        layout, itself = key[2], key[3]

        def build(builder: ir.IRBuilder, pointers) -> None:
            inputs = list(pointers[:-1])
            for k, result in itself:
                inputs[k] = pointers[result]
            self.loops.emit(builder, inputs, pointers[-1], layout)

        at.call(key, self.loops.name, [a.pointer for a in args] + [out.pointer], build)


def structure(body: Graph) -> tuple:
    """What a body's code depends on, without its names: each node's op, attributes,
    type, arguments (by position in the order) and constant value."""
    order = body.order()
    position = {nid: k for k, nid in enumerate(order)}
    nodes = []
    for nid in order:
        node = body.node(nid)
        value = None if node.value is None else (node.value.dtype.str, node.value.tobytes())
        args = tuple(position[a] for a in body.args(nid))
        nodes.append((node.op, repr(sorted(node.attrs.items())), node.type, args, value))
    return tuple(nodes), tuple(position[o] for o in body.outputs), tuple(position[i] for i in body.inputs)


def body_of(node: Node, arg_types: list, output_is_input: bool = False) -> Graph:
    """A one-node body: ``node``'s op applied to inputs of ``arg_types`` (or, with
    ``output_is_input``, its first input itself: a copy)."""
    body = Graph(f"{node.op}{node.id}")
    inputs = [body.add_input(f"in{k}", t) for k, t in enumerate(arg_types)]
    if output_is_input:
        body.set_outputs([inputs[0]])
    else:
        body.set_outputs([body.add_op(node.op, inputs, node.attrs, node.type, source=node.source)])
    return body


def copy_lowering(place: Place, name: str) -> LoopLowering:
    """A contiguous copy of a value at ``place``."""
    body = Graph(f"copy.{name}")
    body.set_outputs([body.add_input("in0", TensorType(place.shape, from_numpy_dtype(place.dtype)))])
    return LoopLowering(ElementwiseLoops(body))


# --- irgrad's own native kernels as routines ------------------------------------------------------

_MODES = {"none": 0, "sum": 1, "mean": 2}


class RoutineLowering(Lowering):
    """``log_softmax`` over the last dim, ``nll_loss`` and its gradient on (rows, classes):
    a call of the eager native kernel, registered as a symbol so object code stays
    cacheable.  Arguments are read contiguous."""

    may_fail = True

    def __init__(self, node: Node, dtype: np.dtype) -> None:
        super().__init__(node)
        self.symbol = f"irgrad_{node.op}_{dtype.char}"
        llvm.add_symbol(self.symbol, native_loss.routine_address(node.op, dtype))

    def contiguous_args(self, args: list[Place]) -> list[bool]:
        return [True] * len(args)

    def emit(self, at: Emission, args: list[Operand], out: Operand) -> ir.Value | None:
        pointers = [a.pointer for a in args] + [out.pointer]
        types = [p.type for p in pointers]
        if self.node.op == "log_softmax":
            n = args[0].place.shape[self.node.attrs["dim"]]  # the dims after it are all 1
            rows = math.prod(args[0].place.shape) // n
            fn = _declare(at.module, self.symbol, ir.VoidType(), types + [I64, I64])
            at.builder.call(fn, pointers + [size_value(at.builder, rows), size_value(at.builder, n)])
            return None
        attrs = self.node.attrs
        rows, n = attrs["shape"] if self.node.op == "nll_loss_grad" else args[0].place.shape
        fn = _declare(at.module, self.symbol, I64, types + [I64] * 4)
        extra = [
            size_value(at.builder, x) for x in (rows, n, attrs["ignore_index"], _MODES[attrs["reduction"]])
        ]
        return at.builder.call(fn, pointers + extra)


def _declare(module: ir.Module, name: str, returns: ir.Type, args: list) -> ir.Function:
    if name in module.globals:
        return module.globals[name]
    return ir.Function(module, ir.FunctionType(returns, args), name)


def _routine(node: Node, arg_types: list) -> Lowering | str:
    dtype = np.dtype(arg_types[0].dtype.np)
    if dtype.kind != "f":
        return f"{node.op} of {dtype}"
    shapes = [t.shape for t in arg_types]
    if node.op == "log_softmax":
        shape, dim = shapes[0], node.attrs["dim"]
        if not shape or 0 in shape or math.prod(shape[dim:][1:]) != 1:
            return f"log_softmax of shape {shape} along dim {dim}"
    else:
        rows_cols = node.attrs["shape"] if node.op == "nll_loss_grad" else shapes[0]
        if len(rows_cols) != 2 or shapes[1] != (rows_cols[0],) or 0 in rows_cols:
            return f"{node.op} of shapes {shapes}"
    return RoutineLowering(node, dtype)


ROUTINES = ("log_softmax", "nll_loss", "nll_loss_grad")


# --- choosing a node's lowering ---------------------------------------------------------------------


def choose(node: Node, arg_types: list) -> Lowering | str:
    """``node``'s native lowering, or the reason it runs with numpy."""
    try:
        return _choose(node, arg_types)
    except Unsupported as reason:
        return str(reason)


def _choose(node: Node, arg_types: list) -> Lowering | str:
    if node.op == FUSED:
        return _fused(node.body)
    op = OPS[node.op]
    if op.kind is Kind.ELEMENTWISE and op.scalar is not None:
        return LoopLowering(ElementwiseLoops(body_of(node, arg_types)))
    if op.reduction is not None:
        return LoopLowering(ReductionLoops(body_of(node, arg_types)))
    if node.op == "copy":
        return LoopLowering(ElementwiseLoops(body_of(node, arg_types, output_is_input=True)))
    if node.op in ("matmul", "linear"):
        return gemm_lowering(node, arg_types)
    if node.op in ROUTINES:
        return _routine(node, arg_types)
    if node.op in WINDOW_OPS:
        return window_lowering(node, arg_types)
    lowering = _table_lowerings().get(node.op)
    if lowering is not None:
        return lowering(node, arg_types)
    return f"no native lowering of {node.op}"


@functools.cache
def _table_lowerings() -> dict:
    """The lowerings the modules of data movement, indexing and recurrent cells give by op
    name, imported when a graph first has such a node: many graphs have none (an MLP's, an
    elementwise function's), and the four modules take 2 ms of a first build to import."""
    from .advanced_indexing import INDEX_LOWERINGS
    from .indexing import INDEXING_LOWERINGS
    from .movement import MOVEMENT_LOWERINGS
    from .recurrent import RECURRENT_LOWERINGS

    tables = (MOVEMENT_LOWERINGS, RECURRENT_LOWERINGS, INDEXING_LOWERINGS, INDEX_LOWERINGS)
    return {op: lowering for table in tables for op, lowering in table.items()}


class AnchoredLowering(Lowering):
    """A group anchored on a matmul or a reduction: the anchor's lowering writes a
    temporary the epilogue's loop nest reads (the planner gives it an arena buffer)."""

    def __init__(self, anchor: Node, lowering: Lowering, sources: list, epilogue: LoopLowering) -> None:
        super().__init__()
        self.anchor, self.sources, self.epilogue = lowering, sources, epilogue
        self.anchor_type = (tuple(anchor.type.shape), np.dtype(anchor.type.dtype.np))
        self.name = epilogue.name


def _fused(body: Graph) -> Lowering | str:
    if len(body.outputs) > 1:
        pair = pool_pair_lowering(body)
        return pair if pair is not None else LoopLowering(MultiLoops(body))
    if is_map_reduce(body):
        return LoopLowering(ReductionLoops(body))
    anchors = [n for n in body.op_nodes() if n.op in OPS and OPS[n.op].kind in ANCHOR_KINDS]
    if not anchors:
        return LoopLowering(ElementwiseLoops(body))
    (anchor,) = anchors
    epilogue, sources = split_anchor(body, anchor)
    anchor_types = [body.node(a).type for a in body.args(anchor.id)]
    lowered = _choose(anchor, anchor_types)
    if isinstance(lowered, str):
        return lowered
    return AnchoredLowering(anchor, lowered, sources, LoopLowering(ElementwiseLoops(epilogue)))
