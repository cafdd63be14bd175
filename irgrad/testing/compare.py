"""Compare a result against an expected one, leaf by leaf (``assert_same``).

Built for differential testing (compiled against eager): the two sides ran the same
program on the same values, so the comparison is strict.  Structure, container
types, shapes, dtypes and ``requires_grad`` must be equal; integer and bool values
exactly equal; NaN, +inf and -inf must sit at exactly the same positions (a NaN where
the other side has an infinity is its own aspect, ``nan-or-inf``: overflow rounding can
make either); finite
floats must agree within a tolerance for the dtype that allows for a different
order of summation (a term relative to each element and one relative to the largest
magnitude in the tensor).
"""

from __future__ import annotations

import math

import numpy as np

from irgrad import Tensor

# dtype -> (relative tolerance per element, absolute tolerance, tolerance relative to the largest |value|).
# float64 allows a few float32 ulps (1.2e-7 each), per element and relative to the largest
# |value|: programs mix the two, and a float32 transcendental or sum computed by another
# implementation (the code generator's polynomials and summation order against numpy's)
# differs by an ulp or two, which survives promotion to float64, and keeps its absolute
# size where float64 values cancel (a float32 logsumexp 1 ulp off, times 3, plus -9.9).
TOLERANCES = {
    "float16": (1e-2, 1e-3, 1e-3),
    "float32": (1e-4, 1e-5, 1e-5),
    "float64": (5e-7, 1e-10, 5e-7),
}
SHOWN = 6  # differing elements quoted in a message


class Mismatch(AssertionError):
    """The two results differ; ``aspect`` says in what (a short category for reports)."""

    def __init__(self, aspect: str, path: str, detail: str) -> None:
        super().__init__(f"{path}: {aspect} differs: {detail}")
        self.aspect = aspect
        self.path = path
        self.detail = detail


def assert_same(got, expected, path: str = "output", requires_grad: bool = True) -> None:
    """Raise :class:`Mismatch` unless ``got`` equals ``expected`` (see the module docstring).

    ``requires_grad=False`` leaves the tensors' ``requires_grad`` flags unchecked.
    """
    if isinstance(expected, Tensor) or isinstance(got, Tensor):
        _same_tensor(got, expected, path, requires_grad)
    elif isinstance(expected, dict):
        if not isinstance(got, dict) or list(got) != list(expected):
            raise Mismatch("structure", path, f"{_describe(got)} against {_describe(expected)}")
        for key in expected:
            assert_same(got[key], expected[key], f"{path}[{key!r}]", requires_grad)
    elif isinstance(expected, (tuple, list)):
        if type(got).__name__ != type(expected).__name__ or len(got) != len(expected):
            raise Mismatch("structure", path, f"{_describe(got)} against {_describe(expected)}")
        for i, (g, e) in enumerate(zip(got, expected)):
            assert_same(g, e, f"{path}[{i}]", requires_grad)
    elif not _same_scalar(got, expected):
        raise Mismatch(
            "structure" if type(got) is not type(expected) else "value", path, f"{got!r} against {expected!r}"
        )


def _same_scalar(got, expected) -> bool:
    if type(got) is not type(expected):
        return False
    if isinstance(expected, float):
        return got == expected or (math.isnan(got) and math.isnan(expected))
    return got == expected


def _describe(value) -> str:
    if isinstance(value, Tensor):
        return f"tensor {list(value.shape)} {_dtype(value)}"
    if isinstance(value, dict):
        return f"dict with keys {list(value)}"
    if isinstance(value, (tuple, list)):
        return f"{type(value).__name__} of {len(value)}"
    return repr(value)


def _dtype(t: Tensor) -> str:
    return str(t.dtype).split(".")[-1]


def _same_tensor(got, expected, path: str, requires_grad: bool) -> None:
    if not isinstance(got, Tensor) or not isinstance(expected, Tensor):
        raise Mismatch("structure", path, f"{_describe(got)} against {_describe(expected)}")
    if tuple(got.shape) != tuple(expected.shape):
        raise Mismatch("shape", path, f"{list(got.shape)} against {list(expected.shape)}")
    if _dtype(got) != _dtype(expected):
        raise Mismatch("dtype", path, f"{_dtype(got)} against {_dtype(expected)}")
    if requires_grad and got.requires_grad != expected.requires_grad:
        raise Mismatch("requires_grad", path, f"{got.requires_grad} against {expected.requires_grad}")
    assert_same_array(got.detach().numpy(), expected.detach().numpy(), path)


def assert_same_array(got: np.ndarray, want: np.ndarray, path: str) -> None:
    """Values of two arrays of one shape and dtype (see the module docstring)."""
    if want.dtype.kind not in "fc":
        bad = got != want
        if bad.any():
            raise Mismatch("value", path, _quote(bad, got, want))
        return
    for name, test in (("nan", np.isnan), ("+inf", np.isposinf), ("-inf", np.isneginf)):
        bad = test(got) != test(want)
        if bad.any():
            # NaN on one side where the other has an infinity: which of the two an overflow
            # gives depends on rounding (an overflowed product is inf, and inf - inf NaN; a
            # fused multiply-add keeps the product exact), so callers can tell it apart
            swapped = np.isnan(got) & np.isinf(want) | np.isinf(got) & np.isnan(want)
            aspect = "nan-or-inf" if (swapped == bad).all() else "nonfinite"
            raise Mismatch(aspect, path, f"{name} positions differ; " + _quote(bad, got, want))
    finite = np.isfinite(want)
    rtol, atol, stol = TOLERANCES.get(want.dtype.name, TOLERANCES["float32"])
    scale = float(np.max(np.abs(want[finite]))) if finite.any() else 0.0
    g = got.astype(np.float64)
    w = want.astype(np.float64)
    bad = finite & (np.abs(g - w) > atol + stol * scale + rtol * np.abs(w))
    if bad.any():
        raise Mismatch("value", path, _quote(bad, got, want))


def _quote(bad: np.ndarray, got: np.ndarray, want: np.ndarray) -> str:
    where = np.argwhere(bad)[:SHOWN]
    items = [f"at {tuple(int(i) for i in idx)}: {got[tuple(idx)]!r} vs {want[tuple(idx)]!r}" for idx in where]
    if got.ndim == 0:
        items = [f"{got[()]!r} vs {want[()]!r}"]
    return f"{int(bad.sum())} of {bad.size} element(s) (got vs expected) " + "; ".join(items)
