"""Factories whose values the arguments fix: ``zeros``, ``ones``, ``empty``, ``full``, their
``*_like`` forms, and the ranges and patterns ``arange``, ``linspace``, ``logspace``, ``eye``,
``tril_indices`` and ``triu_indices``.

Also the machinery every ``*_like`` factory is built with (``_like_factory``,
``_made_like``: the input's shape and dtype, a channels-last ``memory_format``), which the
random ``*_like`` factories import from here."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .. import dtypes as D
from .._arguments import list_keyword, tensor_arguments
from ..memory_formats import check_memory_format, preserve_format
from ..tensor import Tensor
from .arguments import _finish, _float_dtype, _size, _storage, refuse_pinned


@list_keyword
def zeros(
    *size, dtype=None, device=None, requires_grad: bool = False, pin_memory: bool = False, out=None
) -> Tensor:
    refuse_pinned(pin_memory)
    return _finish(np.zeros(_size(size), dtype=_float_dtype(dtype).np), requires_grad, device)


@list_keyword
def ones(*size, dtype=None, device=None, requires_grad: bool = False, pin_memory: bool = False) -> Tensor:
    refuse_pinned(pin_memory)
    return _finish(np.ones(_size(size), dtype=_float_dtype(dtype).np), requires_grad, device)


@list_keyword
def empty(
    *size, dtype=None, device=None, requires_grad: bool = False, pin_memory: bool = False, memory_format=None
) -> Tensor:
    """A tensor of ``size`` (zero-filled: its values are unspecified), stored in C order or
    in a channels-last ``memory_format``; ``preserve_format`` has nothing to preserve."""
    refuse_pinned(pin_memory)
    if memory_format is not None:
        check_memory_format("empty", memory_format)
        if memory_format is preserve_format:
            raise RuntimeError("unsupported memory format Preserve")
    shape, dt = _size(size), _float_dtype(dtype)
    order = _storage("empty", memory_format, len(shape))
    if order is None:
        return _finish(np.zeros(shape, dtype=dt.np), requires_grad, device)
    stored = np.zeros(tuple(shape[d] for d in order), dtype=dt.np)
    return _finish(stored.transpose(np.argsort(order)), requires_grad, device)


def full(
    size, fill_value, *, dtype=None, device=None, requires_grad: bool = False, pin_memory: bool = False
) -> Tensor:
    refuse_pinned(pin_memory)
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    dt = D.to_dtype(dtype) if dtype is not None else D.scalar_dtype(fill_value)
    fill_value = D.checked_fill_value(fill_value, dt)
    return _finish(np.full(_size((size,)), fill_value, dtype=dt.np), requires_grad, device)


def _like(input: Tensor, dtype) -> tuple:
    return input._data.shape, (D.to_dtype(dtype) if dtype is not None else input.dtype)


def _made_like(
    name: str, input: Tensor, make: Callable[..., Tensor], dtype, requires_grad: bool, device, memory_format
) -> Tensor:
    """``make(shape, dtype, requires_grad, device)``'s tensor in ``input``'s shape (and
    dtype, unless ``dtype``), stored in C order or in a channels-last ``memory_format``:
    then made in storage order and viewed back (a new leaf). ``preserve_format`` gives C
    order, since irgrad's ``*_like`` factories do not copy the input's strides."""
    shape, dt = _like(input, dtype)
    order = _storage(name, memory_format, len(shape))
    if order is None:
        return make(shape, dt, requires_grad, device)
    made = make(tuple(shape[d] for d in order), dt, False, None)
    return _finish(made._data.transpose(np.argsort(order)), requires_grad, device)


def _like_factory(name: str, make: Callable[..., Tensor], what: str):
    """The public factory ``name``: ``what`` in ``input``'s shape, made by ``make``."""

    def factory(
        input: Tensor,
        *,
        dtype=None,
        device=None,
        requires_grad: bool = False,
        pin_memory: bool = False,
        memory_format=None,
    ) -> Tensor:
        refuse_pinned(pin_memory)
        return _made_like(name, input, make, dtype, requires_grad, device, memory_format)

    factory.__name__ = factory.__qualname__ = name
    factory.__doc__ = f"{what} in ``input``'s shape, in C order or in a channels-last ``memory_format``."
    return tensor_arguments(factory)


zeros_like = _like_factory(
    "zeros_like", lambda s, dt, rg, d: zeros(s, dtype=dt, requires_grad=rg, device=d), "Zeros"
)
ones_like = _like_factory(
    "ones_like", lambda s, dt, rg, d: ones(s, dtype=dt, requires_grad=rg, device=d), "Ones"
)
empty_like = _like_factory(
    "empty_like",
    lambda s, dt, rg, d: zeros(s, dtype=dt, requires_grad=rg, device=d),
    "Unspecified values (zeros)",
)


@tensor_arguments
def full_like(
    input: Tensor,
    fill_value,
    *,
    dtype=None,
    device=None,
    requires_grad: bool = False,
    pin_memory: bool = False,
    memory_format=None,
) -> Tensor:
    refuse_pinned(pin_memory)
    return _made_like(
        "full_like",
        input,
        lambda s, dt, rg, d: full(s, fill_value, dtype=dt, requires_grad=rg, device=d),
        dtype,
        requires_grad,
        device,
        memory_format,
    )


def arange(
    start, end=None, step=1, *, dtype=None, device=None, requires_grad: bool = False, pin_memory: bool = False
) -> Tensor:
    """Values from ``start`` to ``end`` (exclusive); int64 unless an argument is a float."""
    refuse_pinned(pin_memory)
    if end is None:
        start, end = 0, start
    values = [v.item() if isinstance(v, Tensor) else v for v in (start, end, step)]
    if step == 0:
        raise RuntimeError("arange: step must be nonzero")
    if (values[1] - values[0]) * values[2] < 0:
        raise RuntimeError(
            f"arange: upper bound and lower bound inconsistent with step sign (start {values[0]}, "
            f"end {values[1]}, step {values[2]})"
        )
    if dtype is None:
        dt = D.get_default_dtype() if any(isinstance(v, float) for v in values) else D.int64
    else:
        dt = D.to_dtype(dtype)
    data = np.arange(*values, dtype=np.float64 if dt.is_floating_point else np.int64)
    return _finish(data.astype(dt.np), requires_grad, device)


def linspace(
    start, end, steps: int, *, dtype=None, device=None, requires_grad: bool = False, pin_memory: bool = False
) -> Tensor:
    refuse_pinned(pin_memory)
    dt = _float_dtype(dtype)
    if int(steps) < 0:
        raise RuntimeError(f"linspace: number of steps must be non-negative, got {steps}")
    return _finish(np.linspace(start, end, int(steps)).astype(dt.np), requires_grad, device)


def logspace(start, end, steps: int, base: float = 10.0, *, dtype=None, pin_memory: bool = False) -> Tensor:
    refuse_pinned(pin_memory)
    return Tensor._wrap(np.logspace(start, end, int(steps), base=base).astype(_float_dtype(dtype).np))


def eye(
    n: int,
    m: int | None = None,
    *,
    dtype=None,
    device=None,
    requires_grad: bool = False,
    pin_memory: bool = False,
) -> Tensor:
    refuse_pinned(pin_memory)
    if n < 0 or (m is not None and m < 0):
        raise RuntimeError(f"eye: n and m must be greater or equal to 0, got n={n}, m={m}")
    return _finish(np.eye(n, m, dtype=_float_dtype(dtype).np), requires_grad, device)


def tril_indices(row: int, col: int, offset: int = 0, *, pin_memory: bool = False) -> Tensor:
    refuse_pinned(pin_memory)
    return Tensor._wrap(np.stack(np.tril_indices(row, offset, col)).astype(np.int64))


def triu_indices(row: int, col: int, offset: int = 0, *, pin_memory: bool = False) -> Tensor:
    refuse_pinned(pin_memory)
    return Tensor._wrap(np.stack(np.triu_indices(row, offset, col)).astype(np.int64))
