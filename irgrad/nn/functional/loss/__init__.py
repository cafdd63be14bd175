"""The losses of ``irgrad.nn.functional`` (``cross_entropy``, ``nll_loss``, ``mse_loss`` ...),
with PyTorch's options, errors and numerics; one family of losses per module:

- :mod:`.reduction`: what every loss shares, the ``reduction`` argument (with PyTorch's
  deprecated ``size_average``/``reduce`` flags) and the dtype a loss is stored in;
- :mod:`.classification`: ``nll_loss`` and ``cross_entropy``, with their target and
  class-weight checks;
- :mod:`.regression`: the pointwise distances between input and target (``mse_loss``,
  ``l1_loss``, ``smooth_l1_loss``, ``huber_loss``);
- :mod:`.likelihood`: negative log-likelihoods of a distribution (binary cross-entropy,
  Poisson, Gaussian) and ``kl_div``;
- :mod:`.margin`: the margin and embedding losses.

Log-space formulas keep every loss finite.  A package rather than modules beside it, so
that ``irgrad.nn.functional.loss`` stays the path of these functions.  ``ctc_loss``,
``multilabel_margin_loss`` and ``triplet_margin_with_distance_loss`` have modules of
their own in ``irgrad.nn.functional``.
"""

from . import classification, likelihood, margin, regression
from .classification import *  # noqa: F401,F403
from .likelihood import *  # noqa: F401,F403
from .margin import *  # noqa: F401,F403
from .regression import *  # noqa: F401,F403

__all__ = [*regression.__all__, *classification.__all__, *likelihood.__all__, *margin.__all__]
