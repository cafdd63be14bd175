"""Tensors over memory an in-place write changes behind their back, and tensors given
other memory while a function is traced (irgrad/trace.py).

The tracer finds the first through an index of recorded tensors by the memory they wrap
(``irgrad.trace.storage``): reading one after the write is a graph break.  The second
(``t.data = x``) is followed where the graph holds ``x`` and the tensor is the traced
code's own, and is a graph break otherwise.  Either way a call gives eager's answer,
never a value from before the write or the storage from before the change."""

from __future__ import annotations

import numpy as np
import pytest

import irgrad
from irgrad.nn.utils import vector_to_parameters
from irgrad.trace import storage

STALE = "a tensor is read after an in-place write into memory it shares"
STORAGE = "a tensor is given other storage"


def _breaks(compiled) -> list[str]:
    return [str(b) for b in compiled._compiled.breaks]


def _same_as_eager(f, *make_args):
    """``f`` compiled equals ``f`` eager over three calls on fresh arguments, other values
    at every call (``make(k)`` for call ``k``); the compiled function, for its breaks."""
    compiled = irgrad.compile(f)
    for k in range(3):
        want = f(*[make(k) for make in make_args])
        got = compiled(*[make(k) for make in make_args])
        np.testing.assert_array_equal(got.numpy(), want.numpy())
    return compiled


def test_a_view_of_a_tensor_written_through_its_data_is_stale():
    def f(x):
        v = x.t()
        x.data.add_(1.0)  # the same array written through another tensor: v holds the new values
        return v * 2

    compiled = _same_as_eager(f, lambda k: irgrad.arange(6.0).reshape(2, 3) * (k + 1))
    assert any(STALE in b for b in _breaks(compiled))


def test_an_argument_given_other_memory_is_a_graph_break():
    # w.data = x[:3] rebinds an argument's storage: a side effect a compiled call cannot
    # repeat, so the call runs eagerly
    def f(x, w):
        w.data = x.data[:3]
        x.add_(1.0)
        return w * 2

    compiled = _same_as_eager(f, lambda k: irgrad.arange(5.0) + k, lambda k: irgrad.zeros(3))
    assert any(STORAGE in b for b in _breaks(compiled))


def test_a_tensor_the_function_made_follows_the_storage_it_is_given():
    # the function's own tensor given a value the graph holds: no break, and a write into
    # that memory afterwards is seen through it
    def f(x):
        t = irgrad.zeros(3)
        t.data = x.data[1:4]
        x.mul_(2.0)
        return t * 1

    compiled = _same_as_eager(f, lambda k: irgrad.arange(5.0) + k)
    assert not any(STORAGE in b for b in _breaks(compiled))


def test_a_resized_out_argument_is_not_read_from_before_it_was_resized():
    # add(..., out=) into a tensor of another shape gives it a new array no op made
    def f(x):
        out = irgrad.zeros(2)
        irgrad.add(x, x, out=out)
        return out * 1

    _same_as_eager(f, lambda k: irgrad.arange(3.0) + k)


def test_parameters_made_views_of_a_vector_are_a_graph_break():
    # vector_to_parameters makes each parameter a view of the vector (param.data = ...): a
    # compiled call once read the weight from before, and left it a view of the old vector
    def make_step():
        layer = irgrad.nn.Linear(2, 2, bias=False)

        def f(vec):
            vector_to_parameters(vec, layer.parameters())
            vec.mul_(3.0)
            return layer.weight.detach() + 0

        return f, layer

    (eager, eager_layer), (step, layer) = make_step(), make_step()
    compiled = irgrad.compile(step)
    for k in range(3):
        values = np.arange(1.0, 5.0, dtype=np.float32) + k
        want = eager(irgrad.tensor(values))
        got = compiled(irgrad.tensor(values))
        np.testing.assert_array_equal(got.numpy(), want.numpy())
        np.testing.assert_array_equal(want.numpy(), 3 * values.reshape(2, 2))
        np.testing.assert_array_equal(layer.weight.detach().numpy(), eager_layer.weight.detach().numpy())
    assert any(STORAGE in b for b in _breaks(compiled))


def test_tensors_over_one_foreign_buffer_are_aliases():
    # two arrays over one bytearray (np.frombuffer): numpy owns neither's memory, so a
    # write into one must find the other though they share no base array
    def make(k):
        buffer = bytearray((np.arange(4, dtype=np.float32) + k).tobytes())
        return [irgrad.from_numpy(np.frombuffer(buffer, np.float32)) for _ in range(2)]

    def f(a, b):
        a.add_(1.0)
        return b * 2

    compiled = irgrad.compile(f)
    for k in range(3):
        np.testing.assert_array_equal(compiled(*make(k)).numpy(), f(*make(k)).numpy())
    assert any(STALE in b for b in _breaks(compiled))
    assert storage(make(0)[0]._data) is None


def test_the_storage_of_a_view_is_its_base_arrays_and_foreign_memory_has_none():
    a = np.zeros((4, 4), np.float32)
    assert storage(a) == storage(a[1:].T) == storage(a.reshape(-1)[::2]) == id(a)
    assert storage(np.zeros(3)) != id(a)
    assert storage(np.frombuffer(bytearray(8), np.float32)) is None
    assert storage(np.lib.stride_tricks.as_strided(a, (2,), (4,))) in (id(a), None)


@pytest.mark.parametrize("steps", [1, 40])
def test_tracing_a_step_with_many_parameters_stays_linear(steps):
    # each in-place parameter update used to scan every recorded tensor; the index makes a
    # write look only at the tensors over its own memory (a smoke test of the result here)
    model = irgrad.nn.Sequential(*[irgrad.nn.Linear(4, 4) for _ in range(steps)])
    opt = irgrad.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x = irgrad.randn(3, 4)

    def step(x):
        opt.zero_grad()
        loss = model(x).square().mean()
        loss.backward()
        opt.step()
        return loss.detach()

    compiled = irgrad.compile(step)
    losses = [float(compiled(x)) for _ in range(3)]
    assert not _breaks(compiled) and losses[2] < losses[0]


def test_a_step_that_gives_parameters_new_storage_trains_as_eager():
    # `p.data = p.data - lr * p.grad`: a compiled step once read each parameter from
    # before the update and never rebound it, so it returned one loss forever
    def run(compile_it: bool) -> list[float]:
        irgrad.manual_seed(0)
        model = irgrad.nn.Linear(3, 2)
        params = list(model.parameters())
        x = irgrad.randn(4, 3)

        def step(x):
            loss = model(x).square().mean()
            for p in params:
                p.grad = None
            loss.backward()
            for p in params:
                p.data = p.data - 0.1 * p.grad
            return loss.detach()

        run_step = irgrad.compile(step) if compile_it else step
        losses = [float(run_step(x)) for _ in range(5)]
        if compile_it:
            assert any(STORAGE in b for b in _breaks(run_step))
        return losses

    eager = run(False)
    assert run(True) == eager and eager[-1] < eager[2]


def test_a_step_that_updates_parameters_through_data_in_place_has_no_break():
    # `p.data += x` writes in place and sets the same array back: no change of storage
    irgrad.manual_seed(0)
    model = irgrad.nn.Linear(3, 2)
    x = irgrad.randn(4, 3)

    def step(x):
        loss = model(x).square().mean()
        for p in model.parameters():
            p.grad = None
        loss.backward()
        for p in model.parameters():
            p.data += -0.1 * p.grad
        return loss.detach()

    compiled = irgrad.compile(step)
    losses = [float(compiled(x)) for _ in range(4)]
    assert not _breaks(compiled) and losses[-1] < losses[0]


class _ReadsData(irgrad.nn.Module):
    """Uses its weight with and without its gradient path (``w.data``), in either order."""

    def __init__(self, data_first: bool) -> None:
        super().__init__()
        self.w = irgrad.nn.Parameter(irgrad.tensor([1.0, 2.0]))
        self.data_first = data_first

    def forward(self, x):
        if self.data_first:
            b = (self.w.data * x).sum()
            a = (self.w * x).sum()
        else:
            a = (self.w * x).sum()
            b = (self.w.data * x).sum()
        return a + b


@pytest.mark.parametrize("data_first", [False, True], ids=["data-after", "data-first"])
def test_a_parameter_read_through_data_has_no_gradient_path_and_is_not_frozen(data_first):
    # w.data once shared w's node (a gradient twice eager's) or, taken before w was read,
    # became a constant (the weight frozen, the output without a gradient path)
    results = []
    for compiled in (False, True):
        model = _ReadsData(data_first)
        run = irgrad.compile(model) if compiled else model
        for k in range(3):
            with irgrad.no_grad():
                model.w.add_(1.0)
            model.w.grad = None
            out = run(irgrad.tensor([1.0, 1.0]) * (k + 1))
            out.backward()
            results.append((float(out), model.w.grad.numpy().tolist()))
    assert results[3:] == results[:3]


def test_an_average_kept_through_data_copy_is_compiled_and_equals_eager():
    # an exponential moving average of weights (p_avg.data.copy_(...)): the averaged
    # weights are read first through .data, and written in place by the compiled call
    def make():
        irgrad.manual_seed(0)
        src, avg = irgrad.nn.Linear(2, 2), irgrad.nn.Linear(2, 2)

        def step(x):
            for ps, pa in zip(src.parameters(), avg.parameters()):
                pa.data.copy_(0.9 * pa.data + 0.1 * ps.data)
            with irgrad.no_grad():
                for p in src.parameters():
                    p.add_(x.mean())
            return avg(x)

        return step, avg

    (eager, eager_avg), (step, avg) = make(), make()
    compiled = irgrad.compile(step)
    for k in range(4):
        x = irgrad.tensor([1.0, 2.0]) * (k + 1)
        np.testing.assert_allclose(compiled(x).detach().numpy(), eager(x).detach().numpy(), rtol=1e-6)
    for p, q in zip(avg.parameters(), eager_avg.parameters()):
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=1e-6)
    assert not _breaks(compiled) and compiled._compiled.entries[-1].runs >= 2


def _bases_and_views(k: int, view: bool) -> tuple:
    base = irgrad.full((8,), float(10 * k))
    return base, (base.view(4, 2) if view else base.reshape(4, 2).clone())


@pytest.mark.parametrize("views", [(True, True, True), (True, False, True), (False, True, True)])
def test_an_argument_that_is_a_view_is_written_through_its_own_base(views):
    # x[1:3].add_(1) on a view x writes x's base: the graph reads the base of this call's
    # x (found through x._base), never the base of the call it was traced on
    def f(x):
        x[1:3].add_(1)
        return x.sum()

    compiled = irgrad.compile(f)
    bases = []
    for k, view in enumerate(views):
        base_e, x_e = _bases_and_views(k, view)
        base_c, x_c = _bases_and_views(k, view)
        np.testing.assert_array_equal(compiled(x_c).numpy(), f(x_e).numpy())
        bases.append((base_c, base_c.numpy().copy()))
        np.testing.assert_array_equal(x_c.numpy(), x_e.numpy())
        np.testing.assert_array_equal(base_c.numpy(), base_e.numpy())
    first_base, after_first = bases[0]
    np.testing.assert_array_equal(first_base.numpy(), after_first)  # later calls left it alone
    assert not _breaks(compiled)


@pytest.mark.parametrize("second", ["view", "same", "numpy"])
def test_arguments_over_one_memory_where_the_graph_writes_run_eagerly(second):
    # traced on distinct tensors, the graph writes a before it reads b: called with b over
    # a's memory, b must see the write (eager's answer), so the call runs eagerly
    def f(a, b):
        a.mul_(2)
        return a + b

    def over(a):
        if second == "view":
            return a.view(2, 2).view(4)
        if second == "same":
            return a
        return irgrad.from_numpy(a.numpy())  # another tensor around a's array

    compiled = irgrad.compile(f)
    for _ in range(2):
        compiled(irgrad.ones(4), irgrad.ones(4))
    a_e, a_c = irgrad.full((4,), 3.0), irgrad.full((4,), 3.0)
    want = f(a_e, over(a_e))
    got = compiled(a_c, over(a_c))
    np.testing.assert_array_equal(got.numpy(), want.numpy())
    np.testing.assert_array_equal(a_c.numpy(), a_e.numpy())
    # distinct tensors again: compiled, and right
    a_c, b_c = irgrad.full((4,), 5.0), irgrad.ones(4)
    np.testing.assert_array_equal(compiled(a_c, b_c).numpy(), np.full(4, 11.0, np.float32))
    if second != "same":  # one tensor twice is told apart by the guard (a graph of its own)
        assert any("share memory" in line for line in compiled._compiled.log)


@pytest.mark.parametrize("owned", [False, True])
def test_a_write_into_read_only_memory_raises_compiled_as_eager(owned):
    """A tensor over a non-writable numpy array (np.frombuffer's over bytes, or one whose
    flag was cleared): eager execution refuses the in-place write, and so does a compiled
    call (the guard sends it to eager execution); the memory is left as it was.  Before,
    the native program wrote into the bytes object."""

    def f(x):
        x.add_(1)
        return x * 2

    def read_only() -> np.ndarray:
        if owned:
            array = np.arange(4, dtype=np.float32)
            array.flags.writeable = False
            return array
        return np.frombuffer(np.arange(4, dtype=np.float32).tobytes(), np.float32)

    compiled = irgrad.compile(f)
    for _ in range(2):
        compiled(irgrad.arange(4.0))
    with pytest.raises(RuntimeError, match="add_: the tensor's memory is read-only") as eager:
        f(irgrad.from_numpy(read_only()))
    array = read_only()
    with pytest.raises(RuntimeError) as native:
        compiled(irgrad.from_numpy(array))
    assert str(native.value) == str(eager.value)
    np.testing.assert_array_equal(array, np.arange(4, dtype=np.float32))
    np.testing.assert_array_equal(compiled(irgrad.arange(4.0)).numpy(), [2.0, 4.0, 6.0, 8.0])


def test_a_returned_view_of_an_argument_aliases_it_after_the_calls_writes():
    # v = x[1:3]; v += 1; return v: eager returns a view of x, so writing v writes x
    def f(x):
        v = x[1:3]
        v += 1
        return v

    compiled = irgrad.compile(f)
    for _ in range(3):
        x_e, x_c = irgrad.zeros(4, 2), irgrad.zeros(4, 2)
        v_e, v_c = f(x_e), compiled(x_c)
        assert v_c._base is x_c
        v_e.mul_(10)
        v_c.mul_(10)
        np.testing.assert_array_equal(x_c.numpy(), x_e.numpy())
    assert not _breaks(compiled) and compiled._compiled.entries[-1].runs == 2


def test_a_returned_view_of_a_leaf_gets_its_gradient_through_the_view():
    def f(x, w):
        return (x * w).sum(), w.t()

    compiled = irgrad.compile(f)
    for _ in range(3):
        x = irgrad.arange(6.0).reshape(2, 3)
        w_e, w_c = irgrad.ones(2, 3, requires_grad=True), irgrad.ones(2, 3, requires_grad=True)
        (loss_e, view_e), (loss_c, view_c) = f(x, w_e), compiled(x, w_c)
        (loss_e + (view_e * 3).sum()).backward()
        (loss_c + (view_c * 3).sum()).backward()
        np.testing.assert_array_equal(w_c.grad.numpy(), w_e.grad.numpy())
    assert not _breaks(compiled)


def _view_and_base(x):
    h = x * 2
    return h.view(-1), h, h[0]


def _split_and_base(x):
    h = x * 2
    return h, h.split(2, 1)[0]


def _no_grad_view_and_base(x):
    h = x * 2
    with irgrad.no_grad():
        v = h[1:]
    return h, v


class _Holder:
    h = None


def _stored_base(x):
    h = x * 2
    _Holder.h = h
    return h[0], _Holder.h, h[1:]


def _stored_view(x):
    h = x * 2
    _Holder.h = h[0]
    return _Holder.h, h, h[1:]


def _write_base(out):
    out[1].mul_(3)
    return out[0].sum() + out[2].sum()


def _write_view(out):
    out[0].mul_(3)
    return out[1].sum() + out[2].sum()


def _write_second(out):
    out[1].mul_(3)  # eager refuses: one of split's outputs, a view made under no_grad
    return out[0].sum()


@pytest.mark.parametrize(
    "f, use",
    [
        (_view_and_base, _write_base),
        (_view_and_base, _write_view),
        (_stored_base, _write_base),
        (_stored_view, _write_view),
        (_split_and_base, _write_second),
        (_no_grad_view_and_base, _write_second),
    ],
)
def test_a_view_of_another_returned_or_stored_value_is_its_view_for_autograd(f, use):
    # h, h.view(-1) (or h stored in state, h[0] returned): eager's view is h's alias for
    # autograd too, so an in-place op on one changes the other's gradient (a multiply by
    # 3 in it), or raises where eager's does; compiled, the view was an output of its
    # own: x.grad missed the factor 3
    def grads(fn):
        x = irgrad.arange(12.0).reshape(3, 4).requires_grad_()
        out = fn(x)
        assert out[1]._base is out[0] or out[0]._base is out[1]
        try:
            use(out).backward()
        except RuntimeError as err:
            return str(err)
        return x.grad.numpy()

    compiled = irgrad.compile(f)
    for _ in range(3):
        want, got = grads(f), grads(compiled)
        if isinstance(want, str):
            assert got == want
        else:
            np.testing.assert_array_equal(got, want)
    entry = compiled._compiled.entries[-1]
    # the graph ran the later calls, and the first too where a rerun changes nothing else
    assert not _breaks(compiled) and entry.runs == 2 + entry.capture.reruns_unobservably


def test_writes_overlap_agrees_with_numpy_on_random_views():
    from irgrad.ir.aliasing import writes_overlap

    rng = np.random.default_rng(0)
    memory = np.zeros((10, 10), np.float32)
    flat = memory.reshape(-1)
    for _ in range(2000):
        arrays = []
        for _ in range(rng.integers(1, 6)):
            kind = rng.integers(3)
            if kind == 0:
                arrays.append(np.zeros(rng.integers(0, 4), np.float32))
            elif kind == 1:
                a = rng.integers(0, 10)
                arrays.append(memory[a : rng.integers(a, 11), :: rng.choice([1, -1, 2])].T)
            else:
                a = rng.integers(0, 100)
                arrays.append(flat[a : rng.integers(a, 101) : rng.choice([1, 2])])
        written = [k for k in range(len(arrays)) if rng.random() < 0.4]
        expected = any(
            j != k and arrays[j].size and arrays[k].size and np.may_share_memory(arrays[k], arrays[j])
            for k in written
            for j in range(len(arrays))
        )
        assert writes_overlap(arrays, written) == expected


def test_a_graph_break_holding_a_tensor_while_writing_an_input_runs_eagerly():
    # an unlocated tensor (a graph break) in a call that also writes an input: the guard
    # of that break entry must build, and the call run eagerly
    items = iter([irgrad.ones(2) * k for k in range(10)])

    def f(x):
        x.add_(1)
        return x + next(items)

    compiled = irgrad.compile(f)
    x = irgrad.zeros(2)
    for _ in range(3):
        compiled(x)
    np.testing.assert_array_equal(x.numpy(), [3.0, 3.0])
    assert _breaks(compiled)


@pytest.mark.parametrize("backend", ["numpy", "llvm"])
def test_a_negative_zero_written_through_a_view_keeps_its_sign(backend):
    # the base's new value was the view's elements scattered into zeros (index_grad), and
    # 0.0 + -0.0 is +0.0: atan2 of the written -0.0 gave pi for -pi (fuzzer, seed 40000)
    def f(a, b, x):
        v = a.mT
        v *= b
        return irgrad.atan2(v, x), 1 / v

    def args():
        return irgrad.zeros(1, 2), irgrad.tensor([[-0.0], [-1.0]]), irgrad.tensor([[-3.0, -3.0]])

    compiled = irgrad.compile(f, backend=backend)
    compiled(*args())
    got_args, eager_args = args(), args()
    got, expected = compiled(*got_args), f(*eager_args)
    for a, b in [*zip(got, expected), (got_args[0], eager_args[0])]:
        np.testing.assert_array_equal(a.numpy(), b.numpy())
        np.testing.assert_array_equal(np.signbit(a.numpy()), np.signbit(b.numpy()))


def test_a_stored_view_of_an_argument_is_its_view_for_autograd():
    # self.row = x[0] keeps a view of the argument in eager code: an in-place op on x after
    # the call changes the row's history too (x.mul_(3): a factor 3 in its gradient)
    def f(x):
        _Holder.h = x[0]
        return (x * 2).sum()

    def grads(fn):
        a = irgrad.arange(6.0).reshape(2, 3).requires_grad_()
        x = a * 1
        fn(x)
        assert _Holder.h._base is x
        x.mul_(3)
        _Holder.h.sum().backward()
        return a.grad.numpy()

    compiled = irgrad.compile(f)
    for _ in range(4):  # (the second call traces again: _Holder.h is a tensor then)
        np.testing.assert_array_equal(grads(compiled), grads(f))
    assert not _breaks(compiled) and compiled._compiled.entries[-1].runs == 2


@pytest.mark.parametrize("alias", ["detach", "data"])
def test_a_returned_detach_or_data_of_state_aliases_it(alias):
    # return w.detach() (or w.data) after updating w: eager's shares w's memory (detach()
    # its version counter too), so writing it writes w; compiled, it was a copy
    def run(fn, w):
        out = fn(irgrad.ones(3))
        same = out.data_ptr() == w.data_ptr()
        version = w._version
        out.add_(1)
        return same, w._version - version, w.detach().numpy().copy()

    def make():
        w = irgrad.zeros(3, requires_grad=True)

        def f(x):
            with irgrad.no_grad():
                w.add_(x)
            return w.detach() if alias == "detach" else w.data

        return w, f

    (w_e, f_e), (w_c, f_c) = make(), make()
    compiled = irgrad.compile(f_c)
    for _ in range(3):
        want, got = run(f_e, w_e), run(compiled, w_c)
        assert got[:2] == want[:2]
        np.testing.assert_array_equal(got[2], want[2])
    assert not _breaks(compiled) and compiled._compiled.entries[-1].runs == 2


def test_views_of_a_returned_value_keep_one_symbolic_graph_for_every_size():
    # the view ops' attributes follow the sizes (h[1:] is slice(1, B)): one graph serves
    # every batch size, each view derived at the call's sizes
    def f(x):
        h = x * x + x
        return h, h[:, -1], h.view(-1), h[1:]

    def run(fn, n):
        x = irgrad.linspace(-1, 1, n * 4).reshape(n, 4).requires_grad_()
        h, last, flat, tail = fn(x)
        assert last._base is h and flat._base is h and tail._base is h
        h.mul_(3)
        (last.sum() + 2 * flat.sum() + tail.sum()).backward()
        return [t.detach().numpy() for t in (last, flat, tail, x.grad)]

    compiled = irgrad.compile(f, dynamic=True)
    for n in [3, 4, 5, 6, 7, 3, 5]:
        for got, want in zip(run(compiled, n), run(f, n)):
            np.testing.assert_allclose(got, want, rtol=1e-6)
    assert not _breaks(compiled) and len(compiled._compiled.entries) == 1
