"""Sizes as run-time values of native code: one program for every size of a dynamic graph.

A program built for run-time sizes (see :mod:`irgrad.ir.run_time_sizes`) keeps each
size symbol in a global of its module, ``@irgrad.size.B``, which the program's entry
stores from the sizes the caller passes before any step runs.  :func:`size_value`
turns a size into code: an int into a constant, a :class:`Size` into arithmetic on
the symbols, which every function reads from their globals once, at its start (so
the loops after it see plain values, and worker threads, which run the pool's tasks
after the entry stored them, see the same ones).

The globals are the module's, so two calls of one compiled function must not run at
once: :func:`lock_for` gives each such function a lock held around its native calls
(their numpy steps and Python work still run in parallel, and so do other programs).
"""

from __future__ import annotations

import threading

import llvmlite.ir as ir

from ..ir.run_time_sizes import Size

I64 = ir.IntType(64)
_PREFIX = "irgrad.size."
_LOCKS: dict[int, threading.Lock] = {}  # per compiled function (they live as long as the JIT)
_LOCKS_LOCK = threading.Lock()


def lock_for(function) -> threading.Lock:
    """The lock serialising the native calls of ``function`` (a compiled segment whose
    sizes live in its module's globals; one function may serve several programs)."""
    with _LOCKS_LOCK:
        return _LOCKS.setdefault(id(function), threading.Lock())


def size_value(builder: ir.IRBuilder, n: int | Size, type_: ir.IntType = I64) -> ir.Value:
    """``n`` as an i64 value (or of ``type_``, narrower: a BLAS int) at the builder's position."""
    if not isinstance(n, Size):
        return ir.Constant(type_, int(n))
    if type_ != I64:
        return builder.trunc(size_value(builder, n), type_)
    symbols = _symbols_of(builder.function)
    total = None
    for monomial, coefficient in n.key:
        term = None if monomial and coefficient == 1 else ir.Constant(I64, coefficient)
        for name in monomial:
            value = symbols.get(name)
            if value is None:
                value = symbols[name] = _load_in_entry(builder, name)
            term = value if term is None else builder.mul(term, value)
        total = term if total is None else builder.add(total, term)
    return total


def _symbols_of(function: ir.Function) -> dict[str, ir.Value]:
    symbols = getattr(function, "_irgrad_sizes", None)
    if symbols is None:
        symbols = function._irgrad_sizes = {}
    return symbols


def _load_in_entry(builder: ir.IRBuilder, name: str) -> ir.Value:
    """The symbol's global, loaded in the function's entry block, which dominates every
    other block: at the builder's position when it is there (another builder inserting
    into the block it fills would leave its position stale), else before the entry's
    branch, or at its end while it has none."""
    function = builder.function
    variable = _global(function.module, name)
    entry = function.blocks[0]
    if builder.block is entry:
        return builder.load(variable, name=f"size.{name}")
    at_entry = ir.IRBuilder(entry)
    if entry.is_terminated:
        at_entry.position_before(entry.terminator)
    return at_entry.load(variable, name=f"size.{name}")


def _global(module: ir.Module, name: str) -> ir.GlobalVariable:
    symbol = _PREFIX + name
    variable = module.globals.get(symbol)
    if variable is None:
        variable = ir.GlobalVariable(module, I64, symbol)
        variable.linkage = "internal"
        variable.initializer = ir.Constant(I64, 0)
    return variable


def store_sizes(builder: ir.IRBuilder, sizes: ir.Value, names: list[str]) -> None:
    """Store ``sizes[k]`` (an ``i64*``) into the global of ``names[k]``, for the symbols the
    module's code reads."""
    module = builder.module
    for k, name in enumerate(names):
        if _PREFIX + name in module.globals:
            value = builder.load(builder.gep(sizes, [ir.Constant(I64, k)]))
            builder.store(value, module.globals[_PREFIX + name])
