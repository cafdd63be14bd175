"""Probability distributions, as ``torch.distributions``: ``Normal``,
``MultivariateNormal``, ``Uniform``, ``Bernoulli``, ``Categorical`` and ``Independent``, with ``sample``/``rsample``,
``log_prob``, ``entropy``, ``cdf``, argument validation, and ``kl_divergence``.

Draws come from irgrad's generator (the same distribution as PyTorch's, not the same
numbers for a seed; see docs/pytorch-differences.md).  Argument validation reads tensor
values, so under ``irgrad.compile`` it breaks the graph: pass ``validate_args=False``
(or ``Distribution.set_default_validate_args(False)``) in a compiled step.
"""

from . import constraints
from .bernoulli import Bernoulli
from .categorical import Categorical
from .distribution import Distribution
from .independent import Independent
from .kl import kl_divergence, register_kl
from .multivariate_normal import MultivariateNormal
from .normal import Normal
from .uniform import Uniform

__all__ = [
    "Bernoulli",
    "Categorical",
    "Distribution",
    "Independent",
    "MultivariateNormal",
    "Normal",
    "Uniform",
    "constraints",
    "kl_divergence",
    "register_kl",
]
