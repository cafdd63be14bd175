"""The in-place forms of Tensor methods that have no rule of their own (``sin_``,
``eq_``, ``cumsum_``, ``addmm_`` ...): each computes the method of its name without the
trailing underscore and writes the result back through
:func:`~irgrad.tensor_ops.writes.update_inplace`, which casts it to ``self``'s dtype
(or raises PyTorch's "can't be cast" error), records autograd history and versions."""

from __future__ import annotations

from collections.abc import Callable

from ..tensor import Tensor
from .pointwise import _zero_gradient
from .writes import update_inplace

NAMES = """sin_ cos_ tan_ erf_ exp2_ expm1_ log10_ log1p_ log2_ rsqrt_ square_ trunc_ fix_ negative_
           absolute_ bitwise_not_ logical_not_ fmod_ atan2_ arctan2_ logical_xor_ eq_ ne_ lt_ le_ gt_
           ge_ greater_ greater_equal_ less_ less_equal_ not_equal_ multiply_ divide_ subtract_
           true_divide_ clamp_max_ clamp_min_ cumsum_ cumprod_ nan_to_num_ renorm_ addmm_ nextafter_""".split()

_ALIASES = {"arctan2": "atan2"}

# Written into a floating-point self, these keep it in the graph with a zero gradient, as
# PyTorch's derivative formulas for them (EqBackward ...) do.
_ZERO_GRADIENT = set(
    """eq_ ne_ lt_ le_ gt_ ge_ greater_ greater_equal_ less_ less_equal_ not_equal_
                        logical_not_ logical_xor_""".split()
)


def _compute(name: str, base: str, args: tuple, kwargs: dict) -> Callable[[Tensor], Tensor]:
    """The new value of ``self`` from its old one: ``base``'s result, recorded as depending
    with a zero gradient on ``self`` and the tensor arguments for a comparison into a
    floating-point ``self``."""

    def compute(old: Tensor) -> Tensor:
        result = getattr(Tensor, base)(old, *args, **kwargs)
        if name not in _ZERO_GRADIENT or not old.is_floating_point():
            return result
        return _zero_gradient(result.to(old.dtype), old, *args, *kwargs.values())

    return compute


def _check_dtype(self: Tensor, dtype) -> None:
    """PyTorch's error for ``cumsum_``/``cumprod_`` asked for a dtype other than ``self``'s."""
    if dtype is not None and dtype is not self.dtype:
        raise RuntimeError(
            f"Bad in-place call: input tensor dtype {self.dtype.name} and output tensor dtype "
            f"{dtype.name} should match"
        )


def _variant(name: str) -> Callable[..., Tensor]:
    base = name[:-1]
    base = _ALIASES.get(base, base)

    def method(self: Tensor, *args, **kwargs) -> Tensor:
        _check_dtype(self, kwargs.get("dtype"))
        others = [a for a in (*args, *kwargs.values()) if isinstance(a, Tensor)]
        return update_inplace(self, _compute(name, base, args, kwargs), *others, name=name)

    method.__name__ = name
    method.__doc__ = f"``{base}``, written into ``self``."
    return method


METHODS = {name: _variant(name) for name in NAMES}
