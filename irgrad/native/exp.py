"""``exp`` of arguments at most 0, as straight-line IR the loop vectorizer can widen.

LLVM lowers its ``exp`` intrinsic to one libm call per element, which keeps a loop
scalar.  This is the classic range reduction instead: ``exp(z) = 2**n * exp(r)`` with
``n = round(z / ln 2)`` and ``|r| <= ln(2)/2``, ``ln 2`` split in two parts so that
``r`` is exact, and a polynomial for ``exp(r)``: Cephes' minimax polynomial for
float32, the degree-13 Taylor polynomial (truncation error below 0.03 ulp) for
float64.  Both stay within about one ulp of the correctly rounded result.

Results below the smallest normal number flush to 0.  The callers add ``exp(x -
max)`` over a row, whose sum is at least 1, where such terms cannot change a bit.
NaN stays NaN and ``-inf`` gives 0.
"""

from __future__ import annotations

import math

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


def exp_nonpositive(b: ir.IRBuilder, z: ir.Value) -> ir.Value:
    """``exp(z)`` for a float or double ``z <= 0`` (or NaN), flushing subnormal results to 0."""
    ft = z.type
    lowest, ln2_hi, ln2_lo, coefficients, bias, mantissa, it = _F64 if isinstance(ft, ir.DoubleType) else _F32
    module = b.module
    rint = module.declare_intrinsic("llvm.rint", [ft])

    def c(value: float) -> ir.Constant:
        return ir.Constant(ft, value)

    tiny = b.fcmp_ordered("<", z, c(lowest))  # false for NaN
    z = b.select(tiny, c(lowest), z)
    n = b.call(rint, [b.fmul(z, c(1 / math.log(2)))])
    n = b.select(b.fcmp_unordered("uno", n, n), c(0.0), n)  # a NaN must not reach fptosi
    r = b.fsub(b.fsub(z, b.fmul(n, c(ln2_hi))), b.fmul(n, c(ln2_lo)))
    p = c(coefficients[0])
    for k in coefficients[1:]:
        p = b.fadd(b.fmul(p, r), c(k))
    p = b.fadd(b.fadd(b.fmul(p, b.fmul(r, r)), r), c(1.0))
    exponent = b.add(b.fptosi(n, it), ir.Constant(it, bias))
    scale = b.bitcast(b.shl(exponent, ir.Constant(it, mantissa)), ft)
    return b.select(tiny, c(0.0), b.fmul(p, scale))
