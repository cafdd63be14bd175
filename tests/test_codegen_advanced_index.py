"""``x[i, j]`` and every other index spec with index arrays, natively (``index`` and its
gradient ``index_grad``, :mod:`irgrad.codegen.advanced_indexing`).

Compiled programs against eager irgrad (whose kernel is numpy's indexing and
``np.add.at``) and graphs against the IR interpreter: values picked bit for bit,
gradients with repeated indices summed in ``np.add.at``'s order bit for bit, negative
indices wrapped and indices out of range raising as eager does (through the
interpreter, which native code hands the call to).  No torch needed.
"""

from __future__ import annotations

import numpy as np
import pytest
from graph_calls import assert_native, graph_call, run_program
from hypothesis import given, settings
from hypothesis import strategies as st

import irgrad
from irgrad.codegen import Program
from irgrad.dtypes import from_numpy_dtype
from irgrad.ir import Graph, TensorType, interpret
from irgrad.ops import OPS

# name -> (x's shape, index arrays' values, the read); the indices repeat, so gradients add up
PATTERNS = {
    "x[i, j]": ((5, 6), ([0, 4, 4, 1], [5, 2, 2, 0]), lambda x, i, j: x[i, j]),
    "x[:, i, j]": ((3, 5, 6), ([[1], [1], [3]], [0, 0, 5]), lambda x, i, j: x[:, i, j]),
    "x[i, :, j]": ((5, 3, 6), ([[2, 2]], [[1], [4], [1]]), lambda x, i, j: x[i, :, j]),
    "x[:, i, :, j]": ((2, 5, 3, 6), ([2, 2, 4], [[1], [1]]), lambda x, i, j: x[:, i, :, j]),
    "x[i, 1:3, j]": ((5, 4, 6), ([3, 0, 3], [1, 1, 1]), lambda x, i, j: x[i, 1:3, j]),
    "x[..., i, j]": ((2, 3, 5, 6), ([4, 4], [5, 5]), lambda x, i, j: x[..., i, j]),
    "x[None, i, ::2, j]": ((5, 4, 6), ([0, 0, 2], [3, 3, 3]), lambda x, i, j: x[None, i, ::2, j]),
    "x[1, :, i, j]": ((2, 3, 5, 6), ([1, 1], [0, 0]), lambda x, i, j: x[1, :, i, j]),
    "x[i][:, j]": ((5, 6), ([2, 2, 0], [1, 1]), lambda x, i, j: x[i][:, j]),
}


@pytest.mark.parametrize("dtype", [irgrad.float32, irgrad.float64])
@pytest.mark.parametrize("name", sorted(PATTERNS))
def test_index_patterns_and_their_gradients_run_natively_as_eager(name, dtype):
    """Forward and backward graphs are one native call each; the values picked and the
    gradient (repeated positions added in ``np.add.at``'s order) are eager's bit for bit."""
    shape, (i, j), read = PATTERNS[name]
    irgrad.manual_seed(3)
    i, j = irgrad.tensor(i), irgrad.tensor(j)
    x = irgrad.randn(*shape, dtype=dtype) * 10
    weight = irgrad.randn(*read(x, i, j).shape, dtype=dtype)

    def loss(x, i, j, weight):
        picked = read(x, i, j)
        return (picked * weight).sum(), picked

    compiled = irgrad.compile(loss, backend="llvm")
    compiled(x.detach().requires_grad_(), i, j, weight)  # traced: its result is eager's
    leaves = [x.detach().requires_grad_() for _ in range(2)]
    total, picked = graph_call(compiled, leaves[0], i, j, weight)
    eager_total, eager_picked = loss(leaves[1], i, j, weight)
    total.backward()
    eager_total.backward()
    assert picked.detach().numpy().tobytes() == eager_picked.detach().numpy().tobytes()
    assert leaves[0].grad.numpy().tobytes() == leaves[1].grad.numpy().tobytes()
    np.testing.assert_array_equal(eager_picked.detach().numpy(), read(x.numpy(), i.numpy(), j.numpy()))
    assert_native(compiled)


def test_negative_indices_wrap_as_in_eager():
    """A negative index counts from the end in native code, as numpy's does; one beyond
    the size hands the call to the interpreter, which raises the eager error."""
    x = irgrad.randn(4, 5, 6)
    compiled = irgrad.compile(lambda x, i, j: x[i, :, j] * 2.0, backend="llvm")
    compiled(x, irgrad.tensor([0, 0, 0]), irgrad.tensor([0, 0, 0]))  # traced: the next calls run it
    program = compiled._compiled.entries[0].built.run_forward
    for i, j, handed in (([-1, 0, -4], [-6, 5, -1], 0), ([1, 2, 3], [0, 1, 2], 0)):
        i, j = irgrad.tensor(i), irgrad.tensor(j)
        expected = x.numpy()[i.numpy(), :, j.numpy()] * np.float32(2.0)
        before = program.interpreted
        np.testing.assert_array_equal(graph_call(compiled, x, i, j).numpy(), expected)
        assert program.interpreted - before == handed
        np.testing.assert_array_equal((x[i, :, j] * 2.0).numpy(), expected)


def test_an_index_out_of_range_raises_the_eager_error():
    x = irgrad.randn(4, 5)
    compiled = irgrad.compile(lambda x, i, j: x[i, j] + 1.0, backend="llvm")
    good = irgrad.tensor([0, 3])
    compiled(x, good, good)
    for i, j in ((good, irgrad.tensor([1, 5])), (irgrad.tensor([-5, 0]), good)):
        with pytest.raises(IndexError) as eager:
            x[i, j]
        with pytest.raises(IndexError) as native:
            compiled(x, i, j)
        assert str(native.value) == str(eager.value)


def test_the_native_check_hands_a_bad_index_to_the_interpreter():
    """With no range check before it (a graph built directly), the ``index`` kernel's own
    check returns a status and the interpreter raises numpy's error."""
    g = Graph("unchecked")
    x = g.add_input("x", TensorType((4, 5), irgrad.float32))
    i = g.add_input("i", TensorType((2,), irgrad.int32))
    j = g.add_input("j", TensorType((2,), irgrad.int64))
    spec = (Ellipsis, Ellipsis)
    g.set_outputs([g.add_op("index", [x, i, j], {"spec": spec}, TensorType((2,), irgrad.float32))])
    program = Program(g)
    values = np.arange(20, dtype=np.float32).reshape(4, 5)
    args = [values, np.array([3, 1], np.int32), np.array([4, 0])]
    np.testing.assert_array_equal(run_program(program, args)[0], [19.0, 5.0])
    wrapped = [values, np.array([-1, -4], np.int32), np.array([-5, 4])]  # counted from the end
    np.testing.assert_array_equal(run_program(program, wrapped)[0], [15.0, 4.0])
    args[2] = np.array([4, 5])
    with pytest.raises(IndexError) as native:
        program(args)
    with pytest.raises(IndexError) as numpy:
        values[args[1], args[2]]
    assert str(native.value) == str(numpy.value) and program.interpreted == 1


def test_an_assignment_through_negative_indices_counts_from_the_end():
    g = Graph("assign")
    x = g.add_input("x", TensorType((4, 5), irgrad.float32))
    v = g.add_input("v", TensorType((3,), irgrad.float32))
    i = g.add_input("i", TensorType((3,), irgrad.int64))
    spec = (slice(None), Ellipsis)
    g.set_outputs([g.add_op("index_put", [x, v, i], {"spec": spec}, TensorType((4, 5), irgrad.float32))])
    program = Program(g)
    args = [np.zeros((4, 5), np.float32), np.array([1.0, 2.0, 3.0], np.float32), np.array([-1, 0, -5])]
    got = run_program(program, args)[0]
    np.testing.assert_array_equal(got, interpret(g, args)[0])
    assert (got[:, 4] == 1.0).all() and (got[:, 0] == 3.0).all()  # -5 is 0: written last


# A bug the graph calls found (validation drew repeated positions once its indices stayed in
# range): recorded (autograd or traced), ``y[i, j] = v`` added the values written to one
# position, where numpy, PyTorch and unrecorded eager keep the last one.  It is now the
# ``index_put`` primitive, native too.


def test_an_assignment_through_index_arrays_runs_natively():
    """``y[i, j] = v`` when traced is one ``index_put``, native; a position written twice
    keeps the last value."""
    x, v = irgrad.randn(4, 5), irgrad.randn(3)
    i, j = irgrad.tensor([0, 3, 0]), irgrad.tensor([1, 4, 1])

    def assign(x, v, i, j):
        y = x * 1.0
        y[i, j] = v
        return y

    compiled = irgrad.compile(assign, backend="llvm")
    np.testing.assert_array_equal(graph_call(compiled, x, v, i, j).numpy(), assign(x, v, i, j).numpy())
    assert_native(compiled)


def test_an_assignment_to_a_repeated_position_keeps_the_last_value_when_recorded():
    """numpy's (and PyTorch's) ``y[i, j] = v``: the last write to a position wins, recorded
    for autograd as without it."""
    v, i, j = irgrad.tensor([1.0, 2.0]), irgrad.tensor([1, 1]), irgrad.tensor([0, 0])
    results = []
    for requires_grad in (False, True):
        y = irgrad.zeros(2, 2, requires_grad=requires_grad) * 1.0
        y[i, j] = v
        results.append(y.detach().numpy())
    np.testing.assert_array_equal(results[0], [[0.0, 0.0], [2.0, 0.0]])
    np.testing.assert_array_equal(results[1], results[0])


# --- any spec, against the interpreter -------------------------------------------------------------


@st.composite
def index_cases(draw):
    """An array (maybe read transposed), a spec of ints, slices, None and 1-3 index arrays
    that broadcast together (with repeats, maybe negative or empty), and a gradient."""
    ndim = draw(st.integers(1, 4))
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=ndim, max_size=ndim)))
    arrays = draw(st.integers(1, min(3, ndim)))
    kinds = ["array"] * arrays + [
        draw(st.sampled_from(["all", "slice", "int"])) for _ in range(ndim - arrays)
    ]
    kinds = draw(st.permutations(kinds))
    broadcast = tuple(draw(st.lists(st.integers(0 if draw(st.booleans()) else 1, 3), max_size=3)))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    negative = draw(st.booleans()) and draw(st.booleans())
    id_dtype = draw(st.sampled_from([np.int64, np.int32]))
    spec, ids = [], []
    for d, kind in enumerate(kinds):
        if draw(st.integers(0, 5)) == 0:
            spec.append(None)
        n = shape[d]
        if kind == "array":
            own = tuple(
                1 if draw(st.booleans()) else b for b in broadcast[draw(st.integers(0, len(broadcast))) :]
            )
            ids.append(rng.integers(-n if negative else 0, n, own).astype(id_dtype))
            spec.append(Ellipsis)
        elif kind == "slice":
            start = draw(st.integers(0, n))
            spec.append(slice(start, draw(st.integers(start, n)), draw(st.integers(1, 3))))
        elif kind == "int":
            spec.append(draw(st.integers(0, n - 1)))
        else:
            spec.append(slice(None))
    if draw(st.booleans()):  # implicit trailing slices
        while spec and spec[-1] == slice(None):
            spec.pop()
    dtype = draw(st.sampled_from([np.float32, np.float64, np.int64]))
    x = (rng.standard_normal(shape) * 100).astype(dtype)
    transposed = draw(st.booleans())
    return (x.T.copy() if transposed else x), transposed, tuple(spec), ids, rng


@settings(max_examples=150, deadline=None)
@given(index_cases())
def test_any_index_spec_reads_and_adds_as_the_interpreter(case):
    """``index`` (from a contiguous or a transposed source), ``index_grad`` of a random
    gradient and ``index_put`` of values broadcast to the picked shape, with every spec
    numpy allows: one native segment, the interpreter's result bit for bit, negative
    indices (counted from the end) included."""
    stored, transposed, spec, ids, rng = case
    dtype = from_numpy_dtype(stored.dtype)
    shape = stored.shape[::-1] if transposed else stored.shape
    id_types = [TensorType(a.shape, from_numpy_dtype(a.dtype)) for a in ids]
    out_shape = tuple(OPS["index"].infer(TensorType(shape, dtype), *id_types, spec=spec).shape)
    g = Graph("index")
    x = g.add_input("x", TensorType(stored.shape, dtype))
    if transposed:
        x = g.add_op("permute", [x], {"dims": tuple(range(len(shape)))[::-1]}, TensorType(shape, dtype))
    picks = [g.add_input(f"i{k}", t) for k, t in enumerate(id_types)]
    grad = g.add_input("g", TensorType(out_shape, dtype))
    picked = g.add_op("index", [x, *picks], {"spec": spec}, TensorType(out_shape, dtype))
    back = g.add_op("index_grad", [grad, *picks], {"shape": shape, "spec": spec}, TensorType(shape, dtype))
    # values for an assignment: a suffix of the picked shape, some dims 1 (broadcast)
    kept = out_shape[int(rng.integers(0, len(out_shape) + 1)) :]
    put_shape = tuple(1 if rng.random() < 0.3 else n for n in kept)
    put = g.add_input("v", TensorType(put_shape, dtype))
    assigned = g.add_op("index_put", [x, put, *picks], {"spec": spec}, TensorType(shape, dtype))
    g.set_outputs([picked, back, assigned])
    program = Program(g)
    assert program.report.segments == 1
    values = (rng.standard_normal(out_shape) * 100).astype(stored.dtype)
    assignment = (rng.standard_normal(put_shape) * 100).astype(stored.dtype)
    inputs = [stored, *ids, values, assignment]
    outputs = run_program(program, inputs)
    for got, expected in zip(outputs, interpret(g, inputs)):
        assert got.shape == expected.shape and got.tobytes() == expected.tobytes()
