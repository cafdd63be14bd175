"""What a compiled function's guards check about its arguments beyond shape and dtype:
the layout of a non-contiguous tensor, whether a tensor that requires grad is a leaf,
and a container argument that became another type (found by a probe of compiled
against eager code; each case used to give the traced call's answer, or raise)."""

import numpy as np

import irgrad


def _twice_then(compiled, first, then):
    compiled(first)
    compiled(first)
    return compiled(then)


def test_code_reading_strides_sees_each_layout():
    """``x.stride()`` sends Python another way for a broadcast view than for a slice of
    the same shape: each layout gets its own graph."""

    def f(x):
        return x * 2 if x.stride()[0] == 0 else x * 3

    sliced = irgrad.ones(6, 10)[:, ::2]
    expanded = irgrad.ones(1, 5).expand(6, 5)
    got = _twice_then(irgrad.compile(f), sliced, expanded)
    np.testing.assert_array_equal(got.numpy(), f(expanded).numpy())
    np.testing.assert_array_equal(got.numpy(), np.full((6, 5), 2.0))


def test_code_reading_is_leaf_sees_a_non_leaf():
    """``x.is_leaf`` (and ``x.grad_fn``) of an argument that requires grad is guarded."""

    def f(x):
        return x * 2 if x.is_leaf else x * 3

    def g(x):
        return x + 1 if x.grad_fn is None else x - 1

    for function in (f, g):
        compiled = irgrad.compile(function)
        non_leaf = irgrad.ones(3, requires_grad=True) * 1
        got = _twice_then(compiled, irgrad.ones(3, requires_grad=True), non_leaf)
        np.testing.assert_array_equal(got.detach().numpy(), function(non_leaf).detach().numpy())
        leaf = irgrad.ones(3, requires_grad=True)
        np.testing.assert_array_equal(compiled(leaf).detach().numpy(), function(leaf).detach().numpy())


def test_a_container_argument_that_becomes_another_type_recompiles():
    """A tuple argument that becomes an int (or a dict that becomes a list) is a new
    call signature, not an error in the guard's own explanation of the miss."""
    x = irgrad.ones(3, 4)
    compiled = irgrad.compile(lambda x, dims: x.sum(dims))
    compiled(x, (0,))
    compiled(x, (0,))
    np.testing.assert_array_equal(compiled(x, 0).numpy(), np.full(4, 3.0))
    np.testing.assert_array_equal(compiled(x, [1]).numpy(), np.full(3, 4.0))

    scaled = irgrad.compile(lambda x, how: x * (how["k"] if isinstance(how, dict) else how[0]))
    scaled(x, {"k": 2.0})
    scaled(x, {"k": 2.0})
    np.testing.assert_array_equal(scaled(x, [5.0]).numpy(), np.full((3, 4), 5.0))
