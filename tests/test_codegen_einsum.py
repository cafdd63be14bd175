"""``einsum`` in native code: its decomposition into permutes, reshapes, sums,
broadcasting multiplies and batched ``matmul`` (``OpDef.decompose``), which the llvm
backend lowers (the products through BLAS).

Compiled programs (forward and backward) against eager irgrad, eager against
``numpy.einsum``, and random equations' decompositions against the op's kernel.
Integer einsums decompose into products and sums (no BLAS), which wrap around as
numpy's do.  No torch needed.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
from graph_calls import assert_native, graph_call, run_program
from hypothesis import given, settings
from hypothesis import strategies as st

import irgrad
from irgrad.codegen import Program
from irgrad.codegen.decompose import decompose_unlowered
from irgrad.dtypes import from_numpy_dtype
from irgrad.ir import Graph, TensorType
from irgrad.ir.builder import GraphOps
from irgrad.ops import OPS

EQUATIONS = {
    "ij,jk->ik": [(5, 6), (6, 3)],
    "bij,bjk->bik": [(2, 5, 6), (2, 6, 3)],
    "bhqd,bhkd->bhqk": [(2, 3, 4, 5), (2, 3, 6, 5)],
    "ij->j": [(4, 5)],
    "ij->ji": [(4, 5)],
    "i,i->": [(7,), (7,)],
    "i,j->ij": [(3,), (4,)],
    "bij,jk->bik": [(2, 3, 4), (4, 5)],
    "abc,cd,de->abe": [(2, 3, 4), (4, 5), (5, 6)],
    "ij,jk->ki": [(5, 6), (6, 3)],
    "bi,bj->bij": [(2, 3), (2, 4)],
    "ijk,ikl->lj": [(2, 3, 4), (2, 4, 5)],
    "ij,jk->i": [(3, 4), (4, 5)],
}

TOLERANCE = {irgrad.float32: 1e-5, irgrad.float64: 1e-12}


@pytest.mark.parametrize("dtype", [irgrad.float32, irgrad.float64])
@pytest.mark.parametrize("equation", sorted(EQUATIONS))
def test_einsum_and_its_gradient_run_natively_as_eager(equation, dtype):
    """The forward graph and the backward graph (whose einsums are the gradient's) are
    one native call each, with no einsum left to numpy; values match eager's to float
    rounding (BLAS adds in another order than numpy's einsum loops)."""
    irgrad.manual_seed(7)
    xs = [irgrad.randn(*shape, dtype=dtype) for shape in EQUATIONS[equation]]
    weight = irgrad.randn(*irgrad.einsum(equation, *xs).shape, dtype=dtype)

    def loss(weight, *xs):
        out = irgrad.einsum(equation, *xs)
        return (out * weight).sum(), out

    compiled = irgrad.compile(loss, backend="llvm")
    compiled(weight, *(x.detach().requires_grad_() for x in xs))  # traced: the next call runs it
    runs = []
    for f in (functools.partial(graph_call, compiled), loss):
        leaves = [x.detach().requires_grad_() for x in xs]
        total, out = f(weight, *leaves)
        total.backward()
        runs.append([out.detach().numpy()] + [leaf.grad.numpy() for leaf in leaves])
    tol = TOLERANCE[dtype]
    for got, expected in zip(*runs):
        np.testing.assert_allclose(got, expected, rtol=tol, atol=tol)
    assert_native(compiled)


@pytest.mark.parametrize("equation", sorted(EQUATIONS))
def test_eager_einsum_is_numpys(equation):
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(shape) for shape in EQUATIONS[equation]]
    got = irgrad.einsum(equation, *(irgrad.tensor(a) for a in arrays)).numpy()
    np.testing.assert_allclose(got, np.einsum(equation, *arrays), rtol=1e-12, atol=1e-12)


def test_bool_einsums_keep_the_kernel():
    """numpy's bool einsum is a logical one, which a sum of products is not."""
    g = Graph("bools")
    F = GraphOps(g)
    a, b = F.input("a", (2, 3), irgrad.bool), F.input("b", (3, 4), irgrad.bool)
    assert OPS["einsum"].decompose(F, a, b, equation="ij,jk->ik") is None


@pytest.mark.parametrize("dtype", [irgrad.int32, irgrad.int64, irgrad.uint8])
@pytest.mark.parametrize("equation", ["ij,jk->ik", "bhqd,bhkd->bhqk", "abc,cd,de->abe", "i,i->"])
def test_integer_einsums_run_natively_and_wrap_around_as_numpys(equation, dtype):
    """Integers (no BLAS for them) contract as broadcasting products and sums, natively;
    values near the dtype's limits wrap around exactly as ``numpy.einsum``'s do."""
    info = np.iinfo(dtype.np)
    rng = np.random.default_rng(3)
    arrays = [
        rng.integers(info.min, info.max, shape, dtype=dtype.np, endpoint=True)
        for shape in EQUATIONS[equation]
    ]
    compiled = irgrad.compile(lambda *xs: irgrad.einsum(equation, *xs), backend="llvm")
    tensors = [irgrad.tensor(a) for a in arrays]
    compiled(*tensors)  # traced: the next call runs the program
    got = graph_call(compiled, *tensors).numpy()
    expected = np.einsum(equation, *arrays)
    assert got.dtype == expected.dtype and np.array_equal(got, expected)
    assert_native(compiled)


@st.composite
def equations(draw):
    """1-3 operands over the letters ``abcde`` (sizes 0 to 3, none repeated within an
    operand), an output of some of their letters in any order, and operand values."""
    sizes = dict(zip("abcde", draw(st.lists(st.integers(0, 3), min_size=5, max_size=5))))
    letters = st.lists(st.sampled_from("abcde"), unique=True, max_size=4).map("".join)
    ins = draw(st.lists(letters, min_size=1, max_size=3))
    used = sorted(set("".join(ins)))
    out = "".join(draw(st.permutations(used))[: draw(st.integers(0, len(used)))])
    dtype = draw(st.sampled_from([np.float32, np.float64, np.int64, np.int32, np.int8]))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    arrays = [(rng.standard_normal(tuple(sizes[c] for c in subs)) * 50).astype(dtype) for subs in ins]
    return ",".join(ins) + "->" + out, arrays


@settings(max_examples=150, deadline=None)
@given(equations())
def test_any_einsum_decomposes_into_native_parts_computing_the_kernel(case):
    """The decomposition has exactly the node's type (the pass checks), leaves nothing
    to numpy, and computes the kernel's values: to float rounding, integers exactly."""
    equation, arrays = case
    g = Graph("einsum")
    inputs = [
        g.add_input(f"x{k}", TensorType(a.shape, from_numpy_dtype(a.dtype))) for k, a in enumerate(arrays)
    ]
    meta = OPS["einsum"].infer(
        *(TensorType(a.shape, from_numpy_dtype(a.dtype)) for a in arrays), equation=equation
    )
    g.set_outputs([g.add_op("einsum", inputs, {"equation": equation}, TensorType(meta.shape, meta.dtype))])
    lowered = decompose_unlowered(g)
    assert "einsum" not in {node.op for node in lowered.op_nodes()}
    (got,) = run_program(Program(lowered), arrays)
    expected = OPS["einsum"].eval(*arrays, equation=equation)
    assert got.shape == expected.shape and got.dtype == expected.dtype
    if arrays[0].dtype.kind != "f":
        np.testing.assert_array_equal(got, expected)
        return
    # any order of adding the terms is within (terms + operands) ulps of the sum of their
    # magnitudes: cancellation makes an element small, not its rounding error
    ins, out = equation.split("->")
    sizes = {c: n for subs, a in zip(ins.split(","), arrays) for c, n in zip(subs, a.shape)}
    terms = int(np.prod([sizes[c] for c in set(sizes) - set(out)]))
    magnitude = np.einsum(equation, *[np.abs(a).astype(np.float64) for a in arrays])
    bound = (terms + len(arrays)) * np.finfo(arrays[0].dtype).eps * magnitude
    assert np.all(np.abs(got.astype(np.float64) - expected) <= bound), (equation, got, expected)


def test_an_einsum_that_broadcasts_a_size_one_dim_compiles_with_its_gradient():
    """``einsum("ij,ij->i", a, b[:1])`` broadcasts ``b``'s size-1 dim: compiled as eager,
    ``b``'s gradient summed back to its shape (compiled calls raised)."""

    def f(a, b):
        return irgrad.einsum("ij,ij->i", a, b).sum()

    compiled = irgrad.compile(f, backend="llvm")
    rng = np.random.default_rng(0)
    for _ in range(3):
        tensors = [
            [
                irgrad.tensor(rng.standard_normal(s).astype(np.float32), requires_grad=True)
                for s in ((3, 4), (1, 4))
            ]
        ]
        tensors.append([irgrad.tensor(t.detach().numpy(), requires_grad=True) for t in tensors[0]])
        f(*tensors[0]).backward()
        compiled(*tensors[1]).backward()
        for want, got in zip(*tensors):
            assert got.grad.shape == want.grad.shape == want.shape
            np.testing.assert_allclose(got.grad.numpy(), want.grad.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("equation, shapes", [("bii,ij->bj", ((2, 3, 3), (3, 4))), ("ii", ((5, 5),))])
def test_an_einsum_repeating_a_letter_within_an_operand_compiles_with_its_gradient(equation, shapes):
    """A repeated letter takes the operand's diagonal (a view) before the einsum: compiled
    as eager, outputs and gradients, with no graph break."""
    from irgrad.testing.differential import check_compiled

    rng = np.random.default_rng(1)
    calls = [[rng.standard_normal(s).astype(np.float32) for s in shapes] for _ in range(2)]
    compiled = check_compiled(lambda *xs: irgrad.einsum(equation, *xs), calls, backend="llvm", train=True)
    assert compiled.explain().graph_break_count == 0
