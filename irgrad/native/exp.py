"""``exp`` as straight-line IR the loop vectorizer can widen.

LLVM lowers its ``exp`` intrinsic to one libm call per element, which keeps a loop
scalar.  This is the classic range reduction instead: ``exp(z) = 2**n * exp(r)`` with
``n = round(z / ln 2)`` and ``|r| <= ln(2)/2``, ``ln 2`` split in two parts so that
``r`` is exact, and a polynomial for ``exp(r)``: Cephes' minimax polynomial for
float32, the degree-13 Taylor polynomial (truncation error below 0.03 ulp) for
float64.  Both stay within about one ulp of the correctly rounded result.

:func:`exp` covers every argument (overflow to ``inf``, gradual underflow to
subnormals and 0, NaN).  :func:`exp_nonpositive` is the cheaper form the softmax
kernels use: results below the smallest normal number flush to 0 there, since they
add ``exp(x - max)`` over a row, whose sum is at least 1, where such terms cannot
change a bit.  NaN stays NaN and ``-inf`` gives 0 in both.
"""

from __future__ import annotations

import functools
import math

import llvmlite.binding as llvm
import llvmlite.ir as ir

_I32, _I64 = ir.IntType(32), ir.IntType(64)

# Per float type: (lowest argument with a normal result, ln2 high part, ln2 low part,
# polynomial coefficients for exp(r) from the highest degree down, exponent bias,
# mantissa bits, integer type of the same width).
_F32 = (
    -126 * math.log(2),
    0.693359375,
    -2.12194440e-4,
    (1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1),
    127,
    23,
    _I32,
)
_F64 = (
    -1022 * math.log(2),
    6.93145751953125e-1,
    1.42860682030941723212e-6,
    tuple(1 / math.factorial(k) for k in range(13, 1, -1)),
    1023,
    52,
    _I64,
)


# Per float type: arguments past exp's overflow threshold and below its underflow one
# (exp rounds to inf and to 0 there) whose ``2**n`` still splits into two normal halves.
_RANGE = {32: (89.0, -104.0), 64: (710.0, -746.0)}


def _constants(ft: ir.Type):
    return _F64 if isinstance(ft, ir.DoubleType) else _F32


def _reduce(b: ir.IRBuilder, z: ir.Value) -> tuple[ir.Value, ir.Value]:
    """``(p, n)`` with ``exp(z) = p * 2**n``, ``n`` an integer (of the float's width) and
    ``p = exp(r)`` for ``|r| <= ln(2)/2``.  ``z`` must be finite (a NaN reaching ``fptosi``
    would make ``n`` poison)."""
    ft = z.type
    _, ln2_hi, ln2_lo, coefficients, _, _, it = _constants(ft)
    rint = b.module.declare_intrinsic("llvm.rint", [ft])

    def c(value: float) -> ir.Constant:
        return ir.Constant(ft, value)

    n = b.call(rint, [b.fmul(z, c(1 / math.log(2)))])
    # n * ln2_hi is exact (ln2_hi has few bits), so the first step is the exact z - n ln2_hi
    # as before; the second rounds once where a multiply and a subtract rounded twice.
    r = multiply_add(b, n, c(-ln2_lo), multiply_add(b, n, c(-ln2_hi), z))
    p = c(coefficients[0])
    for k in coefficients[1:]:
        p = multiply_add(b, p, r, c(k))
    p = b.fadd(multiply_add(b, p, b.fmul(r, r), r), c(1.0))
    return p, b.fptosi(n, it)


def multiply_add(b: ir.IRBuilder, x: ir.Value, y: ir.Value, z: ir.Value) -> ir.Value:
    """``x * y + z``, rounded once (``llvm.fma``) where the host CPU has fused
    multiply-add: half the instructions of a polynomial step, and never less accurate."""
    if not has_fma():
        return b.fadd(b.fmul(x, y), z)
    ft = x.type
    fma = b.module.declare_intrinsic("llvm.fma", [ft], ir.FunctionType(ft, [ft] * 3))
    return b.call(fma, [x, y, z])


@functools.cache
def has_fma() -> bool:
    """Whether the host CPU, which kernels are compiled for, has fused multiply-add."""
    return bool(llvm.get_host_cpu_features().get("fma"))


@functools.cache
def has_avx512() -> bool:
    """Whether the host CPU has AVX-512F, whose ``vscalefps``/``vscalefpd`` LLVM lowers
    a vectorized ``llvm.ldexp`` to (elsewhere it is a C library call per element)."""
    return bool(llvm.get_host_cpu_features().get("avx512f"))


def _power_of_two(b: ir.IRBuilder, n: ir.Value, ft: ir.Type) -> ir.Value:
    """``2**n`` as a float of type ``ft``, for ``n`` in the normal exponent range."""
    _, _, _, _, bias, mantissa, it = _constants(ft)
    return b.bitcast(b.shl(b.add(n, ir.Constant(it, bias)), ir.Constant(it, mantissa)), ft)


def exp_nonpositive(b: ir.IRBuilder, z: ir.Value) -> ir.Value:
    """``exp(z)`` for a float or double ``z <= 0`` (or NaN), flushing subnormal results to 0."""
    ft = z.type
    lowest = _constants(ft)[0]
    p, n = _reduce(b, clamp_below(b, z, lowest))  # NaN becomes the bound
    tiny = b.fcmp_ordered("<", z, ir.Constant(ft, lowest))
    value = b.select(tiny, ir.Constant(ft, 0.0), b.fmul(p, _power_of_two(b, n, ft)))
    return b.select(b.fcmp_unordered("uno", z, z), z, value)


def exp_normal(b: ir.IRBuilder, z: ir.Value) -> ir.Value:
    """``exp(z)`` for a finite ``z`` whose result is a normal float (float32: ``z`` in
    [-87, 88]; float64: [-708, 709]): ``n`` is added to the exponent bits of ``p``, one
    integer addition where :func:`exp` multiplies by two powers of two."""
    p, n = _reduce(b, z)
    mantissa = _constants(z.type)[5]
    shifted = b.shl(n, ir.Constant(n.type, mantissa))
    return b.bitcast(b.add(b.bitcast(p, n.type), shifted), z.type)


def clamp_below(b: ir.IRBuilder, z: ir.Value, bound: float) -> ir.Value:
    """``max(z, bound)``, NaN giving ``bound``: the ``select`` x86's ``maxps`` computes in
    one instruction (it returns its second operand when either is NaN)."""
    bound_value = ir.Constant(z.type, bound)
    return b.select(b.fcmp_ordered(">", z, bound_value), z, bound_value)


def clamp_above(b: ir.IRBuilder, z: ir.Value, bound: float) -> ir.Value:
    """``min(z, bound)``, NaN giving ``bound`` (x86's ``minps``)."""
    bound_value = ir.Constant(z.type, bound)
    return b.select(b.fcmp_ordered("<", z, bound_value), z, bound_value)


def exp(b: ir.IRBuilder, z: ir.Value) -> ir.Value:
    """``exp(z)`` for any float or double ``z``: ``inf`` above the overflow threshold,
    subnormal results rounded once (:func:`_scale`), 0 below.

    ``z`` is clamped to [lowest, past the overflow threshold] (NaN to the lower bound, so
    no NaN reaches the integer conversion): there ``exp`` still rounds to 0 and to inf, so
    the range needs no other test; a NaN ``z`` is put back at the end."""
    ft = z.type
    high, low = _RANGE[64 if isinstance(ft, ir.DoubleType) else 32]
    clamped = clamp_above(b, clamp_below(b, z, low), high)
    p, n = _reduce(b, clamped)
    return b.select(b.fcmp_unordered("uno", z, z), z, _scale(b, p, n))


def _scale(b: ir.IRBuilder, p: ir.Value, n: ir.Value) -> ir.Value:
    """``p * 2**n`` rounded once, for ``p`` near 1 and ``n`` from the clamped range: inf
    past the largest float, subnormal or 0 below the smallest normal one.  With AVX-512
    one ``vscalefps`` (``llvm.ldexp``); else two multiplications by normal powers of two
    (``2**n`` itself may not be normal), of which only the second can round."""
    ft = p.type
    if has_avx512():
        name = f"llvm.ldexp.{'f64' if isinstance(ft, ir.DoubleType) else 'f32'}.i32"
        ldexp = b.module.globals.get(name) or ir.Function(b.module, ir.FunctionType(ft, [ft, _I32]), name)
        return b.call(ldexp, [p, n if n.type == _I32 else b.trunc(n, _I32)])
    half = b.ashr(n, ir.Constant(n.type, 1))
    return b.fmul(b.fmul(p, _power_of_two(b, half, ft)), _power_of_two(b, b.sub(n, half), ft))
