"""irgrad.compile on code that makes or takes complex tensors: the tracer breaks the graph
on complex values, so such calls run eagerly (named in explain()) and give eager's
values and gradients; real code around them still compiles."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import irgrad
from irgrad import nn


class Rotary(nn.Module):
    """llama's rotary embedding of the queries, then a projection."""

    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Linear(8, 8)
        angles = irgrad.outer(irgrad.arange(6.0), irgrad.tensor([1.0, 0.1, 0.01, 0.001]))
        self.freqs_cis = irgrad.polar(irgrad.ones_like(angles), angles)

    def forward(self, xq):
        xq_ = irgrad.view_as_complex(xq.float().reshape(*xq.shape[:-1], -1, 2))
        freqs = self.freqs_cis.view(1, xq_.shape[1], 1, xq_.shape[-1])
        return self.proj(irgrad.view_as_real(xq_ * freqs).flatten(3).type_as(xq))


class SpectralMix(nn.Module):
    """An FNO-style layer: rfft, complex weights on the low modes, irfft."""

    def __init__(self) -> None:
        super().__init__()
        self.weights = nn.Parameter(irgrad.randn(3, 3, 4, dtype=irgrad.cfloat))

    def forward(self, x):
        spectrum = irgrad.fft.rfft(x)
        mixed = irgrad.einsum("bix,iox->box", spectrum[..., :4], self.weights)
        out = irgrad.cat([mixed, irgrad.zeros_like(spectrum[..., 4:])], -1)
        return irgrad.fft.irfft(out, n=x.shape[-1]).relu()


@pytest.mark.parametrize(("make", "shape"), [(Rotary, (2, 6, 4, 8)), (SpectralMix, (2, 3, 10))])
def test_compiled_equals_eager_with_gradients(make, shape):
    irgrad.manual_seed(0)
    model = make()
    compiled = irgrad.compile(model)
    x = irgrad.randn(*shape)
    for _ in range(2):
        expected = model(x)
        (expected**2).sum().backward()
        eager_grads = [p.grad.clone() for p in model.parameters()]
        model.zero_grad()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            got = compiled(x)
        (got**2).sum().backward()
        np.testing.assert_allclose(got.detach().numpy(), expected.detach().numpy(), rtol=1e-6, atol=1e-6)
        for p, g in zip(model.parameters(), eager_grads):
            np.testing.assert_allclose(p.grad.numpy(), g.numpy(), rtol=1e-5, atol=1e-6)
        model.zero_grad()
    assert "complex values" in compiled.explain()


def test_a_function_taking_complex_arguments():
    def f(z, w):
        return (z * w).abs() + 1

    compiled = irgrad.compile(f)
    z = irgrad.randn(5, dtype=irgrad.complex64)
    w = irgrad.randn(5, dtype=irgrad.complex64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        np.testing.assert_array_equal(compiled(z, w).numpy(), f(z, w).numpy())
    assert "graph break" in compiled.explain() and "complex" in compiled.explain()


def test_fullgraph_refuses_complex_values():
    compiled = irgrad.compile(lambda x: irgrad.fft.fft(x).abs(), fullgraph=True)
    with pytest.raises(Exception, match="complex values"):
        compiled(irgrad.randn(4))
