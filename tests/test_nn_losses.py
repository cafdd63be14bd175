"""Losses against PyTorch (values and input gradients for every reduction and option),
numerical stability at extreme inputs, error messages, and float64 gradchecks."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import assert_same, run_both
from hypothesis import given, settings
from hypothesis import strategies as st

import irgrad
import irgrad.nn as nn
import irgrad.nn.functional as F

torch = pytest.importorskip("torch")

REDUCTIONS = ["none", "mean", "sum"]
SETTINGS = settings(max_examples=20, deadline=None, derandomize=True)


def _rand(rng, *shape, dtype=np.float32):
    return rng.standard_normal(shape).astype(dtype)


def _F(L):
    return L.nn.functional


# --- regression losses ----------------------------------------------------------------


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize(
    "name,kwargs",
    [
        ("mse_loss", {}),
        ("l1_loss", {}),
        ("smooth_l1_loss", {}),
        ("smooth_l1_loss", {"beta": 0.3}),
        ("smooth_l1_loss", {"beta": 0.0}),
        ("huber_loss", {}),
        ("huber_loss", {"delta": 0.4}),
        ("soft_margin_loss", {}),
    ],
)
def test_regression_losses_match_torch(name, kwargs, reduction):
    rng = np.random.default_rng(0)
    x, y = _rand(rng, 4, 5), _rand(rng, 4, 5)
    if name == "soft_margin_loss":  # torch does not differentiate it w.r.t. the target
        run_both(lambda L, a: _F(L).soft_margin_loss(a, L.tensor(np.sign(y)), reduction=reduction), x)
    else:
        run_both(lambda L, a, b: getattr(_F(L), name)(a, b, reduction=reduction, **kwargs), x, y)


@pytest.mark.parametrize(
    "cls,kwargs",
    [("MSELoss", {}), ("L1Loss", {}), ("SmoothL1Loss", {"beta": 0.5}), ("HuberLoss", {"delta": 2.0})],
)
def test_regression_loss_modules(cls, kwargs):
    rng = np.random.default_rng(1)
    x, y = _rand(rng, 3, 2), _rand(rng, 3, 2)
    for reduction in REDUCTIONS:
        run_both(lambda L, a, b, r=reduction: getattr(L.nn, cls)(reduction=r, **kwargs)(a, b), x, y)
    assert repr(getattr(nn, cls)()) == repr(getattr(torch.nn, cls)())


def test_mse_broadcast_warns_and_bad_reduction_raises():
    with pytest.warns(UserWarning, match="target size"):
        F.mse_loss(irgrad.randn(3, 1), irgrad.randn(3))
    with pytest.raises(ValueError, match="not a valid value for reduction"):
        F.mse_loss(irgrad.randn(3), irgrad.randn(3), reduction="avg")


def test_legacy_size_average_reduce():
    rng = np.random.default_rng(2)
    x, y = _rand(rng, 3, 2), _rand(rng, 3, 2)
    for sa, red in [(False, None), (None, False), (True, True)]:
        with pytest.warns(UserWarning):
            mine = F.mse_loss(irgrad.tensor(x), irgrad.tensor(y), size_average=sa, reduce=red)
        with pytest.warns(UserWarning):
            theirs = torch.nn.functional.mse_loss(
                torch.tensor(x), torch.tensor(y), size_average=sa, reduce=red
            )
        assert_same(mine, theirs, 1e-6, 1e-5)


# --- classification losses ------------------------------------------------------------


@SETTINGS
@given(
    shape=st.sampled_from([(5,), (6, 4), (3, 4, 2), (2, 3, 2, 2)]),
    reduction=st.sampled_from(REDUCTIONS),
    weighted=st.booleans(),
    ignore=st.booleans(),
    smoothing=st.sampled_from([0.0, 0.1, 0.5]),
    seed=st.integers(0, 2**16),
)
def test_cross_entropy_class_indices_match_torch(shape, reduction, weighted, ignore, smoothing, seed):
    rng = np.random.default_rng(seed)
    x = _rand(rng, *shape) * 3
    n_classes = shape[0] if len(shape) == 1 else shape[1]
    target_shape = () if len(shape) == 1 else (shape[0],) + shape[2:]
    t = rng.integers(0, n_classes, size=target_shape).astype(np.int64)
    ignore_index = -100
    if ignore and t.size > 1:
        ignore_index = int(t.flat[0])  # some targets are ignored
    w = np.abs(_rand(rng, n_classes)) + 0.1 if weighted else None

    def fn(L, a):
        weight = L.tensor(w) if w is not None else None
        return _F(L).cross_entropy(
            a,
            L.tensor(t),
            weight=weight,
            ignore_index=ignore_index,
            reduction=reduction,
            label_smoothing=smoothing,
        )

    run_both(fn, x)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_probability_targets(reduction, smoothing, weighted):
    rng = np.random.default_rng(3)
    x = _rand(rng, 4, 5, 2)
    p = np.abs(_rand(rng, 4, 5, 2))
    p = p / p.sum(1, keepdims=True)
    w = np.abs(_rand(rng, 5)) + 0.1

    def fn(L, a, b):
        return _F(L).cross_entropy(
            a, b, weight=L.tensor(w) if weighted else None, reduction=reduction, label_smoothing=smoothing
        )

    run_both(fn, x, p)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll_loss_matches_torch(reduction):
    rng = np.random.default_rng(4)
    x = _rand(rng, 6, 4, 3)
    t = rng.integers(0, 4, size=(6, 3)).astype(np.int64)
    t[0, 0] = 2
    w = np.abs(_rand(rng, 4)) + 0.1
    for kwargs in [{}, {"ignore_index": 2}, {"weight": w}, {"weight": w, "ignore_index": 2}]:

        def fn(L, a, kwargs=kwargs):
            kw = dict(kwargs)
            if "weight" in kw:
                kw["weight"] = L.tensor(kw["weight"])
            return _F(L).nll_loss(a, L.tensor(t), reduction=reduction, **kw)

        run_both(fn, x)


def test_loss_modules_with_weights_register_buffers():
    w = np.array([0.2, 1.0, 3.0], dtype=np.float32)
    mine = nn.CrossEntropyLoss(weight=irgrad.tensor(w), ignore_index=1, label_smoothing=0.1)
    theirs = torch.nn.CrossEntropyLoss(weight=torch.tensor(w), ignore_index=1, label_smoothing=0.1)
    assert list(mine.state_dict()) == list(theirs.state_dict()) == ["weight"]
    assert repr(mine) == repr(theirs)
    rng = np.random.default_rng(5)
    x = _rand(rng, 7, 3)
    t = np.array([0, 1, 2, 2, 0, 1, 2], dtype=np.int64)
    run_both(lambda L, a: (mine if L is irgrad else theirs)(a, L.tensor(t)), x)
    mine_b = nn.BCEWithLogitsLoss(pos_weight=irgrad.tensor(w))
    theirs_b = torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor(w))
    assert list(mine_b.state_dict()) == list(theirs_b.state_dict()) == ["pos_weight"]
    nll_m, nll_t = nn.NLLLoss(weight=irgrad.tensor(w)), torch.nn.NLLLoss(weight=torch.tensor(w))
    run_both(lambda L, a: (nll_m if L is irgrad else nll_t)(a.log_softmax(1), L.tensor(t)), x)


def test_cross_entropy_all_ignored_is_nan_and_stable_for_huge_logits():
    x = irgrad.tensor([[1000.0, -1000.0, 0.0], [0.0, 2000.0, -5.0]], requires_grad=True)
    t = irgrad.tensor([0, 1])
    loss = F.cross_entropy(x, t)
    assert np.isfinite(loss.item())
    loss.backward()
    assert np.isfinite(x.grad.numpy()).all()
    assert np.isnan(F.cross_entropy(x, irgrad.tensor([-100, -100])).item())


def test_classification_errors():
    x = irgrad.randn(3, 4)
    with pytest.raises(IndexError, match="out of bounds"):
        F.cross_entropy(x, irgrad.tensor([0, 4, 1]))
    with pytest.raises(ValueError, match="batch_size"):
        F.nll_loss(x, irgrad.tensor([0, 1]))
    with pytest.raises(RuntimeError, match="weight tensor"):
        F.cross_entropy(x, irgrad.tensor([0, 1, 2]), weight=irgrad.ones(3))


# --- binary losses --------------------------------------------------------------------


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_binary_cross_entropy_matches_torch(reduction, weighted):
    rng = np.random.default_rng(6)
    p = 1 / (1 + np.exp(-_rand(rng, 4, 3) * 2))
    y = rng.random((4, 3)).astype(np.float32)
    w = np.abs(_rand(rng, 4, 3))

    def fn(L, a, b):
        return _F(L).binary_cross_entropy(a, b, weight=L.tensor(w) if weighted else None, reduction=reduction)

    run_both(fn, p, y)
    run_both(lambda L, a: L.nn.BCELoss(reduction=reduction)(a, L.tensor(y)), p)


def test_binary_cross_entropy_clamps_log_at_minus_100():
    p = np.array([0.0, 1.0, 0.5, 1e-30], dtype=np.float32)
    y = np.array([1.0, 0.0, 1.0, 1.0], dtype=np.float32)
    mine, theirs = run_both(
        lambda L, a: _F(L).binary_cross_entropy(a, L.tensor(y), reduction="none"), p, grad=False
    )
    np.testing.assert_allclose(mine.numpy()[:2], [100.0, 100.0])
    x = irgrad.tensor(p, requires_grad=True)
    F.binary_cross_entropy(x, irgrad.tensor(y)).backward()
    assert np.isfinite(x.grad.numpy()).all()
    # The input's gradient is torch's (x - y) / max(x (1 - x), 1e-12), not the clamped
    # logs' 0: a saturated sigmoid (exactly 0 or 1 in float32) still gets pushed back.
    np.testing.assert_allclose(x.grad.numpy(), np.array([-1e12, 1e12, -2.0, -1e12]) / 4, rtol=1e-6)
    run_both(lambda L, a: _F(L).binary_cross_entropy(a, L.tensor(y), reduction="sum"), p, grad_atol=1.0)
    with pytest.raises(ValueError, match="target size"):
        F.binary_cross_entropy(irgrad.rand(3), irgrad.rand(3, 1))
    with pytest.raises(RuntimeError, match="between 0 and 1"):
        F.binary_cross_entropy(irgrad.tensor([1.5]), irgrad.tensor([1.0]))
    del theirs


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("options", ["plain", "weight", "pos_weight", "both"])
def test_bce_with_logits_matches_torch(reduction, options):
    rng = np.random.default_rng(7)
    x = _rand(rng, 5, 3) * 4
    x[0] = [0.0, 80.0, -80.0]  # the kink and saturated logits
    y = rng.random((5, 3)).astype(np.float32)
    w = np.abs(_rand(rng, 5, 3))
    pw = np.abs(_rand(rng, 3)) + 0.5

    def fn(L, a, b):
        return _F(L).binary_cross_entropy_with_logits(
            a,
            b,
            weight=L.tensor(w) if options in ("weight", "both") else None,
            pos_weight=L.tensor(pw) if options in ("pos_weight", "both") else None,
            reduction=reduction,
        )

    run_both(fn, x, y)


MIXED = [
    (np.float64, np.float32),
    (np.float32, np.float64),
    (np.float16, np.float32),
    (np.float32, np.float16),
]


@pytest.mark.parametrize("input_dtype,target_dtype", MIXED)
@pytest.mark.parametrize("reduction", ["none", "mean"])
def test_mixed_dtype_losses_take_torchs_result_dtype(input_dtype, target_dtype, reduction):
    # PyTorch computes these in place in one argument's tensor, so the loss has its dtype:
    # the target's for bce_with_logits, the input's for huber and soft_margin (irgrad
    # promoted: float64 where PyTorch gives float32); found by probing Bernoulli.log_prob
    rng = np.random.default_rng(3)
    x = (rng.uniform(0.1, 0.9, (3, 4))).astype(input_dtype)
    y = (rng.uniform(0.1, 0.9, (3, 4))).astype(target_dtype)
    w = rng.uniform(0.5, 1.5, 4).astype(target_dtype)
    for fn in (
        lambda L, a, b: L.nn.functional.binary_cross_entropy_with_logits(a, b, reduction=reduction),
        lambda L, a, b: L.nn.functional.binary_cross_entropy_with_logits(
            a, b, reduction=reduction, pos_weight=L.tensor(w), weight=L.tensor(w)
        ),
        lambda L, a, b: L.nn.functional.huber_loss(a, b, reduction=reduction),
        lambda L, a, b: L.nn.functional.soft_margin_loss(a, b, reduction=reduction),
    ):
        run_both(fn, x, y, grad=False, rtol=2e-3, atol=1e-3)


def test_loss_dtype_errors_are_torchs():
    x, y = np.full((2, 3), 0.5, np.float32), np.full((2, 3), 0.5)
    for fn, error in (
        (lambda L: L.nn.functional.binary_cross_entropy(L.tensor(x), L.tensor(y)), RuntimeError),
        (lambda L: L.nn.functional.binary_cross_entropy(L.tensor(y), L.tensor(x)), RuntimeError),
        (
            lambda L: L.nn.functional.binary_cross_entropy_with_logits(L.tensor(x), L.ones(2, 3).long()),
            RuntimeError,
        ),
        (
            lambda L: L.nn.functional.binary_cross_entropy_with_logits(L.ones(2, 3).long(), L.tensor(x)),
            NotImplementedError,
        ),
        (lambda L: L.nn.functional.logsigmoid(L.ones(2, 3).int()), NotImplementedError),
        (lambda L: L.nn.functional.huber_loss(L.ones(2, 3).long(), L.tensor(x)), RuntimeError),
        (lambda L: L.nn.functional.soft_margin_loss(L.ones(2, 3).long(), L.tensor(x)), RuntimeError),
    ):
        with pytest.raises(error) as theirs:
            fn(torch)
        with pytest.raises(error) as mine:
            fn(irgrad)
        assert str(mine.value) == str(theirs.value)


def test_bce_with_logits_extreme_values_are_finite():
    x = irgrad.tensor([1e4, -1e4, 0.0], requires_grad=True)
    y = irgrad.tensor([0.0, 1.0, 1.0])
    loss = F.binary_cross_entropy_with_logits(x, y, reduction="none")
    np.testing.assert_allclose(loss.detach().numpy(), [1e4, 1e4, np.log(2)], rtol=1e-6)
    loss.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0, -1.0, -0.5])


# --- distribution losses --------------------------------------------------------------


@pytest.mark.parametrize("reduction", ["none", "sum", "batchmean", "mean"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div_matches_torch(reduction, log_target):
    rng = np.random.default_rng(8)
    logp = np.log(np.abs(_rand(rng, 4, 5)) + 0.05)
    q = np.abs(_rand(rng, 4, 5))
    q[0, 0] = 0.0
    q = q / q.sum(1, keepdims=True)
    tgt = np.log(q + 1e-3) if log_target else q

    def fn(L, a, b):
        return _F(L).kl_div(a, b, reduction=reduction, log_target=log_target)

    def fn_const_target(L, a):  # torch's target gradient is nan where target == 0
        return fn(L, a, L.tensor(tgt.astype(np.float32)))

    if reduction == "mean":
        with pytest.warns(UserWarning):
            run_both(fn_const_target, logp.astype(np.float32))
    else:
        run_both(fn_const_target, logp.astype(np.float32))
        run_both(fn, logp.astype(np.float32), np.abs(tgt.astype(np.float32)) + 0.01)


def test_margin_and_poisson_losses_match_torch():
    rng = np.random.default_rng(9)
    a, b = _rand(rng, 6), _rand(rng, 6)
    y = np.sign(_rand(rng, 6))
    run_both(lambda L, p, q: _F(L).margin_ranking_loss(p, q, L.tensor(y), margin=0.2), a, b)
    a2, b2 = _rand(rng, 6, 4), _rand(rng, 6, 4)
    run_both(lambda L, p, q: _F(L).cosine_embedding_loss(p, q, L.tensor(y), margin=0.1), a2, b2)
    counts = rng.poisson(2.0, size=(6,)).astype(np.float32)
    for full in (False, True):
        run_both(lambda L, p, full=full: _F(L).poisson_nll_loss(p, L.tensor(counts), full=full), a)
        run_both(
            lambda L, p, full=full: _F(L).poisson_nll_loss(p, L.tensor(counts), log_input=False, full=full),
            np.abs(a) + 0.1,
        )


# --- finite differences (no torch needed) ---------------------------------------------


def test_losses_gradcheck_float64():
    rng = np.random.default_rng(10)
    x = irgrad.tensor(rng.standard_normal((4, 3)), requires_grad=True)
    t = irgrad.tensor(np.array([0, 2, 1, 2]))
    y = irgrad.tensor(rng.random((4, 3)))
    w = irgrad.tensor(rng.random(3) + 0.5)
    cases = [
        lambda a: F.cross_entropy(a, t, weight=w, label_smoothing=0.1),
        lambda a: F.binary_cross_entropy_with_logits(a, y, pos_weight=w),
        lambda a: F.binary_cross_entropy(a.sigmoid(), y),
        lambda a: F.smooth_l1_loss(a, y, beta=0.5),
        lambda a: F.kl_div(a.log_softmax(1), y, reduction="batchmean"),
    ]
    for fn in cases:
        assert irgrad.autograd.gradcheck(fn, (x,))


# --- the losses beyond API.md's list: hinge, Gaussian NLL, multi-margin, multilabel, triplet ---


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("margin", [1.0, 0.3])
def test_hinge_embedding_loss_matches_torch(reduction, margin):
    rng = np.random.default_rng(21)
    x = _rand(rng, 4, 5)
    x[0, :2] = [margin, 0.0]  # at the margin and at 0
    y = rng.choice([-1.0, 1.0], size=(4, 5)).astype(np.float32)
    y[1, 0] = 0.5  # neither 1 nor -1: torch adds both terms
    run_both(lambda L, a: _F(L).hinge_embedding_loss(a, L.tensor(y), margin=margin, reduction=reduction), x)
    run_both(lambda L, a: L.nn.HingeEmbeddingLoss(margin, reduction=reduction)(a, L.tensor(y)), x)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("var_shape", [(4, 3), (4,), (4, 1)])
@pytest.mark.parametrize("full", [False, True])
def test_gaussian_nll_loss_matches_torch(reduction, var_shape, full):
    rng = np.random.default_rng(22)
    x, t = _rand(rng, 4, 3), _rand(rng, 4, 3)
    var = np.abs(_rand(rng, *var_shape)) + 0.1
    var.reshape(-1)[0] = 1e-9  # below eps: clamped in the value, the gradient passes
    run_both(lambda L, a, b, v: _F(L).gaussian_nll_loss(a, b, v, full=full, reduction=reduction), x, t, var)
    run_both(lambda L, a, b, v: L.nn.GaussianNLLLoss(full=full, reduction=reduction)(a, b, v), x, t, var)


def test_gaussian_nll_loss_rejects_bad_variances():
    with pytest.raises(ValueError, match="incorrect size"):
        F.gaussian_nll_loss(irgrad.rand(4, 3), irgrad.rand(4, 3), irgrad.rand(3))
    with pytest.raises(ValueError, match="negative"):
        F.gaussian_nll_loss(irgrad.rand(4, 3), irgrad.rand(4, 3), -irgrad.rand(4, 3))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("p,margin,weighted", [(1, 1.0, False), (2, 0.5, True), (1, 2.0, True)])
def test_multi_margin_loss_matches_torch(reduction, p, margin, weighted):
    rng = np.random.default_rng(23)
    x = _rand(rng, 5, 4)
    y = np.array([0, 3, 1, 1, 2])
    w = np.abs(_rand(rng, 4)) if weighted else None

    def fn(L, a):
        weight = L.tensor(w) if weighted else None
        return _F(L).multi_margin_loss(a, L.tensor(y), p=p, margin=margin, weight=weight, reduction=reduction)

    run_both(fn, x)
    run_both(lambda L, a: L.nn.MultiMarginLoss(p, margin, reduction=reduction)(a, L.tensor(y)), x)
    run_both(lambda L, a: _F(L).multi_margin_loss(a, L.tensor(2), reduction=reduction), x[0])  # unbatched


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_multilabel_soft_margin_loss_matches_torch(reduction, weighted):
    rng = np.random.default_rng(24)
    x = _rand(rng, 4, 5) * 5
    x[0, :2] = [40.0, -40.0]  # far tails
    y = (rng.random((4, 5)) < 0.5).astype(np.float32)
    w = np.abs(_rand(rng, 5)) if weighted else None

    def fn(L, a):
        weight = L.tensor(w) if weighted else None
        return _F(L).multilabel_soft_margin_loss(a, L.tensor(y), weight=weight, reduction=reduction)

    run_both(fn, x)
    run_both(lambda L, a: L.nn.MultiLabelSoftMarginLoss(reduction=reduction)(a, L.tensor(y)), x)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("p,swap", [(2.0, False), (1.0, True), (3.0, False)])
def test_triplet_margin_loss_matches_torch(reduction, p, swap):
    rng = np.random.default_rng(25)
    a, pos, neg = _rand(rng, 6, 4), _rand(rng, 6, 4), _rand(rng, 6, 4)
    run_both(
        lambda L, x, y, z: _F(L).triplet_margin_loss(
            x, y, z, margin=0.7, p=p, swap=swap, reduction=reduction
        ),
        a,
        pos,
        neg,
    )
    run_both(
        lambda L, x, y, z: L.nn.TripletMarginLoss(0.7, p, swap=swap, reduction=reduction)(x, y, z),
        a,
        pos,
        neg,
    )


@pytest.mark.parametrize(
    "name,args",
    [
        ("HingeEmbeddingLoss", (0.5,)),
        ("GaussianNLLLoss", ()),
        ("MultiMarginLoss", (2, 0.5)),
        ("MultiLabelSoftMarginLoss", ()),
        ("TripletMarginLoss", (0.7, 1.0)),
    ],
)
def test_new_loss_modules_repr_and_state_like_torch(name, args):
    torch = pytest.importorskip("torch")
    mine, theirs = getattr(irgrad.nn, name)(*args), getattr(torch.nn, name)(*args)
    assert repr(mine) == repr(theirs)
    assert list(mine.state_dict()) == list(theirs.state_dict())
