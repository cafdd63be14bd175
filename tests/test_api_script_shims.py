"""Names a scan of 1,115 public training scripts found missing in irgrad, each checked
against PyTorch 2.13 on the CPU (one section a name, in the order they were added)."""

import copy
import pickle
import warnings

import numpy as np
import pytest

import irgrad
from irgrad.tensor_ops import deprecated_overloads

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


# --- nn.attention -------------------------------------------------------------------------


def test_sdp_backend_members_as_torch():
    from torch.nn.attention import SDPBackend as Theirs

    from irgrad.nn.attention import SDPBackend as Ours

    assert list(Ours.__members__) == list(Theirs.__members__)
    for name in Theirs.__members__:
        ours, theirs = getattr(Ours, name), getattr(Theirs, name)
        assert (int(ours), ours.name, ours.value, str(ours), repr(ours)) == (
            int(theirs),
            theirs.name,
            theirs.value,
            str(theirs),
            repr(theirs),
        )


_FLAGS = ["flash_sdp_enabled", "math_sdp_enabled", "mem_efficient_sdp_enabled", "cudnn_sdp_enabled"]


def _flags(lib):
    return [getattr(lib.backends.cuda, f)() for f in _FLAGS]


@pytest.mark.parametrize(
    "backends",
    [["MATH"], ["FLASH_ATTENTION"], ["EFFICIENT_ATTENTION"], ["CUDNN_ATTENTION", "MATH"], [], "MATH"],
)
def test_sdpa_kernel_sets_and_restores_the_flags_as_torch(backends):
    from torch.nn.attention import SDPBackend as TB
    from torch.nn.attention import sdpa_kernel as torch_kernel

    from irgrad.nn.attention import SDPBackend as IB
    from irgrad.nn.attention import sdpa_kernel

    def chosen(enum):
        return getattr(enum, backends) if isinstance(backends, str) else [getattr(enum, b) for b in backends]

    assert _flags(irgrad) == _flags(torch) == [True] * 4
    with sdpa_kernel(chosen(IB)) as ours, torch_kernel(chosen(TB)) as theirs:
        assert ours == theirs == {}
        assert _flags(irgrad) == _flags(torch)
    assert _flags(irgrad) == _flags(torch) == [True] * 4


def test_sdpa_kernel_refuses_what_torch_refuses():
    from torch.nn.attention import sdpa_kernel as torch_kernel

    from irgrad.nn.attention import sdpa_kernel

    for bad in ("MATH", ("MATH",)):
        with pytest.raises(AssertionError) as theirs:
            with torch_kernel(bad):
                pass
        with pytest.raises(AssertionError, match=str(theirs.value)):
            with sdpa_kernel(bad):
                pass


_R = np.random.default_rng(3)
_SDPA_CASES = [
    # (backends, shapes of q, k, v, keywords)
    ("FLASH_ATTENTION", [(2, 3, 4, 8)] * 3, {}),
    ("MATH", [(2, 3, 4, 8)] * 3, {"dropout_p": 0.5}),
    (["EFFICIENT_ATTENTION", "MATH"], [(2, 3, 4, 8)] * 3, {}),
    ("EFFICIENT_ATTENTION", [(2, 3, 4, 8)] * 3, {}),
    ("CUDNN_ATTENTION", [(3, 4, 8)] * 3, {}),
    ("OVERRIDEABLE", [(2, 3, 4, 8)] * 3, {}),
    ([], [(2, 3, 4, 8)] * 3, {}),
    ([], [(2, 3, 0, 8), (2, 3, 5, 8), (2, 3, 5, 8)], {}),  # empty: no kernel is chosen
    ([], [(3, 4, 8), (3, 5, 8), (3, 5, 8)], {"is_causal": True, "attn_mask": (4, 5)}),
    ("FLASH_ATTENTION", [(3, 4, 8)] * 3, {}),
    ("FLASH_ATTENTION", [(2, 3, 4, 8)] * 3, {"dropout_p": 0.5}),
    ("FLASH_ATTENTION", [(2, 3, 4, 8), (2, 3, 5, 8), (2, 3, 5, 6)], {}),
    ("FLASH_ATTENTION", [(1, 3, 4, 8), (2, 3, 5, 8), (2, 3, 5, 8)], {}),
    ("FLASH_ATTENTION", [(2, 6, 4, 8), (2, 3, 5, 8), (2, 3, 5, 8)], {}),
    ("FLASH_ATTENTION", [(2, 6, 4, 8), (2, 3, 5, 8), (2, 3, 5, 8)], {"enable_gqa": True}),
    ("FLASH_ATTENTION", [(2, 5, 4, 8), (2, 3, 5, 8), (2, 3, 5, 8)], {"enable_gqa": True}),
    ("FLASH_ATTENTION", [(2, 6, 4, 8), (2, 3, 5, 8), (2, 2, 5, 8)], {"enable_gqa": True}),
    ("FLASH_ATTENTION", [(2, 3, 4, 8)] * 3, {"attn_mask": (3, 4, 4)}),
    ("FLASH_ATTENTION", [(2, 3, 4, 8)] * 3, {"attn_mask": (2, 1, 4, 4)}),
    ("FLASH_ATTENTION", [(2, 3, 4, 8)] * 3, {"attn_mask": (4, 1)}),
    ("FLASH_ATTENTION", [(2, 3, 4, 8)] * 3, {"is_causal": True}),
    ("FLASH_ATTENTION", [(2, 3, 4, 8)] * 3, {"attn_mask": (4, 4), "mask requires grad": True}),
    ("FLASH_ATTENTION", [(2, 3, 4, 8)] * 3, {"transposed query": True}),
    ("FLASH_ATTENTION", [(2, 3, 4, 8)] * 3, {"dtype": "int64"}),
    ("MATH", [(8,)] * 3, {}),
    ("MATH", [(2, 8)] * 3, {"dtype of query": "float64"}),
    ("MATH", [(2, 8)] * 3, {"attn_mask": (2, 2), "mask dtype": "int64"}),
    ("MATH", [(2, 8)] * 3, {"attn_mask": (2, 2), "mask dtype": "float64"}),
]


def _sdpa(lib, backends, shapes, kw):
    from importlib import import_module

    attention = import_module(f"{lib.__name__}.nn.attention")
    kw = dict(kw)
    dtype = getattr(lib, kw.pop("dtype", "float32"))
    query_dtype = getattr(lib, kw.pop("dtype of query", kw.get("dtype", "float32")))
    args = [lib.tensor(_R.standard_normal(s)).to(dtype) for s in shapes]
    args[0] = args[0].to(query_dtype)
    if kw.pop("transposed query", False):
        args[0] = args[0].transpose(-1, -2).contiguous().transpose(-1, -2)
    if "attn_mask" in kw:
        mask = lib.zeros(kw["attn_mask"], dtype=getattr(lib, kw.pop("mask dtype", "float32")))
        kw["attn_mask"] = mask.requires_grad_() if kw.pop("mask requires grad", False) else mask
    if isinstance(backends, str):
        chosen = getattr(attention.SDPBackend, backends)
    else:
        chosen = [getattr(attention.SDPBackend, b) for b in backends]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            with attention.sdpa_kernel(chosen):
                out = lib.nn.functional.scaled_dot_product_attention(*args, **kw)
            result = ("ran", tuple(out.shape))
        except Exception as e:
            result = (type(e).__name__, str(e))
    return result, _messages(caught)


@pytest.mark.parametrize("case", range(len(_SDPA_CASES)))
def test_scaled_dot_product_attention_runs_or_refuses_as_torch(case):
    """Which calls run under which kernels, and the warnings and errors of the others."""
    backends, shapes, kw = _SDPA_CASES[case]
    assert _sdpa(irgrad, backends, shapes, kw) == _sdpa(torch, backends, shapes, kw)


def test_kernel_choice_leaves_the_values_alone():
    q, k, v = (irgrad.tensor(_R.standard_normal((2, 3, 4, 8))) for _ in range(3))
    from irgrad.nn.attention import SDPBackend, sdpa_kernel

    F = irgrad.nn.functional
    expected = F.scaled_dot_product_attention(q, k, v, is_causal=True).numpy()
    for chosen in (
        SDPBackend.MATH,
        SDPBackend.FLASH_ATTENTION,
        [SDPBackend.MATH, SDPBackend.FLASH_ATTENTION],
    ):
        with sdpa_kernel(chosen, set_priority=True):
            np.testing.assert_array_equal(
                F.scaled_dot_product_attention(q, k, v, is_causal=True).numpy(), expected
            )


def test_flex_attention_is_not_there():
    with pytest.raises(ModuleNotFoundError, match="irgrad.nn.attention.flex_attention"):
        import irgrad.nn.attention.flex_attention  # noqa: F401
    with pytest.raises(ImportError):
        from irgrad.nn.attention import flex_attention  # noqa: F401


# --- memory formats -----------------------------------------------------------------------


def _layouts(lib):
    """Tensors of each layout the conversions treat apart (same values in both libraries)."""
    x = lib.tensor(np.arange(120.0, dtype=np.float32).reshape(2, 3, 4, 5))
    return {
        "contiguous": x,
        "transposed": x.transpose(1, 2),
        "channels last": x.contiguous(memory_format=lib.channels_last),
        "5-d": lib.tensor(np.arange(240.0, dtype=np.float32).reshape(2, 3, 2, 4, 5)),
        "1-d": lib.tensor(np.arange(5.0, dtype=np.float32)),
    }


_CONVERSIONS = {
    "contiguous": lambda lib, t, f: t.contiguous(memory_format=f),
    "clone": lambda lib, t, f: t.clone(memory_format=f),
    "to": lambda lib, t, f: t.to(memory_format=f),
    "to copy": lambda lib, t, f: t.to(memory_format=f, copy=True),
    "to float64": lambda lib, t, f: t.to(lib.float64, memory_format=f),
    "float": lambda lib, t, f: t.float(memory_format=f),
    "empty_like": lambda lib, t, f: lib.empty_like(t, memory_format=f),
    "zeros_like": lambda lib, t, f: lib.zeros_like(t, memory_format=f),
    "ones_like": lambda lib, t, f: lib.ones_like(t, memory_format=f),
    "full_like": lambda lib, t, f: lib.full_like(t, 2.0, memory_format=f),
    "rand_like": lambda lib, t, f: lib.rand_like(t, memory_format=f),
    "randn_like": lambda lib, t, f: lib.randn_like(t, memory_format=f),
    "randint_like": lambda lib, t, f: lib.randint_like(t, 5, memory_format=f),
    "empty": lambda lib, t, f: lib.empty(t.shape, memory_format=f),
}
_FORMATS = ["contiguous_format", "preserve_format", "channels_last", "channels_last_3d"]
_COPIES_VALUES = {"contiguous", "clone", "to", "to copy", "to float64", "float"}


def _outcome(lib, conversion, fmt, layout):
    t = _layouts(lib)[layout]
    try:
        r = _CONVERSIONS[conversion](lib, t, getattr(lib, fmt))
    except Exception as e:
        return type(e).__name__, str(e)
    if conversion in _COPIES_VALUES:
        np.testing.assert_array_equal(r.detach().numpy(), t.detach().numpy())
    return r.stride(), r is t, r.is_contiguous(), r.is_contiguous(memory_format=getattr(lib, fmt))


@pytest.mark.parametrize("fmt", _FORMATS)
@pytest.mark.parametrize("conversion", list(_CONVERSIONS))
def test_memory_format_conversions_as_torch(conversion, fmt):
    for layout in ("contiguous", "transposed", "channels last", "5-d", "1-d"):
        ours, theirs = _outcome(irgrad, conversion, fmt, layout), _outcome(torch, conversion, fmt, layout)
        keeps_strides = fmt == "preserve_format" and conversion not in (
            "contiguous",
            "to",
            "float",
            "to float64",
        )
        if keeps_strides and layout in ("transposed", "channels last") and not isinstance(theirs[0], str):
            # PyTorch's copies keep a dense input's strides; irgrad's are C-contiguous
            # (docs: pytorch-differences). Same values, same errors.
            assert ours[1:3] == (False, True), (conversion, layout, ours)
            continue
        assert ours == theirs, (conversion, fmt, layout)


def _to_returns_itself(tensor, fmt):
    try:
        return tensor.to(memory_format=fmt) is tensor
    except RuntimeError as e:
        return str(e)


def test_is_contiguous_and_to_follow_the_strides_as_torch():
    """Every permutation of dims of sizes with 1s: is_contiguous(memory_format=...) and
    whether to(memory_format=...) returns the tensor itself (PyTorch's stride heuristics)."""
    import itertools

    for shape in [(2, 3, 4, 5), (1, 3, 1, 1), (2, 1, 4, 5), (2, 3, 1, 1), (1, 1, 1, 1), (3, 1, 2, 1, 2)]:
        for perm in itertools.permutations(range(len(shape))):
            stored = np.zeros([shape[d] for d in perm], dtype=np.float32)
            data = stored.transpose(np.argsort(perm))
            ours, theirs = irgrad.from_numpy(data), torch.from_numpy(data)
            assert ours.stride() == theirs.stride()
            for fmt in _FORMATS:
                mine, its = getattr(irgrad, fmt), getattr(torch, fmt)
                assert ours.is_contiguous(memory_format=mine) == theirs.is_contiguous(memory_format=its), (
                    shape,
                    perm,
                )
                assert _to_returns_itself(ours, mine) == _to_returns_itself(theirs, its), (shape, perm, fmt)


def test_channels_last_copy_has_the_gradient_of_a_copy():
    data = np.random.default_rng(1).standard_normal((2, 3, 4, 5))
    x = irgrad.tensor(data, requires_grad=True)
    y = x.contiguous(memory_format=irgrad.channels_last)
    z = x.clone(memory_format=irgrad.channels_last)
    (y * y + 3 * z).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * data + 3)
    assert y.grad_fn is not None and y.is_contiguous(memory_format=irgrad.channels_last)


def test_channels_last_factories_make_leaves():
    x = irgrad.ones(2, 3, 4, 5)
    for make in (irgrad.zeros_like, irgrad.randn_like, irgrad.empty_like):
        t = make(x, requires_grad=True, memory_format=irgrad.channels_last)
        assert t.is_leaf and t.requires_grad and t.is_contiguous(memory_format=irgrad.channels_last)


def test_memory_format_values_and_errors_as_torch():
    assert irgrad.memory_format is type(irgrad.channels_last)
    for name in _FORMATS:
        value = getattr(irgrad, name)
        assert repr(value) == repr(getattr(torch, name))
        assert pickle.loads(pickle.dumps(value)) is value and copy.deepcopy(value) is value
    x, xt = irgrad.ones(2, 3), torch.ones(2, 3)
    for bad in ("channels_last", 1, None):
        for name in ("contiguous", "is_contiguous"):
            _errors_alike(
                lambda b=bad, n=name: getattr(x, n)(memory_format=b),
                lambda b=bad, n=name: getattr(xt, n)(memory_format=b),
            )
    for bad in ("channels_last", 1):
        _errors_alike(lambda b=bad: x.clone(memory_format=b), lambda b=bad: xt.clone(memory_format=b))
        _errors_alike(
            lambda b=bad: irgrad.empty_like(x, memory_format=b),
            lambda b=bad: torch.empty_like(xt, memory_format=b),
        )
        _errors_alike(
            lambda b=bad: irgrad.empty(2, memory_format=b), lambda b=bad: torch.empty(2, memory_format=b)
        )


# --- dense-tensor facts, pin_memory=, normal's factory keywords ---------------------------


def test_sparse_layout_and_pinning_facts_as_torch():
    for ours, theirs in [
        (irgrad.ones(2, 3), torch.ones(2, 3)),
        (irgrad.nn.Parameter(irgrad.ones(2)), torch.nn.Parameter(torch.ones(2))),
    ]:
        assert (ours.is_sparse, ours.is_sparse_csr, repr(ours.layout), ours.is_pinned()) == (
            theirs.is_sparse,
            theirs.is_sparse_csr,
            repr(theirs.layout),
            theirs.is_pinned(),
        )
        _errors_alike(ours.pin_memory, theirs.pin_memory)


_FACTORIES = {
    "tensor": lambda lib, **k: lib.tensor([1.0], **k),
    "zeros": lambda lib, **k: lib.zeros(3, **k),
    "ones": lambda lib, **k: lib.ones(3, **k),
    "empty": lambda lib, **k: lib.empty(3, **k),
    "full": lambda lib, **k: lib.full((3,), 1.0, **k),
    "zeros_like": lambda lib, **k: lib.zeros_like(lib.ones(2), **k),
    "ones_like": lambda lib, **k: lib.ones_like(lib.ones(2), **k),
    "empty_like": lambda lib, **k: lib.empty_like(lib.ones(2), **k),
    "full_like": lambda lib, **k: lib.full_like(lib.ones(2), 1.0, **k),
    "rand": lambda lib, **k: lib.rand(3, **k),
    "randn": lambda lib, **k: lib.randn(3, **k),
    "rand_like": lambda lib, **k: lib.rand_like(lib.ones(2), **k),
    "randn_like": lambda lib, **k: lib.randn_like(lib.ones(2), **k),
    "randint": lambda lib, **k: lib.randint(0, 5, (3,), **k),
    "randint_like": lambda lib, **k: lib.randint_like(lib.ones(2), 5, **k),
    "randperm": lambda lib, **k: lib.randperm(3, **k),
    "normal": lambda lib, **k: lib.normal(0.0, 1.0, (3,), **k),
    "arange": lambda lib, **k: lib.arange(3, **k),
    "linspace": lambda lib, **k: lib.linspace(0, 1, 3, **k),
    "logspace": lambda lib, **k: lib.logspace(0, 1, 3, **k),
    "eye": lambda lib, **k: lib.eye(3, **k),
    "tril_indices": lambda lib, **k: lib.tril_indices(3, 3, **k),
    "triu_indices": lambda lib, **k: lib.triu_indices(3, 3, **k),
    "scalar_tensor": lambda lib, **k: lib.scalar_tensor(1.0, **k),
    "hann_window": lambda lib, **k: lib.hann_window(4, **k),
    "hamming_window": lambda lib, **k: lib.hamming_window(4, **k),
    "kaiser_window": lambda lib, **k: lib.kaiser_window(4, **k),
    "new_empty": lambda lib, **k: lib.ones(2).new_empty(3, **k),
    "new_zeros": lambda lib, **k: lib.ones(2).new_zeros(3, **k),
    "new_ones": lambda lib, **k: lib.ones(2).new_ones(3, **k),
    "new_full": lambda lib, **k: lib.ones(2).new_full((3,), 1.0, **k),
}


@pytest.mark.parametrize("name", list(_FACTORIES))
def test_pin_memory_as_on_a_torch_without_accelerator(name):
    make = _FACTORIES[name]
    ours, theirs = make(irgrad, pin_memory=False), make(torch, pin_memory=False)
    assert tuple(ours.shape) == tuple(theirs.shape) and str(ours.dtype)[7:] == str(theirs.dtype)[6:]
    assert ours.is_pinned() is theirs.is_pinned() is False
    _errors_alike(lambda: make(irgrad, pin_memory=True), lambda: make(torch, pin_memory=True))


_NORMAL_CALLS = [
    ((0.0, 1.0, (3,)), {"requires_grad": True}),
    ((0.0, 1.0), {"size": (2, 3), "dtype": "float64", "requires_grad": True}),
    ((0.0, 1.0, (2,)), {"device": "cpu"}),
    (("zeros", "ones"), {"requires_grad": True}),
    (("zeros", 1.0), {"requires_grad": True}),
    ((0.0, "ones"), {"requires_grad": True}),
    (("zeros", "ones", (3,)), {}),
    ((0.0, 1.0), {}),
    ((0, 1, (3,)), {"dtype": "int64"}),
]


@pytest.mark.parametrize("call", range(len(_NORMAL_CALLS)))
def test_normal_overloads_as_torch(call):
    args, kw = _NORMAL_CALLS[call]

    def run(lib):
        a = [getattr(lib, x)(3) if isinstance(x, str) else x for x in args]
        k = {n: getattr(lib, v) if n == "dtype" else v for n, v in kw.items()}
        return lib.normal(*a, **k)

    try:
        theirs = run(torch)
    except Exception:
        _errors_alike(lambda: run(irgrad), lambda: run(torch))
        return
    ours = run(irgrad)
    assert (tuple(ours.shape), str(ours.dtype)[7:], ours.requires_grad, ours.is_leaf) == (
        tuple(theirs.shape),
        str(theirs.dtype)[6:],
        theirs.requires_grad,
        theirs.is_leaf,
    )


# --- the deprecated scalar-first overloads ------------------------------------------------


_OVERLOADS = {
    "x.add(2, y)": lambda lib, x, y: x.add(2, y),
    "x.add_(2, y)": lambda lib, x, y: x.clone().add_(2, y),
    "add(x, 2, y)": lambda lib, x, y: lib.add(x, 2, y),
    "x.sub(2, y)": lambda lib, x, y: x.sub(2, y),
    "x.sub_(0.5, y)": lambda lib, x, y: x.clone().sub_(0.5, y),
    "sub(x, 2, y)": lambda lib, x, y: lib.sub(x, 2, y),
    "x.add(0-d tensor, y)": lambda lib, x, y: x.add(lib.tensor(2.0), y),
    "x.add(2, 3.5)": lambda lib, x, y: x.add(2, 3.5) + y,
    "x.addcmul(2, y, y)": lambda lib, x, y: x.addcmul(2, y, y),
    "x.addcmul_(-0.5, y, y)": lambda lib, x, y: x.clone().addcmul_(-0.5, y, y),
    "addcmul(x, 2, y, y)": lambda lib, x, y: lib.addcmul(x, 2, y, y),
    "x.addcdiv(2, y, y + 1)": lambda lib, x, y: x.addcdiv(2, y, y + 1),
    "x.addcdiv_(-0.5, y, y + 1)": lambda lib, x, y: x.clone().addcdiv_(-0.5, y, y + 1),
    "addcdiv(x, 2, y, y + 1)": lambda lib, x, y: lib.addcdiv(x, 2, y, y + 1),
}


@pytest.mark.parametrize("call", list(_OVERLOADS))
def test_deprecated_overloads_compute_as_torch(call):
    data = np.random.default_rng(4).standard_normal((2, 3))
    results = []
    for lib in (irgrad, torch):
        x, y = lib.tensor(data), lib.tensor(data[::-1].copy(), requires_grad=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = _OVERLOADS[call](lib, x, y)
        out.sum().backward()
        results.append((out.detach().numpy(), y.grad.numpy()))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-12)
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-12)


def test_deprecated_overloads_warn_once_per_process(monkeypatch):
    monkeypatch.setattr(deprecated_overloads, "_warned", False)
    x, y = irgrad.ones(3), irgrad.arange(3.0)
    with pytest.warns(UserWarning) as caught:
        x.clone().add_(2, y)
    # PyTorch 2.13's text for the method (it prints the function's signature for torch.add)
    assert _messages(caught) == [
        "This overload of add_ is deprecated:\n\tadd_(Number alpha, Tensor other)\n"
        "Consider using one of the following signatures instead:\n\tadd_(Tensor other, *, Number alpha = 1)"
    ]
    assert caught[0].filename == __file__
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # once for all of them, as PyTorch's TORCH_WARN_ONCE
        x.add(2, y), x.sub(2, y), x.addcmul(2, y, y), x.clone().addcdiv_(2, y, y + 1)
    monkeypatch.setattr(deprecated_overloads, "_warned", False)
    with pytest.warns(UserWarning, match=r"addcmul\(Number value, Tensor tensor1, Tensor tensor2\)"):
        x.addcmul(2, y, y)


def test_deprecated_overloads_refuse_what_torch_refuses():
    x, y = irgrad.ones(3), irgrad.arange(3.0)
    tx, ty = torch.ones(3), torch.arange(3.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _errors_alike(lambda: x.add(2, y, alpha=3), lambda: tx.add(2, ty, alpha=3))
        _errors_alike(lambda: irgrad.add(x, y, y), lambda: torch.add(tx, ty, ty))
        _errors_alike(lambda: irgrad.sub(x, y, y), lambda: torch.sub(tx, ty, ty))
    for bad in (
        lambda lib, t: t.add(lib.ones(1), t),
        lambda lib, t: t.add(2, None),
        lambda lib, t: t.add(2, t, t),
    ):
        with pytest.raises(TypeError):
            bad(irgrad, x)
        with pytest.raises(TypeError):
            bad(torch, tx)


def test_a_channels_last_copy_is_a_tensor_of_its_own():
    """Not a view of a hidden copy: it keeps its own grad flag through in-place updates
    (a trained channels-last leaf), as PyTorch's does."""
    x = irgrad.randn(2, 3, 4, 5)
    for kept in (
        x.contiguous(memory_format=irgrad.channels_last),
        x.clone(memory_format=irgrad.channels_last),
    ):
        assert kept._base is None and kept.is_contiguous(memory_format=irgrad.channels_last)
        kept.requires_grad_()
        (kept * kept).sum().backward()
        with irgrad.no_grad():
            kept.add_(kept.grad, alpha=-0.1)
        assert kept.requires_grad and kept.is_leaf


def test_empty_tensors_report_pytorchs_strides():
    torch = pytest.importorskip("torch")
    for shape in [(0, 2, 3, 4), (3, 0), (0,), (2, 0, 1)]:
        assert irgrad.zeros(*shape).stride() == torch.zeros(*shape).stride()
