"""Which kernel PyTorch's CPU ``scaled_dot_product_attention`` would run, so that irgrad
raises where PyTorch does when ``sdpa_kernel`` (or ``torch.backends.cuda.enable_*_sdp``)
leaves it none.

On the CPU PyTorch has two kernels: flash attention, tried first when enabled and when
its checks accept the inputs, and math, which takes anything. Both compute the same
attention, and irgrad computes it one way; what the switches change is only whether a
call runs at all. With neither kernel enabled, every non-empty call raises; with flash
alone, a call the flash checks refuse warns why and raises. The checks, their order and
their messages are PyTorch's (``sdp_utils_cpp``); a call with an empty query or value
skips the choice, as PyTorch's.
"""

from __future__ import annotations

import warnings

from ...backends.cuda import SDP_ENABLED
from ...dtypes import bfloat16, bool_, float16, float32, float64, int8, int16, int32, int64, uint8
from ...tensor import Tensor

__all__ = ["check_kernel_available", "cpp_type_name"]

_FLASH_DTYPES = (float32, float64, bfloat16, float16)

# The C++ names PyTorch's attention messages print for dtypes.
_CPP_NAMES = {
    float32: "float",
    float64: "double",
    float16: "c10::Half",
    bfloat16: "c10::BFloat16",
    int64: "long int",
    int32: "int",
    int16: "short int",
    int8: "signed char",
    uint8: "unsigned char",
    bool_: "bool",
}


def cpp_type_name(dt) -> str:
    """``dt`` as PyTorch's attention messages print it (``float``, ``long int``)."""
    return _CPP_NAMES[dt]


def _sizes(t: Tensor) -> str:
    return str(list(t.shape))


def _flash_refusal(
    query: Tensor, key: Tensor, value: Tensor, attn_mask: Tensor | None, dropout_p: float, enable_gqa: bool
) -> str | None:
    """Why PyTorch's CPU flash kernel refuses these inputs: the warning of its first
    failing check ("" for a check that fails silently), or None when it accepts them."""
    if dropout_p > 0.0:
        return "Both fused kernels do not support non-zero dropout."
    dims = (query.dim(), key.dim(), value.dim())
    if dims != (4, 4, 4):
        return (
            "All fused kernels requires query, key and value to be 4 dimensional, but got Query dim: "
            f"{dims[0]}, Key dim: {dims[1]}, Value dim: {dims[2]} instead."
        )
    q, k, v = query.shape, key.shape, value.shape
    broadcast_hint = (
        "To broadcast dense inputs, try using unsqueeze and expand_to before passing them into the kernel."
    )
    if not q[0] == k[0] == v[0]:
        return (
            "For dense inputs, both fused kernels require query, key and value to have the same batch_size. "
            f"Query.sizes(): {_sizes(query)}, Key.sizes(): {_sizes(key)}, Value.sizes(): {_sizes(value)} "
            f"instead. {broadcast_hint}"
        )
    if enable_gqa:
        if k[1] != v[1]:
            return (
                "Both fused kernels require key and value to have the same num_heads and batch_size but got: "
                f"Key sizes: {_sizes(key)}, Value sizes: {_sizes(value)}, Query sizes: {_sizes(query)} instead."
            )
        if q[1] % k[1]:
            return (
                "The number of heads in key/value must divide number of heads in query.Got input Key sizes(): "
                f"{k[1]}, Value sizes(): {v[1]}, Query sizes(): {q[1]} instead."
            )
    elif not q[1] == k[1] == v[1]:
        return (
            "For dense input, both fused kernels require query, key and value to have the same num_heads. "
            f"Query.sizes(): {_sizes(query)}, Key sizes(): {_sizes(key)}, Value sizes(): {_sizes(value)} "
            f"instead. {broadcast_hint}"
        )
    if attn_mask is not None:
        mask = attn_mask.shape
        if attn_mask.requires_grad:
            return ""
        # (size(), not shape[]: a mask of fewer than 2 dims raises IndexError, as PyTorch's check does)
        if attn_mask.size(-2) not in (q[2], 1) or attn_mask.size(-1) not in (k[2], 1):
            return ""
        batch_and_heads = len(mask) == 4 and mask[0] in (1, q[0]) and mask[1] in (1, q[1])
        if len(mask) != 2 and not batch_and_heads:
            return (
                "Please use the following attn mask shapes: 2d - ({Q_seq_len, 1}  x {KV_seq_len, 1}); "
                "4d - ({Batch, 1} x {Num_heads, 1} x {Q_seq_len, 1}  x {KV_seq_len, 1})"
            )
    if not q[3] == k[3] == v[3]:
        return (
            "Flash attention requires q,k,v to have the same last dimension. Got Query.size(-1): "
            f"{q[3]}, Key.size(-1): {k[3]}, Value.size(-1): {v[3]} instead."
        )
    if q[2] == 0 or k[2] == 0:
        return "All fused kernels do not support zero seq_len_q or seq_len_kv."
    strides = (query.stride(-1), key.stride(-1), value.stride(-1))
    if strides != (1, 1, 1):
        message = (
            "All fused kernels require the last dimension of the input to have stride 1. Got Query.stride(-1): "
            f"{strides[0]}, Key.stride(-1): {strides[1]}, Value.stride(-1): {strides[2]}"
        )
        if attn_mask is not None:
            message += (
                f", Attn_mask.stride(-1): {attn_mask.stride(-1)} (GPU backends require attn_mask's last "
                "dimension to have stride 1 while the CPU does not)."
            )
        return message
    if not (query.dtype is key.dtype is value.dtype and query.dtype in _FLASH_DTYPES):
        return (
            "Expected query, key and value to all be of dtype: {Float, Double, BFloat16, Half}. Got Query dtype: "
            f"{cpp_type_name(query.dtype)}, Key dtype: {cpp_type_name(key.dtype)}, and Value dtype: "
            f"{cpp_type_name(value.dtype)} instead."
        )
    return None


def check_kernel_available(
    query: Tensor, key: Tensor, value: Tensor, attn_mask: Tensor | None, dropout_p: float, enable_gqa: bool
) -> None:
    """Raise (and warn) as PyTorch's CPU ``scaled_dot_product_attention`` does when the
    enabled kernels cannot run this call; return when one can."""
    if query.numel() == 0 or value.numel() == 0:
        return
    if not SDP_ENABLED["math"] and not SDP_ENABLED["flash"]:
        raise RuntimeError(
            "No viable backend for scaled_dot_product_attention was found. This is likely due to turning off "
            "both the math kernel and the fused kernels."
        )
    if SDP_ENABLED["math"]:  # math takes any input, so the flash checks decide nothing
        return
    reason = _flash_refusal(query, key, value, attn_mask, dropout_p, enable_gqa)
    if reason is None:
        return
    warnings.warn("Flash attention kernel not used because:", UserWarning, stacklevel=3)
    if reason:
        warnings.warn(reason, UserWarning, stacklevel=3)
    raise RuntimeError("No available kernel.  Aborting execution.")
