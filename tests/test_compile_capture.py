"""The tracer cannot be fooled, validation cannot be fooled, and when something is wrong
the user is told where: check=True, debug_nans, and PyTorch's errors in compiled code."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from graph_calls import assert_graphs_answered
from optim_cases import cross_entropy_step

import irgrad
import irgrad.nn as nn
import irgrad.nn.functional as F
from irgrad.compiler import CompileWarning
from irgrad.compiler.check import CompileCheckError
from irgrad.tensor import Tensor


def test_embedding_rows_are_read_at_every_call(backend):
    """The issue's snippet: an embedding's first ids must not be baked into the graph.
    (Compiled products round differently from numpy's: an output near 0 needs an atol.)"""
    irgrad.manual_seed(0)
    model = nn.Sequential(nn.Embedding(10, 4), nn.Linear(4, 3))
    c = irgrad.compile(model, backend=backend)
    with irgrad.no_grad():
        c(irgrad.zeros(4, 1, dtype=irgrad.long))
        for ids in ([[1], [2], [3], [4]], [[9], [0], [9], [5]]):
            b = irgrad.tensor(ids)
            assert irgrad.allclose(c(b), model(b), atol=1e-6)
    assert_graphs_answered(c)


@pytest.mark.parametrize(
    "fn, good, bad, error",
    [
        (lambda w, i: F.embedding(i, w), [1, 3], [1, 10], "index out of range in self"),
        (lambda w, i: F.embedding(i, w), [1, 3], [-1, 2], "index out of range in self"),
        (lambda w, i: w.gather(0, i[:, None].expand(2, 3)), [1, 3], [1, 7], "out of bounds for dimension 0"),
        (lambda w, i: w[i], [1, 3], [1, -7], "out of bounds for dimension 0"),
        (lambda w, i: F.cross_entropy(w[:2], i), [1, 2], [1, -3], "Target -3 is out of bounds"),
        (lambda w, i: F.one_hot(i, 4).float() + w.sum(), [1, 3], [1, 4], "smaller than num_classes"),
    ],
)
def test_compiled_code_checks_indices_as_eager_does(fn, good, bad, error, backend):
    w = irgrad.randn(5, 3)
    c = irgrad.compile(fn, backend=backend)
    with irgrad.no_grad():
        c(w, irgrad.tensor(good))
        c(w, irgrad.tensor(good))  # the graph runs now
        with pytest.raises((IndexError, RuntimeError), match=error):
            fn(w, irgrad.tensor(bad))
        with pytest.raises((IndexError, RuntimeError), match=error):
            c(w, irgrad.tensor(bad))


def test_validation_redraws_equal_indices_and_warns_once_with_the_reason(backend):
    """All-equal ids used to survive validation (a permutation of equal values changes nothing)."""

    def sneaky(w, i):  # reads the ids behind the tracer's back
        return w * Tensor._wrap(np.asarray(float(i._data.sum()), dtype=np.float32))

    c = irgrad.compile(sneaky, backend=backend)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with irgrad.no_grad():
            for ids in ([0, 0, 0], [1, 2, 0], [2, 2, 2]):
                i = irgrad.tensor(ids)
                w = irgrad.ones(3)
                np.testing.assert_allclose(c(w, i).numpy(), sneaky(w, i).numpy())
    rejections = [w for w in caught if issubclass(w.category, CompileWarning)]
    assert len(rejections) == 1 and "graph rejected" in str(rejections[0].message)


@pytest.mark.parametrize(
    "fn, ids",
    [
        (lambda x, i, j: x[i, j] * 2.0, ([0, 4, 4, 1], [5, 2, 2, 0])),
        (lambda x, i, j: (x[i.reshape(2, 2)] * 2.0)[:, :, j[:2]], ([-1, 2, 4, 0], [-6, 5, 0, 3])),
        (
            lambda x, i, j: x.gather(1, j[:, None].expand(4, 3)) + x[i.int()].sum(),
            ([1, 0, 3, 3], [5, 0, 4, 1]),
        ),
    ],
)
def test_validation_draws_indices_in_range_and_runs_the_native_program(fn, ids):
    """Indices reach their op through a range check (and here views and casts); validation
    draws them in ``[0, size)`` all the same, so the native program computes the values it
    compares (an index out of range would make eager raise and leave nothing compared)."""
    from irgrad.compiler.validate import VALIDATED, index_bounds

    x = irgrad.randn(5, 6)
    i, j = (irgrad.tensor(v) for v in ids)
    c = irgrad.compile(fn, backend="llvm")
    with irgrad.no_grad():
        c(x, i, j)
    (entry,) = c._compiled.entries
    assert index_bounds(entry.capture) == {1: 5, 2: 6}
    facts = c.explain().graphs[0]
    assert facts["validated"] == VALIDATED
    assert facts["interpreted"] == {"forward": 0} and not facts["reports"]["forward"].fallbacks


def test_drawn_indices_stay_under_their_bound_and_their_dtypes_largest_value():
    """(An int8 index drawn under 300 would wrap negative.)"""
    from irgrad.compiler.validate import perturbed

    rng = np.random.default_rng(0)
    for dtype, bound in ((irgrad.int64, 5), (irgrad.int8, 300), (irgrad.uint8, 1000)):
        values = perturbed(irgrad.zeros(64, dtype=dtype), rng, bound).numpy()
        assert 0 <= values.min() and values.max() < min(bound, np.iinfo(values.dtype).max + 1)


def test_validation_says_when_eager_execution_rejected_its_values(backend):
    """An integer the tracer cannot bound (an index computed from it) is redrawn out of
    range: eager execution raises, and ``explain()`` says nothing was compared."""
    c = irgrad.compile(lambda x, i: x[i + 1], backend=backend)
    with irgrad.no_grad():
        c(irgrad.randn(3), irgrad.zeros(8, dtype=irgrad.long))
    validated = c.explain().graphs[0]["validated"]
    assert validated == "no evidence (eager execution raised IndexError on other inputs)"


def test_check_mode_names_the_first_wrong_node_and_keeps_eager_state(backend):
    count = irgrad.zeros(())

    def sneaky(x):
        count.add_(1)  # a side effect: validation cannot run this function again
        return (x * Tensor._wrap(np.asarray(x._data.max()))).exp()

    c = irgrad.compile(sneaky, backend=backend, check=True)
    with irgrad.no_grad():
        c(irgrad.tensor([1.0, 2.0]))
        with pytest.raises(
            CompileCheckError, match=r"first differing node %\d+ = mul\(\.\.\.\) at test_compile_capture"
        ):
            c(irgrad.tensor([1.0, 5.0]))
    assert count.item() == 2  # each call's side effect happened once, as eager


def test_check_mode_passes_a_right_training_step(backend):
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2))
    opt = irgrad.optim.Adam(model.parameters(), lr=0.01)

    step = irgrad.compile(backend=backend, check=True)(cross_entropy_step(model, opt))

    losses = [float(step(irgrad.randn(5, 4), irgrad.randint(0, 2, (5,)))) for _ in range(4)]
    assert all(np.isfinite(losses))


def test_debug_nans_names_the_op_and_line_in_eager_and_compiled_code(backend):
    def f(x):
        y = x * 2
        return y.log().sum()  # the line reported

    c = irgrad.compile(f, backend=backend)
    x = irgrad.tensor([1.0, -1.0])
    c(x)
    for fn in (f, c):
        with (
            irgrad.debug_nans(),
            pytest.raises(FloatingPointError, match=r"log.*NaN.*test_compile_capture.py:\d+"),
        ):
            fn(x)
    assert np.isnan(c(x).item())  # off again outside the context


def test_debug_nans_in_a_compiled_backward(backend):
    g = irgrad.compile(lambda x: (x.sqrt() * 0 + x).sum(), backend=backend)
    g(irgrad.ones(2, requires_grad=True))
    x = irgrad.tensor([1.0, 0.0], requires_grad=True)
    with irgrad.debug_nans(), pytest.raises(FloatingPointError, match="backward"):
        g(x).backward()


def test_dynamic_index_with_mark_dynamic_never_reuses_a_graph_of_another_size(backend):
    def f(x0, i5):
        return x0[:, i5]

    c = irgrad.compile(f, backend=backend)
    with irgrad.no_grad():
        for n in (3, 6, 9, 1):
            x = irgrad.mark_dynamic(irgrad.randn(n, 4), 0)
            i = irgrad.tensor([0, 2])
            out = c(x, i)
            assert out.shape == (n, 2)
            np.testing.assert_array_equal(out.numpy(), f(x, i).numpy())


def test_dynamic_true_with_a_float64_sum_and_backward(backend):
    def f(x1):
        return irgrad.reshape(x1.sum((-2,), dtype=irgrad.float64), (-1, 5))

    c = irgrad.compile(f, backend=backend, dynamic=True)
    for n in (4, 6, 7, 4):
        x, y = irgrad.randn(n, 3, 5, requires_grad=True), None
        y = x.detach().requires_grad_()
        c(x).sum().backward()
        f(y).sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), y.grad.numpy())


def test_dynamic_true_where_a_size_probe_fails_never_raises(backend):
    """Growing the batch of x leaves the closure's target at its size: the probe raises,
    so the graphs stay per size, and the user's calls (which eager runs fine) never fail."""
    target = irgrad.tensor([0, 1, 2, 1])
    lin = nn.Linear(3, 3)

    def f(x):
        return F.cross_entropy(lin(x)[:4], target)

    c = irgrad.compile(f, backend=backend, dynamic=True)
    with irgrad.no_grad():
        for n in (4, 5, 6, 4):
            x = irgrad.randn(n, 3)
            np.testing.assert_allclose(c(x).numpy(), f(x).numpy(), rtol=1e-6)
    assert any("specialising per size" in e or "one graph" in e for e in c._compiled.log)


def test_mark_dynamic_keeps_the_tensor_itself_unchanged_and_forgets_dead_tensors():
    import gc

    from irgrad.compiler.dynamic import MARKS

    x = irgrad.mark_dynamic(irgrad.randn(3, 4), 0)
    assert not x.__dict__ and MARKS.get(x) == {0}
    irgrad.mark_dynamic(x, -1)
    assert MARKS.get(x) == {0, 1}
    key = id(x)
    del x
    gc.collect()
    assert key not in MARKS._marks


def test_another_threads_ops_are_not_recorded_while_one_thread_traces():
    import threading

    results = {}
    started, release = threading.Event(), threading.Event()

    def other():
        started.wait()
        results["other"] = (irgrad.ones(3) * 5).sum().item()  # eager, during the trace
        release.set()

    def traced(x):
        started.set()
        release.wait(5)
        return x * 2

    thread = threading.Thread(target=other)
    thread.start()
    graph = irgrad.trace(traced, irgrad.ones(3))
    thread.join()
    assert results["other"] == 15.0
    assert [n.op for n in graph.op_nodes()] == ["mul"]


@pytest.mark.parametrize("shape", [(70000, 3), (5, 7), (1_000_003,)])
@pytest.mark.parametrize("dtype", [irgrad.float16, irgrad.float32, irgrad.float64])
def test_validation_moves_every_float_by_noise_of_the_datas_scale(shape, dtype):
    """Other finite values, near the data's scale, at every element (the noise is one
    block repeated past 65,536 elements).  A float16 tensor's scale overflowed float16
    (its std summed 65,536 squares in it): every perturbed value was inf or NaN."""
    from irgrad.compiler.validate import perturbed

    t = irgrad.randn(*shape).to(dtype)
    moved = perturbed(t, np.random.default_rng(0))
    assert moved.shape == t.shape and moved.dtype == t.dtype
    old, new = t.numpy().astype(np.float64), moved.numpy().astype(np.float64)
    assert np.isfinite(new).all() and (new != old).mean() > 0.99
    assert 0.1 < np.abs(new - old).max() < 3


def test_validation_keeps_the_shape_of_zero_dimensional_inputs(backend):
    """A 0-d integer input used to come back from the perturbation with shape [1]."""
    from irgrad.compiler.validate import perturbed

    rng = np.random.default_rng(0)
    for t in (irgrad.tensor(0), irgrad.tensor(1.5), irgrad.tensor(True), irgrad.zeros(2, 0)):
        assert perturbed(t, rng).shape == t.shape and perturbed(t, rng).dtype == t.dtype
    c = irgrad.compile(lambda x, i: (x.flatten(), F.one_hot(i, 2)), backend=backend)
    with irgrad.no_grad():
        c(irgrad.randn(3, 2), irgrad.tensor(0))
    assert not c._compiled.breaks


_DETACHED_WRITES = {
    "add_": lambda x: x.detach().add_(1),
    "fill_": lambda x: x.detach()[1:].fill_(5.0),
    "copy_": lambda x: x.detach().copy_(x.detach() * 4),
    "clamp_": lambda x: x.detach().clamp_(max=1.5),
    "transposed": lambda x: x.view(2, 2).t().detach().mul_(2),
    "twice detached": lambda x: x.detach().detach().sub_(3),
    "setitem": lambda x: x.detach().__setitem__(0, 7.0),
}


@pytest.mark.parametrize("leaf", [True, False])
@pytest.mark.parametrize("write", list(_DETACHED_WRITES))
def test_a_write_through_a_detached_alias_keeps_the_gradient_path(write, leaf):
    """``x.detach().add_(1)`` changes ``x``'s values but not its gradient path, as in
    PyTorch: the trace records the new value as ``rebind(new, x)``.  Compiled calls after
    the first gave a zero gradient (the write was taken for one through a view of ``x``
    that replaces its elements)."""

    def f(x):
        v = x if leaf else x * 2
        _DETACHED_WRITES[write](v)
        return (v * 3).sum()

    compiled = irgrad.compile(f, backend="llvm")
    for _ in range(3):
        xs = [irgrad.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True) for _ in range(2)]
        outs = [fn(x) for fn, x in zip((f, compiled), xs)]
        for out in outs:
            out.backward()
        assert outs[1].item() == outs[0].item()
        np.testing.assert_array_equal(xs[1].grad.numpy(), xs[0].grad.numpy())
        np.testing.assert_array_equal(xs[1].detach().numpy(), xs[0].detach().numpy())


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8, np.int8])
def test_integers_at_the_ends_of_their_dtype_compile(dtype):
    """Validation runs a new graph on other integers drawn over the data's range: at the
    dtype's largest value that range ends past it, and every compiled call raised."""
    info = np.iinfo(dtype)
    x = irgrad.tensor(np.array([info.max, info.min, 5], dtype))
    compiled = irgrad.compile(lambda t: t // 2, backend="llvm")
    for _ in range(3):
        np.testing.assert_array_equal(compiled(x).numpy(), (x // 2).numpy())


def test_a_rejection_by_rounding_on_ill_conditioned_data_says_so():
    """Normalizing values whose spread is 1e-3 of their size amplifies float32 rounding
    past validation's tolerance: the call runs eagerly (right), and the reason names the
    rounding, not the tracer.  Its location comes from a trace in the traced call's grad
    mode: one under no_grad records other ops, and read as "another path"."""
    irgrad.manual_seed(0)
    norm = irgrad.nn.BatchNorm1d(4, track_running_stats=False).eval()
    x = irgrad.randn(5, 4, 17) * 1e-3 + 5
    compiled = irgrad.compile(norm)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        np.testing.assert_allclose(compiled(x).detach().numpy(), norm(x).detach().numpy())
    messages = [str(w.message) for w in caught if issubclass(w.category, CompileWarning)]
    rejected = [m for m in messages if "graph rejected" in m]
    if not rejected:  # (this host's rounding stayed within the tolerance: nothing to explain)
        return
    assert "rounding" in rejected[0] and "another path" not in rejected[0]
