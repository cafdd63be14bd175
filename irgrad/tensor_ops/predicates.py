"""Questions about tensors and dtypes: ``is_complex``, ``is_nonzero``, ``can_cast``, and
the elementwise ``isposinf``, ``isneginf`` and ``isreal``."""

from __future__ import annotations

import math

from .._arguments import tensor_arguments
from ..creation import ones_like
from ..dtypes import FLOAT, bool_, to_dtype
from ..tensor import Tensor
from . import pointwise as P


@tensor_arguments
def is_complex(input: Tensor) -> bool:
    """Whether ``input`` has a complex dtype (complex64 or complex128)."""
    return input._data.dtype.kind == "c"


@tensor_arguments
def is_nonzero(input: Tensor) -> bool:
    """Whether the single element of ``input`` is not zero (PyTorch's errors for none or
    several elements)."""
    if input.numel() == 0:
        raise RuntimeError("Boolean value of Tensor with no values is ambiguous")
    if input.numel() > 1:
        raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
    return bool(input.reshape(()).item() != 0)


def can_cast(from_, to) -> bool:
    """Whether PyTorch's type promotion allows casting ``from_`` to ``to``: never to a
    lower category (complex > floating point > integer > bool), so never a complex type
    to a real one nor a number to bool."""
    source, target = to_dtype(from_), to_dtype(to)
    if source.category >= FLOAT:
        return target.category >= source.category
    return target is not bool_ or source is bool_


@tensor_arguments
def isposinf(input: Tensor, *, out=None) -> Tensor:
    """Where ``input`` is +inf (never, for integers)."""
    return P._maybe_out(P.eq(input.detach(), math.inf), out)


@tensor_arguments
def isneginf(input: Tensor, *, out=None) -> Tensor:
    """Where ``input`` is -inf."""
    return P._maybe_out(P.eq(input.detach(), -math.inf), out)


@tensor_arguments
def isreal(input: Tensor) -> Tensor:
    """Where ``input`` has no imaginary part (everywhere, for a real tensor)."""
    if input.is_complex():
        return P.eq(input.detach().imag, 0)
    return ones_like(input, dtype=bool_)
