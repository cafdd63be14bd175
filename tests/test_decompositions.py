"""Each composite primitive's decomposition (``OpDef.decompose``) against its kernel.

The decomposition is built with the IR op namespace and run by the interpreter on
random inputs seeded with -inf, +inf and NaN; it must give the op's numpy kernel's
values (to float rounding: the kernel fuses some steps).  Then compiled with the llvm
backend, where the parts become native code.  No torch needed.
"""

from __future__ import annotations

import numpy as np
import pytest
from graph_calls import assert_native, graph_call
from hypothesis import given, settings
from hypothesis import strategies as st

import irgrad
import irgrad.nn.functional as F
from irgrad.dtypes import from_numpy_dtype
from irgrad.ir import Graph, interpret
from irgrad.ir.builder import GraphOps
from irgrad.ops import OPS

DECOMPOSED = sorted(name for name, op in OPS.items() if op.decompose is not None)
SOFTMAXES = ["log_softmax", "logsumexp", "softmax"]  # einsum's: tests/test_codegen_einsum.py


def test_the_composites_have_decompositions():
    assert DECOMPOSED == ["einsum"] + SOFTMAXES


@st.composite
def cases(draw):
    name = draw(st.sampled_from(SOFTMAXES))
    shape = tuple(draw(st.lists(st.integers(1, 5), min_size=1, max_size=3)))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    x = (rng.standard_normal(shape) * draw(st.sampled_from([1.0, 30.0]))).astype(dtype)
    for special in draw(st.lists(st.sampled_from([-np.inf, np.inf, np.nan]), max_size=3)):
        x.reshape(-1)[rng.integers(x.size)] = special
    if name == "logsumexp":
        dims = tuple(sorted(draw(st.sets(st.integers(0, len(shape) - 1), min_size=1))))
        attrs = {"dims": dims, "keepdim": draw(st.booleans())}
    else:
        attrs = {"dim": draw(st.integers(-len(shape), len(shape) - 1))}
    return name, x, attrs


@settings(max_examples=150, deadline=None)
@given(cases())
def test_a_decomposition_computes_what_the_kernel_computes(case):
    name, x, attrs = case
    op = OPS[name]
    g = Graph(name)
    F_ = GraphOps(g)
    value = op.decompose(F_, F_.input("x", x.shape, from_numpy_dtype(x.dtype)), **attrs)
    g.set_outputs([value.id])
    with np.errstate(all="ignore"):
        expected = op.eval(x, **attrs)
        (got,) = interpret(g, [x])
    assert got.shape == expected.shape and got.dtype == expected.dtype
    # both round differently (their sums run in other orders, or widths): an element that
    # is a difference of two terms as large as the inputs (x - max - log(sum)) is off by
    # a few of the inputs' ulps, not of its own
    finite = np.abs(x[np.isfinite(x)])
    scale = float(finite.max()) if finite.size else 1.0
    atol = 8 * np.finfo(x.dtype).eps * max(1.0, scale)
    np.testing.assert_allclose(
        got, expected, rtol=1e-6 if x.dtype == np.float32 else 1e-13, atol=atol, equal_nan=True
    )


@pytest.mark.parametrize("shape", [(), (0, 3), (3, 0)])
def test_decompositions_leave_zero_d_and_empty_inputs_to_the_kernel(shape):
    g = Graph("edge")
    F_ = GraphOps(g)
    x = F_.input("x", shape, irgrad.float32)
    assert OPS["softmax"].decompose(F_, x, dim=0 if shape else 0) is None
    assert OPS["logsumexp"].decompose(F_, x, dims=(0,) if shape else (), keepdim=False) is None


def test_an_attention_softmax_runs_natively_in_one_call():
    irgrad.manual_seed(5)
    q, k, v = irgrad.randn(2, 4, 8), irgrad.randn(2, 4, 8), irgrad.randn(2, 4, 8)

    def attend(q, k, v):
        return F.softmax(q @ k.transpose(1, 2) / 8**0.5, dim=-1) @ v

    compiled = irgrad.compile(attend, backend="llvm")
    got = graph_call(compiled, q, k, v)
    np.testing.assert_allclose(got.numpy(), attend(q, k, v).numpy(), rtol=1e-5, atol=1e-6)
    assert_native(compiled)
