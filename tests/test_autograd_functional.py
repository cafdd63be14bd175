"""irgrad.autograd.functional (vjp, jvp, jacobian, hessian, vhp, hvp) against PyTorch's,
and by float64 finite differences where PyTorch is absent."""

import numpy as np
import pytest

import irgrad
from irgrad.autograd import functional as AF


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def _lib_fns(lib):
    """Test functions written once for both libraries: (name, fn, input shapes)."""
    return [
        ("scalar", lambda x: (x.sin() * x).sum(), [(3,)]),
        ("vector", lambda x: x.exp() * x[0], [(4,)]),
        ("matrix", lambda x: x @ x.T, [(2, 3)]),
        ("two_in", lambda x, y: (x * y).tanh(), [(3,), (3,)]),
        ("two_out", lambda x, y: (x + y, (x * y).sum()), [(2,), (2,)]),
        ("unused", lambda x, y: x.pow(3), [(2,), (3,)]),
        ("zero_d", lambda x: x * x, [()]),
        ("quad", lambda x, y: (x.pow(2) * y + x * y.pow(3)).sum(), [(2,), (2,)]),
    ]


def _args(shapes, seed=0):
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(s) for s in shapes]
    return arrays


def _to(lib, arrays, as_tuple):
    ts = tuple(lib.tensor(a) for a in arrays)
    return ts if as_tuple or len(ts) > 1 else ts[0]


def _same(mine, theirs):
    if isinstance(theirs, tuple):
        assert isinstance(mine, tuple) and len(mine) == len(theirs)
        for m, t in zip(mine, theirs):
            _same(m, t)
        return
    assert isinstance(mine, irgrad.Tensor), type(mine)
    assert tuple(mine.shape) == tuple(theirs.shape)
    np.testing.assert_allclose(mine.detach().numpy(), theirs.detach().numpy(), rtol=1e-10, atol=1e-12)


CASES = list(range(len(_lib_fns(irgrad))))


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("as_tuple", [False, True])
@pytest.mark.parametrize("vectorize", [False, True])
def test_jacobian_as_torch(torch, case, as_tuple, vectorize):
    name, f_m, shapes = _lib_fns(irgrad)[case]
    _, f_t, _ = _lib_fns(torch)[case]
    arrays = _args(shapes)
    mine = AF.jacobian(f_m, _to(irgrad, arrays, as_tuple), vectorize=vectorize)
    theirs = torch.autograd.functional.jacobian(f_t, _to(torch, arrays, as_tuple), vectorize=vectorize)
    _same(mine, theirs)


@pytest.mark.parametrize("case", CASES)
def test_jacobian_forward_mode_as_reverse(case):
    _, f, shapes = _lib_fns(irgrad)[case]
    x = _to(irgrad, _args(shapes), False)
    _same_as_mine(AF.jacobian(f, x, vectorize=True, strategy="forward-mode"), AF.jacobian(f, x))


def _same_as_mine(a, b):
    if isinstance(b, tuple):
        assert isinstance(a, tuple) and len(a) == len(b)
        for x, y in zip(a, b):
            _same_as_mine(x, y)
        return
    assert tuple(a.shape) == tuple(b.shape)
    np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", ["vjp", "jvp"])
@pytest.mark.parametrize("case", CASES)
def test_vector_products_as_torch(torch, name, case):
    _, f_m, shapes = _lib_fns(irgrad)[case]
    _, f_t, _ = _lib_fns(torch)[case]
    arrays = _args(shapes)
    x_t = _to(torch, arrays, False)
    out = f_t(*x_t) if isinstance(x_t, tuple) else f_t(x_t)
    like = (
        (out if isinstance(out, tuple) else (out,))
        if name == "vjp"
        else (x_t if isinstance(x_t, tuple) else (x_t,))
    )
    rng = np.random.default_rng(5)
    v_arrays = [rng.standard_normal(tuple(t.shape)) for t in like]
    v_m, v_t = _to(irgrad, v_arrays, False), _to(torch, v_arrays, False)
    mine = getattr(AF, name)(f_m, _to(irgrad, arrays, False), v_m)
    theirs = getattr(torch.autograd.functional, name)(f_t, x_t, v_t)
    _same(mine, theirs)


@pytest.mark.parametrize("name", ["hessian", "vhp", "hvp"])
@pytest.mark.parametrize("as_tuple", [False, True])
def test_second_order_as_torch(torch, name, as_tuple):
    TAF = torch.autograd.functional
    for case in (0, 7):
        _, f_m, shapes = _lib_fns(irgrad)[case]
        _, f_t, _ = _lib_fns(torch)[case]
        arrays = _args(shapes, seed=case)
        x_m, x_t = _to(irgrad, arrays, as_tuple), _to(torch, arrays, as_tuple)
        if name == "hessian":
            _same(AF.hessian(f_m, x_m), TAF.hessian(f_t, x_t))
            continue
        rng = np.random.default_rng(9)
        v_arrays = [rng.standard_normal(s) for s in shapes]
        v_m, v_t = _to(irgrad, v_arrays, as_tuple), _to(torch, v_arrays, as_tuple)
        _same(getattr(AF, name)(f_m, x_m, v_m), getattr(TAF, name)(f_t, x_t, v_t))


def test_hessian_by_finite_differences():
    """Independent of PyTorch: the Hessian of a smooth function, float64 central differences
    of its gradient."""

    def f(x):
        return (x[0] ** 2 * x[1] + x[1].sin() * x[2] + (x * x).sum().exp() * 0.01).sum()

    x = np.array([0.3, -0.7, 1.1])
    h = AF.hessian(f, irgrad.tensor(x)).numpy()
    eps = 1e-6
    numeric = np.zeros((3, 3))
    for j in range(3):
        d = np.zeros(3)
        d[j] = eps
        gp = AF.vjp(f, irgrad.tensor(x + d))[1].numpy()
        gm = AF.vjp(f, irgrad.tensor(x - d))[1].numpy()
        numeric[:, j] = (gp - gm) / (2 * eps)
    np.testing.assert_allclose(h, numeric, rtol=1e-6, atol=1e-8)


def test_create_graph_keeps_results_differentiable(torch):
    TAF = torch.autograd.functional
    for lib, F in ((irgrad, AF), (torch, TAF)):
        x = lib.tensor([0.5, -1.0, 2.0], dtype=lib.float64, requires_grad=True)
        _, g = F.vjp(lambda t: (t**3).sum(), x, create_graph=True)
        assert g.requires_grad
        (gx,) = lib.autograd.grad(g.sum(), x)
        np.testing.assert_allclose(gx.detach().numpy(), 6 * x.detach().numpy())
        _, g = F.vjp(lambda t: (t**3).sum(), x)
        assert not g.requires_grad


def test_strict_and_bad_arguments_as_torch(torch):
    TAF = torch.autograd.functional

    def both(call, same_words=True):
        errors = []
        for lib, F in ((irgrad, AF), (torch, TAF)):
            with pytest.raises((RuntimeError, TypeError, AssertionError, NotImplementedError)) as err:
                call(lib, F)
            errors.append((type(err.value), str(err.value).replace("irgrad.Size", "torch.Size")))
        assert errors[0][0] is errors[1][0], errors
        if same_words:
            assert errors[0][1] == errors[1][1], errors
        else:  # (PyTorch's reads "isonly")
            assert errors[0][1].split()[:5] == errors[1][1].split()[:5], errors

    x = lambda lib: lib.tensor([1.0, 2.0], dtype=lib.float64)  # noqa: E731
    both(lambda lib, F: F.jacobian(lambda a, b: a * 2, (x(lib), x(lib)), strict=True))
    both(lambda lib, F: F.vjp(lambda a: a.detach(), x(lib), x(lib), strict=True))
    both(lambda lib, F: F.vjp(lambda a: a * 2, x(lib)))  # v needed for a 2-element output
    both(lambda lib, F: F.vjp(lambda a: a * 2, x(lib), lib.tensor([1.0], dtype=lib.float64)))
    both(lambda lib, F: F.jvp(lambda a: a * 2, (x(lib), x(lib)), (x(lib),)))
    both(lambda lib, F: F.hessian(lambda a: a * 2, x(lib)))  # not a single element
    both(lambda lib, F: F.vhp(lambda a: (a, a), x(lib), x(lib)))
    both(lambda lib, F: F.jacobian(lambda a: a, [1.0]))
    both(lambda lib, F: F.jacobian(lambda a: a, x(lib), strategy="sideways"))
    both(lambda lib, F: F.jacobian(lambda a: a, x(lib), strategy="forward-mode"), same_words=False)
    both(lambda lib, F: F.hvp(lambda a: (a * 2).sum(), x(lib), x(lib), strict=True))


def test_results_do_not_touch_grad_or_inputs():
    x = irgrad.tensor([1.0, 2.0], requires_grad=True)
    AF.jacobian(lambda t: t * t, x)
    AF.hessian(lambda t: (t**3).sum(), x)
    assert x.grad is None and x.requires_grad
