"""The Module API against PyTorch: registration, traversal order and names, state_dict
round trips in both directions, strict-loading errors, train/eval, hooks, repr,
zero_grad, dtype conversion, containers, Parameter, and the nn.utils helpers."""

from __future__ import annotations

import copy
from collections import OrderedDict

import numpy as np
import pytest
from conftest import assert_same

import irgrad
import irgrad.nn as nn

torch = pytest.importorskip("torch")


def _to_numpy_state(sd) -> dict:
    return {k: v.detach().numpy().copy() for k, v in sd.items()}


# --- architectures built identically with either library ------------------------------


def make_mlp(L):
    n = L.nn
    return n.Sequential(
        n.Linear(6, 8), n.BatchNorm1d(8), n.ReLU(), n.Dropout(0.1), n.Linear(8, 8), n.Tanh(), n.Linear(8, 3)
    )


def make_nested(L):
    n = L.nn

    class Block(n.Module):
        def __init__(self, dim):
            super().__init__()
            self.norm = n.LayerNorm(dim)
            self.ff = n.Sequential(n.Linear(dim, 2 * dim), n.GELU(), n.Linear(2 * dim, dim))
            self.register_buffer("scale", L.ones(dim))
            self.register_buffer("cache", L.zeros(dim), persistent=False)

        def forward(self, x):
            return x + self.ff(self.norm(x)) * self.scale

    class Net(n.Module):
        def __init__(self):
            super().__init__()
            self.embed = n.Embedding(10, 6)
            self.blocks = n.ModuleList([Block(6) for _ in range(2)])
            self.heads = n.ModuleDict({"cls": n.Linear(6, 3), "reg": n.Linear(6, 1)})
            self.bn = n.BatchNorm1d(6)
            self.gain = n.Parameter(L.ones(1))
            self.extra = n.ParameterList([n.Parameter(L.zeros(2)), n.Parameter(L.ones(3))])

        def forward(self, idx):
            h = self.embed(idx).mean(1)
            for block in self.blocks:
                h = block(h)
            h = self.bn(h) * self.gain
            return self.heads["cls"](h) + self.heads["reg"](h)

    return Net()


ARCHS = [make_mlp, make_nested]


def _input(arch, rng):
    if arch is make_mlp:
        return rng.standard_normal((5, 6)).astype(np.float32)
    return rng.integers(0, 10, size=(5, 4)).astype(np.int64)


@pytest.mark.parametrize("arch", ARCHS)
def test_names_and_order_match_torch(arch):
    mine, theirs = arch(irgrad), arch(torch)
    assert [k for k, _ in mine.named_parameters()] == [k for k, _ in theirs.named_parameters()]
    assert [k for k, _ in mine.named_buffers()] == [k for k, _ in theirs.named_buffers()]
    assert list(mine.state_dict()) == list(theirs.state_dict())
    assert [k for k, _ in mine.named_modules()] == [k for k, _ in theirs.named_modules()]
    assert [k for k, _ in mine.named_children()] == [k for k, _ in theirs.named_children()]
    assert [type(m).__name__ for m in mine.modules()] == [type(m).__name__ for m in theirs.modules()]
    assert [tuple(p.shape) for p in mine.parameters()] == [tuple(p.shape) for p in theirs.parameters()]
    assert [k for k, _ in mine.named_parameters(prefix="net", recurse=True)] == [
        k for k, _ in theirs.named_parameters(prefix="net")
    ]
    assert [k for k, _ in mine.named_parameters(recurse=False)] == [
        k for k, _ in theirs.named_parameters(recurse=False)
    ]


@pytest.mark.parametrize("arch", ARCHS)
def test_repr_matches_torch(arch):
    mine, theirs = repr(arch(irgrad)), repr(arch(torch))
    assert mine.replace("irgrad.", "torch.") == theirs


@pytest.mark.parametrize("arch", ARCHS)
def test_state_dict_round_trips_between_libraries(arch):
    rng = np.random.default_rng(0)
    x = _input(arch, rng)
    # torch -> irgrad
    theirs, mine = arch(torch), arch(irgrad)
    with torch.no_grad():
        for p in theirs.parameters():
            p.normal_()
    theirs.train()
    theirs(torch.tensor(x))  # moves the BatchNorm running statistics
    ids = [id(p) for p in mine.parameters()]
    result = mine.load_state_dict(_to_numpy_state(theirs.state_dict()))
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert repr(result) == "<All keys matched successfully>"
    assert [id(p) for p in mine.parameters()] == ids  # copied in place
    theirs.eval()
    mine.eval()
    assert_same(mine(irgrad.tensor(x)), theirs(torch.tensor(x)), 1e-4, 1e-4)
    # irgrad -> torch
    mine2, theirs2 = arch(irgrad), arch(torch)
    mine2.train()
    mine2(irgrad.tensor(x))
    theirs2.load_state_dict({k: torch.tensor(v) for k, v in _to_numpy_state(mine2.state_dict()).items()})
    mine2.eval()
    theirs2.eval()
    assert_same(mine2(irgrad.tensor(x)), theirs2(torch.tensor(x)), 1e-4, 1e-4)


def test_load_state_dict_accepts_torch_tensors_directly():
    theirs = make_mlp(torch)
    mine = make_mlp(irgrad)
    mine.load_state_dict(theirs.state_dict())
    for (k, a), b in zip(mine.state_dict().items(), theirs.state_dict().values()):
        assert_same(a, b, 0, 0, what=k)
    with pytest.raises(RuntimeError, match="expected irgrad.Tensor"):
        mine.load_state_dict({**mine.state_dict(), "0.bias": [1.0] * 8})


def test_state_dict_values_are_detached_and_share_storage():
    m = nn.Linear(3, 2)
    sd = m.state_dict()
    assert isinstance(sd, OrderedDict)
    assert not sd["weight"].requires_grad and type(sd["weight"]) is irgrad.Tensor
    sd["weight"][0, 0] = 5.0
    assert m.weight[0, 0].item() == 5.0
    kept = m.state_dict(keep_vars=True)
    assert kept["weight"] is m.weight
    assert list(m.state_dict(prefix="enc.")) == ["enc.weight", "enc.bias"]


def test_load_state_dict_errors_match_torch():
    def messages(L, sd):
        model = L.nn.Sequential(L.nn.Linear(3, 2), L.nn.ReLU(), L.nn.Linear(2, 1))
        with pytest.raises(RuntimeError) as info:
            model.load_state_dict(sd)
        return str(info.value)

    good = _to_numpy_state(make_linear_state())
    bad = dict(good)
    del bad["2.bias"]
    bad["3.weight"] = np.zeros(1, dtype=np.float32)
    bad["0.weight"] = np.zeros((4, 3), dtype=np.float32)
    mine = messages(irgrad, bad)
    theirs = messages(torch, {k: torch.tensor(v) for k, v in bad.items()})
    assert mine.replace("irgrad.Size", "torch.Size") == theirs
    assert mine.startswith("Error(s) in loading state_dict for Sequential:\n\tMissing key(s) in state_dict: ")


def make_linear_state():
    return torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.ReLU(), torch.nn.Linear(2, 1)).state_dict()


def test_load_state_dict_non_strict_reports_keys():
    good = _to_numpy_state(make_linear_state())
    partial = {k: v for k, v in good.items() if k != "0.bias"}
    partial["head.weight"] = np.zeros(2, dtype=np.float32)
    mine = nn.Sequential(nn.Linear(3, 2), nn.ReLU(), nn.Linear(2, 1))
    theirs = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.ReLU(), torch.nn.Linear(2, 1))
    r_m = mine.load_state_dict(partial, strict=False)
    r_t = theirs.load_state_dict({k: torch.tensor(v) for k, v in partial.items()}, strict=False)
    assert r_m.missing_keys == r_t.missing_keys == ["0.bias"]
    assert r_m.unexpected_keys == r_t.unexpected_keys == ["head.weight"]
    np.testing.assert_array_equal(mine[2].weight.detach().numpy(), good["2.weight"])
    with pytest.raises(TypeError, match="dict-like"):
        mine.load_state_dict([1, 2])


def test_load_state_dict_batchnorm_without_num_batches_tracked_and_assign():
    bn = nn.BatchNorm1d(3)
    sd = {
        k: v
        for k, v in _to_numpy_state(torch.nn.BatchNorm1d(3).state_dict()).items()
        if "num_batches" not in k
    }
    bn.load_state_dict(sd)  # old checkpoints lack the key; torch fills it in too
    m = nn.Linear(2, 2)
    w = irgrad.ones(2, 2)
    m.load_state_dict({"weight": w, "bias": irgrad.zeros(2)}, assign=True)
    assert isinstance(m.weight, nn.Parameter) and m.weight.requires_grad
    np.testing.assert_array_equal(m.weight.detach().numpy(), 1.0)


# --- modes, hooks, gradients, dtype ---------------------------------------------------


def test_train_eval_propagate():
    m = make_nested(irgrad)
    assert all(sub.training for sub in m.modules())
    assert m.eval() is m
    assert not any(sub.training for sub in m.modules())
    m.blocks.train()
    assert m.blocks[1].ff[0].training and not m.heads.training
    with pytest.raises(ValueError, match="boolean"):
        m.train("yes")


def test_forward_hooks():
    m = nn.Linear(2, 2)
    calls = []
    h1 = m.register_forward_pre_hook(lambda mod, args: (args[0] * 0,))
    h2 = m.register_forward_hook(lambda mod, args, out: calls.append("after") or out + 1)
    h3 = m.register_forward_hook(lambda mod, args, out: calls.append("first"), prepend=True)
    x = irgrad.randn(3, 2)
    y = m(x)
    np.testing.assert_allclose(
        y.detach().numpy(), (m.bias + 1).detach().numpy()[None].repeat(3, 0), rtol=1e-6
    )
    assert calls == ["first", "after"]
    h1.remove()
    h2.remove()
    h3.remove()
    np.testing.assert_allclose(m(x).detach().numpy(), (x @ m.weight.T + m.bias).detach().numpy(), rtol=1e-6)
    assert calls == ["first", "after"]

    seen = {}
    with m.register_forward_pre_hook(lambda mod, args, kwargs: ((args[0] * 2,), kwargs), with_kwargs=True):
        m.register_forward_hook(lambda mod, args, kwargs, out: seen.update(k=kwargs), with_kwargs=True)
        m(x)
    assert seen == {"k": {}}
    assert not m._forward_pre_hooks

    ran = []
    m.register_forward_hook(lambda mod, args, out: ran.append(out), always_call=True)
    with pytest.raises(RuntimeError):
        m(irgrad.randn(3, 5))  # forward fails; the always_call hook still runs
    assert ran == [None]


def test_zero_grad_and_requires_grad_():
    m = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 1))
    m(irgrad.randn(4, 3)).sum().backward()
    assert all(p.grad is not None for p in m.parameters())
    m.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.numpy().any() for p in m.parameters())
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())
    m.requires_grad_(False)
    assert not any(p.requires_grad for p in m.parameters())


def test_to_double_keeps_parameter_identity():
    m = make_nested(irgrad)
    m(irgrad.tensor(np.zeros((2, 3), dtype=np.int64))).sum().backward()
    params = list(m.parameters())
    assert m.to(irgrad.float64) is m
    assert [id(p) for p in m.parameters()] == [id(p) for p in params]
    assert all(p.dtype == irgrad.float64 for p in m.parameters())
    assert all(p.grad.dtype == irgrad.float64 for p in m.parameters() if p.grad is not None)
    assert m.bn.running_mean.dtype == irgrad.float64
    assert m.bn.num_batches_tracked.dtype == irgrad.int64
    out = m(irgrad.tensor(np.zeros((2, 3), dtype=np.int64)))
    assert out.dtype == irgrad.float64
    m.float()
    assert all(p.dtype == irgrad.float32 for p in m.parameters())
    assert m.to("cpu") is m and m.to(dtype=irgrad.float64).heads["cls"].weight.dtype == irgrad.float64
    with pytest.raises(TypeError, match="floating point"):
        m.to(irgrad.int64)


def test_apply_visits_children_first():
    order_m, order_t = [], []
    make_mlp(irgrad).apply(lambda mod: order_m.append(type(mod).__name__))
    make_mlp(torch).apply(lambda mod: order_t.append(type(mod).__name__))
    assert order_m == order_t

    def init_weights(mod):
        if isinstance(mod, nn.Linear):
            nn.init.zeros_(mod.weight)

    net = make_mlp(irgrad).apply(init_weights)
    assert not net[0].weight.detach().numpy().any()


def test_deepcopy_gives_independent_module():
    m = make_nested(irgrad)
    c = copy.deepcopy(m)
    assert list(c.state_dict()) == list(m.state_dict())
    c.heads["cls"].weight.data.fill_(3.0)
    assert not (m.heads["cls"].weight.detach().numpy() == 3.0).all()
    assert isinstance(c.gain, nn.Parameter) and c.gain.requires_grad


# --- registration rules ----------------------------------------------------------------


def test_attribute_registration_rules():
    m = nn.Module()
    m.w = nn.Parameter(irgrad.ones(2))
    m.sub = nn.Linear(1, 1)
    m.register_buffer("buf", irgrad.zeros(1))
    m.plain = irgrad.zeros(1)  # a plain tensor attribute is not registered
    assert [k for k, _ in m.named_parameters()] == ["w", "sub.weight", "sub.bias"]
    assert [k for k, _ in m.named_buffers()] == ["buf"]
    m.w = None
    assert "w" in m._parameters and m.w is None
    assert [k for k, _ in m.named_parameters()] == ["sub.weight", "sub.bias"]
    with pytest.raises(TypeError, match="cannot assign"):
        m.w = irgrad.ones(2)
    m.buf = irgrad.ones(3)
    assert m.buf.shape == (3,)
    with pytest.raises(TypeError):
        m.buf = 3
    with pytest.raises(KeyError, match="already exists"):
        m.register_buffer("plain", irgrad.zeros(1))
    with pytest.raises(KeyError, match="contain"):
        m.register_parameter("a.b", None)
    with pytest.raises(TypeError, match="not a Module subclass"):
        m.add_module("x", 3)
    with pytest.raises(TypeError, match="torch.FloatTensor"):
        m.register_parameter("nl", nn.Parameter(irgrad.ones(1)) * 2)  # type: ignore[arg-type]
    del m.sub
    assert "sub" not in m._modules
    with pytest.raises(AttributeError, match="has no attribute 'missing'"):
        _ = m.missing

    class Broken(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(irgrad.ones(1))

    with pytest.raises(AttributeError, match="before Module.__init__"):
        Broken()


def test_nonpersistent_buffer_and_get_submodule():
    m = make_nested(irgrad)
    assert "blocks.0.cache" not in m.state_dict()
    assert "blocks.0.cache" in dict(m.named_buffers())
    assert m.get_submodule("blocks.1.ff.0") is m.blocks[1].ff[0]
    assert m.get_parameter("heads.cls.bias") is m.heads["cls"].bias
    with pytest.raises(AttributeError):
        m.get_submodule("blocks.9")


def test_shared_parameters_are_listed_once():
    def build(L):
        a = L.nn.Linear(2, 2)
        return L.nn.Sequential(a, L.nn.ReLU(), a)

    mine, theirs = build(irgrad), build(torch)
    assert [k for k, _ in mine.named_parameters()] == [k for k, _ in theirs.named_parameters()]
    assert [k for k, _ in mine.named_parameters(remove_duplicate=False)] == [
        k for k, _ in theirs.named_parameters(remove_duplicate=False)
    ]
    assert list(mine.state_dict()) == list(theirs.state_dict())


def test_forward_not_implemented():
    with pytest.raises(NotImplementedError, match="forward"):
        nn.Module()(1)


# --- containers -----------------------------------------------------------------------


def test_sequential_operations_match_torch():
    def ops(L):
        n = L.nn
        s = n.Sequential(n.Linear(2, 3), n.ReLU(), n.Linear(3, 4), n.Tanh())
        out = [len(s), type(s[1]).__name__, type(s[-1]).__name__, type(s[1:3]).__name__, len(s[1:3])]
        s.append(n.Sigmoid())
        s.insert(1, n.GELU())
        del s[0]
        out += [[type(m).__name__ for m in s], list(s._modules)]
        named = n.Sequential(OrderedDict([("fc", n.Linear(1, 1)), ("act", n.ReLU())]))
        out += [list(named.state_dict()), repr(named)]
        s.extend([n.Identity()])
        s[0] = n.SiLU()
        out += [repr(s), type(s.pop(0)).__name__, len(s)]
        return out

    assert ops(irgrad) == ops(torch)
    with pytest.raises(IndexError):
        nn.Sequential(nn.ReLU())[3]


def test_module_list_and_dict_match_torch():
    def ops(L):
        n = L.nn
        ml = n.ModuleList([n.Linear(2, 2) for _ in range(3)])
        ml.append(n.ReLU())
        ml.extend([n.Linear(2, 2), n.Linear(2, 2)])
        ml.insert(0, n.Tanh())
        out = [len(ml), repr(ml), [k for k, _ in ml.named_parameters()][:4], type(ml[-1]).__name__]
        out += [repr(ml[1:3]), len(ml[::2])]
        del ml[1]
        out += [list(ml._modules)]
        ml += [n.ReLU()]
        out += [len(ml)]
        md = n.ModuleDict({"b": n.Linear(1, 2), "a": n.ReLU()})
        md["c"] = n.Tanh()
        md.update([("d", n.Identity())])
        out += [list(md.keys()), "a" in md, repr(md), len(md), type(md.pop("a")).__name__, list(md)]
        return out

    assert ops(irgrad) == ops(torch)
    with pytest.raises(TypeError, match="iterable"):
        nn.ModuleList().extend(3)


def test_parameter_list_and_dict():
    def ops(L):
        n = L.nn
        pl = n.ParameterList([n.Parameter(L.ones(2, 3)), L.zeros(4)])
        pl.append(L.ones(1))
        pd = n.ParameterDict({"x": n.Parameter(L.ones(2)), "y": L.zeros(3)})
        pd["z"] = L.ones(1)
        return [
            len(pl),
            [k for k, _ in pl.named_parameters()],
            all(isinstance(p, n.Parameter) for p in pl),
            repr(pl),
            list(pd.keys()),
            [k for k, _ in pd.named_parameters()],
            repr(pd),
            type(pd["y"]).__name__,
        ]

    mine, theirs = ops(irgrad), ops(torch)
    assert [str(v).replace("irgrad.", "torch.") for v in mine] == [str(v) for v in theirs]


# --- Parameter ------------------------------------------------------------------------


def test_parameter_basics():
    t = irgrad.tensor([1.0, 2.0])
    p = nn.Parameter(t)
    assert isinstance(p, irgrad.Tensor) and p.is_leaf and p.requires_grad
    t[0] = 7.0
    assert p[0].item() == 7.0  # shares storage
    assert repr(p) == "Parameter containing:\n" + repr(t.clone().requires_grad_())
    assert not nn.Parameter(t, requires_grad=False).requires_grad
    assert nn.Parameter().shape == (0,)
    q = p * 2
    assert type(q) is irgrad.Tensor
    assert nn.Parameter(irgrad.ones(2, requires_grad=True) * 3).is_leaf


# --- nn.utils -------------------------------------------------------------------------


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, float("inf")])
@pytest.mark.parametrize("max_norm", [0.5, 100.0])
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    rng = np.random.default_rng(1)
    grads = [rng.standard_normal(s).astype(np.float32) for s in [(3, 4), (5,), (2, 2, 2)]]
    ps_m = [nn.Parameter(irgrad.zeros(*g.shape)) for g in grads]
    ps_t = [torch.nn.Parameter(torch.zeros(*g.shape)) for g in grads]
    for pm, pt, g in zip(ps_m, ps_t, grads):
        pm.grad = irgrad.tensor(g)
        pt.grad = torch.tensor(g)
    total_m = nn.utils.clip_grad_norm_(ps_m, max_norm, norm_type)
    total_t = torch.nn.utils.clip_grad_norm_(ps_t, max_norm, norm_type)
    assert_same(total_m, total_t, 1e-5, 1e-5)
    for pm, pt in zip(ps_m, ps_t):
        assert_same(pm.grad, pt.grad, 1e-6, 1e-5)


def test_clip_grad_edge_cases_and_value():
    p = nn.Parameter(irgrad.zeros(3))
    assert nn.utils.clip_grad_norm_([p], 1.0).item() == 0.0  # no grads
    p.grad = irgrad.tensor([float("inf"), 1.0, 0.0])
    with pytest.raises(RuntimeError, match="non-finite"):
        nn.utils.clip_grad_norm_(p, 1.0, error_if_nonfinite=True)
    p.grad = irgrad.tensor([-3.0, 0.5, 2.0])
    nn.utils.clip_grad_value_([p], 1.0)
    np.testing.assert_array_equal(p.grad.numpy(), [-1.0, 0.5, 1.0])
    empty = nn.Parameter(irgrad.zeros(0))
    empty.grad = irgrad.zeros(0)  # an empty gradient has a 2-norm (0) but no max, as in PyTorch
    assert nn.utils.clip_grad_norm_([empty, p], 1.0).item() > 0
    for norm_type in (float("inf"), -float("inf")):
        with pytest.raises(RuntimeError, match="norm on an empty tensor"):
            nn.utils.clip_grad_norm_([empty, p], 1.0, norm_type=norm_type)
    p.grad = irgrad.tensor([-3.0, 0.5, 2.0])
    nn.utils.clip_grad_value_([p], 1.0)
    np.testing.assert_array_equal(p.grad.numpy(), [-1.0, 0.5, 1.0])


def test_parameters_to_vector_round_trip():
    m = nn.Linear(3, 2)
    vec = nn.utils.parameters_to_vector(m.parameters())
    assert vec.shape == (8,)
    np.testing.assert_array_equal(vec.detach().numpy()[:6], m.weight.detach().numpy().ravel())
    nn.utils.vector_to_parameters(irgrad.arange(8.0), m.parameters())
    np.testing.assert_array_equal(m.bias.detach().numpy(), [6.0, 7.0])
    with pytest.raises(TypeError):
        nn.utils.vector_to_parameters([1.0], m.parameters())


def test_training_loop_matches_torch():
    """Same init, same data, plain SGD by hand: identical loss curves for a few steps."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((16, 6)).astype(np.float32)
    y = rng.integers(0, 3, size=16).astype(np.int64)
    theirs, mine = make_mlp(torch), make_mlp(irgrad)
    for m in (theirs[3], mine[3]):
        m.p = 0.0
    mine.load_state_dict(_to_numpy_state(theirs.state_dict()))
    for _ in range(5):
        lt = torch.nn.functional.cross_entropy(theirs(torch.tensor(x)), torch.tensor(y))
        lm = nn.functional.cross_entropy(mine(irgrad.tensor(x)), irgrad.tensor(y))
        assert_same(lm, lt, 1e-5, 1e-5)
        theirs.zero_grad()
        mine.zero_grad()
        lt.backward()
        lm.backward()
        with torch.no_grad():
            for p in theirs.parameters():
                p -= 0.1 * p.grad
        with irgrad.no_grad():
            for p in mine.parameters():
                p -= 0.1 * p.grad


def _set_submodule_results(lib) -> list:
    nn = lib.nn
    results = []
    model = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.ReLU()))
    model.set_submodule("1.0", nn.Tanh())  # replaced
    model.set_submodule("1.extra", nn.Sigmoid())  # added to an existing parent
    results.append([(name, type(m).__name__) for name, m in model.named_modules()])
    for target, module, strict in [
        ("1.missing", nn.Tanh(), True),  # strict: only a replacement
        ("", nn.Tanh(), False),
        ("1.0", "not a module", False),
        ("2.x", nn.Tanh(), False),  # no such parent
        ("0.weight", nn.Tanh(), False),  # not a module there
    ]:
        try:
            model.set_submodule(target, module, strict=strict)
            results.append("ok")
        except (AttributeError, ValueError) as err:
            results.append(type(err).__name__)
    return results


def test_set_submodule_replaces_or_adds_and_refuses_as_pytorch():
    assert _set_submodule_results(irgrad) == [
        [("", "Sequential"), ("0", "Linear"), ("1", "Sequential"), ("1.0", "Tanh"), ("1.extra", "Sigmoid")],
        "AttributeError",
        "ValueError",
        "ValueError",
        "AttributeError",
        "AttributeError",
    ]
    torch = pytest.importorskip("torch")
    assert _set_submodule_results(irgrad) == _set_submodule_results(torch)


def test_cuda_raises_as_to_cuda_does():
    for call in (lambda: irgrad.ones(2).cuda(), lambda: irgrad.nn.Linear(2, 2).cuda(0)):
        with pytest.raises(RuntimeError, match="irgrad supports only the cpu device, got 'cuda"):
            call()


def _state_dict_hook_calls(lib) -> list:
    nn = lib.nn
    calls: list = []
    lib.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.Linear(2, 1)))
    inner = model[1]
    inner.register_state_dict_pre_hook(lambda m, prefix, keep_vars: calls.append(("pre", prefix, keep_vars)))

    def post(module, state, prefix, metadata):
        calls.append(("post", prefix, sorted(k for k in state if k.startswith(prefix))))
        state[prefix + "extra"] = lib.zeros(1)  # changed in place

    inner.register_state_dict_post_hook(post)
    state = model.state_dict()
    calls.append(("keys", list(state)))

    def rename(module, state, prefix, metadata, strict, missing, unexpected, errors):
        calls.append(("load pre", prefix, strict))
        state.pop(prefix + "extra", None)
        if prefix + "old_weight" in state:
            state[prefix + "0.weight"] = state.pop(prefix + "old_weight")

    def forgive(module, keys):
        calls.append(("load post", sorted(keys.missing_keys), sorted(keys.unexpected_keys)))
        keys.missing_keys.clear()

    inner.register_load_state_dict_pre_hook(rename)
    inner.register_load_state_dict_post_hook(forgive)
    state["1.old_weight"] = state.pop("1.0.weight") * 2
    del state["1.0.bias"]  # missing: the post-hook clears it
    result = model.load_state_dict(state)
    calls.append(("result", list(result.missing_keys), list(result.unexpected_keys)))
    calls.append(("loaded", model[1][0].weight.detach().numpy().round(4).tolist()))
    return calls


def test_state_dict_hooks_run_as_pytorch_s():
    calls = _state_dict_hook_calls(irgrad)
    assert [c[0] for c in calls] == ["pre", "post", "keys", "load pre", "load post", "result", "loaded"]
    assert calls[0] == ("pre", "1.", False)
    assert calls[2][1][-1] == "1.extra"
    assert calls[4] == ("load post", ["1.0.bias"], [])
    assert calls[5] == ("result", [], [])
    torch = pytest.importorskip("torch")
    theirs = _state_dict_hook_calls(torch)
    assert calls[:-1] == theirs[:-1]
