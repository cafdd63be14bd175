"""In-place shape ops (unsqueeze_, squeeze_, t_, transpose_, swapaxes_, swapdims_): the
tensor's own shape changes, its memory stays; against PyTorch 2.13 where it is
installed (values, shapes, strides' effect on writes, gradients, errors, versions), and
without it for irgrad's refusal while views of a base are alive and for compiled calls."""

from __future__ import annotations

import numpy as np
import pytest

import irgrad
from irgrad.testing.differential import check_compiled

CASES = {
    "unsqueeze": lambda t: t.unsqueeze_(1),
    "unsqueeze_last": lambda t: t.unsqueeze_(-1),
    "squeeze_all": lambda t: t.unsqueeze_(0).squeeze_(),
    "squeeze_dim": lambda t: t.unsqueeze_(2).squeeze_(2),
    "squeeze_dims": lambda t: t.unsqueeze_(0).unsqueeze_(0).squeeze_((0, 1)),
    "t": lambda t: t.t_(),
    "transpose": lambda t: t.transpose_(1, 0),
    "swapaxes": lambda t: t.swapaxes_(0, 1),
    "swapdims": lambda t: t.swapdims_(-1, 0),
}


def _run(lib, change, through_view: bool):
    """A non-leaf changed in place (or a view of one), then written and differentiated."""
    a = lib.tensor(np.arange(1.0, 7.0).reshape(2, 3), requires_grad=True)
    h = a * 2
    target = h[:, 1:] if through_view else h
    out = change(target)
    assert out is target
    shape = tuple(target.shape)
    weights = lib.arange(1.0, 1.0 + target.numel()).reshape(target.shape)
    target.mul_(weights)
    ((target * weights).sum() + (h.reshape(-1) * lib.arange(1.0, 7.0)).sum()).backward()
    return shape, target.detach().numpy().copy(), h.detach().numpy().copy(), a.grad.numpy().copy()


@pytest.mark.parametrize("through_view", [False, True], ids=["base", "view"])
@pytest.mark.parametrize("name", list(CASES))
def test_in_place_shape_ops_match_torch(name, through_view):
    torch = pytest.importorskip("torch")
    mine, theirs = (_run(lib, CASES[name], through_view) for lib in (irgrad, torch))
    assert mine[0] == theirs[0]
    for m, t in zip(mine[1:], theirs[1:]):
        np.testing.assert_array_equal(m, t)


def test_errors_versions_and_leaves_match_torch():
    torch = pytest.importorskip("torch")
    for lib in (irgrad, torch):
        with pytest.raises(RuntimeError, match=r"t_\(\) expects a tensor with <= 2 dimensions"):
            lib.zeros(2, 3, 4).t_()
        with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
            lib.zeros(3, requires_grad=True).unsqueeze_(0)
        leaf = lib.zeros(3, requires_grad=True)
        with lib.no_grad():
            leaf.unsqueeze_(0)
        assert tuple(leaf.shape) == (1, 3) and leaf.is_leaf and leaf.requires_grad
        x = lib.zeros(2, 3)
        version = x._version
        x.t_()
        assert x._version == version + 1
        x[0, 1] = 5.0  # the transposed layout: memory element 3
        assert x.t().flatten().tolist() == [0.0, 0.0, 0.0, 5.0, 0.0, 0.0]


def test_a_base_with_live_views_is_refused_and_allowed_once_they_are_gone():
    # a base's views are re-derived by replaying their ops on its layout: changing it
    # under them would re-derive them wrongly (PyTorch allows it; irgrad says so)
    x = irgrad.zeros(2, 3)
    view = x[0]
    with pytest.raises(RuntimeError, match="views of it"):
        x.unsqueeze_(0)
    assert tuple(x.shape) == (2, 3)
    del view
    x.unsqueeze_(0)
    assert tuple(x.shape) == (1, 2, 3)


def test_a_compiled_function_changing_shapes_in_place_equals_eager():
    def f(a):
        h = a * 2
        h.unsqueeze_(0)
        h.transpose_(0, 1)
        return (h.sum(1) * a).sum()

    rng = np.random.default_rng(0)
    calls = [[rng.standard_normal(3).astype(np.float32)] for _ in range(2)]
    compiled = check_compiled(f, calls, backend="llvm", train=True)
    assert compiled.explain().graph_break_count == 0


def test_an_input_changed_in_place_breaks_the_graph_and_runs_eagerly():
    def g(a):
        a.unsqueeze_(0)
        return a * 2

    compiled = irgrad.compile(g)
    x = irgrad.randn(3)
    with pytest.warns(irgrad.compiler.CompileWarning):
        out = compiled(x)
    assert tuple(x.shape) == (1, 3) and tuple(out.shape) == (1, 3)


def _resizes(lib) -> list:
    out = []
    x = lib.arange(6.0)
    out.append((x.resize_(2, 2) is x, x.tolist()))  # shrinks over the first elements in memory
    x = lib.arange(6.0)
    x.resize_(2, 4)  # grows: the old elements first (PyTorch leaves the rest uninitialized)
    out.append((tuple(x.shape), x.flatten()[:6].tolist()))
    x = lib.arange(4.0)
    x.resize_as_(lib.zeros(2, 2))
    out.append(x.tolist())
    x = lib.arange(4.0)
    version = x._version
    x.resize_((0,))
    out.append((tuple(x.shape), x._version - version))
    x = lib.arange(4.0)
    x.resize_(2).nextafter_(lib.tensor([10.0, -10.0]))
    out.append(x.tolist())
    for tensor in (lib.zeros(3, requires_grad=True), lib.zeros(3, requires_grad=True) * 1):
        with pytest.raises(RuntimeError, match="cannot resize variables that require grad"):
            tensor.resize_(2)
    return out


def test_resize_and_nextafter_in_place_match_torch():
    torch = pytest.importorskip("torch")
    assert _resizes(irgrad) == _resizes(torch)


def test_resize_refuses_views_and_breaks_the_graph():
    x = irgrad.arange(6.0)
    view = x[:2]
    with pytest.raises(RuntimeError, match="views of it"):
        x.resize_(3)
    with pytest.raises(RuntimeError, match="no view"):
        view.resize_(1)
    del view
    assert x.resize_(3).tolist() == [0.0, 1.0, 2.0]

    def grow(a):
        b = a * 1
        b.resize_(4)
        return b

    compiled = irgrad.compile(grow)
    with pytest.warns(irgrad.compiler.CompileWarning, match="resize_"):
        assert compiled(irgrad.ones(2)).tolist() == [1.0, 1.0, 0.0, 0.0]
