"""``autocast``: accepted, and a no-op (irgrad computes in its inputs' dtypes)."""

from __future__ import annotations

import functools
import warnings

from ..dtypes import float32, to_dtype

_DEVICE_TYPES = ("cpu", "cuda", "xpu", "mps")


def is_autocast_available(device_type: str) -> bool:
    """Whether ``autocast`` accepts ``device_type`` (as PyTorch answers for its devices)."""
    return device_type in _DEVICE_TYPES


class autocast:  # noqa: N801 - PyTorch's name
    """``with irgrad.autocast("cpu"):`` runs its body unchanged.

    PyTorch would run matmuls and convolutions in ``dtype`` (bfloat16 on the CPU by
    default) inside it. irgrad has no low-precision kernels, so an enabled autocast
    with a dtype other than float32 warns once and computes in full precision: results
    are more accurate than PyTorch's, and their dtype is the inputs'.
    """

    _warned = False

    def __init__(self, device_type: str = "cpu", dtype=None, enabled: bool = True, cache_enabled=None):
        if not isinstance(device_type, str) or device_type not in _DEVICE_TYPES:
            raise RuntimeError(
                f"User specified an unsupported autocast device_type '{device_type}' "
                f"(irgrad accepts {', '.join(_DEVICE_TYPES)})"
            )
        self.device_type, self.enabled = device_type, bool(enabled)
        self.fast_dtype = to_dtype(dtype) if dtype is not None else None
        if self.enabled and self.fast_dtype is not float32 and not autocast._warned:
            autocast._warned = True
            warnings.warn(
                f"irgrad.autocast({device_type!r}, dtype={dtype}): irgrad has no low-precision kernels; "
                "the body runs in its inputs' dtypes (full precision).",
                UserWarning,
                stacklevel=2,
            )

    def __enter__(self) -> autocast:
        return self

    def __exit__(self, *exc_info) -> None:
        return None

    def __call__(self, fn):
        @functools.wraps(fn)
        def run(*args, **kwargs):
            with self:
                return fn(*args, **kwargs)

        return run
