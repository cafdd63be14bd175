"""Python state a compiled function reads, and Python effects it has, outside tensors.

The guard of a graph covers what the walk of the call's state reaches: a user module's
attributes the function reads (or all, for a module reached through an attribute), what
a library's module holds that the function reads off it (``os.environ``), what an
instance inherits from its class's bases, the slots of a ``__slots__`` class, the
elements of sets and deques.  What no guard can cover makes the call a graph break,
so it runs eagerly: a draw from Python's or numpy's generators, a tensor made from a
large numpy array (compared by identity only), ``repr()`` of a traced tensor, a file
written with ``irgrad.save``.  Every test compares with eager code over calls that
change the state in between."""

from __future__ import annotations

import importlib
import random
import sys
import warnings

import numpy as np
import pytest

import irgrad
import irgrad.nn as nn
import irgrad.nn.functional as F


def _same_over_calls(f, change, calls: int = 4):
    """``f`` compiled and eager give the same values over ``calls`` calls, ``change(k)``
    run after call ``k``; returns the compiled function."""
    compiled = irgrad.compile(f)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for k in range(calls):
            x = irgrad.ones(2)
            np.testing.assert_array_equal(compiled(x).numpy(), f(x).numpy())
            change(k)
    return compiled


@pytest.fixture
def config_module(tmp_path, monkeypatch):
    """A user's module of settings, imported from a file (``import config``)."""
    (tmp_path / "irgrad_test_config.py").write_text("scale = 2.0\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("irgrad_test_config")
    yield module
    sys.modules.pop("irgrad_test_config", None)


def test_an_attribute_of_a_users_module_is_guarded(config_module):
    def f(x):
        return x * config_module.scale

    compiled = _same_over_calls(f, lambda k: setattr(config_module, "scale", 3.0 + k))
    assert not compiled._compiled.breaks


def test_a_class_attribute_an_instance_inherits_is_guarded():
    class Base:
        factor = 2.0

    class Child(Base):
        pass

    obj = Child()

    def f(x):
        return x * obj.factor

    _same_over_calls(f, lambda k: setattr(Base, "factor", 5.0 + k))


def test_the_slots_of_an_instance_are_guarded():
    class Settings:
        __slots__ = ("k",)

    settings = Settings()
    settings.k = 2.0

    def f(x):
        return x * settings.k

    _same_over_calls(f, lambda k: setattr(settings, "k", 7.0 + k))


@pytest.mark.parametrize("source", ["python", "numpy", "generator"])
def test_a_draw_from_another_generator_is_a_graph_break(source):
    rng = np.random.default_rng(0)
    draw = {
        "python": lambda: random.uniform(0.5, 1.5),
        "numpy": lambda: float(np.random.uniform(0.5, 1.5)),
        "generator": lambda: float(rng.uniform(0.5, 1.5)),
    }[source]

    def f(x):
        return x * draw()

    compiled = irgrad.compile(f)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for k in range(3):
            random.seed(k), np.random.seed(k)
            state = rng.bit_generator.state
            got = compiled(irgrad.ones(2))
            random.seed(k), np.random.seed(k)
            rng.bit_generator.state = state
            np.testing.assert_array_equal(got.numpy(), f(irgrad.ones(2)).numpy())
    assert "generator not irgrad's" in str(compiled._compiled.breaks[0])


def test_a_batch_read_from_a_large_array_shuffled_in_place_is_not_frozen():
    def train(compiled: bool) -> list[float]:
        irgrad.manual_seed(0)
        rng = np.random.default_rng(0)
        data = rng.standard_normal((50_000, 4)).astype(np.float32)  # over MAX_ARRAY elements
        model = nn.Linear(3, 1)
        opt = irgrad.optim.SGD(model.parameters(), lr=0.1)

        def step():
            batch = irgrad.from_numpy(data[:8])
            opt.zero_grad()
            loss = F.mse_loss(model(batch[:, :3]), batch[:, 3:])
            loss.backward()
            opt.step()
            return loss.detach()

        if compiled:
            step = irgrad.compile(step)
        losses = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for _ in range(4):
                rng.shuffle(data)
                losses.append(float(step()))
        return losses

    assert train(True) == train(False)


def test_repr_of_a_traced_tensor_is_a_graph_break():
    log = []

    def f(x):
        log.append(repr(x.sum()))
        return x * 2

    compiled = irgrad.compile(f)
    for k in range(3):
        compiled(irgrad.ones(2) * k)
    assert log == [repr(irgrad.tensor(2.0 * k)) for k in range(3)]


def test_saving_inside_a_compiled_step_saves_at_every_call(tmp_path):
    path = tmp_path / "checkpoint.irgrad"
    model = nn.Linear(2, 1)
    opt = irgrad.optim.SGD(model.parameters(), lr=0.5)

    def step(x):
        opt.zero_grad()
        loss = model(x).pow(2).sum()
        loss.backward()
        opt.step()
        irgrad.save(model.state_dict(), path)
        return loss.detach()

    compiled = irgrad.compile(step)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(4):
            compiled(irgrad.ones(1, 2))
            saved = irgrad.load(path)
            np.testing.assert_array_equal(saved["weight"].numpy(), model.weight.detach().numpy())


def test_a_static_method_read_through_its_class_does_not_recompile():
    class Scale:
        @staticmethod
        def of(x):
            return x * 3

    def f(x):
        return Scale.of(x) + 1

    compiled = irgrad.compile(f)
    for _ in range(4):
        compiled(irgrad.ones(2))
    assert len(compiled._compiled.entries) == 1 and compiled._compiled.entries[0].runs == 4


def test_a_write_to_a_users_module_attribute_is_replayed(config_module):
    config_module.counter = 0

    def f(x):
        config_module.counter += 1
        return x * config_module.counter

    compiled = irgrad.compile(f)
    got = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for k in range(6):
            if k == 3:
                config_module.counter = 0
            got.append(float(compiled(irgrad.ones(1))[0]))
    assert got == [1.0, 2.0, 3.0, 1.0, 2.0, 3.0] and config_module.counter == 3


def test_a_private_slot_is_guarded():
    class Slotted:
        __slots__ = ("__secret",)

        def __init__(self):
            self.__secret = 1.0

        def scale(self, x):
            return x * self.__secret

    s = Slotted()

    def f(x):
        return s.scale(x)

    _same_over_calls(f, lambda k: setattr(s, "_Slotted__secret", 10.0 + k))


def test_a_tensor_dataset_indexed_inside_a_step_is_an_input():
    ds = irgrad.utils.data.TensorDataset(irgrad.arange(8.0).reshape(4, 2))

    def f(x):
        (rows,) = ds[1:3]
        return x * rows

    compiled = _same_over_calls(f, lambda k: ds.tensors[0].add_(1.0))
    assert not compiled._compiled.breaks


def test_a_tensor_made_from_a_memory_mapped_dataset_is_a_graph_break(tmp_path):
    data = np.memmap(tmp_path / "data.bin", dtype=np.float32, mode="w+", shape=(200_000,))
    data[:] = np.arange(200_000)

    def f(x):
        return x * irgrad.from_numpy(data[:2])

    def change(k):
        data[:2] += 10

    compiled = _same_over_calls(f, change)
    assert "large numpy array" in str(compiled._compiled.breaks[0])


def test_the_elements_of_a_set_are_guarded():
    flags: set[str] = set()

    def f(x):
        return x * 2 if "double" in flags else x

    compiled = _same_over_calls(f, lambda k: flags.add("double") if k == 1 else flags.discard("double"))
    assert not compiled._compiled.breaks


def test_the_items_of_a_deque_are_guarded():
    import collections

    recent = collections.deque([1.0, 2.0], maxlen=3)

    def f(x):
        return x * sum(recent)

    compiled = _same_over_calls(f, lambda k: recent.append(10.0 + k))
    assert not compiled._compiled.breaks


def test_a_set_or_deque_changed_by_the_call_is_a_graph_break():
    import collections

    seen: set[int] = set()
    recent: collections.deque = collections.deque(maxlen=2)

    def adds(x):
        seen.add(len(seen))
        return x * len(seen)

    def appends(x):
        recent.append(len(recent))
        return x * len(recent)

    for f, changed in ((adds, seen), (appends, recent)):
        compiled = irgrad.compile(f)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            values = [compiled(irgrad.ones(2)).numpy()[0] for _ in range(4)]
        changed.clear()
        assert values == [f(irgrad.ones(2)).numpy()[0] for _ in range(4)]
        assert compiled._compiled.breaks


def test_an_environment_variable_read_through_os_environ_is_guarded(monkeypatch):
    import os

    monkeypatch.setenv("IRGRAD_TEST_SCALE", "1")

    def f(x):
        return x * float(os.environ["IRGRAD_TEST_SCALE"]) * len(os.path.basename("a/b"))

    compiled = _same_over_calls(f, lambda k: monkeypatch.setenv("IRGRAD_TEST_SCALE", str(k + 2)))
    assert not compiled._compiled.breaks
    # of a library's module, what holds state is guarded, not its functions or submodules
    guarded = "\n".join(compiled._compiled.entries[-1].guard.describe())
    assert "environ" in guarded and "os.path" not in guarded


def test_a_users_module_reached_through_an_attribute_is_guarded(config_module):
    class Settings:
        pass

    settings = Settings()
    settings.config = config_module

    def f(x):
        return x * settings.config.scale

    compiled = _same_over_calls(f, lambda k: setattr(config_module, "scale", 5.0 + k))
    assert not compiled._compiled.breaks


def test_a_set_is_compared_by_its_elements_their_types_and_their_order():
    names = {1, 9}

    def f(x):
        y = x * 0
        for k in names:  # the order a set iterates in shapes the graph
            y = y * 10 + k
        return y

    orders = [{1, 9}, {9, 1, 17} - {17}, {1.0, 9}, {1, 9}]  # (the second iterates 9 then 1)

    def change(k):
        nonlocal names
        names = orders[k]

    _same_over_calls(f, change)


def test_a_signed_zero_is_not_the_other_zero():
    zero = 0.0

    def f(x):
        return x / zero

    def change(k):
        nonlocal zero
        zero = -zero

    with np.errstate(divide="ignore"):
        _same_over_calls(f, change)


def test_the_attributes_of_a_set_deque_or_list_subclass_are_guarded():
    import collections

    class Tags(set):
        pass

    class History(collections.deque):
        pass

    class Scores(list):
        pass

    for holder in (Tags({1}), History([1.0]), Scores([1.0])):
        holder.scale = 2.0

        def f(x, holder=holder):
            return x * holder.scale * len(holder)

        _same_over_calls(f, lambda k, holder=holder: setattr(holder, "scale", 3.0 + k))


def test_a_deques_maxlen_is_guarded():
    import collections

    buffer = collections.deque([1.0, 2.0], maxlen=2)

    def f(x):
        return x * 2 if len(buffer) == buffer.maxlen else x

    def change(k):
        nonlocal buffer
        buffer = collections.deque(buffer, maxlen=2 + k % 2)

    _same_over_calls(f, change)


def test_a_library_module_whose_getattr_raises_is_not_read_by_the_guard():
    import types

    lazy = types.ModuleType("irgrad_test_lazy")  # a library's module: no __file__

    def missing(name):
        raise ImportError(f"{name} would be imported on first use")

    lazy.__getattr__ = missing
    namespace = {"lazy": lazy}
    exec("def f(x, use=False):\n    return x * lazy.fancy if use else x * 2\n", namespace)
    _same_over_calls(namespace["f"], lambda k: None)


def test_os_environ_is_read_in_a_function_with_hundreds_of_names(monkeypatch):
    """Past 256 names, ``os.environ``'s attribute load carries an EXTENDED_ARG."""
    import os

    monkeypatch.setenv("IRGRAD_TEST_SCALE", "1")
    padding = "".join(f"    _ = x.a{i} if False else None\n" for i in range(300))
    namespace = {"os": os}
    exec(f"def f(x):\n{padding}    return x * float(os.environ['IRGRAD_TEST_SCALE'])\n", namespace)
    _same_over_calls(namespace["f"], lambda k: monkeypatch.setenv("IRGRAD_TEST_SCALE", str(k + 2)))


def test_a_write_to_os_environ_in_the_call_reaches_the_process_environment(monkeypatch):
    """Replayed as a write to os.environ's own dict it would skip putenv: a graph break."""
    import os
    import subprocess

    monkeypatch.delenv("IRGRAD_TEST_FLAG", raising=False)

    def f(x):
        os.environ["IRGRAD_TEST_FLAG"] = "set"
        return x * 2

    compiled = irgrad.compile(f)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(3):
            monkeypatch.delenv("IRGRAD_TEST_FLAG", raising=False)
            compiled(irgrad.ones(2))
    child = [sys.executable, "-c", "import os; print(os.environ.get('IRGRAD_TEST_FLAG'))"]
    assert subprocess.run(child, capture_output=True, text=True, check=True).stdout.strip() == "set"
    assert compiled._compiled.breaks


def test_what_a_compiled_function_does_not_read_does_not_recompile_it(config_module):
    """A module reached through an attribute is guarded on the names code reads, not on a
    counter it also holds; a library's objects (``sys.stdout``) are not walked."""
    import io

    class Settings:
        pass

    settings = Settings()
    settings.config = config_module
    config_module.steps_done = 0

    def f(x):
        sys.stdout.flush()
        return x * settings.config.scale

    def change(k):
        config_module.steps_done += 1
        sys.stdout.write("")  # a write to whatever stdout is (pytest's capture)

    original = sys.stdout
    try:
        sys.stdout = io.StringIO()
        compiled = _same_over_calls(f, change)
    finally:
        sys.stdout = original
    assert len(compiled._compiled.entries) == 1


@pytest.mark.parametrize(
    "zero",
    [np.float32(-0.0), np.float64(-0.0), complex(-0.0, 0.0), np.array([-0.0]), np.array(-0.0)],
    ids=["float32", "float64", "complex", "array", "0-d array"],
)
def test_the_sign_of_a_zero_that_is_no_python_float_is_guarded(zero):
    # numpy's floats, complex numbers and arrays were compared with ==, which holds for
    # 0.0 and -0.0: after the value flipped to 0.0 the graph kept dividing by -0.0
    state = {"v": zero}

    def f(x):
        v = state["v"]
        return x / (v.real if isinstance(v, complex) else float(np.asarray(v).reshape(-1)[0]))

    def change(k):
        state["v"] = -state["v"]

    _same_over_calls(f, change)


def _effects_as_eager(make, calls: int = 4) -> None:
    """``make()`` gives a fresh ``(f, observe)``: ``f`` compiled leaves the state
    ``observe()`` reads as eager calls do, after every call, and returns what they return."""
    runs = []
    for compile in (False, True):
        f, observe = make()
        fn = irgrad.compile(f) if compile else f
        seen = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for _ in range(calls):
                seen.append((fn(irgrad.ones(2)).tolist(), observe()))
        runs.append(seen)
    assert runs[1] == runs[0]


def test_a_numpy_array_written_in_place_is_written_once_per_call():
    # the trace and the validation run each wrote it: three increments a call
    def make():
        counts = np.zeros(2)

        def f(x):
            counts[0] += 1
            return x * float(counts[0])

        return f, lambda: counts.tolist()

    _effects_as_eager(make)


@pytest.mark.parametrize("how", ["increment", "set", "add", "delete"])
def test_a_class_attribute_the_function_changes_changes_as_in_eager(how):
    # a class's attributes were guarded but not compared after the call: an increment
    # ran at the trace and again at the validation, a set, new or deleted attribute was
    # not repeated by compiled calls
    def make():
        class Counter:
            calls = 0
            mode = "b"
            tmp = 1

        def f(x):
            if how == "increment":
                Counter.calls += 1
            elif how == "set":
                Counter.mode = "a"
            elif how == "add":
                Counter.added = 5
            elif hasattr(Counter, "tmp"):
                del Counter.tmp
            return x * 2

        def observe():
            seen = (Counter.calls, Counter.mode, getattr(Counter, "added", None), hasattr(Counter, "tmp"))
            Counter.mode = "b"  # undone between calls: the next call changes them again
            Counter.tmp = 1
            if hasattr(Counter, "added"):
                del Counter.added
            return seen

        return f, observe

    _effects_as_eager(make)


@pytest.mark.parametrize("kind", ["bytearray", "array"])
def test_a_buffer_of_numbers_the_function_reads_is_guarded_by_its_contents(kind):
    # a bytearray or array.array was held by identity: its element, read at the trace,
    # stayed a constant of the graph after the buffer changed
    import array

    buffer = bytearray(b"\x01") if kind == "bytearray" else array.array("d", [1.0])

    def f(x):
        return x * buffer[0]

    def change(k):
        buffer[0] = k + 2

    _same_over_calls(f, change)


def test_the_attributes_of_a_dict_subclass_are_compared_after_the_call():
    # a dict subclass was walked for its items only: an attribute the function changed
    # was changed again by the validation run, and not by compiled calls
    def make():
        class Registry(dict):
            pass

        registry = Registry()
        registry.calls = 0

        def f(x):
            registry.calls += 1
            return x * registry.calls

        return f, lambda: registry.calls

    _effects_as_eager(make)


def test_a_change_of_the_default_dtype_is_guarded():
    # tensors the function made from Python numbers kept the traced default dtype
    def f(x):
        return x + irgrad.tensor([1.5, 2.5]), irgrad.ones(2) / 3

    compiled = irgrad.compile(f)
    x = irgrad.ones(2, dtype=irgrad.float64)
    try:
        for default in (irgrad.float32, irgrad.float32, irgrad.float64, irgrad.float64, irgrad.float32):
            irgrad.set_default_dtype(default)
            for got, want in zip(compiled(x), f(x)):
                assert got.dtype == want.dtype
                np.testing.assert_array_equal(got.numpy(), want.numpy())
    finally:
        irgrad.set_default_dtype(irgrad.float32)
    assert "the default dtype changed" in compiled._compiled.explain()


def test_a_property_the_function_reads_keeps_its_graph():
    # the guard read the getter off the class (``Model.scale.fget`` as getattr(Model,
    # "fget")), which failed at every call: a retrace each call, then eager code
    scale = {"v": 2.0}

    class Model(nn.Module):
        @property
        def scale(self):
            return scale["v"]

        def forward(self, x):
            return x * self.scale

    model = Model()
    compiled = _same_over_calls(model, lambda k: scale.update(v=3.0) if k == 2 else None, calls=6)
    assert len(compiled._compiled.entries) == 2  # one graph per value of the scale
