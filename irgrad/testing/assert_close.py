"""``assert_close``: PyTorch's test assertion (``torch.testing.assert_close``) for users'
tests: two results equal in structure, shape, dtype and values within tolerances.

Tensors (and numpy arrays, taken as tensors), Python numbers, sequences and mappings are
compared recursively; a failure says what differs and where (``item [1]['w']``).  Values
match where ``|actual - expected| <= atol + rtol * |expected|``, infinities of the same
sign match, and NaN matches NaN under ``equal_nan``.  The default tolerances are
PyTorch's per dtype (0 for integers and booleans: exact), from the less precise of the
two sides; ``check_dtype=False`` compares values in their common dtype.
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from ..dtypes import from_numpy_dtype, get_default_dtype, promote_types
from ..tensor import Tensor

__all__ = ["assert_allclose", "assert_close"]

# PyTorch's default (rtol, atol) per dtype; anything else compares exactly.
_DEFAULT_TOLERANCES = {
    np.dtype(np.float16): (1e-3, 1e-5),
    np.dtype(np.float32): (1.3e-6, 1e-5),
    np.dtype(np.float64): (1e-7, 1e-7),
}


class _Failure(Exception):
    """A difference found at some depth (``path``), raised as AssertionError at the top."""

    def __init__(self, message: str, kind: type[Exception] = AssertionError) -> None:
        super().__init__(message)
        self.message, self.kind, self.path = message, kind, ""


def _tolerances(*dtypes: np.dtype) -> tuple[float, float]:
    pairs = [_DEFAULT_TOLERANCES.get(np.dtype(dt), (0.0, 0.0)) for dt in dtypes]
    return max(p[0] for p in pairs), max(p[1] for p in pairs)


def _number_text(value: Any) -> str:
    return str(value.item() if isinstance(value, np.generic) else value)


def _first_largest(values: np.ndarray) -> int:
    """The flat index of the largest value, the first NaN if there is one (as torch.max)."""
    nans = np.flatnonzero(np.isnan(values))
    return int(nans[0]) if nans.size else int(np.argmax(values))


def _compare_values(
    actual: np.ndarray, expected: np.ndarray, rtol: float, atol: float, equal_nan: bool, scalar: bool
):
    """Raise the mismatch report unless the values match.  Differences are computed as
    PyTorch computes them: in the floating dtype of the inputs, and for integers and
    booleans exactly, their relative differences in the default float dtype."""
    floating = actual.dtype.kind == "f"
    a, e = (actual, expected) if floating else (actual.astype(np.int64), expected.astype(np.int64))
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        difference = np.abs(a - e)
        if floating:
            matches = np.isclose(a, e, rtol=rtol, atol=atol, equal_nan=equal_nan)
        else:
            matches = difference <= atol + rtol * np.abs(e)
        if matches.all():
            return
        difference = np.where(matches, 0, difference).astype(a.dtype)
        scale = np.abs(e) if floating else np.abs(e).astype(get_default_dtype().np)
        relative = np.where(matches, 0, difference.astype(scale.dtype) / scale).astype(scale.dtype)
    close = "close" if rtol or atol else "equal"
    allowed = (f" (up to {atol} allowed)", f" (up to {rtol} allowed)") if close == "close" else ("", "")
    if scalar:  # reported in Python numbers, as PyTorch's scalars are
        got, want = actual.reshape(()).item(), expected.reshape(()).item()
        gap = abs(got - want)
        ratio = gap / abs(want) if want != 0 else (math.inf if gap else math.nan)
        raise _Failure(
            f"Scalars are not {close}!\n\nExpected {want} but got {got}.\nAbsolute difference: {gap}{allowed[0]}\n"
            f"Relative difference: {ratio}{allowed[1]}"
        )
    where_abs = _first_largest(difference.reshape(-1))
    where_rel = _first_largest(relative.reshape(-1))
    mismatched, total = int((~matches).sum()), matches.size
    raise _Failure(
        f"Tensor-likes are not {close}!\n\nMismatched elements: {mismatched} / {total} "
        f"({100 * mismatched / total:.1f}%)\n"
        f"Greatest absolute difference: {_number_text(difference.reshape(-1)[where_abs])} at index "
        f"{tuple(int(i) for i in np.unravel_index(where_abs, matches.shape))}{allowed[0]}\n"
        f"Greatest relative difference: {float(relative.reshape(-1)[where_rel])} at index "
        f"{tuple(int(i) for i in np.unravel_index(where_rel, matches.shape))}{allowed[1]}"
    )


def _compare_tensors(actual: Tensor, expected: Tensor, options: dict) -> None:
    a, e = actual.detach()._data, expected.detach()._data
    if a.shape != e.shape:
        raise _Failure(f"The values for attribute 'shape' do not match: {actual.shape} != {expected.shape}.")
    if options["check_dtype"] and a.dtype != e.dtype:
        raise _Failure(f"The values for attribute 'dtype' do not match: {actual.dtype} != {expected.dtype}.")
    if options["check_stride"] and actual.stride() != expected.stride():
        raise _Failure(
            f"The values for attribute 'stride()' do not match: {actual.stride()} != {expected.stride()}."
        )
    rtol, atol = options["rtol"], options["atol"]
    if rtol is None:
        rtol, atol = _tolerances(a.dtype, e.dtype)
    if a.dtype != e.dtype:
        common = promote_types(from_numpy_dtype(a.dtype), from_numpy_dtype(e.dtype)).np
        a, e = a.astype(common), e.astype(common)
    _compare_values(a, e, rtol, atol, options["equal_nan"], scalar=a.ndim == 0)


def _compare_numbers(actual: Any, expected: Any, options: dict) -> None:
    actual, expected = (v.item() if isinstance(v, np.generic) else v for v in (actual, expected))
    if type(actual) is not type(expected) and options["check_dtype"]:
        raise _Failure(f"The (d)types do not match: {type(actual)} != {type(expected)}.")
    a, e = np.asarray(actual), np.asarray(expected)
    rtol, atol = options["rtol"], options["atol"]
    if rtol is None:
        floating = isinstance(actual, float) or isinstance(expected, float)
        rtol, atol = (1e-7, 1e-7) if floating else (0.0, 0.0)  # Python floats (numpy's too) are doubles
    _compare_values(a, e, rtol, atol, options["equal_nan"], scalar=True)


def _is_tensor_like(value: Any) -> bool:
    return isinstance(value, (Tensor, np.ndarray))


def _as_tensor(value: Any) -> Tensor:
    return value if isinstance(value, Tensor) else Tensor._wrap(np.asarray(value))


def _compare(actual: Any, expected: Any, options: dict) -> None:
    if _is_tensor_like(actual) and _is_tensor_like(expected):
        if not options["allow_subclasses"] and type(actual) is not type(expected):
            raise _Failure(
                f"Expected both inputs to be of type {type(expected)}, but got {type(actual)}.", TypeError
            )
        return _compare_tensors(_as_tensor(actual), _as_tensor(expected), options)
    number = numbers.Number
    if isinstance(actual, number) and isinstance(expected, number) and not _is_tensor_like(actual):
        return _compare_numbers(actual, expected, options)
    if isinstance(actual, Mapping) and isinstance(expected, Mapping):
        if set(actual) != set(expected):
            raise _Failure(
                f"The keys of the mappings do not match:\nMissing keys in the actual mapping: "
                f"{sorted(set(expected) - set(actual), key=repr)}\nAdditional keys in the actual mapping: "
                f"{sorted(set(actual) - set(expected), key=repr)}"
            )
        for key in expected:
            _at(repr(key), actual[key], expected[key], options)
        return None
    strings = (str, bytes)
    if isinstance(actual, Sequence) and isinstance(expected, Sequence) and not isinstance(actual, strings):
        if len(actual) != len(expected):
            raise _Failure(f"The length of the sequences mismatch: {len(actual)} != {len(expected)}")
        for k, (a, e) in enumerate(zip(actual, expected)):
            _at(str(k), a, e, options)
        return None
    if actual is None and expected is None:
        return None
    raise _Failure(
        f"No comparison pair was able to handle inputs of type {type(actual)} and {type(expected)}.",
        TypeError,
    )


def _at(key: str, actual: Any, expected: Any, options: dict) -> None:
    try:
        _compare(actual, expected, options)
    except _Failure as failure:
        failure.path = f"[{key}]{failure.path}"
        raise


def assert_close(
    actual: Any,
    expected: Any,
    *,
    allow_subclasses: bool = True,
    rtol: float | None = None,
    atol: float | None = None,
    equal_nan: bool = False,
    check_device: bool = True,
    check_dtype: bool = True,
    check_layout: bool = True,
    check_stride: bool = False,
    msg: str | Callable[[str], str] | None = None,
) -> None:
    """Raise AssertionError (TypeError for inputs that cannot be compared) unless
    ``actual`` and ``expected`` are close, as ``torch.testing.assert_close`` (see the
    module doc); ``msg`` replaces the message, or, if callable, rewrites it."""
    if (rtol is None) != (atol is None):
        raise ValueError(
            f"Both 'rtol' and 'atol' must be either specified or omitted, but got no {'atol' if atol is None else 'rtol'}."
        )
    options = {
        "allow_subclasses": allow_subclasses,
        "rtol": rtol,
        "atol": atol,
        "equal_nan": equal_nan,
        "check_dtype": check_dtype,
        "check_stride": check_stride,
    }
    try:
        _compare(actual, expected, options)
    except _Failure as failure:
        message = failure.message
        if failure.path:
            message += f"\n\nThe failure occurred for item {failure.path}"
        if msg is not None:
            message = msg(message) if callable(msg) else msg
        raise failure.kind(message) from None


_ALLCLOSE_TOLERANCES = {
    np.dtype(np.float16): (1e-3, 1e-3),
    np.dtype(np.float32): (1e-4, 1e-5),
    np.dtype(np.float64): (1e-5, 1e-8),
}


def assert_allclose(
    actual: Any,
    expected: Any,
    rtol: float | None = None,
    atol: float | None = None,
    equal_nan: bool = True,
    msg: str = "",
) -> None:
    """PyTorch's deprecated ``assert_allclose`` (it warns): :func:`assert_close` without the
    dtype check, with its own looser default tolerances and NaN equal to NaN by default
    (``expected`` may be a number or a list)."""
    warnings.warn(
        "`torch.testing.assert_allclose()` is deprecated since 1.12 and will be removed in a future release. "
        "Please use `torch.testing.assert_close()` instead. "
        "You can find detailed upgrade instructions in https://github.com/pytorch/pytorch/issues/61844.",
        FutureWarning,
        stacklevel=2,
    )
    if not isinstance(actual, Tensor):
        actual = Tensor._wrap(np.asarray(actual))
    if not isinstance(expected, Tensor):
        expected = Tensor._wrap(np.asarray(expected, dtype=actual._data.dtype))
    if rtol is None and atol is None:
        pairs = [_ALLCLOSE_TOLERANCES.get(t._data.dtype, (0.0, 0.0)) for t in (actual, expected)]
        rtol, atol = max(p[0] for p in pairs), max(p[1] for p in pairs)
    assert_close(
        actual, expected, rtol=rtol, atol=atol, equal_nan=equal_nan, check_dtype=False, msg=msg or None
    )
