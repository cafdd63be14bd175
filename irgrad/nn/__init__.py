"""``irgrad.nn``: modules, parameters, initialisation and functional forms, as ``torch.nn``."""

from . import attention, functional, init, parallel, utils  # noqa: F401
from .modules import *  # noqa: F401,F403
from .parallel import DataParallel  # noqa: F401  (torch.nn.DataParallel)
from .parameter import *  # noqa: F401,F403
