"""``torch.cuda.amp`` (deprecated in PyTorch): ``GradScaler`` and ``autocast`` for "cuda",
which on a machine without a GPU PyTorch disables with a warning, and so does irgrad."""

from __future__ import annotations

import warnings

from .autocast_mode import autocast as _autocast
from .grad_scaler import GradScaler as _GradScaler


class GradScaler(_GradScaler):
    """``torch.cuda.amp.GradScaler(args...)``: ``torch.amp.GradScaler("cuda", args...)``."""

    def __init__(
        self, init_scale=2.0**16, growth_factor=2.0, backoff_factor=0.5, growth_interval=2000, enabled=True
    ):
        warnings.warn(
            "`torch.cuda.amp.GradScaler(args...)` is deprecated. Please use "
            "`torch.amp.GradScaler('cuda', args...)` instead.",
            FutureWarning,
            stacklevel=2,
        )
        super().__init__("cuda", init_scale, growth_factor, backoff_factor, growth_interval, enabled)


class autocast(_autocast):  # noqa: N801 - PyTorch's name
    """``torch.cuda.amp.autocast(args...)``: ``torch.amp.autocast("cuda", args...)``."""

    def __init__(self, enabled: bool = True, dtype=None, cache_enabled=None):
        super().__init__("cuda", dtype=dtype, enabled=enabled, cache_enabled=cache_enabled)
