"""``torch.nn.attention``: ``SDPBackend`` names the kernels of
``scaled_dot_product_attention`` and ``sdpa_kernel`` chooses which may run in a block.

On the CPU only two exist: ``FLASH_ATTENTION`` (PyTorch's CPU flash kernel) and
``MATH``. A block that allows neither (``EFFICIENT_ATTENTION`` or ``CUDNN_ATTENTION``
alone) makes every call raise PyTorch's "No viable backend" error, and one that allows
only flash raises where the flash kernel refuses the inputs (dropout, not 4-D ...); see
``irgrad.nn.functional.sdp_backend``. irgrad computes the same attention whichever kernel
PyTorch would pick. ``flex_attention`` is not implemented: importing
``irgrad.nn.attention.flex_attention`` raises ModuleNotFoundError.
"""

from __future__ import annotations

import contextlib
import enum
from collections.abc import Iterator

from ...backends.cuda import SDP_ENABLED

__all__ = ["SDPBackend", "sdpa_kernel"]


class SDPBackend(enum.Enum):
    """The attention kernels, with PyTorch's values (``int(SDPBackend.MATH) == 0``)."""

    ERROR = -1
    MATH = 0
    FLASH_ATTENTION = 1
    EFFICIENT_ATTENTION = 2
    CUDNN_ATTENTION = 3
    OVERRIDEABLE = 4

    def __int__(self) -> int:
        return self.value


# ``torch.backends.cuda`` flag name -> the backend it switches.
_FLAGS = {
    "cudnn": SDPBackend.CUDNN_ATTENTION,
    "flash": SDPBackend.FLASH_ATTENTION,
    "mem_efficient": SDPBackend.EFFICIENT_ATTENTION,
    "math": SDPBackend.MATH,
    "overrideable": SDPBackend.OVERRIDEABLE,
}


@contextlib.contextmanager
def sdpa_kernel(backends: list[SDPBackend] | SDPBackend, set_priority: bool = False) -> Iterator[dict]:
    """Within the block, only ``backends`` may run ``scaled_dot_product_attention``;
    every flag is restored on exit. ``set_priority`` orders the CUDA kernels in PyTorch;
    the CPU tries flash before math whatever it says, so it changes nothing here."""
    if not isinstance(backends, (list, SDPBackend)):
        raise AssertionError(
            "Backend must be an instance of SDPBackend or a list of SDPBackend instances, got "
            f"{type(backends).__name__}"
        )
    if isinstance(backends, SDPBackend):
        backends = [backends]
    previous = dict(SDP_ENABLED)
    try:
        SDP_ENABLED.update({flag: backend in backends for flag, backend in _FLAGS.items()})
        yield {}
    finally:
        SDP_ENABLED.update(previous)
