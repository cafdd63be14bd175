"""Graphs with symbolic sizes as native programs taking the sizes at run time: one program
serves many sizes, with eager's values and gradients at each."""

import re
import threading

import numpy as np
import pytest

import irgrad
import irgrad.nn.functional as F
from irgrad.codegen import sizes
from tests.graph_calls import assert_graphs_answered

SIZES = (5, 6, 7, 9, 12, 33, 40, 64, 3, 100, 6, 2, 7, 40)


def served(explanation) -> tuple[int, int]:
    """(programs with run-time sizes, sizes they served), over every graph."""
    found = re.findall(
        r"(\d+) program\(s\) taking the sizes at run time, (\d+) size\(s\) served", str(explanation)
    )
    return sum(int(p) for p, _ in found), sum(int(s) for _, s in found)


def _trains_as_eager(make_model, batches, features: int, classes: int, draw=None):
    """Train ``make_model()`` with SGD-momentum and cross-entropy eagerly and compiled with
    dynamic sizes, side by side, over ``batches`` (``draw(rng, size)`` gives each batch's
    input and targets; by default ``size`` rows of ``features`` floats and their classes):
    the losses, and the parameters and buffers after, equal eager's.  Returns the compiled
    step."""

    def trainer():
        irgrad.manual_seed(4)
        model = make_model()
        opt = irgrad.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)

        def step(x, y):
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            return loss

        return model, step

    eager_model, eager_step = trainer()
    model, step = trainer()
    step = irgrad.compile(step, dynamic=True, backend="llvm")
    rng = np.random.default_rng(5)
    for batch in batches:
        if draw is None:
            x = irgrad.tensor(rng.standard_normal((batch, features)).astype(np.float32))
            y = irgrad.tensor(rng.integers(0, classes, batch))
        else:
            x, y = draw(rng, batch)
        np.testing.assert_allclose(step(x, y).item(), eager_step(x, y).item(), rtol=1e-4)
    for (name, p), q in zip(model.state_dict().items(), eager_model.state_dict().values()):
        np.testing.assert_allclose(p.numpy(), q.numpy(), rtol=1e-4, atol=1e-5, err_msg=name)
    return step


def _sliced(x):
    return (x[1:] * x[:-1]).sum(0) + x[:, 2:].sum(0).sum()


def _transposed(x):
    return (x.t() @ x).tanh() + x.softmax(dim=0).max(dim=0).values


def _concatenated(x):
    return irgrad.cat([x, x.exp() * 2], dim=0).log_softmax(dim=0).sum(1)


def _normalized(x):
    return F.layer_norm(x, (x.shape[1],)).relu().sum(0)


@pytest.mark.parametrize("function", [_sliced, _transposed, _concatenated, _normalized])
def test_functions_of_a_dynamic_batch_match_eager_at_every_size(function):
    """Values and gradients at 14 calls over 11 sizes; a few programs serve them all."""
    compiled = irgrad.compile(function, dynamic=True, backend="llvm")
    rng = np.random.default_rng(3)
    for batch in SIZES:
        data = rng.standard_normal((batch, 6)).astype(np.float32)
        x, x_eager = irgrad.tensor(data, requires_grad=True), irgrad.tensor(data, requires_grad=True)
        got, expected = compiled(x), function(x_eager)
        np.testing.assert_allclose(got.detach().numpy(), expected.detach().numpy(), rtol=2e-5, atol=2e-6)
        got.sum().backward()
        expected.sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), x_eager.grad.numpy(), rtol=2e-5, atol=2e-6)
    programs, served_sizes = served(assert_graphs_answered(compiled))
    assert programs >= 1 and served_sizes > programs


def test_a_training_step_over_many_batch_sizes_trains_as_eager():
    """A whole SGD-momentum step with cross-entropy, compiled with dynamic sizes, over 12
    batch sizes, three times over: the parameters after every step equal eager
    training's, and no size past the first few compiles a program of its own."""

    rng = np.random.default_rng(5)
    batches = [int(b) for b in rng.integers(2, 90, 12)] * 3 + [17, 17, 64, 64]
    step = _trains_as_eager(
        lambda: irgrad.nn.Sequential(irgrad.nn.Linear(12, 32), irgrad.nn.ReLU(), irgrad.nn.Linear(32, 5)),
        batches,
        features=12,
        classes=5,
    )
    explanation = assert_graphs_answered(step)
    programs, served_sizes = served(explanation)
    assert 1 <= programs <= 4 and served_sizes >= 5, str(explanation)
    # the parameters and momentum buffers are updated in place by the native code
    assert "8 update(s) written in place" in str(explanation)
    assert "program(s) for one size each" not in str(explanation)


def test_two_threads_at_different_sizes_get_their_own_answers():
    """The sizes live in the program's globals: calls at different sizes from two threads
    at once are serialised around the native call, and each gets its own answer."""
    compiled = irgrad.compile(lambda x: (x * 2.0).tanh().sum(0), dynamic=True, backend="llvm")
    inputs = {n: irgrad.randn(n, 4) for n in (8, 9, 10, 11, 12, 30)}
    for x in inputs.values():
        compiled(x)
        compiled(x)
    failures = []

    def hammer(batch: int) -> None:
        x = inputs[batch]
        expected = (x * 2.0).tanh().sum(0).numpy()
        for _ in range(200):
            if not np.allclose(compiled(x).numpy(), expected, rtol=1e-5, atol=1e-6):
                failures.append(batch)

    threads = [threading.Thread(target=hammer, args=(n,)) for n in (9, 30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures
    assert served(compiled.explain())[1] >= 5


def test_a_graph_without_run_time_sizes_is_compiled_per_size(monkeypatch):
    """Where no program with run-time sizes can be built, the reason is in explain() and
    each size gets a program of its own, as before."""
    from irgrad.compiler import backends

    def fails(graph, env, write_backs):
        return None, "injected: no run-time sizes"

    monkeypatch.setattr(backends, "_run_time_program", fails)
    compiled = irgrad.compile(lambda x: x.exp().sum(0), dynamic=True, backend="llvm")
    for batch in (4, 5, 6, 4):
        x = irgrad.randn(batch, 3)
        np.testing.assert_allclose(compiled(x).numpy(), x.exp().sum(0).numpy(), rtol=1e-6)
    text = str(assert_graphs_answered(compiled))
    assert "no program with run-time sizes: injected" in text and "program(s) for one size each" in text


def test_most_run_time_programs_bounds_them(monkeypatch):
    """Sizes outside every program's assumptions get a new program only up to the bound."""
    monkeypatch.setattr(sizes, "MOST_RUN_TIME_PROGRAMS", 1)
    compiled = irgrad.compile(lambda x: (x @ x.t()).sum(0), dynamic=True, backend="llvm")
    for batch in (5, 6, 7, 40, 41, 1, 5):  # products of 32 rows or more take another form
        x = irgrad.randn(batch, 8)
        np.testing.assert_allclose(compiled(x).numpy(), (x @ x.t()).sum(0).numpy(), rtol=1e-5, atol=1e-5)
    assert served(assert_graphs_answered(compiled))[0] == 1


def test_a_bad_target_at_a_new_size_raises_the_eager_error():
    """A native range check that fails hands the call to the interpreter, on the graph
    at that call's sizes: it raises the error eager code raises."""
    compiled = irgrad.compile(lambda x, y: F.cross_entropy(x, y), dynamic=True, backend="llvm")
    for batch in (4, 5, 6, 7):
        x, y = irgrad.randn(batch, 3), irgrad.randint(0, 3, (batch,))
        np.testing.assert_allclose(compiled(x, y).item(), F.cross_entropy(x, y).item(), rtol=1e-6)
    x, y = irgrad.randn(9, 3), irgrad.tensor(np.array([0, 1, 2, 0, 1, 2, 0, 7, 1]))
    compiled(x, irgrad.randint(0, 3, (9,)))  # the first call at 9 is traced
    with pytest.raises(IndexError, match="Target 7 is out of bounds"):
        compiled(x, y)
    with pytest.raises(IndexError, match="Target 7 is out of bounds"):
        F.cross_entropy(x, y)
    explanation = str(compiled.explain())
    assert "1 call(s) handed to the interpreter" in explanation and served(explanation)[0] >= 1


def test_a_product_is_split_across_threads_from_a_size_decided_at_run_time():
    """One program serves products below and above the size from which the pool splits
    them: the split is a branch of the native code, not an assumption of the program."""
    threads = irgrad.get_num_threads()
    irgrad.set_num_threads(2)
    try:
        w = irgrad.randn(64, 64)
        compiled = irgrad.compile(lambda x: (x @ w).relu().sum(0), dynamic=True, backend="llvm")
        for batch in (40, 41, 100, 300, 500, 100, 300, 500, 41):  # split from 128 rows (2^19 multiply-adds)
            x = irgrad.randn(batch, 64)
            np.testing.assert_allclose(
                compiled(x).numpy(), (x @ w).relu().sum(0).numpy(), rtol=1e-4, atol=1e-3
            )
        programs, served_sizes = served(assert_graphs_answered(compiled))
        assert programs == 1 and served_sizes >= 4, served_sizes
    finally:
        irgrad.set_num_threads(threads)


@pytest.mark.parametrize("layer", ["lstm", "conv1d"])
def test_a_sequence_of_run_time_length_trains_as_eager(layer):
    """An LSTM over, and a convolution along, a sequence whose length changes: values and
    gradients equal eager's, and a program (per graph) serves many lengths (the LSTM's
    input product takes another form from 32 rows, 3 x 11: a second forward program)."""
    irgrad.manual_seed(6)
    if layer == "lstm":
        module = irgrad.nn.LSTM(6, 12, batch_first=True)

        def function(x):
            return module(x)[0].tanh().sum(1)
    else:
        module = irgrad.nn.Conv1d(6, 8, 3, padding=1)

        def function(x):
            return module(x.transpose(1, 2)).relu().sum(2)

    compiled = irgrad.compile(function, dynamic=True, backend="llvm")
    rng = np.random.default_rng(7)
    for length in (9, 10, 11, 16, 23, 16, 23, 10):
        data = rng.standard_normal((3, length, 6)).astype(np.float32)
        x, x_eager = irgrad.tensor(data, requires_grad=True), irgrad.tensor(data, requires_grad=True)
        got, expected = compiled(x), function(x_eager)
        np.testing.assert_allclose(got.detach().numpy(), expected.detach().numpy(), rtol=1e-4, atol=1e-5)
        got.sum().backward()
        expected.sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), x_eager.grad.numpy(), rtol=1e-4, atol=1e-5)
    programs, served_sizes = served(assert_graphs_answered(compiled))
    assert programs <= 3 and served_sizes >= 6


def test_dump_writes_each_program_with_run_time_sizes(tmp_path):
    """``dump=``: a program with run-time sizes is written as generated, optimized and as
    assembly, and reads its sizes from the module's globals."""
    compiled = irgrad.compile(lambda x: (x.exp() * 2.0).sum(0), dynamic=True, dump=str(tmp_path))
    for batch in (5, 6, 7, 7):
        compiled(irgrad.randn(batch, 3))
    names = sorted(p.name for p in tmp_path.iterdir())
    for suffix in (".ll", ".opt.ll", ".s"):
        assert any(n.endswith(f"-sizes0-segment0{suffix}") for n in names), names
    (source,) = [p for p in tmp_path.iterdir() if p.name.endswith("-sizes0-segment0.ll")]
    assert '@"irgrad.size.B"' in source.read_text()


def test_programs_of_one_graph_built_at_other_sizes_have_their_own_symbols():
    """Two programs of one graph differ in code (a transposed A whose columns lie 1024 or
    more apart is copied first) but print the same graph: their native functions must
    not share a name in the JIT."""
    compiled = irgrad.compile(lambda x, w: (x.t() @ w).sum(0), dynamic=True, backend="llvm")
    w = irgrad.randn(8, 4)
    for batch in (5, 6, 7, 1100, 1101, 7, 1101):
        x = irgrad.randn(8, batch)
        np.testing.assert_allclose(compiled(x, w).numpy(), (x.t() @ w).sum(0).numpy(), rtol=1e-4, atol=1e-4)
    (entry,) = compiled._compiled.cache
    programs = entry.built.run_forward.run_time_programs
    assert len(programs) == 2
    assert len({segment.symbol for p in programs for segment in p.segments}) == 2


def test_a_mean_and_batch_norm_over_a_dynamic_batch_are_one_graph():
    """A mean divides by the batch size, a constant of each trace: constants that are the
    size at every probe become a ``size_scalar`` of the graph, so a mean, and BatchNorm's
    training statistics (and its running variance's n / (n - 1)), keep one symbolic graph,
    run natively at every size, with eager's parameters and running statistics."""

    step = _trains_as_eager(
        lambda: irgrad.nn.Sequential(
            irgrad.nn.Linear(8, 16), irgrad.nn.BatchNorm1d(16), irgrad.nn.ReLU(), irgrad.nn.Linear(16, 3)
        ),
        (12, 13, 14, 20, 13, 20, 33, 33, 12, 50, 50, 17, 17),
        features=8,
        classes=3,
    )
    explanation = str(assert_graphs_answered(step))
    assert "one graph for every size of B" in explanation and "specialising per size" not in explanation
    assert "size_scalar(value=B, dtype=f32)" in explanation
    assert served(explanation)[1] >= 5


def test_a_transposing_copy_chooses_register_tiles_at_run_time(tmp_path):
    """A transposed copy runs in 8x8 register tiles where every matrix holds a whole tile,
    element by element otherwise: with run-time sizes that is a branch, so one program
    serves sizes on both sides of 8."""
    compiled = irgrad.compile(
        lambda x: x.transpose(1, 2).contiguous(), dynamic=True, backend="llvm", dump=str(tmp_path)
    )
    for rows in (5, 6, 7, 9, 12, 30, 7, 9, 12, 30, 3, 3):
        x = irgrad.randn(3, rows, 11)
        np.testing.assert_array_equal(compiled(x).numpy(), x.transpose(1, 2).numpy())
    programs, served_sizes = served(assert_graphs_answered(compiled))
    assert programs == 1 and served_sizes == 5
    (source,) = [p for p in tmp_path.iterdir() if p.name.endswith("-sizes0-segment0.ll")]
    assert "tile_rows" in source.read_text()  # the register tiles, behind the run-time branch


@pytest.mark.parametrize("loss", [F.mse_loss, F.l1_loss])
def test_a_regression_loss_over_a_dynamic_batch_is_one_graph(loss):
    """A mean loss's gradient folds to 2 / B (or 1 / B) over the batch: a number over a
    size, one graph for every batch size, run natively."""

    def trainer():
        irgrad.manual_seed(2)
        model = irgrad.nn.Sequential(irgrad.nn.Linear(6, 16), irgrad.nn.Tanh(), irgrad.nn.Linear(16, 1))
        opt = irgrad.optim.Adam(model.parameters(), lr=0.01)

        def step(x, y):
            opt.zero_grad()
            value = loss(model(x), y)
            value.backward()
            opt.step()
            return value

        return model, step

    eager_model, eager_step = trainer()
    model, step = trainer()
    step = irgrad.compile(step, dynamic=True, backend="llvm")
    rng = np.random.default_rng(1)
    for batch in (8, 9, 10, 13, 13, 40, 40, 9, 100, 100):
        x = irgrad.tensor(rng.standard_normal((batch, 6)).astype(np.float32))
        y = irgrad.tensor(rng.standard_normal((batch, 1)).astype(np.float32))
        np.testing.assert_allclose(step(x, y).item(), eager_step(x, y).item(), rtol=1e-5)
    for p, q in zip(model.parameters(), eager_model.parameters()):
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=1e-4, atol=1e-6)
    explanation = str(assert_graphs_answered(step))
    assert "one graph for every size of B" in explanation and "specialising per size" not in explanation
    assert served(explanation)[1] >= 4


def test_an_index_that_is_a_size_stays_an_index():
    """``x[n - 1, t]`` indexes with a size: with run-time sizes it is a Size, which code
    telling indices from slices must see as an integer (it counted as a kept dim, and a
    sum of such products over t, stacked into one, read the wrong axis)."""

    def f(x, w):
        n, h = x.shape[0], 0
        for t in range(4):
            h = h + x[n - 1, t] @ w[t]
        return h

    compiled = irgrad.compile(f, dynamic=True, backend="llvm")
    rng = np.random.default_rng(0)
    w = irgrad.tensor(rng.standard_normal((4, 5, 6)).astype(np.float32))
    for batch in (3, 4, 5, 6, 6, 9, 9, 3):
        x = irgrad.tensor(rng.standard_normal((batch, 4, 5)).astype(np.float32))
        np.testing.assert_allclose(compiled(x, w).numpy(), f(x, w).numpy(), rtol=1e-5, atol=1e-5)


def test_layouts_for_sizes_that_never_repeat_are_bounded(monkeypatch):
    """Past MOST_LAYOUTS sizes laid out, the layouts are dropped (and made again when a
    size comes back): memory does not grow with every sequence length ever seen."""
    monkeypatch.setattr(sizes, "MOST_LAYOUTS", 4)
    compiled = irgrad.compile(lambda x: (x * 3.0).sum(0), dynamic=True, backend="llvm")
    for batch in (5, 6, *range(7, 20), *range(7, 20)):
        x = irgrad.randn(batch, 3)
        np.testing.assert_allclose(compiled(x).numpy(), (x * 3.0).sum(0).numpy(), rtol=1e-6)
    (entry,) = compiled._compiled.cache
    run = entry.built.run_forward
    assert len(run._runs) <= 4 and all(len(p._instances) <= 4 for p in run.run_time_programs)


_INDEXING = {
    "gather": lambda x, i: x.gather(0, i.unsqueeze(1).expand(-1, x.shape[1])),
    "index_select": lambda x, i: x.index_select(0, i) * 2,
    "getitem": lambda x, i: x[i] + 1,
    "take_along_dim": lambda x, i: irgrad.take_along_dim(x, i.unsqueeze(1), dim=0),
}


@pytest.mark.parametrize("name", list(_INDEXING))
def test_an_index_range_check_over_a_dynamic_size_is_one_graph(name):
    """An index is checked against the size of the dimension it indexes, and the check's
    message names that size: as the attribute ``{high}``, not as text, so the graph is one
    for every size (it was one per size).  Out-of-range indices still raise eager's error,
    with the size of the call."""
    fn = _INDEXING[name]
    compiled = irgrad.compile(fn, dynamic=True, backend="llvm")
    rng = np.random.default_rng(3)
    for rows in (6, 7, 8, 11, 11, 20, 20, 9, 9, 31, 31):
        x = irgrad.tensor(rng.standard_normal((rows, 3)).astype(np.float32))
        i = irgrad.tensor(rng.integers(0, rows, 4))
        np.testing.assert_array_equal(compiled(x, i).numpy(), fn(x, i).numpy())
    explanation = str(assert_graphs_answered(compiled))
    assert "one graph for every size of B" in explanation and "specialising per size" not in explanation
    assert served(explanation)[1] >= 3
    for rows in (20, 31):  # sizes its program has served: the native check finds the index
        x = irgrad.randn(rows, 3)
        bad = irgrad.tensor(np.array([0, rows, 1]))
        with pytest.raises((IndexError, RuntimeError), match=f"with size {rows}") as error:
            compiled(x, bad)
        with pytest.raises(error.type, match=re.escape(str(error.value))):
            fn(x, bad)


class _TinyGPT(irgrad.nn.Module):
    """Token and position embeddings (the positions ``arange(T)``), one causal
    self-attention layer (its mask a slice of a buffer) and a head over the vocabulary."""

    def __init__(self, vocabulary: int = 23, width: int = 8, longest: int = 48) -> None:
        super().__init__()
        nn = irgrad.nn
        self.tokens, self.positions = nn.Embedding(vocabulary, width), nn.Embedding(longest, width)
        self.norm, self.qkv, self.head = (
            nn.LayerNorm(width),
            nn.Linear(width, 3 * width),
            nn.Linear(width, vocabulary),
        )
        self.register_buffer("causal", irgrad.tril(irgrad.ones(longest, longest)).view(1, longest, longest))

    def forward(self, idx):
        length = idx.shape[1]
        x = self.tokens(idx) + self.positions(irgrad.arange(0, length, dtype=irgrad.long))
        q, k, v = self.qkv(self.norm(x)).split(x.shape[-1], dim=2)
        scores = (q @ k.transpose(-2, -1)) * x.shape[-1] ** -0.5
        scores = scores.masked_fill(self.causal[:, :length, :length] == 0, float("-inf"))
        return self.head(x + F.softmax(scores, dim=-1) @ v).transpose(1, 2)  # (N, classes, T)


def draw_tokens(rng, length):
    """Three sequences of ``length`` tokens for :class:`_TinyGPT`, and their targets."""
    tokens = irgrad.tensor(rng.integers(0, 23, (3, length)))
    return tokens, irgrad.tensor(rng.integers(0, 23, (3, length)))


def test_positions_counted_over_a_dynamic_sequence_are_one_graph():
    """A transformer embeds the positions ``arange(T)``: a constant of each trace that
    counts ``0 .. T-1``, an ``arange`` over the sequence length in the symbolic graph, so
    training over sequences of any length is one graph (it was one per length), run
    natively, with eager's losses and parameters."""
    lengths = (9, 10, 11, 14, 14, 20, 20, 31, 31, 12, 12, 40, 40)
    step = _trains_as_eager(_TinyGPT, lengths, features=0, classes=23, draw=draw_tokens)
    explanation = str(assert_graphs_answered(step))
    assert "one graph for every size of B" in explanation and "specialising per size" not in explanation
    assert "arange(shape=(B,), start=0, step=1, dtype=i64)" in explanation
    assert served(explanation)[1] >= 4


@pytest.mark.parametrize("transposed", [False, True])
def test_a_products_form_is_chosen_by_its_rows_at_run_time(transposed):
    """Which tiled form multiplies (by broadcast or from copied panels for a row-major B;
    by dot products or packed panels for a transposed one) depends on A's rows only
    through a threshold: with run-time sizes it is a branch, so one program serves
    batches on both sides of it (it was a program per side), with eager's values.  Every
    product is tiled, as where no BLAS is found (a host without 512-bit vectors gives
    this k to BLAS)."""
    from irgrad.codegen import blas

    def product(x, w):
        return (x @ (w.t() if transposed else w)).relu()

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(blas, "gemm", lambda dtype: None)
        compiled = irgrad.compile(product, dynamic=True, backend="llvm")
        w = irgrad.randn(*((200, 160) if transposed else (160, 200)))
        for batch in (5, 6, 7, 40, 41, 7, 41, 100, 100, 3, 3):
            x = irgrad.randn(batch, 160)
            np.testing.assert_allclose(compiled(x, w).numpy(), product(x, w).numpy(), rtol=1e-4, atol=1e-4)
    programs, served_sizes = served(assert_graphs_answered(compiled))
    assert programs == 1 and served_sizes >= 4


_COUNTS = {
    "positions": lambda x: x + irgrad.arange(x.shape[1]),
    "from one": lambda x: x * irgrad.arange(1, x.shape[1] + 1),
    "by two": lambda x: x - irgrad.arange(0, 2 * x.shape[1], 2).float() / 3,
    "down": lambda x: x * irgrad.arange(x.shape[1] - 1, -1, -1),  # the start is a size: per size
    "as index": lambda x: x[:, irgrad.arange(x.shape[1] - 1)] * 2,
    "int32 rows": lambda x: x.t() * irgrad.arange(3, 3 + x.shape[1], dtype=irgrad.int32).view(-1, 1),
    "columns": lambda x: x + irgrad.arange(x.shape[0] * x.shape[1]).view(x.shape[0], x.shape[1]),
}


@pytest.mark.parametrize("name", list(_COUNTS))
def test_counts_over_a_dynamic_size_equal_eager(name):
    """``arange`` over a size, in every role: whatever graph (or graphs) the compiler
    makes, each call equals eager's, values and dtypes."""
    fn = _COUNTS[name]
    compiled = irgrad.compile(fn, dynamic=True, backend="llvm")
    rng = np.random.default_rng(7)
    for length in (5, 6, 7, 9, 9, 16, 16, 2, 2, 33, 33):
        x = irgrad.tensor(rng.standard_normal((3, length)).astype(np.float32))
        expected, got = fn(x), compiled(x)
        assert got.dtype == expected.dtype
        np.testing.assert_array_equal(got.numpy(), expected.numpy())
    assert_graphs_answered(compiled)


@pytest.mark.parametrize("joined", [False, True])
def test_an_elementwise_loop_splits_across_threads_by_a_run_time_branch(joined):
    """An elementwise loop splits across the thread pool from 2^19 elements: with run-time
    sizes that is a branch, so one program serves sizes on both sides (it was a program
    per side), with eager's values.  ``joined``: two loops over one space joined into
    one with two results."""

    def fn(x):
        y = (x * 2).exp() + x
        return (y, x.tanh() * 3) if joined else y

    before = irgrad.get_num_threads()
    irgrad.set_num_threads(2)
    try:
        compiled = irgrad.compile(fn, dynamic=True, backend="llvm")
        for rows in (5, 6, 7, 200, 201, 7, 201, 150, 150, 9, 9):
            x = irgrad.randn(rows, 4096)
            for got, want in zip(*(([compiled(x)], [fn(x)]) if not joined else (compiled(x), fn(x)))):
                np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6, atol=1e-6)
    finally:
        irgrad.set_num_threads(before)
    programs, served_sizes = served(assert_graphs_answered(compiled))
    assert programs == 1 and served_sizes >= 4


class _CausalAttention(irgrad.nn.Module):
    """Self-attention over a sequence with a causal mask: PyTorch's ``is_causal=True``, or
    ``nn.MultiheadAttention`` with the mask ``Transformer.generate_square_subsequent_mask``
    makes (both a constant triangle of each trace)."""

    def __init__(self, multihead: bool) -> None:
        super().__init__()
        self.multihead = multihead
        self.embed, self.head = irgrad.nn.Embedding(11, 8), irgrad.nn.Linear(8, 11)
        self.attention = irgrad.nn.MultiheadAttention(8, 2, batch_first=True)

    def forward(self, tokens):
        x = self.embed(tokens)
        length = x.shape[1]
        if self.multihead:
            mask = irgrad.nn.Transformer.generate_square_subsequent_mask(length)
            x = x + self.attention(x, x, x, attn_mask=mask, need_weights=False)[0]
        else:
            q = x.view(x.shape[0], length, 2, 4).transpose(1, 2)
            x = x + F.scaled_dot_product_attention(q, q, q, is_causal=True).transpose(1, 2).reshape(x.shape)
        return self.head(x).transpose(1, 2)  # (N, classes, T)


@pytest.mark.parametrize("multihead", [False, True])
def test_causal_attention_over_a_dynamic_sequence_is_one_graph(multihead):
    """A causal mask is a triangle over the sequence length: a ``tri`` of the symbolic
    graph, so causal attention trains over sequences of any length with one graph (it was
    one per length, and eager after 8 lengths), with eager's losses and parameters."""

    def draw(rng, length):
        return irgrad.tensor(rng.integers(0, 11, (2, length))), irgrad.tensor(
            rng.integers(0, 11, (2, length))
        )

    lengths = (6, 7, 8, 12, 12, 20, 20, 9, 9, 33, 33)
    step = _trains_as_eager(lambda: _CausalAttention(multihead), lengths, features=0, classes=11, draw=draw)
    explanation = str(assert_graphs_answered(step))
    assert "one graph for every size of B" in explanation and "specialising per size" not in explanation
    assert "= tri(shape=(" in explanation
    assert served(explanation)[1] >= 3


def _symbolic_product_graph():
    """The symbolic forward graph of ``x.t() @ w`` with ``x``'s columns dynamic, and ``w``:
    its build takes A's column stride, ``B``, for below 1024 or not (see
    tiled_gemm.COPIED_A_STRIDE)."""
    compiled = irgrad.compile(lambda x, w: x.t() @ w, dynamic=True, backend="llvm")
    w = irgrad.randn(16, 8)
    for batch in (5, 6):
        compiled(irgrad.randn(16, batch), w)
    return compiled._compiled.entries[-1].built.forward, w.numpy()


def _at(program, batch: int, w: np.ndarray) -> np.ndarray:
    x = np.random.default_rng(batch).standard_normal((16, batch)).astype(np.float32)
    (got,) = program.at({"B": batch})([x, w])
    np.testing.assert_allclose(got, x.T @ w, rtol=1e-5, atol=1e-5)
    return got


def test_a_program_with_run_time_sizes_comes_from_the_disk_where_its_facts_hold(tmp_path, monkeypatch):
    """A program with run-time sizes is kept on disk with the facts its build took about
    the sizes: a build whose sizes agree with them takes it without emitting, and serves
    the sizes it served, with the same answers; a build at sizes where they do not hold
    (a transposed operand copied first from a long stride on) emits its own, kept beside
    the first."""
    from irgrad.codegen import program_cache
    from irgrad.compiler.backends import _run_time_program

    graph, w = _symbolic_product_graph()
    monkeypatch.setenv("IRGRAD_CACHE_DIR", str(tmp_path))
    first, _ = _run_time_program(graph, {"B": 7}, {})
    again, _ = _run_time_program(graph, {"B": 9}, {})
    assert not first.from_cache and again.from_cache
    assert [s.llvm_ir for s in again.segments] == [s.llvm_ir for s in first.segments]
    assert again.assumptions.facts == first.assumptions.facts
    for batch in (2, 7, 9, 31, 1023):
        np.testing.assert_array_equal(_at(again, batch, w), _at(first, batch, w))
    assert again.at({"B": 1024}) is None and first.at({"B": 1024}) is None
    long, _ = _run_time_program(graph, {"B": 2000}, {})
    assert not long.from_cache and long.at({"B": 7}) is None
    (entry,) = (tmp_path / "programs").iterdir()
    assert len(program_cache.load(entry.stem)) == 2
    from_disk, _ = _run_time_program(graph, {"B": 1500}, {})
    assert from_disk.from_cache and from_disk.assumptions.facts == long.assumptions.facts
    for batch in (1024, 1500, 2000):
        np.testing.assert_array_equal(_at(from_disk, batch, w), _at(long, batch, w))


def test_a_new_process_takes_a_program_with_run_time_sizes_from_the_disk(tmp_path):
    """Another process takes the program from the disk (its symbols are the emitting
    build's) and trains as eager at sizes on both sides of where it was built."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    child = (
        "import sys; sys.path.insert(0, sys.argv[1])\n"
        "from tests.test_codegen_run_time_sizes import _TinyGPT, _trains_as_eager, draw_tokens\n"
        "step = _trains_as_eager(_TinyGPT, (9, 10, 11, 11, 14, 14, 30, 30), features=0, classes=23, draw=draw_tokens)\n"
        "programs = [p for e in step._compiled.entries for run in (e.built.run_forward, e.built.run_backward)\n"
        "            for p in getattr(run, 'run_time_programs', [])]\n"
        "print(len(programs), sum(p.from_cache for p in programs))\n"
    )
    env = {**os.environ, "IRGRAD_CACHE_DIR": str(tmp_path)}
    root = str(Path(__file__).parent.parent)
    runs = [
        subprocess.run(
            [sys.executable, "-c", child, root], env=env, capture_output=True, text=True, check=True
        ).stdout.split()[-2:]
        for _ in range(2)
    ]
    assert runs[0][0] == runs[1][0] != "0"
    assert runs[0][1] == "0" and runs[1][1] == runs[1][0]


def _generate(model, tokens, steps: int):
    """Greedy generation: the sequence grows by a token a call (no size repeats)."""
    for _ in range(steps):
        with irgrad.no_grad():
            logits = model(tokens)[:, :, -1]
        tokens = irgrad.cat([tokens, logits.argmax(dim=1, keepdim=True)], dim=1)
    return tokens


def test_a_generation_loop_runs_new_sizes_eagerly_and_checks_them_when_they_come_again():
    """A generation loop calls the compiled model at a new length each time: checking each
    (a traced call, many eager calls' time) never pays back, so after a few new sizes in
    a row a new size runs eagerly, untraced, and is checked when it comes again. Every
    pass gives eager's tokens; the third pass over the lengths runs natively."""
    irgrad.manual_seed(4)
    model = _TinyGPT(width=16, longest=64).eval()
    compiled = irgrad.compile(model, dynamic=True, backend="llvm")
    start = irgrad.tensor(np.random.default_rng(0).integers(0, 23, (2, 4)))
    want = _generate(model, start, 30).numpy()
    for _ in range(3):
        np.testing.assert_array_equal(_generate(compiled, start, 30).numpy(), want)
    explanation = str(assert_graphs_answered(compiled))
    untraced = int(
        re.search(r"(\d+) call\(s\) at sizes not seen before ran eagerly, untraced", explanation)[1]
    )
    assert untraced >= 20
    assert served(explanation)[1] >= 25


def test_a_new_size_after_sizes_that_repeat_is_checked_at_once():
    """A size that comes between calls at checked sizes (a data loader's last, smaller
    batch) is checked at its first call and runs natively from its second."""
    compiled = irgrad.compile(lambda x: (x * 2).sum(0), dynamic=True, backend="llvm")
    for size in (8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 5, 8, 5):
        x = irgrad.randn(size, 3)
        np.testing.assert_allclose(compiled(x).numpy(), (x * 2).sum(0).numpy(), rtol=1e-6)
    explanation = str(assert_graphs_answered(compiled))
    assert "untraced" not in explanation
    assert compiled._compiled.entries[-1].checked_sizes >= {(5,), (8,), (9,)}
