"""The complex-number methods PyTorch code calls on real tensors: ``real`` and ``conj``
(and ``resolve_conj``, ``resolve_neg``) are the tensor itself, ``is_conj``/``is_neg``
False, ``imag`` PyTorch's error, ``adjoint`` the matrix transpose and ``angle`` 0 or pi.

irgrad has no complex dtypes, so these are exactly PyTorch's answers for real tensors.
"""

from __future__ import annotations

import math

from .._arguments import tensor_arguments
from ..creation import zeros_like
from ..dispatch import cast
from ..dtypes import FLOAT, bool_, get_default_dtype
from ..tensor import Tensor
from . import pointwise as P
from . import shape as S
from .select import where

__all__ = ["angle", "adjoint", "METHODS"]


@tensor_arguments
def angle(input: Tensor) -> Tensor:
    """pi where ``input`` < 0, else 0 (NaN stays NaN), in a float dtype, with a zero
    gradient everywhere, as PyTorch's for real tensors."""
    x = input if input.dtype.category == FLOAT else cast(input, get_default_dtype())
    value = x.detach()
    value = where(P.isnan(value), value, where(P.lt(value, 0), math.pi, 0.0))
    value = cast(value, x.dtype)
    # selecting nothing from x keeps the result on x's graph with a zero gradient
    return where(zeros_like(x, dtype=bool_), x, value)


@tensor_arguments
def adjoint(input: Tensor) -> Tensor:
    """The conjugate transpose of the last two dims: their transpose, for real tensors."""
    if input.dim() < 2:
        raise RuntimeError(
            f"tensor.adjoint() is only supported on matrices or batches of matrices. Got {input.dim()}-D tensor."
        )
    return S.transpose(input, -2, -1)


def _imag(self: Tensor) -> Tensor:
    raise RuntimeError("imag is not implemented for tensors with non-complex dtypes.")


def _self(self: Tensor) -> Tensor:
    return self


def _false(self: Tensor) -> bool:
    return False


METHODS = {
    "real": property(_self),
    "imag": property(_imag),
    "conj": _self,
    "resolve_conj": _self,
    "resolve_neg": _self,
    "is_conj": _false,
    "is_neg": _false,
    "angle": angle,
    "adjoint": adjoint,
}
