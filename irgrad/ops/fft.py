"""Discrete Fourier transforms over ``dims``, as PyTorch's three primitives: ``fft_c2c``
(complex to complex, either direction), ``fft_r2c`` (real to the one-sided half spectrum
along the last of ``dims``) and ``fft_c2r`` (a half spectrum back to ``last_dim_size`` real
values, its Hermitian symmetry assumed).  ``norm`` is numpy's for the op's direction:
"backward" scales the inverse by 1/n, "forward" the forward, "ortho" both by 1/sqrt(n).

Kernels are numpy's pocketfft (which computes some inputs in double precision): results
are cast to the complex or real dtype of the input's precision, as PyTorch's.

Gradients (PyTorch's convention for complex values, none of the three is holomorphic):
each transform is linear, so its gradient is its adjoint: the transform the other way
with the other direction's scale (``norm`` swapped between "backward" and "forward").
For ``fft_r2c`` that is the gradient zero-padded to the full length, transformed back,
real part kept; for ``fft_c2r`` it is ``fft_r2c`` of the gradient with the bins that
stand for two (all but the first and, for an even length, the last) doubled.
"""

from __future__ import annotations

import numpy as np

from ..dtypes import COMPLEX, FLOAT, to_complex, to_real
from .registry import Kind, Meta, OpDef, register

SWAPPED = {"backward": "forward", "forward": "backward", "ortho": "ortho"}


def _c2c(x, *, dims, forward, norm):
    transform = np.fft.fftn if forward else np.fft.ifftn
    return transform(x, axes=dims, norm=norm).astype(x.dtype, copy=False)


def _r2c(x, *, dims, norm):
    return np.fft.rfftn(x, axes=dims, norm=norm).astype(np.result_type(x.dtype, np.complex64), copy=False)


def _c2r(x, *, dims, norm, last_dim_size):
    sizes = [x.shape[d] for d in dims[:-1]] + [last_dim_size]
    return np.fft.irfftn(x, s=sizes, axes=dims, norm=norm).astype(x.real.dtype, copy=False)


def _infer_c2c(x: Meta, *, dims, forward, norm) -> Meta:
    if x.dtype.category != COMPLEX:
        raise RuntimeError(f"fft_c2c: expected a complex input, got {x.dtype}")
    return Meta(tuple(x.shape), x.dtype)


def _infer_r2c(x: Meta, *, dims, norm) -> Meta:
    if x.dtype.category != FLOAT:
        raise RuntimeError(f"fft_r2c: expected a real input, got {x.dtype}")
    shape = list(x.shape)
    shape[dims[-1]] = shape[dims[-1]] // 2 + 1
    return Meta(tuple(shape), to_complex(x.dtype))


def _infer_c2r(x: Meta, *, dims, norm, last_dim_size) -> Meta:
    if x.dtype.category != COMPLEX:
        raise RuntimeError(f"fft_c2r: expected a complex input, got {x.dtype}")
    shape = list(x.shape)
    shape[dims[-1]] = last_dim_size
    return Meta(tuple(shape), to_real(x.dtype))


def _c2c_vjp(F, g, c):
    a = c.attrs
    return (F.fft_c2c(g, dims=a["dims"], forward=not a["forward"], norm=SWAPPED[a["norm"]]),)


def _r2c_vjp(F, g, c):
    dims, norm = c.attrs["dims"], c.attrs["norm"]
    shape = c.metas[0].shape
    last = dims[-1]
    widths = tuple((0, shape[last] - g.shape[last]) if d == last else (0, 0) for d in range(len(shape)))
    full = F.pad(g, widths=widths, value=0.0)
    back = F.fft_c2c(full, dims=dims, forward=False, norm=SWAPPED[norm])
    index = tuple(slice(0, n, 1) for n in shape) + (0,)
    return (F.slice(F.view_as_real(back), index=index),)


def _c2r_vjp(F, g, c):
    dims, norm = c.attrs["dims"], c.attrs["norm"]
    half = F.fft_r2c(g, dims=dims, norm=SWAPPED[norm])
    shape, last = c.metas[0].shape, dims[-1]
    doubled = c.attrs["last_dim_size"] - shape[last]  # the bins whose conjugates the full spectrum repeats
    if doubled <= 0:
        return (half,)

    def bins(start: int, stop: int):
        index = tuple(slice(start, stop, 1) if d == last else slice(0, n, 1) for d, n in enumerate(shape))
        return F.slice(half, index=index)

    parts = [bins(0, 1), F.mul(bins(1, 1 + doubled), 2.0)]
    if 1 + doubled < shape[last]:
        parts.append(bins(1 + doubled, shape[last]))
    return (F.cat(*parts, dim=last),)


for _name, _kernel, _infer, _vjp, _doc in (
    (
        "fft_c2c",
        _c2c,
        _infer_c2c,
        _c2c_vjp,
        "A complex DFT over `dims`, forward or inverse, scaled by `norm`.",
    ),
    ("fft_r2c", _r2c, _infer_r2c, _r2c_vjp, "The one-sided DFT of real values over `dims` (rfftn)."),
    (
        "fft_c2r",
        _c2r,
        _infer_c2r,
        _c2r_vjp,
        "A half spectrum over `dims` to `last_dim_size` real values (irfftn).",
    ),
):
    register(
        OpDef(
            _name,
            Kind.LAPACK,  # a numpy routine, never fused (as LAPACK's factorizations)
            _kernel,
            _infer,
            _vjp,
            complex=True,
            holomorphic=False,
            linear=True,
            doc=_doc,
        )
    )
