"""Complex dtypes against PyTorch 2.13: their facts, type promotion with every dtype and
with Python scalars, creation from data and factories, conversion, printing and saving."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest

import irgrad

torch = pytest.importorskip("torch")

REAL = ["bool", "uint8", "int8", "int16", "int32", "int64", "float32", "float64"]
COMPLEX = ["complex64", "complex128"]
SCALARS = [True, 3, 2.5, 1j, 1 + 0j]


def same(a, b) -> bool:
    return str(a).split(".")[-1] == str(b).split(".")[-1]


@pytest.mark.parametrize("name", COMPLEX + ["cfloat", "cdouble"])
def test_dtype_facts(name):
    mine, theirs = getattr(irgrad, name), getattr(torch, name)
    assert repr(mine) == repr(theirs).replace("torch", "irgrad")
    assert mine.is_complex and not mine.is_floating_point
    assert mine.is_signed == theirs.is_signed and mine.itemsize == theirs.itemsize
    info, expected = irgrad.finfo(mine), torch.finfo(theirs)
    assert (info.eps, info.max, info.tiny, info.resolution, info.dtype) == (
        expected.eps,
        expected.max,
        expected.tiny,
        expected.resolution,
        expected.dtype,
    )


def test_complex32_names_a_dtype_irgrad_refuses():
    assert irgrad.chalf is irgrad.complex32 and irgrad.complex32.is_complex
    with pytest.raises(TypeError, match="complex32"):
        irgrad.zeros(2, dtype=irgrad.chalf)
    with pytest.raises(TypeError, match="complex32"):
        irgrad.ones(2, dtype=irgrad.float16) * 1j  # torch gives ComplexHalf


@pytest.mark.parametrize("a,b", list(itertools.product(REAL + COMPLEX, COMPLEX)))
def test_promote_types(a, b):
    mine = irgrad.promote_types(getattr(irgrad, a), getattr(irgrad, b))
    assert same(mine, torch.promote_types(getattr(torch, a), getattr(torch, b)))
    assert same(irgrad.promote_types(getattr(irgrad, b), getattr(irgrad, a)), mine)


def _operand(lib, name, ndim):
    return lib.ones((2,) * ndim, dtype=getattr(lib, name))


@pytest.mark.parametrize("name", REAL + COMPLEX)
@pytest.mark.parametrize("scalar", SCALARS)
@pytest.mark.parametrize("ndim", [0, 1])
def test_result_type_with_python_scalars(name, scalar, ndim):
    if name == "bool" and scalar is True:
        pytest.skip("no arithmetic")
    expected = torch.result_type(_operand(torch, name, ndim), scalar)
    assert same(irgrad.result_type(_operand(irgrad, name, ndim), scalar), expected)
    assert same((_operand(irgrad, name, ndim) * scalar).dtype, (_operand(torch, name, ndim) * scalar).dtype)


@pytest.mark.parametrize(("a", "b"), list(itertools.product(REAL + COMPLEX, COMPLEX)))
@pytest.mark.parametrize(("da", "db"), [(1, 0), (0, 1), (0, 0)])
def test_result_type_of_dimensioned_and_0d_tensors(a, b, da, db):
    x, y = _operand(irgrad, a, da), _operand(irgrad, b, db)
    expected = torch.result_type(_operand(torch, a, da), _operand(torch, b, db))
    assert same(irgrad.result_type(x, y), expected)
    if a != "bool":
        assert same((x + y).dtype, expected)


@pytest.mark.parametrize("default", ["float32", "float64"])
def test_default_complex_follows_the_default_float(default):
    before = irgrad.get_default_dtype()
    irgrad.set_default_dtype(getattr(irgrad, default))
    torch_before = torch.get_default_dtype()
    torch.set_default_dtype(getattr(torch, default))
    try:
        for data in ([1 + 2j], 1j, [[1, 2j]]):
            assert same(irgrad.tensor(data).dtype, torch.tensor(data).dtype)
        assert same((irgrad.arange(3) * 1j).dtype, (torch.arange(3) * 1j).dtype)
        assert same(irgrad.full((2,), 1j).dtype, torch.full((2,), 1j).dtype)
    finally:
        irgrad.set_default_dtype(before)
        torch.set_default_dtype(torch_before)


@pytest.mark.parametrize("name", COMPLEX)
def test_creation_and_conversion(name):
    dt, tdt = getattr(irgrad, name), getattr(torch, name)
    array = np.array([[1 + 2j, -0.5j], [3, 2.25 - 1j]], dtype=dt.np)
    for make in (irgrad.tensor, irgrad.as_tensor, irgrad.from_numpy):
        t = make(array)
        assert t.dtype is dt and t.is_complex() and irgrad.is_complex(t) and not t.is_floating_point()
        np.testing.assert_array_equal(t.numpy(), array)
    shared = irgrad.from_numpy(array)
    array[0, 0] = 7j
    assert shared[0, 0].item() == 7j
    for factory in ("zeros", "ones", "empty"):
        assert getattr(irgrad, factory)(2, 3, dtype=dt).dtype is dt
    np.testing.assert_array_equal(irgrad.ones(2, dtype=dt).numpy(), torch.ones(2, dtype=tdt).numpy())
    np.testing.assert_array_equal(
        irgrad.full((2,), 1 - 2j, dtype=dt).numpy(), torch.full((2,), 1 - 2j, dtype=tdt).numpy()
    )
    t = irgrad.tensor([1.5, -2.0])
    for converted in (t.to(dt), t.type(dt), t.type_as(irgrad.zeros(1, dtype=dt))):
        assert converted.dtype is dt
    assert t.cfloat().dtype is irgrad.complex64 and t.cdouble().dtype is irgrad.complex128
    z = irgrad.tensor([1 + 2j, 3 - 4j], dtype=dt)
    assert z[1].item() == 3 - 4j and isinstance(z[0].item(), complex)
    assert z.tolist() == [1 + 2j, 3 - 4j] and complex(z[0]) == 1 + 2j


def test_casting_complex_to_real_warns_and_keeps_the_real_part():
    z = irgrad.tensor([1 + 2j, -3 + 4j])
    with pytest.warns(UserWarning, match="Casting complex values to real discards the imaginary part"):
        real = z.to(irgrad.float32)
    assert real.tolist() == [1.0, -3.0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert z.to(irgrad.complex128).dtype is irgrad.complex128


def test_complex_randn_splits_a_variance_of_one_over_the_parts():
    irgrad.manual_seed(0)
    z = irgrad.randn(200_000, dtype=irgrad.complex64)
    assert z.dtype is irgrad.complex64
    parts = irgrad.view_as_real(z).numpy()
    np.testing.assert_allclose(parts.var(axis=0), [0.5, 0.5], rtol=0.02)
    assert abs(float((z.abs() ** 2).mean())) == pytest.approx(1.0, rel=0.02)
    u = irgrad.rand(1000, dtype=irgrad.complex128)
    assert u.dtype is irgrad.complex128 and 0 <= u.real.min() and u.imag.max() < 1
    assert irgrad.randn_like(z).dtype is irgrad.complex64


@pytest.mark.parametrize(
    "values",
    [
        [1 + 2j, -0.5 - 3j, 1e-5j],
        [[1e10 + 1j]],
        [0j, -0.0 - 0j],
        [1.25 + 1j, 2.5 - 3j, 1000.5 + 0.001j],
        [complex("nan+1j"), complex("inf-infj")],
        (np.arange(2000) * (1 + 1j)).tolist(),
    ],
)
@pytest.mark.parametrize("name", COMPLEX)
def test_printing(values, name):
    assert repr(irgrad.tensor(values, dtype=getattr(irgrad, name))) == repr(
        torch.tensor(values, dtype=getattr(torch, name))
    ).replace("torch.", "irgrad.")


def test_printing_0d_empty_and_with_grad():
    for make in (
        lambda lib: lib.tensor(1 + 2j),
        lambda lib: lib.zeros(0, dtype=lib.complex64),
        lambda lib: lib.zeros(2, 0, dtype=lib.complex128),
        lambda lib: lib.tensor([1 + 1j], requires_grad=True),
        lambda lib: lib.tensor([1 + 1j], requires_grad=True) * 2,
    ):
        assert repr(make(irgrad)) == repr(make(torch)).replace("torch.", "irgrad.")


def test_saving_complex_tensors(tmp_path):
    state = {
        "a": torch.randn(3, 2, dtype=torch.complex64),
        "b": torch.randn(2, dtype=torch.complex128)[::2],
        "c": torch.randn(4, dtype=torch.complex64).reshape(2, 2).t(),
    }
    torch.save(state, tmp_path / "torch.pt")
    loaded = irgrad.load(tmp_path / "torch.pt")
    for key, value in state.items():
        assert same(loaded[key].dtype, value.dtype)
        np.testing.assert_array_equal(loaded[key].numpy(), value.numpy())
    irgrad.save(loaded, tmp_path / "irgrad.pt")
    again = irgrad.load(tmp_path / "irgrad.pt")
    for key, value in state.items():
        assert again[key].dtype is loaded[key].dtype
        np.testing.assert_array_equal(again[key].numpy(), value.numpy())


def test_requires_grad_and_backward_of_a_complex_scalar():
    z = irgrad.tensor([1 + 1j], requires_grad=True)
    assert z.requires_grad
    with pytest.raises(RuntimeError, match="only for real scalar outputs"):
        (z * 2).sum().backward()


def test_fill_checks_a_complex_value_against_a_real_dtype():
    for name in ("float32", "int64"):
        for lib in (irgrad, torch):
            with pytest.raises(RuntimeError, match="without overflow"):
                lib.zeros(2, dtype=getattr(lib, name)).fill_(1j)
    assert irgrad.zeros(2).fill_(2 + 0j).tolist() == [2.0, 2.0]


def test_can_cast_and_isreal():
    for a, b in itertools.product(["int64", "float32", "complex64", "complex128"], repeat=2):
        assert irgrad.can_cast(getattr(irgrad, a), getattr(irgrad, b)) == torch.can_cast(
            getattr(torch, a), getattr(torch, b)
        )
    z = [1 + 0j, 2j, 0j]
    assert irgrad.isreal(irgrad.tensor(z)).tolist() == torch.isreal(torch.tensor(z)).tolist()


def test_copying_complex_values_into_a_real_tensor_keeps_the_real_parts_and_warns():
    """As PyTorch's copy_: a UserWarning, the real parts copied, the real gradient passed on."""
    z = irgrad.tensor([1 + 2j, 3 - 1j], requires_grad=True)
    target = irgrad.zeros(2, requires_grad=True).clone()
    with pytest.warns(UserWarning, match="discards the imaginary part"):
        target.copy_(z)
    assert target.tolist() == [1.0, 3.0]
    (target * irgrad.tensor([2.0, 5.0])).sum().backward()
    assert z.grad.tolist() == [2 + 0j, 5 + 0j]
