"""Random factories: ``randn``, ``rand``, ``randint``, their ``*_like`` forms, ``randperm``,
``normal``, ``bernoulli`` and ``multinomial``.

Apart from the filled factories because they draw: from the global generator through the
registered random primitives (so that a trace records the draw), or from a given
``generator``; and they check PyTorch's conditions on probabilities and weights."""

from __future__ import annotations

import functools

import numpy as np

from .. import dtypes as D
from .._arguments import list_keyword, tensor_arguments
from ..dispatch import apply
from ..ops import OPS
from ..random import resolve
from ..tensor import Tensor
from .arguments import _finish, _float_dtype, _size, refuse_pinned
from .filled import _like_factory, _made_like


def _check_float_random(name: str, dt: D.dtype) -> None:
    if not dt.is_floating_point and not dt.is_complex:
        raise RuntimeError(f"{name}: expected a floating point dtype, got {dt}")


def _complex_draw(factory, size: tuple, dt: D.dtype, scale: float, **kw) -> np.ndarray:
    """PyTorch's complex draws: the real and imaginary parts drawn as real pairs
    ``[..., 2]`` of the parts' dtype, times ``scale`` (randn's 1/sqrt(2): a variance of 1
    split over the two parts)."""
    pairs = factory(*size, 2, dtype=D.to_real(dt), **kw)._data
    if scale != 1:
        pairs = pairs * pairs.dtype.type(scale)
    return np.ascontiguousarray(pairs).view(dt.np)[..., 0]


@list_keyword
def randn(
    *size, generator=None, dtype=None, device=None, requires_grad: bool = False, pin_memory: bool = False
) -> Tensor:
    """Standard normal samples from the global (or given) generator."""
    refuse_pinned(pin_memory)
    dt = _float_dtype(dtype)
    _check_float_random("randn", dt)
    if dt.is_complex:
        return _finish(
            _complex_draw(randn, _size(size), dt, np.sqrt(0.5), generator=generator), requires_grad, device
        )
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
    if dt.is_complex:
        return _finish(_complex_draw(rand, _size(size), dt, 1.0, generator=generator), requires_grad, device)
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
