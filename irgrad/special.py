"""``irgrad.special``: PyTorch's ``torch.special`` namespace, for the functions irgrad has.

Most are irgrad's own functions under the names ``torch.special`` gives them (``expit``
is ``sigmoid``); ``ndtr``, ``log_ndtr``, ``erfcx``, ``entr`` and ``xlog1py`` live in
:mod:`irgrad.tensor_ops.special_functions`. The gamma, Bessel and polynomial families
are not there: irgrad has no kernels for them.
"""

from .tensor_ops.pointwise import erf, exp2, expm1, log1p, round
from .tensor_ops.pointwise import sigmoid as expit
from .tensor_ops.pointwise_composites import erfc, logit, sinc, xlogy
from .tensor_ops.reduce import log_softmax, logsumexp, softmax
from .tensor_ops.special_functions import entr, erfcx, log_ndtr, ndtr, xlog1py

__all__ = [
    "entr",
    "erf",
    "erfc",
    "erfcx",
    "exp2",
    "expit",
    "expm1",
    "log1p",
    "log_ndtr",
    "log_softmax",
    "logit",
    "logsumexp",
    "ndtr",
    "round",
    "sinc",
    "softmax",
    "xlog1py",
    "xlogy",
]
