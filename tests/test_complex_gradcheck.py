"""Gradients of complex ops and of irgrad.fft against float64 finite differences on the
real and imaginary parts (PyTorch's convention), without PyTorch: random shapes (0-d,
size-1 dims, odd sizes), broadcasting, non-contiguous inputs."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import irgrad
from tests.complex_fd import check_gradient, random_complex, real_loss

UNARY = {
    "neg": lambda z: -z,
    "exp": irgrad.exp,
    "log": irgrad.log,
    "sqrt": irgrad.sqrt,
    "rsqrt": irgrad.rsqrt,
    "reciprocal": irgrad.reciprocal,
    "sin": irgrad.sin,
    "cos": irgrad.cos,
    "tan": irgrad.tan,
    "tanh": irgrad.tanh,
    "sigmoid": irgrad.sigmoid,
    "sinh": irgrad.sinh,
    "cosh": irgrad.cosh,
    "expm1": irgrad.expm1,
    "log1p": irgrad.log1p,
    "abs": irgrad.abs,
    "angle": irgrad.angle,
    "conj": irgrad.conj,
    "real": irgrad.real,
    "imag": irgrad.imag,
    "sgn": irgrad.sgn,
    "square": lambda z: z * z,
    "pow_scalar": lambda z: z**3,
    "pow_complex": lambda z: z ** (0.5 + 0.25j),
    "sum": lambda z: z.sum(0),
    "mean": lambda z: z.mean(),
    "prod": lambda z: z.prod(-1),
    "cumsum": lambda z: z.cumsum(0),
    "view_as_real": irgrad.view_as_real,
    "to_real": lambda z: z.to(irgrad.float64),
    "transpose_conj": lambda z: z.mT.conj() if z.dim() >= 2 else z,
    "index": lambda z: z[..., ::2].flip(-1),
    "where": lambda z: irgrad.where(z.real > 0, z * 2j, z),
    "masked_fill": lambda z: z.masked_fill(z.imag > 0, 1 + 1j),
}

SHAPES = st.lists(st.integers(1, 3), min_size=0, max_size=3).map(tuple)


@pytest.mark.filterwarnings("ignore:Casting complex")
@pytest.mark.parametrize("name", sorted(UNARY))
@settings(max_examples=8, deadline=None)
@given(shape=SHAPES, seed=st.integers(0, 2**16), transposed=st.booleans())
def test_unary(name, shape, seed, transposed):
    if name in ("sum", "cumsum", "index") and not shape:
        shape = (2,)
    z = random_complex(np.random.default_rng(seed), shape, away_from_zero=True)
    if transposed:
        z = z.T  # non-contiguous
    check_gradient(lambda t: real_loss(UNARY[name](t)), [z])


BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "pow": lambda a, b: a**b,
    "matmul": lambda a, b: a @ b,
    "einsum": lambda a, b: irgrad.einsum("ij,jk->ik", a, b),
    "complex": lambda a, b: irgrad.complex(a.real, b.imag),
    "polar": lambda a, b: irgrad.polar(a.abs(), b.real),
    "cat": lambda a, b: irgrad.cat([a, b], 0),
    "stack": lambda a, b: irgrad.stack([a, b], -1),
}


@pytest.mark.parametrize("name", sorted(BINARY))
@pytest.mark.parametrize("real_second", [False, True])
def test_binary(name, real_second):
    rng = np.random.default_rng(len(name))
    a = random_complex(rng, (2, 3), away_from_zero=True)
    b = random_complex(rng, (3, 3) if name in ("matmul", "einsum") else (2, 3), away_from_zero=True)
    if real_second and name not in ("complex", "polar", "matmul", "einsum"):  # (torch refuses mixed products)
        b = np.abs(b.real) + 0.5  # a real operand, promoted
    check_gradient(lambda x, y: real_loss(BINARY[name](x, y)), [a, b])


def test_broadcasting_and_python_scalars():
    rng = np.random.default_rng(3)
    a, b = random_complex(rng, (3, 1)), rng.standard_normal((4,))
    check_gradient(lambda x, y: real_loss(x * y + (2 - 1j) * x / (y + 3j)), [a, b])


def test_view_as_complex_and_the_rope_rotation():
    rng = np.random.default_rng(4)
    x, angles = rng.standard_normal((2, 3, 4)), rng.standard_normal((3, 2))

    def loss(x, angles):
        freqs = irgrad.polar(irgrad.ones_like(angles), angles)
        xc = irgrad.view_as_complex(x.reshape(2, 3, -1, 2))
        return real_loss(irgrad.view_as_real(xc * freqs).flatten(2))

    check_gradient(loss, [x, angles])


FFTS = {
    "fft": lambda z: irgrad.fft.fft(z, dim=0),
    "ifft": lambda z: irgrad.fft.ifft(z, n=5, norm="ortho"),
    "fft_cut": lambda z: irgrad.fft.fft(z, n=2, norm="forward"),
    "fft2": lambda z: irgrad.fft.fft2(z),
    "ifftn": lambda z: irgrad.fft.ifftn(z, s=(3, 4)),
    "irfft": lambda z: irgrad.fft.irfft(z),
    "irfft_odd": lambda z: irgrad.fft.irfft(z, n=5, norm="ortho"),
    "irfft_even": lambda z: irgrad.fft.irfft(z, n=6, norm="forward"),
    "irfft2": lambda z: irgrad.fft.irfft2(z, s=(3, 5)),
    "irfftn": lambda z: irgrad.fft.irfftn(z, s=(2, 4)),
    "hfft": lambda z: irgrad.fft.hfft(z, n=4),
    "hfft_odd": lambda z: irgrad.fft.hfft(z, n=5, norm="ortho"),
}
REAL_FFTS = {
    "rfft": lambda x: irgrad.fft.rfft(x),
    "rfft_n": lambda x: irgrad.fft.rfft(x, n=7, dim=0, norm="ortho"),
    "rfft2": lambda x: irgrad.fft.rfft2(x, norm="forward"),
    "rfftn": lambda x: irgrad.fft.rfftn(x, s=(4, 6)),
    "ihfft": lambda x: irgrad.fft.ihfft(x),
    "fft_of_real": lambda x: irgrad.fft.fft(x),
    "fftshift": lambda x: irgrad.fft.ifftshift(irgrad.fft.fftshift(x * 2, dim=0)),
}


@pytest.mark.parametrize("name", sorted(FFTS))
@pytest.mark.parametrize("shape", [(3, 4), (2, 3)])
def test_fft_of_complex(name, shape):
    z = random_complex(np.random.default_rng(len(name)), shape)
    check_gradient(lambda t: real_loss(FFTS[name](t)), [z])


@pytest.mark.parametrize("name", sorted(REAL_FFTS))
@pytest.mark.parametrize("shape", [(3, 4), (2, 5)])
def test_fft_of_real(name, shape):
    x = np.random.default_rng(len(name)).standard_normal(shape)
    check_gradient(lambda t: real_loss(REAL_FFTS[name](t)), [x])


def test_spectral_convolution_weights():
    rng = np.random.default_rng(5)
    x, w = rng.standard_normal((2, 3, 6, 6)), random_complex(rng, (3, 2, 3, 2))

    def loss(x, w):
        spectrum = irgrad.fft.rfft2(x)[:, :, :3, :2]
        mixed = irgrad.einsum("bixy,ioxy->boxy", spectrum, w)
        out = irgrad.zeros(2, 2, 6, 4, dtype=irgrad.complex128)
        out[:, :, :3, :2] = mixed
        return real_loss(irgrad.fft.irfft2(out, s=(6, 6)))

    check_gradient(loss, [x, w])
