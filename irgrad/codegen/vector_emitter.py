"""The instructions the vectorizable math functions are written in: :class:`Emitter`.

:mod:`vector_math`, :mod:`vector_trig` and :mod:`vector_pow` emit each function as
straight-line LLVM IR that the loop vectorizer widens (:mod:`vector_math` says why), so
they use only what vectorizes, gathered here: float arithmetic in the operands' type,
ordered comparisons and ``select``, LLVM intrinsics (``fabs``, ``copysign``, ``floor``,
``rint``, ``fma``), integer operations on the bits of floats and loads from small constant
tables (gathers); and the exact two-sums, two-products and double-double division from
which the float64 functions build their extra precision.

Exact products use ``llvm.fma`` where the host CPU has FMA (every x86-64 with AVX2),
else Dekker's splitting: both are exact, so results do not depend on it.
"""

from __future__ import annotations

from collections.abc import Sequence

import llvmlite.ir as ir

from ..native.exp import has_fma, multiply_add

F64, I64 = ir.DoubleType(), ir.IntType(64)
_I32 = ir.IntType(32)
_MAGIC = 6755399441055744.0  # 1.5 * 2**52: adding it puts a small integer in the low bits


class Emitter:
    """Float64 (or float32) arithmetic, exact two-sums and two-products, selects and bit
    manipulation at the builder's position."""

    def __init__(self, builder: ir.IRBuilder, ft: ir.Type = F64) -> None:
        self.b = builder
        self.ft = ft
        self.it = I64 if isinstance(ft, ir.DoubleType) else _I32

    # constants and plain arithmetic
    def c(self, value: float) -> ir.Constant:
        return ir.Constant(self.ft, value)

    def i(self, value: int) -> ir.Constant:
        return ir.Constant(self.it, value)

    def add(self, a: ir.Value, b: ir.Value) -> ir.Value:
        return self.b.fadd(a, b)

    def sub(self, a: ir.Value, b: ir.Value) -> ir.Value:
        return self.b.fsub(a, b)

    def mul(self, a: ir.Value, b: ir.Value) -> ir.Value:
        return self.b.fmul(a, b)

    def div(self, a: ir.Value, b: ir.Value) -> ir.Value:
        return self.b.fdiv(a, b)

    def neg(self, a: ir.Value) -> ir.Value:
        return self.b.fneg(a)

    def _intrinsic(self, name: str, *args: ir.Value) -> ir.Value:
        ft = self.ft
        fn = self.b.module.declare_intrinsic(name, [ft], ir.FunctionType(ft, [ft] * len(args)))
        return self.b.call(fn, list(args))

    def fabs(self, a: ir.Value) -> ir.Value:
        return self._intrinsic("llvm.fabs", a)

    def copysign(self, a: ir.Value, sign: ir.Value) -> ir.Value:
        return self._intrinsic("llvm.copysign", a, sign)

    def floor(self, a: ir.Value) -> ir.Value:
        return self._intrinsic("llvm.floor", a)

    def rint(self, a: ir.Value) -> ir.Value:
        return self._intrinsic("llvm.rint", a)

    def multiply_add(self, x: ir.Value, y: ir.Value, z: ir.Value) -> ir.Value:
        """``x * y + z``, rounded once where the host has FMA (see :func:`multiply_add`)."""
        return multiply_add(self.b, x, y, z)

    def horner(self, coefficients: Sequence[float], x: ir.Value) -> ir.Value:
        p = self.c(coefficients[0])
        for k in coefficients[1:]:
            p = self.multiply_add(p, x, self.c(k))
        return p

    # comparisons and selects (ordered: false when a NaN is involved)
    def lt(self, a: ir.Value, b: ir.Value) -> ir.Value:
        return self.b.fcmp_ordered("<", a, b)

    def gt(self, a: ir.Value, b: ir.Value) -> ir.Value:
        return self.b.fcmp_ordered(">", a, b)

    def eq(self, a: ir.Value, b: ir.Value) -> ir.Value:
        return self.b.fcmp_ordered("==", a, b)

    def isnan(self, a: ir.Value) -> ir.Value:
        return self.b.fcmp_unordered("uno", a, a)

    def select(self, cond: ir.Value, a: ir.Value, b: ir.Value) -> ir.Value:
        return self.b.select(cond, a, b)

    def at_most(self, a: ir.Value, bound: float) -> ir.Value:
        """``a``, or ``bound`` where ``a`` is above it (NaN stays)."""
        return self.select(self.gt(a, self.c(bound)), self.c(bound), a)

    # exact arithmetic
    def two_sum(self, a: ir.Value, b: ir.Value) -> tuple[ir.Value, ir.Value]:
        """``(s, e)``: ``s = fl(a + b)`` and ``e = a + b - s`` exactly (Knuth)."""
        s = self.add(a, b)
        bb = self.sub(s, a)
        e = self.add(self.sub(a, self.sub(s, bb)), self.sub(b, bb))
        return s, e

    def fast_two_sum(self, a: ir.Value, b: ir.Value) -> tuple[ir.Value, ir.Value]:
        """``two_sum`` for ``|a| >= |b|`` (or ``a`` zero), in three operations (Dekker)."""
        s = self.add(a, b)
        return s, self.sub(b, self.sub(s, a))

    def two_prod(self, a: ir.Value, b: ir.Value) -> tuple[ir.Value, ir.Value]:
        """``(p, e)``: ``p = fl(a b)`` and ``e = a b - p`` exactly (no overflow or underflow)."""
        p = self.mul(a, b)
        if has_fma():
            return p, self._intrinsic("llvm.fma", a, b, self.neg(p))
        ah, al = self._split(a)
        bh, bl = self._split(b)
        e = self.add(
            self.add(self.add(self.sub(self.mul(ah, bh), p), self.mul(ah, bl)), self.mul(al, bh)),
            self.mul(al, bl),
        )
        return p, e

    def _split(self, a: ir.Value) -> tuple[ir.Value, ir.Value]:
        """Veltkamp's split of ``a`` into two 26-bit halves."""
        t = self.mul(a, self.c(134217729.0))  # 2**27 + 1
        hi = self.sub(t, self.sub(t, a))
        return hi, self.sub(a, hi)

    def dd_div(self, nh: ir.Value, nl: ir.Value, dh: ir.Value, dl: ir.Value) -> tuple[ir.Value, ir.Value]:
        """``(nh + nl) / (dh + dl)`` as a double-double: the quotient, corrected by its
        exact residual."""
        q = self.div(nh, dh)
        p, pe = self.two_prod(q, dh)
        rho = self.sub(self.add(self.sub(self.sub(nh, p), pe), nl), self.mul(q, dl))
        return self.fast_two_sum(q, self.div(rho, dh))

    # bits
    def bits(self, a: ir.Value) -> ir.Value:
        return self.b.bitcast(a, self.it)

    def from_bits(self, n: ir.Value) -> ir.Value:
        return self.b.bitcast(n, self.ft)

    def small_int(self, a: ir.Value) -> ir.Value:
        """The integer ``a`` (|a| < 2**51, float64) as i64; any bits for NaN or infinity."""
        return self.b.sub(self.bits(self.add(a, self.c(_MAGIC))), self.bits(self.c(_MAGIC)))

    def power_of_two(self, n: ir.Value) -> ir.Value:
        """``2**n`` for an i64 ``n`` in the normal range [-1022, 1023]."""
        return self.from_bits(self.b.shl(self.b.add(n, self.i(1023)), self.i(52)))

    def biased_exponent(self, a: ir.Value) -> ir.Value:
        """The exponent field of a float64's bits, as i64."""
        return self.b.and_(self.b.lshr(self.bits(a), self.i(52)), self.i(0x7FF))

    def exponent_float(self, e: ir.Value) -> ir.Value:
        """An i64 in [0, 2**31) as float64, exactly (no i64 conversion instruction)."""
        return self.sub(self.from_bits(self.b.or_(e, self.i(0x4330000000000000))), self.c(2.0**52))

    def lookup(self, name: str, values: Sequence[float], index: ir.Value) -> ir.Value:
        """``values[index]`` from a constant table in the module (a gather)."""
        module = self.b.module
        table = module.globals.get(name)
        if table is None:
            array = ir.ArrayType(self.ft, len(values))
            table = ir.GlobalVariable(module, array, name)
            table.global_constant = True
            table.linkage = "internal"
            table.initializer = ir.Constant(array, [float(v) for v in values])
        load = self.b.load(self.b.gep(table, [ir.Constant(I64, 0), index], inbounds=True))
        load.set_metadata("alias.scope", _table_scope(module))
        return load

    def signbit(self, a: ir.Value) -> ir.Value:
        return self.b.icmp_signed("<", self.bits(a), self.i(0))


_TABLE_SCOPE = "_irgrad_table_scope"  # the attribute of a module holding it


def _table_scope(module: ir.Module) -> ir.values.MDValue:
    """The alias scope list (one scope, in a domain of its own) of the module's loads
    from constant tables."""
    scope = getattr(module, _TABLE_SCOPE, None)
    if scope is None:
        domain = module.add_metadata([ir.MetaDataString(module, "irgrad constant tables")])
        one = module.add_metadata([ir.MetaDataString(module, "irgrad constant table"), domain])
        scope = module.add_metadata([one])
        setattr(module, _TABLE_SCOPE, scope)
    return scope


def separate_table_loads(module: ir.Module) -> None:
    """Tell LLVM that no other load or store of ``module`` touches its constant tables.

    A loop that looks a value up in a table (``sin``'s Payne-Hanek reduction) also writes
    its result through a pointer LLVM knows nothing about; without this the vectorizer
    wants a run-time overlap check between that pointer and the table, cannot bound a
    data-dependent table index, and leaves the loop scalar (a compiled ``sin`` of 1M
    floats ran 6x slower than numpy's).  The tables are never written, so the claim is
    true: every other load and store gets ``!noalias`` of the tables' scope."""
    scope = getattr(module, _TABLE_SCOPE, None)
    if scope is None:
        return
    for function in module.functions:
        for block in function.blocks:
            for instruction in block.instructions:
                if instruction.opname in ("load", "store") and "alias.scope" not in instruction.metadata:
                    instruction.set_metadata("noalias", scope)


def to_double(b: ir.IRBuilder, x: ir.Value) -> ir.Value:
    """``x`` as float64 (a float32 extended, exactly)."""
    return x if isinstance(x.type, ir.DoubleType) else b.fpext(x, F64)


def to_type(b: ir.IRBuilder, x: ir.Value, like: ir.Value) -> ir.Value:
    """The float64 ``x`` in the type of ``like`` (rounded once to float32)."""
    return x if isinstance(like.type, ir.DoubleType) else b.fptrunc(x, like.type)
