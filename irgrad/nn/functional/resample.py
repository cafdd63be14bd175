"""``F.interpolate`` and the deprecated ``F.upsample*``: resizing the spatial dims of (N, C, *S) data.

Every mode is separable: one spatial dim at a time (the last first, as PyTorch's
kernels nest them), each output element is a weighted sum of input elements picked
along that dim by a constant index table (``resample_tables``).  The picks are
``index_select`` and the sums tensor arithmetic, so autograd and the compiler's tracer
get the gradient and the graph from existing ops.  An identity dim is computed too:
PyTorch multiplies by its zero weights, so an infinite input gives the same NaNs here.
"""

from __future__ import annotations

import math
import numbers
import warnings

import numpy as np

from ..._arguments import tensor_arguments
from ...dispatch import cast
from ...dtypes import float32
from ...tensor import Tensor
from ...tensor_ops.indexing import index_select
from ...tensor_ops.split_join import cat
from . import resample_tables as tables

__all__ = ["interpolate", "upsample", "upsample_nearest", "upsample_bilinear"]

_LINEAR_RANK = {"linear": 3, "bilinear": 4, "trilinear": 5}
_NEAREST = ("nearest", "nearest-exact")
_NO_ALIGN = ("nearest", "area", "nearest-exact")
_DIM_NAMES = {1: "W", 2: "HW", 3: "DHW"}
_MODES = "nearest | linear | bilinear | bicubic | trilinear | lanczos | area | nearest-exact"


@tensor_arguments
def interpolate(
    input: Tensor,
    size=None,
    scale_factor=None,
    mode: str = "nearest",
    align_corners: bool | None = None,
    recompute_scale_factor: bool | None = None,
    antialias: bool = False,
) -> Tensor:
    """Resize the spatial dims of ``input`` (N, C, *S) to ``size`` or ``S * scale_factor``.

    Modes: 'nearest' and 'nearest-exact' (3-D to 5-D), 'linear' (3-D), 'bilinear' and
    'bicubic' (4-D), 'trilinear' (5-D) and 'area' (adaptive average pooling).  A given
    ``scale_factor`` also sets the interpolation's scale unless ``recompute_scale_factor``.
    ``antialias=True`` is not implemented (NotImplementedError).
    """
    if mode in _NO_ALIGN:
        if align_corners is not None:
            raise ValueError(
                "align_corners option can only be set with the interpolating modes: "
                "linear | bilinear | bicubic | trilinear"
            )
    elif align_corners is None:
        align_corners = False
    elif not isinstance(align_corners, (bool, np.bool_)):
        raise TypeError(f"interpolate(): align_corners must be a bool, got {type(align_corners).__name__}")
    sizes, scales = _output_geometry(input, size, scale_factor, mode, recompute_scale_factor)
    rank = input.ndim
    if antialias and not (mode in ("bilinear", "bicubic", "lanczos") and rank == 4):
        raise ValueError(
            "Anti-alias option is restricted to bilinear, bicubic, and lanczos modes and requires a "
            "4-D tensor as input"
        )
    if 3 <= rank <= 5 and mode in _NEAREST + ("area",):
        return _resize(input, mode, sizes, scales, None)
    if rank == _LINEAR_RANK.get(mode) or (rank == 4 and mode == "bicubic"):
        if antialias:
            raise NotImplementedError(
                f"interpolate(): antialias=True (mode '{mode}') is not implemented in irgrad"
            )
        return _resize(input, mode, sizes, scales, bool(align_corners))
    if rank == 4 and mode == "lanczos":
        if align_corners:
            raise ValueError("Lanczos mode does not support align_corners=True")
        if not antialias:
            raise ValueError("Lanczos mode requires antialias=True")
        raise NotImplementedError("interpolate(): mode 'lanczos' is not implemented in irgrad")
    if 3 <= rank <= 5 and mode in _LINEAR_RANK:
        raise NotImplementedError(f"Got {rank}D input, but {mode} mode needs {_LINEAR_RANK[mode]}D input")
    raise NotImplementedError(
        f"Input Error: Only 3D, 4D and 5D input Tensors supported (got {rank}D) for the modes: {_MODES} "
        f"(got {mode})"
    )


def _is_integer(x) -> bool:
    if isinstance(x, Tensor):
        return not x.is_floating_point()
    return isinstance(x, (int, np.integer))


def _to_int64(value: float) -> int:
    """``value`` truncated to an integer, with PyTorch's error for a non-finite one."""
    if not math.isfinite(value):
        raise RuntimeError("value cannot be converted to type int64_t without overflow")
    return int(value)


def _output_geometry(input: Tensor, size, scale_factor, mode: str, recompute) -> tuple[list, list | None]:
    """The output's spatial sizes and the scale factors the kernels use (None: from the sizes)."""
    spatial = input.ndim - 2
    shape = tuple(input.shape)
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    if size is not None:
        if isinstance(size, (list, tuple)):
            if len(size) != spatial:
                raise ValueError(
                    "Input and output must have the same number of spatial dimensions, but got input with "
                    f"spatial dimensions of {list(shape[2:])} and output size of {size}. Please provide "
                    "input tensor in (N, C, d1, d2, ...,dK) format and output size in (o1, o2, ...,oK) format."
                )
            if not all(_is_integer(s) for s in size):
                raise TypeError(
                    "expected size to be one of int or Tuple[int] or Tuple[int, int] or Tuple[int, int, int], "
                    f"but got size with types {[type(s) for s in size]}"
                )
            sizes = [int(s) for s in size]
        elif _is_integer(size):
            sizes = [int(size)] * spatial
        else:
            raise TypeError(
                f"interpolate(): size must be an int or a tuple of ints, got {type(size).__name__}"
            )
        scales = None
    elif scale_factor is not None:
        if isinstance(scale_factor, (list, tuple)):
            if len(scale_factor) != spatial:
                raise ValueError(
                    "Input and scale_factor must have the same number of spatial dimensions, but got input "
                    f"with spatial dimensions of {list(shape[2:])} and scale_factor of shape {scale_factor}. "
                    "Please provide input tensor in (N, C, d1, d2, ...,dK) format and scale_factor in "
                    "(s1, s2, ...,sK) format."
                )
            factors = list(scale_factor)
        else:
            factors = [scale_factor] * spatial
        if not all(isinstance(f, numbers.Real) for f in factors):
            raise TypeError(
                f"interpolate(): scale_factor must be a number or a tuple of numbers, got {scale_factor!r}"
            )
        sizes, scales = None, [float(f) for f in factors]
    else:
        raise ValueError("either size or scale_factor should be defined")
    if recompute and size is not None:
        raise ValueError("recompute_scale_factor is not meaningful with an explicit size.")
    if sizes is None:
        sizes = [_to_int64(shape[2 + i] * scales[i]) for i in range(spatial)]
        if recompute or mode == "area":
            scales = None
    return sizes, scales


def _kernel_name(mode: str) -> str:
    if mode in _NEAREST:
        return "compute_indices_weights_nearest"
    return "compute_indices_weights_cubic" if mode == "bicubic" else "compute_indices_weights_linear"


def _check_input(input: Tensor, mode: str, sizes: list) -> None:
    """PyTorch's dtype and size checks of the upsampling and adaptive-pooling kernels."""
    dt = input._data.dtype
    integer_ok = mode in _NEAREST and dt == np.uint8
    if dt == np.uint8 and mode in ("bilinear", "bicubic"):
        raise NotImplementedError(
            f"interpolate(): mode '{mode}' on uint8 input is not implemented in irgrad (PyTorch has an "
            "integer kernel for it)"
        )
    if not (input.is_floating_point() or integer_ok):
        kernel = "adaptive_avg_pool2d" if mode == "area" else _kernel_name(mode)
        raise NotImplementedError(f"\"{kernel}\" not implemented for '{input.dtype.scalar_type}'")
    shape = tuple(input.shape)
    spatial = shape[2:]
    if mode == "area":
        for d, extent in enumerate(spatial):
            if extent == 0:
                raise RuntimeError(
                    "interpolate(mode='area'): Expected input to have non-zero size for non-batch dimensions, "
                    f"but input has sizes {list(shape)} with dimension {d + 2} being empty"
                )
        return
    if min(spatial) <= 0 or min(sizes) <= 0:
        names = _DIM_NAMES[len(spatial)]
        given = ", ".join(f"{n}: {s}" for n, s in zip(names, spatial))
        wanted = ", ".join(f"{n}: {s}" for n, s in zip(names, sizes))
        joint = " and output" if len(spatial) == 1 else " output"
        raise RuntimeError(
            f"Input and output sizes should be greater than 0, but got input ({given}){joint} ({wanted})"
        )
    if input.numel() == 0 and 0 in shape[1:]:
        raise RuntimeError(
            f"Non-empty {input.ndim}D data tensor expected but got a tensor with sizes {list(shape)}"
        )


def _resize(input: Tensor, mode: str, sizes: list, scales: list | None, align_corners: bool | None) -> Tensor:
    _check_input(input, mode, sizes)
    low_precision = input.is_floating_point() and input._data.dtype.itemsize < 4
    x = cast(input, float32) if low_precision else input  # PyTorch computes half in float
    dt = tables.math_dtype(x._data.dtype)
    scale_of = (lambda d: None) if scales is None else (lambda d: scales[d])
    spatial = len(sizes)
    for d in reversed(range(spatial)):
        dim = d + 2
        n_in, n_out = x.shape[dim], sizes[d]
        if mode in _NEAREST:
            exact, shortcuts = mode == "nearest-exact", mode == "nearest" and spatial == 2
            x = _take(x, dim, tables.nearest_indices(n_in, n_out, scale_of(d), exact, shortcuts))
        elif mode == "area":
            x = adaptive_average(x, dim, n_out)
        else:
            taps = tables.cubic_taps if mode == "bicubic" else tables.linear_taps
            x = _weighted_sum(x, dim, taps(n_in, n_out, align_corners, scale_of(d), dt))
    return cast(x, input.dtype) if low_precision else x


def _take(x: Tensor, dim: int, indices: np.ndarray) -> Tensor:
    return index_select(x, dim, Tensor._wrap(np.ascontiguousarray(indices, dtype=np.int64)))


def _along(weights: np.ndarray, x: Tensor, dim: int) -> Tensor:
    """A weight per position of ``dim``, shaped to broadcast against ``x``."""
    shape = (len(weights),) + (1,) * (x.ndim - dim - 1)
    return Tensor._wrap(weights.astype(x._data.dtype).reshape(shape))


def _weighted_sum(x: Tensor, dim: int, taps: tables.Taps) -> Tensor:
    """``sum_k x[taps[k].indices] * taps[k].weights`` along ``dim``, in tap order."""
    total = None
    for indices, weights in taps:
        term = _take(x, dim, indices) * _along(weights, x, dim)
        total = term if total is None else total + term
    return total


@tensor_arguments
def adaptive_average(x: Tensor, dim: int, n_out: int) -> Tensor:
    """Adaptive average pooling along ``dim`` to ``n_out`` windows (separable, so pooling
    over several dims is this per dim): equal windows as a reshape and a mean; otherwise
    each group of windows of one length as a sum of picks (never multiplying a value by 0,
    so an infinite input stays in its own windows), put back in order."""
    n_in = x.shape[dim]
    if n_out == 0:
        return _take(x, dim, np.zeros(0, np.int64))
    if n_in % n_out == 0:
        shape = tuple(x.shape)
        return x.reshape(shape[:dim] + (n_out, n_in // n_out) + shape[dim + 1 :]).mean(dim + 1)
    starts, ends = tables.area_windows(n_in, n_out)
    lengths = ends - starts
    pieces, order = [], []
    for length in np.unique(lengths):
        picked = np.nonzero(lengths == length)[0]
        total = _take(x, dim, starts[picked])
        for k in range(1, int(length)):
            total = total + _take(x, dim, starts[picked] + k)
        pieces.append(total / int(length))
        order.append(picked)
    if len(pieces) == 1:
        return pieces[0]
    return _take(cat(pieces, dim), dim, np.argsort(np.concatenate(order), kind="stable"))


def _deprecated(name: str) -> None:
    warnings.warn(
        f"`nn.functional.{name}` is deprecated. Use `nn.functional.interpolate` instead.", stacklevel=3
    )


@tensor_arguments
def upsample(
    input: Tensor, size=None, scale_factor=None, mode: str = "nearest", align_corners=None
) -> Tensor:
    """Deprecated alias of :func:`interpolate` (warns)."""
    _deprecated("upsample")
    return interpolate(input, size, scale_factor, mode, align_corners)


@tensor_arguments
def upsample_nearest(input: Tensor, size=None, scale_factor=None) -> Tensor:
    """Deprecated: ``interpolate(..., mode='nearest')`` (warns)."""
    _deprecated("upsample_nearest")
    return interpolate(input, size, scale_factor, mode="nearest")


@tensor_arguments
def upsample_bilinear(input: Tensor, size=None, scale_factor=None) -> Tensor:
    """Deprecated: ``interpolate(..., mode='bilinear', align_corners=True)`` (warns)."""
    _deprecated("upsample_bilinear")
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)
