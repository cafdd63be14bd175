"""nn utilities: gradient clipping, variable-length sequences, weight and spectral norm,
and parametrizations."""

from . import parametrizations, parametrize, rnn  # noqa: F401
from .clip_grad import *  # noqa: F401,F403
from .convert import *  # noqa: F401,F403
from .spectral_norm import remove_spectral_norm, spectral_norm  # noqa: F401
from .weight_norm import remove_weight_norm, weight_norm  # noqa: F401
