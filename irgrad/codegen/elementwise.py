"""Fused elementwise kernels: one loop nest computes a whole group of elementwise ops.

A fused group's body (see :mod:`irgrad.passes.fusion`) is a graph of elementwise ops
over the group's inputs, with ``broadcast_to``/``reshape`` of inputs absorbed and
one-element constants copied in.  Its kernel walks the output's positions once and,
at each, loads what every input holds there, runs every op's scalar rule and stores
the result: intermediate values never reach memory.

Broadcasting is done by strides: each input is read through strides computed from
its (static) shape against the output's, 0 along broadcast dimensions.  Adjacent
dimensions that every operand walks contiguously are merged, so the common case (all
operands full-size or scalars) is one flat loop, which LLVM vectorizes for the host
CPU.  The kernel bakes in every shape; the Python wrapper checks each argument's shape
and dtype before the call, so a native loop never reads outside an array.
"""

from __future__ import annotations

import ctypes
import dataclasses
import hashlib
import math
from typing import NamedTuple

import llvmlite.ir as ir
import numpy as np

from ..ir.graph import CONSTANT, INPUT, Graph, Node
from ..ir.run_time_sizes import Size
from ..native import jit
from ..native.loops import I64, for_range, freeze
from ..ops import OPS, Kind
from ..ops.scalar import Unsupported
from ..ops.strides import broadcast_strides, contiguous_strides
from .index_loops import coalesce, loop_nest, offset_function, static_shape, store
from .parallel import is_split_when_built, split_when_large
from .run_time import size_value
from .scalars import LlvmScalars, Value, llvm_type, storage_type
from .transpose import TILE, transpose_tiles
from .vector_emitter import separate_table_loads

# Kernels the JIT keeps loadable for eager execution's own native kernels when compiled
# graphs have used up the process's code memory (see jit.compile_function).
RESERVED = 1024

# Elements of the outer loop's parts are multiples of this many (a cache line of floats
# at least, so two threads never write one line).
PARALLEL_GRAIN = 64


def grain_of(dims: tuple) -> int:
    """Rows of the outermost loop a part of a split nest takes at a time: enough that two
    threads seldom write one cache line (one row when the rows' width is a run-time size)."""
    inner = math.prod(dims[1:])
    return 1 if isinstance(inner, Size) else max(1, PARALLEL_GRAIN // inner)


# Movement ops a body may hold (on its inputs): broadcasting is a stride, a reshape of
# a contiguous input a different view of its data.
BODY_VIEWS = ("broadcast_to", "reshape")  # movement ops a fused body may hold on its inputs


class _Load(NamedTuple):
    """How the kernel reads body input ``position``: its contiguous data seen with
    ``shape`` (a reshape's), broadcast to the output."""

    position: int
    shape: tuple[int, ...]
    reshaped: bool = False  # read through a reshape: the input must be contiguous


class LoopKernel:
    """A body's loop nest, for arrays of the body's input shapes and dtypes: what a
    subclass emits (``emit``) into a function ``symbol(in0, ..., out)`` of any module
    (:meth:`define`).  The code is specialised to a layout of its inputs (per input, its
    element strides, or None for contiguous): strided inputs (a slice, a transposed
    view) are read in place.  An input read through an absorbed ``reshape`` must be
    contiguous (``strided_ok``).  The output is the body's, contiguous."""

    def __init__(self, body: Graph) -> None:
        self.body = body
        self.name = body.name
        self.input_types = [
            (static_shape(body.node(i)), np.dtype(body.node(i).type.dtype.np)) for i in body.inputs
        ]
        out = body.node(body.outputs[0])
        self.out_shape, self.out_dtype = static_shape(out), np.dtype(out.type.dtype.np)
        reshaped = {load.position for load in body_loads(body).values() if load.reshaped}
        self.strided_ok = [k not in reshaped for k in range(len(self.input_types))]

    def define(self, module: ir.Module, symbol: str, layout: tuple) -> ir.Function:
        """Add the kernel for ``layout`` to ``module`` as the function ``symbol``."""
        pointer_types = [ir.PointerType(storage_type(dt)) for _, dt in self.input_types]
        out_pointer = ir.PointerType(storage_type(self.out_dtype))
        fn = ir.Function(module, ir.FunctionType(ir.VoidType(), pointer_types + [out_pointer]), symbol)
        for arg in fn.args:
            arg.add_attribute("noalias")
        builder = ir.IRBuilder(fn.append_basic_block("entry"))
        self.emit(builder, fn.args[:-1], fn.args[-1], layout)
        builder.ret_void()
        return fn

    def emit(self, builder: ir.IRBuilder, inputs, out, layout: tuple) -> None:
        raise NotImplementedError

    def splits(self) -> bool:
        """Whether the nest is split across the thread pool."""
        return False

    def scratch(self, layout: tuple) -> list[tuple]:
        """(shape, dtype) of each temporary the nest needs for inputs of ``layout``,
        passed to :meth:`emit` after the arguments."""
        return []


class NativeKernel(LoopKernel):
    """A compiled group on its own: ``kernel(*arrays) -> array`` (each array's shape and
    dtype checked on every call, so native code never reads out of bounds).

    The first variant assumes contiguous inputs; another layout gets its own variant,
    compiled when first seen (a graph's values keep their layouts from call to call).
    """

    prefix = "kernel"

    def __init__(self, body: Graph) -> None:
        super().__init__(body)
        self._digest = hashlib.sha256(str(body).encode()).hexdigest()[:20]
        self._variants: dict[tuple, object] = {}
        contiguous = (None,) * len(self.input_types)
        self.llvm_ir = self._variant(contiguous)[1]  # for dumps: as generated, before LLVM optimizes it
        self._fast = self._specialize(contiguous)

    def __call__(self, *arrays: np.ndarray) -> np.ndarray:
        return self._fast(*arrays)

    def _specialize(self, layout: tuple):
        """The call for arrays of ``layout``: generated straight-line Python (no loop over
        the inputs) checking each array's type, shape, dtype and layout, then calling the
        variant.  Anything else (another layout, a wrong shape) takes the general path."""
        fn = self._variant(layout)[0]
        names = [f"a{k}" for k in range(len(self.input_types))]
        namespace = {"ndarray": np.ndarray, "empty": np.empty, "address": jit.address, "fn": fn}
        namespace.update(slow=self._general, OS=self.out_shape, OD=self.out_dtype)
        checks, addresses = [], []
        for k, ((shape, dt), strides) in enumerate(zip(self.input_types, layout)):
            namespace[f"S{k}"], namespace[f"D{k}"] = shape, dt
            check = f"a{k}.__class__ is ndarray and a{k}.shape == S{k} and a{k}.dtype is D{k}"
            if strides is None:
                check += f" and a{k}.flags.c_contiguous"
                addresses.append(f"address(a{k})")
            else:
                namespace[f"B{k}"] = tuple(s * dt.itemsize for s in strides)
                check += f" and a{k}.strides == B{k}"
                addresses.append(f"a{k}.ctypes.data")
            checks.append(f"({check})")
        source = "\n".join(
            [
                f"def call({', '.join(names)}):",
                f"    if not ({' and '.join(checks) or 'True'}):",
                f"        return slow({', '.join(names)})",
                "    out = empty(OS, OD)",
                f"    fn({', '.join(addresses + ['address(out)'])})",
                "    return out",
            ]
        )
        exec(compile(source, f"<native kernel {self.name}>", "exec"), namespace)
        return namespace["call"]

    def _general(self, *arrays: np.ndarray) -> np.ndarray:
        """Any call: checks every array (raising on a wrong one), reads strided inputs in
        place where the body allows, and switches the fast path to this call's layout."""
        if len(arrays) != len(self.input_types):
            raise RuntimeError(
                f"native kernel {self.name}: {len(arrays)} inputs, expected {len(self.input_types)}"
            )
        ready = []  # kept alive until the call returns: a copy's address is only valid while it lives
        layout = []
        for k, (a, (shape, dt)) in enumerate(zip(arrays, self.input_types)):
            if type(a) is not np.ndarray:
                a = np.asarray(a)  # a numpy scalar (what numpy's reductions return)
            if a.shape != shape or a.dtype != dt:
                raise RuntimeError(
                    f"native kernel {self.name}: input {k} is {a.dtype}{list(a.shape)}, "
                    f"expected {dt}{list(shape)}"
                )
            if a.flags.c_contiguous:
                layout.append(None)
            elif self.strided_ok[k] and all(s % a.itemsize == 0 for s in a.strides):
                layout.append(tuple(s // a.itemsize for s in a.strides))
            else:
                a = np.ascontiguousarray(a)
                layout.append(None)
            ready.append(a)
        layout = tuple(layout)
        fn = self._variant(layout)[0]
        self._fast = self._specialize(layout)
        out = np.empty(self.out_shape, self.out_dtype)
        fn(*[jit.address(a) for a in ready], jit.address(out))
        return out

    def _variant(self, layout: tuple) -> tuple:
        """(compiled function, module text) of the variant for ``layout`` (per input: its
        element strides, or None for contiguous)."""
        variant = self._variants.get(layout)
        if variant is None:
            symbol = f"{self.prefix}_{self._digest}_{len(self._variants)}"
            module = self._module(symbol, layout)
            separate_table_loads(module)
            text = str(module)
            signature = ctypes.CFUNCTYPE(None, *[ctypes.c_void_p] * (len(self.input_types) + 1))
            fn = jit.kernel(
                ("native", text), lambda: jit.compile_function(module, symbol, signature, reserve=RESERVED)
            )
            variant = self._variants[layout] = (fn, text)
        return variant

    def _module(self, symbol: str, layout: tuple) -> ir.Module:
        """The LLVM module holding the kernel ``symbol(in0, ..., out)``."""
        module = jit.new_module(symbol)
        self.define(module, symbol, layout)
        return module


class ElementwiseLoops(LoopKernel):
    """A fused group of elementwise ops: one loop nest over the output, the whole body
    computed at each position."""

    def splits(self) -> bool:
        """Whether the nest is split across the thread pool (decided when built)."""
        return is_split_when_built(math.prod(self.out_shape))

    def emit(self, builder: ir.IRBuilder, inputs, out, layout: tuple) -> None:
        if 0 in self.out_shape:
            return
        body = self.body
        at = Positionwise(body, body.outputs[0], self.out_shape, self.input_types, layout)
        operand_strides = at.strides + [broadcast_strides(self.out_shape, self.out_shape)]
        dims, coalesced = coalesce(self.out_shape, operand_strides)
        at.strides, out_strides = coalesced[:-1], coalesced[-1]

        transposed = self._transposed_copy(dims, at.strides, out_strides)
        # whether each matrix holds a whole tile: known now, or (sizes known at run time) a
        # branch of the code, rather than an assumption of the program (see .run_time)
        small = transposed is not None and [d for d in dims[-2:] if not isinstance(d, Size)]
        if transposed is not None and small and min(small) < TILE:
            transposed = None

        def nest(b: ir.IRBuilder, pointers: list, start=None, count=None) -> None:
            if transposed is None:
                loops(b, pointers, start, count)
                return
            sized = [d for d in dims[-2:] if isinstance(d, Size)]
            if not sized:
                _transposed_matrices(b, pointers[0], pointers[-1], dims, transposed, start, count)
                return
            tiles = b.icmp_signed(">=", size_value(b, sized[0]), ir.Constant(I64, TILE))
            for d in sized[1:]:
                tiles = b.and_(tiles, b.icmp_signed(">=", size_value(b, d), ir.Constant(I64, TILE)))
            with b.if_else(tiles) as (whole_tiles, otherwise):
                with whole_tiles:  # in 8x8 register transposes (see .transpose)
                    _transposed_matrices(b, pointers[0], pointers[-1], dims, transposed, start, count)
                with otherwise:
                    loops(b, pointers, start, count)

        def loops(b: ir.IRBuilder, pointers: list, start=None, count=None) -> None:
            indices: list[ir.Value] = []
            offset = offset_function(b, indices)

            def element() -> None:
                result = at.emit(b, pointers[:-1], offset)
                store(b, result.ir, self.out_dtype, b.gep(pointers[-1], [offset(out_strides)], inbounds=True))

            loop_nest(b, dims, indices, element, "i", start, count)

        split_when_large(builder, [*inputs, out], dims, grain_of(dims), nest, math.prod(dims))

    def _transposed_copy(self, dims: tuple, strides: list, out_strides: tuple) -> tuple | None:
        """For a copy (the body's output is its one input) of a matrix, or a batch of
        them (whole tiles where used: see :meth:`emit`), read transposed (steps of 1 down
        the output's columns): the input's steps between matrices (None for one matrix)
        and along the output's rows."""
        body = self.body
        if len(body.inputs) != 1 or body.outputs[0] != body.inputs[0] or len(strides) != 1:
            return None
        (steps,) = strides
        if len(dims) not in (2, 3) or out_strides != contiguous_strides(dims):
            return None  # (the caller checks the matrices' sizes)
        if steps[-2] != 1 or steps[-1] == 1:
            return None
        return (steps[0] if len(dims) == 3 else None), steps[-1]


def _transposed_matrices(b: ir.IRBuilder, source, target, dims: tuple, steps: tuple, start, count) -> None:
    """The transposing copy :meth:`ElementwiseLoops._transposed_copy` found: of one
    matrix (its rows ``start .. start + count``), or of matrices ``start .. start + count``."""
    between, along = steps
    if between is None:
        transpose_tiles(b, source, along, target, dims[0], dims[1], start, count)
        return
    rows, cols = dims[1], dims[2]
    with for_range(b, size_value(b, dims[0]) if count is None else count, "matrix", unroll=False) as k:
        matrix = k if start is None else b.add(k, start)
        from_ = b.gep(source, [b.mul(matrix, size_value(b, between))])
        to = b.gep(target, [b.mul(matrix, size_value(b, rows * cols))])
        transpose_tiles(b, from_, along, to, rows, cols)


class ElementwiseKernel(ElementwiseLoops, NativeKernel):
    """:class:`ElementwiseLoops` compiled on its own."""

    prefix = "fused"


def body_loads(body: Graph) -> dict[int, _Load]:
    """The read of every body input and absorbed view that an op of the body (or its
    output) uses, by node id.  An input used only through a view, or not at all (an
    anchor's argument in an epilogue), is never read directly."""
    position = {nid: k for k, nid in enumerate(body.inputs)}
    shapes = {nid: static_shape(body.node(nid)) for nid in position}
    viewed: dict[int, int] = {}  # view -> the input it views
    used = set(body.outputs)
    for nid in body.order():
        node = body.node(nid)
        args = body.args(nid)
        if node.op in BODY_VIEWS and args[0] in position:
            viewed[nid] = args[0]
            shapes[nid] = static_shape(node) if node.op == "reshape" else shapes[args[0]]
        elif node.op not in (INPUT, CONSTANT):
            used.update(args)
    loads = {}
    for nid in used:
        if nid in position:
            loads[nid] = _Load(position[nid], shapes[nid])
        elif nid in viewed:
            view = body.node(nid).op == "reshape"
            loads[nid] = _Load(
                position[viewed[nid]], shapes[nid], view and shapes[nid] != shapes[viewed[nid]]
            )
    return loads


class Positionwise:
    """A body's values ``sinks`` (a node, or a list of them) at one position of a loop
    space of ``space_shape``: the loads of the inputs it reads, their element strides
    in that space, and the code evaluating every op they need from them."""

    def __init__(
        self,
        body: Graph,
        sinks: int | list[int],
        space_shape: tuple[int, ...],
        input_types: list,
        layout: tuple,
    ) -> None:
        self.body, self.input_types = body, input_types
        self.sinks = [sinks] if isinstance(sinks, int) else list(sinks)
        self.needed = _ancestors(body, self.sinks)
        self.loads = body_loads(body)
        self.distinct = list(dict.fromkeys(self.loads.values()))
        self.strides = [
            broadcast_strides(load.shape, space_shape, None if load.reshaped else layout[load.position])
            for load in self.distinct
        ]
        self._hoisted: dict[tuple, dict[int, Value]] = {}  # per (function, pointers)

    def emit(self, builder: ir.IRBuilder, inputs, offset) -> Value:
        """The (first) sink's value where ``offset(strides)`` gives each load's element offset."""
        return self.values(builder, inputs, offset)[0]

    def values(self, builder: ir.IRBuilder, inputs, offset) -> list[Value]:
        """Every sink's value where ``offset(strides)`` gives each load's element offset.

        What does not vary along the nest, a scalar input (a learning rate) and what is
        computed from such inputs alone, comes from the function's entry block
        (:meth:`_invariants`)."""
        values = dict(self._invariants(builder, inputs))
        loaded = {self.loads[nid] for nid in values if nid in self.loads}
        for load, strides in zip(self.distinct, self.strides):
            if load not in loaded:
                self._load(builder, inputs[load.position], load, offset(strides), values)
        self._compute(LlvmScalars(builder), values, invariant=False)
        return [values[s] for s in self.sinks]

    def _invariants(self, builder: ir.IRBuilder, inputs) -> dict[int, Value]:
        """The values of the inputs read at one element for the whole nest (all strides
        0), and of the ops over them alone, emitted once at the end of the entry block of
        ``builder``'s function (when the pointers are available there).

        Left in the loop, a float64 scalar such as SGD's learning rate made the float64
        type the widest in the loop, which halved the loop vectorizer's lanes for the
        float32 data (LLVM cannot hoist the load itself: the pointer may alias an output)."""
        fixed = [load for load, strides in zip(self.distinct, self.strides) if not any(strides)]
        function, entry = builder.function, builder.function.blocks[0]
        if not fixed or builder.block is entry or not entry.is_terminated:
            return {}
        pointers = tuple(inputs[load.position] for load in fixed)
        if not all(isinstance(p, ir.Argument) or getattr(p, "parent", None) is entry for p in pointers):
            return {}
        key = (function, pointers)
        hoisted = self._hoisted.get(key)
        if hoisted is None:
            at_entry = ir.IRBuilder(entry)
            at_entry.position_before(entry.terminator)
            hoisted = {}
            for load, pointer in zip(fixed, pointers):
                self._load(at_entry, pointer, load, ir.Constant(I64, 0), hoisted)
            self._compute(LlvmScalars(at_entry), hoisted, invariant=True)
            self._hoisted[key] = hoisted
        return hoisted

    def _load(self, builder: ir.IRBuilder, pointer, load: _Load, offset: ir.Value, values: dict) -> None:
        """Load ``load``'s element at ``offset`` into ``values``, for each body node read
        through it."""
        dt = self.input_types[load.position][1]
        raw = builder.load(builder.gep(pointer, [offset], inbounds=True))
        if dt == np.bool_:
            raw = builder.icmp_unsigned("!=", raw, ir.Constant(raw.type, 0))
        else:
            raw = freeze(builder, raw)  # (see freeze: no masked store when written back in place)
        for nid, other in self.loads.items():
            if other == load:
                values[nid] = Value(raw, dt, self.body.node(nid).type.ndim)

    def _compute(self, S: LlvmScalars, values: dict[int, Value], invariant: bool) -> None:
        """Add the needed ops' values to ``values``; with ``invariant``, only those whose
        arguments are all there already (the ops over invariant values)."""
        body = self.body
        for nid in body.order():
            node = body.node(nid)
            if nid in values or nid not in self.needed or node.op == INPUT:
                continue
            args = body.args(nid)
            if node.op in BODY_VIEWS and args[0] not in values:
                continue  # a view of an input no op reads directly: unused, or loaded itself
            if invariant and not all(a in values for a in args):
                continue
            values[nid] = _value(S, body, node, values)


def _ancestors(body: Graph, sinks: list[int]) -> set[int]:
    """``sinks`` and every body node they are computed from."""
    found, stack = set(sinks), list(sinks)
    while stack:
        for a in body.args(stack.pop()):
            if a not in found:
                found.add(a)
                stack.append(a)
    return found


def _value(S: LlvmScalars, body: Graph, node: Node, values: dict[int, Value]) -> Value:
    """One body node's value at the current position (its arguments are in ``values``)."""
    if node.op == CONSTANT:
        if node.value.size != 1:
            raise Unsupported("a constant of more than one element inside a fused body")
        dt = np.dtype(node.value.dtype)
        scalar = node.value.reshape(()).item()
        return Value(ir.Constant(llvm_type(dt), scalar), dt, node.value.ndim, scalar)
    args = [values[a] for a in body.args(node.id)]
    if node.op in BODY_VIEWS:  # a view of a value computed in the body: the same scalar
        return dataclasses.replace(args[0], ndim=node.type.ndim)
    op = OPS.get(node.op)
    if op is None or op.kind is not Kind.ELEMENTWISE or op.scalar is None:
        raise Unsupported(f"{node.op} is not an elementwise op with a scalar rule")
    result = op.scalar(S, *args, **node.attrs)
    expected = np.dtype(node.type.dtype.np)
    if result.dtype != expected:
        raise RuntimeError(f"scalar rule of {node.op} gave {result.dtype}, its type says {expected}")
    return dataclasses.replace(result, ndim=node.type.ndim, known=None)
