"""Every elementwise op's scalar rule reproduces its numpy kernel bit for bit.

The scalar rule (``OpDef.scalar``) is what code generators lower; the numpy kernel
(``OpDef.eval``) is what eager execution runs.  Interpreting the rule on whole arrays
(:class:`irgrad.ops.scalar.NumpyScalars`) must give the kernel's values exactly,
special values included: NaN and its propagation, infinities, signed zeros, the
extremes of every integer type.  The ops of ``FORMULA_RULES`` compute the function by
another formula than the kernel: their finite values agree to ``FORMULA_ULPS``, the
special ones exactly.  A rule checked here is checked for every backend
that interprets the scalar ISA faithfully.
"""

from __future__ import annotations

import numpy as np
import pytest
from elementwise_cases import (
    DTYPES,
    FORMULA_RULES,
    FORMULA_ULPS,
    accepts,
    assert_close_in_ulps,
    assert_identical,
    cases,
)

from irgrad import dtypes
from irgrad.ops import OPS, Kind
from irgrad.ops.registry import Meta
from irgrad.ops.scalar import run_scalar_rule

ELEMENTWISE = sorted(name for name, op in OPS.items() if op.kind is Kind.ELEMENTWISE)


def test_every_elementwise_op_has_a_scalar_rule():
    missing = [name for name in ELEMENTWISE if OPS[name].scalar is None]
    assert not missing, f"elementwise ops without a scalar rule: {missing}"


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_scalar_rule_matches_the_kernel(name):
    op = OPS[name]
    rng = np.random.default_rng(0)
    checked = 0
    for dt in DTYPES:
        for arrays, attrs in cases(op, dt, rng):
            if not accepts(op, arrays, attrs):
                continue
            with np.errstate(all="ignore"):
                expected = np.asarray(op.eval(*arrays, **attrs))
            inferred = op.infer(*(Meta(a.shape, dtypes.from_numpy_dtype(a.dtype)) for a in arrays), **attrs)
            if expected.dtype != inferred.dtype.np:
                continue  # the kernel itself disagrees with the op's type (numpy's floor of an int)
            actual, context = run_scalar_rule(op, *arrays, **attrs), f"{name} on {dt} {attrs}"
            if name in FORMULA_RULES:
                assert_close_in_ulps(expected, actual, context, FORMULA_ULPS)
                assert_identical(expected[expected == 0], actual[expected == 0], f"{context}: zeros")
            else:
                assert_identical(expected, actual, context)
            checked += 1
    assert checked, f"{name}: no dtype was checked"
