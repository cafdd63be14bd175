"""torch.fft's helpers: the sample frequencies of a transform (``fftfreq``, ``rfftfreq``)
and the shifts that put the zero frequency in the middle (``fftshift``, ``ifftshift``)."""

from __future__ import annotations

from .._arguments import tensor_arguments
from ..creation import tensor
from ..dtypes import get_default_dtype, to_dtype
from ..tensor import Tensor
from ..tensor_ops.shifts import roll

__all__ = ["fftfreq", "rfftfreq", "fftshift", "ifftshift"]


def _frequencies(indices: list[int], n: int, d: float, dtype, requires_grad: bool) -> Tensor:
    """``indices / (n d)`` in ``dtype`` (the default float), multiplied by the reciprocal as
    PyTorch's kernel does."""
    dt = to_dtype(dtype) if dtype is not None else get_default_dtype()
    out = tensor(indices, dtype=dt) * (1.0 / (n * d))
    return out.requires_grad_() if requires_grad else out


def fftfreq(n: int, d: float = 1.0, *, dtype=None, device=None, requires_grad: bool = False, **_) -> Tensor:
    """The frequencies of an ``n``-point DFT with sample spacing ``d``: ``[0, 1, ...,
    (n - 1) // 2, -(n // 2), ..., -1] / (n d)``."""
    return _frequencies([*range((n - 1) // 2 + 1), *range(-(n // 2), 0)], n, d, dtype, requires_grad)


def rfftfreq(n: int, d: float = 1.0, *, dtype=None, device=None, requires_grad: bool = False, **_) -> Tensor:
    """The frequencies of an ``n``-point one-sided DFT: ``[0, 1, ..., n // 2] / (n d)``."""
    return _frequencies(list(range(n // 2 + 1)), n, d, dtype, requires_grad)


def _shifted(input: Tensor, dim, sign: int) -> Tensor:
    dims = tuple(range(input.dim())) if dim is None else (dim,) if isinstance(dim, int) else tuple(dim)
    if not dims:
        return input
    return roll(input, tuple(sign * (input.shape[d] // 2) for d in dims), dims)


@tensor_arguments
def fftshift(input: Tensor, dim=None) -> Tensor:
    """``input`` rolled so the zero frequency is in the middle of each of ``dim`` (all dims)."""
    return _shifted(input, dim, 1)


@tensor_arguments
def ifftshift(input: Tensor, dim=None) -> Tensor:
    """The inverse of :func:`fftshift`."""
    return _shifted(input, dim, -1)
