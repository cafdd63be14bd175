"""PyTorch's import path for custom Functions (``torch.autograd.function``).

They are defined in :mod:`irgrad.recording.function`: applying one records a node, as an
op does, so tensor functions below this package may define theirs.
"""

from ..recording.function import Function, FunctionCtx, FunctionNode, once_differentiable

__all__ = ["Function", "FunctionCtx", "FunctionNode", "once_differentiable"]
