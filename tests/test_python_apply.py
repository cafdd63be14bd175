"""Tensor.apply_, map_ and map2_ (a Python function per element, written in place)
against PyTorch 2.13, and their graph break under irgrad.compile."""

from __future__ import annotations

import pytest

import irgrad


def _uses(lib) -> list:
    out = []
    x = lib.tensor([1.0, 2.0, 3.0])
    out.append((x.apply_(lambda v: v * 2) is x, x.tolist(), x._version))  # the version stays
    x = lib.tensor([1, 2, 3])
    x.apply_(lambda v: v / 2)  # cast to the tensor's dtype: 0.5 -> 0
    out.append((x.tolist(), str(x.dtype).split(".")[-1]))
    x = lib.tensor([1, 2])
    out.append(x.apply_(lambda v: type(v).__name__ == "int").tolist())  # Python numbers in
    x = lib.tensor([1.0, 2.0, 3.0])
    out.append(x.map_(lib.tensor([10.0, 20.0, 30.0]), lambda a, b: a + b).tolist())
    out.append(x.map_(lib.tensor(10.0), lambda a, b: a - b).tolist())  # broadcast
    ones, twos = lib.ones(3), lib.full((3,), 2.0)
    out.append(x.map2_(ones, twos, lambda a, b, c: a + b * c).tolist())
    out.append(lib.tensor([True, False]).apply_(lambda v: not v).tolist())
    y = lib.zeros(2, 3)
    y[:, 1].apply_(lambda v: 5.0)  # through a view
    out.append(y.tolist())
    out.append(lib.zeros(0).apply_(lambda v: 1.0).tolist())
    for tensor in (lib.tensor([1.0], requires_grad=True), lib.tensor([1.0], requires_grad=True) * 1):
        with pytest.raises(RuntimeError, match=r"Can't call apply_\(\) on Variable that requires grad"):
            tensor.apply_(lambda v: v)
    with pytest.raises(TypeError, match="must be real number, not str"):
        lib.tensor([1.0]).apply_(lambda v: "a")
    return out


def test_apply_map_and_map2_match_torch():
    torch = pytest.importorskip("torch")
    assert _uses(irgrad) == _uses(torch)


def test_apply_is_a_graph_break_and_runs_eagerly():
    def f(a):
        b = a * 2
        b.apply_(lambda v: v + 1)
        return b

    compiled = irgrad.compile(f)
    with pytest.warns(irgrad.compiler.CompileWarning, match="apply_"):
        assert compiled(irgrad.tensor([1.0, 2.0])).tolist() == [3.0, 5.0]
    assert compiled(irgrad.tensor([0.0, 1.0])).tolist() == [1.0, 3.0]
