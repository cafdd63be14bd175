"""irgrad.fft against torch.fft 2.13: values, dtypes and gradients of every transform over
random shapes, n/s, dims and norms; the frequency helpers; PyTorch's errors; an FNO
spectral convolution with complex weights."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import irgrad
from tests.test_complex_ops_torch import compare

torch = pytest.importorskip("torch")

NORMS = [None, "backward", "ortho", "forward"]
ONE_D = ["fft", "ifft", "rfft", "irfft", "hfft", "ihfft"]
MULTI = ["fft2", "ifft2", "rfft2", "irfft2", "fftn", "ifftn", "rfftn", "irfftn"]
REAL_INPUT = {"rfft", "ihfft", "rfft2", "rfftn"}


def _input(rng, shape, complex_input, dtype):
    x = rng.standard_normal(shape)
    if complex_input:
        x = x + 1j * rng.standard_normal(shape)
    return x.astype({"32": np.complex64 if complex_input else np.float32}.get(dtype, x.dtype))


@pytest.mark.parametrize("name", ONE_D)
@settings(max_examples=12, deadline=None)
@given(
    shape=st.lists(st.integers(1, 6), min_size=1, max_size=3).map(tuple),
    n=st.sampled_from([None, 1, 2, 5, 8]),
    norm=st.sampled_from(NORMS),
    complex_input=st.booleans(),
    dtype=st.sampled_from(["32", "64"]),
    data=st.data(),
)
def test_one_dimensional(name, shape, n, norm, complex_input, dtype, data):
    complex_input = complex_input and name not in REAL_INPUT
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    if name in ("irfft", "hfft") and n is None and shape[dim] == 1:
        n = 2  # (the default 2 * (1 - 1) points is refused)
    x = _input(np.random.default_rng(0), shape, complex_input, dtype)
    tol = 1e-4 if dtype == "32" else 1e-9
    compare(lambda lib, t: getattr(lib.fft, name)(t, n=n, dim=dim, norm=norm), [x], atol=tol, rtol=tol)


@pytest.mark.parametrize("name", MULTI)
@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize(
    "shape,s,dim",
    [
        ((3, 4), None, None),
        ((2, 3, 5), (4, 3), None),
        ((2, 3, 5), (2, -1), (0, 2)),
        ((4, 1, 6), None, (2, 0)),
        ((3, 5), (6, 7), (-1, -2)),
    ],
)
def test_multi_dimensional(name, norm, shape, s, dim):
    if name.endswith("2") and dim is None and s is None:
        dim = (-2, -1)
    kwargs = {"s": s, "norm": norm} | ({} if dim is None else {"dim": dim})
    if name.endswith("2") and "dim" not in kwargs:
        kwargs["dim"] = (-2, -1)
    x = _input(np.random.default_rng(1), shape, name not in REAL_INPUT, "64")
    compare(lambda lib, t: getattr(lib.fft, name)(t, **kwargs), [x], atol=1e-9, rtol=1e-9)


@pytest.mark.parametrize("name", ["fft", "rfft", "fftn", "ifft2"])
@pytest.mark.parametrize("dtype", ["int64", "bool", "int32"])
def test_integer_inputs_are_promoted(name, dtype):
    x = (np.arange(12).reshape(3, 4) % 3).astype(dtype)
    compare(lambda lib, t: getattr(lib.fft, name)(t), [x], grad=False)


def test_frequencies_and_shifts():
    for n, d in ((5, 1.0), (4, 0.5), (1, 2.0), (8, 0.1)):
        for fn in ("fftfreq", "rfftfreq"):
            np.testing.assert_allclose(
                getattr(irgrad.fft, fn)(n, d).numpy(), getattr(torch.fft, fn)(n, d).numpy()
            )
            got = getattr(irgrad.fft, fn)(n, d, dtype=irgrad.float64)
            assert got.dtype is irgrad.float64
    x = np.arange(30).reshape(2, 3, 5)
    for dim in (None, 0, (1, 2), -1):
        for fn in ("fftshift", "ifftshift"):
            assert np.array_equal(
                getattr(irgrad.fft, fn)(irgrad.tensor(x), dim=dim).numpy(),
                getattr(torch.fft, fn)(torch.tensor(x), dim=dim).numpy(),
            )
    compare(
        lambda lib, t: lib.fft.fftshift(lib.fft.fft2(t)),
        [_input(np.random.default_rng(2), (3, 4), True, "32")],
    )


@pytest.mark.parametrize(
    "call",
    [
        lambda lib: lib.fft.fft(lib.ones(4), norm="bad"),
        lambda lib: lib.fft.fft(lib.ones(4), n=0),
        lambda lib: lib.fft.fft(lib.ones(4), dim=1),
        lambda lib: lib.fft.rfft(lib.ones(4, dtype=lib.complex64)),
        lambda lib: lib.fft.rfftn(lib.ones(4, dtype=lib.complex64)),
        lambda lib: lib.fft.ihfft(lib.ones(4, dtype=lib.complex64)),
        lambda lib: lib.fft.irfft(lib.ones(1, dtype=lib.complex64)),
        lambda lib: lib.fft.fftn(lib.ones(4), s=(2, 3), dim=(0,)),
        lambda lib: lib.fft.fftn(lib.ones(2, 2), dim=(0, 0)),
        lambda lib: lib.fft.fft(lib.ones(4, dtype=lib.float16)),
        lambda lib: lib.fft.fft2(lib.ones(4)),
        lambda lib: lib.fft.fft(lib.tensor(1.0)),
        lambda lib: lib.fft.fftn(lib.ones(4), s=(2, 3)),
        lambda lib: lib.fft.fft(lib.ones(0)),
        lambda lib: lib.fft.rfftn(lib.ones(3, 4), dim=()),
    ],
)
def test_errors(call):
    with pytest.raises(Exception) as theirs:
        call(torch)
    with pytest.raises(type(theirs.value)) as mine:
        call(irgrad)
    assert str(mine.value).split(": ")[-1] == str(theirs.value).split(": ")[-1]


def test_fno_spectral_convolution():
    """neuraloperator's SpectralConv2d: rfft2, the low modes mixed by complex weights, irfft2."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 8, 8)).astype(np.float32)
    w1 = (rng.standard_normal((3, 4, 3, 3)) + 1j * rng.standard_normal((3, 4, 3, 3))).astype(np.complex64)
    w2 = (rng.standard_normal((3, 4, 3, 3)) + 1j * rng.standard_normal((3, 4, 3, 3))).astype(np.complex64)

    def layer(lib, x, w1, w2):
        x_ft = lib.fft.rfft2(x)
        out_ft = lib.zeros(2, 4, 8, 5, dtype=lib.cfloat)
        out_ft[:, :, :3, :3] = lib.einsum("bixy,ioxy->boxy", x_ft[:, :, :3, :3], w1)
        out_ft[:, :, -3:, :3] = lib.einsum("bixy,ioxy->boxy", x_ft[:, :, -3:, :3], w2)
        return lib.fft.irfft2(out_ft, s=(x.size(-2), x.size(-1)))

    compare(layer, [x, w1, w2], atol=2e-4, rtol=2e-4)
