"""irgrad.testing.assert_close (and the deprecated assert_allclose) against
torch.testing's: the same calls pass or raise the same exception with the same
message (up to the library's name), over tolerances, dtypes, shapes, NaN and infinity,
scalars, containers and msg."""

from __future__ import annotations

import math

import numpy as np
import pytest

import irgrad

torch = pytest.importorskip("torch")


def _outcome(assert_fn, *args, **kwargs):
    try:
        assert_fn(*args, **kwargs)
    except (AssertionError, TypeError, ValueError) as error:
        text = str(error).replace("irgrad.tensor.Tensor", "irgrad.Tensor")  # the class's module
        return type(error).__name__, text.replace("torch.", "LIB.").replace("irgrad.", "LIB.")
    return "passed", ""


def _convert(value, lib):
    if isinstance(value, np.ndarray):
        return lib.tensor(value)
    if isinstance(value, dict):
        return {k: _convert(v, lib) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_convert(v, lib) for v in value)
    return value


def _same(actual, expected, **kwargs):
    ours = _outcome(
        irgrad.testing.assert_close, _convert(actual, irgrad), _convert(expected, irgrad), **kwargs
    )
    theirs = _outcome(
        torch.testing.assert_close, _convert(actual, torch), _convert(expected, torch), **kwargs
    )
    assert ours == theirs


a32 = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], dtype=np.float32)
CASES = [
    (a32, a32.copy(), {}),
    (a32, a32 + 1e-6, {}),
    (a32, a32 * 1.001, {}),
    (a32, a32 * 1.001, {"rtol": 1e-2, "atol": 0.0}),
    (a32, a32.astype(np.float64), {}),
    (a32, a32.astype(np.float64), {"check_dtype": False}),
    (a32.astype(np.float64), (a32 + 1e-8).astype(np.float64), {}),
    (a32.astype(np.float16), (a32 * 1.0005).astype(np.float16), {}),
    (a32, a32[:1], {}),
    (np.array([1, 2, 3]), np.array([1, 2, 4]), {}),
    (np.array([True, False]), np.array([True, True]), {}),
    (np.array([1.0, math.nan]), np.array([1.0, math.nan]), {}),
    (np.array([1.0, math.nan]), np.array([1.0, math.nan]), {"equal_nan": True}),
    (np.array([[1.0, math.nan], [3.0, 4.0]]), np.array([[1.0, math.nan], [3.0, 4.1]]), {}),
    (np.array([1.0, math.inf]), np.array([1.0, math.inf]), {}),
    (np.array([1.0, math.inf]), np.array([1.0, -math.inf]), {}),
    (np.array([0.0, 1.0]), np.array([1.0, 1.0]), {}),
    (np.array(1.0), np.array(2.0), {}),
    (np.zeros((0, 3)), np.zeros((0, 3)), {}),
    (1.0, 1.0 + 1e-9, {}),
    (1.0, 1.1, {}),
    (1, 1.0, {}),
    (1, 2, {}),
    (np.float32(1.0), np.float32(1.01), {}),
    (np.float32(1.0), 1.0, {}),
    (np.int64(3), np.int64(4), {}),
    ([a32, a32], [a32, a32 + 1], {}),
    ((a32,), [a32], {}),
    ({"w": a32, "b": a32}, {"w": a32, "b": a32 * 2}, {}),
    ({"w": a32}, {"v": a32}, {}),
    ([a32], [a32, a32], {}),
    (a32, [1.0, 2.0], {}),
    (a32, a32 * 2, {"msg": "custom message"}),
    (a32, a32, {"rtol": 1e-3}),
]


@pytest.mark.parametrize("actual, expected, options", CASES)
def test_as_torchs(actual, expected, options):
    _same(actual, expected, **options)


def test_a_callable_msg_rewrites_the_message():
    with pytest.raises(AssertionError, match=r"^PREFIX Tensor-likes are not close!"):
        irgrad.testing.assert_close(irgrad.ones(2), irgrad.zeros(2), msg=lambda m: "PREFIX " + m)


def test_random_perturbations_as_torchs():
    rng = np.random.default_rng(0)
    for _ in range(200):
        dtype = rng.choice([np.float32, np.float64, np.int64])
        shape = tuple(rng.integers(0, 4, rng.integers(0, 3)))
        base = (rng.standard_normal(shape) * 10).astype(dtype)
        noise = rng.choice([0.0, 1e-9, 1e-6, 1e-3, 1.0])
        other = (base + noise * rng.standard_normal(shape)).astype(dtype)
        _same(base, other)


def test_deprecated_assert_allclose_as_torchs():
    for actual, expected in [
        (a32, a32 * (1 + 5e-5)),
        (a32, a32 * 1.01),
        (a32, [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]),
    ]:
        with pytest.warns(FutureWarning, match="assert_allclose"):
            ours = _outcome(
                irgrad.testing.assert_allclose, _convert(actual, irgrad), _convert(expected, irgrad)
            )
        with pytest.warns(FutureWarning):
            theirs = _outcome(
                torch.testing.assert_allclose, _convert(actual, torch), _convert(expected, torch)
            )
        assert ours == theirs
