"""Names a scan of 1,115 public training scripts found missing in irgrad, each checked
against PyTorch 2.13 on the CPU (one section a name, in the order they were added)."""

import warnings

import numpy as np
import pytest

import irgrad

torch = pytest.importorskip("torch")


def _errors_alike(fn_irgrad, fn_torch):
    with pytest.raises(Exception) as theirs:
        fn_torch()
    with pytest.raises(type(theirs.value)) as ours:
        fn_irgrad()
    assert str(ours.value) == str(theirs.value)


def _messages(caught) -> list[str]:
    return [str(w.message).split(" (Triggered internally")[0] for w in caught]


# --- autograd.Variable --------------------------------------------------------------------


def _variable_facts(lib, make, **kw):
    """What a script can observe of ``Variable(t, **kw)``, in plain values."""
    t = make(lib)
    v = lib.autograd.Variable(t, **kw)
    facts = {
        "same object": v is t,
        "type is Tensor": type(v) is lib.Tensor,
        "requires_grad": v.requires_grad,
        "is_leaf": v.is_leaf,
        "has grad_fn": v.grad_fn is not None,
        "source requires_grad": t.requires_grad,
        "isinstance": isinstance(t, lib.autograd.Variable) and isinstance(v, lib.autograd.Variable),
    }
    version = t._version
    with lib.no_grad():
        v[0] = 100.0  # an alias: the write shows through the source, and bumps its version
    facts["write shows"] = float(t.detach()[0]) == 100.0
    facts["version shared"] = t._version == version + 1
    return facts


_SOURCES = {
    "plain": lambda lib: lib.tensor([1.0, 2.0, 3.0]),
    "leaf requiring grad": lambda lib: lib.tensor([1.0, 2.0, 3.0], requires_grad=True),
    "computed": lambda lib: lib.tensor([1.0, 2.0, 3.0], requires_grad=True) * 2,
}


@pytest.mark.parametrize("source", list(_SOURCES))
@pytest.mark.parametrize("kw", [{}, {"requires_grad": True}, {"requires_grad": False}, {"requires_grad": 1}])
def test_variable_is_a_detached_alias_as_in_torch(source, kw):
    assert _variable_facts(irgrad, _SOURCES[source], **kw) == _variable_facts(torch, _SOURCES[source], **kw)


def test_variable_isinstance_and_empty_construction():
    from irgrad.autograd import Variable

    assert isinstance(irgrad.nn.Parameter(irgrad.ones(2)), Variable)
    assert not isinstance(3, Variable) and not isinstance([1.0], Variable)
    assert not issubclass(irgrad.Tensor, Variable)
    for empty in (Variable(), Variable(None)):
        assert tuple(empty.shape) == (0,) and empty.dtype is irgrad.float32 and not empty.requires_grad


def test_variable_requires_grad_makes_a_leaf_whose_gradient_stays_its_own():
    t = irgrad.tensor([1.0, 2.0])
    v = irgrad.autograd.Variable(t, requires_grad=True)
    (v * v).sum().backward()
    np.testing.assert_array_equal(v.grad.numpy(), [2.0, 4.0])
    assert t.grad is None


def test_variable_volatile_warns_as_torch():
    t = irgrad.ones(2)
    with pytest.warns(UserWarning) as caught:
        v = irgrad.autograd.Variable(t, volatile=True)
    assert _messages(caught) == [
        "volatile was removed and now has no effect. Use `with torch.no_grad():` instead."
    ]
    assert caught[0].filename == __file__  # the warning names the script's line
    assert not v.requires_grad
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        irgrad.autograd.Variable(t, volatile=False)


def _doubling(lib):
    """A custom Function of ``lib``: its nodes are what ``Variable``'s ``_grad_fn`` once took."""

    class Double(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2

    return Double


_BAD_VARIABLES = [
    lambda lib: ((3,), {}),
    lambda lib: (([1.0],), {}),
    lambda lib: ((lib.ones(2),), {"requires_grad": "yes"}),
    lambda lib: ((lib.ones(2),), {"requires_grad": 1.0}),
    lambda lib: ((lib.ones(2, dtype=lib.int64),), {"requires_grad": True}),
    lambda lib: (
        (lib.ones(2),),
        {"_grad_fn": (lib.ones(2, requires_grad=True) * 2).grad_fn},
    ),  # no Function's
    lambda lib: ((lib.ones(2),), {"_grad_fn": _doubling(lib).apply(lib.ones(2, requires_grad=True)).grad_fn}),
]


def _variable(lib, case):
    args, kw = case(lib)
    return lib.autograd.Variable(*args, **kw)


def test_variable_errors_as_torch():
    for case in _BAD_VARIABLES:
        _errors_alike(lambda c=case: _variable(irgrad, c), lambda c=case: _variable(torch, c))
    with pytest.raises(TypeError):  # (PyTorch's message says "'foo' is an invalid keyword argument")
        irgrad.autograd.Variable(irgrad.ones(2), foo=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (the volatile warning comes first)
        _errors_alike(
            lambda: irgrad.autograd.Variable(irgrad.ones(2), requires_grad=True, volatile=True),
            lambda: torch.autograd.Variable(torch.ones(2), requires_grad=True, volatile=True),
        )


def test_variable_in_a_pytorch_gan_step():
    """PyTorch-GAN's pattern: ``Tensor = torch.FloatTensor`` and Variables of labels and images."""
    images = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float64)
    out = {}
    for lib in (irgrad, torch):
        Tensor, Variable = lib.FloatTensor, lib.autograd.Variable
        valid = Variable(Tensor(images.shape[0], 1).fill_(1.0), requires_grad=False)
        real = Variable(lib.tensor(images).type(Tensor))
        z = Variable(Tensor(np.ones((4, 3), dtype=np.float32)), requires_grad=True)
        loss = ((real * z).sum(1, keepdim=True) - valid).pow(2).mean()
        loss.backward()
        out[lib.__name__] = (real.dtype, valid.requires_grad, float(loss.detach()), z.grad.numpy())
    assert str(out["irgrad"][0]).split(".")[-1] == str(out["torch"][0]).split(".")[-1]
    assert out["irgrad"][1] is out["torch"][1] is False
    np.testing.assert_allclose(out["irgrad"][2], out["torch"][2], rtol=1e-6)
    np.testing.assert_allclose(out["irgrad"][3], out["torch"][3], rtol=1e-6)


# --- irgrad.version -----------------------------------------------------------------------


def test_version_module_has_torch_names():
    assert set(irgrad.version.__all__) == set(torch.version.__all__)
    assert irgrad.version.__version__ == irgrad.__version__
    assert irgrad.version.cuda is None and torch.version.cuda is None  # a CPU build
    assert irgrad.version.hip is irgrad.version.rocm is irgrad.version.xpu is None
    assert irgrad.version.debug is False and isinstance(irgrad.version.git_version, str)


# --- nn.DataParallel ----------------------------------------------------------------------


def _small_net(nn):
    return nn.Sequential(
        nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 4 * 4, 2)
    )


@pytest.mark.parametrize(
    "kw", [{}, {"device_ids": [0, 1]}, {"device_ids": [0], "output_device": 0, "dim": 1}, {"device_ids": []}]
)
def test_data_parallel_is_the_module_as_on_a_cpu_only_torch(kw):
    theirs = torch.nn.DataParallel(_small_net(torch.nn), **kw)
    ours = irgrad.nn.DataParallel(_small_net(irgrad.nn), **kw)
    assert irgrad.nn.DataParallel is irgrad.nn.parallel.DataParallel
    assert ours.device_ids == theirs.device_ids == []
    for attribute in ("dim", "output_device"):
        assert hasattr(ours, attribute) is hasattr(theirs, attribute) is False
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    assert repr(ours) == repr(theirs)
    # torch's checkpoint (with the module. prefix) loads, and the forward is the module's
    ours.load_state_dict({k: v.detach().numpy().copy() for k, v in theirs.state_dict().items()})
    x = np.random.default_rng(2).standard_normal((5, 3, 6, 6)).astype(np.float32)
    for mode in ("train", "eval"):  # (a train step updates both BatchNorms' running statistics)
        getattr(ours, mode)(), getattr(theirs, mode)()
        out = ours(irgrad.tensor(x))
        np.testing.assert_allclose(
            out.detach().numpy(), theirs(torch.tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-5
        )
    assert ours.module.training is False
    np.testing.assert_array_equal(out.detach().numpy(), ours.module(irgrad.tensor(x)).detach().numpy())
