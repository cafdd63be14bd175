"""``poisson`` and ``binomial``: counts drawn from irgrad's generator (or the one given)
at each position, with PyTorch's argument checks.

The draws are numpy's samplers on the generator's stream, so a seed repeats them but
they are not PyTorch's numbers (docs: random numbers).
"""

from __future__ import annotations

import numpy as np

from .. import _tracing
from .._arguments import tensor_arguments
from ..creation import zeros_like
from ..dtypes import FLOAT, bool_
from ..random import resolve
from ..tensor import Tensor
from .legacy import NAMES
from .select import where

__all__ = ["poisson", "binomial"]


@tensor_arguments
def poisson(input: Tensor, generator=None) -> Tensor:
    """A Poisson draw with rate ``input`` at each position, in ``input``'s dtype; its
    gradient is zero, as PyTorch's."""
    if input.dtype.category != FLOAT:
        raise NotImplementedError(f"\"poisson_cpu\" not implemented for '{NAMES[input.dtype]}'")
    rates = input._data.astype(np.float64)
    if not (rates >= 0).all():  # (NaN fails too)
        raise RuntimeError("invalid Poisson rate, expected rate to be non-negative")
    _tracing.untraceable("a random draw outside a random op (poisson)")
    draws = Tensor._wrap(resolve(generator)._rng.poisson(rates).astype(input._data.dtype))
    # selecting nothing from input keeps the result on its graph with a zero gradient
    return where(zeros_like(input, dtype=bool_), input, draws)


@tensor_arguments
def binomial(count: Tensor, prob: Tensor, generator=None) -> Tensor:
    """The number of successes in ``count`` trials of probability ``prob`` at each
    position (the two broadcast), in ``count``'s floating dtype."""
    if count.dtype.category != FLOAT:
        raise ValueError(f"binomial only supports floating-point dtypes for count, got: {NAMES[count.dtype]}")
    if prob.dtype is not count.dtype:
        raise RuntimeError(f"Found dtype {NAMES[prob.dtype]} but expected {NAMES[count.dtype]}")
    _tracing.untraceable("a random draw outside a random op (binomial)")
    trials, p = np.broadcast_arrays(count._data.astype(np.int64), prob._data.astype(np.float64))
    return Tensor._wrap(resolve(generator)._rng.binomial(trials, p).astype(count._data.dtype))
