"""irgrad.optim.swa_utils (AveragedModel, SWALR, update_bn, the avg_fn factories) against
torch.optim.swa_utils, and known values without torch."""

import numpy as np
import pytest

import irgrad
from irgrad.optim import swa_utils as U


def _model(lib):
    lib.manual_seed(0)
    return lib.nn.Sequential(lib.nn.Linear(3, 4), lib.nn.BatchNorm1d(4), lib.nn.Linear(4, 2))


AVERAGING = {
    "swa": lambda U: {},
    "ema": lambda U: {"multi_avg_fn": U.get_ema_multi_avg_fn(0.9)},
    "ema_fn": lambda U: {"avg_fn": U.get_ema_avg_fn(0.8)},
    "swa_fn": lambda U: {"avg_fn": U.get_swa_avg_fn()},
    "ema_buffers": lambda U: {"use_buffers": True, "multi_avg_fn": U.get_ema_multi_avg_fn(0.5)},
    "swa_buffers": lambda U: {"use_buffers": True},
}


def _train(lib, model, kind: str, strategy: str):
    utils = lib.optim.swa_utils
    averaged = utils.AveragedModel(model, **AVERAGING[kind](utils))
    opt = lib.optim.SGD(model.parameters(), lr=0.1)
    sched = utils.SWALR(opt, swa_lr=0.05, anneal_epochs=3, anneal_strategy=strategy)
    rng = np.random.default_rng(1)
    rates = []
    for _ in range(6):
        x = lib.tensor(rng.standard_normal((8, 3)).astype(np.float32))
        opt.zero_grad()
        model(x).pow(2).sum().backward()
        opt.step()
        sched.step()
        averaged.update_parameters(model)
        rates.append(sched.get_last_lr()[0])
    batches = [lib.tensor(rng.standard_normal((8, 3)).astype(np.float32)) for _ in range(3)]
    if not kind.endswith("buffers"):
        utils.update_bn(batches, averaged)
    state = [t.detach().numpy().astype(np.float64) for t in [*averaged.parameters(), *averaged.buffers()]]
    return state, rates, averaged(batches[0]).detach().numpy()


@pytest.mark.parametrize("kind", list(AVERAGING))
@pytest.mark.parametrize("strategy", ["cos", "linear"])
def test_as_torch(kind, strategy):
    torch = pytest.importorskip("torch")
    mine_model, their_model = _model(irgrad), _model(torch)
    their_model.load_state_dict({k: torch.tensor(v.numpy()) for k, v in mine_model.state_dict().items()})
    mine, theirs = _train(irgrad, mine_model, kind, strategy), _train(torch, their_model, kind, strategy)
    for a, b in zip(mine[0], theirs[0]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(mine[1], theirs[1], rtol=1e-12)
    np.testing.assert_allclose(mine[2], theirs[2], rtol=1e-5, atol=1e-5)


def test_known_values():
    model = irgrad.nn.Linear(1, 1, bias=False)
    averaged = U.AveragedModel(model)
    ema = U.AveragedModel(model, multi_avg_fn=U.get_ema_multi_avg_fn(0.5))
    for value in (1.0, 2.0, 6.0):
        with irgrad.no_grad():
            model.weight.fill_(value)
        averaged.update_parameters(model)
        ema.update_parameters(model)
    assert averaged.module.weight.item() == 3.0 and averaged.n_averaged.item() == 3
    assert ema.module.weight.item() == 0.5 * (0.5 * 1.0 + 0.5 * 2.0) + 0.5 * 6.0
    opt = irgrad.optim.SGD(model.parameters(), lr=1.0)
    sched = U.SWALR(opt, swa_lr=0.0, anneal_epochs=2, anneal_strategy="linear")
    rates = [opt.param_groups[0]["lr"]]
    for _ in range(3):
        opt.step()
        sched.step()
        rates.append(opt.param_groups[0]["lr"])
    np.testing.assert_allclose(rates, [1.0, 0.5, 0.0, 0.0])


def test_errors():
    model = irgrad.nn.Linear(2, 2)
    opt = irgrad.optim.SGD(model.parameters(), lr=1.0)
    with pytest.raises(ValueError, match="anneal_strategy must by one of"):
        U.SWALR(opt, 0.1, anneal_strategy="step")
    with pytest.raises(ValueError, match="anneal_epochs must be equal or greater than 0"):
        U.SWALR(opt, 0.1, anneal_epochs=-1)
    with pytest.raises(ValueError, match="swa_lr must have the same length"):
        U.SWALR(opt, [0.1, 0.2])
    with pytest.raises(ValueError, match="Invalid decay value"):
        U.get_ema_multi_avg_fn(1.5)
