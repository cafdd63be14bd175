"""``DataParallel`` on one CPU device: calls the wrapped module."""

from __future__ import annotations

from typing import Any

from ..modules.module import Module


class DataParallel(Module):
    """Wraps ``module``; with a single (CPU) device there is nothing to scatter or gather,
    so a call is the module's call.  The parameters are the module's (``module.`` prefixed
    in ``state_dict``, as in PyTorch)."""

    def __init__(self, module: Module, device_ids=None, output_device=None, dim: int = 0) -> None:
        super().__init__()
        self.module = module
        self.device_ids = [] if device_ids is None else list(device_ids)
        self.output_device = output_device
        self.dim = dim

    def forward(self, *inputs: Any, **kwargs: Any) -> Any:
        return self.module(*inputs, **kwargs)
