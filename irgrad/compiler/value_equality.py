"""Equality of recorded Python values: what the state walk, its guards and its diff
call the same value.

``==`` alone is not it: NaN is not equal to itself, 0.0 equals -0.0 (which ``1 / x`` and
``atan2`` tell apart), and numpy arrays compare element by element.
"""

from __future__ import annotations

from typing import Any

import numpy as np

_FLOATS = (float, complex, np.floating, np.complexfloating)


def same_value(a: Any, b: Any) -> bool:
    """Equal Python values of the same type (NaN equals NaN, 0.0 is not -0.0, numpy's
    floats and complex numbers alike; arrays by content)."""
    if type(a) is not type(b):
        return False
    if a is b:
        return True
    try:
        equal = a == b
        if isinstance(equal, np.ndarray):
            return bool(equal.all()) and same_zero_signs(a, b)
        if equal:
            return not isinstance(a, _FLOATS) or same_zero_signs(a, b)
    except Exception:  # values that cannot be compared are different
        return False
    return isinstance(a, _FLOATS) and a != a and b != b


def same_array(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether numpy arrays ``a`` and ``b`` hold the same values (NaN equal to NaN, 0.0 not
    to -0.0) in the same shape and dtype."""
    return (
        a.shape == b.shape
        and a.dtype == b.dtype
        and np.array_equal(a, b, equal_nan=a.dtype.kind in "fc")
        and same_zero_signs(a, b)
    )


def same_zero_signs(a: Any, b: Any) -> bool:
    """Whether equal numbers or arrays ``a`` and ``b`` have their zeros' signs alike
    (``==`` does not tell 0.0 from -0.0, which ``1 / x`` and ``atan2`` do)."""
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype.kind == "c":
        return same_zero_signs(a.real, b.real) and same_zero_signs(a.imag, b.imag)
    return a.dtype.kind != "f" or np.array_equal(np.signbit(a), np.signbit(b))
