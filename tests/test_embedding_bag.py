"""F.embedding_bag and nn.EmbeddingBag against PyTorch (values, weight gradients, errors),
compiled against eager, and known values without torch."""

import numpy as np
import pytest

import irgrad
import irgrad.nn as nn
import irgrad.nn.functional as F

CASES = [
    dict(input=[[1, 2], [3, 4]], offsets=None, mode="sum"),
    dict(input=[[1, 2, 2], [3, 4, 9]], offsets=None, mode="mean"),
    dict(input=[[1, 2], [3, 4]], offsets=None, mode="max"),
    dict(input=[1, 2, 3, 4], offsets=[0, 2, 2], mode="mean"),
    dict(input=[1, 2, 3, 4], offsets=[0, 2, 2], mode="max"),
    dict(input=[1, 2, 3, 4, 5], offsets=[0, 2, 4], mode="sum", include_last_offset=True),
    dict(input=[1, 2, 3, 4, 5], offsets=[0, 2, 5], mode="mean", include_last_offset=True),
    dict(input=[1, 2, 3, 4], offsets=[0, 2], mode="mean", padding_idx=2),
    dict(input=[2, 2, 3, 4], offsets=[0, 2], mode="max", padding_idx=2),
    dict(input=[2, 2, 3, 4], offsets=[0, 2], mode="sum", padding_idx=-8),
    dict(input=[2, 2, 3, 4], offsets=[0, 2], mode="sum", per_sample_weights=[0.5, 1.0, 2.0, -1.0]),
    dict(input=[3, 3, 1], offsets=[0], mode="max"),
    dict(input=[], offsets=[0, 0], mode="mean"),
    dict(input=[1, 2, 3, 4], offsets=[0, 1, 4], mode="sum"),
    dict(input=[5, 1, 5, 0], offsets=[0, 3], mode="mean", scale_grad_by_freq=True),
    dict(input=[5, 1, 5, 0], offsets=[0, 3], mode="sum", max_norm=1.0),
]


def _run(lib, case, weight):
    w = lib.tensor(weight, requires_grad=True)
    kw = dict(case)
    ids = lib.tensor(kw.pop("input"), dtype=lib.int64)
    offsets = kw.pop("offsets")
    offsets = None if offsets is None else lib.tensor(offsets, dtype=lib.int64)
    if "per_sample_weights" in kw:
        kw["per_sample_weights"] = lib.tensor(kw["per_sample_weights"], dtype=lib.float64)
    out = lib.nn.functional.embedding_bag(ids, w, offsets, **kw)
    weights = lib.tensor(np.arange(out.numel(), dtype=np.float64).reshape(tuple(out.shape)))
    (out * weights).sum().backward()
    return out.detach().numpy(), w.grad.numpy(), w.detach().numpy()


@pytest.mark.parametrize(
    "case", CASES, ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items() if k != "input")
)
def test_as_torch(case):
    torch = pytest.importorskip("torch")
    weight = np.random.default_rng(0).standard_normal((10, 3))
    for mine, theirs in zip(_run(irgrad, case, weight), _run(torch, case, weight)):
        np.testing.assert_allclose(mine, theirs, rtol=1e-12, atol=1e-12)


def test_known_values():
    w = irgrad.tensor(np.arange(30.0).reshape(10, 3))
    out = F.embedding_bag(irgrad.tensor([1, 2, 3, 4, 5]), w, irgrad.tensor([0, 2, 2]), mode="sum")
    np.testing.assert_array_equal(out.numpy(), [[9, 11, 13], [0, 0, 0], [36, 39, 42]])
    out = F.embedding_bag(irgrad.tensor([1, 1, 7]), w, irgrad.tensor([0]), mode="max", padding_idx=7)
    np.testing.assert_array_equal(out.numpy(), [[3, 4, 5]])


def test_errors_as_torch():
    torch = pytest.importorskip("torch")
    calls = [
        lambda L, w: L.nn.functional.embedding_bag(L.tensor([[1, 2], [3, 4]]), w, L.tensor([0, 1])),
        lambda L, w: L.nn.functional.embedding_bag(L.tensor([1, 2, 3]), w),
        lambda L, w: L.nn.functional.embedding_bag(L.tensor([1, 2, 3]), w, L.tensor([[0]])),
        lambda L, w: L.nn.functional.embedding_bag(L.tensor([1, 2, 3]), w, L.tensor([1])),
        lambda L, w: L.nn.functional.embedding_bag(L.tensor([1, 2, 3]), w, L.tensor([0]), mode="foo"),
        lambda L, w: L.nn.functional.embedding_bag(
            L.tensor([1, 2, 3]), w, L.tensor([0]), mode="mean", per_sample_weights=L.ones(3)
        ),
        lambda L, w: L.nn.functional.embedding_bag(
            L.tensor([1, 2, 3]), w, L.tensor([0]), per_sample_weights=L.ones(2), mode="sum"
        ),
        lambda L, w: L.nn.functional.embedding_bag(L.tensor([1.0, 2.0]), w, L.tensor([0])),
        lambda L, w: L.nn.functional.embedding_bag(L.tensor([1, 2]), w, L.tensor([0, 3])),
        lambda L, w: L.nn.functional.embedding_bag(
            L.tensor([1, 2]), w, L.tensor([0, 1]), mode="max", scale_grad_by_freq=True
        ),
    ]
    for call in calls:
        raised = []
        for lib in (irgrad, torch):
            with pytest.raises((ValueError, RuntimeError, NotImplementedError)) as err:
                call(lib, lib.ones(10, 3))
            raised.append((type(err.value), str(err.value).replace("irgrad.", "torch.").split(" ")[:4]))
        assert raised[0] == raised[1], raised


def test_module_and_compiled_training_as_eager():
    def make():
        irgrad.manual_seed(0)
        bag = nn.EmbeddingBag(50, 6, mode="mean", padding_idx=0)
        head = nn.Linear(6, 3)
        opt = irgrad.optim.SGD(list(bag.parameters()) + list(head.parameters()), lr=0.5)

        def step(text, offsets, label):
            opt.zero_grad()
            loss = F.cross_entropy(head(bag(text, offsets)), label)
            loss.backward()
            opt.step()
            return loss

        return step, bag

    rng = np.random.default_rng(1)
    batches = [
        (
            irgrad.tensor(rng.integers(0, 50, 30)),
            irgrad.tensor(np.sort(np.r_[0, rng.choice(np.arange(1, 30), 3, replace=False)])),
            irgrad.tensor(rng.integers(0, 3, 4)),
        )
        for _ in range(4)
    ]
    eager, bag_e = make()
    compiled_step, bag_c = make()
    compiled = irgrad.compile(compiled_step)
    for batch in batches:
        np.testing.assert_allclose(float(compiled(*batch)), float(eager(*batch)), rtol=1e-6)
    np.testing.assert_allclose(
        bag_c.weight.detach().numpy(), bag_e.weight.detach().numpy(), rtol=1e-5, atol=1e-7
    )
    assert not compiled._compiled.breaks  # one graph: the offsets are checked inside it
    with pytest.raises(RuntimeError, match="offsets\\[0\\] has to be 0"):
        compiled(batches[0][0], irgrad.tensor([1, 5, 9, 20]), batches[0][2])


def test_module_repr_and_from_pretrained_as_torch():
    torch = pytest.importorskip("torch")
    assert repr(nn.EmbeddingBag(10, 3, mode="sum", padding_idx=2)) == repr(
        torch.nn.EmbeddingBag(10, 3, mode="sum", padding_idx=2)
    )
    bag = nn.EmbeddingBag.from_pretrained(irgrad.ones(4, 2), mode="max")
    assert not bag.weight.requires_grad and bag.mode == "max"
    assert (nn.EmbeddingBag(10, 3, padding_idx=2).weight[2].detach().numpy() == 0).all()
