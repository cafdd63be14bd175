"""Tensor factories: ``tensor``, ``zeros``, ``randn``, ``arange`` ... as in PyTorch.

One module a kind of factory: ``from_data`` (tensors from Python and numpy data),
``filled`` (values fixed by the arguments: zeros, ones, ranges, ``*_like``) and
``random_factories`` (draws from a generator), over ``arguments`` (what every factory does
with ``size``, ``dtype``, ``pin_memory``, ``memory_format``, ``requires_grad``). This
package re-exports them all, so ``irgrad.creation.X`` is each factory's one name."""

from .arguments import refuse_pinned
from .filled import (
    arange,
    empty,
    empty_like,
    eye,
    full,
    full_like,
    linspace,
    logspace,
    ones,
    ones_like,
    tril_indices,
    triu_indices,
    zeros,
    zeros_like,
)
from .from_data import as_tensor, asarray, ensure_tensor, from_dlpack, from_numpy, tensor
from .random_factories import (
    bernoulli,
    check_probabilities,
    multinomial,
    normal,
    rand,
    rand_like,
    randint,
    randint_like,
    randn,
    randn_like,
    randperm,
)

__all__ = [
    "arange",
    "as_tensor",
    "asarray",
    "bernoulli",
    "check_probabilities",
    "empty",
    "empty_like",
    "ensure_tensor",
    "eye",
    "from_dlpack",
    "from_numpy",
    "full",
    "full_like",
    "linspace",
    "logspace",
    "multinomial",
    "normal",
    "ones",
    "ones_like",
    "rand",
    "rand_like",
    "randint",
    "randint_like",
    "randn",
    "randn_like",
    "randperm",
    "refuse_pinned",
    "tensor",
    "tril_indices",
    "triu_indices",
    "zeros",
    "zeros_like",
]
