"""Complex ops against PyTorch 2.13: values and gradients (through a real loss) of
arithmetic, pointwise functions, reductions, products, movement, parts and views, with
real/complex mixing and broadcasting; the errors of ops PyTorch refuses for complex;
the llama rotary embedding end to end."""

from __future__ import annotations

import numpy as np
import pytest

import irgrad

torch = pytest.importorskip("torch")


def _pair(rng, shape, kind):
    if kind == "c":
        return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64)
    return rng.standard_normal(shape).astype(np.float32)


def _loss(lib, out, w):
    if out.is_complex():
        return (out.real**2 + out.imag * lib.tensor(w)).sum()
    return (out * lib.tensor(w)).sum()


def compare(fn, arrays, atol=1e-4, rtol=1e-4, grad=True):
    """``fn(lib, *tensors)`` on irgrad and torch: equal values, dtypes and gradients."""
    results = {}
    for lib in (irgrad, torch):
        ts = [lib.tensor(a, requires_grad=grad and a.dtype.kind in "fc") for a in arrays]
        out = fn(lib, *ts)
        w = np.random.default_rng(1).standard_normal(tuple(out.shape)).astype(np.float32)
        if grad and out.requires_grad:
            _loss(lib, out, w).backward()
        results[lib] = (out.detach().resolve_conj() if lib is torch else out.detach(), [t.grad for t in ts])
    (mine, my_grads), (theirs, their_grads) = results[irgrad], results[torch]
    assert str(mine.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1]
    np.testing.assert_allclose(mine.numpy(), theirs.numpy(), atol=atol, rtol=rtol)
    for g, h in zip(my_grads, their_grads):
        assert (g is None) == (h is None)
        if g is not None:
            np.testing.assert_allclose(g.numpy(), h.resolve_conj().numpy(), atol=atol, rtol=rtol)


UNARY = [
    "neg", "exp", "log", "sqrt", "rsqrt", "reciprocal", "sin", "cos", "tan", "tanh", "sigmoid",
    "sinh", "cosh", "expm1", "log1p", "abs", "angle", "conj", "conj_physical", "sgn", "isnan",
    "isfinite", "isinf", "clone", "detach", "view_as_real",
]  # fmt: skip


@pytest.mark.parametrize("name", UNARY)
@pytest.mark.parametrize("shape", [(), (1,), (3, 1), (2, 5)])
def test_unary(name, shape):
    z = _pair(np.random.default_rng(0), shape, "c")
    compare(lambda lib, t: getattr(lib, name)(t), [z])


METHODS = {
    "real": lambda t: t.real * 1,
    "imag": lambda t: t.imag * 1,
    "pow_int": lambda t: t**2,
    "pow_half": lambda t: t**0.5,
    "pow_complex": lambda t: t ** (1 + 0.5j),
    "sum": lambda t: t.sum(-1),
    "mean": lambda t: t.mean(0, keepdim=True),
    "prod": lambda t: t.prod(),
    "cumsum": lambda t: t.cumsum(0),
    "mT_H": lambda t: t.mH,
    "adjoint": lambda t: t.adjoint(),
    "reshape_view": lambda t: t.reshape(-1).view(2, -1),
    "permute_flatten": lambda t: t.permute(1, 0).flatten(),
    "index": lambda t: t[1:, ::2][:, 0],
    "advanced_index": lambda t: t[[1, 0, 1]],
    "expand_repeat": lambda t: t[:1].expand(3, -1).repeat(1, 2),
    "chunk_split": lambda t: t.chunk(2, 1)[0] * t.split(2, 1)[1],
    "flip_roll": lambda t: t.flip(0).roll(1, 1),
    "masked_fill": lambda t: t.masked_fill(t.real > 0, 2 - 1j),
    "where_real": lambda t: torch_or_irgrad(t).where(t.imag > 0, t, 0.5),
    "to_double": lambda t: t.to(torch_or_irgrad(t).complex128),
    "eq_ne": lambda t: (t == t.conj()) | (t != 1j),
    "isclose": lambda t: torch_or_irgrad(t).isclose(t, t + 1e-9j),
    "tril": lambda t: t.tril(),
    "diag": lambda t: t.diagonal(),
    "unbind": lambda t: t.unbind(1)[2],
    "transpose_contiguous": lambda t: t.t().contiguous().view(-1),
}


def torch_or_irgrad(t):
    return torch if isinstance(t, torch.Tensor) else irgrad


@pytest.mark.parametrize("name", sorted(METHODS))
def test_methods(name):
    z = _pair(np.random.default_rng(1), (3, 4), "c")
    compare(lambda lib, t: METHODS[name](t), [z])


BINARY = ["add", "sub", "mul", "div", "pow"]


@pytest.mark.parametrize("name", BINARY)
@pytest.mark.parametrize("kinds", ["cc", "cf", "fc"])
@pytest.mark.parametrize("shapes", [((3, 4), (3, 4)), ((3, 1), (4,)), ((), (2, 3))])
def test_binary_mixing_and_broadcasting(name, kinds, shapes):
    rng = np.random.default_rng(2)
    a, b = _pair(rng, shapes[0], kinds[0]), _pair(rng, shapes[1], kinds[1])
    if name == "pow" and kinds[0] == "f":
        a = np.abs(a) + 0.5
    compare(lambda lib, x, y: getattr(lib, name)(x, y), [a, b], atol=2e-4, rtol=2e-4)


@pytest.mark.parametrize("scalar", [2, 0.5, 1j, 2 - 3j])
def test_python_scalars(scalar):
    z = _pair(np.random.default_rng(3), (2, 3), "c")
    compare(lambda lib, t: (t + scalar) * scalar - scalar / (t + 3) + scalar**t, [z])
    x = _pair(np.random.default_rng(3), (2, 3), "f")
    compare(lambda lib, t: t * scalar + scalar, [x])


@pytest.mark.parametrize("name", ["matmul", "mm", "bmm", "einsum", "cat", "stack", "complex", "polar"])
def test_products_and_joins(name):
    rng = np.random.default_rng(4)
    shapes = {"bmm": ((2, 3, 4), (2, 4, 5)), "mm": ((3, 4), (4, 5))}.get(name, ((3, 4), (4, 3)))
    kind = "f" if name in ("complex", "polar") else "c"
    a, b = _pair(rng, shapes[0], kind), _pair(rng, shapes[1], kind)
    calls = {
        "einsum": lambda lib, x, y: lib.einsum("ij,jk->ki", x, y),
        "cat": lambda lib, x, y: lib.cat([x, y.T], 0),
        "stack": lambda lib, x, y: lib.stack([x, y.T], 1),
        "complex": lambda lib, x, y: lib.complex(x, y.T),
        "polar": lambda lib, x, y: lib.polar(x.abs(), y.T),
    }
    compare(calls.get(name, lambda lib, x, y: getattr(lib, name)(x, y)), [a, b])


def test_inplace_arithmetic_and_part_assignment():
    for lib in (irgrad, torch):
        z = lib.tensor([1 + 2j, -3 + 0.5j])
        z.mul_(1j).add_(2).div_(1 - 1j)
        z.imag.mul_(2)
        z.real = lib.tensor([5.0, 6.0])
        z.imag += 1
        r = lib.view_as_real(z)
        r[0, 0] = 7
        if lib is irgrad:
            mine = z.numpy().copy()
        else:
            np.testing.assert_allclose(mine, z.numpy(), rtol=1e-6)


def test_views_share_memory():
    z = irgrad.zeros(2, 3, dtype=irgrad.complex64)
    r = irgrad.view_as_real(z)
    r[..., 1] = 1
    assert z[0, 0].item() == 1j
    c = irgrad.view_as_complex(r)
    c.add_(2)
    assert z[1, 2].item() == 2 + 1j and z.real.data_ptr() == z.data_ptr()


@pytest.mark.parametrize(
    "call",
    [
        lambda lib, z: z < z,
        lambda lib, z: z.max(),
        lambda lib, z: lib.maximum(z, z),
        lambda lib, z: z.argmax(),
        lambda lib, z: z.sort(),
        lambda lib, z: lib.relu(z),
        lambda lib, z: z.clamp(0, 1),
        lambda lib, z: z.floor(),
        lambda lib, z: z.sign(),
        lambda lib, z: lib.erf(z),
        lambda lib, z: lib.atan2(z, z),
        lambda lib, z: z % 2,
        lambda lib, z: lib.view_as_real(lib.ones(2)),
        lambda lib, z: lib.view_as_complex(lib.ones(3, 3)),
        lambda lib, z: lib.view_as_complex(lib.ones(3, 4)[:, 1:3]),
        lambda lib, z: lib.complex(lib.ones(2), lib.ones(2, dtype=lib.float64)),
        lambda lib, z: z.imag.real.imag,
    ],
)
def test_refused_as_torch_refuses(call):
    for lib in (torch, irgrad):
        z = lib.tensor([1 + 1j, 2 - 1j])
        with pytest.raises((RuntimeError, TypeError, NotImplementedError)):
            call(lib, z)


def test_complex_errors_name_the_op_and_dtype():
    with pytest.raises(RuntimeError, match="not implemented for 'ComplexFloat'"):
        irgrad.tensor([1j]).max()
    with pytest.raises(RuntimeError, match="lt.*ComplexDouble"):
        irgrad.lt(irgrad.tensor([1j], dtype=irgrad.complex128), 1)


def test_llama_rotary_embedding():
    rng = np.random.default_rng(5)
    xq = rng.standard_normal((2, 6, 4, 8)).astype(np.float32)
    angles = rng.standard_normal((6, 4)).astype(np.float32)

    def rope(lib, xq, angles):
        freqs_cis = lib.polar(lib.ones_like(angles), angles)
        xq_ = lib.view_as_complex(xq.float().reshape(*xq.shape[:-1], -1, 2))
        freqs_cis = freqs_cis.view(1, xq_.shape[1], 1, xq_.shape[-1])
        return lib.view_as_real(xq_ * freqs_cis).flatten(3).type_as(xq)

    compare(rope, [xq, angles], atol=1e-5)


def test_sgd_on_complex_parameters_and_the_optimizers_that_refuse_them():
    start = np.array([1 + 2j, -0.5 + 1j], dtype=np.complex64)
    results = []
    for lib in (irgrad, torch):
        p = lib.tensor(start.copy(), requires_grad=True)
        opt = lib.optim.SGD([p], lr=0.1, momentum=0.9, weight_decay=0.01, nesterov=True)
        for _ in range(3):
            opt.zero_grad()
            (p.abs() ** 3).sum().backward()
            opt.step()
        results.append(p.detach().numpy().copy())
    np.testing.assert_allclose(results[0], results[1], rtol=1e-5)
    with pytest.raises(NotImplementedError, match="Adam of complex parameters"):
        irgrad.optim.Adam([irgrad.zeros(2, dtype=irgrad.complex64, requires_grad=True)])


@pytest.mark.parametrize(
    "call", [lambda z: z.logsumexp(0), lambda z: z.softmax(0), lambda z: z.log_softmax(0)]
)
def test_functions_that_compute_in_a_float_dtype_refuse_complex_values(call):
    with pytest.raises(RuntimeError, match="ComplexFloat"):
        call(irgrad.tensor([1 + 1j, 2j]))
