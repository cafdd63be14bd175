"""Complex numbers' parts and conversions, as PyTorch's: ``view_as_real`` and
``view_as_complex`` (views sharing memory), ``real`` and ``imag`` (views, assignable),
``complex``, ``polar``, ``conj`` (and ``conj_physical``, ``resolve_conj``, ``is_conj``),
``angle``, ``sgn`` and ``adjoint``.

On real tensors they give PyTorch's answers for real tensors: ``real``, ``conj`` and
``resolve_conj`` are the tensor itself, ``imag`` raises, ``angle`` is 0 or pi.

irgrad has no lazy conjugate bit: ``conj()`` of a complex tensor is a new tensor
(``is_conj()`` is always False), which gives the same values as PyTorch's
(docs/pytorch-differences.md).  The views between a complex tensor and its real parts
change the element type, so no chain of view ops describes them: written in place while
autograd records, they raise (:func:`mark_dtype_view`).
"""

from __future__ import annotations

import math

import numpy as np

from .._arguments import tensor_arguments
from ..creation import zeros_like
from ..dispatch import apply, cast
from ..dtypes import FLOAT, bool_, float32, float64, get_default_dtype
from ..ops import OPS
from ..tensor import Tensor
from . import pointwise as P
from . import shape as S
from .select import where
from .split_join import select, stack

__all__ = [
    "adjoint",
    "angle",
    "complex",
    "conj",
    "conj_physical",
    "imag",
    "polar",
    "real",
    "resolve_conj",
    "sgn",
    "view_as_complex",
    "view_as_real",
    "METHODS",
]


def mark_dtype_view(out: Tensor, input: Tensor) -> Tensor:
    """Make ``out`` (a result sharing ``input``'s memory with another element type) a view
    of ``input``'s storage: it shares the version counter, and is opaque (no chain of view
    ops describes it), so in-place writes to it under autograd raise."""
    out._base = input._base if input._base is not None else input
    out._vc = input._shared_version()
    return out


@tensor_arguments
def view_as_real(input: Tensor) -> Tensor:
    """A complex tensor's memory as real pairs ``[..., 2]`` (a view; its gradient is the
    pairs' gradient as complex numbers)."""
    if not input.is_complex():
        raise RuntimeError("view_as_real is only supported for complex tensors")
    return mark_dtype_view(apply(OPS["view_as_real"], (input,)), input)


@tensor_arguments
def view_as_complex(input: Tensor) -> Tensor:
    """Real pairs along the last dim as complex numbers (a view: the pairs must be adjacent
    in memory, with PyTorch's errors otherwise)."""
    data = input._data
    if data.dtype not in (np.float32, np.float64):
        raise RuntimeError(
            "view_as_complex is only supported for float and double tensors, but got a tensor of "
            f"scalar type: {input.dtype.scalar_type}"
        )
    if data.ndim == 0:
        raise RuntimeError("Input tensor must have one or more dimensions")
    if data.shape[-1] != 2:
        raise RuntimeError("Tensor must have a last dimension of size 2")
    if data.strides[-1] != data.itemsize:
        raise RuntimeError("Tensor must have a last dimension with stride 1")
    if (_offset(data) // data.itemsize) % 2:
        raise RuntimeError("Tensor must have a storage_offset divisible by 2")
    if any((s // data.itemsize) % 2 for n, s in zip(data.shape[:-1], data.strides[:-1]) if n > 1):
        raise RuntimeError("Tensor must have a stride divisible by 2 for all but last dimension")
    return mark_dtype_view(apply(OPS["view_as_complex"], (input,)), input)


def _offset(data: np.ndarray) -> int:
    """Where ``data`` starts in the memory of the array owning it, in bytes."""
    owner = data
    while isinstance(owner.base, np.ndarray):
        owner = owner.base
    return data.__array_interface__["data"][0] - owner.__array_interface__["data"][0]


def _part(input: Tensor, which: int) -> Tensor:
    return mark_dtype_view(select(view_as_real(input), -1, which), input)


@tensor_arguments
def real(input: Tensor) -> Tensor:
    """The real parts (a view); a real tensor itself."""
    return _part(input, 0) if input.is_complex() else input


@tensor_arguments
def imag(input: Tensor) -> Tensor:
    """The imaginary parts (a view); PyTorch's error for a real tensor."""
    if not input.is_complex():
        raise RuntimeError("imag is not implemented for tensors with non-complex dtypes.")
    return _part(input, 1)


def _set_real(self: Tensor, value) -> None:
    real(self).copy_(value) if isinstance(value, Tensor) else real(self).fill_(value)


def _set_imag(self: Tensor, value) -> None:
    imag(self).copy_(value) if isinstance(value, Tensor) else imag(self).fill_(value)


@tensor_arguments
def complex(real: Tensor, imag: Tensor) -> Tensor:  # noqa: A001  (torch.complex)
    """``real + i imag`` from two real tensors of one float dtype (broadcast together)."""
    if real.dtype not in (float32, float64) or imag.dtype not in (float32, float64):
        raise RuntimeError(
            "Expected both inputs to be Half, Float or Double tensors but got "
            f"{real.dtype.scalar_type} and {imag.dtype.scalar_type}"
        )
    if real.dtype is not imag.dtype:
        raise RuntimeError(
            f"Expected object of scalar type {real.dtype.scalar_type} but got scalar type "
            f"{imag.dtype.scalar_type} for second argument"
        )
    real, imag = S.broadcast_tensors(real, imag)
    return apply(OPS["view_as_complex"], (stack([real, imag], -1),))


@tensor_arguments
def polar(abs: Tensor, angle: Tensor) -> Tensor:  # noqa: A002  (torch.polar's parameter)
    """``abs * (cos(angle) + i sin(angle))``."""
    if abs.dtype not in (float32, float64) or abs.dtype is not angle.dtype:
        raise RuntimeError(
            "Expected both inputs to be Float or Double tensors but got "
            f"{abs.dtype.scalar_type} and {angle.dtype.scalar_type}"
        )
    return complex(P.mul(abs, P.cos(angle)), P.mul(abs, P.sin(angle)))


@tensor_arguments
def conj(input: Tensor) -> Tensor:
    """The complex conjugate (a new tensor: irgrad has no lazy conjugate bit); a real
    tensor itself."""
    return apply(OPS["conj"], (input,)) if input.is_complex() else input


@tensor_arguments
def conj_physical(input: Tensor) -> Tensor:
    """The complex conjugate, computed (a real tensor's copy)."""
    return apply(OPS["conj"], (input,))


@tensor_arguments
def resolve_conj(input: Tensor) -> Tensor:
    """``input`` itself: irgrad's conjugates are always materialized."""
    return input


@tensor_arguments
def angle(input: Tensor) -> Tensor:
    """The argument of complex numbers (``atan2(imag, real)``, a real tensor); of real
    ones pi where ``input`` < 0, else 0 (NaN stays NaN), in a float dtype, with a zero
    gradient everywhere, as PyTorch's."""
    if input.is_complex():
        return P.atan2(imag(input), real(input))
    x = input if input.dtype.category == FLOAT else cast(input, get_default_dtype())
    value = x.detach()
    value = where(P.isnan(value), value, where(P.lt(value, 0), math.pi, 0.0))
    value = cast(value, x.dtype)
    # selecting nothing from x keeps the result on x's graph with a zero gradient
    return where(zeros_like(x, dtype=bool_), x, value)


@tensor_arguments
def sgn(input: Tensor) -> Tensor:
    """``z / |z|`` (0 at 0) for complex numbers, the sign of real ones."""
    if not input.is_complex():
        return P.sign(input)
    return where(P.eq(input, 0), 0.0, P.div(input, P.abs(input)))


@tensor_arguments
def adjoint(input: Tensor) -> Tensor:
    """The conjugate transpose of the last two dims."""
    if input.dim() < 2:
        raise RuntimeError(
            f"tensor.adjoint() is only supported on matrices or batches of matrices. Got {input.dim()}-D tensor."
        )
    return conj(S.transpose(input, -2, -1))


def _false(self: Tensor) -> bool:
    return False


def _self(self: Tensor) -> Tensor:
    return self


METHODS = {
    "real": property(real, _set_real),
    "imag": property(imag, _set_imag),
    "conj": conj,
    "conj_physical": conj_physical,
    "resolve_conj": resolve_conj,
    "resolve_neg": _self,
    "is_conj": _false,
    "is_neg": _false,
    "angle": angle,
    "sgn": sgn,
    "adjoint": adjoint,
    "mH": property(lambda self: conj(S.matrix_transpose(self))),
    "H": property(lambda self: conj(S.full_transpose(self))),
}
