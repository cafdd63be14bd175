"""The scalar ISA: what an elementwise op's scalar rule may compute with.

Every elementwise op has a *scalar rule*, ``scalar(S, *xs, **attrs)``: the value at one
position, written once against a namespace ``S`` of primitive scalar operations, as
the gradient rules are written against ``F``.  Code generators interpret the same
rule: :class:`NumpyScalars` runs it on whole arrays (the registry tests check that it
reproduces the op's numpy kernel bit for bit, special values included), and the LLVM
lowering (:mod:`irgrad.codegen.scalars`) emits one loop body from it.  So PyTorch's
special values (NaN propagation of maximum, signed zeros, floor division) are
decided in one place.

The primitives, each on operands of one dtype unless noted:

* ``const(value, like)``: ``value`` in ``like``'s dtype; ``known(x)``: the Python
  value of ``x`` when it is a 0-d constant, else None; ``is_float(x)``,
  ``is_bool(x)``, ``is_0d(x)`` (its static rank is 0);
* arithmetic ``add sub mul div neg abs`` (``add``/``mul`` on bools are or/and, as in
  numpy; ``div`` is true division of floats), ``copysign fmod``;
* rounding ``floor ceil trunc rint`` (round half to even); transcendental ``sqrt exp
  expm1 log log1p sin cos tan tanh erf atan2 pow`` (floats);
* comparisons ``lt le gt ge eq ne`` (a bool result; ``ne`` is true for NaN, the
  others false), ``isnan``; logic on bools ``logical_and logical_or logical_not``;
  bitwise ``bit_and bit_or bit_xor bit_not`` (integers and bools), shifts ``shl shr``
  (integers; PyTorch's: ``shr`` arithmetic for signed ones, and a shift by a negative
  amount or the width or more gives 0, or the sign's fill from ``shr``);
* integer division ``int_floor_divide int_remainder int_fmod`` (the op raises on a
  zero divisor before any rule runs, so these may assume a nonzero one);
* ``where(cond, a, b)`` with a bool ``cond``; ``cast(x, dtype)``;
* the special functions ``lgamma digamma erfinv`` and ``polygamma(x, n)`` (floats), which
  the LLVM lowering has no code for yet: an op built on them runs its numpy kernel in
  compiled code, and ``explain()`` says so.

A backend that cannot do a primitive for some dtype raises :class:`Unsupported` while
it builds, and runs that op some other way: a rule never has to know.
"""

from __future__ import annotations

import numpy as np

from .registry import OPS


class Unsupported(Exception):
    """A scalar rule uses a primitive the backend has no code for (for these dtypes)."""


class NumpyScalars:
    """The scalar ISA on numpy arrays: a rule applied to whole arrays at once."""

    @staticmethod
    def const(value, like: np.ndarray) -> np.ndarray:
        return np.array(value).astype(like.dtype)  # integers wrap (-1 is 255 in uint8), as in C

    @staticmethod
    def known(x: np.ndarray):
        return x.item() if x.ndim == 0 else None

    @staticmethod
    def is_float(x: np.ndarray) -> bool:
        return x.dtype.kind == "f"

    @staticmethod
    def is_bool(x: np.ndarray) -> bool:
        return x.dtype == np.bool_

    @staticmethod
    def is_0d(x: np.ndarray) -> bool:
        return x.ndim == 0

    add, sub, mul, div = np.add, np.subtract, np.multiply, np.true_divide
    neg, abs, copysign, fmod = np.negative, np.absolute, np.copysign, np.fmod
    floor, ceil, trunc, rint = np.floor, np.ceil, np.trunc, np.rint
    sqrt, exp, expm1, log, log1p = np.sqrt, np.exp, np.expm1, np.log, np.log1p
    sin, cos, tan, tanh, atan2, pow = np.sin, np.cos, np.tan, np.tanh, np.arctan2, np.power
    lt, le, gt, ge, eq, ne = np.less, np.less_equal, np.greater, np.greater_equal, np.equal, np.not_equal
    isnan = np.isnan
    int_floor_divide, int_remainder, int_fmod = np.floor_divide, np.remainder, np.fmod
    logical_and, logical_or, logical_not = np.logical_and, np.logical_or, np.logical_not
    bit_and, bit_or, bit_xor, bit_not = np.bitwise_and, np.bitwise_or, np.bitwise_xor, np.invert

    @staticmethod
    def erf(x: np.ndarray) -> np.ndarray:
        return OPS["erf"].eval(x)

    @staticmethod
    def lgamma(x: np.ndarray) -> np.ndarray:
        return OPS["lgamma"].eval(x)

    @staticmethod
    def digamma(x: np.ndarray) -> np.ndarray:
        return OPS["digamma"].eval(x)

    @staticmethod
    def polygamma(x: np.ndarray, n: int) -> np.ndarray:
        return OPS["polygamma"].eval(x, n=n)

    @staticmethod
    def erfinv(x: np.ndarray) -> np.ndarray:
        return OPS["erfinv"].eval(x)

    @staticmethod
    def shl(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return OPS["bitwise_left_shift"].eval(a, b)

    @staticmethod
    def shr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return OPS["bitwise_right_shift"].eval(a, b)

    @staticmethod
    def where(cond: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.where(cond, a, b)

    @staticmethod
    def cast(x: np.ndarray, dtype) -> np.ndarray:
        return x.astype(dtype.np)


def run_scalar_rule(op, *arrays: np.ndarray, **attrs) -> np.ndarray:
    """``op``'s scalar rule on whole arrays (numpy broadcasts them as the kernel does)."""
    with np.errstate(all="ignore"):
        result = np.asarray(op.scalar(NumpyScalars, *arrays, **attrs))
    shape = np.broadcast_shapes(*(a.shape for a in arrays))
    return result if result.shape == shape else np.broadcast_to(result, shape).copy()
