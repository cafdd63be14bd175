"""``i0``, ``i0e``, ``i1`` and ``i1e`` (``torch.i0``, ``torch.special.*``, ``Tensor.i0``,
``Tensor.i0_``) on the primitives of :mod:`irgrad.ops.bessel`: an integer or bool operand
is computed in the default float dtype, a float16 or bfloat16 one in float32 and rounded
back, as PyTorch's kernels upcast it."""

from __future__ import annotations

from .._arguments import tensor_arguments
from ..dispatch import apply, cast
from ..dtypes import float32
from ..ops import OPS
from ..tensor import Tensor
from .pointwise import _maybe_out
from .special import _float
from .writes import update_inplace


def _bessel(name: str, input: Tensor) -> Tensor:
    x = _float(input)
    if x.dtype.itemsize < 4:
        return cast(apply(OPS[name], (cast(x, float32),)), x.dtype)
    return apply(OPS[name], (x,))


@tensor_arguments
def i0(input: Tensor, *, out=None) -> Tensor:
    """I0(x), the modified Bessel function of the first kind of order 0, elementwise."""
    return _maybe_out(_bessel("i0", input), out)


@tensor_arguments
def i0e(input: Tensor, *, out=None) -> Tensor:
    """exp(-|x|) I0(x), elementwise: finite where I0 overflows."""
    return _maybe_out(_bessel("i0e", input), out)


@tensor_arguments
def i1(input: Tensor, *, out=None) -> Tensor:
    """I1(x), the modified Bessel function of the first kind of order 1, elementwise."""
    return _maybe_out(_bessel("i1", input), out)


@tensor_arguments
def i1e(input: Tensor, *, out=None) -> Tensor:
    """exp(-|x|) I1(x), elementwise."""
    return _maybe_out(_bessel("i1e", input), out)


def i0_(self: Tensor) -> Tensor:
    return update_inplace(self, i0, name="i0_")
