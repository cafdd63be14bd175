"""nn utilities: gradient clipping and variable-length sequence packing."""

from . import rnn  # noqa: F401
from .clip_grad import *  # noqa: F401,F403
from .convert import *  # noqa: F401,F403
