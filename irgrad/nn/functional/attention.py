"""Attention: ``scaled_dot_product_attention`` and ``multi_head_attention_forward``, as PyTorch.

Both are composites of public tensor ops (matmul, softmax, where ...), so autograd and
tracing come for free. Mask conventions follow PyTorch exactly, and they differ:
for ``scaled_dot_product_attention`` a bool mask marks the positions that MAY be
attended; for multi-head attention (``attn_mask``, ``key_padding_mask``) a bool mask
marks the positions that may NOT. Float masks are added to the scores in both.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from ..._arguments import tensor_arguments
from ...creation import zeros, zeros_like
from ...dtypes import bool_, dtype, float32
from ...tensor import Tensor
from ...tensor_ops.linalg import matmul
from ...tensor_ops.pointwise import add, masked_fill, mul, where
from ...tensor_ops.reduce import all as all_
from ...tensor_ops.reduce import softmax
from ...tensor_ops.shape import expand, reshape, transpose
from ...tensor_ops.split_join import cat, chunk, split
from .dropout import dropout
from .layers import linear
from .sdp_backend import check_kernel_available, cpp_type_name

__all__ = ["scaled_dot_product_attention", "multi_head_attention_forward"]


def _safe_softmax(scores: Tensor) -> Tensor:
    """Softmax over the last dim, with 0 (not NaN) for rows that are entirely -inf, as PyTorch's SDPA.

    Such rows are replaced by zeros BEFORE the softmax too, so no NaN reaches the gradient.
    """
    dead = all_(scores == -math.inf, -1, keepdim=True)
    return where(dead, 0.0, softmax(where(dead, 0.0, scores), -1))


@tensor_arguments
def scaled_dot_product_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    attn_mask: Tensor | None = None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    scale: float | None = None,
    enable_gqa: bool = False,
) -> Tensor:
    """``softmax(Q K^T * scale + mask) V`` over the last two dims (``(..., L, E)``, ``(..., S, E)``).

    A bool ``attn_mask`` marks allowed positions; a float one is added. ``is_causal``
    masks out keys after each query (``tril``). Rows with no allowed key give zeros.
    """
    _validate(query, key, value, attn_mask)
    check_kernel_available(query, key, value, attn_mask, dropout_p, enable_gqa)
    if is_causal and attn_mask is not None:
        raise RuntimeError(
            "_scaled_dot_product_attention: Explicit attn_mask should not be set when is_causal=True"
        )
    if enable_gqa:
        key, value = _repeat_kv_heads(query, key), _repeat_kv_heads(query, value)
    length, source = query.shape[-2], key.shape[-2]
    # (an empty embedding gives all-zero scores whatever the scale: uniform attention, as torch)
    factor = (1.0 / math.sqrt(query.shape[-1]) if query.shape[-1] else 1.0) if scale is None else scale
    scores = mul(matmul(query, transpose(key, -2, -1)), factor)
    if is_causal:
        allowed = Tensor._wrap(np.tril(np.ones((length, source), dtype=bool)))
        scores = masked_fill(scores, ~allowed, -math.inf)
    if attn_mask is not None:
        if attn_mask.dtype is bool_:
            scores = masked_fill(scores, ~attn_mask, -math.inf)
        else:
            scores = add(scores, attn_mask)
        weights = _safe_softmax(scores)
    else:
        weights = softmax(scores, -1)
    if dropout_p > 0.0:
        weights = dropout(weights, dropout_p, training=True)
    return matmul(weights, value)


def _validate(query: Tensor, key: Tensor, value: Tensor, attn_mask: Tensor | None) -> None:
    """PyTorch's checks before it picks a kernel (``validate_sdpa_input``), with its messages."""
    if not (query.dtype is key.dtype is value.dtype):
        raise RuntimeError(
            f"Expected query, key, and value to have the same dtype, but got query.dtype: "
            f"{cpp_type_name(query.dtype)} key.dtype: {cpp_type_name(key.dtype)} and value.dtype: "
            f"{cpp_type_name(value.dtype)} instead."
        )
    if query.dim() < 2 or key.dim() < 2 or value.dim() < 2:
        raise RuntimeError(
            "Expected query, key, and value to all be  at least 2 dimensional, but got query.dim: "
            f"{query.dim()} key.dim: {key.dim()} and value.dim: {value.dim()} instead."
        )
    if attn_mask is not None and attn_mask.dtype not in (bool_, float32, query.dtype):
        raise RuntimeError(
            "Expected attn_mask dtype to be bool or float or to match query dtype, but got attn_mask.dtype: "
            f"{cpp_type_name(attn_mask.dtype)} and  query.dtype: {cpp_type_name(query.dtype)} instead."
        )


def _repeat_kv_heads(query: Tensor, kv: Tensor) -> Tensor:
    """Grouped-query attention: each of ``kv``'s heads (dim -3) repeated for its group of query heads."""
    heads, kv_heads = query.shape[-3], kv.shape[-3]
    if heads % kv_heads:
        raise RuntimeError(
            f"scaled_dot_product_attention: number of query heads ({heads}) must be divisible by the "
            f"number of key/value heads ({kv_heads}) with enable_gqa=True"
        )
    shape = tuple(kv.shape)
    grouped = expand(kv.unsqueeze(-3), shape[:-2] + (heads // kv_heads,) + shape[-2:])
    return reshape(grouped, shape[:-3] + (heads,) + shape[-2:])


# --- multi-head attention --------------------------------------------------------------------


def _canonical_mask(
    mask: Tensor | None,
    mask_name: str,
    other_type: dtype | None,
    other_name: str,
    target_type: dtype,
    check_other: bool = True,
) -> Tensor | None:
    """A bool mask (True = masked out) as a float mask of ``target_type`` (-inf where masked)."""
    if mask is None:
        return None
    is_float = mask.is_floating_point()
    if mask.dtype is not bool_ and not is_float:
        raise AssertionError(f"only bool and floating types of {mask_name} are supported")
    if check_other and other_type is not None and mask.dtype != other_type:
        warnings.warn(
            f"Support for mismatched {mask_name} and {other_name} is deprecated. Use same type for both instead.",
            stacklevel=3,
        )
    if not is_float:
        return masked_fill(zeros_like(mask, dtype=target_type), mask, -math.inf)
    return mask


def _check_shapes(
    query: Tensor, key: Tensor, value: Tensor, key_padding_mask, attn_mask, num_heads: int
) -> bool:
    """PyTorch's shape checks for multi-head attention; returns whether the input is batched."""
    if query.dim() == 3:
        if key.dim() != 3 or value.dim() != 3:
            raise AssertionError(
                "For batched (3-D) `query`, expected `key` and `value` to be 3-D but found "
                f"{key.dim()}-D and {value.dim()}-D tensors respectively"
            )
        if key_padding_mask is not None and key_padding_mask.dim() != 2:
            raise AssertionError(
                "For batched (3-D) `query`, expected `key_padding_mask` to be `None` or 2-D but found "
                f"{key_padding_mask.dim()}-D tensor instead"
            )
        if attn_mask is not None and attn_mask.dim() not in (2, 3):
            raise AssertionError(
                "For batched (3-D) `query`, expected `attn_mask` to be `None`, 2-D or 3-D but found "
                f"{attn_mask.dim()}-D tensor instead"
            )
        return True
    if query.dim() == 2:
        if key.dim() != 2 or value.dim() != 2:
            raise AssertionError(
                "For unbatched (2-D) `query`, expected `key` and `value` to be 2-D but found "
                f"{key.dim()}-D and {value.dim()}-D tensors respectively"
            )
        if key_padding_mask is not None and key_padding_mask.dim() != 1:
            raise AssertionError(
                "For unbatched (2-D) `query`, expected `key_padding_mask` to be `None` or 1-D but found "
                f"{key_padding_mask.dim()}-D tensor instead"
            )
        if attn_mask is not None:
            if attn_mask.dim() not in (2, 3):
                raise AssertionError(
                    "For unbatched (2-D) `query`, expected `attn_mask` to be `None`, 2-D or 3-D but found "
                    f"{attn_mask.dim()}-D tensor instead"
                )
            expected = (num_heads, query.shape[0], key.shape[0])
            if attn_mask.dim() == 3 and tuple(attn_mask.shape) != expected:
                raise AssertionError(f"Expected `attn_mask` shape to be {expected} but got {attn_mask.shape}")
        return False
    raise AssertionError(
        f"query should be unbatched 2D or batched 3D tensor but received {query.dim()}-D query tensor"
    )


def _in_projection_packed(q: Tensor, k: Tensor, v: Tensor, w: Tensor, b: Tensor | None) -> tuple:
    """Project q, k, v with the rows of one packed ``(3E, E)`` weight; one matmul when q is k is v."""
    e = q.shape[-1]
    if k is v:
        if q is k:
            return chunk(linear(q, w, b), 3, -1)
        w_q, w_kv = split(w, [e, 2 * e])
        b_q, b_kv = (None, None) if b is None else split(b, [e, 2 * e])
        return (linear(q, w_q, b_q), *chunk(linear(k, w_kv, b_kv), 2, -1))
    ws = chunk(w, 3)
    bs = (None, None, None) if b is None else chunk(b, 3)
    return tuple(linear(x, wi, bi) for x, wi, bi in zip((q, k, v), ws, bs))


def _heads(x: Tensor, batch_heads: int, head_dim: int) -> Tensor:
    """``(S, N, E)`` -> ``(N * heads, S, head_dim)``."""
    return transpose(reshape(x, (x.shape[0], batch_heads, head_dim)), 0, 1)


@tensor_arguments
def multi_head_attention_forward(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    embed_dim_to_check: int,
    num_heads: int,
    in_proj_weight: Tensor | None,
    in_proj_bias: Tensor | None,
    bias_k: Tensor | None,
    bias_v: Tensor | None,
    add_zero_attn: bool,
    dropout_p: float,
    out_proj_weight: Tensor,
    out_proj_bias: Tensor | None,
    training: bool = True,
    key_padding_mask: Tensor | None = None,
    need_weights: bool = True,
    attn_mask: Tensor | None = None,
    use_separate_proj_weight: bool = False,
    q_proj_weight: Tensor | None = None,
    k_proj_weight: Tensor | None = None,
    v_proj_weight: Tensor | None = None,
    static_k: Tensor | None = None,
    static_v: Tensor | None = None,
    average_attn_weights: bool = True,
    is_causal: bool = False,
) -> tuple[Tensor, Tensor | None]:
    """Multi-head attention on sequence-first inputs (``(L, N, E)``, or unbatched ``(L, E)``).

    Returns ``(attn_output, attn_weights)``; the weights are averaged over heads unless
    ``average_attn_weights=False`` and are ``None`` when ``need_weights=False``.
    """
    batched = _check_shapes(query, key, value, key_padding_mask, attn_mask, num_heads)
    if not batched:
        query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.unsqueeze(0)
    tgt_len, bsz, embed_dim = query.shape
    key_padding_mask = _canonical_mask(
        key_padding_mask,
        "key_padding_mask",
        None if attn_mask is None else attn_mask.dtype,
        "attn_mask",
        query.dtype,
    )
    if is_causal and attn_mask is None:
        raise RuntimeError(
            "Need attn_mask if specifying the is_causal hint. You may use the Transformer module method "
            "`generate_square_subsequent_mask` to create this mask."
        )
    if is_causal and key_padding_mask is None and not need_weights:
        attn_mask = None  # SDPA builds the causal mask itself
    else:
        attn_mask = _canonical_mask(attn_mask, "attn_mask", None, "", query.dtype, check_other=False)
        if key_padding_mask is not None:
            is_causal = False
    if embed_dim != embed_dim_to_check:
        raise AssertionError(
            f"was expecting embedding dimension of {embed_dim_to_check}, but got {embed_dim}"
        )
    head_dim = embed_dim // num_heads
    if head_dim * num_heads != embed_dim:
        raise AssertionError(f"embed_dim {embed_dim} not divisible by num_heads {num_heads}")

    if use_separate_proj_weight:
        if tuple(key.shape[:2]) != tuple(value.shape[:2]):
            raise AssertionError(
                f"key's sequence and batch dims {key.shape[:2]} do not match value's {value.shape[:2]}"
            )
        b_q, b_k, b_v = (None, None, None) if in_proj_bias is None else chunk(in_proj_bias, 3)
        q, k, v = (
            linear(query, q_proj_weight, b_q),
            linear(key, k_proj_weight, b_k),
            linear(value, v_proj_weight, b_v),
        )
    else:
        if tuple(key.shape) != tuple(value.shape):
            raise AssertionError(f"key shape {key.shape} does not match value shape {value.shape}")
        if in_proj_weight is None:
            raise AssertionError("use_separate_proj_weight is False but in_proj_weight is None")
        q, k, v = _in_projection_packed(query, key, value, in_proj_weight, in_proj_bias)

    src_len = key.shape[0]
    if attn_mask is not None:
        if attn_mask.dim() == 2:
            if tuple(attn_mask.shape) != (tgt_len, src_len):
                raise RuntimeError(
                    f"The shape of the 2D attn_mask is {attn_mask.shape}, but should be {(tgt_len, src_len)}."
                )
            attn_mask = attn_mask.unsqueeze(0)
        elif tuple(attn_mask.shape) != (bsz * num_heads, tgt_len, src_len):
            raise RuntimeError(
                f"The shape of the 3D attn_mask is {attn_mask.shape}, but should be "
                f"{(bsz * num_heads, tgt_len, src_len)}."
            )

    if bias_k is not None and bias_v is not None:
        if static_k is not None or static_v is not None:
            raise AssertionError(
                "bias cannot be added to static key."
                if static_k is not None
                else "bias cannot be added to static value."
            )
        k = cat([k, expand(bias_k, (1, bsz, embed_dim))])
        v = cat([v, expand(bias_v, (1, bsz, embed_dim))])
        attn_mask = _pad_last(attn_mask)
        key_padding_mask = _pad_last(key_padding_mask)
    elif bias_k is not None or bias_v is not None:
        raise AssertionError(
            "bias_k is set but bias_v is None" if bias_k is not None else "bias_v is set but bias_k is None"
        )

    batch_heads = bsz * num_heads
    q = _heads(q, batch_heads, head_dim)
    k = (
        _heads(k, batch_heads, head_dim)
        if static_k is None
        else _static(static_k, "static_k", batch_heads, head_dim)
    )
    v = (
        _heads(v, batch_heads, head_dim)
        if static_v is None
        else _static(static_v, "static_v", batch_heads, head_dim)
    )
    if add_zero_attn:
        k = cat([k, zeros((batch_heads, 1, head_dim), dtype=k.dtype)], 1)
        v = cat([v, zeros((batch_heads, 1, head_dim), dtype=v.dtype)], 1)
        attn_mask = _pad_last(attn_mask)
        key_padding_mask = _pad_last(key_padding_mask)
    src_len = k.shape[1]

    if key_padding_mask is not None:
        if tuple(key_padding_mask.shape) != (bsz, src_len):
            raise AssertionError(
                f"Expected key_padded_mask.shape to be {(bsz, src_len)}, but got {tuple(key_padding_mask.shape)}"
            )
        kpm = reshape(
            expand(reshape(key_padding_mask, (bsz, 1, 1, src_len)), (bsz, num_heads, 1, src_len)),
            (batch_heads, 1, src_len),
        )
        attn_mask = kpm if attn_mask is None else add(attn_mask, kpm)
    if not training:
        dropout_p = 0.0

    if need_weights:
        scores = matmul(mul(q, math.sqrt(1.0 / float(head_dim))), transpose(k, -2, -1))
        if attn_mask is not None:
            scores = add(attn_mask, scores)
        weights = softmax(scores, -1)
        if dropout_p > 0.0:
            weights = dropout(weights, dropout_p)
        out = matmul(weights, v)
        out = reshape(transpose(out, 0, 1), (tgt_len * bsz, embed_dim))
        out = reshape(linear(out, out_proj_weight, out_proj_bias), (tgt_len, bsz, -1))
        weights = reshape(weights, (bsz, num_heads, tgt_len, src_len))
        if average_attn_weights:
            weights = weights.mean(1)
        if not batched:
            out, weights = out.squeeze(1), weights.squeeze(0)
        return out, weights

    if attn_mask is not None:
        attn_mask = (
            attn_mask.unsqueeze(0)
            if attn_mask.shape[0] == 1
            else reshape(attn_mask, (bsz, num_heads, -1, src_len))
        )
    q = reshape(q, (bsz, num_heads, tgt_len, head_dim))
    k = reshape(k, (bsz, num_heads, src_len, head_dim))
    v = reshape(v, (bsz, num_heads, src_len, head_dim))
    out = scaled_dot_product_attention(q, k, v, attn_mask, dropout_p, is_causal)
    out = reshape(out.permute(2, 0, 1, 3), (bsz * tgt_len, embed_dim))
    out = reshape(linear(out, out_proj_weight, out_proj_bias), (tgt_len, bsz, -1))
    return (out if batched else out.squeeze(1)), None


def _pad_last(mask: Tensor | None) -> Tensor | None:
    """A (float) mask with one more, unmasked, key position at the end."""
    if mask is None:
        return None
    return cat([mask, zeros(tuple(mask.shape[:-1]) + (1,), dtype=mask.dtype)], -1)


def _static(t: Tensor, name: str, batch_heads: int, head_dim: int) -> Tensor:
    if t.shape[0] != batch_heads:
        raise AssertionError(f"expecting {name}.size(0) of {batch_heads}, but got {t.shape[0]}")
    if t.shape[2] != head_dim:
        raise AssertionError(f"expecting {name}.size(2) of {head_dim}, but got {t.shape[2]}")
    return t
