"""irgrad.utils.data: datasets, samplers, collation and DataLoader, against PyTorch's."""

import collections
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import irgrad
from irgrad.utils.data import (
    BatchSampler,
    ChainDataset,
    ConcatDataset,
    DataLoader,
    Dataset,
    IterableDataset,
    RandomSampler,
    SequentialSampler,
    Subset,
    SubsetRandomSampler,
    TensorDataset,
    WeightedRandomSampler,
    default_collate,
    default_convert,
    get_worker_info,
    random_split,
)

Point = collections.namedtuple("Point", ["x", "y"])


def normalize(obj):
    """A comparable form of a collated batch: tensors become (dtype name, values)."""
    if hasattr(obj, "numpy") and hasattr(obj, "dtype") and not isinstance(obj, np.ndarray):
        return ("tensor", str(obj.dtype).split(".")[-1], obj.detach().numpy().tolist())
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return ("namedtuple", type(obj).__name__, [normalize(o) for o in obj])
    if isinstance(obj, dict):
        return ("dict", type(obj).__name__, {k: normalize(v) for k, v in obj.items()})
    if isinstance(obj, (list, tuple)):
        return (type(obj).__name__, [normalize(o) for o in obj])
    return obj


def batch_samples():
    """Sample lists exercising every default_collate rule (no tensors: shared by both libraries)."""
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal((2, 3)).astype(np.float32) for _ in range(3)]
    return [
        [1, 2, 3],
        [1.5, 2.5, -0.25],
        [True, False, True],
        arrays,
        [a.astype(np.int32) for a in arrays],
        [np.float32(1.5), np.float32(2.5)],
        [np.int64(3), np.int64(4)],
        [np.bool_(True), np.bool_(False)],
        ["a", "bc"],
        [b"x", b"y"],
        [(1, "a", 2.0), (2, "b", 3.0)],
        [[1, 2.0], [3, 4.0]],
        [{"x": 1, "y": [1.0, np.float64(2.0)]}, {"x": 2, "y": [3.0, np.float64(4.0)]}],
        [collections.OrderedDict(a=1, b=2.0), collections.OrderedDict(a=3, b=4.0)],
        [Point(1, 2.0), Point(3, 4.0)],
        [Point(np.ones(2), "p"), Point(np.zeros(2), "q")],
        [{"nested": (np.arange(3), [True, 1])}] * 2,
    ]


def test_default_collate_matches_torch():
    pytest.importorskip("torch")
    from torch.utils.data import default_collate as torch_collate

    for samples in batch_samples():
        ours = normalize(default_collate(samples))
        theirs = normalize(torch_collate(samples))
        assert ours == theirs, samples


def test_default_collate_tensors_matches_torch():
    torch = pytest.importorskip("torch")
    from torch.utils.data import default_collate as torch_collate

    rng = np.random.default_rng(1)
    for dtype in ("float32", "float64", "int64", "int32", "bool", "uint8"):
        arrs = [(rng.standard_normal((3, 2)) * 3).astype(dtype) for _ in range(4)]
        ours = default_collate([irgrad.tensor(a) for a in arrs])
        theirs = torch_collate([torch.tensor(a) for a in arrs])
        assert normalize(ours) == normalize(theirs)
        pairs = default_collate([(irgrad.tensor(a), i) for i, a in enumerate(arrs)])
        tpairs = torch_collate([(torch.tensor(a), i) for i, a in enumerate(arrs)])
        assert normalize(pairs) == normalize(tpairs)
    # 0-d tensors stack into a vector
    assert normalize(default_collate([irgrad.tensor(1.0), irgrad.tensor(2.0)])) == normalize(
        torch_collate([torch.tensor(1.0), torch.tensor(2.0)])
    )


def test_default_collate_float_is_float64_and_errors():
    torch = pytest.importorskip("torch")
    from torch.utils.data import default_collate as torch_collate

    assert default_collate([1.0, 2.0]).dtype == irgrad.float64
    assert torch_collate([1.0, 2.0]).dtype == torch.float64
    for bad in ([object(), object()], [np.array(["a"]), np.array(["b"])]):
        with pytest.raises(TypeError) as ours:
            default_collate(bad)
        with pytest.raises(TypeError) as theirs:
            torch_collate(bad)
        assert str(ours.value) == str(theirs.value)
    with pytest.raises(RuntimeError, match="each element in list of batch should be of equal size"):
        default_collate([[1, 2], [1]])


def test_default_collate_keeps_autograd():
    a = irgrad.ones(2, requires_grad=True)
    b = irgrad.ones(2, requires_grad=True)
    out = default_collate([a * 2, b * 3])
    out.sum().backward()
    assert a.grad.tolist() == [2.0, 2.0] and b.grad.tolist() == [3.0, 3.0]


def test_default_convert_matches_torch():
    pytest.importorskip("torch")
    from torch.utils.data import default_convert as torch_convert

    cases = [
        1,
        2.5,
        "s",
        np.arange(3),
        np.float32(2.0),
        (np.ones(2), 1),
        [np.ones(2), "x"],
        {"a": np.zeros(2), "b": 3},
        Point(np.ones(1), 2),
        np.array(["a", "b"]),
    ]
    for case in cases:
        ours, theirs = default_convert(case), torch_convert(case)
        if isinstance(theirs, np.ndarray):
            assert isinstance(ours, np.ndarray)
            continue
        assert normalize(ours) == normalize(theirs), case


def make_xy(n, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 3)).astype(np.float32), rng.integers(0, 5, n)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 40), batch_size=st.integers(1, 12), drop_last=st.booleans())
def test_sequential_loader_matches_torch(n, batch_size, drop_last):
    torch = pytest.importorskip("torch")
    x, y = make_xy(n)
    ours = DataLoader(
        TensorDataset(irgrad.tensor(x), irgrad.tensor(y)), batch_size=batch_size, drop_last=drop_last
    )
    theirs = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(torch.tensor(x), torch.tensor(y)),
        batch_size=batch_size,
        drop_last=drop_last,
    )
    assert len(ours) == len(theirs)
    got, want = list(ours), list(theirs)
    assert len(got) == len(want) == len(ours)
    for a, b in zip(got, want):
        assert normalize(a) == normalize(b)


def test_tensor_dataset_fast_path_matches_generic_collate():
    x, y = make_xy(23)
    ds = TensorDataset(irgrad.tensor(x), irgrad.tensor(y))
    fast = list(DataLoader(ds, batch_size=5))
    slow = list(DataLoader(ds, batch_size=5, collate_fn=lambda batch: default_collate(batch)))
    assert [normalize(b) for b in fast] == [normalize(b) for b in slow]
    assert isinstance(fast[0], list) and isinstance(slow[0], list)
    # with a tensor that requires grad, the batch stays in the autograd graph
    w = irgrad.tensor(x, requires_grad=True)
    (xb, yb) = next(iter(DataLoader(TensorDataset(w, irgrad.tensor(y)), batch_size=4, shuffle=True)))
    xb.sum().backward()
    assert w.grad.sum().item() == 4 * 3 and yb.dtype == irgrad.int64


def test_tensor_dataset_errors_and_items():
    torch = pytest.importorskip("torch")
    with pytest.raises(AssertionError, match="Size mismatch between tensors"):
        TensorDataset(irgrad.ones(2), irgrad.ones(3))
    with pytest.raises(AssertionError, match="Size mismatch between tensors"):
        torch.utils.data.TensorDataset(torch.ones(2), torch.ones(3))
    ds = TensorDataset(irgrad.arange(6).reshape(3, 2), irgrad.arange(3))
    assert len(ds) == 3
    row, label = ds[1]
    assert row.tolist() == [2, 3] and label.item() == 1


def test_shuffle_reproducible_under_manual_seed():
    ds = TensorDataset(irgrad.arange(50))

    def epochs(loader, k=3):
        return [[t.tolist() for (t,) in loader] for _ in range(k)]

    irgrad.manual_seed(123)
    first = epochs(DataLoader(ds, batch_size=8, shuffle=True))
    irgrad.manual_seed(123)
    second = epochs(DataLoader(ds, batch_size=8, shuffle=True))
    assert first == second
    for epoch in first:
        flat = [i for batch in epoch for i in batch]
        assert sorted(flat) == list(range(50))
    assert first[0] != first[1]  # each epoch draws a new permutation
    assert [i for b in first[0] for i in b] != list(range(50))


def test_loader_generator_is_independent_of_global_seed():
    ds = list(range(30))
    runs = []
    for global_seed in (1, 2):
        irgrad.manual_seed(global_seed)
        g = irgrad.Generator().manual_seed(7)
        runs.append([b.tolist() for b in DataLoader(ds, batch_size=4, shuffle=True, generator=g)])
    assert runs[0] == runs[1]


def test_shuffle_drop_last_len_matches_torch():
    torch = pytest.importorskip("torch")
    for n, bs, drop in [(10, 3, True), (10, 3, False), (9, 3, True), (2, 5, True), (2, 5, False)]:
        ours = DataLoader(list(range(n)), batch_size=bs, shuffle=True, drop_last=drop)
        theirs = torch.utils.data.DataLoader(list(range(n)), batch_size=bs, shuffle=True, drop_last=drop)
        assert len(ours) == len(theirs)
        assert [len(b) for b in ours] == [len(b) for b in theirs]


def test_batch_size_none_disables_batching():
    torch = pytest.importorskip("torch")
    data = [np.arange(2), np.arange(2, 4)]
    ours = list(DataLoader(data, batch_size=None))
    theirs = list(torch.utils.data.DataLoader(data, batch_size=None))
    assert [normalize(o) for o in ours] == [normalize(t) for t in theirs]
    assert list(DataLoader(range(4), batch_size=None)) == [0, 1, 2, 3]
    assert len(DataLoader(range(4), batch_size=None)) == 4


def test_custom_collate_fn_and_batch_sampler():
    loader = DataLoader(range(7), batch_size=3, collate_fn=lambda batch: sum(batch))
    assert list(loader) == [3, 12, 6]
    loader = DataLoader(range(10), batch_sampler=[[0, 1], [5, 9, 2]])
    assert [b.tolist() for b in loader] == [[0, 1], [5, 9, 2]]
    assert len(loader) == 2


def test_sampler_argument():
    loader = DataLoader(list(range(10)), batch_size=4, sampler=[9, 8, 7, 6, 5])
    assert [b.tolist() for b in loader] == [[9, 8, 7, 6], [5]]


def test_loader_argument_errors_match_torch():
    torch = pytest.importorskip("torch")
    cases = [
        dict(shuffle=True, sampler=[1, 2]),
        dict(batch_sampler=[[1]], batch_size=2),
        dict(batch_sampler=[[1]], shuffle=True),
        dict(batch_sampler=[[1]], drop_last=True),
        dict(batch_size=None, drop_last=True),
        dict(num_workers=-1),
        dict(batch_size=0),
        dict(batch_size=2, drop_last=1),
        dict(persistent_workers=True),
        dict(prefetch_factor=2),
        dict(num_workers=2, prefetch_factor=-1),
        dict(timeout=-1),
    ]
    for kwargs in cases:
        with pytest.raises(ValueError) as ours:
            DataLoader(list(range(10)), **kwargs)
        with pytest.raises(ValueError) as theirs:
            torch.utils.data.DataLoader(list(range(10)), **kwargs)
        assert str(ours.value) == str(theirs.value), kwargs


def test_num_workers_gives_the_same_batches():
    # worker processes in detail: tests/test_dataloader_workers.py
    ds = TensorDataset(irgrad.arange(20.0))
    serial = [b[0].tolist() for b in DataLoader(ds, batch_size=6)]
    workers = [b[0].tolist() for b in DataLoader(ds, batch_size=6, num_workers=2, timeout=60)]
    assert serial == workers
    assert get_worker_info() is None


class Squares(Dataset):
    def __init__(self, n):
        self.n = n
        self.getitems_calls = 0

    def __getitem__(self, i):
        return {"i": i, "sq": float(i * i)}

    def __len__(self):
        return self.n


class BatchFetch(Squares):
    def __getitems__(self, indices):
        self.getitems_calls += 1
        return [self[i] for i in indices]


def test_dict_samples_and_getitems():
    batches = list(DataLoader(Squares(5), batch_size=2))
    assert batches[0]["i"].tolist() == [0, 1] and batches[0]["sq"].dtype == irgrad.float64
    ds = BatchFetch(5)
    assert len(list(DataLoader(ds, batch_size=2))) == 3
    assert ds.getitems_calls == 3


def test_concat_subset_and_add():
    torch = pytest.importorskip("torch")
    a, b = Squares(3), Squares(4)
    cat = a + b
    assert isinstance(cat, ConcatDataset) and len(cat) == 7
    tcat = torch.utils.data.ConcatDataset([list(range(3)), list(range(4))])
    ocat = ConcatDataset([list(range(3)), list(range(4))])
    assert [ocat[i] for i in range(-7, 7)] == [tcat[i] for i in range(-7, 7)]
    assert ocat.cumulative_sizes == tcat.cumulative_sizes
    with pytest.raises(ValueError, match="absolute value of index should not exceed dataset length"):
        ocat[-8]
    with pytest.raises(AssertionError, match="datasets should not be an empty iterable"):
        ConcatDataset([])
    sub = Subset(list(range(10, 20)), [3, 1, 4])
    assert len(sub) == 3 and [sub[i] for i in range(3)] == [13, 11, 14]
    assert [b.tolist() for b in DataLoader(sub, batch_size=2)] == [[13, 11], [14]]


@settings(max_examples=40, deadline=None)
@given(n=st.integers(0, 60), k=st.integers(1, 5), data=st.data())
def test_random_split_lengths_match_torch(n, k, data):
    torch = pytest.importorskip("torch")
    weights = data.draw(st.lists(st.integers(1, 10), min_size=k, max_size=k))
    fractions = [w / sum(weights) for w in weights]
    fractions[-1] = 1 - sum(fractions[:-1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            theirs = [len(s) for s in torch.utils.data.random_split(range(n), fractions)]
        except ValueError as exc:
            with pytest.raises(ValueError, match=str(exc)):
                random_split(range(n), fractions)
            return
        parts = random_split(range(n), fractions)
    assert [len(p) for p in parts] == theirs
    assert sorted(i for p in parts for i in p) == list(range(n))


def test_random_split_integer_lengths_and_reproducibility():
    irgrad.manual_seed(5)
    a = [list(s) for s in random_split(range(10), [3, 7])]
    irgrad.manual_seed(5)
    b = [list(s) for s in random_split(range(10), [3, 7])]
    assert a == b and [len(s) for s in a] == [3, 7]
    assert sorted(a[0] + a[1]) == list(range(10))
    g1, g2 = irgrad.Generator().manual_seed(3), irgrad.Generator().manual_seed(3)
    assert [list(s) for s in random_split(range(10), [5, 5], generator=g1)] == [
        list(s) for s in random_split(range(10), [5, 5], generator=g2)
    ]
    with pytest.raises(
        ValueError, match="Sum of input lengths does not equal the length of the input dataset!"
    ):
        random_split(range(10), [3, 3])
    with pytest.raises(ValueError, match="Fraction at index 0 is not between 0 and 1"):
        random_split(range(10), [1.5, -0.5])
    with pytest.warns(UserWarning, match="Length of split at index 1 is 0"):
        random_split(range(1), [0.5, 0.5])


def test_random_sampler():
    irgrad.manual_seed(0)
    s = RandomSampler(range(10))
    first, second = list(s), list(s)
    assert sorted(first) == list(range(10)) and first != second
    irgrad.manual_seed(0)
    assert list(RandomSampler(range(10))) == first
    long = list(RandomSampler(range(4), num_samples=10))
    assert len(long) == 10 and sorted(long[:4]) == sorted(long[4:8]) == [0, 1, 2, 3]
    repl = list(RandomSampler(range(3), replacement=True, num_samples=50))
    assert len(repl) == 50 and set(repl) <= {0, 1, 2}
    with pytest.raises(ValueError, match="num_samples should be a positive integer value"):
        RandomSampler([])
    with pytest.raises(TypeError, match="replacement should be a boolean value"):
        RandomSampler(range(3), replacement=1)


def test_subset_and_weighted_samplers():
    g = irgrad.Generator().manual_seed(0)
    assert sorted(SubsetRandomSampler([5, 7, 9], generator=g)) == [5, 7, 9]
    weights = [0.0, 1.0, 3.0]
    draws = list(WeightedRandomSampler(weights, 4000, generator=g))
    counts = np.bincount(draws, minlength=3)
    assert counts[0] == 0 and abs(counts[2] / counts[1] - 3.0) < 0.4
    no_repl = list(WeightedRandomSampler([1, 2, 3, 0], 3, replacement=False, generator=g))
    assert sorted(no_repl) == [0, 1, 2]
    with pytest.raises(RuntimeError, match="cannot sample n_sample > prob_dist.size"):
        list(WeightedRandomSampler([1, 0], 2, replacement=False))
    with pytest.raises(RuntimeError, match="invalid multinomial distribution"):
        list(WeightedRandomSampler([-1, 2], 2))
    with pytest.raises(ValueError, match="weights should be a 1d sequence"):
        WeightedRandomSampler([[1, 2]], 2)


@settings(max_examples=30, deadline=None)
@given(n=st.integers(0, 30), batch_size=st.integers(1, 8), drop_last=st.booleans())
def test_batch_sampler_matches_torch(n, batch_size, drop_last):
    torch = pytest.importorskip("torch")
    ours = BatchSampler(SequentialSampler(range(n)), batch_size, drop_last)
    theirs = torch.utils.data.BatchSampler(
        torch.utils.data.SequentialSampler(range(n)), batch_size, drop_last
    )
    assert list(ours) == list(theirs) and len(ours) == len(theirs)


class Stream(IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        return iter(range(self.n))

    def __len__(self):
        return self.n


def test_iterable_dataset_matches_torch():
    torch = pytest.importorskip("torch")

    class TorchStream(torch.utils.data.IterableDataset):
        def __iter__(self):
            return iter(range(7))

        def __len__(self):
            return 7

    for kwargs in (dict(batch_size=3), dict(batch_size=3, drop_last=True), dict(batch_size=None)):
        ours = DataLoader(Stream(7), **kwargs)
        theirs = torch.utils.data.DataLoader(TorchStream(), **kwargs)
        assert [normalize(b) for b in ours] == [normalize(b) for b in theirs]
        assert len(ours) == len(theirs)
    with pytest.raises(ValueError, match="expected unspecified shuffle option"):
        DataLoader(Stream(3), shuffle=True)
    chained = Stream(2) + Stream(3)
    assert isinstance(chained, ChainDataset) and list(chained) == [0, 1, 0, 1, 2] and len(chained) == 5
