"""Spectral normalisation, hook-based (nn.utils.spectral_norm) and as a parametrization,
against PyTorch from the same singular-vector estimates, and known values."""

import numpy as np
import pytest

import irgrad
import irgrad.nn as nn
from irgrad.nn.utils import parametrizations

LAYERS = {
    "linear": (lambda L: L.nn.Linear(5, 4), (3, 5)),
    "conv": (lambda L: L.nn.Conv2d(2, 3, 3), (2, 2, 5, 5)),
    "conv_transpose": (lambda L: L.nn.ConvTranspose2d(2, 3, 3), (2, 2, 4, 4)),
}


@pytest.mark.parametrize("api", ["hook", "parametrization"])
@pytest.mark.parametrize("layer", list(LAYERS))
def test_as_torch(api, layer):
    torch = pytest.importorskip("torch")
    make, shape = LAYERS[layer]
    mine, theirs = make(irgrad), make(torch)
    if api == "hook":
        nn.utils.spectral_norm(mine, n_power_iterations=2)
        torch.nn.utils.spectral_norm(theirs, n_power_iterations=2)
    else:
        parametrizations.spectral_norm(mine)
        torch.nn.utils.parametrizations.spectral_norm(theirs)
    assert sorted(mine.state_dict()) == sorted(theirs.state_dict())
    theirs.load_state_dict({k: torch.tensor(v.numpy()) for k, v in mine.state_dict().items()})
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    for _ in range(3):  # training: the estimates move at every call
        out_m, out_t = mine(irgrad.tensor(x)), theirs(torch.tensor(x))
        out_m.pow(2).sum().backward()
        out_t.pow(2).sum().backward()
        np.testing.assert_allclose(out_m.detach().numpy(), out_t.detach().numpy(), rtol=1e-5, atol=1e-5)
    for p_m, p_t in zip(mine.parameters(), theirs.parameters()):
        np.testing.assert_allclose(p_m.grad.numpy(), p_t.grad.numpy(), rtol=1e-4, atol=1e-4)
    for key, value in theirs.state_dict().items():
        np.testing.assert_allclose(mine.state_dict()[key].numpy(), value.numpy(), rtol=1e-5, atol=1e-6)
    mine.eval()
    theirs.eval()
    np.testing.assert_allclose(
        mine(irgrad.tensor(x)).detach().numpy(),
        theirs(torch.tensor(x)).detach().numpy(),
        rtol=1e-5,
        atol=1e-5,
    )


@pytest.mark.parametrize("api", ["hook", "parametrization"])
def test_sigma_of_a_known_matrix(api):
    layer = nn.Linear(3, 3, bias=False)
    with irgrad.no_grad():
        layer.weight.copy_(irgrad.tensor(np.diag([4.0, -2.0, 1.0]).astype(np.float32)))
    if api == "hook":
        nn.utils.spectral_norm(layer, n_power_iterations=30)
    else:
        parametrizations.spectral_norm(layer, n_power_iterations=30)
    layer(irgrad.ones(1, 3))
    np.testing.assert_allclose(layer.weight.detach().numpy(), np.diag([1.0, -0.5, 0.25]), atol=1e-6)


def test_hook_api_rules():
    layer = nn.Linear(3, 2)
    nn.utils.spectral_norm(layer)
    with pytest.raises(RuntimeError, match="Cannot register two spectral_norm hooks"):
        nn.utils.spectral_norm(layer)
    nn.utils.remove_spectral_norm(layer)
    assert isinstance(layer.weight, nn.Parameter) and not hasattr(layer, "weight_orig")
    with pytest.raises(ValueError, match="spectral_norm of 'weight' not found"):
        nn.utils.remove_spectral_norm(layer)
    with pytest.raises(ValueError, match="Expected n_power_iterations to be positive"):
        nn.utils.spectral_norm(nn.Linear(2, 2), n_power_iterations=0)
