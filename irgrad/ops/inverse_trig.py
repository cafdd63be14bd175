"""Inverse trigonometric and hyperbolic primitives: ``asin acos atan sinh cosh asinh
acosh atanh`` (registered with :func:`~.elementwise.register_elementwise`).

Each op's numpy kernel is numpy's (``np.arcsin`` ...).  Its scalar rule, what native
code runs, builds the function from the scalar ISA's ``atan2 sqrt exp expm1 log
log1p``, in forms that keep the relative error to a few ulps over the whole range and
give numpy's special values: ``±0`` for ``±0`` (odd functions take ``x``'s sign by
``copysign``), NaN outside the domain, infinities at the poles.  The gradient rules are
PyTorch's formulas, so their values at the domain edges (inf, NaN) are PyTorch's too.
"""

from __future__ import annotations

import math

import numpy as np

from .elementwise import register_elementwise
from .registry import DtypeRule

# Past this magnitude 1 is lost beside x*x (float64), so asinh(x) = acosh(x) = log(2x),
# computed as log(x) + log(2) lest 2x overflow.
_LARGE = 2.0**28


def _asin_scalar(S, x):
    one = S.const(1, x)
    return S.atan2(x, S.sqrt(S.mul(S.sub(one, x), S.add(one, x))))  # (1-x)(1+x): exact near |x| = 1


def _acos_scalar(S, x):
    one = S.const(1, x)
    return S.atan2(S.sqrt(S.mul(S.sub(one, x), S.add(one, x))), x)


def _expm1_abs(S, x):
    """``(|x|, expm1(|x|))``: the pieces of ``sinh``/``cosh`` that are exact near 0."""
    a = S.abs(x)
    return a, S.expm1(a)


def _half_exp(S, a):
    """``e^a / 2`` as ``(e^(a/2) / 2) e^(a/2)``: finite up to ``log(2 max)``, past where
    ``expm1(a)`` overflows."""
    half = S.exp(S.mul(a, S.const(0.5, a)))
    return S.mul(S.mul(half, S.const(0.5, a)), half)


def _sinh_scalar(S, x):
    a, e = _expm1_abs(S, x)
    # (e^a - e^-a) / 2 = (e + e / (e + 1)) / 2: no cancellation near 0
    near = S.mul(S.add(e, S.div(e, S.add(e, S.const(1, x)))), S.const(0.5, x))
    return S.copysign(S.where(S.eq(e, S.const(math.inf, x)), _half_exp(S, a), near), x)


def _cosh_scalar(S, x):
    a, e = _expm1_abs(S, x)
    # (e^a + e^-a) / 2 = 1 + e^2 / (2 (e + 1)), with e / (e + 1) first lest e^2 overflow
    near = S.add(S.const(1, x), S.mul(S.mul(S.div(e, S.add(e, S.const(1, x))), e), S.const(0.5, x)))
    return S.where(S.eq(e, S.const(math.inf, x)), _half_exp(S, a), near)


def _log_of_twice(S, a):
    return S.add(S.log(a), S.const(math.log(2), a))


def _asinh_scalar(S, x):
    a = S.abs(x)
    r = S.div(S.const(1, x), a)
    # asinh(a) = log1p(a + a^2 / (1 + sqrt(1 + a^2))), the fraction as a / (1/a + sqrt(1/a^2 + 1)):
    # no overflow of a^2, and 0 for a tiny or 0 (1/a is inf)
    near = S.log1p(S.add(a, S.div(a, S.add(r, S.sqrt(S.add(S.const(1, x), S.mul(r, r)))))))
    return S.copysign(S.where(S.gt(a, S.const(_LARGE, x)), _log_of_twice(S, a), near), x)


def _acosh_scalar(S, x):
    t = S.sub(x, S.const(1, x))  # exact near 1
    # acosh(x) = log1p(t + sqrt(t (t + 2))); NaN below 1 (where t (t + 2) may be positive)
    near = S.log1p(S.add(t, S.sqrt(S.mul(t, S.add(t, S.const(2, x))))))
    value = S.where(S.gt(x, S.const(_LARGE, x)), _log_of_twice(S, x), near)
    return S.where(S.lt(t, S.const(0, x)), S.const(math.nan, x), value)


def _atanh_scalar(S, x):
    a = S.abs(x)
    # atanh(a) = log1p(2a / (1 - a)) / 2: inf at 1, NaN past it
    value = S.mul(S.log1p(S.div(S.add(a, a), S.sub(S.const(1, x), a))), S.const(0.5, x))
    return S.copysign(value, x)


def _square(F, x):
    return F.mul(x, x)


# PyTorch's gradient formulas (tools/autograd/derivatives.yaml), term for term.
register_elementwise(
    "asin",
    np.arcsin,
    lambda F, g, c: (F.mul(g, F.rsqrt(F.sub(1.0, _square(F, c.ins[0])))),),
    rule=DtypeRule.FLOAT,
    save_inputs=True,
    scalar=_asin_scalar,
)
register_elementwise(
    "acos",
    np.arccos,
    lambda F, g, c: (F.mul(g, F.neg(F.rsqrt(F.sub(1.0, _square(F, c.ins[0]))))),),
    rule=DtypeRule.FLOAT,
    save_inputs=True,
    scalar=_acos_scalar,
)
register_elementwise(
    "atan",
    np.arctan,
    lambda F, g, c: (F.div(g, F.add(_square(F, c.ins[0]), 1.0)),),
    rule=DtypeRule.FLOAT,
    save_inputs=True,
    scalar=lambda S, x: S.atan2(x, S.const(1, x)),
)
register_elementwise(
    "sinh",
    np.sinh,
    lambda F, g, c: (F.mul(g, F.cosh(c.ins[0])),),
    rule=DtypeRule.FLOAT,
    save_inputs=True,
    scalar=_sinh_scalar,
    complex=True,
)
register_elementwise(
    "cosh",
    np.cosh,
    lambda F, g, c: (F.mul(g, F.sinh(c.ins[0])),),
    rule=DtypeRule.FLOAT,
    save_inputs=True,
    scalar=_cosh_scalar,
    complex=True,
)
register_elementwise(
    "asinh",
    np.arcsinh,
    lambda F, g, c: (F.mul(g, F.rsqrt(F.add(_square(F, c.ins[0]), 1.0))),),
    rule=DtypeRule.FLOAT,
    save_inputs=True,
    scalar=_asinh_scalar,
)
register_elementwise(
    "acosh",
    np.arccosh,
    lambda F, g, c: (F.mul(g, F.rsqrt(F.sub(_square(F, c.ins[0]), 1.0))),),
    rule=DtypeRule.FLOAT,
    save_inputs=True,
    scalar=_acosh_scalar,
)
register_elementwise(
    "atanh",
    np.arctanh,
    lambda F, g, c: (F.div(g, F.sub(1.0, _square(F, c.ins[0]))),),
    rule=DtypeRule.FLOAT,
    save_inputs=True,
    scalar=_atanh_scalar,
)
