"""``torch.backends.cuda``: settable flags; there is no CUDA.

The scaled-dot-product-attention switches are PyTorch's global ones, which also govern
its CPU kernels: ``scaled_dot_product_attention`` on the CPU runs the flash kernel or
the math one, and raises PyTorch's error when the switches leave it neither (see
``irgrad.nn.functional.sdp_backend``). ``irgrad.nn.attention.sdpa_kernel`` sets them for
a block.
"""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace

matmul = SimpleNamespace(allow_tf32=False, allow_fp16_reduced_precision_reduction=True)

# Whether each attention kernel may run, by PyTorch's flag names (all on by default).
SDP_ENABLED = {"cudnn": True, "flash": True, "mem_efficient": True, "math": True, "overrideable": True}


def is_built() -> bool:
    return False


def _switch(flag: str, kernel: str) -> tuple[Callable[[], bool], Callable[[bool], None]]:
    """PyTorch's ``{flag}_sdp_enabled()`` and ``enable_{flag}_sdp(enabled)`` for ``kernel``."""

    def enabled() -> bool:
        return SDP_ENABLED[flag]

    def enable(enabled: bool) -> None:
        SDP_ENABLED[flag] = bool(enabled)

    enabled.__name__ = enabled.__qualname__ = f"{flag}_sdp_enabled"
    enabled.__doc__ = f"Whether the {kernel} attention kernel may run."
    enable.__name__ = enable.__qualname__ = f"enable_{flag}_sdp"
    enable.__doc__ = f"Allow (True) or forbid the {kernel} attention kernel."
    return enabled, enable


flash_sdp_enabled, enable_flash_sdp = _switch("flash", "flash (on the CPU, PyTorch's CPU flash)")
mem_efficient_sdp_enabled, enable_mem_efficient_sdp = _switch("mem_efficient", "memory-efficient (CUDA only)")
math_sdp_enabled, enable_math_sdp = _switch("math", "math (every device's composite)")
cudnn_sdp_enabled, enable_cudnn_sdp = _switch("cudnn", "cuDNN (CUDA only)")
