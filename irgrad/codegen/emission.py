"""What every native lowering shares: its operands, the function being emitted, and
the interface a lowering implements (see :mod:`.steps`)."""

from __future__ import annotations

from collections.abc import Callable

import llvmlite.ir as ir
import numpy as np

from .layout import Place

I32 = ir.IntType(32)
OK_STATUS = -1  # what a routine returns when it found nothing wrong


class Operand:
    """An argument or result inside the entry function: a pointer to its first element
    (of its storage type) and its place.  A plain class: see :mod:`.plan`."""

    def __init__(self, pointer: ir.Value, place: Place) -> None:
        self.pointer, self.place = pointer, place


class Emission:
    """What lowerings share while one entry function is emitted: its module and builder,
    and the module's kernels: loop nests emitted once per distinct key as internal
    functions the entry calls.  An LSTM's time steps run the same kernels on the same
    shapes; each is emitted, and optimized by LLVM, once (``noinline`` keeps LLVM
    from copying it back into every call site)."""

    def __init__(self, module: ir.Module, builder: ir.IRBuilder) -> None:
        self.module, self.builder = module, builder
        self._kernels: dict = {}

    def kernel(
        self,
        key: tuple,
        name: str,
        pointer_types: list,
        build: Callable,
        status: bool = False,
        disjoint: bool = False,
    ) -> ir.Function:
        """The internal function ``void f(pointers...)`` for ``key`` (``i64 f(...)`` with a
        ``status``: ``build`` then returns the value to return, ``OK_STATUS`` when fine);
        ``build(builder, args)`` emits its body the first time (it must depend on
        nothing but ``key``).

        ``disjoint``: the elements the kernel reads or writes through one pointer are
        never reached through another, although the pointers may lie in one buffer (the
        columns of one row).  Its pointers are then ``noalias``: LLVM's overlap checks
        would see the buffers' ranges overlap and run the loop unvectorized."""
        fn = self._kernels.get(key)
        if fn is None:
            symbol = f"{name}.{len(self._kernels)}"
            returns = ir.IntType(64) if status else ir.VoidType()
            fn = ir.Function(self.module, ir.FunctionType(returns, pointer_types), symbol)
            fn.linkage = "internal"
            fn.attributes.add("noinline")
            if disjoint:
                for arg in fn.args:
                    arg.add_attribute("noalias")
            builder = ir.IRBuilder(fn.append_basic_block("entry"))
            result = build(builder, fn.args)
            if status:
                builder.ret(result)
            else:
                builder.ret_void()
            self._kernels[key] = fn
        return fn

    def call(
        self,
        key: tuple,
        name: str,
        operands: list,
        build: Callable,
        status: bool = False,
        disjoint: bool = False,
    ) -> ir.Value | None:
        """Call the kernel for ``key`` on ``operands`` (pointers), emitting it if new; its
        status when it has one (``disjoint``: see :meth:`kernel`)."""
        fn = self.kernel(key, name, [o.type for o in operands], build, status, disjoint)
        result = self.builder.call(fn, operands)
        return result if status else None


class Lowering:
    """A node's native code: ``node`` is the graph node it computes (its op and attributes)."""

    name = "native"
    # whether the code can return a status other than OK_STATUS, which hands the call to
    # the interpreter (so nothing may have been written into an input before it)
    may_fail = False

    def __init__(self, node=None) -> None:
        self.node = node
        if node is not None:
            self.name = node.op

    def contiguous_args(self, args: list[Place]) -> list[bool]:
        """Per argument, whether it must be contiguous (the planner copies it if not)."""
        return [False] * len(args)

    def scratch(self, args: list[Place]) -> list[tuple]:
        """(shape, dtype) of each temporary the code needs besides its result: the planner
        gives each an arena buffer, passed to ``emit`` after the arguments."""
        return []

    def splits(self, places: list[Place]) -> bool:
        """Whether the code splits a loop across the thread pool, for operands and result
        at ``places`` (see :data:`.parallel.SITES_TO_WAKE`)."""
        return False

    def emit(self, at: Emission, args: list[Operand], out: Operand) -> ir.Value | None:
        """Emit the node's code; return an i64 status (``OK_STATUS`` when fine) or None."""
        raise NotImplementedError

    def signature(self, places: list[Place]) -> tuple | None:
        """Everything :meth:`emit` on operands at ``places`` (arguments, then the result)
        depends on, when cheap to state: steps with equal signatures share their code without
        emitting it again (None: emit, and compare the code itself).

        A lowering is made from its node and its arguments' types alone, and code reads its
        operands' shapes, strides and dtypes, never where they are: so the node's op and
        attributes and the places' layouts are its signature (a fused node's body is not
        stated here: its lowering compares code, or states its own)."""
        node = self.node
        if node is None or node.body is not None:
            return None
        attrs = frozen(node.attrs)
        if attrs is None:
            return None
        layouts = tuple((p.shape, p.strides, p.dtype.str) for p in places)
        return (type(self).__qualname__, node.op, attrs, layouts)


def frozen(value) -> tuple | None:
    """``value`` (attributes: numbers, strings, tuples, dicts, slices, arrays) as a hashable
    key that tells apart what ``==`` would not (``-0.0`` and ``0.0``, ``1`` and ``True``);
    None for anything else."""
    if isinstance(value, dict):
        items = [(k, frozen(v)) for k, v in sorted(value.items())]
        return None if any(v is None and value[k] is not None for k, v in items) else ("dict", tuple(items))
    if isinstance(value, (list, tuple)):
        items = tuple(frozen(v) for v in value)
        return None if any(i is None and v is not None for i, v in zip(items, value)) else ("seq", items)
    if isinstance(value, np.ndarray):
        return ("array", value.dtype.str, value.shape, value.tobytes())
    if isinstance(value, slice):
        return ("slice", frozen((value.start, value.stop, value.step)))
    if value is None or value is Ellipsis or isinstance(value, (bool, int, float, str, np.generic)):
        return (type(value).__name__, repr(value))
    return None


class FailureExit:
    """A block of the function being built that returns the position where a check
    failed (the function's status); :meth:`fail_if` branches there.  The builder stays
    where it was."""

    def __init__(self, builder: ir.IRBuilder) -> None:
        self.builder = builder
        self.block = builder.function.append_basic_block("failed")
        here = builder.block
        builder.position_at_end(self.block)
        self.where = builder.phi(ir.IntType(64))
        builder.ret(self.where)
        builder.position_at_end(here)

    def fail_if(self, condition: ir.Value, position: ir.Value) -> None:
        """Return ``position`` from the function when ``condition`` holds; go on otherwise."""
        builder = self.builder
        self.where.add_incoming(position, builder.block)
        fine = builder.append_basic_block("checked")
        builder.cbranch(condition, self.block, fine)
        builder.position_at_end(fine)
