"""Window functions for spectral analysis: ``hann_window``, ``hamming_window``,
``bartlett_window``, ``blackman_window`` and ``kaiser_window``, computed in the window's dtype with
PyTorch's sequence of operations (so the float32 values match its bits, the asymmetric
last ulp included). ``periodic=True`` (the default) computes one point more and drops it."""

from __future__ import annotations

import math

from ..creation import arange, ones, refuse_pinned
from ..dtypes import FLOAT, get_default_dtype, to_dtype
from ..tensor import Tensor
from . import pointwise as P
from .bessel import i0


def _window(
    name: str, length: int, periodic: bool, dtype, requires_grad: bool, pin_memory: bool, shape
) -> Tensor:
    refuse_pinned(pin_memory)
    dt = get_default_dtype() if dtype is None else to_dtype(dtype)
    if dt.category != FLOAT:
        raise RuntimeError(f"{name} expects floating point dtypes, got: {dt}")
    if length < 0:
        raise RuntimeError(f"{name} requires non-negative window_length, got window_length={length}")
    if length <= 1:
        return ones(length, dtype=dt, requires_grad=requires_grad)
    points = length + 1 if periodic else length
    window = shape(arange(points, dtype=dt), points)
    window = window.narrow(0, 0, length) if periodic else window
    return window.detach().requires_grad_(requires_grad)


def _hamming_shape(alpha: float, beta: float):
    def shape(n: Tensor, points: int) -> Tensor:
        return P.add(P.mul(P.cos(P.mul(n, 2 * math.pi / (points - 1))), -beta), alpha)

    return shape


def _bartlett_shape(n: Tensor, points: int) -> Tensor:
    window = P.mul(n, 2.0 / (points - 1))
    rising = ((points - 1) >> 1) + 1
    return P.where(P.lt(n, rising), window, P.add(P.neg(window), 2))


def _blackman_shape(n: Tensor, points: int) -> Tensor:
    window = P.mul(n, math.pi / (points - 1))
    high = P.mul(P.cos(P.mul(window, 4)), 0.08)
    return P.add(P.sub(high, P.mul(P.cos(P.mul(window, 2)), 0.5)), 0.42)


def hamming_window(
    window_length: int,
    periodic: bool = True,
    alpha: float = 0.54,
    beta: float = 0.46,
    *,
    dtype=None,
    layout=None,
    device=None,
    requires_grad: bool = False,
    pin_memory: bool = False,
) -> Tensor:
    """``alpha - beta * cos(2 pi n / (N - 1))``."""
    shape = _hamming_shape(alpha, beta)
    return _window("hamming_window", window_length, periodic, dtype, requires_grad, pin_memory, shape)


def _fixed_window(name: str, shape, doc: str):
    """The public window function ``name`` of a window without parameters."""

    def window(
        window_length: int,
        periodic: bool = True,
        *,
        dtype=None,
        layout=None,
        device=None,
        requires_grad: bool = False,
        pin_memory: bool = False,
    ) -> Tensor:
        return _window(name, window_length, periodic, dtype, requires_grad, pin_memory, shape)

    window.__name__ = window.__qualname__ = name
    window.__doc__ = doc
    return window


hann_window = _fixed_window(
    "hann_window", _hamming_shape(0.5, 0.5), "The Hamming window with ``alpha = beta = 0.5``."
)
bartlett_window = _fixed_window(
    "bartlett_window",
    _bartlett_shape,
    "The triangular window: ``2n / (N - 1)`` up to the middle, ``2 - 2n / (N - 1)`` after.",
)
blackman_window = _fixed_window(
    "blackman_window",
    _blackman_shape,
    "``0.42 - 0.5 cos(2 pi n / (N - 1)) + 0.08 cos(4 pi n / (N - 1))``.",
)


def kaiser_window(
    window_length: int,
    periodic: bool = True,
    beta: float = 12.0,
    *,
    dtype=None,
    layout=None,
    device=None,
    requires_grad: bool = False,
    pin_memory: bool = False,
) -> Tensor:
    """``I0(beta * sqrt(1 - ((n - a) / a)^2)) / I0(beta)`` with ``a = (N - 1) / 2``."""

    def shape(n: Tensor, points: int) -> Tensor:
        middle = (points - 1) / 2.0
        ratio = P.div(P.sub(n, middle), middle)
        inside = P.sqrt(P.rsub(P.mul(ratio, ratio), 1))
        return P.div(i0(P.mul(inside, beta)), i0(P.mul(P.add(P.mul(n, 0), 1), beta)))

    return _window("kaiser_window", window_length, periodic, dtype, requires_grad, pin_memory, shape)
