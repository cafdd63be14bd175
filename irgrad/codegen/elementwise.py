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
from collections.abc import Sequence

import llvmlite.ir as ir
import numpy as np

from ..ir.graph import CONSTANT, INPUT, Graph, Node
from ..native import jit
from ..native.loops import I64, for_range
from ..ops import OPS, Kind
from ..ops.scalar import Unsupported
from .scalars import LlvmScalars, Value, llvm_type, storage_type

# Movement ops a body may hold (on its inputs): broadcasting is a stride, a reshape of
# a contiguous input a different view of its data.
_VIEWS = ("broadcast_to", "reshape")


def _static_shape(node: Node) -> tuple[int, ...]:
    shape = node.type.shape
    if not all(isinstance(d, int) for d in shape):
        raise Unsupported(f"symbolic shape {shape}")
    return tuple(shape)


def broadcast_strides(data_shape: tuple[int, ...], out_shape: tuple[int, ...]) -> tuple[int, ...]:
    """Element strides reading contiguous data of ``data_shape`` at the positions of
    ``out_shape`` under numpy broadcasting (0 along broadcast dimensions)."""
    if len(data_shape) > len(out_shape):
        raise ValueError(f"cannot broadcast {data_shape} to {out_shape}")
    contiguous = [1] * len(data_shape)
    for k in range(len(data_shape) - 2, -1, -1):
        contiguous[k] = contiguous[k + 1] * data_shape[k + 1]
    lead = len(out_shape) - len(data_shape)
    strides = [0] * lead
    for k, (d, o) in enumerate(zip(data_shape, out_shape[lead:])):
        if d == o:
            strides.append(contiguous[k] if d != 1 else 0)
        elif d == 1:
            strides.append(0)
        else:
            raise ValueError(f"cannot broadcast {data_shape} to {out_shape}")
    return tuple(strides)


def coalesce(shape: tuple[int, ...], strides: Sequence[tuple[int, ...]]) -> tuple[tuple, list[tuple]]:
    """Drop size-1 dimensions and merge neighbours every operand steps through as one
    (``stride[k] == stride[k+1] * shape[k+1]`` for all): the loop nest's dimensions."""
    dims = [(n, [s[k] for s in strides]) for k, n in enumerate(shape) if n != 1]
    merged: list[tuple[int, list[int]]] = []
    for n, st in dims:
        if merged and all(outer == inner * n for outer, inner in zip(merged[-1][1], st)):
            merged[-1] = (merged[-1][0] * n, st)
        else:
            merged.append((n, st))
    return tuple(n for n, _ in merged), [tuple(st[j] for _, st in merged) for j in range(len(strides))]


@dataclasses.dataclass(frozen=True)
class _Load:
    """How the kernel reads body input ``position``: its contiguous data seen with
    ``shape`` (a reshape's), broadcast to the output."""

    position: int
    shape: tuple[int, ...]


class NativeKernel:
    """A compiled group: ``kernel(*arrays) -> array``, for arrays of the body's input
    shapes and dtypes (checked on every call, so native code never reads out of bounds).

    A subclass says how the loops are emitted (``emit``); the output is the body's.
    """

    prefix = "kernel"

    def __init__(self, body: Graph) -> None:
        self.name = body.name
        self.input_types = [
            (_static_shape(body.node(i)), np.dtype(body.node(i).type.dtype.np)) for i in body.inputs
        ]
        out = body.node(body.outputs[0])
        self.out_shape, self.out_dtype = _static_shape(out), np.dtype(out.type.dtype.np)
        symbol = f"{self.prefix}_" + hashlib.sha256(str(body).encode()).hexdigest()[:20]
        module = self._module(body, symbol)
        self.llvm_ir = str(module)  # for dumps: the module as generated, before LLVM optimizes it
        signature = ctypes.CFUNCTYPE(None, *[ctypes.c_void_p] * (len(self.input_types) + 1))
        self._fn = jit.kernel(
            ("fused", self.llvm_ir), lambda: jit.compile_function(module, symbol, signature)
        )

    def __call__(self, *arrays: np.ndarray) -> np.ndarray:
        if len(arrays) != len(self.input_types):
            raise RuntimeError(
                f"native kernel {self.name}: {len(arrays)} inputs, expected {len(self.input_types)}"
            )
        contiguous = []  # kept alive until the call returns: a copy's address is only valid while it lives
        for k, (a, (shape, dt)) in enumerate(zip(arrays, self.input_types)):
            if type(a) is not np.ndarray:
                a = np.asarray(a)  # a numpy scalar (what numpy's reductions return)
            if a.shape != shape or a.dtype != dt:
                raise RuntimeError(
                    f"native kernel {self.name}: input {k} is {a.dtype}{list(a.shape)}, "
                    f"expected {dt}{list(shape)}"
                )
            contiguous.append(a if a.flags.c_contiguous else np.ascontiguousarray(a))
        out = np.empty(self.out_shape, self.out_dtype)
        self._fn(*[jit.address(a) for a in contiguous], jit.address(out))
        return out

    def _module(self, body: Graph, symbol: str) -> ir.Module:
        """The LLVM module holding the kernel ``symbol(in0, ..., out)``."""
        module = jit.new_module(symbol)
        pointer_types = [ir.PointerType(storage_type(dt)) for _, dt in self.input_types]
        out_pointer = ir.PointerType(storage_type(self.out_dtype))
        fn = ir.Function(module, ir.FunctionType(ir.VoidType(), pointer_types + [out_pointer]), symbol)
        for arg in fn.args:
            arg.add_attribute("noalias")
        builder = ir.IRBuilder(fn.append_basic_block("entry"))
        self.emit(builder, body, fn.args[:-1], fn.args[-1])
        builder.ret_void()
        return module

    def emit(self, builder: ir.IRBuilder, body: Graph, inputs, out) -> None:
        raise NotImplementedError


class ElementwiseKernel(NativeKernel):
    """A fused group of elementwise ops: one loop nest over the output, the whole body
    computed at each position."""

    prefix = "fused"

    def emit(self, builder: ir.IRBuilder, body: Graph, inputs, out) -> None:
        if 0 in self.out_shape:
            return
        at = Positionwise(body, body.outputs[0], self.out_shape, self.input_types)
        operand_strides = at.strides + [broadcast_strides(self.out_shape, self.out_shape)]
        dims, coalesced = coalesce(self.out_shape, operand_strides)
        at.strides, out_strides = coalesced[:-1], coalesced[-1]
        indices: list[ir.Value] = []
        offset = offset_function(builder, indices)

        def nest(level: int) -> None:
            if level == len(dims):
                result = at.emit(builder, inputs, offset)
                store(
                    builder, result.ir, self.out_dtype, builder.gep(out, [offset(out_strides)], inbounds=True)
                )
                return
            with for_range(builder, ir.Constant(I64, dims[level]), f"i{level}") as index:
                indices.append(index)
                nest(level + 1)
                indices.pop()

        nest(0)


def _loads(body: Graph) -> dict[int, _Load]:
    """The read of every body input and absorbed view that an op of the body (or its
    output) uses, by node id.  An input used only through a view, or not at all (an
    anchor's argument in an epilogue), is never read directly."""
    position = {nid: k for k, nid in enumerate(body.inputs)}
    shapes = {nid: _static_shape(body.node(nid)) for nid in position}
    viewed: dict[int, int] = {}  # view -> the input it views
    used = set(body.outputs)
    for nid in body.order():
        node = body.node(nid)
        args = body.args(nid)
        if node.op in _VIEWS and args[0] in position:
            viewed[nid] = args[0]
            shapes[nid] = _static_shape(node) if node.op == "reshape" else shapes[args[0]]
        elif node.op not in (INPUT, CONSTANT):
            used.update(args)
    loads = {}
    for nid in used:
        if nid in position:
            loads[nid] = _Load(position[nid], shapes[nid])
        elif nid in viewed:
            loads[nid] = _Load(position[viewed[nid]], shapes[nid])
    return loads


class Positionwise:
    """A body's value ``sink`` at one position of a loop space of ``space_shape``: the
    loads of the inputs it reads, their element strides in that space, and the code
    evaluating every op up to ``sink`` from them."""

    def __init__(self, body: Graph, sink: int, space_shape: tuple[int, ...], input_types: list) -> None:
        self.body, self.sink, self.input_types = body, sink, input_types
        self.loads = _loads(body)
        self.distinct = list(dict.fromkeys(self.loads.values()))
        self.strides = [broadcast_strides(load.shape, space_shape) for load in self.distinct]

    def emit(self, builder: ir.IRBuilder, inputs, offset) -> Value:
        """The sink's value where ``offset(strides)`` gives each load's element offset."""
        S = LlvmScalars(builder)
        body = self.body
        values: dict[int, Value] = {}
        for load, strides in zip(self.distinct, self.strides):
            dt = self.input_types[load.position][1]
            raw = builder.load(builder.gep(inputs[load.position], [offset(strides)], inbounds=True))
            if dt == np.bool_:
                raw = builder.icmp_unsigned("!=", raw, ir.Constant(raw.type, 0))
            for nid, other in self.loads.items():
                if other == load:
                    values[nid] = Value(raw, dt, body.node(nid).type.ndim)
        for nid in body.order():
            if self.sink in values:
                break
            node = body.node(nid)
            if nid in values or node.op == INPUT:
                continue
            if node.op in _VIEWS and body.args(nid)[0] not in values:
                continue  # a view of an input no op reads directly: unused, or loaded itself
            values[nid] = _value(S, body, node, values)
        return values[self.sink]


def offset_function(builder: ir.IRBuilder, indices: list[ir.Value]):
    """``offset(strides)``: the element offset ``sum(index * stride)`` at the current
    loop indices (``indices`` is read when called, so it follows the loop nest)."""

    def offset(strides: tuple[int, ...]) -> ir.Value:
        total = ir.Constant(I64, 0)
        for index, stride in zip(indices, strides):
            if stride:
                total = builder.add(total, builder.mul(index, ir.Constant(I64, stride)))
        return total

    return offset


def store(builder: ir.IRBuilder, value: ir.Value, dtype: np.dtype, pointer: ir.Value) -> None:
    """Store one element (a bool as a byte)."""
    builder.store(builder.zext(value, ir.IntType(8)) if dtype == np.bool_ else value, pointer)


def _value(S: LlvmScalars, body: Graph, node: Node, values: dict[int, Value]) -> Value:
    """One body node's value at the current position (its arguments are in ``values``)."""
    if node.op == CONSTANT:
        if node.value.size != 1:
            raise Unsupported("a constant of more than one element inside a fused body")
        dt = np.dtype(node.value.dtype)
        scalar = node.value.reshape(()).item()
        return Value(ir.Constant(llvm_type(dt), scalar), dt, node.value.ndim, scalar)
    args = [values[a] for a in body.args(node.id)]
    if node.op in _VIEWS:  # a view of a value computed in the body: the same scalar
        return dataclasses.replace(args[0], ndim=node.type.ndim)
    op = OPS.get(node.op)
    if op is None or op.kind is not Kind.ELEMENTWISE or op.scalar is None:
        raise Unsupported(f"{node.op} is not an elementwise op with a scalar rule")
    result = op.scalar(S, *args, **node.attrs)
    expected = np.dtype(node.type.dtype.np)
    if result.dtype != expected:
        raise RuntimeError(f"scalar rule of {node.op} gave {result.dtype}, its type says {expected}")
    return dataclasses.replace(result, ndim=node.type.ndim, known=None)
