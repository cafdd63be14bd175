"""Functional activations (relu, gelu, softmax ...) as composites of irgrad tensor ops.

Each is written so that its value and gradient match PyTorch's, including at the
kinks (e.g. ``hardtanh`` passes no gradient at its bounds, ``elu`` the slope
``alpha`` at 0) and without overflow in branches that ``where`` discards.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable

from ..._arguments import tensor_arguments
from ...dtypes import FLOAT
from ...tensor import Tensor
from ...tensor_ops import reduce as R
from ...tensor_ops.inplace import update_inplace
from ...tensor_ops.pointwise import where

__all__ = [
    "relu",
    "relu_",
    "relu6",
    "leaky_relu",
    "leaky_relu_",
    "gelu",
    "silu",
    "mish",
    "sigmoid",
    "tanh",
    "softmax",
    "log_softmax",
    "softmin",
    "elu",
    "elu_",
    "selu",
    "celu",
    "softplus",
    "hardtanh",
    "hardtanh_",
    "hardsigmoid",
    "hardswish",
    "logsigmoid",
    "softsign",
    "tanhshrink",
    "threshold",
    "glu",
    "prelu",
    "hardshrink",
    "softshrink",
]


def _maybe_inplace(input: Tensor, inplace: bool, fn: Callable[[Tensor], Tensor], name: str) -> Tensor:
    """``fn(input)``, written back into ``input`` when ``inplace`` (recorded for autograd)."""
    if inplace:
        return update_inplace(input, fn, name=name)
    return fn(input)


@tensor_arguments
def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """``max(x, 0)`` (gradient 0 at 0)."""
    return _maybe_inplace(input, inplace, Tensor.relu, "relu_")


@tensor_arguments
def relu_(input: Tensor) -> Tensor:
    return relu(input, inplace=True)


def _hardtanh(x: Tensor, min_val: float, max_val: float) -> Tensor:
    # PyTorch's clamp: a bound where x is beyond it, else x (a -0.0 at the bound 0.0 stays,
    # NaN stays); the gradient passes except at or beyond a bound (NaN passes it), as
    # torch's hardtanh_backward
    clamped = where(x < min_val, min_val, where(x > max_val, max_val, x)).detach()
    return where((x <= min_val) | (x >= max_val), clamped, x)


@tensor_arguments
def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> Tensor:
    """``clamp(x, min_val, max_val)`` with no gradient at or beyond the bounds."""
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    return _maybe_inplace(input, inplace, lambda x: _hardtanh(x, min_val, max_val), "hardtanh_")


@tensor_arguments
def hardtanh_(input: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    return hardtanh(input, min_val, max_val, inplace=True)


@tensor_arguments
def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    """``min(max(x, 0), 6)``."""
    return hardtanh(input, 0.0, 6.0, inplace)


@tensor_arguments
def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """``x`` for x > 0, else ``negative_slope * x``."""
    return _maybe_inplace(input, inplace, lambda x: where(x > 0, x, x * negative_slope), "leaky_relu_")


@tensor_arguments
def leaky_relu_(input: Tensor, negative_slope: float = 0.01) -> Tensor:
    return leaky_relu(input, negative_slope, inplace=True)


_SQRT1_2 = 1.0 / math.sqrt(2.0)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


@tensor_arguments
def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """``x * Phi(x)`` (exact, via erf) or its tanh approximation (``approximate='tanh'``)."""
    if approximate == "none":  # halved first, as torch's kernel: finite up to 3.4e38 (exact otherwise)
        return input * 0.5 * ((input * _SQRT1_2).erf() + 1.0)
    if approximate == "tanh":  # halved first, as torch's kernel: finite up to 3.4e38 (x * 0.5 * 2 is x)
        inner = (input + input * input * input * 0.044715) * _SQRT_2_OVER_PI
        return input * 0.5 * (inner.tanh() + 1.0)
    raise RuntimeError(f"approximate argument must be either none or tanh, got {approximate!r}")


@tensor_arguments
def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """``x * sigmoid(x)``."""
    return _maybe_inplace(input, inplace, lambda x: x * x.sigmoid(), "silu_")


def _softplus_stable(x: Tensor) -> Tensor:
    """``log(1 + exp(x))`` without overflow (inf at inf); its gradient is exactly
    sigmoid(x), also at 0."""
    neg_abs = where(x > 0, -x, x)  # -|x|, with derivative +1 at 0 so that the kink terms cancel exactly
    return x.relu() + neg_abs.exp().log1p()


@tensor_arguments
def mish(input: Tensor, inplace: bool = False) -> Tensor:
    """``x * tanh(softplus(x))``."""
    return _maybe_inplace(input, inplace, lambda x: x * _softplus_stable(x).tanh(), "mish_")


@tensor_arguments
def sigmoid(input: Tensor) -> Tensor:
    return input.sigmoid()


@tensor_arguments
def tanh(input: Tensor) -> Tensor:
    return input.tanh()


def _softmax_dim(name: str, input: Tensor, dim: int | None, stacklevel: int) -> int:
    if dim is not None:
        return dim
    warnings.warn(
        f"Implicit dimension choice for {name} has been deprecated. Change the call to include dim=X as an argument.",
        stacklevel=stacklevel,
    )
    return 0 if input.dim() in (0, 1, 3) else 1


@tensor_arguments
def softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype=None) -> Tensor:
    """``exp(x) / sum(exp(x))`` along ``dim``, computed stably."""
    return R.softmax(input, _softmax_dim("softmax", input, dim, _stacklevel), dtype=dtype)


@tensor_arguments
def log_softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype=None) -> Tensor:
    """``x - logsumexp(x)`` along ``dim``."""
    return R.log_softmax(input, _softmax_dim("log_softmax", input, dim, _stacklevel), dtype=dtype)


@tensor_arguments
def softmin(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype=None) -> Tensor:
    """``softmax(-x)``."""
    return R.softmax(-input, _softmax_dim("softmin", input, dim, _stacklevel), dtype=dtype)


def _elu(x: Tensor, alpha: float, scale: float = 1.0, input_scale: float = 1.0) -> Tensor:
    # As torch's elu kernels: the exponential branch is x <= 0, so NaN takes the linear one.
    negative = x <= 0
    neg = where(negative, x, 0.0)  # keeps exp() finite in the discarded branch
    if input_scale != 1.0:
        neg = neg * input_scale
    out = where(negative, neg.expm1() * alpha, x)
    return out * scale if scale != 1.0 else out


@tensor_arguments
def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """``x`` for x > 0, else ``alpha * (exp(x) - 1)``."""
    return _maybe_inplace(input, inplace, lambda x: _elu(x, alpha), "elu_")


@tensor_arguments
def elu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    return elu(input, alpha, inplace=True)


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


@tensor_arguments
def selu(input: Tensor, inplace: bool = False) -> Tensor:
    """``scale * elu(x, alpha)`` with the self-normalising constants."""
    return _maybe_inplace(input, inplace, lambda x: _elu(x, _SELU_ALPHA, _SELU_SCALE), "selu_")


@tensor_arguments
def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """``x`` for x > 0, else ``alpha * (exp(x / alpha) - 1)``."""
    return _maybe_inplace(input, inplace, lambda x: _elu(x, alpha, 1.0, 1.0 / alpha), "celu_")


@tensor_arguments
def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """``log(1 + exp(beta * x)) / beta``, linear where ``beta * x > threshold``."""
    scaled = input * beta if beta != 1 else input
    over = scaled > threshold
    safe = where(over, 0.0, scaled)
    soft = safe.exp().log1p()
    if beta != 1:
        soft = soft / beta
    return where(over, input, soft)


def _hardsigmoid(x: Tensor) -> Tensor:
    # torch's gradient is 1/6 strictly inside (-3, 3) and 0 elsewhere, NaN included;
    # outside, the clamped value carries no gradient (and NaN stays NaN).
    line = x / 6.0 + 0.5
    return where((x > -3.0) & (x < 3.0), line, line.detach().clamp(0.0, 1.0))


@tensor_arguments
def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:
    """``relu6(x + 3) / 6``."""
    return _maybe_inplace(input, inplace, _hardsigmoid, "hardsigmoid_")


def _hardswish(x: Tensor) -> Tensor:
    # torch's gradient: 0 for x <= -3, x/3 + 1/2 strictly inside (-3, 3), else 1 (NaN
    # included); the value is x * relu6(x + 3) / 6 everywhere (NaN at -inf; x * 6 / 6 from
    # 3 on, which rounds, and is inf past 3.4e38 / 6): the upper branch is x plus that
    # rounding (0 where it is NaN: x itself is then inf or NaN).
    clamped = (x * _hardtanh(x + 3.0, 0.0, 6.0) / 6.0).detach()
    inside = (x > -3.0) & (x < 3.0)
    xs = where(inside, x, 0.0)  # keeps inf out of the middle branch, whose zero gradient would turn NaN
    rounding = (clamped - x).detach()
    upper = x + where(rounding.isnan(), 0.0, rounding)
    return where(x <= -3.0, clamped, where(inside, xs * (xs + 3.0) / 6.0, upper))


@tensor_arguments
def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    """``x * relu6(x + 3) / 6``."""
    return _maybe_inplace(input, inplace, _hardswish, "hardswish_")


@tensor_arguments
def logsigmoid(input: Tensor) -> Tensor:
    """``log(sigmoid(x))`` = ``0 - softplus(-x)``, stable for large |x| (0., not -0., where
    softplus(-x) is 0, as torch's ``min(x, 0) - log1p(exp(-|x|))``)."""
    check_log_sigmoid_dtype(input)
    return 0.0 - _softplus_stable(-input)


def check_log_sigmoid_dtype(input: Tensor) -> None:
    """PyTorch's ``log_sigmoid`` kernel (``logsigmoid``, ``binary_cross_entropy_with_logits``)
    takes floating-point tensors only."""
    if input.dtype.category != FLOAT:
        raise NotImplementedError(f"\"log_sigmoid_cpu\" not implemented for '{input.dtype.scalar_type}'")


@tensor_arguments
def softsign(input: Tensor) -> Tensor:
    """``x / (1 + |x|)``."""
    return input / (input.abs() + 1.0)


@tensor_arguments
def tanhshrink(input: Tensor) -> Tensor:
    """``x - tanh(x)``."""
    return input - input.tanh()


@tensor_arguments
def threshold(input: Tensor, threshold: float, value: float, inplace: bool = False) -> Tensor:
    """``value`` where x <= threshold, else ``x`` (NaN included)."""
    return _maybe_inplace(input, inplace, lambda x: where(x <= threshold, value, x), "threshold_")


@tensor_arguments
def glu(input: Tensor, dim: int = -1) -> Tensor:
    """``a * sigmoid(b)`` where a, b are the halves of ``input`` along ``dim``."""
    if input.shape[dim] % 2 != 0:
        raise RuntimeError(
            f"glu: Halving dimension must be even, but dimension {dim} is size {input.shape[dim]}"
        )
    a, b = input.chunk(2, dim)
    return a * b.sigmoid()


@tensor_arguments
def prelu(input: Tensor, weight: Tensor) -> Tensor:
    """``x`` for x > 0, else ``weight * x`` with one weight per channel (dim 1) or one shared."""
    w = weight
    if weight.numel() != 1 and input.dim() >= 2:
        w = weight.reshape((-1,) + (1,) * (input.dim() - 2))
    return where(input > 0, input, input * w)


@tensor_arguments
def hardshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """0 where -lambd <= x <= lambd, else ``x`` (NaN included)."""
    return where((input >= -lambd) & (input <= lambd), 0.0, input)


@tensor_arguments
def softshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """``x * 0`` (a zero with x's sign, as torch) where -lambd <= x <= lambd, else ``x - lambd`` above
    it and ``x + lambd`` below (NaN stays NaN)."""
    inside = (input >= -lambd) & (input <= lambd)
    return where(inside, input * 0.0, where(input > 0, input - lambd, input + lambd))
