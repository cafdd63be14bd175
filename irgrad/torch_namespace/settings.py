"""PyTorch's global switches that scripts set at the top (``torch.set_float32_matmul_precision``,
``torch.use_deterministic_algorithms`` ...), and the small top-level helpers ``typename``,
``is_storage``, ``_assert`` and the deprecated ``range``.

irgrad validates each value as PyTorch does and records it, so the matching getter
answers as PyTorch's would; none changes irgrad's numerics: float32 math is float32
under every matmul precision, every irgrad kernel is deterministic, the only device is
the CPU, and denormals are not flushed (docs: pytorch-differences).
"""

from __future__ import annotations

import math
import warnings

from ..creation import arange
from ..dispatch import cast
from ..dtypes import float64, get_default_dtype, set_default_dtype, to_dtype
from ..native import pool
from ..tensor import Tensor, device
from ..tensor_ops.legacy import type_target

__all__ = [
    "set_float32_matmul_precision",
    "get_float32_matmul_precision",
    "use_deterministic_algorithms",
    "are_deterministic_algorithms_enabled",
    "is_deterministic_algorithms_warn_only_enabled",
    "set_deterministic_debug_mode",
    "get_deterministic_debug_mode",
    "set_default_device",
    "get_default_device",
    "set_default_tensor_type",
    "get_num_interop_threads",
    "set_num_interop_threads",
    "set_flush_denormal",
    "is_anomaly_enabled",
    "is_anomaly_check_nan_enabled",
    "set_anomaly_enabled",
    "set_warn_always",
    "is_warn_always_enabled",
    "typename",
    "is_storage",
]  # (and range, which irgrad/__init__ imports by name: a star import would hide the builtin here)

_STATE: dict = {
    "matmul_precision": "highest",
    "deterministic": False,
    "warn_only": False,
    "interop_threads": None,
    "anomaly": False,
    "anomaly_check_nan": True,
    "warn_always": False,
}


def _expect_bool(value, message: str) -> None:
    if not isinstance(value, bool):
        raise RuntimeError(f"{message}, but got {type(value).__name__}")


def set_float32_matmul_precision(precision: str) -> None:
    """Record ``'highest'``, ``'high'`` or ``'medium'`` (anything else warns and is ignored,
    as PyTorch's); irgrad's float32 products are float32 under each."""
    if not isinstance(precision, str):
        raise RuntimeError(f"set_float32_matmul_precision expects a str, but got {type(precision).__name__}")
    if precision not in ("highest", "high", "medium"):
        warnings.warn(
            f"{precision} is not one of 'highest', 'high', or 'medium'; the current"
            "setFloat32MatmulPrecision call has no effect.",
            UserWarning,
            2,
        )
        return
    _STATE["matmul_precision"] = precision


def get_float32_matmul_precision() -> str:
    return _STATE["matmul_precision"]


def use_deterministic_algorithms(mode: bool, *, warn_only: bool = False) -> None:
    """Record the mode; irgrad's kernels are deterministic whatever it is."""
    for name, position, value in (("mode", 1, mode), ("warn_only", 2, warn_only)):
        if not isinstance(value, bool):
            raise TypeError(
                f"_set_deterministic_algorithms(): argument '{name}' (position {position}) must be bool, "
                f"not {type(value).__name__}"
            )
    _STATE["deterministic"], _STATE["warn_only"] = mode, warn_only


def are_deterministic_algorithms_enabled() -> bool:
    return _STATE["deterministic"]


def is_deterministic_algorithms_warn_only_enabled() -> bool:
    return _STATE["warn_only"]


def set_deterministic_debug_mode(debug_mode: int | str) -> None:
    """``'default'``/0, ``'warn'``/1 or ``'error'``/2: ``use_deterministic_algorithms`` off,
    on with ``warn_only``, or on."""
    if not isinstance(debug_mode, (int, str)):
        raise TypeError(f"debug_mode must be str or int, but got {type(debug_mode)}")
    if isinstance(debug_mode, str):
        names = {"default": 0, "warn": 1, "error": 2}
        if debug_mode not in names:
            raise RuntimeError(
                f"invalid value of debug_mode, expected one of `default`, `warn`, `error`, but got {debug_mode}"
            )
        debug_mode = names[debug_mode]
    if debug_mode not in (0, 1, 2):
        raise RuntimeError(f"invalid value of debug_mode, expected 0, 1, or 2, but got {debug_mode}")
    use_deterministic_algorithms(debug_mode > 0, warn_only=debug_mode == 1)


def get_deterministic_debug_mode() -> int:
    if not _STATE["deterministic"]:
        return 0
    return 1 if _STATE["warn_only"] else 2


def set_default_device(device_: device | str | None) -> None:
    """Accept the CPU (or None, the CPU); another device raises as ``irgrad.device`` does."""
    if device_ is not None:
        device(device_)


def get_default_device() -> device:
    return device("cpu")


def set_default_tensor_type(t, /) -> None:
    """The deprecated way to set the default float dtype: ``FloatTensor``, ``DoubleTensor``
    (or their names)."""
    warnings.warn(
        "torch.set_default_tensor_type() is deprecated as of PyTorch 2.1, please use torch.set_default_dtype() "
        "and torch.set_default_device() as alternatives.",
        UserWarning,
        2,
    )
    if isinstance(t, str) and ".cuda." in t:
        raise TypeError(f"type {t} not available. Torch not compiled with CUDA enabled.")
    dtype = to_dtype(type_target(t))
    if not dtype.is_floating_point:
        raise TypeError("only floating-point types are supported as the default type")
    set_default_dtype(dtype)


def get_num_interop_threads() -> int:
    """The recorded inter-op thread count (irgrad runs ops one at a time; it defaults to
    the threads compiled code uses)."""
    return _STATE["interop_threads"] or pool.threads()


def set_num_interop_threads(num: int) -> None:
    if not isinstance(num, int) or isinstance(num, bool) or num < 1:
        raise RuntimeError("set_num_interop_threads expects a positive integer")
    _STATE["interop_threads"] = num


def set_flush_denormal(mode: bool) -> bool:
    """False: irgrad (numpy) cannot flush denormals to zero, which PyTorch's False means."""
    _expect_bool(mode, "flush_denormal expects a bool")
    return False


def set_anomaly_enabled(enabled: bool, check_nan: bool = True) -> None:
    """Record the anomaly-detection mode; irgrad records it only (``irgrad.debug_nans``
    finds the op that first makes a NaN)."""
    _STATE["anomaly"], _STATE["anomaly_check_nan"] = bool(enabled), bool(check_nan)


def is_anomaly_enabled() -> bool:
    return _STATE["anomaly"]


def is_anomaly_check_nan_enabled() -> bool:
    return _STATE["anomaly_check_nan"]


def set_warn_always(b: bool, /) -> None:
    _expect_bool(b, "setWarnOnlyOnce expects a bool")
    _STATE["warn_always"] = b


def is_warn_always_enabled() -> bool:
    return _STATE["warn_always"]


def typename(obj, /) -> str:
    """The qualified name of ``obj``'s type, and a tensor's legacy type (``'torch.FloatTensor'``)."""
    if isinstance(obj, Tensor):
        return obj.type()
    module = getattr(obj, "__module__", "") or ""
    if hasattr(obj, "__qualname__"):
        qualname = obj.__qualname__
    elif hasattr(obj, "__name__"):
        qualname = obj.__name__
    else:
        module, qualname = obj.__class__.__module__ or "", obj.__class__.__qualname__
    return qualname if module in ("", "builtins") else f"{module}.{qualname}"


def is_storage(obj, /) -> bool:
    """False: irgrad has no storage objects (tensors share numpy memory)."""
    return False


def _assert(condition, message: str) -> None:
    """``torch._assert``: an ``assert`` that symbolic tracing records as a call (irgrad.fx
    specializes ``concrete_args`` with it)."""
    assert condition, message


def range(start, end, step=1, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:  # noqa: A001
    """The deprecated end-inclusive ``arange``: ``start``, ``start + step`` ... up to ``end``,
    in the default float dtype unless ``dtype`` is given."""
    warnings.warn(
        "torch.range is deprecated and will be removed in a future release because its behavior is "
        "inconsistent with Python's range builtin. Instead, use torch.arange, which produces values in "
        "[start, end).",
        UserWarning,
        2,
    )
    start, end, step = (v.item() if isinstance(v, Tensor) else v for v in (start, end, step))
    if step == 0:
        raise RuntimeError("step must be nonzero")
    if (end - start) * step < 0:
        raise RuntimeError("upper bound and lower bound inconsistent with step sign")
    count = math.floor((end - start) / step) + 1
    values = arange(count, dtype=float64) * step + start
    result = cast(values, to_dtype(dtype) if dtype is not None else get_default_dtype())
    return result.requires_grad_(requires_grad)
