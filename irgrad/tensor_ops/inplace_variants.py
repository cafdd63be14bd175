"""The in-place forms of Tensor methods that have no rule of their own (``sin_``,
``eq_``, ``cumsum_``, ``addmm_`` ...): each computes the method of its name without the
trailing underscore and writes the result back through
:func:`~irgrad.tensor_ops.writes.update_inplace`, which casts it to ``self``'s dtype
(or raises PyTorch's "can't be cast" error), records autograd history and versions."""

from __future__ import annotations

from collections.abc import Callable

from ..tensor import Tensor
from .writes import update_inplace

NAMES = """sin_ cos_ tan_ erf_ exp2_ expm1_ log10_ log1p_ log2_ rsqrt_ square_ trunc_ fix_ negative_
           absolute_ bitwise_not_ logical_not_ fmod_ atan2_ arctan2_ logical_xor_ eq_ ne_ lt_ le_ gt_
           ge_ greater_ greater_equal_ less_ less_equal_ not_equal_ multiply_ divide_ subtract_
           true_divide_ clamp_max_ clamp_min_ cumsum_ cumprod_ nan_to_num_ renorm_ addmm_""".split()

_ALIASES = {"arctan2": "atan2"}


def _variant(name: str) -> Callable[..., Tensor]:
    base = name[:-1]
    base = _ALIASES.get(base, base)

    def method(self: Tensor, *args, **kwargs) -> Tensor:
        others = [a for a in (*args, *kwargs.values()) if isinstance(a, Tensor)]
        return update_inplace(
            self, lambda old: getattr(Tensor, base)(old, *args, **kwargs), *others, name=name
        )

    method.__name__ = name
    method.__doc__ = f"``{base}``, written into ``self``."
    return method


METHODS = {name: _variant(name) for name in NAMES}
