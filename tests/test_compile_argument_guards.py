"""What a compiled function's guards check about its arguments beyond shape and dtype:
the layout of a non-contiguous tensor, whether a tensor that requires grad is a leaf,
and a container argument that became another type (found by a probe of compiled
against eager code; each case used to give the traced call's answer, or raise)."""

import numpy as np
import pytest

import irgrad


def _twice_then(compiled, first, then):
    compiled(first)
    compiled(first)
    return compiled(then)


def test_code_reading_strides_sees_each_layout():
    """``x.stride()`` sends Python another way for a broadcast view than for a slice of
    the same shape: each layout gets its own graph."""

    def f(x):
        return x * 2 if x.stride()[0] == 0 else x * 3

    sliced = irgrad.ones(6, 10)[:, ::2]
    expanded = irgrad.ones(1, 5).expand(6, 5)
    got = _twice_then(irgrad.compile(f), sliced, expanded)
    np.testing.assert_array_equal(got.numpy(), f(expanded).numpy())
    np.testing.assert_array_equal(got.numpy(), np.full((6, 5), 2.0))


def test_code_reading_is_leaf_sees_a_non_leaf():
    """``x.is_leaf`` (and ``x.grad_fn``) of an argument that requires grad is guarded."""

    def f(x):
        return x * 2 if x.is_leaf else x * 3

    def g(x):
        return x + 1 if x.grad_fn is None else x - 1

    for function in (f, g):
        compiled = irgrad.compile(function)
        non_leaf = irgrad.ones(3, requires_grad=True) * 1
        got = _twice_then(compiled, irgrad.ones(3, requires_grad=True), non_leaf)
        np.testing.assert_array_equal(got.detach().numpy(), function(non_leaf).detach().numpy())
        leaf = irgrad.ones(3, requires_grad=True)
        np.testing.assert_array_equal(compiled(leaf).detach().numpy(), function(leaf).detach().numpy())


def test_a_container_argument_that_becomes_another_type_recompiles():
    """A tuple argument that becomes an int (or a dict that becomes a list) is a new
    call signature, not an error in the guard's own explanation of the miss."""
    x = irgrad.ones(3, 4)
    compiled = irgrad.compile(lambda x, dims: x.sum(dims))
    compiled(x, (0,))
    compiled(x, (0,))
    np.testing.assert_array_equal(compiled(x, 0).numpy(), np.full(4, 3.0))
    np.testing.assert_array_equal(compiled(x, [1]).numpy(), np.full(3, 4.0))

    scaled = irgrad.compile(lambda x, how: x * (how["k"] if isinstance(how, dict) else how[0]))
    scaled(x, {"k": 2.0})
    scaled(x, {"k": 2.0})
    np.testing.assert_array_equal(scaled(x, [5.0]).numpy(), np.full((3, 4), 5.0))


def _graphs(compiled) -> int:
    return len(compiled._compiled.entries)


def test_a_sliding_window_over_a_growing_sequence_is_one_graph():
    """``idx[:, -block:]`` of a sequence one token longer each call (a GPT's sampling
    loop) has new strides each time: code that reads only its values does not depend on
    them, so one graph serves every call (it was compiled again at each, and ran eagerly
    after 8), and reads each call's window where it is."""

    def f(window, table):
        return table[window].sum(dim=1) * 2

    compiled = irgrad.compile(f)
    table = irgrad.randn(11, 3)
    tokens = irgrad.tensor(np.random.default_rng(0).integers(0, 11, (2, 5)))
    for _ in range(12):
        window = tokens[:, -4:]
        np.testing.assert_array_equal(compiled(window, table).numpy(), f(window, table).numpy())
        tokens = irgrad.cat([tokens, tokens[:, :1] * 0 + len(tokens[0]) % 11], dim=1)
    assert _graphs(compiled) == 1


def test_layouts_of_any_strides_with_one_contiguity_share_a_graph():
    """Arguments that are slices, steps and transposes of other tensors, read by value
    only: a graph per contiguity, each call's values."""
    rng = np.random.default_rng(3)

    def f(x):
        return (x * 2 + x.sum()).exp()

    compiled = irgrad.compile(f)
    for _ in range(20):
        rows, columns = (int(n) for n in rng.integers(1, 4, 2))
        base = irgrad.tensor(rng.standard_normal((5 * rows, 4 * columns)).astype(np.float32))
        x = base[:: int(rows), :: int(columns)][:5, :4]
        if rng.random() < 0.5:
            x = irgrad.tensor(rng.standard_normal((4, 5 * columns)).astype(np.float32))[:, ::columns].t()
        np.testing.assert_allclose(compiled(x).numpy(), f(x).numpy(), rtol=1e-5)
    assert _graphs(compiled) <= 2


def test_code_that_depends_on_a_layout_is_guarded_by_its_strides():
    """Whether ``view`` can be made, ``data_ptr()``, a view of the argument returned or
    written through, an in-place write into it: each depends on the strides, which the
    guard then checks (a call with other strides gets its own graph), and each call
    gives eager's values and writes."""

    def view_or_reshape(x):
        try:
            return x.view(-1) * 2
        except RuntimeError:
            return x.reshape(-1) * 3

    def through_a_view(x):
        x.t()[0].mul_(2)
        return x.sum(dim=0)

    def written(x):
        x.add_(1)
        return x * 2

    rng = np.random.default_rng(1)
    for function in (view_or_reshape, through_a_view, written):
        compiled = irgrad.compile(function)
        for step in (2, 2, 3, 3, 1, 2):
            data = rng.standard_normal((6, 6)).astype(np.float32)
            x, y = irgrad.tensor(data)[:, ::step][:, :2], irgrad.tensor(data.copy())[:, ::step][:, :2]
            if step == 1:  # one with a size-1 stride that views as a vector
                x, y = irgrad.tensor(data)[:1, :2], irgrad.tensor(data.copy())[:1, :2]
            np.testing.assert_allclose(compiled(x).numpy(), function(y).numpy(), rtol=1e-6)
            np.testing.assert_allclose(x._base.numpy(), y._base.numpy(), rtol=1e-6, err_msg=function.__name__)


def test_strides_read_through_another_tensor_over_the_memory_are_guarded():
    """``x.data.stride()`` and ``x.detach().stride()`` read ``x``'s layout through another
    tensor object over its memory: the guard checks ``x``'s strides all the same.  (The
    branch takes the traced path for validation's contiguous inputs too, so it is the
    guard, not validation, that keeps the answer right.)"""

    def through_data(x):
        return x * 3 if x.data.stride()[1] == 3 else x * 2

    def through_detach(x):
        return x * 3 if x.detach().stride()[1] == 3 else x * 2

    for function in (through_data, through_detach):
        compiled = irgrad.compile(function)
        wide = irgrad.ones(4, 12)
        got = _twice_then(compiled, wide[:, ::2][:, :4], wide[:, ::3])
        np.testing.assert_array_equal(got.numpy(), function(wide[:, ::3]).numpy())
        np.testing.assert_array_equal(got.numpy(), np.full((4, 4), 3.0))


def _sliced():
    return irgrad.arange(24.0).reshape(4, 6)[:, ::2]  # (4, 3), strides (6, 2)


def _transposed():
    return irgrad.arange(12.0).reshape(3, 4).t()  # (4, 3), strides (1, 4)


def _branch(x):
    y = x * 2  # an elementwise result keeps its input's memory order: transposed for x.t()
    return y + 1 if y.is_contiguous() else y - 1


def _view_or_reshape(x):
    y = x * 2
    try:
        return y.view(-1) * 2
    except RuntimeError:
        return y.reshape(-1) * 3


def _write_through_reshape(x):
    y = x * 1
    y.reshape(12).add_(1)  # a view of y (a write into y) or a copy, by y's layout
    return y


def _strict_view(x):
    return x.exp().view(12)


def test_the_layout_of_a_result_that_follows_an_argument_keeps_its_strides_guarded():
    """A result of elementwise ops on a non-contiguous argument is laid out as the
    argument is (``x.t() * 2`` is transposed): reading its layout (``is_contiguous``, a
    ``view``, a reshape that may be a view) reads the argument's, whose strides the guard
    then checks.  Traced on a strided slice, a call on a transposed tensor of the same
    shape gives eager's answer (or error): it gave the traced path's."""
    for function in (_branch, _view_or_reshape, _write_through_reshape, _strict_view):
        compiled = irgrad.compile(function)
        for _ in range(3):
            compiled(_sliced())
        try:
            want = function(_transposed()).numpy()
        except RuntimeError as error:
            with pytest.raises(RuntimeError, match="view size is not compatible"):
                compiled(_transposed())
            assert "view size" in str(error)
            continue
        np.testing.assert_array_equal(compiled(_transposed()).numpy(), want, err_msg=function.__name__)


def test_a_product_lays_its_result_out_afresh():
    """A product's result is laid out contiguous whatever its operands' strides
    (OpDef.fresh_layout): a view of it does not make the operands' strides part of the
    guard, so a sliding window through a product keeps one graph."""

    def f(window, w):
        return (window @ w).view(-1) * 2

    compiled = irgrad.compile(f)
    w = irgrad.randn(4, 3)
    tokens = irgrad.randn(2, 20)
    for end in range(8, 16):
        window = tokens[:, end - 4 : end] if end % 2 else tokens[:, : 2 * end : 2][:, -4:]
        np.testing.assert_array_equal(compiled(window, w).numpy(), f(window, w).numpy())
    assert _graphs(compiled) == 1


class _Ring(irgrad.nn.Module):
    """A buffer and a window into it (rebound by the caller): forward writes the buffer,
    then reads the window, whose value is the window of the written buffer."""

    def __init__(self) -> None:
        super().__init__()
        self.buf = irgrad.tensor(np.arange(32.0).reshape(2, 16).astype(np.float32))
        self.window = self.buf[:, 0:4]

    def forward(self, x):
        self.buf.mul_(x)
        return self.window.sum(1)


def test_a_view_read_after_a_write_into_its_base_is_checked_to_be_that_view():
    """The graph derives such a view from its base by the traced view ops: the guard
    checks it still is that view of that base (a window at another offset of the buffer,
    or an argument ``x`` over other memory than ``b``, took the traced view of the base:
    a wrong answer)."""

    def write_then_read(b, x):
        b.add_(1)
        return x * 2

    compiled = irgrad.compile(write_then_read)
    for _ in range(3):
        b = irgrad.ones(4, 4)
        np.testing.assert_array_equal(compiled(b, b[:, ::2]).numpy(), np.full((4, 2), 4.0))
    np.testing.assert_array_equal(compiled(irgrad.ones(4, 4), irgrad.zeros(4, 4)[:, ::2]).numpy(), 0.0)

    model, eager = _Ring(), _Ring()
    compiled = irgrad.compile(model)
    for position in list(range(6)) + [2, 2, 2]:
        for m in (model, eager):
            m.window = m.buf[:, position : position + 4]
        x = irgrad.tensor(1.5)
        np.testing.assert_array_equal(compiled(x).numpy(), eager(x).numpy(), err_msg=f"window at {position}")


def test_a_dynamic_tensor_whose_layout_is_read_gets_a_graph_per_size():
    """A dynamic size moves a tensor's strides, so the guard cannot check them: a
    non-contiguous tensor whose layout the code reads (whether ``view`` works) is not
    made dynamic, and each call gives eager's answer (a graph with run-time sizes took
    the traced path for a permuted tensor at a checked size)."""

    def sliced(n):
        return irgrad.ones(n, 2, 4)[:, :, :3]  # view(-1, 3) works

    def permuted(n):
        return irgrad.ones(2, n, 3).permute(1, 0, 2)  # view(-1, 3) raises

    compiled = irgrad.compile(_view_or_reshape_rows, dynamic=True)
    for n in (4, 5, 6, 7, 8):
        np.testing.assert_array_equal(compiled(sliced(n)).numpy(), _view_or_reshape_rows(sliced(n)).numpy())
    np.testing.assert_array_equal(compiled(permuted(8)).numpy(), _view_or_reshape_rows(permuted(8)).numpy())
    assert any("layout of a non-contiguous tensor" in event for event in compiled._compiled.log)


def _view_or_reshape_rows(x):
    try:
        return x.view(-1, 3) * 2
    except RuntimeError:
        return x.reshape(-1, 3) * 3


def test_code_reading_the_stride_of_a_size_one_dim_sees_each_layout():
    """A (1, 3) tensor is contiguous whatever the stride of its size-1 dim: code that
    reads it gets a guard on it (the traced stride came back for another one)."""

    def f(x):
        return x * x.stride(0)

    compiled = irgrad.compile(f)
    other = irgrad.ones(8, 3)[::4][:1]  # (1, 3), strides (12, 1): contiguous
    got = _twice_then(compiled, irgrad.ones(1, 3), other)
    np.testing.assert_array_equal(got.numpy(), f(other).numpy())
    np.testing.assert_array_equal(got.numpy(), np.full((1, 3), 12.0))
