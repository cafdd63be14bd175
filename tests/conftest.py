"""Shared fixtures: ``compare`` runs one function on irgrad and on PyTorch and checks
values, dtypes, shapes and gradients agree (float32 tolerances by default)."""

from __future__ import annotations

import numpy as np
import pytest

import irgrad


def _dtype_name(dt) -> str:
    return str(dt).split(".")[-1]


def _flatten(out) -> list:
    if isinstance(out, (tuple, list)):
        return [x for o in out for x in _flatten(o)]
    return [out]


def _check_structure(a, b) -> None:
    if isinstance(b, tuple) and hasattr(b, "_fields"):  # torch's named tuples (max, min ...)
        assert getattr(a, "_fields", None) == tuple(b._fields) or hasattr(a, "values"), (a, b)
        assert len(a) == len(b)
        for name in ("values", "indices"):
            if hasattr(b, name):
                _check_structure(getattr(a, name), getattr(b, name))
    elif isinstance(b, (tuple, list)):
        assert isinstance(a, (tuple, list)) and len(a) == len(b), (type(a), len(a), len(b))
        for x, y in zip(a, b):
            _check_structure(x, y)


def assert_same(mine, theirs, atol: float, rtol: float, what: str = "value") -> None:
    """irgrad tensor ``mine`` equals torch tensor ``theirs`` in dtype, shape and values."""
    torch = pytest.importorskip("torch")
    if not isinstance(theirs, torch.Tensor):
        assert not isinstance(mine, irgrad.Tensor), (what, mine, theirs)
        assert mine == theirs or (mine != mine and theirs != theirs), (what, mine, theirs)
        return
    assert isinstance(mine, irgrad.Tensor), (what, type(mine))
    assert _dtype_name(mine.dtype) == _dtype_name(theirs.dtype), (what, mine.dtype, theirs.dtype)
    assert tuple(mine.shape) == tuple(theirs.shape), (what, tuple(mine.shape), tuple(theirs.shape))
    got = mine.detach().numpy()
    want = theirs.detach().numpy()
    if want.dtype.kind == "f":
        np.testing.assert_allclose(got, want, atol=atol, rtol=rtol, equal_nan=True, err_msg=what)
    else:
        np.testing.assert_array_equal(got, want, err_msg=what)


def run_both(
    fn,
    *inputs,
    grad: bool = True,
    atol: float = 1e-5,
    rtol: float = 1e-4,
    grad_atol: float | None = None,
    seed: int = 0,
):
    """Run ``fn(lib, *tensors)`` with ``lib`` = irgrad and torch; compare outputs and gradients.

    ``inputs`` are numpy arrays (made tensors; float ones require grad when ``grad``)
    or anything else (passed unchanged to both).  Gradients are taken with a random
    cotangent for every floating output, through ``autograd.grad``.
    """
    torch = pytest.importorskip("torch")

    def make(lib, a):
        if isinstance(a, np.ndarray):
            t = lib.tensor(a.copy())
            if grad and a.dtype.kind == "f":
                t.requires_grad_(True)
            return t
        return a

    mine_in = [make(irgrad, a) for a in inputs]
    theirs_in = [make(torch, a) for a in inputs]
    mine = fn(irgrad, *mine_in)
    theirs = fn(torch, *theirs_in)
    _check_structure(mine, theirs)
    flat_m, flat_t = _flatten(mine), _flatten(theirs)
    assert len(flat_m) == len(flat_t)
    for m, t in zip(flat_m, flat_t):
        assert_same(m, t, atol, rtol)
    if not grad:
        return mine, theirs
    wrt_t = [t for t in theirs_in if isinstance(t, torch.Tensor) and t.requires_grad]
    wrt_m = [t for t in mine_in if isinstance(t, irgrad.Tensor) and t.requires_grad]
    outs = [
        (m, t)
        for m, t in zip(flat_m, flat_t)
        if isinstance(t, torch.Tensor) and t.requires_grad and t.dtype.is_floating_point
    ]
    if not wrt_t or not outs:
        return mine, theirs
    rng = np.random.default_rng(seed)
    cots = [rng.standard_normal(tuple(t.shape)).astype(t.detach().numpy().dtype) for _, t in outs]
    g_t = torch.autograd.grad([t for _, t in outs], wrt_t, [torch.tensor(c) for c in cots], allow_unused=True)
    for _, m in outs:
        assert m.requires_grad, "irgrad output does not require grad where torch's does"
    g_m = irgrad.autograd.grad(
        [m for m, _ in outs], wrt_m, [irgrad.tensor(c) for c in cots], allow_unused=True
    )
    for i, (gm, gt) in enumerate(zip(g_m, g_t)):
        if gt is None:
            gt = torch.zeros_like(wrt_t[i])
        if gm is None:
            gm = irgrad.zeros_like(wrt_m[i])
        tol = atol if grad_atol is None else grad_atol
        assert_same(gm, gt, tol, rtol, what=f"gradient of input {i}")
    return mine, theirs


@pytest.fixture
def compare():
    """The :func:`run_both` helper."""
    return run_both


@pytest.fixture(params=["numpy", "llvm"])
def backend(request) -> str:
    """Each compiled backend in turn: a compile test runs on the reference interpreter
    and on native code."""
    return request.param
