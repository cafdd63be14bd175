"""irgrad.jit: torch.jit's decorators and annotations behave as in eager PyTorch (compared
with torch where it is installed); script and trace compile with irgrad.compile and give
the eager model's results; what only TorchScript can do raises."""

import copy
import dataclasses
import enum
import importlib.util
import textwrap
import warnings
from typing import Final

import numpy as np
import pytest

import irgrad
from irgrad import jit, nn

# torch.jit's names warn as PyTorch 2.13's do (DeprecationWarning); the tests that compare
# warnings record them themselves.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

# --- helpers ---------------------------------------------------------------------------------


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def _warnings_of(call):
    """(category, message) of each warning ``call()`` issues, with its result or exception."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            outcome = call()
        except Exception as err:  # noqa: BLE001 - the exception is the outcome compared
            outcome = err
    return [(w.category, str(w.message)) for w in caught], outcome


def _same_error(ours, theirs):
    assert isinstance(ours, Exception) and isinstance(theirs, Exception)
    assert type(ours).__name__ == type(theirs).__name__ and str(ours) == str(theirs)


def _close(a, b, atol=1e-6):
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-5, atol=atol)


def _double(x):
    return x * 2


class Net(nn.Module):
    """A small CNN with BatchNorm and dropout: their train/eval behaviour must survive compiling."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.drop = nn.Dropout(0.3)
        self.fc = nn.Linear(4 * 5 * 5, 3)

    def forward(self, x):
        return self.fc(self.drop(self.bn(self.conv(x)).relu()).flatten(1))

    @jit.export
    def features(self, x):
        return self.conv(x).mean((2, 3))

    def head(self, h):
        return self.fc(h) * 2


def _twins():
    """A model and an identical copy: one to compile, one to run eagerly."""
    irgrad.manual_seed(0)
    model = Net()
    return model, copy.deepcopy(model)


def _same_training(compiled, model, eager, inputs):
    """Calls with the same seeds give the same outputs, gradients and running statistics."""
    for step, x in enumerate(inputs):
        for m in (model, eager):
            m.zero_grad()
        irgrad.manual_seed(step)
        ours = compiled(x)
        irgrad.manual_seed(step)
        theirs = eager(x)
        _close(ours, theirs)
        if model.training:
            ours.square().sum().backward()
            theirs.square().sum().backward()
            for p, q in zip(model.parameters(), eager.parameters()):
                _close(p.grad, q.grad, atol=1e-5)
        for a, b in zip(model.buffers(), eager.buffers()):
            _close(a, b)


# --- the decorators and annotations, against torch --------------------------------------------


def test_decorators_return_what_they_are_given_as_in_torch(torch):
    def f(x):
        return x

    prop = property(f)
    for lib in (jit, torch.jit):
        assert lib.ignore(f) is f and lib.ignore()(f) is f and lib.ignore(drop=False)(f) is f
        assert lib.unused(f) is f and lib.unused(prop) is prop
        assert lib.export(f) is f
        assert lib.annotate(list[int], [1, 2]) == [1, 2]
        assert lib.is_scripting() is False and lib.is_tracing() is False
    assert jit.Final is torch.jit.Final and jit.Final[int] == torch.jit.Final[int]
    assert isinstance(jit.script(_double), jit.ScriptFunction)
    assert isinstance(torch.jit.script(_double), torch.jit.ScriptFunction)
    ours, theirs = jit.Attribute(0.5, float), torch.jit.Attribute(0.5, float)
    assert ours == theirs and (ours.value, ours.type) == (0.5, float) and repr(ours) == repr(theirs)


def test_ignore_warns_and_raises_as_torch(torch):
    def f(x):
        return x

    for make in (
        lambda lib: lib.ignore(True)(f),
        lambda lib: lib.ignore(drop=True)(f),
        lambda lib: lib.ignore(drop_on_export=True)(f),
        lambda lib: lib.ignore(other=1)(f),
    ):
        ours, got = _warnings_of(lambda make=make: make(jit))
        theirs, _ = _warnings_of(lambda make=make: make(torch.jit))
        assert got is f and ours == theirs
    (_, ours), (_, theirs) = (
        _warnings_of(lambda: jit.ignore("x")),
        _warnings_of(lambda: torch.jit.ignore("x")),
    )
    _same_error(ours, theirs)


def test_deprecation_warnings_are_torchs(torch):
    class Interface(nn.Module):
        def forward(self, x):
            return x

    class TorchInterface(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x

    calls = [
        (lambda: jit.fork(_double, irgrad.ones(2)), lambda: torch.jit.fork(_double, torch.ones(2))),
        (
            lambda: jit.wait(jit.fork(_double, irgrad.ones(2))),
            lambda: torch.jit.wait(torch.jit.fork(_double, torch.ones(2))),
        ),
        (lambda: jit.interface(Interface), lambda: torch.jit.interface(TorchInterface)),
        (lambda: jit.script(_double), lambda: torch.jit.script(_double)),
        (lambda: jit.trace(_double, irgrad.ones(2)), lambda: torch.jit.trace(_double, torch.ones(2))),
        (
            lambda: jit.trace(_double, irgrad.ones(2), optimize=True),  # and the FutureWarning
            lambda: torch.jit.trace(_double, torch.ones(2), optimize=True),
        ),
        (
            lambda: jit.trace(nn.Linear(2, 2), irgrad.ones(1, 2)),
            lambda: torch.jit.trace(torch.nn.Linear(2, 2), torch.ones(1, 2)),
        ),
        (
            lambda: jit.freeze(jit.script(nn.Linear(2, 2).eval())),
            lambda: torch.jit.freeze(torch.jit.script(torch.nn.Linear(2, 2).eval())),
        ),
        (
            lambda: jit.optimize_for_inference(jit.script(nn.Linear(2, 2))),
            lambda: torch.jit.optimize_for_inference(torch.jit.script(torch.nn.Linear(2, 2))),
        ),
    ]
    for ours, theirs in calls:
        ours, _ = _warnings_of(ours)
        theirs, _ = _warnings_of(theirs)
        assert ours and set(ours) == set(theirs)


def test_fork_runs_now_and_wait_gives_the_value_as_in_torch(torch):
    def scaled(x, k=1):
        return x * k

    for lib, lib_torch in ((jit, irgrad), (torch.jit, torch)):
        future = lib.fork(scaled, lib_torch.ones(2), k=3)
        assert future.done() and future.value().tolist() == [3.0, 3.0]
        assert lib.wait(future).tolist() == [3.0, 3.0] and future.wait().tolist() == [3.0, 3.0]
        with pytest.raises(ZeroDivisionError):
            lib.fork(lambda: 1 / 0)
        with pytest.raises(TypeError):
            lib.wait(3)
    assert jit.Future[irgrad.Tensor] is not None  # used in annotations: List[torch.jit.Future[Tensor]]


def test_interface_checks_as_torch(torch):
    class Base:
        pass

    class Derived(Base):
        def f(self, x: int) -> int:
            return x

    class TorchDerived(Base):
        def f(self, x: int) -> int:
            return x

    _same_error(
        _warnings_of(lambda: jit.interface(Derived))[1],
        _warnings_of(lambda: torch.jit.interface(TorchDerived))[1],
    )
    _same_error(
        _warnings_of(lambda: jit.interface(_double))[1],
        _warnings_of(lambda: torch.jit.interface(_double))[1],
    )

    class Plain:
        def f(self, x: int) -> int:
            return x

    assert jit.interface(Plain) is Plain


def test_attribute_is_kept_by_a_module_and_unwrapped_by_a_script_module(torch):
    results = []
    for lib, base in ((jit, nn.Module), (torch.jit, torch.nn.Module)):

        class Plain(base):
            def __init__(self, lib=lib):
                super().__init__()
                self.rate = lib.Attribute(0.5, float)

        class Scripted(lib.ScriptModule):
            def __init__(self, lib=lib):
                super().__init__()
                self.rate = lib.Attribute(0.5, float)

        results.append((tuple(Plain().rate), Scripted().rate))
    assert results[0] == results[1] == ((0.5, float), 0.5)


def test_unused_and_ignored_methods_run_when_called_eagerly(torch):
    for lib, base, ones in ((jit, nn.Module, irgrad.ones), (torch.jit, torch.nn.Module, torch.ones)):

        class Model(base):
            @lib.unused
            def tripled(self, x):
                return x * 3

            @lib.ignore
            def doubled(self, x):
                return x * 2

            def forward(self, x):
                return self.tripled(x) + self.doubled(x)

        assert Model()(ones(2)).tolist() == [5.0, 5.0]


# --- a timm-style model file: Final annotations, @ignore methods, is_scripting branches ----------

TIMM_STYLE = """
import irgrad as torch
from irgrad import nn
from irgrad.jit import Final


class Attention(nn.Module):
    fused_attn: Final[bool]
    num_heads: torch.jit.Final[int]

    def __init__(self, dim, num_heads=2):
        super().__init__()
        self.num_heads = num_heads
        self.fused_attn = True
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)
        self.drop = nn.Dropout(0.1)

    def forward(self, x):
        B, N, C = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.num_heads, C // self.num_heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        if self.fused_attn:
            x = nn.functional.scaled_dot_product_attention(q, k, v, dropout_p=0.1 if self.training else 0.0)
        else:
            x = (q @ k.transpose(-2, -1) * (C // self.num_heads) ** -0.5).softmax(-1) @ v
        return self.drop(self.proj(x.transpose(1, 2).reshape(B, N, C)))


class Vit(nn.Module):
    def __init__(self, dim=8, depth=2):
        super().__init__()
        self.grad_checkpointing = False
        self.blocks = nn.Sequential(*[Attention(dim) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, 3)

    @torch.jit.ignore
    def no_weight_decay(self):
        return {"norm.weight"}

    @torch.jit.ignore()
    def set_grad_checkpointing(self, enable=True):
        self.grad_checkpointing = enable

    @torch.jit.unused
    def load_pretrained(self, path):
        raise NotImplementedError(path)

    def forward(self, x):
        if self.grad_checkpointing and not torch.jit.is_scripting():
            x = torch.utils.checkpoint.checkpoint_sequential(self.blocks, 2, x, use_reentrant=False)
        else:
            x = self.blocks(x)
        if torch.jit.is_tracing():
            raise AssertionError("irgrad's trace does not freeze Python branches")
        return self.head(self.norm(x).mean(1))
"""


def test_a_timm_style_model_file_imports_and_runs_scripted(tmp_path):
    path = tmp_path / "timm_style.py"
    path.write_text(textwrap.dedent(TIMM_STYLE))
    spec = importlib.util.spec_from_file_location("timm_style", path)
    models = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(models)
    irgrad.manual_seed(0)
    model = models.Vit()
    eager = copy.deepcopy(model)
    assert model.no_weight_decay() == {"norm.weight"}
    scripted = irgrad.jit.script(model)
    x = irgrad.randn(2, 5, 8)
    for checkpointing in (False, True):
        scripted.set_grad_checkpointing(checkpointing)
        eager.set_grad_checkpointing(checkpointing)
        assert model.grad_checkpointing is checkpointing
        for mode in ("train", "eval"):
            getattr(scripted, mode)()
            getattr(eager, mode)()
            _same_training(scripted, model, eager, [x, x * 2, irgrad.randn(3, 5, 8)])
    traced = irgrad.jit.trace(model, x)
    _close(traced(x), eager(x))


# --- script -----------------------------------------------------------------------------------


def test_script_module_gives_the_eager_results_in_train_and_eval():
    model, eager = _twins()
    scripted = jit.script(model)
    assert isinstance(scripted, jit.ScriptModule) and isinstance(scripted, jit.ScriptedModule)
    assert scripted.conv is model.conv and scripted.state_dict().keys() == model.state_dict().keys()
    inputs = [irgrad.randn(4, 2, 5, 5), irgrad.randn(4, 2, 5, 5), irgrad.randn(6, 2, 5, 5)]
    assert scripted.train() is scripted and model.training
    _same_training(scripted, model, eager, inputs)
    assert scripted.eval() is scripted and not model.training
    eager.eval()
    _same_training(scripted, model, eager, inputs)
    assert "compiled" in str(scripted.explain())
    _close(scripted.features(inputs[0]), eager.features(inputs[0]))  # @export: compiled too
    assert isinstance(scripted.features, jit.ScriptFunction)
    assert jit.script(scripted) is scripted


def test_script_function_and_decorator_match_eager_with_gradients():
    @jit.script
    def softclamp(t: irgrad.Tensor, value: float):
        return (t / value).tanh() * value

    assert isinstance(softclamp, jit.ScriptFunction) and softclamp.__name__ == "softclamp"

    def eager(t, value):
        return (t / value).tanh() * value

    for shape, value in (((3, 4), 2.0), ((3, 4), 2.0), ((5,), 0.5), ((3, 4), 2.0)):
        x = irgrad.randn(*shape, requires_grad=True)
        y = x.detach().clone().requires_grad_(True)
        out, expected = softclamp(x, value), eager(y, value)
        _close(out, expected)
        out.sum().backward()
        expected.sum().backward()
        _close(x.grad, y.grad)
    assert jit.script(softclamp) is softclamp


def test_a_scripted_function_inside_a_module_trains_as_eager():
    def squash(t):
        return t.tanh() * 3

    class Model(nn.Module):
        def __init__(self, squash):
            super().__init__()
            self.fc = nn.Linear(4, 4)
            self.squash = squash

        def forward(self, x):
            return self.squash(self.fc(x))

    model, eager = Model(jit.script(squash)), Model(squash)
    eager.load_state_dict(model.state_dict())
    _same_training(irgrad.compile(model), model, eager, [irgrad.randn(2, 4) for _ in range(3)])
    _same_training(model, model, eager, [irgrad.randn(2, 4) for _ in range(3)])


def test_script_of_classes_and_other_objects(torch):
    class Point:
        def __init__(self, x: int):
            self.x = x

    @dataclasses.dataclass
    class Pair:
        a: int
        b: int

    class Color(enum.Enum):
        RED = 1

    class Point3(Point):
        pass

    for cls in (Point, Pair, Color):
        assert jit.script(cls) is cls and torch.jit.script(cls) is cls
    _same_error(
        _warnings_of(lambda: jit.script(Point3))[1], _warnings_of(lambda: torch.jit.script(Point3))[1]
    )
    ours = _warnings_of(lambda: jit.script(nn.Linear))[1]
    theirs = _warnings_of(lambda: torch.jit.script(torch.nn.Linear))[1]
    assert type(ours) is type(theirs) is RuntimeError
    assert str(ours).replace("irgrad.", "torch.") == str(theirs)
    for obj in ({"a": 1}, [1, 2], Point(1), 3):
        with pytest.raises(NotImplementedError, match="irgrad.jit.script: cannot script a"):
            jit.script(obj)


def test_script_calls_prepare_scriptable():
    class Swapped(nn.Module):
        def forward(self, x):
            return x * 10

    class Inner(nn.Module):
        def forward(self, x):
            return x

        def __prepare_scriptable__(self):
            return Swapped()

    class Outer(nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = Inner()

        def forward(self, x):
            return self.inner(x) + 1

    outer = Outer()
    assert jit.script(outer)(irgrad.ones(2)).tolist() == [11.0, 11.0]
    assert isinstance(outer.inner, Swapped)  # as PyTorch's, the preparation changes the module


def test_script_module_subclass_with_script_methods_matches_torch(torch):
    made = []
    for lib, module in ((jit, irgrad), (torch.jit, torch)):

        class Scaled(lib.ScriptModule):
            def __init__(self, lib=lib, module=module):
                super().__init__()
                self.fc = module.nn.Linear(3, 2)
                self.scale = lib.Attribute(0.5, float)

            @lib.script_method
            def forward(self, x):
                return self.fc(x).relu() * self.scale

            def plain(self, x):
                return x + 1

        made.append(Scaled())
    ours, theirs = made
    with irgrad.no_grad():
        ours.fc.weight.copy_(irgrad.tensor(theirs.fc.weight.detach().numpy()))
        ours.fc.bias.copy_(irgrad.tensor(theirs.fc.bias.detach().numpy()))
    assert isinstance(ours, jit.ScriptModule) and isinstance(ours, nn.Module)
    assert jit.script(ours) is ours and ours.plain(1) == theirs.plain(1) == 2
    data = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    for _ in range(3):
        np.testing.assert_allclose(
            ours(irgrad.tensor(data)).detach().numpy(),
            theirs(torch.tensor(data)).detach().numpy(),
            rtol=1e-5,
            atol=1e-6,
        )
    with pytest.warns(UserWarning, match="already a ScriptModule"):
        assert jit.trace(ours, irgrad.tensor(data)) is ours


def test_deepcopy_of_a_scripted_module_is_scripted_and_independent():
    model, _ = _twins()
    scripted = jit.script(model.eval())
    x = irgrad.randn(2, 2, 5, 5)
    twin = copy.deepcopy(scripted)
    assert type(twin) is jit.ScriptedModule and twin.conv is not model.conv
    _close(twin(x), scripted(x))
    _close(twin.features(x), scripted.features(x))
    with irgrad.no_grad():
        twin.fc.bias.add_(1)
    _close(twin(x), scripted(x) + 1)


# --- trace ------------------------------------------------------------------------------------


def test_trace_module_follows_eval_and_runs_the_example_once():
    model, eager = _twins()
    x = irgrad.randn(4, 2, 5, 5)
    irgrad.manual_seed(1)
    traced = jit.trace(model, x, check_trace=False, strict=False, check_tolerance=1e-4)
    irgrad.manual_seed(1)
    eager(x)  # what the trace's run did: one batch into the running statistics
    assert model.bn.num_batches_tracked.item() == 1
    assert isinstance(traced, jit.ScriptModule)
    _same_training(traced, model, eager, [x, irgrad.randn(4, 2, 5, 5)])
    traced.eval()
    eager.eval()  # PyTorch's trace would keep the training-mode dropout and batch statistics
    _same_training(traced, model, eager, [x, irgrad.randn(3, 2, 5, 5)])
    assert isinstance(jit.trace(model.forward, x), jit.ScriptedModule)


def test_trace_function_example_inputs_as_torch_takes_them():
    def add(a, b=None):
        return a + (1 if b is None else b)

    x = irgrad.randn(3)
    for traced in (
        jit.trace(add, (x, x)),
        jit.trace(add, [x, x]),
        jit.trace(add, example_kwarg_inputs={"a": x, "b": x}),
    ):
        assert isinstance(traced, jit.ScriptFunction)
        for y in (x, irgrad.randn(5), irgrad.randn(2, 3)):  # other values and shapes: traced again
            _close(traced(y, y), add(y, y))
    _close(jit.trace(add, x)(x), add(x))  # one tensor is the one argument
    _close(jit.trace(lambda d: d["a"] * 2, {"a": x})({"a": x}), x * 2)  # and so is a dict
    with pytest.raises(RuntimeError, match="size of tensor a"):  # the example run surfaces eager's error
        jit.trace(add, (irgrad.ones(2), irgrad.ones(3)))
    with pytest.raises(TypeError):
        jit.trace(add, None)


def test_trace_module_compiles_the_methods_it_traces():
    model, eager = _twins()
    x, h = irgrad.randn(2, 2, 5, 5), irgrad.randn(2, 100)
    irgrad.manual_seed(1)
    traced = jit.trace_module(model, {"forward": x, "head": (h,)})
    irgrad.manual_seed(1)
    eager(x)  # the trace's run of forward, in training mode
    _close(traced.head(h), eager.head(h))
    assert isinstance(traced.head, jit.ScriptFunction)
    model.eval()
    eager.eval()
    _close(traced(x), eager(x))


def test_trace_errors_are_torchs(torch):
    model, x, h = Net(), irgrad.randn(2, 2, 5, 5), irgrad.randn(2, 100)
    theirs = torch.nn.Linear(2, 2)
    _same_error(
        _warnings_of(lambda: jit.trace(model.head, h))[1],
        _warnings_of(lambda: torch.jit.trace(theirs.extra_repr, torch.ones(1)))[1],
    )
    _same_error(
        _warnings_of(lambda: jit.trace_module(_double, {}))[1],
        _warnings_of(lambda: torch.jit.trace_module(_double, {}))[1],
    )
    _same_error(
        _warnings_of(lambda: jit.trace_module(model, [x]))[1],
        _warnings_of(lambda: torch.jit.trace_module(theirs, [x]))[1],
    )
    _same_error(_warnings_of(lambda: jit.trace(model))[1], _warnings_of(lambda: torch.jit.trace(theirs))[1])


# --- freezing, and what only TorchScript has ----------------------------------------------------


def test_freeze_errors_are_torchs(torch):
    model = Net()
    theirs = torch.nn.Linear(2, 2)
    for name in ("freeze", "optimize_for_inference"):
        _same_error(
            _warnings_of(lambda n=name: getattr(jit, n)(model))[1],
            _warnings_of(lambda n=name: getattr(torch.jit, n)(theirs))[1],
        )
    _same_error(
        _warnings_of(lambda: jit.freeze(jit.script(model)))[1],
        _warnings_of(lambda: torch.jit.freeze(torch.jit.trace(theirs, torch.ones(1, 2))))[1],
    )


def test_freeze_and_optimize_for_inference_give_a_fixed_compiled_copy():
    model, eager = _twins()
    eager.eval()
    x = irgrad.randn(2, 2, 5, 5)
    for make in (
        lambda: jit.freeze(jit.script(model).eval()),
        lambda: jit.optimize_for_inference(jit.script(model)),
    ):
        frozen = make()
        assert isinstance(frozen, jit.ScriptModule) and not frozen.training
        assert not any(p.requires_grad for p in frozen.parameters()) and model.conv.weight.requires_grad
        _close(frozen(x), eager(x))
        with irgrad.no_grad():
            model.fc.bias.add_(1)  # the original changes; the frozen copy does not
        _close(frozen(x), eager(x))
        with irgrad.no_grad():
            model.fc.bias.sub_(1)


def test_torchscript_serialization_and_code_raise():
    scripted = jit.script(Net())
    function = jit.script(_double)
    for call in (
        lambda: jit.save(scripted, "model.pt"),
        lambda: scripted.save("model.pt"),
        lambda: function.save("f.pt"),
        lambda: jit.trace(Net(), irgrad.randn(1, 2, 5, 5)).save("model.pt"),
    ):
        with pytest.raises(NotImplementedError, match=r"irgrad.save\(model.state_dict\(\), path\)"):
            call()
    for get in (lambda: scripted.code, lambda: scripted.graph, lambda: function.graph, lambda: function.code):
        with pytest.raises(NotImplementedError, match=r"explain\(\)"):
            get()
    with pytest.raises(NotImplementedError, match=r"irgrad.load\(path\)"):
        jit.load("model.pt")
    with pytest.raises(AttributeError):
        function.no_such_attribute  # noqa: B018


def test_torch_names_reach_irgrad_jit():
    import irgrad as torch

    assert torch.jit is jit and torch.jit.script is jit.script and torch.jit.Final is Final
    assert set(jit.__all__) <= set(dir(torch.jit))
    assert issubclass(torch.jit.TracerWarning, Warning)  # scripts filter it: category=torch.jit.TracerWarning
