"""``irgrad.special``: PyTorch's ``torch.special`` namespace, for the functions irgrad has.

Most are irgrad's own functions under the names ``torch.special`` gives them (``expit``
is ``sigmoid``, ``gammaln`` is ``lgamma``, ``psi`` is ``digamma``, ``multigammaln`` is
``mvlgamma``); ``ndtr``, ``log_ndtr``, ``erfcx``, ``entr`` and ``xlog1py`` live in
:mod:`irgrad.tensor_ops.special_functions`; the modified Bessel functions ``i0``, ``i0e``,
``i1`` and ``i1e`` in :mod:`irgrad.tensor_ops.bessel`; ``gammainc`` and ``gammaincc``
are ``igamma`` and ``igammac`` (:mod:`irgrad.tensor_ops.incomplete_gamma`). The other
Bessel functions, the orthogonal polynomials, ``zeta`` and ``ndtri`` are not there:
irgrad has no kernels for them.
"""

from .tensor_ops.bessel import i0, i0e, i1, i1e
from .tensor_ops.incomplete_gamma import igamma as gammainc
from .tensor_ops.incomplete_gamma import igammac as gammaincc
from .tensor_ops.pointwise import erf, exp2, expm1, log1p, round
from .tensor_ops.pointwise import sigmoid as expit
from .tensor_ops.pointwise_composites import erfc, logit, sinc, xlogy
from .tensor_ops.reduce import log_softmax, logsumexp, softmax
from .tensor_ops.special import digamma, erfinv, polygamma
from .tensor_ops.special import digamma as psi
from .tensor_ops.special import lgamma as gammaln
from .tensor_ops.special import mvlgamma as multigammaln
from .tensor_ops.special_functions import entr, erfcx, log_ndtr, ndtr, xlog1py

__all__ = [
    "digamma",
    "entr",
    "erf",
    "erfc",
    "erfcx",
    "erfinv",
    "exp2",
    "expit",
    "expm1",
    "gammainc",
    "gammaincc",
    "gammaln",
    "i0",
    "i0e",
    "i1",
    "i1e",
    "log1p",
    "log_ndtr",
    "log_softmax",
    "logit",
    "logsumexp",
    "multigammaln",
    "ndtr",
    "polygamma",
    "psi",
    "round",
    "sinc",
    "softmax",
    "xlog1py",
    "xlogy",
]
