"""torch.fft's transforms: ``fft``/``ifft``, ``rfft``/``irfft``, ``hfft``/``ihfft`` and their
2-D and n-D forms, each the primitive of :mod:`irgrad.ops.fft` its direction needs after
the input is promoted (bool and integers to the default float; a real input of a complex
transform to the complex dtype of its precision) and sized along the transformed dims
(``n``/``s``: zero-padded or cut at the end; -1 keeps a size), with PyTorch's checks and
messages.  Autograd comes from the primitives."""

from __future__ import annotations

from collections.abc import Sequence

from .._arguments import tensor_arguments
from ..dispatch import apply, cast
from ..dtypes import FLOAT, float16, get_default_dtype, to_complex
from ..ops import OPS
from ..tensor import Tensor
from ..tensor_ops.complex_parts import conj
from ..tensor_ops.split_join import narrow

__all__ = [
    "fft",
    "ifft",
    "rfft",
    "irfft",
    "hfft",
    "ihfft",
    "fft2",
    "ifft2",
    "rfft2",
    "irfft2",
    "fftn",
    "ifftn",
    "rfftn",
    "irfftn",
]

_NORMS = ("backward", "forward", "ortho")
_SWAPPED = {"backward": "forward", "forward": "backward", "ortho": "ortho"}


def _norm(norm: str | None) -> str:
    if norm is None:
        return "backward"
    if norm not in _NORMS:
        raise RuntimeError(f'Invalid normalization mode: "{norm}"')
    return norm


def _promoted(x: Tensor, complex_result: bool) -> Tensor:
    """``x`` in the dtype its transform computes in."""
    dt = x.dtype
    if dt is float16:
        raise RuntimeError("Unsupported dtype Half")
    if dt.category < FLOAT:
        x = cast(x, get_default_dtype())
    return cast(x, to_complex(x.dtype)) if complex_result and not x.is_complex() else x


def _dim(d: int, ndim: int) -> int:
    if ndim == 0:
        raise IndexError(f"Dimension specified as {d} but tensor has no dimensions")
    if not -ndim <= d < ndim:
        raise IndexError(
            f"Dimension out of range (expected to be in range of [{-ndim}, {ndim - 1}], but got {d})"
        )
    return d % ndim


def _dims_and_sizes(x: Tensor, s, dim) -> tuple[tuple, list]:
    """The transformed dims and their sizes (None: as they are), as PyTorch reads ``s`` and ``dim``."""
    ndim = x._data.ndim
    if isinstance(dim, int):
        dim = (dim,)
    if isinstance(s, int):
        s = (s,)
    if s is not None and dim is not None and len(s) != len(dim):
        raise RuntimeError("When given, dim and shape arguments must have the same length")
    if s is not None and dim is None and len(s) > ndim:
        raise RuntimeError(f"Got shape with {len(s)} values but input tensor only has {ndim} dimensions.")
    if dim is None:  # every dim, or the last len(s)
        dim = range(ndim) if s is None else range(ndim - len(s), ndim)
    dims = tuple(_dim(d, ndim) for d in dim)
    if len(set(dims)) != len(dims):
        raise RuntimeError("FFT dims must be unique")
    sizes = [None if s is None or s[i] == -1 else int(s[i]) for i in range(len(dims))]
    for d, n in zip(dims, sizes):
        if (x._data.shape[d] if n is None else n) < 1:
            raise RuntimeError(
                f"Invalid number of data points ({x._data.shape[d] if n is None else n}) specified"
            )
    return dims, sizes


def _resized(x: Tensor, dims: tuple, sizes: Sequence[int | None]) -> Tensor:
    """``x`` cut or zero-padded at the end of each of ``dims`` to its size in ``sizes``."""
    for d, n in zip(dims, sizes):
        have = x._data.shape[d]
        if n is None or n == have:
            continue
        if n < have:
            x = narrow(x, d, 0, n)
        else:
            widths = tuple((0, n - have) if k == d else (0, 0) for k in range(x._data.ndim))
            x = apply(OPS["pad"], (x,), {"widths": widths, "value": 0.0})
    return x


def _c2c(x: Tensor, s, dim, norm, forward: bool) -> Tensor:
    dims, sizes = _dims_and_sizes(x, s, dim)
    x = _resized(_promoted(x, True), dims, sizes)
    if not dims:
        return x if x.is_complex() else cast(x, to_complex(x.dtype))
    return apply(OPS["fft_c2c"], (x,), {"dims": dims, "forward": forward, "norm": _norm(norm)})


def _r2c(name: str, x: Tensor, s, dim, norm, real_name: str = "real-valued") -> Tensor:
    if x.is_complex():
        raise RuntimeError(f"{name} expects a {real_name} input tensor, but got {x.dtype.scalar_type}")
    dims, sizes = _dims_and_sizes(x, s, dim)
    if not dims:
        raise RuntimeError(f"{name} must transform at least one axis")
    x = _resized(_promoted(x, False), dims, sizes)
    return apply(OPS["fft_r2c"], (x,), {"dims": dims, "norm": _norm(norm)})


def _c2r(name: str, x: Tensor, s, dim, norm) -> Tensor:
    dims, sizes = _dims_and_sizes(x, s, dim)
    if not dims:
        raise RuntimeError(f"{name} must transform at least one axis")
    last = dims[-1]
    out_last = sizes[-1] if sizes[-1] is not None else 2 * (x._data.shape[last] - 1)
    if out_last < 1:
        raise RuntimeError(f"Invalid number of data points ({out_last}) specified")
    sizes = [*sizes[:-1], out_last // 2 + 1]
    x = _resized(_promoted(x, True), dims, sizes)
    return apply(OPS["fft_c2r"], (x,), {"dims": dims, "norm": _norm(norm), "last_dim_size": out_last})


@tensor_arguments
def fft(input: Tensor, n: int | None = None, dim: int = -1, norm: str | None = None) -> Tensor:
    """The 1-D discrete Fourier transform along ``dim``."""
    return _c2c(input, n, dim, norm, True)


@tensor_arguments
def ifft(input: Tensor, n: int | None = None, dim: int = -1, norm: str | None = None) -> Tensor:
    """The 1-D inverse discrete Fourier transform along ``dim``."""
    return _c2c(input, n, dim, norm, False)


@tensor_arguments
def rfft(input: Tensor, n: int | None = None, dim: int = -1, norm: str | None = None) -> Tensor:
    """The one-sided DFT of a real signal: ``n // 2 + 1`` frequencies."""
    return _r2c("rfft", input, n, dim, norm, real_name="real")


@tensor_arguments
def irfft(input: Tensor, n: int | None = None, dim: int = -1, norm: str | None = None) -> Tensor:
    """The inverse of :func:`rfft`: ``n`` (default ``2 * (m - 1)``) real values."""
    return _c2r("irfft", input, n, dim, norm)


@tensor_arguments
def hfft(input: Tensor, n: int | None = None, dim: int = -1, norm: str | None = None) -> Tensor:
    """The DFT of a signal with Hermitian symmetry given by its first half: real values."""
    return _c2r("hfft", conj(_promoted(input, True)), n, dim, _SWAPPED[_norm(norm)])


@tensor_arguments
def ihfft(input: Tensor, n: int | None = None, dim: int = -1, norm: str | None = None) -> Tensor:
    """The inverse of :func:`hfft`: the one-sided inverse DFT of a real signal."""
    if input.is_complex():
        raise RuntimeError(f"ihfft expects a real input tensor, but got {input.dtype.scalar_type}")
    return conj(_r2c("ihfft", input, n, dim, _SWAPPED[_norm(norm)], real_name="real"))


@tensor_arguments
def fft2(input: Tensor, s=None, dim=(-2, -1), norm: str | None = None) -> Tensor:
    """The 2-D discrete Fourier transform over ``dim``."""
    return _c2c(input, s, dim, norm, True)


@tensor_arguments
def ifft2(input: Tensor, s=None, dim=(-2, -1), norm: str | None = None) -> Tensor:
    """The 2-D inverse discrete Fourier transform over ``dim``."""
    return _c2c(input, s, dim, norm, False)


@tensor_arguments
def rfft2(input: Tensor, s=None, dim=(-2, -1), norm: str | None = None) -> Tensor:
    """The 2-D DFT of a real signal, one-sided along the last of ``dim``."""
    return _r2c("rfft2", input, s, dim, norm)


@tensor_arguments
def irfft2(input: Tensor, s=None, dim=(-2, -1), norm: str | None = None) -> Tensor:
    """The inverse of :func:`rfft2`."""
    return _c2r("irfft2", input, s, dim, norm)


@tensor_arguments
def fftn(input: Tensor, s=None, dim=None, norm: str | None = None) -> Tensor:
    """The n-D discrete Fourier transform over ``dim`` (every dim, or the last ``len(s)``)."""
    return _c2c(input, s, dim, norm, True)


@tensor_arguments
def ifftn(input: Tensor, s=None, dim=None, norm: str | None = None) -> Tensor:
    """The n-D inverse discrete Fourier transform."""
    return _c2c(input, s, dim, norm, False)


@tensor_arguments
def rfftn(input: Tensor, s=None, dim=None, norm: str | None = None) -> Tensor:
    """The n-D DFT of a real signal, one-sided along the last transformed dim."""
    return _r2c("rfftn", input, s, dim, norm)


@tensor_arguments
def irfftn(input: Tensor, s=None, dim=None, norm: str | None = None) -> Tensor:
    """The inverse of :func:`rfftn`."""
    return _c2r("irfftn", input, s, dim, norm)
