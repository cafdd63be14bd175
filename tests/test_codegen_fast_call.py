"""A program's usual call as generated Python (irgrad/codegen/fast_call.py).

The generated call must give exactly what the general path gives, and must hand every
call it does not expect (another layout, dtype, class, a read-only or empty array,
inputs that may share memory with one the program writes) to the general path."""

from __future__ import annotations

import numpy as np
import pytest
from graph_calls import run_program

import irgrad
from irgrad.codegen import Program, fuse_reduction_prologues
from irgrad.ir import Graph, TensorType, interpret
from irgrad.passes import fuse

F32 = irgrad.float32


def _program(shape=(3, 4)) -> tuple[Graph, Program]:
    """``exp(x) @ w + 1``, its transpose and ``x`` itself: a computed output, a view of one
    (the transpose) and an input returned as an output."""
    rows, cols = shape
    g = Graph("fast")
    x = g.add_input("x", TensorType(shape, F32))
    w = g.add_input("w", TensorType((cols, 5), F32))
    e = g.add_op("exp", [x], {}, TensorType(shape, F32))
    m = g.add_op("matmul", [e, w], {}, TensorType((rows, 5), F32))
    one = g.add_constant(np.ones((rows, 5), np.float32))
    y = g.add_op("add", [m, one], {}, TensorType((rows, 5), F32))
    t = g.add_op("permute", [y], {"dims": (1, 0)}, TensorType((5, rows), F32))
    g.set_outputs([y, t, x])
    return g, Program(fuse_reduction_prologues(fuse(g)))


def _inputs(shape=(3, 4), seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [
        rng.standard_normal(shape).astype(np.float32),
        rng.standard_normal((shape[1], 5)).astype(np.float32),
    ]


def _assert_like_interpreter(graph: Graph, got: list, inputs: list) -> None:
    for out, want in zip(got, interpret(graph, inputs)):
        assert out.shape == want.shape and out.dtype == want.dtype
        np.testing.assert_allclose(out, want, rtol=1e-6, atol=1e-6)


def test_the_usual_call_is_generated_code_that_computes_what_the_graph_does():
    graph, program = _program()
    assert "NATIVE(s[0])" in program.fast_call_source
    inputs = _inputs()
    fast = program._fast(inputs, None)
    assert fast is not None
    _assert_like_interpreter(graph, fast, inputs)
    assert fast[2] is inputs[0]  # an input returned as an output is the array itself
    assert not fast[1].flags.c_contiguous  # the transpose is a view of the result
    _assert_like_interpreter(graph, run_program(program, inputs), inputs)


def _other_layouts():
    x, w = _inputs()
    strided = np.zeros((3, 8), np.float32)[:, ::2]
    strided[...] = x

    class Sub(np.ndarray):
        pass

    return {
        "strided": [strided, w],
        "subclass": [x.view(Sub), w],
        "byte-swapped": [x.astype(">f4"), w],
    }


@pytest.mark.parametrize("case", sorted(_other_layouts()))
def test_calls_the_generated_code_does_not_expect_take_the_general_path(case):
    graph, program = _program()
    inputs = _other_layouts()[case]
    assert program._fast(inputs, None) is None
    if case == "byte-swapped":  # the general path's own check refuses it, as before
        with pytest.raises(RuntimeError, match=r"input 0 is >f4\[3, 4\], expected float32\[3, 4\]"):
            program(inputs)
        return
    got = program(inputs)
    _assert_like_interpreter(graph, got, [np.asarray(a, np.float32) for a in inputs])


def test_an_empty_input_and_a_read_only_input_the_program_reads_take_the_generated_call():
    # (the slots hold the arrays themselves: an empty or read-only array has an address
    # as any other; a read-only one the program writes takes the general path)
    graph, program = _program((0, 4))
    inputs = _inputs((0, 4))
    fast = program._fast(inputs, None)
    assert fast is not None
    _assert_like_interpreter(graph, fast, inputs)
    graph, program = _program()
    inputs = _inputs()
    for array in inputs:
        array.flags.writeable = False
    fast = program._fast(inputs, None)
    assert fast is not None
    _assert_like_interpreter(graph, fast, inputs)


def test_wrong_shapes_or_counts_are_refused_by_the_general_path():
    _, program = _program()
    x, w = _inputs()
    with pytest.raises(RuntimeError, match=r"input 1 is float32\[5, 5\], expected float32\[4, 5\]"):
        program([x, np.zeros((5, 5), np.float32)])
    with pytest.raises(TypeError, match="takes 2 inputs, got 1"):
        program([x])


def test_a_program_with_a_numpy_step_has_no_generated_call():
    g = Graph("sorted")
    x = g.add_input("x", TensorType((4, 5), F32))
    e = g.add_op("exp", [x], {}, TensorType((4, 5), F32))
    s = g.add_op("argsort", [e], {"dim": 1, "descending": False}, TensorType((4, 5), irgrad.int64))
    g.set_outputs([s])
    program = Program(fuse(g))
    assert program.report.numpy_nodes and program.fast_call_source == ""
    data = np.random.default_rng(0).standard_normal((4, 5)).astype(np.float32)
    np.testing.assert_array_equal(program([data])[0], interpret(g, [data])[0])


def test_a_compiled_training_step_runs_the_generated_call_and_trains_as_eager():
    # the parameters are written in place: the generated call checks they are distinct
    # arrays that own their memory, and the step still equals eager's
    def make(seed: int):
        irgrad.manual_seed(seed)
        model = irgrad.nn.Sequential(irgrad.nn.Linear(6, 8), irgrad.nn.ReLU(), irgrad.nn.Linear(8, 3))
        opt = irgrad.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)

        def step(x, y):
            opt.zero_grad()
            loss = irgrad.nn.functional.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            return loss.detach()

        return model, step

    x, y = irgrad.randn(16, 6), irgrad.randint(0, 3, (16,))
    model, step = make(0)
    eager = [float(step(x, y)) for _ in range(6)]
    compiled_model, compiled_step = make(0)
    compiled_step = irgrad.compile(compiled_step, backend="llvm")
    got = [float(compiled_step(x, y)) for _ in range(6)]
    np.testing.assert_allclose(got, eager, rtol=1e-5)
    for p, q in zip(compiled_model.parameters(), model.parameters()):
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=1e-5, atol=1e-6)
    (entry,) = [e for e in compiled_step._compiled.entries if e.runs]
    program = entry.built.run_forward
    assert "owndata" in program.fast_call_source
    generated, answered = program._fast, []

    def spy(inputs, sizes):
        outputs = generated(inputs, sizes)
        answered.append(outputs is not None)
        return outputs

    program._fast = spy
    np.testing.assert_allclose(float(compiled_step(x, y)), float(step(x, y)), rtol=1e-5)
    assert answered == [True]


def test_a_read_only_input_the_program_writes_is_left_to_the_interpreter():
    """The native program writes its in-place inputs where they are; one over read-only
    memory is neither written by the generated call nor by the general path: the
    interpreter computes the call (the runtime's copy back then raises, as numpy does)."""

    def f(x):
        x.mul_(3)
        return x + 1

    compiled = irgrad.compile(f)
    for _ in range(2):
        compiled(irgrad.ones(5))
    program = compiled._compiled.entries[-1].built.run_forward
    assert program._written_inputs
    array = np.arange(5, dtype=np.float32)
    array.flags.writeable = False
    assert program._fast([array], None) is None
    results = program([array])
    np.testing.assert_array_equal(array, np.arange(5, dtype=np.float32))
    assert program.interpreted == 1
    assert any(np.array_equal(r, np.arange(5, dtype=np.float32) * 3 + 1) for r in results)
