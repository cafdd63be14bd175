"""Test helpers comparing irgrad's behaviour with PyTorch's (skipping where torch is absent)."""

from __future__ import annotations

import warnings

import pytest

import irgrad


def raises_like_torch(fn, match: str | None = None) -> None:
    """``fn(lib)`` raises on torch, and raises the same builtin exception type on irgrad
    (its message matching ``match`` when given)."""
    torch = pytest.importorskip("torch")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(Exception) as theirs:
            fn(torch)
        with pytest.raises(type(theirs.value), match=match):
            fn(irgrad)
