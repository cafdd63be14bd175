"""Dropout: elements (``dropout``), whole channels (``dropout1d/2d/3d``) and SELU's
self-normalising forms (``alpha_dropout``, ``feature_alpha_dropout``), as PyTorch's.

Masks come from the ``uniform`` random primitive, not numpy draws, so a compiled graph
draws a fresh mask at every call from irgrad's generator.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from ..._arguments import tensor_arguments
from ...dispatch import apply
from ...dtypes import float64
from ...ops import OPS
from ...tensor import Tensor
from ...tensor_ops.pointwise import where

__all__ = ["dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout", "feature_alpha_dropout"]

# SELU's -scale * alpha: where alpha dropout sends a dropped unit (before its affine correction)
_SELU_SATURATION = -1.7580993408473766


def _check_p(p: float) -> None:
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def _apply_mask(input: Tensor, mask_shape: tuple, p: float, inplace: bool) -> Tensor:
    """Multiply by a Bernoulli(1-p) mask of ``mask_shape`` scaled by 1/(1-p)."""
    if p == 1.0:
        mask_t = Tensor._wrap(np.zeros(mask_shape, dtype=input._data.dtype))
    else:
        # A random primitive (not a numpy draw), so compiled graphs draw a fresh mask per call.
        draws = apply(OPS["uniform"], (), {"shape": tuple(mask_shape), "dtype": input.dtype})
        mask_t = (draws >= p).to(input.dtype) * (1.0 / (1.0 - p))
    return input.mul_(mask_t) if inplace else input * mask_t


@tensor_arguments
def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero each element with probability ``p`` and scale the rest by 1/(1-p) (identity unless training)."""
    _check_p(p)
    if not training or p == 0.0:
        return input
    return _apply_mask(input, tuple(input.shape), p, inplace)


def _feature_dropout(
    name: str, input: Tensor, p: float, training: bool, inplace: bool, spatial: int
) -> Tensor:
    _check_p(p)
    nd = input.ndim
    if name == "dropout2d" and nd == 2:
        # PyTorch warns and drops element by element (each row a batch item, each column a
        # channel of no spatial extent); a future release will make it an error.
        warnings.warn(
            "dropout2d: Received a 2-D input to dropout2d, which is deprecated and will result in an "
            "error in a future release. To retain the behavior and silence this warning, please use "
            "dropout instead. Note that dropout2d exists to provide channel-wise dropout on inputs with "
            "2 spatial dimensions, a channel dimension, and an optional batch dimension (i.e. 3D or 4D "
            "inputs).",
            stacklevel=3,
        )
        spatial = 0
    elif nd not in (spatial + 1, spatial + 2):
        raise RuntimeError(
            f"{name}: Expected {spatial + 1}D or {spatial + 2}D input, but received a {nd}D input."
        )
    if not training or p == 0.0:
        return input
    shape = tuple(input.shape)
    mask_shape = shape[: nd - spatial] + (1,) * spatial
    return _apply_mask(input, mask_shape, p, inplace)


@tensor_arguments
def dropout1d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero whole channels of (N, C, L) or (C, L) input."""
    return _feature_dropout("dropout1d", input, p, training, inplace, 1)


@tensor_arguments
def dropout2d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero whole channels of (N, C, H, W) or (C, H, W) input."""
    return _feature_dropout("dropout2d", input, p, training, inplace, 2)


@tensor_arguments
def dropout3d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero whole channels of (N, C, D, H, W) or (C, D, H, W) input."""
    return _feature_dropout("dropout3d", input, p, training, inplace, 3)


def _alpha_dropout(input: Tensor, p: float, training: bool, mask_shape: tuple) -> Tensor:
    """Keep each unit of ``mask_shape`` (broadcast over ``input``) with probability 1 - p;
    dropped ones go to SELU's saturation, then an affine map restores zero mean and unit
    variance (PyTorch's ``a`` and ``b``)."""
    _check_p(p)
    if not training or p == 0.0:
        return input
    if p == 1.0:
        return input * 0.0
    alpha_p = _SELU_SATURATION
    draws = apply(OPS["uniform"], (), {"shape": mask_shape, "dtype": float64})
    keep = draws >= p
    a = 1.0 / math.sqrt((alpha_p**2 * p + 1) * (1 - p))
    b = -a * alpha_p * p
    scale = keep.to(input.dtype) * a
    dt = input._data.dtype
    shift = where(keep, Tensor._wrap(np.asarray(b, dt)), Tensor._wrap(np.asarray(alpha_p * a + b, dt)))
    return input * scale + shift


@tensor_arguments
def alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False, inplace: bool = False) -> Tensor:
    """Dropout that keeps SELU's self-normalising mean and variance, element by element."""
    return _alpha_dropout(input, p, training, tuple(input.shape))


@tensor_arguments
def feature_alpha_dropout(
    input: Tensor, p: float = 0.5, training: bool = False, inplace: bool = False
) -> Tensor:
    """``alpha_dropout`` of whole channels: one draw per (batch item, channel). As in
    PyTorch, only a draw needs the channel dim: outside training, for p 0 or 1 or an
    empty input, fewer than 2 dims are allowed."""
    if input.ndim < 2 and training and 0 < p < 1 and input.numel():
        raise RuntimeError("Feature dropout requires at least 2 dimensions in the input")
    shape = tuple(input.shape)
    return _alpha_dropout(input, p, training, shape[:2] + (1,) * (len(shape) - 2))
