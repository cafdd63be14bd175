"""Comparison machinery shared by the special-value sweeps against PyTorch
(``test_special_values.py``, ``test_loss_special_values.py``).

A sweep runs a case on a batch of input rows in both libraries and compares values and
gradients NaN-equal, row by row; rows listed as known differences (PyTorch quirks,
open irgrad defects) are compared separately, as strict xfails.  A known difference is
``(case id, dtypes, predicate on the rows matrix, reason)``.
"""

from __future__ import annotations

import numpy as np
import pytest

DTYPES = ("float32", "float64")
RTOL = {"float32": 1e-4, "float64": 1e-5}
ATOL = 1e-6
SHOWN = 8  # mismatching rows listed in a failure message


def rows_matrix(arrays: list[np.ndarray]) -> np.ndarray:
    """The inputs as one matrix, a row per input case (what a predicate sees)."""
    return np.concatenate([a.reshape(len(a), -1) for a in arrays], axis=1)


def known_rows(case_id: str, dtype: str, arrays: list[np.ndarray], known: list) -> np.ndarray:
    """Which input rows of this case are a listed known difference."""
    selected = np.zeros(len(arrays[0]), dtype=bool)
    for known_id, dtypes, predicate, _ in known:
        if known_id == case_id and dtype in dtypes:
            selected |= predicate(rows_matrix(arrays))
    return selected


def assert_same(what: str, mine, theirs, arrays: list[np.ndarray], rows: np.ndarray, dtype: str) -> None:
    """irgrad's ``mine`` matches torch's ``theirs`` in dtype, shape and (NaN-equal) values.

    Only the input ``rows`` selected are compared (along the first axis, where there is one).
    """
    names = [str(t.dtype).split(".")[-1] for t in (mine, theirs)]  # "irgrad.float32", "torch.float32"
    assert names[0] == names[1], (what, *names)
    got, want = mine.detach().numpy(), theirs.detach().numpy()
    assert got.shape == want.shape, (what, got.shape, want.shape)
    if got.ndim:
        got, want, arrays = got[rows], want[rows], [a[rows] for a in arrays]
    floating = want.dtype.kind == "f"
    if floating:
        bad = ~np.isclose(got, want, rtol=RTOL[dtype], atol=ATOL, equal_nan=True)
    else:
        bad = got != want
    msg = what + "".join(_describe(i, got, want, arrays) for i in _bad_rows(bad)[:SHOWN])
    if floating:
        np.testing.assert_allclose(got, want, rtol=RTOL[dtype], atol=ATOL, equal_nan=True, err_msg=msg)
    else:
        np.testing.assert_array_equal(got, want, err_msg=msg)


def compare_all(pairs: list, arrays: list[np.ndarray], rows: np.ndarray, dtype: str) -> None:
    """Check every (what, mine, theirs) pair and report every mismatch together, so a
    wrong value does not hide a wrong gradient (``theirs`` None: nothing to compare)."""
    errors = []
    for what, mine, theirs in pairs:
        if theirs is None:
            continue
        if mine is None:
            errors.append(f"irgrad gives no {what}")
            continue
        try:
            assert_same(what, mine, theirs, arrays, rows, dtype)
        except AssertionError as exc:
            errors.append(str(exc))
    if errors:
        pytest.fail("\n".join(errors), pytrace=False)


def _bad_rows(bad: np.ndarray) -> list:
    """Indices along the first axis (the input cases) with a mismatch; ``[()]`` for 0-d."""
    if bad.ndim == 0:
        return [()] if bad else []
    return list(np.flatnonzero(bad.reshape(len(bad), -1).any(axis=1)))


def _describe(i, got: np.ndarray, want: np.ndarray, arrays: list[np.ndarray]) -> str:
    if got.ndim == 0:  # a reduced result: every row went into it
        return f"\n  all rows: irgrad {got.tolist()!r}, torch {want.tolist()!r}"
    inputs = ", ".join(repr(a[i].tolist()) for a in arrays)
    return f"\n  inputs {inputs}: irgrad {got[i].tolist()!r}, torch {want[i].tolist()!r}"
