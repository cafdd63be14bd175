"""Attention and Transformer layers: ``MultiheadAttention``, ``TransformerEncoder(Layer)``,
``TransformerDecoder(Layer)`` and ``Transformer``, as ``torch.nn``; one job per module:

- :mod:`.attention`: ``MultiheadAttention`` and its parameters;
- :mod:`.layers`: one encoder or decoder layer (attention, feed-forward, norms);
- :mod:`.stacks`: the encoder and decoder stacks of copies of a layer;
- :mod:`.masks`: the causal mask and the check that a mask is causal;
- :mod:`.encoder_decoder`: ``Transformer``, an encoder stack feeding a decoder stack.

Submodule and parameter names follow PyTorch (``self_attn.in_proj_weight``,
``linear1``, ``norm1`` ...), so state dicts load both ways. irgrad always runs what
PyTorch calls the slow path (no fused inference kernels, no nested tensors).  A package
rather than modules beside it, so that ``irgrad.nn.modules.transformer`` stays the path
of these classes.
"""

from . import attention, encoder_decoder, layers, stacks
from .attention import *  # noqa: F401,F403
from .encoder_decoder import *  # noqa: F401,F403
from .layers import *  # noqa: F401,F403
from .stacks import *  # noqa: F401,F403

__all__ = [*attention.__all__, *layers.__all__, *stacks.__all__, *encoder_decoder.__all__]
