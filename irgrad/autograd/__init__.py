"""Autograd above dispatch: the backward engine, custom Functions, gradient checks.

What ops record as they run (grad modes, nodes, view records) is :mod:`irgrad.recording`,
below dispatch; this package runs that record backwards.  ``grad_mode`` is re-exported
here under PyTorch's name.
"""

from . import functional, grad_mode, profiler
from .engine import backward, grad
from .function import Function, FunctionCtx, once_differentiable
from .grad_mode import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from .gradcheck import GradcheckError, gradcheck, gradgradcheck
from .variable import Variable

__all__ = [
    "Function",
    "FunctionCtx",
    "GradcheckError",
    "backward",
    "enable_grad",
    "functional",
    "grad",
    "grad_mode",
    "gradcheck",
    "gradgradcheck",
    "inference_mode",
    "is_grad_enabled",
    "no_grad",
    "profiler",
    "once_differentiable",
    "set_grad_enabled",
    "Variable",
]
