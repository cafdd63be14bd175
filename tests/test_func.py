"""irgrad.func (functional_call, grad, grad_and_value, vjp, jvp, jacrev, jacfwd, hessian,
vmap) against torch.func, and known values where torch is absent."""

import numpy as np
import pytest

import irgrad
import irgrad.nn as nn
from irgrad import func as IF


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def _close(a, b, tol=1e-10):
    if isinstance(b, dict):
        assert isinstance(a, dict) and a.keys() == b.keys()
        for k in b:
            _close(a[k], b[k], tol)
        return
    if isinstance(b, (tuple, list)):
        assert isinstance(a, type(b)) and len(a) == len(b), (type(a), type(b))
        for x, y in zip(a, b):
            _close(x, y, tol)
        return
    assert tuple(a.shape) == tuple(b.shape)
    assert str(a.dtype).split(".")[-1] == str(b.dtype).split(".")[-1]
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=tol, atol=tol)


def _data(*shapes, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s) for s in shapes]


FUNCTIONS = {
    "sum_sin": (lambda L: lambda x: (x.sin() * x).sum(), [(4,)]),
    "two_args": (lambda L: lambda x, y: (x * y.exp()).sum(), [(3,), (3,)]),
    "matrix": (lambda L: lambda w, x: (x @ w).tanh().pow(2).mean(), [(3, 2), (5, 3)]),
}


@pytest.mark.parametrize("name", list(FUNCTIONS))
@pytest.mark.parametrize("argnums", [0, (0,), -1])
def test_grad_as_torch(torch, name, argnums):
    make, shapes = FUNCTIONS[name]
    data = _data(*shapes)
    mine = IF.grad(make(irgrad), argnums)(*map(irgrad.tensor, data))
    theirs = torch.func.grad(make(torch), argnums)(*map(torch.tensor, data))
    _close(mine, theirs)
    value_m = IF.grad_and_value(make(irgrad), argnums)(*map(irgrad.tensor, data))
    value_t = torch.func.grad_and_value(make(torch), argnums)(*map(torch.tensor, data))
    _close(value_m, value_t)
    assert not value_m[1].requires_grad


def _second_derivatives(F, x):
    def cube(t):
        return (t**3).sum()

    def slope(t):
        return F.grad(cube)(t).sum()

    return F.vmap(F.grad(slope))(x.reshape(3, 1))


def test_nested_transforms_as_torch(torch):
    for lib, F in ((irgrad, IF), (torch, torch.func)):
        x = lib.tensor([0.5, -1.5, 2.0], dtype=lib.float64)
        second = _second_derivatives(F, x)
        if lib is irgrad:
            mine = second
        else:
            _close(mine, second)
    hessian_m = IF.hessian(lambda t: (t.sin() * t.pow(2)).sum())(irgrad.tensor(_data((3,))[0]))
    hessian_t = torch.func.hessian(lambda t: (t.sin() * t.pow(2)).sum())(torch.tensor(_data((3,))[0]))
    _close(hessian_m, hessian_t)


def test_results_detached_unless_something_outside_requires_grad(torch):
    for lib, F in ((irgrad, IF), (torch, torch.func)):
        x = lib.ones(3)
        assert not F.grad(lambda t: (t**2).sum())(x).requires_grad
        y = lib.ones(3, requires_grad=True)
        g = F.grad(lambda t, y=y: (t * y).pow(2).sum())(x)  # closed over: stays differentiable w.r.t. y
        assert g.requires_grad
        g.sum().backward()
        np.testing.assert_allclose(y.grad.numpy(), 4 * np.ones(3))
        x = lib.ones(3, requires_grad=True)
        g = F.grad(lambda t: (t**3).sum())(x)
        assert g.requires_grad and x.grad is None


@pytest.mark.parametrize("argnums", [0, 1, (0, 1)])
def test_jacrev_jacfwd_as_torch(torch, argnums):
    data = _data((3,), (2, 3))

    def f(lib):
        return lambda a, b: ((b @ a).exp(), a.sum() * b)

    for transform in ("jacrev", "jacfwd"):
        mine = getattr(IF, transform)(f(irgrad), argnums)(*map(irgrad.tensor, data))
        theirs = getattr(torch.func, transform)(f(torch), argnums)(*map(torch.tensor, data))
        _close(mine, theirs)


def test_vjp_and_jvp_as_torch(torch):
    data = _data((3,), (3,))
    for lib, F in ((irgrad, IF), (torch, torch.func)):
        a, b = map(lib.tensor, data)
        out, fn = F.vjp(lambda x, y: (x * y, x.sin()), a, b)
        cot = (lib.ones(3, dtype=lib.float64), lib.full((3,), 2.0, dtype=lib.float64))
        result = (out, fn(cot), F.jvp(lambda x: x.exp() * x, (a,), (b,)))
        if lib is irgrad:
            mine = result
        else:
            _close(mine, result)


def test_functional_call_as_torch(torch):
    irgrad.manual_seed(0)
    m = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    mt = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    mt.load_state_dict({k: torch.tensor(v.numpy()) for k, v in m.state_dict().items()})
    x = _data((5, 3))[0].astype(np.float32)
    new = {k: v * 0.5 for k, v in _named(m).items()}
    new_t = {k: torch.tensor(v.numpy()) for k, v in new.items()}
    _close(
        IF.functional_call(m, new, (irgrad.tensor(x),)),
        torch.func.functional_call(mt, new_t, (torch.tensor(x),)),
        1e-6,
    )
    grads = IF.grad(lambda p: IF.functional_call(m, p, irgrad.tensor(x)).pow(2).sum())(new)
    grads_t = torch.func.grad(lambda p: torch.func.functional_call(mt, p, torch.tensor(x)).pow(2).sum())(
        new_t
    )
    _close(grads, grads_t, 1e-5)
    for p, original in zip(m.parameters(), _named(m).values()):  # the module's own are back
        np.testing.assert_array_equal(p.detach().numpy(), original.numpy())


def _named(m):
    return {k: v.detach().clone() for k, v in m.named_parameters()}


def test_functional_call_rules():
    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(2, 2, bias=False)
            self.b = nn.Linear(2, 2, bias=False)
            self.b.weight = self.a.weight
            self.register_buffer("scale", irgrad.ones(1))

        def forward(self, x):
            return self.b(self.a(x)) * self.scale

    t, x = Tied(), irgrad.ones(1, 2)
    eye = irgrad.eye(2)
    np.testing.assert_array_equal(
        IF.functional_call(t, {"a.weight": eye}, (x,)).detach().numpy(), [[1.0, 1.0]]
    )
    untied = IF.functional_call(t, {"a.weight": eye}, (x,), tie_weights=False).detach().numpy()
    np.testing.assert_allclose(untied, (x @ t.a.weight.T).detach().numpy(), rtol=1e-6)
    with pytest.raises(ValueError, match="which are tied"):
        IF.functional_call(t, {"a.weight": eye, "b.weight": irgrad.zeros(2, 2)}, (x,))
    with pytest.raises(ValueError, match="appeared in multiple dictionaries"):
        IF.functional_call(t, ({"a.weight": eye}, {"a.weight": eye}), (x,))
    with pytest.raises(RuntimeError, match=r"Missing key\(s\): 'scale'"):
        IF.functional_call(t, {"a.weight": eye}, (x,), strict=True)
    with pytest.raises(RuntimeError, match=r"Unexpected key\(s\): 'nope'"):
        IF.functional_call(t, {"a.weight": eye, "scale": irgrad.ones(1), "nope": x}, (x,), strict=True)
    out = IF.functional_call(t, {"scale": irgrad.full((1,), 2.0), "extra": x}, (x,))
    assert not hasattr(t, "extra") and t.scale.item() == 1.0
    np.testing.assert_allclose(out.detach().numpy(), 2 * t(x).detach().numpy())

    def failing(module, *args):
        raise KeyError("inside")

    t.forward = failing
    with pytest.raises(KeyError):
        IF.functional_call(t, {"a.weight": eye}, (x,))
    assert (
        t.a.weight is t.b.weight
        and t.a.weight.shape == (2, 2)
        and not np.array_equal(t.a.weight.detach().numpy(), np.eye(2))
    )


@pytest.mark.parametrize("in_dims,out_dims", [(0, 0), (1, 0), ((0, None), 1), ((1, 1), (1, 0))])
def test_vmap_as_torch(torch, in_dims, out_dims):
    data = _data((3, 4), (3, 4))

    def f(lib):
        def g(a, b):
            return (a * b.sum(), a.exp().sum()) if isinstance(out_dims, tuple) else a * b.sum() + 1

        return g

    def args(lib):
        a, b = map(lib.tensor, data)
        if in_dims == (0, None):
            b = b[0]
        return a, b

    mine = IF.vmap(f(irgrad), in_dims, out_dims)(*args(irgrad))
    theirs = torch.func.vmap(f(torch), in_dims, out_dims)(*args(torch))
    _close(mine, theirs)


def test_vmap_errors_as_torch(torch):
    cases = [
        lambda L, F: F.vmap(lambda a, b: a + b)(L.ones(3, 2), L.ones(4, 2)),
        lambda L, F: F.vmap(lambda a: a)(1.0),
        lambda L, F: F.vmap(lambda a: 1.0)(L.ones(3)),
        lambda L, F: F.vmap(lambda a: a + L.rand(1))(L.ones(3, 2)),
        lambda L, F: F.vmap(lambda a: a, in_dims=2)(L.ones(3, 2)),
    ]
    for case in cases:
        messages = []
        for lib, F in ((irgrad, IF), (torch, torch.func)):
            with pytest.raises((ValueError, RuntimeError)) as err:
                case(lib, F)
            messages.append((type(err.value), str(err.value).split(":")[0]))
        assert messages[0] == messages[1], messages


def test_vmap_randomness():
    x = irgrad.zeros(4, 3)
    same = IF.vmap(lambda a: a + irgrad.rand(3), randomness="same")(x).numpy()
    assert (same == same[0]).all()
    different = IF.vmap(lambda a: a + irgrad.rand(3), randomness="different")(x).numpy()
    assert len({tuple(row) for row in different}) == 4
    irgrad.rand(1)  # the generator works again after an "error" vmap refused a draw
    with pytest.raises(RuntimeError, match="randomness error mode"):
        IF.vmap(lambda a: a + irgrad.rand(3))(x)
    irgrad.rand(1)


def test_vmap_nested_structures_and_unmapped_args():
    out = IF.vmap(
        lambda d, s, k=2.0: {"y": d["a"] * s * k, "n": d["b"].sum()}, in_dims=({"a": 0, "b": 1}, None)
    )({"a": irgrad.ones(3, 2), "b": irgrad.ones(4, 3)}, 5.0, k=3.0)
    assert out["y"].shape == (3, 2) and (out["y"].numpy() == 15.0).all()
    np.testing.assert_array_equal(out["n"].numpy(), [4.0, 4.0, 4.0])
