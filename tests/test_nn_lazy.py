"""Lazy modules and uninitialized parameters against PyTorch: the class a module becomes,
parameter shapes, state_dict keys, reprs and errors before and after the first call; the
initialization (the same draws as the eager layer's constructor), an optimizer built
before the first call, loading a state dict into a lazy module, and irgrad.compile of a
lazy model before its first call (eager for that call, compiled after)."""

from __future__ import annotations

import copy

import numpy as np
import pytest

import irgrad
import irgrad.nn as nn
from irgrad.nn.parameter import UninitializedBuffer, UninitializedParameter, is_lazy

# (lazy class, its constructor arguments, the class it becomes, an input)
CASES = [
    ("LazyLinear", (3,), {}, "Linear", (2, 5)),
    ("LazyLinear", (3,), {"bias": False}, "Linear", (2, 4, 5)),
    ("LazyConv1d", (4, 3), {"padding": 1}, "Conv1d", (2, 3, 7)),
    ("LazyConv1d", (4, 3), {}, "Conv1d", (3, 7)),  # unbatched
    ("LazyConv2d", (4, 3), {"stride": 2, "groups": 2}, "Conv2d", (1, 2, 6, 6)),
    ("LazyConvTranspose1d", (4, 3), {"stride": 2}, "ConvTranspose1d", (2, 3, 5)),
    ("LazyConvTranspose2d", (4, 2), {"groups": 2, "bias": False}, "ConvTranspose2d", (1, 2, 3, 3)),
    ("LazyBatchNorm1d", (), {}, "BatchNorm1d", (4, 3)),
    ("LazyBatchNorm2d", (), {"momentum": None}, "BatchNorm2d", (2, 3, 4, 4)),
    ("LazyBatchNorm3d", (), {"affine": False}, "BatchNorm3d", (2, 3, 2, 2, 2)),
    ("LazyBatchNorm1d", (), {"affine": False, "track_running_stats": False}, "BatchNorm1d", (4, 3)),
    ("LazyInstanceNorm2d", (), {}, "InstanceNorm2d", (2, 3, 4, 4)),
]


def _ids(case) -> str:
    return f"{case[0]}-{'-'.join(f'{k}={v}' for k, v in case[2].items())}"


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_first_call_as_torch(case):
    """Before and after the first call: repr, class, parameter/buffer names and shapes,
    placeholder types; and the output equals torch's with torch's weights loaded."""
    torch = pytest.importorskip("torch")
    name, args, kwargs, becomes, shape = case
    mine, theirs = getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    assert repr(mine) == repr(theirs)
    assert mine.has_uninitialized_params() == theirs.has_uninitialized_params()
    assert [(k, type(v).__name__) for k, v in mine.state_dict().items()] == [
        (k, type(v).__name__) for k, v in theirs.state_dict().items()
    ]
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    mine(irgrad.tensor(x))
    theirs(torch.tensor(x))
    assert type(mine) is getattr(nn, becomes) and type(theirs) is getattr(torch.nn, becomes)
    assert repr(mine) == repr(theirs)
    assert not hasattr(mine, "has_uninitialized_params") and not hasattr(theirs, "has_uninitialized_params")
    assert {k: tuple(v.shape) for k, v in mine.state_dict().items()} == {
        k: tuple(v.shape) for k, v in theirs.state_dict().items()
    }
    assert all(type(p) is nn.Parameter for p in mine.parameters())
    mine.load_state_dict({k: v.detach().numpy().copy() for k, v in theirs.state_dict().items()})
    np.testing.assert_allclose(
        mine(irgrad.tensor(x)).detach().numpy(),
        theirs(torch.tensor(x)).detach().numpy(),
        rtol=1e-5,
        atol=1e-5,
    )


@pytest.mark.parametrize(
    "lazy, eager, x",
    [
        (lambda: nn.LazyLinear(3), lambda: nn.Linear(5, 3), (2, 5)),
        (lambda: nn.LazyConv2d(4, 3, groups=2), lambda: nn.Conv2d(2, 4, 3, groups=2), (1, 2, 5, 5)),
        (lambda: nn.LazyConvTranspose1d(4, 3), lambda: nn.ConvTranspose1d(3, 4, 3), (1, 3, 5)),
        (lambda: nn.LazyBatchNorm2d(), lambda: nn.BatchNorm2d(3), (2, 3, 4, 4)),
    ],
    ids=["linear", "conv2d", "conv_transpose1d", "batchnorm2d"],
)
def test_initialized_as_the_eager_layer(lazy, eager, x):
    """Materializing draws what constructing the eager layer draws, in the same order."""
    inp = irgrad.zeros(x)
    irgrad.manual_seed(3)
    m = lazy().eval()  # (training would update the running statistics)
    m(inp)
    after_lazy = irgrad.rand(2)
    irgrad.manual_seed(3)
    e = eager()
    after_eager = irgrad.rand(2)
    for (k, a), (k2, b) in zip(m.state_dict().items(), e.state_dict().items()):
        assert k == k2 and irgrad.equal(a, b), k
    assert irgrad.equal(after_lazy, after_eager)


def test_init_distribution_as_torch():
    """The bound of LazyLinear's uniform initialization is torch's 1/sqrt(in_features)."""
    torch = pytest.importorskip("torch")
    mine, theirs = nn.LazyLinear(400), torch.nn.LazyLinear(400)
    mine(irgrad.zeros(1, 100))
    theirs(torch.zeros(1, 100))
    for a, b in ((mine.weight, theirs.weight), (mine.bias, theirs.bias)):
        a, b = a.detach().numpy(), b.detach().numpy()
        assert np.abs(a).max() <= 0.1 and np.abs(b).max() <= 0.1
        assert abs(a.std() - b.std()) < 0.005  # U(-0.1, 0.1): std 0.0577


def test_placeholder_errors_as_torch():
    torch = pytest.importorskip("torch")
    mine, theirs = nn.LazyLinear(3).weight, torch.nn.LazyLinear(3).weight
    assert repr(mine) == repr(theirs) == "<UninitializedParameter>"
    assert repr(UninitializedBuffer()) == repr(torch.nn.parameter.UninitializedBuffer())
    assert tuple(mine.size()) == tuple(theirs.size()) == (0,)
    assert mine.ndim == theirs.ndim == 1  # the placeholder's, as size()
    assert mine.requires_grad and str(mine.dtype).split(".")[1] == str(theirs.dtype).split(".")[1]
    for use in (
        lambda p: p + 1,
        lambda p: p.sum(),
        lambda p: p.numel(),
        lambda p: p.detach(),
        lambda p: p.requires_grad_(False),
        lambda p: p.numpy(),
        lambda p: (torch if isinstance(p, torch.Tensor) else irgrad).nn.init.ones_(p),
    ):
        with pytest.raises(ValueError, match="Attempted to use an uninitialized parameter in") as theirs_err:
            use(theirs)
        with pytest.raises(ValueError, match="Attempted to use an uninitialized parameter in") as mine_err:
            use(mine)
        assert type(mine_err.value) is type(theirs_err.value) is ValueError
    for p in (theirs, mine):
        with pytest.raises(RuntimeError, match="Can't access the shape of an uninitialized parameter"):
            _ = p.shape


def test_uninitialized_parameter_and_buffer():
    assert nn.UninitializedParameter is UninitializedParameter
    assert nn.UninitializedBuffer is UninitializedBuffer
    assert isinstance(UninitializedParameter(), nn.Parameter) and is_lazy(UninitializedParameter())
    p = UninitializedParameter(requires_grad=False, dtype=irgrad.float64)
    p.materialize((2, 3))
    assert type(p) is nn.Parameter and p.shape == (2, 3) and p.dtype == irgrad.float64
    assert not p.requires_grad and not is_lazy(p)
    b = UninitializedBuffer(persistent=False)
    assert b.double().dtype == irgrad.float64 and type(b.double()) is UninitializedBuffer
    b.materialize((4,))
    assert type(b) is irgrad.Tensor and b.shape == (4,)
    c = copy.deepcopy(nn.LazyLinear(3, dtype=irgrad.float64))
    assert type(c) is nn.LazyLinear and type(c.weight) is UninitializedParameter
    assert c.weight.dtype == irgrad.float64


def test_optimizer_built_before_the_first_call():
    """The parameters are materialized in place: the optimizer holds and trains them (torch too)."""
    irgrad.manual_seed(0)
    m = nn.LazyLinear(2)
    opt = irgrad.optim.Adam(m.parameters(), lr=0.1)
    w = m.weight
    loss = m(irgrad.ones(3, 4)).pow(2).sum()
    assert m.weight is w and opt.param_groups[0]["params"][0] is w
    before = w.detach().clone()
    loss.backward()
    opt.step()
    assert not irgrad.equal(before, w)


def test_module_to_before_the_first_call():
    m = nn.Sequential(nn.LazyLinear(3), nn.LazyBatchNorm1d()).double()
    assert m[0].weight.dtype == irgrad.float64 and m[1].running_mean.dtype == irgrad.float64
    assert is_lazy(m[0].weight) and is_lazy(m[1].running_mean)
    m(irgrad.ones(4, 2, dtype=irgrad.float64))
    assert all(t.dtype == irgrad.float64 for t in [*m.parameters(), m[1].running_var])


def test_load_state_dict_into_a_lazy_module():
    """Loading materializes from the loaded shapes; the class changes at the first call, which
    must fit the loaded weight (torch's AssertionError)."""
    torch = pytest.importorskip("torch")
    source = nn.Linear(4, 3)
    for mod, lib in ((nn, irgrad), (torch.nn, torch)):
        m = mod.LazyLinear(3)
        sd = {k: lib.tensor(v.detach().numpy()) for k, v in source.state_dict().items()}
        assert not m.load_state_dict(sd).missing_keys
        assert type(m) is mod.LazyLinear and tuple(m.weight.shape) == (3, 4) and m.in_features == 0
        with pytest.raises(AssertionError, match="The in_features inferred from input: 5 is not equal"):
            copy.deepcopy(m)(lib.ones(1, 5))
        m(lib.ones(1, 4))
        assert type(m) is mod.Linear and m.in_features == 4
    mine = nn.LazyLinear(3)
    mine.load_state_dict(source.state_dict())
    mine(irgrad.ones(1, 4))
    assert irgrad.equal(mine.weight, source.weight)
    # a lazy state dict into a lazy module loads nothing; into a materialized one, torch's error
    lazy = nn.LazyLinear(3)
    assert not lazy.load_state_dict(nn.LazyLinear(3).state_dict()).missing_keys
    assert is_lazy(lazy.weight)
    with pytest.raises(RuntimeError, match="Can't access the shape of an uninitialized parameter"):
        nn.Linear(4, 3).load_state_dict(nn.LazyLinear(3).state_dict())


def test_errors_of_the_first_call_as_torch():
    torch = pytest.importorskip("torch")
    for mod, lib in ((nn, irgrad), (torch.nn, torch)):
        with pytest.raises(ValueError, match="in_channels must be divisible by groups"):
            mod.LazyConvTranspose1d(4, 3, groups=2)(lib.ones(1, 3, 5))
        with pytest.raises(
            RuntimeError, match=r"Expected 3D \(unbatched\) or 4D \(batched\) input to LazyConv2d"
        ):
            mod.LazyConv2d(4, 3)(lib.ones(5, 5))
        with pytest.raises(TypeError, match="initialize_parameters"):
            mod.LazyLinear(3)(lib.ones(2, 7), lib.ones(2))


def test_compile_before_the_first_call():
    """The materializing call runs eagerly; the next calls are compiled and equal eager ones."""

    def make():
        irgrad.manual_seed(0)
        return nn.Sequential(
            nn.LazyConv1d(4, 3), nn.ReLU(), nn.Flatten(), nn.LazyBatchNorm1d(), nn.LazyLinear(2)
        )

    x = irgrad.randn(4, 2, 6)
    eager = make()
    expected = [eager(x * (i + 1)) for i in range(3)]
    model = make()
    compiled = irgrad.compile(model)
    got = [compiled(x * (i + 1)) for i in range(3)]
    for a, b in zip(expected, got):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-5, atol=1e-6)
    assert type(model[0]) is nn.Conv1d and type(model[4]) is nn.Linear
    explanation = str(compiled.explain())
    assert "this call ran eagerly" in explanation and "graph 0" in explanation
