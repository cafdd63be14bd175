"""``irgrad.jit``: ``torch.jit``'s names, as they behave when a PyTorch script runs.

Model code uses ``torch.jit`` in two ways.  Its decorators and annotations
(``@torch.jit.ignore``, ``@torch.jit.unused``, ``torch.jit.Final[bool]``,
``torch.jit.is_scripting()`` ...) run at import or call time and, outside TorchScript,
do nothing but return what they were given; a missing name breaks the import of a whole
model file, so each is here with eager PyTorch's behaviour (its warnings and errors
included).  ``script`` and ``trace`` ask for a compiled model: here they compile with
:func:`irgrad.compile`, which follows the Python code at every call, so the result is
the eager model's, in training and evaluation mode alike.  What only TorchScript can
give (its archives, its code and IR) raises ``NotImplementedError`` naming what irgrad
offers instead.  See docs/pytorch-differences.md.
"""

from .decorators import *  # noqa: F403
from .decorators import __all__ as _decorators
from .scripting import *  # noqa: F403
from .scripting import __all__ as _scripting
from .tracing import *  # noqa: F403
from .tracing import __all__ as _tracing

__all__ = sorted([*_decorators, *_scripting, *_tracing])
