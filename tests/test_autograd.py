"""Autograd semantics without PyTorch: known values, error messages and finite differences."""

import gc
import weakref

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import irgrad
from irgrad.autograd import GradcheckError, gradcheck, gradgradcheck


def leaf(values, dtype=irgrad.float64):
    return irgrad.tensor(values, dtype=dtype, requires_grad=True)


def randn(*shape, seed=0, requires_grad=True):
    data = np.random.default_rng(seed).standard_normal(shape)
    return irgrad.tensor(data, dtype=irgrad.float64, requires_grad=requires_grad)


# --- the recorded graph -----------------------------------------------------------------


def test_graph_is_recorded_as_ops_run():
    a, b = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    c = a * b
    d = c + a
    assert a.is_leaf and a.grad_fn is None
    assert not c.is_leaf and c.requires_grad
    assert type(d.grad_fn).__name__ == "AddBackward0" == d.grad_fn.name()
    assert c.grad_fn.name() == "MulBackward0"
    assert d.grad_fn.next_functions[0] == (c.grad_fn, 0)
    acc, nr = d.grad_fn.next_functions[1]
    assert type(acc).__name__ == "AccumulateGrad" and acc.variable is a and nr == 0
    assert irgrad.tensor([1.0]).mul(2).grad_fn is None


def test_constant_inputs_have_no_edge():
    a = leaf([1.0])
    y = a * irgrad.tensor([2.0], dtype=irgrad.float64)
    assert y.grad_fn.next_functions[1] == (None, 0)


def test_backward_accumulates_and_reverse_topological_order():
    x = leaf([2.0])
    y = x * x  # shared subexpression used twice below
    z = y * y + y
    z.backward(retain_graph=True)
    # z = x^4 + x^2 -> 4x^3 + 2x
    np.testing.assert_allclose(x.grad.numpy(), [36.0])
    z.backward()
    np.testing.assert_allclose(x.grad.numpy(), [72.0])


def test_second_backward_through_freed_graph_raises():
    x = leaf([1.0, 2.0])
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
        y.backward()


def test_ops_that_save_nothing_can_backward_twice():
    x = leaf([1.0, 2.0])
    y = (x + x).sum()
    y.backward()
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), [4.0, 4.0])


def test_retain_graph_keeps_saved_tensors():
    x = leaf([3.0])
    y = x.exp().sum()
    y.backward(retain_graph=True)
    y.backward(retain_graph=True)
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.exp([3.0]))


@pytest.mark.parametrize("seed", range(3))
def test_higher_order_derivatives_of_cube(seed):
    x = randn(5, seed=seed)
    y = (x**3).sum()
    (g1,) = irgrad.autograd.grad(y, x, create_graph=True)
    (g2,) = irgrad.autograd.grad(g1.sum(), x, create_graph=True)
    (g3,) = irgrad.autograd.grad(g2.sum(), x)
    xs = x.detach().numpy()
    np.testing.assert_allclose(g1.detach().numpy(), 3 * xs**2)
    np.testing.assert_allclose(g2.detach().numpy(), 6 * xs)
    np.testing.assert_allclose(g3.numpy(), np.full(5, 6.0))


def test_backward_create_graph_makes_differentiable_grad():
    x = leaf([2.0])
    (x**3).sum().backward(create_graph=True)
    g = x.grad
    assert g.requires_grad
    np.testing.assert_allclose(g.detach().numpy(), [12.0])
    x.grad = None
    g.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [12.0])  # d(3x^2)/dx = 6x


def test_create_graph_through_nonlinear_chain():
    x = leaf([0.3, -0.7])
    y = (x.tanh() * x.sin()).sum()
    (g,) = irgrad.autograd.grad(y, x, create_graph=True)
    (h,) = irgrad.autograd.grad(g.sum(), x)
    v = x.detach().numpy()
    t, s, c = np.tanh(v), np.sin(v), np.cos(v)
    dt = 1 - t**2
    d2 = -2 * t * dt * s + 2 * dt * c - t * s
    np.testing.assert_allclose(h.numpy(), d2, rtol=1e-10)


# --- leaves' gradients never alias ---------------------------------------------------------


def test_leaf_grads_are_independent_arrays():
    a, b = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    (a + b).sum().backward()
    assert not np.shares_memory(a.grad.numpy(), b.grad.numpy())
    a.grad.add_(1.0)
    np.testing.assert_allclose(b.grad.numpy(), [1.0, 1.0])


def test_leaf_grad_does_not_alias_user_gradient_or_output():
    a = leaf([1.0, 2.0])
    seed = irgrad.tensor([5.0, 6.0], dtype=irgrad.float64)
    a.backward(seed)
    assert not np.shares_memory(a.grad.numpy(), seed.numpy())
    assert not np.shares_memory(a.grad.numpy(), a.detach().numpy())
    a.grad.zero_()
    np.testing.assert_allclose(seed.numpy(), [5.0, 6.0])


def test_leaf_grads_independent_with_create_graph():
    a, b = leaf([1.0]), leaf([2.0])
    (a + b).sum().backward(create_graph=True)
    assert a.grad is not b.grad
    assert not np.shares_memory(a.grad.detach().numpy(), b.grad.detach().numpy())


def test_autograd_grad_results_do_not_alias():
    a, b = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    ga, gb = irgrad.autograd.grad((a + b).sum(), [a, b])
    assert not np.shares_memory(ga.numpy(), gb.numpy())


def test_gradient_cast_to_leaf_dtype():
    a = irgrad.ones(3, requires_grad=True)
    (a * 2).backward(irgrad.ones(3, dtype=irgrad.float64))
    assert a.grad.dtype == irgrad.float32


# --- autograd.grad ----------------------------------------------------------------------------


def test_grad_does_not_touch_dot_grad():
    x = leaf([1.0, 2.0])
    (g,) = irgrad.autograd.grad((x * x).sum(), x)
    np.testing.assert_allclose(g.numpy(), [2.0, 4.0])
    assert x.grad is None and not g.requires_grad


def test_grad_allow_unused_and_materialize():
    a, b = leaf([1.0]), leaf([2.0])
    y = (a * 3).sum()
    with pytest.raises(RuntimeError, match="at index 1 appears to not have been used in the graph"):
        irgrad.autograd.grad(y, [a, b], retain_graph=True)
    ga, gb = irgrad.autograd.grad(y, [a, b], allow_unused=True, retain_graph=True)
    assert gb is None
    ga, gb = irgrad.autograd.grad(y, [a, b], materialize_grads=True)
    np.testing.assert_allclose(gb.numpy(), [0.0])
    with pytest.raises(ValueError, match="allow_unused"):
        irgrad.autograd.grad((a * 3).sum(), [a, b], allow_unused=False, materialize_grads=True)


def test_grad_outputs_weight_the_outputs():
    x = leaf([1.0, 2.0, 3.0])
    y = x * x
    (g,) = irgrad.autograd.grad(y, x, grad_outputs=irgrad.tensor([1.0, 0.5, 0.0], dtype=irgrad.float64))
    np.testing.assert_allclose(g.numpy(), [2.0, 2.0, 0.0])


def test_grad_of_several_outputs_sums():
    x = leaf([1.0, 2.0])
    (g1,) = irgrad.autograd.grad([(x * 2).sum(), (x * x).sum()], x)
    np.testing.assert_allclose(g1.numpy(), [4.0, 6.0])


def test_grad_with_respect_to_non_leaf():
    a = leaf([1.0, 2.0])
    b = a * 2
    c = (b * b).sum()
    gb, ga = irgrad.autograd.grad(c, [b, a])
    np.testing.assert_allclose(gb.numpy(), [4.0, 8.0])
    np.testing.assert_allclose(ga.numpy(), [8.0, 16.0])


def test_grad_stops_at_non_leaf_input():
    a = leaf([1.0])
    b = a.exp()
    (gb,) = irgrad.autograd.grad((b * 3).sum(), b)
    np.testing.assert_allclose(gb.numpy(), [3.0])
    # b's node never ran, so it still has its saved output and can backward later.
    b.sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), np.exp([1.0]))


def test_grad_repeated_input():
    x = leaf([2.0])
    g1, g2 = irgrad.autograd.grad((x * x).sum(), [x, x])
    np.testing.assert_allclose(g1.numpy(), [4.0])
    np.testing.assert_allclose(g2.numpy(), [4.0])


def test_grad_is_grads_batched():
    x = leaf([1.0, 2.0])
    y = x * x
    (jac,) = irgrad.autograd.grad(y, x, irgrad.eye(2, dtype=irgrad.float64), is_grads_batched=True)
    np.testing.assert_allclose(jac.numpy(), np.diag([2.0, 4.0]))


def test_backward_inputs_restricts_accumulation():
    a, b = leaf([1.0]), leaf([2.0])
    (a * b).sum().backward(inputs=[a])
    np.testing.assert_allclose(a.grad.numpy(), [2.0])
    assert b.grad is None
    with pytest.raises(RuntimeError, match="cannot be empty"):
        (a * b).sum().backward(inputs=[])


def test_backward_inputs_non_leaf_gets_grad():
    a = leaf([1.0, 2.0])
    b = a * 2
    (b * b).sum().backward(inputs=[b])
    np.testing.assert_allclose(b.grad.numpy(), [4.0, 8.0])
    assert a.grad is None


# --- retain_grad and hooks ------------------------------------------------------------------


def test_retain_grad_on_non_leaf_accumulates():
    a = leaf([1.0, 2.0])
    b = a * 3
    b.retain_grad()
    assert b.retains_grad
    y = (b * b).sum()
    y.backward(retain_graph=True)
    np.testing.assert_allclose(b.grad.numpy(), [6.0, 12.0])
    y.backward()
    np.testing.assert_allclose(b.grad.numpy(), [12.0, 24.0])


def test_non_leaf_grad_warns_without_retain_grad():
    b = leaf([1.0]) * 2
    b.sum().backward()
    with pytest.warns(UserWarning, match="not a leaf Tensor"):
        assert b.grad is None


def test_hooks_replace_grad_and_can_be_removed():
    a = leaf([1.0, 1.0])
    b = a * 2
    seen = []
    hb = b.register_hook(lambda g: g * 10)
    ha = a.register_hook(lambda g: seen.append(g.numpy().copy()))
    b.retain_grad()
    (b * b).sum().backward(retain_graph=True)
    np.testing.assert_allclose(b.grad.numpy(), [40.0, 40.0])  # retain_grad sees the hooked value
    np.testing.assert_allclose(a.grad.numpy(), [80.0, 80.0])
    np.testing.assert_allclose(seen[0], [80.0, 80.0])
    hb.remove()
    ha.remove()
    a.grad = b.grad = None
    (b * b).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), [8.0, 8.0])
    assert len(seen) == 1


def test_leaf_hook_runs_once_on_summed_gradient():
    a = leaf([1.0])
    calls = []

    def hook(g):
        calls.append(float(g))
        return g.clamp(max=2.5)

    a.register_hook(hook)
    (a * 2 + a * 3).sum().backward()
    assert calls == [5.0]
    np.testing.assert_allclose(a.grad.numpy(), [2.5])


def test_leaf_hook_applies_to_autograd_grad():
    a = leaf([1.0])
    a.register_hook(lambda g: g * 5)
    (g,) = irgrad.autograd.grad((a * 2).sum(), a)
    np.testing.assert_allclose(g.numpy(), [10.0])


def test_register_hook_requires_grad():
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        irgrad.ones(2).register_hook(lambda g: g)


# --- detach, requires_grad_, data ------------------------------------------------------------


def test_detach_shares_storage_and_version_counter():
    a = leaf([1.0, 2.0])
    d = a.detach()
    assert not d.requires_grad and d.is_leaf
    d.add_(1.0)
    np.testing.assert_allclose(a.detach().numpy(), [2.0, 3.0])
    assert d._version == a._version == 1


def test_inplace_on_detached_saved_tensor_is_detected():
    a = leaf([1.0, 2.0])
    y = a * a
    a.detach().mul_(2.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_data_escapes_version_tracking():
    a = leaf([1.0, 2.0])
    y = a * a
    a.data.mul_(2.0)  # the documented escape hatch: not detected, uses the new values
    y.sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), [4.0, 8.0])
    assert not a.data.requires_grad


def test_detach_inplace():
    a = leaf([1.0])
    b = a * 2
    assert b.detach_() is b
    assert b.is_leaf and not b.requires_grad and b.grad_fn is None


def test_requires_grad_rules():
    with pytest.raises(RuntimeError, match="floating point"):
        irgrad.ones(2, dtype=irgrad.int64).requires_grad_()
    with pytest.raises(RuntimeError, match="only change requires_grad flags of leaf variables"):
        (leaf([1.0]) * 2).requires_grad_(False)
    a = irgrad.ones(2)
    assert a.requires_grad_() is a and a.requires_grad
    a.requires_grad_(False)
    assert not a.requires_grad


# --- grad modes -----------------------------------------------------------------------------


def test_no_grad_context_and_decorators():
    a = leaf([1.0])
    with irgrad.no_grad():
        assert not irgrad.is_grad_enabled()
        assert not (a * 2).requires_grad
        with irgrad.enable_grad():
            assert (a * 2).requires_grad
        assert not irgrad.is_grad_enabled()
    assert irgrad.is_grad_enabled()

    @irgrad.no_grad()
    def f():
        return irgrad.is_grad_enabled()

    @irgrad.no_grad
    def g():
        return irgrad.is_grad_enabled()

    @irgrad.enable_grad
    def h():
        return irgrad.is_grad_enabled()

    assert f() is False and g() is False
    with irgrad.no_grad():
        assert h() is True
    assert irgrad.is_grad_enabled()


def test_set_grad_enabled_forms():
    irgrad.set_grad_enabled(False)
    try:
        assert not irgrad.is_grad_enabled()
    finally:
        irgrad.set_grad_enabled(True)
    with irgrad.set_grad_enabled(False):
        assert not irgrad.is_grad_enabled()
        with irgrad.set_grad_enabled(True):
            assert irgrad.is_grad_enabled()
        assert not irgrad.is_grad_enabled()
    assert irgrad.is_grad_enabled()

    @irgrad.set_grad_enabled(False)
    def f():
        return irgrad.is_grad_enabled()

    assert irgrad.is_grad_enabled()  # decorating does not switch the mode
    assert f() is False and irgrad.is_grad_enabled()


def test_inference_mode():
    a = leaf([1.0])
    with irgrad.inference_mode():
        assert not irgrad.is_grad_enabled() and irgrad.is_inference_mode_enabled()
        assert not (a * 2).requires_grad
    assert not irgrad.is_inference_mode_enabled()
    with irgrad.inference_mode(False):
        assert irgrad.is_grad_enabled()

    @irgrad.inference_mode
    def f():
        return irgrad.is_grad_enabled()

    @irgrad.inference_mode()
    def g():
        return irgrad.is_grad_enabled()

    assert f() is False and g() is False


def test_grad_mode_decorator_on_generator():
    @irgrad.no_grad()
    def gen():
        value = yield irgrad.is_grad_enabled()
        assert value == "sent"
        with irgrad.enable_grad():
            yield irgrad.is_grad_enabled()
        yield irgrad.is_grad_enabled()
        return "done"

    it = gen()
    assert next(it) is False
    assert irgrad.is_grad_enabled()  # the caller runs in its own mode between yields
    assert it.send("sent") is True
    assert next(it) is False
    with pytest.raises(StopIteration) as stop:
        next(it)
    assert stop.value.value == "done"
    assert irgrad.is_grad_enabled()


def test_grad_mode_generator_close_and_throw():
    @irgrad.no_grad
    def gen():
        try:
            yield 1
        except ValueError:
            yield irgrad.is_grad_enabled()

    it = gen()
    next(it)
    assert it.throw(ValueError()) is False
    it.close()
    assert irgrad.is_grad_enabled()


def test_grad_mode_restored_after_exception():
    with pytest.raises(KeyError):
        with irgrad.no_grad():
            raise KeyError
    assert irgrad.is_grad_enabled()


def test_recursive_decorated_function():
    @irgrad.no_grad()
    def depth(n):
        return 0 if n == 0 else 1 + depth(n - 1)

    assert depth(3) == 3 and irgrad.is_grad_enabled()


# --- broadcasting ---------------------------------------------------------------------------


def _broadcast_pair():
    """Two shapes that broadcast together, with 0-d and size-1 dims."""

    @st.composite
    def pair(draw):
        ndim = draw(st.integers(0, 3))
        out = draw(st.lists(st.integers(1, 3), min_size=ndim, max_size=ndim))
        shapes = []
        for _ in range(2):
            k = draw(st.integers(0, ndim))
            shapes.append(tuple(1 if draw(st.booleans()) else s for s in out[ndim - k :]))
        return shapes

    return pair()


@settings(max_examples=40, deadline=None)
@given(_broadcast_pair(), st.sampled_from(["add", "sub", "mul", "div"]))
def test_broadcast_gradient_has_input_shape(shapes, op):
    sa, sb = shapes
    rng = np.random.default_rng(0)
    a_np, b_np = rng.uniform(0.5, 2, sa), rng.uniform(0.5, 2, sb)
    a, b = irgrad.tensor(a_np, requires_grad=True), irgrad.tensor(b_np, requires_grad=True)
    getattr(a, op)(b).sum().backward()
    assert a.grad.shape == a.shape and b.grad.shape == b.shape
    out_shape = np.broadcast_shapes(sa, sb)
    ones = np.ones(out_shape)
    da, db = {
        "add": (ones, ones),
        "sub": (ones, -ones),
        "mul": (ones * b_np, ones * a_np),
        "div": (ones / b_np, -ones * a_np / b_np**2),
    }[op]

    def reduce(g, shape):
        g = g.sum(axis=tuple(range(g.ndim - len(shape))))
        return g.sum(axis=tuple(i for i, s in enumerate(shape) if s == 1), keepdims=True).reshape(shape)

    np.testing.assert_allclose(a.grad.numpy(), reduce(da, sa), rtol=1e-12)
    np.testing.assert_allclose(b.grad.numpy(), reduce(db, sb), rtol=1e-12)


# --- errors PyTorch users know --------------------------------------------------------------


def test_inplace_on_saved_tensor_is_detected():
    a = leaf([1.0, 2.0])
    b = a * 2
    c = b * b
    b.add_(1.0)
    with pytest.raises(
        RuntimeError,
        match="one of the variables needed for gradient computation has been modified by an inplace operation",
    ):
        c.sum().backward()


def test_inplace_on_tensor_not_saved_is_fine():
    a = leaf([1.0, 2.0])
    b = a * 2
    c = b + 1  # add saves nothing
    b.mul_(3.0)
    c.sum().backward(retain_graph=True)
    np.testing.assert_allclose(a.grad.numpy(), [2.0, 2.0])
    a.grad = None
    b.sum().backward()  # b's history now includes the mul_
    np.testing.assert_allclose(a.grad.numpy(), [6.0, 6.0])


def test_inplace_on_leaf_requiring_grad_raises():
    a = leaf([1.0])
    with pytest.raises(
        RuntimeError, match="a leaf Variable that requires grad is being used in an in-place operation"
    ):
        a.add_(1.0)
    with irgrad.no_grad():
        a.add_(1.0)  # fine under no_grad
    np.testing.assert_allclose(a.detach().numpy(), [2.0])


def test_backward_on_non_scalar_needs_gradient():
    a = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match="grad can be implicitly created only for scalar outputs"):
        (a * 2).backward()


def test_backward_of_tensor_without_grad():
    with pytest.raises(RuntimeError, match="does not require grad and does not have a grad_fn"):
        irgrad.ones(2).sum().backward()
    with pytest.raises(RuntimeError, match="One of the differentiated Tensors does not require grad"):
        irgrad.autograd.grad((leaf([1.0]) * 2).sum(), irgrad.ones(1))


def test_grad_output_shape_mismatch():
    a = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match="Mismatch in shape: grad_output\\[0\\] has a shape of"):
        (a * 2).backward(irgrad.ones(3, dtype=irgrad.float64))


def test_graph_is_freed_with_its_output():
    a = leaf([1.0])
    y = a.exp()
    ref = weakref.ref(y.grad_fn)
    del y
    gc.collect()
    assert ref() is None


# --- gradcheck ------------------------------------------------------------------------------

UNARY = {
    "exp": lambda t: t.tanh().exp(),  # bounded: repeated exp would overflow
    "tanh": lambda t: t.tanh(),
    "sigmoid": lambda t: t.sigmoid(),
    "sin": lambda t: t.sin(),
    "log": lambda t: (t * t + 1).log(),
    "sqrt": lambda t: (t * t + 1).sqrt(),
    "square": lambda t: t.tanh() ** 2,
    "softplus-ish": lambda t: (t.tanh().exp() + 1).log(),
}


@settings(max_examples=25, deadline=None)
@given(
    st.lists(st.sampled_from(sorted(UNARY)), min_size=1, max_size=4),
    st.integers(0, 2**16),
)
def test_gradcheck_random_compositions(names, seed):
    a, b = randn(2, 3, seed=seed), randn(3, seed=seed + 1)

    def fn(x, y):
        h = x * y + y
        for n in names:
            h = UNARY[n](h)
        return (h @ y).sum() + h.mean(dim=0)

    assert gradcheck(fn, (a, b))


def test_gradcheck_matmul_reductions_and_movement():
    a, b = randn(3, 4, seed=1), randn(4, 2, seed=2)
    fn = lambda x, y: (x @ y).transpose(0, 1).reshape(6).softmax(0) * x.sum()  # noqa: E731
    assert gradcheck(fn, (a, b))
    assert gradgradcheck(lambda x, y: (x @ y).tanh(), (a, b))


def test_gradgradcheck_detects_nothing_wrong_in_cube():
    assert gradgradcheck(lambda x: x**3, (randn(4, seed=3),))


def test_gradcheck_detects_wrong_gradient():
    class WrongSquare(irgrad.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * 3 * x  # should be 2x

    x = randn(3, seed=4)
    assert gradcheck(WrongSquare.apply, (x,), raise_exception=False) is False
    with pytest.raises(GradcheckError, match="Jacobian mismatch"):
        gradcheck(WrongSquare.apply, (x,))


def test_gradcheck_needs_an_input_requiring_grad():
    with pytest.raises(ValueError, match="requires_grad=True"):
        gradcheck(lambda x: x * 2, (randn(2, requires_grad=False),))


def test_gradcheck_warns_on_float32():
    x = irgrad.ones(2, requires_grad=True)
    with pytest.warns(UserWarning, match="not a double precision"):
        gradcheck(lambda t: t * 2, (x,), eps=1e-3, atol=1e-2)


@pytest.mark.parametrize(
    "make, raises",
    [
        (lambda w, x: w * 2, False),  # the product keeps the 2, not w
        (lambda w, x: 2 * w, False),
        (lambda w, x: w / 3, False),  # the quotient keeps the 3
        (lambda w, x: w * x, True),  # x's gradient reads w
        (lambda w, x: x / w, True),  # the quotient's gradient reads w
        (lambda w, x: w.t() * 1, False),
        (lambda w, x: w.masked_fill(w.detach() > 1.5, 0.0), False),  # where: the condition only
        (lambda w, x: w.unsqueeze(1).expand(2, 3) * 2, False),
    ],
)
def test_only_what_a_needed_gradient_reads_is_checked_for_in_place_writes(make, raises):
    """Autograd keeps, and checks for in-place writes, only what the gradients it will
    compute read: ``w * 2`` needs the 2, so ``w`` may be written before the backward, as
    in PyTorch (it raised "modified by an inplace operation"); ``w * x`` with both
    requiring grad needs ``w`` for ``x``'s gradient, and raises as PyTorch does."""
    torch = pytest.importorskip("torch")
    results = []
    for lib in (torch, irgrad):
        y = lib.tensor([1.0, 2.0], requires_grad=True)
        x = lib.tensor([3.0, 4.0], requires_grad=True)
        w = y * 1
        z = make(w, x)
        w.add_(1)
        try:
            z.sum().backward()
            results.append(y.grad.tolist())
        except RuntimeError as error:
            assert "modified by an inplace operation" in str(error)
            results.append("raised")
    assert results[0] == results[1]
    assert (results[1] == "raised") == raises


_INDEX = [1, 0]


@pytest.mark.parametrize(
    "make, raises",
    [
        (lambda L, w, c: w[_INDEX], False),  # advanced indexing keeps the indices only
        (lambda L, w, c: w[L.tensor(_INDEX), L.tensor(_INDEX)], False),
        (lambda L, w, c: w.index_select(0, L.tensor(_INDEX)), False),
        (lambda L, w, c: w.gather(0, L.tensor([[1, 0, 2]])), True),  # PyTorch keeps the input
        (lambda L, w, c: L.ones(2, 4) @ w, False),  # w's gradient reads the other factor
        (lambda L, w, c: w @ L.ones(3, 2), False),
        (lambda L, w, c: w @ w.t(), True),
        (lambda L, w, c: L.nn.functional.linear(w, L.ones(5, 3)), False),
        (lambda L, w, c: L.nn.functional.linear(c, w), False),
        (lambda L, w, c: L.nn.functional.linear(c, L.ones(4, 3), w[0].repeat(2)[:4]), False),
        (lambda L, w, c: L.einsum("ij->j", w), False),
        (lambda L, w, c: L.einsum("ij,ij->i", w, c), False),
        (lambda L, w, c: L.einsum("ij,ij->i", w, w), True),
        (lambda L, w, c: L.remainder(w, c), False),  # the dividend's gradient is g itself
        (lambda L, w, c: L.fmod(w, c), False),
        (lambda L, w, c: L.remainder(c, w), True),
        (lambda L, w, c: w.scatter_add(0, L.tensor([[1, 0, 2]]), c[:1]), False),
        (lambda L, w, c: c.scatter_add(0, L.tensor([[1, 0, 2], [0, 1, 1]]), w[:2]), False),
        (lambda L, w, c: L.zeros(4, 3).index_put((L.tensor(_INDEX),), w[:2]), False),
        (lambda L, w, c: w.index_put((L.tensor(_INDEX),), c[:2]), False),
        (lambda L, w, c: w.index_put((L.tensor(_INDEX),), c[:2], accumulate=True), False),
    ],
)
def test_gradients_that_do_not_read_an_input_let_it_be_written_in_place(make, raises):
    """An op keeps for its backward only what the gradients it will compute read
    (``grad_reads``, also for variadic ops such as advanced indexing and einsum): the
    input may be written in place before the backward, as in PyTorch (irgrad raised
    "modified by an inplace operation" for ``y[[1, 0]]`` then ``y.add_(1)``)."""
    torch = pytest.importorskip("torch")
    results = []
    for lib in (torch, irgrad):
        y = lib.tensor((np.arange(12.0).reshape(4, 3) / 7).astype(np.float32), requires_grad=True)
        c = lib.tensor((np.arange(1.0, 13.0).reshape(4, 3) / 5).astype(np.float32))
        w = y * 1
        z = make(lib, w, c)
        w.add_(1)
        try:
            z.sum().backward()
            results.append(np.round(y.grad.numpy(), 5).tolist())
        except RuntimeError as error:
            assert "modified by an inplace operation" in str(error)
            results.append("raised")
    assert results[0] == results[1]
    assert (results[1] == "raised") == raises
