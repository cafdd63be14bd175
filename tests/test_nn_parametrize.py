"""Weight normalisation (the hook API and the parametrization API) and ``nn.utils.parametrize``:
state_dict keys and values, forward and gradients against PyTorch, checkpoints across
both libraries and both layouts; the parametrization mechanics (class swap, property,
right_inverse, chaining, removal, caching, errors) on known values; compiled training."""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pytest
from conftest import assert_same
from test_compile_state import Scenario, check

import irgrad
import irgrad.nn as nn
from irgrad.nn.utils import parametrize
from irgrad.nn.utils.weight_norm import norm_except_dim

LAYERS = {
    "linear": (lambda lib: lib.nn.Linear(4, 3), (2, 4), (0, 1, None, -1)),
    "conv": (lambda lib: lib.nn.Conv2d(2, 3, 3), (2, 2, 5, 5), (0, 1, 2, 3, None, -1, -2)),
}


def _twins(layer: str, old_api: bool, dim):
    """The layer in torch and irgrad, same weights, weight-normalised by the same API."""
    torch = pytest.importorskip("torch")
    make, _, _ = LAYERS[layer]
    theirs, mine = make(torch), make(irgrad)
    mine.load_state_dict({k: v.detach().numpy().copy() for k, v in theirs.state_dict().items()})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        if old_api:
            torch.nn.utils.weight_norm(theirs, dim=dim)
            nn.utils.weight_norm(mine, dim=dim)
        else:
            torch.nn.utils.parametrizations.weight_norm(theirs, dim=dim)
            nn.utils.parametrizations.weight_norm(mine, dim=dim)
    return theirs, mine


@pytest.mark.parametrize("old_api", [False, True])
@pytest.mark.parametrize("layer, dim", [(name, d) for name, (_, _, dims) in LAYERS.items() for d in dims])
def test_weight_norm_matches_torch(layer, dim, old_api):
    """Keys and values of the state, the output, and the gradients of g and v, over two
    SGD steps (so the recomputed weight follows its parameters)."""
    torch = pytest.importorskip("torch")
    theirs, mine = _twins(layer, old_api, dim)
    assert list(mine.state_dict()) == list(theirs.state_dict())
    assert type(mine).__name__ == type(theirs).__name__
    opt_t = torch.optim.SGD(theirs.parameters(), lr=0.1)
    opt_m = irgrad.optim.SGD(mine.parameters(), lr=0.1)
    rng = np.random.default_rng(0)
    for _ in range(2):
        for key, value in theirs.state_dict().items():
            assert_same(mine.state_dict()[key], value, 1e-6, 1e-5, what=key)
        x = rng.standard_normal(LAYERS[layer][1]).astype(np.float32)
        out_t, out_m = theirs(torch.tensor(x)), mine(irgrad.tensor(x))
        assert_same(out_m, out_t, 1e-5, 1e-4)
        assert_same(mine.weight, theirs.weight, 1e-6, 1e-5, what="weight")
        cotangent = rng.standard_normal(tuple(out_t.shape)).astype(np.float32)
        opt_t.zero_grad()
        opt_m.zero_grad()
        out_t.backward(torch.tensor(cotangent))
        out_m.backward(irgrad.tensor(cotangent))
        params = dict(mine.named_parameters())
        for key, p in theirs.named_parameters():
            assert_same(params[key].grad, p.grad, 1e-5, 1e-4, what=f"{key} grad")
        opt_t.step()
        opt_m.step()


@pytest.mark.parametrize("dim", [0, None])
def test_torch_checkpoints_load_in_both_layouts(dim):
    """A PyTorch parametrized checkpoint loads as is; a hook-API checkpoint (weight_g,
    weight_v) loads into the parametrization API too, as in PyTorch."""
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(1).standard_normal((2, 4)).astype(np.float32)
    for old_api in (False, True):
        theirs, _ = _twins("linear", old_api, dim)
        mine = nn.utils.parametrizations.weight_norm(nn.Linear(4, 3), dim=dim)
        result = mine.load_state_dict(theirs.state_dict())
        assert result.missing_keys == [] and result.unexpected_keys == []
        assert_same(mine(irgrad.tensor(x)), theirs(torch.tensor(x)), 1e-5, 1e-4)


def test_irgrad_checkpoint_loads_into_torch():
    torch = pytest.importorskip("torch")
    mine = nn.utils.parametrizations.weight_norm(nn.Conv2d(2, 3, 3), dim=1)
    theirs = torch.nn.utils.parametrizations.weight_norm(torch.nn.Conv2d(2, 3, 3), dim=1)
    theirs.load_state_dict({k: torch.tensor(v.numpy()) for k, v in mine.state_dict().items()})
    x = np.random.default_rng(2).standard_normal((1, 2, 4, 4)).astype(np.float32)
    assert_same(mine(irgrad.tensor(x)), theirs(torch.tensor(x)), 1e-5, 1e-4)


@pytest.mark.parametrize("dim", [0, 1, 2, -1, -2, None])
def test_weight_norm_gradients_equal_finite_differences(dim):
    layer = nn.utils.parametrizations.weight_norm(nn.Conv1d(2, 3, 2).double(), dim=dim)
    weight_norm = layer.parametrizations.weight[0]
    g, v = (t.detach().clone().requires_grad_() for t in layer.parametrizations.weight.originals())
    assert irgrad.autograd.gradcheck(weight_norm, (g, v))


def test_norm_except_dim_known_values():
    v = irgrad.tensor([[3.0, 4.0], [6.0, 8.0]])
    np.testing.assert_allclose(norm_except_dim(v, 2, 0).numpy(), [[5.0], [10.0]])
    np.testing.assert_allclose(norm_except_dim(v, 2, 1).numpy(), [[np.sqrt(45), np.sqrt(80)]])
    np.testing.assert_allclose(norm_except_dim(v, 2, -1).numpy(), np.sqrt(125))  # -1: all dims
    cube = irgrad.arange(24.0).reshape(2, 3, 4)
    expected = np.sqrt((np.arange(24.0).reshape(2, 3, 4) ** 2).sum(axis=(0, 2)))[None, :, None]
    np.testing.assert_allclose(norm_except_dim(cube, 2, 1).numpy(), expected)


def test_old_weight_norm_hook_mechanics():
    layer = nn.Linear(4, 3)
    weight = layer.weight.detach().clone()
    with pytest.warns(FutureWarning, match="deprecated"):
        nn.utils.weight_norm(layer, dim=None)
    assert list(layer.state_dict()) == ["bias", "weight_g", "weight_v"]
    assert layer.weight_g.shape == () and "weight" not in layer._parameters
    np.testing.assert_allclose(layer.weight.detach().numpy(), weight.numpy(), rtol=1e-6)
    with (
        pytest.raises(RuntimeError, match="Cannot register two weight_norm hooks"),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore", FutureWarning)
        nn.utils.weight_norm(layer)
    with irgrad.no_grad():
        layer.weight_g.mul_(2)  # the hook recomputes the weight before each call
    layer(irgrad.randn(1, 4))
    np.testing.assert_allclose(layer.weight.detach().numpy(), 2 * weight.numpy(), rtol=1e-6)
    nn.utils.remove_weight_norm(layer)
    assert list(layer.state_dict()) == ["bias", "weight"] and isinstance(layer.weight, nn.Parameter)
    np.testing.assert_allclose(layer.weight.detach().numpy(), 2 * weight.numpy(), rtol=1e-6)
    with pytest.raises(ValueError, match="weight_norm of 'weight' not found"):
        nn.utils.remove_weight_norm(layer)


class Symmetric(nn.Module):
    """``X = A.triu() + A.triu(1).T``; its right inverse keeps the upper triangle."""

    def forward(self, a):
        return a.triu() + a.triu(1).transpose(0, 1)

    def right_inverse(self, x):
        return x.triu()


class Scale(nn.Module):
    """``2 * X``, with ``X / 2`` as the right inverse."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        return x * 2

    def right_inverse(self, x):
        return x / 2


def test_register_parametrization_swaps_the_class_and_keeps_the_parameter():
    layer = nn.Linear(3, 3)
    original = layer.weight
    a = original.detach().numpy().copy()
    parametrize.register_parametrization(layer, "weight", Symmetric())
    assert type(layer).__name__ == "ParametrizedLinear" and isinstance(layer, nn.Linear)
    assert type(nn.Linear(2, 2)) is nn.Linear  # other instances are untouched
    assert parametrize.type_before_parametrizations(layer) is nn.Linear
    assert parametrize.is_parametrized(layer) and parametrize.is_parametrized(layer, "weight")
    assert not parametrize.is_parametrized(layer, "bias")
    assert layer.parametrizations.weight.original is original  # optimizers keep working
    np.testing.assert_allclose(original.detach().numpy(), np.triu(a))
    symmetric = np.triu(a) + np.triu(a, 1).T
    np.testing.assert_allclose(layer.weight.detach().numpy(), symmetric)
    assert list(layer.state_dict()) == ["bias", "parametrizations.weight.original"]
    layer(irgrad.randn(2, 3)).sum().backward()
    assert original.grad is not None and layer.parametrizations.weight.original.grad is not None


def test_assignment_runs_right_inverse_in_place():
    layer = nn.Linear(2, 2)
    parametrize.register_parametrization(layer, "weight", Scale())
    original = layer.parametrizations.weight.original
    layer.weight = irgrad.tensor([[2.0, 4.0], [6.0, 8.0]])
    assert layer.parametrizations.weight.original is original
    np.testing.assert_allclose(original.detach().numpy(), [[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_allclose(layer.weight.detach().numpy(), [[2.0, 4.0], [6.0, 8.0]])


def test_chained_parametrizations_apply_in_order_and_invert_in_reverse():
    layer = nn.Linear(2, 2)
    parametrize.register_parametrization(layer, "weight", Scale())
    parametrize.register_parametrization(layer, "weight", Symmetric())
    assert len(layer.parametrizations.weight) == 2
    layer.weight = irgrad.tensor([[2.0, 4.0], [4.0, 8.0]])
    np.testing.assert_allclose(
        layer.parametrizations.weight.original.detach().numpy(), [[1.0, 2.0], [0.0, 4.0]]
    )
    np.testing.assert_allclose(layer.weight.detach().numpy(), [[2.0, 4.0], [4.0, 8.0]])


def test_remove_parametrizations_restores_the_class_and_a_plain_parameter():
    layer = nn.Linear(2, 2)
    original = layer.weight
    parametrize.register_parametrization(layer, "weight", Scale())
    value = layer.weight.detach().numpy().copy()
    parametrize.remove_parametrizations(layer, "weight")
    assert type(layer) is nn.Linear and "parametrizations" not in layer._modules
    assert layer.weight is original and isinstance(layer.weight, nn.Parameter)
    np.testing.assert_allclose(layer.weight.detach().numpy(), value)
    parametrize.register_parametrization(layer, "weight", Scale())
    parametrize.remove_parametrizations(layer, "weight", leave_parametrized=False)
    np.testing.assert_allclose(layer.weight.detach().numpy(), value / 2)  # the original
    weight_normed = nn.utils.parametrizations.weight_norm(nn.Linear(2, 2))
    with pytest.raises(ValueError, match="Cannot leave unparametrized"):
        parametrize.remove_parametrizations(weight_normed, "weight", leave_parametrized=False)
    parametrize.remove_parametrizations(weight_normed, "weight")
    assert list(weight_normed.state_dict()) == ["bias", "weight"]


def test_buffers_can_be_parametrized():
    layer = nn.BatchNorm1d(2)
    parametrize.register_parametrization(layer, "running_var", Scale())
    assert "parametrizations.running_var.original" in layer.state_dict()
    np.testing.assert_allclose(layer.running_var.numpy(), [1.0, 1.0])  # 2 * (1 / 2)


def test_cached_computes_each_parametrized_tensor_once():
    layer = nn.Linear(2, 2)
    scale = Scale()
    parametrize.register_parametrization(layer, "weight", scale)
    scale.calls = 0
    with parametrize.cached():
        first = layer.weight
        assert layer.weight is first
        with parametrize.cached():
            assert layer.weight is first
    assert scale.calls == 1
    assert layer.weight is not first and scale.calls == 2


def test_parametrized_modules_deepcopy():
    layer = nn.utils.parametrizations.weight_norm(nn.Linear(3, 2))
    twin = copy.deepcopy(layer)
    assert type(twin) is type(layer)
    assert twin.parametrizations.weight.original1 is not layer.parametrizations.weight.original1
    x = irgrad.randn(2, 3)
    np.testing.assert_array_equal(twin(x).detach().numpy(), layer(x).detach().numpy())


def test_parametrization_errors_as_torch():
    layer = nn.Linear(2, 2)
    with pytest.raises(ValueError, match="does not have a parameter, a buffer, or a parametrized element"):
        parametrize.register_parametrization(layer, "nothing", Scale())

    class Grow(nn.Module):
        def forward(self, x):
            return x.repeat(2, 1)

    with pytest.raises(ValueError, match="may not change the shape"):
        parametrize.register_parametrization(nn.Linear(2, 2), "weight", Grow())
    parametrize.register_parametrization(layer, "weight", Scale())
    with pytest.raises(ValueError, match="may not change the shape"):
        parametrize.register_parametrization(layer, "weight", Grow())
    with pytest.raises(ValueError, match="does not have a parametrization on bias"):
        parametrize.remove_parametrizations(layer, "bias")
    with pytest.raises(KeyError, match="already exists"):
        layer.weight = nn.Parameter(irgrad.zeros(2, 2))

    class Raw(nn.Module):  # no right_inverse
        def forward(self, x):
            return x * 1

    raw = parametrize.register_parametrization(nn.Linear(2, 2), "weight", Raw())
    with pytest.raises(RuntimeError, match="does not implement right_inverse"):
        raw.weight = irgrad.zeros(2, 2)


def _training(old_api: bool, cached: bool = False):
    def build():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            wrap = nn.utils.weight_norm if old_api else nn.utils.parametrizations.weight_norm
            model = nn.Sequential(wrap(nn.Linear(6, 8)), nn.Tanh(), wrap(nn.Linear(8, 3), dim=None))
        opt = irgrad.optim.Adam(model.parameters(), lr=1e-2)

        def step(x, y):
            opt.zero_grad()
            if cached:
                with parametrize.cached():
                    loss = irgrad.nn.functional.cross_entropy(model(x), y)
            else:
                loss = irgrad.nn.functional.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            return loss.detach()

        def batch(i):
            rng = np.random.default_rng(i)
            return irgrad.tensor(rng.standard_normal((5, 6)).astype(np.float32)), irgrad.tensor(
                rng.integers(0, 3, 5)
            )

        return Scenario(
            step, batch, lambda: model, calls=3, graphs_run=not cached
        )  # cached() breaks the graph

    return build


@pytest.mark.parametrize("old_api", [False, True])
def test_compiled_weight_normed_model_trains_as_eager(old_api):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a graph break would warn
        compiled = check(_training(old_api))
    assert all(e.graph_break is None for e in compiled._compiled.cache), compiled._compiled.log


def test_compiled_cached_parametrization_breaks_the_graph_and_stays_exact():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        compiled = check(_training(old_api=False, cached=True))
    assert any("parametrize.cached()" in str(e.graph_break) for e in compiled._compiled.cache)
