"""Custom ``irgrad.autograd.Function``s, without PyTorch: known values and finite differences."""

import numpy as np
import pytest

import irgrad
from irgrad.autograd import Function, gradcheck, gradgradcheck, once_differentiable


def randn(*shape, seed=0):
    data = np.random.default_rng(seed).standard_normal(shape)
    return irgrad.tensor(data, dtype=irgrad.float64, requires_grad=True)


class ScaledCube(Function):
    """k * x^3 with a non-tensor argument k; backward written with irgrad ops."""

    @staticmethod
    def forward(ctx, x, k):
        ctx.save_for_backward(x)
        ctx.k = k
        return x**3 * k

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 3 * x**2 * ctx.k, None


class MulAdd(Function):
    """Two inputs, two outputs: (a * b, a + b)."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a * b, a + b

    @staticmethod
    def backward(ctx, g_mul, g_add):
        a, b = ctx.saved_tensors
        return g_mul * b + g_add, g_mul * a + g_add


def test_apply_forward_backward_and_node_name():
    x = randn(4)
    y = ScaledCube.apply(x, 2.0)
    assert type(y.grad_fn).__name__ == "ScaledCubeBackward" == y.grad_fn.name()
    assert not y.is_leaf
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 6 * x.detach().numpy() ** 2)


def test_function_gradcheck_and_gradgradcheck():
    x = randn(3, seed=1)
    assert gradcheck(lambda t: ScaledCube.apply(t, 1.5), (x,))
    assert gradgradcheck(lambda t: ScaledCube.apply(t, 1.5), (x,))


def test_create_graph_through_function():
    x = randn(3, seed=2)
    (g,) = irgrad.autograd.grad(ScaledCube.apply(x, 1.0).sum(), x, create_graph=True)
    (h,) = irgrad.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(h.numpy(), 6 * x.detach().numpy())


def test_multiple_outputs():
    a, b = randn(3, seed=3), randn(3, seed=4)
    p, s = MulAdd.apply(a, b)
    assert p.grad_fn is s.grad_fn
    (2 * p + 3 * s).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), 2 * b.detach().numpy() + 3)
    np.testing.assert_allclose(b.grad.numpy(), 2 * a.detach().numpy() + 3)
    assert gradcheck(MulAdd.apply, (a, b))


def test_unused_output_gets_zero_gradient_by_default():
    a, b = randn(2, seed=5), randn(2, seed=6)
    p, _ = MulAdd.apply(a, b)
    p.sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), b.detach().numpy())


def test_set_materialize_grads_false_passes_none():
    seen = {}

    class Both(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.set_materialize_grads(False)
            return x * 1, x * 2

        @staticmethod
        def backward(ctx, ga, gb):
            seen["none"] = (ga is None, gb is None)
            return ga

    x = randn(2)
    first, _ = Both.apply(x)
    first.sum().backward()
    assert seen["none"] == (False, True)
    np.testing.assert_allclose(x.grad.numpy(), [1.0, 1.0])


def test_needs_input_grad_and_none_gradients():
    seen = {}

    class Scale(Function):
        @staticmethod
        def forward(ctx, x, w, factor):
            seen["needs"] = ctx.needs_input_grad
            ctx.save_for_backward(x, w)
            return x * w * factor

        @staticmethod
        def backward(ctx, g):
            x, w = ctx.saved_tensors
            gx = g * w if ctx.needs_input_grad[0] else None
            gw = g * x if ctx.needs_input_grad[1] else None
            return gx, gw, None

    x = randn(3)
    w = irgrad.ones(3, dtype=irgrad.float64)
    Scale.apply(x, w, 4.0).sum().backward()
    assert seen["needs"] == (True, False, False)
    np.testing.assert_allclose(x.grad.numpy(), [1.0, 1.0, 1.0])
    assert w.grad is None


def test_mark_non_differentiable():
    class SortLike(Function):
        @staticmethod
        def forward(ctx, x):
            idx = x.argmax()
            ctx.mark_non_differentiable(idx)
            return x * 2, idx

        @staticmethod
        def backward(ctx, g, g_idx):
            return g * 2

    x = randn(4)
    y, idx = SortLike.apply(x)
    assert not idx.requires_grad and y.requires_grad
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0] * 4)


def test_once_differentiable():
    class Sin(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x.sin()

        @staticmethod
        @once_differentiable
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * x.cos()

    x = randn(3)
    (g,) = irgrad.autograd.grad(Sin.apply(x).sum(), x, create_graph=True)
    np.testing.assert_allclose(g.detach().numpy(), np.cos(x.detach().numpy()))
    assert not g.requires_grad  # its backward ran without recording


def test_freed_saved_tensors_and_retain_graph():
    x = randn(2)
    y = ScaledCube.apply(x, 1.0).sum()
    y.backward(retain_graph=True)
    y.backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.backward()


def test_inplace_change_of_saved_input_detected():
    a = randn(2)
    b = a * 1
    y = ScaledCube.apply(b, 1.0)
    b.add_(1.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_wrong_number_of_gradients():
    class Bad(Function):
        @staticmethod
        def forward(ctx, a, b):
            return a * b

        @staticmethod
        def backward(ctx, g):
            return g

    a = randn(2)
    with pytest.raises(RuntimeError, match="returned an incorrect number of gradients"):
        Bad.apply(a, a).sum().backward()


def test_gradient_shape_validated_and_broadcast_reduced():
    class Broad(Function):
        @staticmethod
        def forward(ctx, a):
            return a * 2

        @staticmethod
        def backward(ctx, g):
            return g.expand(3, *g.shape) * 2  # a broadcast of the right shape: summed back

    class Wrong(Function):
        @staticmethod
        def forward(ctx, a):
            return a * 2

        @staticmethod
        def backward(ctx, g):
            return g.sum()

    a = randn(2)
    Broad.apply(a).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), [6.0, 6.0])
    with pytest.raises(RuntimeError, match="returned an invalid gradient at index 0"):
        Wrong.apply(a).sum().backward()


def test_no_graph_without_grad():
    x = randn(2)
    with irgrad.no_grad():
        assert not ScaledCube.apply(x, 1.0).requires_grad
    assert not ScaledCube.apply(irgrad.ones(2), 1.0).requires_grad


def test_returning_an_input_makes_a_new_tensor():
    class Identity(Function):
        @staticmethod
        def forward(ctx, x):
            return x

        @staticmethod
        def backward(ctx, g):
            return g * 3

    x = randn(2)
    y = Identity.apply(x)
    assert y is not x and x.is_leaf and y.grad_fn is not None
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 3.0])


def test_setup_context_style():
    class Square(Function):
        @staticmethod
        def forward(x):
            return x * x

        @staticmethod
        def setup_context(ctx, inputs, output):
            (x,) = inputs
            ctx.save_for_backward(x)

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 2 * x * g

    x = randn(3, seed=7)
    assert gradcheck(Square.apply, (x,))


def test_function_inside_a_larger_graph():
    x, w = randn(3, 2, seed=8), randn(2, seed=9)

    def fn(x, w):
        h = (x @ w).tanh()
        p, s = MulAdd.apply(h, h.exp())
        return (ScaledCube.apply(p, 0.5) + s).sum()

    assert gradcheck(fn, (x, w))
