"""Activations that draw random numbers: ``rrelu`` and ``gumbel_softmax``.

They draw from irgrad's generator (``irgrad.manual_seed``), so their values differ from
PyTorch's for the same seed, as every random op's do (docs/pytorch-differences.md); the
distributions, and everything else, are PyTorch's.
"""

from __future__ import annotations

import warnings

from ..._arguments import tensor_arguments
from ...creation import rand_like, zeros_like
from ...tensor import Tensor
from ...tensor_ops import pointwise as P
from ...tensor_ops.legacy import NAMES
from ...tensor_ops.reduce import argmax, softmax
from ...tensor_ops.scatter import scatter
from ...tensor_ops.select import where
from .activation import _maybe_inplace, leaky_relu

__all__ = ["rrelu", "rrelu_", "gumbel_softmax"]


@tensor_arguments
def rrelu(
    input: Tensor,
    lower: float = 1.0 / 8,
    upper: float = 1.0 / 3,
    training: bool = False,
    inplace: bool = False,
) -> Tensor:
    """The randomized leaky ReLU: in training, ``x * a`` for ``x <= 0`` with ``a`` drawn
    uniformly from ``[lower, upper]`` per element (the gradient there is ``a``); in
    evaluation, ``leaky_relu`` with the mean slope ``(lower + upper) / 2``."""
    if not input.is_floating_point():
        raise NotImplementedError(f"\"leaky_relu_cpu\" not implemented for '{NAMES[input.dtype]}'")
    if not training:
        return leaky_relu(input, (lower + upper) / 2, inplace)

    def randomized(x: Tensor) -> Tensor:
        slopes = P.add(P.mul(rand_like(x), upper - lower), lower)
        return where(P.gt(x, 0), x, P.mul(x, slopes))

    return _maybe_inplace(input, inplace, randomized, "rrelu_")


@tensor_arguments
def rrelu_(input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False) -> Tensor:
    return rrelu(input, lower, upper, training, inplace=True)


@tensor_arguments
def gumbel_softmax(
    logits: Tensor, tau: float = 1, hard: bool = False, eps: float = 1e-10, dim: int = -1
) -> Tensor:
    """A sample from the Gumbel-softmax distribution: ``softmax((logits + g) / tau)`` with
    ``g = -log(E)``, ``E`` exponential; with ``hard``, the one-hot of its argmax carrying the
    soft sample's gradient (``y_hard - y_soft.detach() + y_soft``), as PyTorch's."""
    if eps != 1e-10:
        warnings.warn("`eps` parameter is deprecated and has no effect.", UserWarning, stacklevel=2)
    exponential = P.neg(P.log(rand_like(logits)))  # -log(U), U uniform: Exp(1)
    gumbels = P.div(P.add(logits, P.neg(P.log(exponential))), tau)
    soft = softmax(gumbels, dim)
    if not hard:
        return soft
    index = argmax(soft, dim, keepdim=True)
    one_hot = scatter(zeros_like(logits), dim, index, 1.0)
    return P.add(P.sub(one_hot, soft.detach()), soft)
