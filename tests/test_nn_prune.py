"""nn.utils.prune against torch.nn.utils.prune: the masks of the deterministic methods
(alone, combined iteratively, global), the module's parameters, buffers, hooks, state
dict, outputs and gradients; the random methods by what they must satisfy; the errors."""

from __future__ import annotations

import numpy as np
import pytest

import irgrad

torch = pytest.importorskip("torch")
pytest.importorskip("torch.nn.utils.prune")  # (not imported with torch)


def _pair(make_ours, make_theirs, seed=0):
    ours, theirs = make_ours(), make_theirs()
    rng = np.random.default_rng(seed)
    state = {
        k: rng.standard_normal(tuple(v.shape)).astype(np.float32) for k, v in theirs.state_dict().items()
    }
    theirs.load_state_dict({k: torch.tensor(v) for k, v in state.items()})
    ours.load_state_dict(state)
    return ours, theirs


def _linear_pair(seed=0):
    return _pair(lambda: irgrad.nn.Linear(6, 5), lambda: torch.nn.Linear(6, 5), seed)


def _conv_pair(seed=0):
    return _pair(lambda: irgrad.nn.Conv2d(3, 4, 3), lambda: torch.nn.Conv2d(3, 4, 3), seed)


def _same_module(ours, theirs, x):
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in theirs.named_buffers()]
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for name, value in theirs.state_dict().items():
        np.testing.assert_array_equal(ours.state_dict()[name].numpy(), value.numpy(), err_msg=name)
    a, b = ours(irgrad.tensor(x)), theirs(torch.tensor(x))
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-5, atol=1e-6)
    a.sum().backward()
    b.sum().backward()
    for (name, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-5, atol=1e-6, err_msg=name)


STEPS = {
    "l1 half": lambda P, m: P.l1_unstructured(m, "weight", amount=0.5),
    "l1 count": lambda P, m: P.l1_unstructured(m, "weight", amount=7),
    "l1 bias": lambda P, m: P.l1_unstructured(m, "bias", amount=0.4),
    "ln rows": lambda P, m: P.ln_structured(m, "weight", amount=0.4, n=2, dim=0),
    "ln cols l1": lambda P, m: P.ln_structured(m, "weight", amount=2, n=1, dim=-1),
    "identity": lambda P, m: P.identity(m, "weight"),
}


@pytest.mark.parametrize(
    "sequence",
    [
        ["l1 half"],
        ["l1 count"],
        ["ln rows"],
        ["ln cols l1"],
        ["l1 half", "ln rows"],
        ["ln rows", "l1 half", "l1 count"],
        ["identity", "l1 half"],
        ["l1 bias", "l1 half", "ln cols l1"],
    ],
)
@pytest.mark.parametrize("make", [_linear_pair, _conv_pair], ids=["linear", "conv"])
def test_deterministic_pruning_as_torchs(sequence, make):
    ours, theirs = make()
    for step in sequence:
        STEPS[step](irgrad.nn.utils.prune, ours)
        STEPS[step](torch.nn.utils.prune, theirs)
    x = np.random.default_rng(1).standard_normal(
        (2, 6) if isinstance(ours, irgrad.nn.Linear) else (2, 3, 5, 5)
    )
    _same_module(ours, theirs, x.astype(np.float32))
    assert irgrad.nn.utils.prune.is_pruned(ours)
    for name in {"bias" if "bias" in s else "weight" for s in sequence}:
        irgrad.nn.utils.prune.remove(ours, name)
        torch.nn.utils.prune.remove(theirs, name)
    assert not irgrad.nn.utils.prune.is_pruned(ours)
    _same_module(ours, theirs, x.astype(np.float32))


def test_importance_scores_custom_masks_and_global_pruning_as_torchs():
    (a, ta), (b, tb) = _linear_pair(0), _linear_pair(1)
    scores = np.random.default_rng(2).standard_normal((5, 6)).astype(np.float32)
    irgrad.nn.utils.prune.l1_unstructured(a, "weight", amount=0.3, importance_scores=irgrad.tensor(scores))
    torch.nn.utils.prune.l1_unstructured(ta, "weight", amount=0.3, importance_scores=torch.tensor(scores))
    mask = (np.arange(5) % 2).astype(np.float32)
    irgrad.nn.utils.prune.custom_from_mask(b, "bias", irgrad.tensor(mask))
    torch.nn.utils.prune.custom_from_mask(tb, "bias", torch.tensor(mask))
    for lib, (m1, m2) in ((irgrad, (a, b)), (torch, (ta, tb))):
        lib.nn.utils.prune.global_unstructured(
            [(m1, "weight"), (m2, "weight"), (m2, "bias")],
            pruning_method=lib.nn.utils.prune.L1Unstructured,
            amount=0.5,
        )
    x = np.random.default_rng(3).standard_normal((2, 6)).astype(np.float32)
    _same_module(a, ta, x)
    _same_module(b, tb, x)


def test_random_methods_prune_the_right_amount_among_kept_entries():
    irgrad.manual_seed(0)
    prune = irgrad.nn.utils.prune
    m = irgrad.nn.Conv2d(3, 8, 3)
    prune.random_unstructured(m, "weight", amount=0.25)
    total = m.weight.numel()
    assert int(m.weight_mask.sum()) == total - round(0.25 * total)
    before = m.weight_mask.numpy().copy()
    prune.random_structured(m, "weight", amount=2, dim=0)
    kept_channels = m.weight_mask.numpy().reshape(8, -1).any(axis=1)
    assert kept_channels.sum() == 6
    assert ((m.weight_mask.numpy() == 0) | (before == 1)).all()  # only kept entries could stay
    np.testing.assert_array_equal(m.weight.detach().numpy(), (m.weight_orig * m.weight_mask).detach().numpy())


@pytest.mark.parametrize(
    "call",
    [
        lambda P, m: P.l1_unstructured(m, "weight", amount=1.5),
        lambda P, m: P.l1_unstructured(m, "weight", amount=-1),
        lambda P, m: P.l1_unstructured(m, "weight", amount=100),
        lambda P, m: P.l1_unstructured(m, "weight", amount="x"),
        lambda P, m: P.ln_structured(m, "bias", amount=1, n=2, dim=0),
        lambda P, m: P.ln_structured(m, "weight", amount=1, n=2, dim=3),
        lambda P, m: P.remove(m, "weight"),
        lambda P, m: P.global_unstructured(
            [(m, "weight")], pruning_method=P.LnStructured, amount=1, n=2, dim=0
        ),
    ],
)
def test_errors_as_torchs(call):
    ours, theirs = _linear_pair()
    with pytest.raises(Exception) as expected:
        call(torch.nn.utils.prune, theirs)
    with pytest.raises(type(expected.value)) as got:
        call(irgrad.nn.utils.prune, ours)
    text = str(got.value).replace("irgrad.", "torch.")
    assert text == str(expected.value)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
