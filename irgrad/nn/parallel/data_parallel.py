"""``DataParallel`` as PyTorch runs it on a machine without an accelerator: the wrapped
module, called directly."""

from __future__ import annotations

from typing import Any

from ..modules.module import Module


class DataParallel(Module):
    """Wraps ``module``. PyTorch finds no accelerator on irgrad's machine, so, as its
    ``DataParallel`` does there, this keeps only ``module`` and ``device_ids = []``
    (whatever ``device_ids``, ``output_device`` and ``dim`` say, and with no ``dim`` nor
    ``output_device`` attribute), and a call is the module's call: nothing is scattered,
    replicated or gathered. The parameters are the module's, ``module.``-prefixed in
    ``state_dict``, so checkpoints load into PyTorch's ``DataParallel``."""

    def __init__(self, module: Module, device_ids=None, output_device=None, dim: int = 0) -> None:
        super().__init__()
        self.module = module
        self.device_ids: list = []

    def forward(self, *inputs: Any, **kwargs: Any) -> Any:
        return self.module(*inputs, **kwargs)
