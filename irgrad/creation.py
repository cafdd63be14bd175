"""Tensor factories: ``tensor``, ``zeros``, ``randn``, ``arange`` ... as in PyTorch."""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np

from . import _tracing
from . import dtypes as D
from ._arguments import list_keyword, tensor_arguments
from .dispatch import apply, const
from .memory_formats import check_memory_format, preserve_format, storage_order
from .ops import OPS
from .random import resolve
from .tensor import Tensor, _unwrap_nested
from .tensor import device as _device


def refuse_pinned(pin_memory: bool) -> None:
    """PyTorch's error for ``pin_memory=True`` on a machine without an accelerator (irgrad's
    machine has none: there is no pinned-memory allocator)."""
    if pin_memory:
        raise RuntimeError(
            "pin_memory=True requires a CUDA or other accelerator backend; no pinned memory allocator is "
            "available on this system."
        )


def _storage(function: str, memory_format, ndim: int) -> tuple[int, ...] | None:
    """The order (outermost dim first) a factory stores its result in for
    ``memory_format``: None for C order, which ``preserve_format`` and None also give
    (irgrad's ``*_like`` factories do not copy the input's strides)."""
    if memory_format is None:
        return None
    check_memory_format(function, memory_format)
    return storage_order(memory_format, ndim)


def _finish(data: np.ndarray, requires_grad: bool, device=None) -> Tensor:
    if device is not None:
        _device(device)
    t = Tensor._wrap(data)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _infer_dtype(data, arr: np.ndarray) -> D.dtype:
    """PyTorch's dtype for data: Python floats become the default float dtype."""
    if isinstance(data, (np.ndarray, np.generic)):
        return D.from_numpy_dtype(arr.dtype)
    if arr.dtype.kind == "f":
        return D.get_default_dtype() if not _has_tensor(data) else D.from_numpy_dtype(arr.dtype)
    if arr.dtype.kind in "iu":
        return D.int64 if not _has_tensor(data) else D.from_numpy_dtype(arr.dtype)
    if arr.dtype.kind == "b":
        return D.bool_
    raise TypeError(f"tensor(): could not infer dtype of {type(data).__name__}")


def _has_tensor(data) -> bool:
    if isinstance(data, Tensor):
        return True
    if isinstance(data, (list, tuple)) and data:
        return _has_tensor(data[0])
    return False


def tensor(data, dtype=None, device=None, requires_grad: bool = False, pin_memory: bool = False) -> Tensor:
    """A new tensor holding a copy of ``data`` (nested lists, numbers, arrays, tensors)."""
    refuse_pinned(pin_memory)
    if isinstance(data, np.ndarray):
        _tracing.array_read(data)
    raw = _unwrap_nested(data)
    try:
        arr = np.array(raw)
    except ValueError:
        raise ValueError(f"tensor(): {_ragged(raw)}") from None
    if arr.dtype == object:
        _reject_elements(arr)
        raise TypeError(f"tensor(): could not convert {type(data).__name__} to a tensor")
    dt = D.to_dtype(dtype) if dtype is not None else _infer_dtype(data, arr)
    return _finish(np.array(arr, dtype=dt.np, copy=True), requires_grad, device)


def ensure_tensor(x, dt: D.dtype | None = None) -> Tensor:
    """``x`` if it is a tensor, else a constant tensor made from it."""
    if isinstance(x, Tensor):
        return x
    if dt is None:
        dt = D.result_type(x) if isinstance(x, (bool, int, float)) else None
    if dt is None:
        return tensor(x)
    return const(x, dt)


def _ragged(raw) -> str:
    """Where nested sequences first disagree in length, as torch words it."""
    level, dim = [raw], 0
    while level and all(isinstance(x, (list, tuple, np.ndarray)) for x in level):
        expected = len(level[0])
        for x in level:
            if len(x) != expected:
                return f"expected sequence of length {expected} at dim {dim} (got {len(x)})"
        level, dim = [child for x in level for child in x], dim + 1
    return f"expected a sequence of equal-length sequences: mixed sequences and numbers at dim {dim}"


def _reject_elements(arr: np.ndarray) -> None:
    """torch's error for the first element numpy could not hold as a number."""
    for x in arr.reshape(-1):
        if x is None:
            raise RuntimeError("Could not infer dtype of NoneType")
        if isinstance(x, int) and not isinstance(x, bool) and not -(2**63) <= x < 2**64:
            raise ValueError(f"Overflow when unpacking long long ({x} does not fit in 64 bits)")
        if not isinstance(x, (int, float, complex, bool, np.generic)):
            raise TypeError(f"tensor(): could not infer a dtype for an element of type {type(x).__name__}")


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """Like ``tensor`` but shares memory with a numpy array (or tensor) of matching dtype."""
    if isinstance(data, Tensor):
        return data if dtype is None or D.to_dtype(dtype) is data.dtype else data.to(dtype)
    if isinstance(data, np.ndarray) and (dtype is None or D.to_dtype(dtype).np == data.dtype):
        return from_numpy(data)
    return tensor(data, dtype=dtype, device=device)


asarray = as_tensor


def from_numpy(ndarray: np.ndarray) -> Tensor:
    """A tensor that shares memory with ``ndarray`` (no copy)."""
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(ndarray).__name__})")
    D.from_numpy_dtype(ndarray.dtype)
    _tracing.array_read(ndarray)
    return Tensor._wrap(ndarray)


def from_dlpack(ext) -> Tensor:
    """A tensor sharing memory with any DLPack producer (numpy, PyTorch, JAX ...)."""
    if isinstance(ext, Tensor):
        return ext
    return from_numpy(np.from_dlpack(ext))


def _size(size) -> tuple:
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    if any(not isinstance(s, (int, np.integer)) and not hasattr(s, "__index__") for s in size):
        raise TypeError(f"size must be a tuple of ints, got {size!r}")
    size = tuple(int(s) for s in size)
    if any(s < 0 for s in size):
        raise RuntimeError(f"Trying to create tensor with negative dimension {min(size)}: {list(size)}")
    return size


def _float_dtype(dtype) -> D.dtype:
    return D.to_dtype(dtype) if dtype is not None else D.get_default_dtype()


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


def _check_float_random(name: str, dt: D.dtype) -> None:
    if not dt.is_floating_point:
        raise RuntimeError(f"{name}: expected a floating point dtype, got {dt}")


@list_keyword
def randn(
    *size, generator=None, dtype=None, device=None, requires_grad: bool = False, pin_memory: bool = False
) -> Tensor:
    """Standard normal samples from the global (or given) generator."""
    refuse_pinned(pin_memory)
    dt = _float_dtype(dtype)
    _check_float_random("randn", dt)
    if generator is None:  # the global generator: a traceable random op
        return _random_op("normal", _size(size), dt, requires_grad, device)
    data = generator.standard_normal(_size(size), dt.np if dt.np != np.float16 else np.float32)
    return _finish(data.astype(dt.np, copy=False), requires_grad, device)


@list_keyword
def rand(
    *size, generator=None, dtype=None, device=None, requires_grad: bool = False, pin_memory: bool = False
) -> Tensor:
    """Uniform samples on [0, 1)."""
    refuse_pinned(pin_memory)
    dt = _float_dtype(dtype)
    _check_float_random("rand", dt)
    if generator is None:  # the global generator: a traceable random op
        return _random_op("uniform", _size(size), dt, requires_grad, device)
    data = generator.random(_size(size), dt.np if dt.np != np.float16 else np.float32)
    return _finish(data.astype(dt.np, copy=False), requires_grad, device)


def _random_op(name: str, shape: tuple, dt: D.dtype, requires_grad: bool, device, **attrs) -> Tensor:
    """Draw through the registered random primitive, so tracing records the draw."""
    out = apply(OPS[name], (), {"shape": shape, "dtype": dt, **attrs})
    return _finish(out._data, requires_grad, device) if requires_grad or device is not None else out


def randint(
    low=0,
    high=None,
    size=None,
    *,
    generator=None,
    dtype=None,
    device=None,
    requires_grad: bool = False,
    pin_memory: bool = False,
) -> Tensor:
    """Integers uniform on [low, high): ``randint(high, size)``, ``randint(low, high, size)`` or
    ``randint(high=high, size=size)``, PyTorch's ``low=0`` default."""
    refuse_pinned(pin_memory)
    if size is None:
        if high is None or not isinstance(high, (tuple, list)):
            raise TypeError("randint() missing required argument 'size'")
        low, high, size = 0, low, high
    elif high is None:  # randint(high, size=size)
        low, high = 0, low
    if low >= high:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} >= to={high}")
    dt = D.to_dtype(dtype) if dtype is not None else D.int64
    if generator is None:  # the global generator: a traceable random op
        return _random_op("randint", _size((size,)), dt, requires_grad, device, low=int(low), high=int(high))
    data = generator.integers(low, high, _size((size,)))
    return _finish(data.astype(dt.np), requires_grad, device)


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
randn_like = _like_factory(
    "randn_like",
    lambda s, dt, rg, d: randn(s, dtype=dt, requires_grad=rg, device=d),
    "Standard normal samples",
)
rand_like = _like_factory(
    "rand_like",
    lambda s, dt, rg, d: rand(s, dtype=dt, requires_grad=rg, device=d),
    "Uniform samples on [0, 1)",
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


@tensor_arguments
def randint_like(
    input: Tensor, low, high=None, *, dtype=None, pin_memory: bool = False, memory_format=None
) -> Tensor:
    refuse_pinned(pin_memory)
    if high is None:
        low, high = 0, low
    draw = functools.partial(randint, low, high)
    return _made_like(
        "randint_like", input, lambda s, dt, rg, d: draw(s, dtype=dt), dtype, False, None, memory_format
    )


def randperm(
    n: int, *, generator=None, dtype=None, device=None, requires_grad: bool = False, pin_memory: bool = False
) -> Tensor:
    refuse_pinned(pin_memory)
    if n < 0:
        raise RuntimeError(f"randperm: n must be non-negative, got {n}")
    data = resolve(generator).permutation(n)
    return _finish(data.astype((D.to_dtype(dtype) if dtype else D.int64).np), requires_grad, device)


_NORMAL_SIGNATURES = (
    " * (Tensor mean, Tensor std, *, torch.Generator generator = None, Tensor out = None)\n"
    " * (Tensor mean, float std = 1, *, torch.Generator generator = None, Tensor out = None)\n"
    " * (float mean, Tensor std, *, torch.Generator generator = None, Tensor out = None)\n"
    " * (float mean, float std, tuple of ints size, *, torch.Generator generator = None, Tensor out = None, "
    "torch.dtype dtype = None, torch.layout layout = None, torch.device device = None, bool pin_memory = False, "
    "bool requires_grad = False)\n"
)


def normal(
    mean,
    std,
    size=None,
    *,
    generator=None,
    dtype=None,
    device=None,
    pin_memory: bool = False,
    requires_grad: bool = False,
) -> Tensor:
    """Normal samples with tensor or float ``mean``/``std`` (broadcast, in the tensor's
    dtype), or, with float ``mean`` and ``std``, of ``size`` with the factory keywords
    (``dtype``, ``requires_grad`` ...): PyTorch's four overloads, and its TypeError for
    a call that matches none."""
    with_tensor = isinstance(mean, Tensor) or isinstance(std, Tensor)
    factory = {"dtype": dtype, "device": device, "requires_grad": requires_grad, "pin_memory": pin_memory}
    given = {k: v for k, v in factory.items() if v is not None and v is not False}
    if with_tensor == (size is not None) or (with_tensor and given):
        got = [type(a).__name__ for a in (mean, std, size) if a is not None]
        got += [f"{k}={type(v).__name__}" for k, v in given.items()]
        raise TypeError(
            f"normal() received an invalid combination of arguments - got ({', '.join(got)}), but expected "
            f"one of:\n{_NORMAL_SIGNATURES}"
        )
    refuse_pinned(pin_memory)
    m = mean._data if isinstance(mean, Tensor) else mean
    s = std._data if isinstance(std, Tensor) else std
    if with_tensor:
        dt = next(t.dtype for t in (mean, std) if isinstance(t, Tensor))
        return Tensor._wrap(
            resolve(generator).normal(m, s, np.broadcast_shapes(np.shape(m), np.shape(s))).astype(dt.np)
        )
    dt = _float_dtype(dtype)
    if not dt.is_floating_point:
        raise NotImplementedError(f"\"normal_kernel_cpu\" not implemented for '{dt.scalar_type}'")
    return _finish(resolve(generator).normal(m, s, _size((size,))).astype(dt.np), requires_grad, device)


def check_probabilities(p: Tensor) -> None:
    """PyTorch's checks of a tensor of Bernoulli probabilities: floating point, in [0, 1]."""
    if p.dtype.category != D.FLOAT:
        raise NotImplementedError(f"\"bernoulli_tensor_cpu_p_\" not implemented for '{p.dtype.scalar_type}'")
    if not ((p._data >= 0) & (p._data <= 1)).all():
        raise RuntimeError("Expected p_in >= 0 && p_in <= 1 to be true, but got false.")


@tensor_arguments
def bernoulli(input: Tensor, p: float | None = None, *, generator=None) -> Tensor:
    """1 with probability ``input`` (or ``p``) at each position, else 0, in input's dtype."""
    if p is None:
        check_probabilities(input)
    elif not 0 <= p <= 1:
        raise RuntimeError(f"bernoulli_ expects p to be in [0, 1], but got p={p}")
    prob = input._data if p is None else p
    draws = resolve(generator).random(input._data.shape, np.float64)
    return Tensor._wrap((draws < prob).astype(input._data.dtype))


@tensor_arguments
def multinomial(input: Tensor, num_samples: int, replacement: bool = False, *, generator=None) -> Tensor:
    """``num_samples`` category indices per row of ``input`` (non-negative weights, 1-D or 2-D),
    drawn in proportion to the weights; without replacement each category at most once.

    With replacement, by inverting each row's cumulative distribution; without, by an
    exponential race (each category's key is ``Exp(1) / weight``; the smallest keys win),
    which draws successively without replacement in proportion to the remaining weights."""
    weights = np.asarray(input._data, dtype=np.float64)
    if weights.ndim not in (1, 2):
        raise RuntimeError(f"multinomial: prob_dist must be 1 or 2 dim, got shape {list(input.shape)}")
    if input.dtype.category != D.FLOAT:
        raise RuntimeError(f"multinomial only supports floating-point dtypes for input, got {input.dtype}")
    if num_samples <= 0:  # (before the probabilities' checks, as PyTorch's)
        raise RuntimeError("cannot sample n_sample <= 0 samples")
    rows = weights.reshape(-1, weights.shape[-1])
    if not np.isfinite(rows).all() or (rows < 0).any():
        raise RuntimeError("multinomial: probability tensor contains either `inf`, `nan` or element < 0")
    if (rows.sum(axis=1) <= 0).any():
        raise RuntimeError("multinomial: invalid multinomial distribution (sum of probabilities <= 0)")
    if not replacement and num_samples > rows.shape[1]:
        raise RuntimeError(
            "multinomial: cannot sample n_sample > prob_dist.size(-1) samples without replacement"
        )
    if not replacement and ((rows > 0).sum(axis=1) < num_samples).any():
        raise RuntimeError(
            "multinomial: invalid multinomial distribution (with replacement=False, not enough non-negative "
            "category to sample)"
        )
    draws = resolve(generator).random(
        (rows.shape[0], num_samples if replacement else rows.shape[1]), np.float64
    )
    if replacement:
        cdf = np.cumsum(rows, axis=1)
        cdf /= cdf[:, -1:]
        last = rows.shape[1] - 1 - np.argmax(rows[:, ::-1] > 0, axis=1)  # the last category with weight
        picked = np.stack([np.searchsorted(c, u, side="right") for c, u in zip(cdf, draws)])
        picked = np.minimum(picked, last[:, None])
    else:
        with np.errstate(divide="ignore"):
            keys = -np.log1p(-draws) / rows  # Exp(1) / weight: inf for a zero weight
        picked = np.argsort(keys, axis=1, kind="stable")[:, :num_samples]
    shape = (num_samples,) if weights.ndim == 1 else (rows.shape[0], num_samples)
    return Tensor._wrap(picked.astype(np.int64).reshape(shape))


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
