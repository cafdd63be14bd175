"""nn utilities: gradient clipping, variable-length sequences, weight and spectral norm,
parametrizations and pruning."""

from . import fusion, parametrizations, parametrize, prune, rnn, stateless  # noqa: F401
from .clip_grad import *  # noqa: F401,F403
from .convert import *  # noqa: F401,F403
from .fusion import (  # noqa: F401
    fuse_conv_bn_eval,
    fuse_conv_bn_weights,
    fuse_linear_bn_eval,
    fuse_linear_bn_weights,
)
from .init import skip_init  # noqa: F401
from .spectral_norm import remove_spectral_norm, spectral_norm  # noqa: F401
from .weight_norm import remove_weight_norm, weight_norm  # noqa: F401
