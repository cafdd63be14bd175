"""Autograd through views written in place: stale views refresh, in-place ops on views
rewrite the base's history (PyTorch's CopySlices).

Known values and finite differences here need no torch; the randomized comparison
against PyTorch skips without it.
"""

import numpy as np
import pytest

import irgrad
from irgrad.autograd import gradcheck


def test_view_sees_an_in_place_write_to_its_base():
    x = irgrad.tensor([2.0, 3.0], requires_grad=True)
    a = irgrad.tensor([1.0, 1.0, 1.0], requires_grad=True)
    base = a * 1
    view = base[0:2]
    base.mul_(x.sum())  # after this, view holds 5 * a[:2]
    (view * 3).sum().backward()
    assert x.grad.tolist() == [6.0, 6.0]
    assert a.grad.tolist() == [15.0, 15.0, 0.0]


def test_view_of_a_plain_tensor_requires_grad_after_its_base_is_written_with_one():
    w = irgrad.tensor([1.0, 2.0], requires_grad=True)
    base = irgrad.zeros(2, 3)
    view = base[:, 1]
    assert not view.requires_grad
    base.add_(w.reshape(2, 1))
    assert view.requires_grad and view.grad_fn is not None and not view.is_leaf
    view.sum().backward()
    assert w.grad.tolist() == [1.0, 1.0]


@pytest.mark.parametrize(
    "make_view",
    [
        lambda b: b[1:, ::2],  # a strided slice
        lambda b: b.t(),  # a transpose
        lambda b: b.reshape(2, 6)[1],  # a view of a view
        lambda b: b[2],
        lambda b: b.unsqueeze(0)[0, :, 1:3].t(),
    ],
)
def test_in_place_op_on_a_view_differentiates_like_the_out_of_place_computation(make_view):
    def in_place(a, c):
        base = a * 1.0
        view = make_view(base)
        view.mul_(c.sum())
        view.add_(view.exp().sum() * 0.1)  # exp saves its output, not the view it reads
        return (base * base).sum() + (view**3).sum()

    rng = np.random.default_rng(0)
    a = irgrad.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    c = irgrad.tensor(rng.standard_normal(2) * 0.3, requires_grad=True)
    assert gradcheck(in_place, (a, c))


def test_setitem_on_a_view_reaches_the_base_history():
    a = irgrad.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
    v = irgrad.tensor(5.0, requires_grad=True)
    base = a * 2
    view = base[1:]
    view[1] = v * v
    assert base.tolist() == [2.0, 4.0, 25.0, 8.0]
    (base * irgrad.tensor([1.0, 10.0, 100.0, 1000.0])).sum().backward()
    assert a.grad.tolist() == [2.0, 20.0, 0.0, 2000.0]
    assert v.grad.item() == 1000.0


def test_in_place_on_a_view_of_a_leaf_that_requires_grad_raises():
    leaf = irgrad.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="view of a leaf Variable that requires grad"):
        leaf[:2].mul_(2)
    with irgrad.no_grad():
        leaf[:2].add_(1)  # fine without autograd, as in PyTorch
    assert leaf.tolist() == [1.0, 1.0, 0.0]


def test_saved_view_modified_through_its_base_is_reported_at_backward():
    a = irgrad.tensor([1.0, 2.0], requires_grad=True)
    base = a * 1
    view = base[:1]
    y = view.exp()  # saves its output; the input view is read again below
    z = (view * view).sum()
    base.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.backward()
    y.sum().backward()  # exp saved its own output, untouched: still fine


# --- against PyTorch: random views and in-place ops ----------------------------------------

VIEWS = [
    lambda b: b[1:3],
    lambda b: b[:, 1::2],
    lambda b: b.t(),
    lambda b: b.reshape(4, 2, 3)[:, 1],
    lambda b: b.view(24)[5:17],
    lambda b: b[3],
]
IN_PLACE = [
    lambda v, c: v.mul_(c),
    lambda v, c: v.add_(c * c),
    lambda v, c: v.sub_(v * c),
    lambda v, c: v.copy_(v.detach() * 0 + c),
    lambda v, c: v.clamp_(min=-0.5),
    lambda v, c: v.__setitem__(0, c * 3),
]


@pytest.mark.parametrize("seed", range(40))
def test_random_view_in_place_sequences_match_pytorch(seed):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(seed)
    a0 = rng.standard_normal((4, 6))
    c0 = rng.standard_normal(())
    weights = rng.standard_normal((4, 6))
    plan = [
        (int(rng.integers(len(VIEWS))), int(rng.integers(len(IN_PLACE))), bool(rng.integers(2)))
        for _ in range(3)
    ]
    results = []
    for lib in (irgrad, torch):
        a = lib.tensor(a0, requires_grad=True)
        c = lib.tensor(c0, requires_grad=True)
        base = a * 1.0
        kept = []
        try:
            for view_at, op_at, through_base in plan:
                view = VIEWS[view_at](base)
                if through_base:
                    base.mul_(c + 1.5)  # write through the base: every view of it goes stale
                IN_PLACE[op_at](view, c)
                kept.append(view)
            loss = (base * lib.tensor(weights)).sum() + sum((v * v).sum() for v in kept)
            loss.backward()
        except RuntimeError as err:  # a value saved for backward was overwritten: both must say so
            assert "modified by an inplace operation" in str(err)
            results.append(None)
            continue
        results.append(
            (base.detach().numpy().copy(), loss.item(), a.grad.numpy().copy(), c.grad.numpy().copy())
        )
    mine, theirs = results
    assert (mine is None) == (theirs is None)
    for got, want in zip(mine or (), theirs or ()):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("base_requires_grad", [False, True])
def test_an_in_place_op_on_a_detached_tensor_gives_it_a_history_and_leaves_the_base_alone(base_requires_grad):
    """``detach()`` shares the storage and the version counter but is no view for autograd
    (as PyTorch's ``_is_view()`` is False): its in-place op's history is its own, its
    base keeps its history (a leaf that requires grad may be written so: PyTorch runs
    it), and a view of it has it as its base.  Before, the base took the history, and a
    leaf base raised."""
    x = irgrad.ones(4, requires_grad=base_requires_grad)
    w = irgrad.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
    d = x.detach()
    d.mul_(w)
    assert d.requires_grad and d.grad_fn is not None
    assert x.grad_fn is None and x.requires_grad is base_requires_grad
    np.testing.assert_array_equal(x.detach().numpy(), [1.0, 2.0, 3.0, 4.0])  # the memory is shared
    (d * d).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), 2 * w.detach().numpy())
    assert x.grad is None
    # a view of the detached tensor written in place: the detached tensor takes the history
    w.grad = None
    e = irgrad.zeros(4).detach()
    e[1:3].add_(w[:2])
    e.sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [1.0, 1.0, 0.0, 0.0])


def test_a_detached_tensor_written_in_place_matches_pytorch():
    torch = pytest.importorskip("torch")
    results = []
    for lib in (irgrad, torch):
        x = lib.ones(3, requires_grad=True)
        w = lib.tensor([0.5, -1.0, 2.0], requires_grad=True)
        d = x.detach()
        d.add_(w * w)
        loss = (d * x).sum()  # x reads the written memory; d carries the history
        loss.backward()
        results.append((loss.item(), w.grad.numpy().copy(), x.grad.numpy().copy(), x.grad_fn is None))
    assert results[0][0] == pytest.approx(results[1][0])
    np.testing.assert_allclose(results[0][1], results[1][1])
    np.testing.assert_allclose(results[0][2], results[1][2])
    assert results[0][3] == results[1][3]


def test_a_view_made_a_leaf_keeps_requiring_grad_through_in_place_writes():
    base = irgrad.zeros(4)
    view = base[:2]
    view.requires_grad_()
    with irgrad.no_grad():
        view.add_(1.0)
    base.add_(1.0)  # a write through the base, which requires no grad
    assert view.requires_grad and view.is_leaf and view.grad_fn is None


@pytest.mark.parametrize(
    "use",
    [
        lambda x, i: x[:, i],
        lambda x, i: x.index_select(1, i),
        lambda x, i: x.gather(1, i.expand(2, 1)),
    ],
    ids=["getitem", "index_select", "gather"],
)
def test_an_index_written_in_place_after_its_use_fails_the_backward(use):
    """The gradient of an indexing op reads its index: a write into the index tensor
    (here through a view of it) before backward raises, as PyTorch's version check does
    (found by the fuzzer, seed 125203: irgrad's gradient used the new index silently)."""
    x = irgrad.arange(6.0).reshape(2, 3).requires_grad_()
    i = irgrad.tensor([0])
    out = use(x, i)
    i.select(0, 0).fill_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        out.sum().backward()
