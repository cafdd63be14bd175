"""``torch.igamma`` / ``special.gammainc`` and ``torch.igammac`` / ``special.gammaincc``
(and ``Tensor.igamma``, ``igamma_``, ``igammac``, ``igammac_``) on the primitives of
:mod:`irgrad.ops.igamma`: both operands tensors, promoted to one floating dtype (an
integral result type raises PyTorch's NotImplementedError) and broadcast to one shape
(the broadcast's gradient sums back)."""

from __future__ import annotations

from .._arguments import tensor_arguments
from ..dispatch import apply, cast
from ..ops import OPS
from ..tensor import Tensor
from . import pointwise as P
from .shape import broadcast_tensors
from .writes import update_inplace


def _regularized(name: str, input: Tensor, other: Tensor) -> Tensor:
    kind = P.result_type(input, other)
    if not kind.is_floating_point:
        raise NotImplementedError(f"\"{name}_cpu\" not implemented for '{kind.scalar_type}'")
    a, x = broadcast_tensors(cast(input, kind), cast(other, kind))
    return apply(OPS[name], (a, x))


@tensor_arguments
def igamma(input: Tensor, other: Tensor) -> Tensor:
    """P(a, x) = gamma(a, x) / Gamma(a), the regularized lower incomplete gamma function
    of ``a = input`` and ``x = other``, elementwise; differentiable in ``x`` only."""
    return _regularized("igamma", input, other)


@tensor_arguments
def igammac(input: Tensor, other: Tensor) -> Tensor:
    """Q(a, x) = 1 - P(a, x), the regularized upper incomplete gamma function, elementwise;
    differentiable in ``x`` only."""
    return _regularized("igammac", input, other)


def igamma_(self: Tensor, other: Tensor) -> Tensor:
    return update_inplace(self, lambda old: igamma(old, other), name="igamma_")


def igammac_(self: Tensor, other: Tensor) -> Tensor:
    return update_inplace(self, lambda old: igammac(old, other), name="igammac_")
