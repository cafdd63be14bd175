"""distributions.MultivariateNormal against torch.distributions: densities, entropy, KL,
moments and their float64 gradients for each parametrization and broadcast batch
shapes; draws by their sample moments; argument validation's errors."""

from __future__ import annotations

import numpy as np
import pytest

import irgrad

torch = pytest.importorskip("torch")

PARAMETRIZATIONS = ("covariance_matrix", "precision_matrix", "scale_tril")
# (loc batch, matrix batch): broadcast both ways
BATCHES = [((), ()), ((2,), ()), ((), (2,)), ((3, 1), (2,))]


def _spd(rng, batch, n=3):
    a = rng.standard_normal((*batch, n, n))
    return a @ np.swapaxes(a, -1, -2) + n * np.eye(n)


def _matrix(kind, cov):
    if kind == "covariance_matrix":
        return cov
    if kind == "precision_matrix":
        return np.linalg.inv(cov)
    return np.linalg.cholesky(cov)


def _both(kind, loc, matrix):
    ours_args = [irgrad.tensor(loc, requires_grad=True), irgrad.tensor(matrix, requires_grad=True)]
    theirs_args = [torch.tensor(loc, requires_grad=True), torch.tensor(matrix, requires_grad=True)]
    ours = irgrad.distributions.MultivariateNormal(ours_args[0], **{kind: ours_args[1]})
    theirs = torch.distributions.MultivariateNormal(theirs_args[0], **{kind: theirs_args[1]})
    return ours, theirs, ours_args, theirs_args


def _same_with_gradients(a, b, ours_args, theirs_args, rtol=1e-9, atol=1e-10):
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=rtol, atol=atol)
    grads_a = irgrad.autograd.grad(a.sum(), ours_args, allow_unused=True)
    grads_b = torch.autograd.grad(b.sum(), theirs_args, allow_unused=True)
    for ga, gb in zip(grads_a, grads_b):
        if gb is None:
            assert ga is None or not ga.numpy().any()
            continue
        np.testing.assert_allclose(ga.numpy(), gb.numpy(), rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("kind", PARAMETRIZATIONS)
@pytest.mark.parametrize("loc_batch, matrix_batch", BATCHES)
def test_densities_moments_and_their_gradients_as_torchs(kind, loc_batch, matrix_batch):
    rng = np.random.default_rng(0)
    loc, cov = rng.standard_normal((*loc_batch, 3)), _spd(rng, matrix_batch)
    value = rng.standard_normal((4, *np.broadcast_shapes(loc_batch, matrix_batch), 3))
    for fn in (
        lambda d, lib: d.log_prob(lib.tensor(value)),
        lambda d, lib: d.entropy(),
        lambda d, lib: d.covariance_matrix,
        lambda d, lib: d.precision_matrix,
        lambda d, lib: d.scale_tril,
        lambda d, lib: d.variance,
        lambda d, lib: d.mean,
    ):
        ours, theirs, ours_args, theirs_args = _both(kind, loc, _matrix(kind, cov))
        assert ours.batch_shape == tuple(theirs.batch_shape) and ours.event_shape == tuple(theirs.event_shape)
        _same_with_gradients(fn(ours, irgrad), fn(theirs, torch), ours_args, theirs_args)


@pytest.mark.parametrize("kind_p", PARAMETRIZATIONS)
@pytest.mark.parametrize("kind_q", PARAMETRIZATIONS)
def test_kl_divergence_as_torchs(kind_p, kind_q):
    rng = np.random.default_rng(1)
    p, pt, p_args, pt_args = _both(kind_p, rng.standard_normal((2, 3)), _matrix(kind_p, _spd(rng, (2,))))
    q, qt, q_args, qt_args = _both(kind_q, rng.standard_normal(3), _matrix(kind_q, _spd(rng, ())))
    ours = irgrad.distributions.kl_divergence(p, q)
    theirs = torch.distributions.kl_divergence(pt, qt)
    _same_with_gradients(ours, theirs, p_args + q_args, pt_args + qt_args)


def test_kl_divergence_needs_equal_event_shapes():
    p = irgrad.distributions.MultivariateNormal(irgrad.zeros(2), irgrad.eye(2))
    q = irgrad.distributions.MultivariateNormal(irgrad.zeros(3), irgrad.eye(3))
    with pytest.raises(ValueError, match="different event shapes"):
        irgrad.distributions.kl_divergence(p, q)


def test_draws_have_the_distributions_moments_and_rsample_is_differentiable():
    irgrad.manual_seed(0)
    cov = _spd(np.random.default_rng(2), ())
    loc = irgrad.tensor([1.0, -2.0, 0.5], dtype=irgrad.float64, requires_grad=True)
    d = irgrad.distributions.MultivariateNormal(loc, irgrad.tensor(cov))
    draws = d.rsample((200_000,))
    assert draws.shape == (200_000, 3) and draws.requires_grad
    np.testing.assert_allclose(draws.detach().numpy().mean(0), loc.detach().numpy(), atol=0.03)
    np.testing.assert_allclose(np.cov(draws.detach().numpy().T), cov, rtol=0.03, atol=0.03)
    draws.sum().backward()
    np.testing.assert_allclose(loc.grad.numpy(), [200_000.0] * 3)
    sampled = d.sample((2,))
    assert sampled.shape == (2, 3) and not sampled.requires_grad


def test_expand_keeps_the_factor():
    rng = np.random.default_rng(3)
    loc, cov = rng.standard_normal(3), _spd(rng, ())
    ours = irgrad.distributions.MultivariateNormal(irgrad.tensor(loc), irgrad.tensor(cov)).expand((4, 2))
    theirs = torch.distributions.MultivariateNormal(torch.tensor(loc), torch.tensor(cov)).expand((4, 2))
    assert ours.batch_shape == (4, 2)
    value = rng.standard_normal((4, 2, 3))
    np.testing.assert_allclose(
        ours.log_prob(irgrad.tensor(value)).numpy(), theirs.log_prob(torch.tensor(value)).numpy()
    )
    np.testing.assert_allclose(ours.covariance_matrix.numpy(), theirs.covariance_matrix.numpy())


@pytest.mark.parametrize(
    "make",
    [
        lambda lib: lib.distributions.MultivariateNormal(lib.zeros(2)),
        lambda lib: lib.distributions.MultivariateNormal(lib.zeros(2), lib.eye(2), scale_tril=lib.eye(2)),
        lambda lib: lib.distributions.MultivariateNormal(lib.tensor(0.0), lib.eye(1)),
        lambda lib: lib.distributions.MultivariateNormal(lib.zeros(2), lib.ones(2)),
        lambda lib: lib.distributions.MultivariateNormal(lib.zeros(2), lib.tensor([[1.0, 2.0], [2.0, 1.0]])),
        lambda lib: lib.distributions.MultivariateNormal(lib.zeros(2), lib.tensor([[1.0, 0.5], [0.0, 1.0]])),
        lambda lib: lib.distributions.MultivariateNormal(
            lib.zeros(2), scale_tril=lib.tensor([[1.0, 0.5], [0.0, 1.0]])
        ),
        lambda lib: lib.distributions.MultivariateNormal(lib.zeros(2), scale_tril=-lib.eye(2)),
    ],
)
def test_invalid_arguments_raise_as_torchs(make):
    with pytest.raises(Exception) as theirs:
        make(torch)
    with pytest.raises(type(theirs.value)) as ours:
        make(irgrad)
    assert str(ours.value).split(" of distribution")[0] == str(theirs.value).split(" of distribution")[0]


def test_constraints_as_torchs():
    rng = np.random.default_rng(4)
    cases = [
        _spd(rng, (2,)),
        np.array([[1.0, 2.0], [2.0, 1.0]]),
        np.tril(rng.standard_normal((3, 3))),
        -np.eye(2),
    ]
    for value in cases:
        for name in ("positive_definite", "lower_cholesky"):
            ours = getattr(irgrad.distributions.constraints, name).check(irgrad.tensor(value))
            theirs = getattr(torch.distributions.constraints, name).check(torch.tensor(value))
            assert ours.tolist() == theirs.tolist(), (name, value)


def test_edge_cases_as_torchs():
    ours = irgrad.distributions.MultivariateNormal(irgrad.zeros(0), irgrad.eye(0))
    theirs = torch.distributions.MultivariateNormal(torch.zeros(0), torch.eye(0))
    assert float(ours.entropy()) == float(theirs.entropy()) == 0.0
    wide = irgrad.distributions.MultivariateNormal(irgrad.zeros(2), irgrad.eye(2))
    narrow = torch.distributions.MultivariateNormal(torch.zeros(2), torch.eye(2))
    value = np.array([0.5, -1.0])
    assert (
        str(wide.log_prob(irgrad.tensor(value)).dtype).split(".")[-1]
        == str(narrow.log_prob(torch.tensor(value)).dtype).split(".")[-1]
    )
