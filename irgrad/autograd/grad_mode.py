"""PyTorch's import path for the grad modes (``torch.autograd.grad_mode``).

They are defined in :mod:`irgrad.recording.grad_mode`, below dispatch, which reads them.
"""

from ..recording.grad_mode import (
    enable_grad,
    inference_mode,
    is_grad_enabled,
    is_inference_mode_enabled,
    no_grad,
    set_grad_enabled,
)

__all__ = [
    "enable_grad",
    "inference_mode",
    "is_grad_enabled",
    "is_inference_mode_enabled",
    "no_grad",
    "set_grad_enabled",
]
