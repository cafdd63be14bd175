"""``frexp`` and ``nextafter``: a float's mantissa and exponent, and the next float
towards another, as PyTorch's (numpy computes both exactly, in the input's dtype).

Their gradients are PyTorch's: ``frexp``'s mantissa is ``x / 2**exponent`` with the
exponent held constant, so its gradient is ``grad / 2**exponent``; ``nextafter``'s is
the incoming gradient for ``input`` where it differs from ``other`` (0 where they
are equal, which it returns) and zeros for ``other``.  Both read the data, so a
compiled call breaks the graph there.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from .. import _tracing
from .._arguments import tensor_arguments
from ..dispatch import cast
from ..dtypes import FLOAT, result_type
from ..recording.function import Function
from ..tensor import Tensor
from .shape import broadcast_tensors

frexp_result = namedtuple("frexp", ["mantissa", "exponent"])


class _Mantissa(Function):
    @staticmethod
    def forward(ctx, x: Tensor):
        mantissa, exponent = np.frexp(x._data)
        ctx.exponent = exponent
        return Tensor._wrap(mantissa)

    @staticmethod
    def backward(ctx, grad: Tensor):
        scale = np.exp2(ctx.exponent).astype(grad._data.dtype)
        return Tensor._wrap(grad._data / scale)


@tensor_arguments
def frexp(input: Tensor) -> frexp_result:
    """``(mantissa, exponent)`` with ``input = mantissa * 2**exponent``, ``|mantissa|`` in
    [0.5, 1) (0, inf and NaN are their own mantissa, exponent 0); the exponent is int32."""
    if input.dtype.category != FLOAT:
        raise RuntimeError("torch.frexp() only supports floating-point dtypes")
    _tracing.materialize(input, "frexp() (computed from the data)")
    exponent = np.frexp(input._data)[1].astype(np.int32)
    return frexp_result(_Mantissa.apply(input), Tensor._wrap(exponent))


class _NextAfter(Function):
    @staticmethod
    def forward(ctx, x: Tensor, toward: Tensor):
        ctx.moved = x._data != toward._data
        return Tensor._wrap(np.nextafter(x._data, toward._data))

    @staticmethod
    def backward(ctx, grad: Tensor):
        g = grad._data
        return Tensor._wrap(np.where(ctx.moved, g, np.zeros_like(g))), Tensor._wrap(np.zeros_like(g))


@tensor_arguments
def nextafter(input: Tensor, other: Tensor) -> Tensor:
    """The next float after ``input`` towards ``other``, elementwise, in their promoted
    dtype (broadcast), which must be a float one, as PyTorch's."""
    common = result_type(input, other)
    if common.category != FLOAT:
        raise NotImplementedError(f"\"nextafter_cpu\" not implemented for '{common.scalar_type}'")
    _tracing.materialize(input, "nextafter() (computed from the data)")
    x, toward = broadcast_tensors(cast(input, common), cast(other, common))
    return _NextAfter.apply(x, toward)
