"""DataLoader(num_workers > 0): worker processes, as PyTorch's.

Every loader here gets a ``timeout`` so that a bug fails a test instead of hanging it,
and every test checks that it leaves no worker process behind.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import random
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
from worker_datasets import (
    WAIT,
    CountingBatches,
    DiesAt,
    Failing,
    InitRecorder,
    NeedsTwoArgs,
    Pid,
    Squares,
    Stream,
    Unpicklable,
    WaitsFor,
    WhoAmI,
    divide_by_zero,
    record_init,
)

import irgrad
from irgrad.utils.data import (
    BatchSampler,
    DataLoader,
    SequentialSampler,
    TensorDataset,
    get_worker_info,
)
from irgrad.utils.data.transport import dumps

ROOT = Path(__file__).resolve().parent.parent


def loader(dataset, **kwargs) -> DataLoader:
    if kwargs.get("num_workers", 0) > 0:
        kwargs.setdefault("timeout", WAIT)
    return DataLoader(dataset, **kwargs)


def plain(obj):
    """A comparable form of a batch (tensors become (dtype, values))."""
    if isinstance(obj, irgrad.Tensor):
        return (str(obj.dtype), obj.tolist())
    if isinstance(obj, dict):
        return {k: plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain(o) for o in obj]
    return obj


@pytest.fixture(autouse=True)
def no_workers_left_behind():
    yield
    gc.collect()  # an iterator kept alive by a test's traceback is collected here
    assert multiprocessing.active_children() == []


# --- same batches as the main process ----------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(batch_size=4),
        dict(batch_size=4, shuffle=True),
        dict(batch_size=5, drop_last=True, shuffle=True),
        dict(batch_size=None),
        dict(batch_sampler=BatchSampler(SequentialSampler(range(23)), 3, False)),
        dict(batch_size=3, collate_fn=lambda samples: [s["i"] for s in samples]),
    ],
)
def test_map_dataset_batches_equal_single_process(kwargs):
    irgrad.manual_seed(0)
    serial = [plain(b) for b in loader(Squares(), **kwargs)]
    irgrad.manual_seed(0)
    parallel = [plain(b) for b in loader(Squares(), num_workers=2, **kwargs)]
    assert parallel == serial


def test_tensor_dataset_shuffled_equals_single_process():
    ds = TensorDataset(irgrad.randn(50, 3), irgrad.arange(50))
    g0, g2 = irgrad.Generator().manual_seed(4), irgrad.Generator().manual_seed(4)
    serial = [plain(b) for b in loader(ds, batch_size=8, shuffle=True, generator=g0)]
    parallel = [plain(b) for b in loader(ds, batch_size=8, shuffle=True, generator=g2, num_workers=2)]
    assert parallel == serial
    assert g0.get_state().tolist() == g2.get_state().tolist()  # the same draws from the generator


def test_results_come_back_in_sampler_order_whatever_order_they_finish_in():
    # batch 0 (worker 0) cannot finish before batch 3 (worker 1) has started
    ds = WaitsFor(12, multiprocessing.get_context().Event(), waiter=0, setter=9)
    batches = [b.tolist() for b in loader(ds, batch_size=3, num_workers=2)]
    assert batches == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9, 10, 11]]


def test_in_order_false_yields_batches_as_they_arrive():
    # batch 0 waits for batch 4, which is only sent once a later batch has been yielded
    ds = WaitsFor(15, multiprocessing.get_context().Event(), waiter=0, setter=12)
    batches = [b.tolist() for b in loader(ds, batch_size=3, num_workers=2, in_order=False)]
    assert batches[0] != [0, 1, 2]
    assert sorted(batches) == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9, 10, 11], [12, 13, 14]]


# --- worker info and seeding -------------------------------------------------------------


def test_get_worker_info_in_workers_and_none_in_main():
    assert get_worker_info() is None
    samples = list(loader(WhoAmI(), batch_size=None, num_workers=2))
    assert [s["id"] for s in samples] == [0, 1] * 4
    assert all(s["num_workers"] == 2 and s["dataset_is_whoami"] for s in samples)
    seeds = {s["id"]: s["seed"] for s in samples}
    assert seeds[1] == seeds[0] + 1  # base_seed + worker id
    assert get_worker_info() is None


def test_worker_info_is_read_only():
    info = irgrad.utils.data.worker.WorkerInfo(id=0, num_workers=1, seed=3, dataset=None)
    with pytest.raises(AttributeError):
        info.id = 1


def test_base_seed_is_drawn_from_the_loader_generator_once_per_iterator():
    expected = int(irgrad.Generator().manual_seed(11).integers(0, 2**63, ()))
    g = irgrad.Generator().manual_seed(11)
    samples = list(loader(WhoAmI(), batch_size=None, num_workers=2, generator=g))
    assert {s["id"]: s["seed"] for s in samples} == {0: expected, 1: expected + 1}
    # the main process makes the same draw without workers, so what follows is the same
    single = irgrad.Generator().manual_seed(11)
    iter(DataLoader(Squares(), generator=single))
    assert single.get_state().tolist() == g.get_state().tolist()


def test_seeded_runs_are_reproducible_and_workers_draw_differently():
    def run():
        irgrad.manual_seed(0)
        return list(loader(WhoAmI(), batch_size=None, num_workers=2))

    first, second = run(), run()
    for a, b in zip(first, second):
        assert a["irgrad"].tolist() == b["irgrad"].tolist()
        assert (a["random"], a["numpy"]) == (b["random"], b["numpy"])
    worker0, worker1 = first[0], first[1]
    assert worker0["irgrad"].tolist() != worker1["irgrad"].tolist()
    assert worker0["random"] != worker1["random"] and worker0["numpy"] != worker1["numpy"]
    irgrad.manual_seed(1)
    assert list(loader(WhoAmI(), batch_size=None, num_workers=2))[0]["seed"] != worker0["seed"]


def test_workers_seed_irgrad_random_and_numpy_as_pytorch_does():
    pytest.importorskip("torch")
    from torch.utils.data._utils.worker import _generate_state

    for s in list(loader(WhoAmI(), batch_size=None, num_workers=2))[:2]:
        base_seed = s["seed"] - s["id"]
        irgrad.manual_seed(s["seed"])
        assert irgrad.randn(3).tolist() == s["irgrad"].tolist()
        assert random.Random(s["seed"]).random() == s["random"]
        assert np.random.RandomState(_generate_state(base_seed, s["id"])).rand() == s["numpy"]


def test_worker_init_fn_runs_in_each_worker_before_fetching():
    samples = list(loader(InitRecorder(), batch_size=None, num_workers=2, worker_init_fn=record_init))
    assert samples == ["init 0 of 2", "init 1 of 2"] * 2


# --- IterableDataset ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(batch_size=2),
        dict(batch_size=2, drop_last=True),
        dict(batch_size=None),
        dict(batch_size=3, prefetch_factor=1),
    ],
)
@pytest.mark.parametrize("n", [0, 1, 7, 11])
def test_iterable_dataset_sharded_by_worker_info_matches_torch(kwargs, n):
    torch = pytest.importorskip("torch")

    class TorchStream(torch.utils.data.IterableDataset):
        def __init__(self, n):
            self.n = n

        def __iter__(self):
            info = torch.utils.data.get_worker_info()
            return iter(range(info.id, self.n, info.num_workers))

    theirs = [
        plain(irgrad.tensor(b.tolist()) if hasattr(b, "tolist") else b)
        for b in torch.utils.data.DataLoader(TorchStream(n), num_workers=2, timeout=WAIT, **kwargs)
    ]
    ours = [plain(b) for b in loader(Stream(n), num_workers=2, **kwargs)]
    assert ours == theirs


def test_iterable_dataset_batches_per_worker():
    batches = [b.tolist() for b in loader(Stream(11), batch_size=2, num_workers=2)]
    assert batches == [[0, 2], [1, 3], [4, 6], [5, 7], [8, 10], [9]]
    dropped = [b.tolist() for b in loader(Stream(11), batch_size=2, num_workers=2, drop_last=True)]
    assert dropped == [[0, 2], [1, 3], [4, 6], [5, 7], [8, 10]]


def test_iterable_dataset_without_sharding_is_read_by_every_worker():
    samples = [int(b) for b in loader(Stream(5, shard=False), batch_size=None, num_workers=2)]
    assert sorted(samples) == sorted(list(range(5)) * 2)


def test_iterable_dataset_yielding_more_than_its_length_warns():
    class Liar(Stream):
        def __len__(self):
            return 2

    dl = loader(Liar(6), batch_size=None, num_workers=2)
    assert len(dl) == 2
    with pytest.warns(UserWarning, match="was reported to be 2"):
        assert len(list(dl)) == 6


# --- errors ------------------------------------------------------------------------------


def test_worker_exception_is_reraised_with_the_worker_traceback():
    with pytest.raises(ValueError) as info:
        list(loader(Failing(ValueError("bad sample")), batch_size=2, num_workers=2))
    message = str(info.value)
    assert message.startswith("Caught ValueError in DataLoader worker process 0.\nOriginal Traceback")
    assert "in __getitem__" in message and "raise self.exc" in message
    assert message.rstrip().endswith("ValueError: bad sample")


def test_worker_exception_messages_stay_readable():
    with pytest.raises(KeyError) as info:
        list(loader(Failing(KeyError("missing")), batch_size=2, num_workers=2))
    assert str(info.value).startswith("Caught KeyError in DataLoader worker process 0.\nOriginal Traceback")
    with pytest.raises(RuntimeError, match="Caught NeedsTwoArgs in DataLoader worker process 0"):
        list(loader(Failing(NeedsTwoArgs(1, 2)), batch_size=2, num_workers=2))


def test_worker_exception_of_a_local_class_arrives_as_runtime_error():
    class Local(Exception):
        pass

    with pytest.raises(RuntimeError, match="Caught Local in DataLoader worker process"):
        list(loader(Failing(Local("local")), batch_size=2, num_workers=2))


def test_the_loader_goes_on_after_a_worker_exception():
    it = iter(loader(Failing(ValueError("x"), at=2), batch_size=2, num_workers=2))
    assert next(it).tolist() == [0, 1]
    with pytest.raises(ValueError):
        next(it)
    assert [b.tolist() for b in it] == [[4, 5], [6, 7]]


def test_worker_init_fn_error_is_raised_with_the_first_batch():
    with pytest.raises(ZeroDivisionError, match="Caught ZeroDivisionError in DataLoader worker process"):
        list(loader(Squares(), batch_size=4, num_workers=2, worker_init_fn=divide_by_zero))


def test_a_batch_that_cannot_be_pickled_is_an_error_not_a_hang():
    with pytest.raises(AttributeError, match="Can't pickle local object"):
        list(loader(Unpicklable(), batch_size=None, num_workers=1))


def test_a_dead_worker_is_a_clear_error():
    it = iter(loader(DiesAt(), batch_size=2, num_workers=2))
    with pytest.raises(RuntimeError, match=r"DataLoader worker \(pid\(s\) \d+\) exited unexpectedly"):
        list(it)
    with pytest.raises(RuntimeError, match="exited unexpectedly"):  # and stays one
        next(it)


def test_timeout_raises_when_a_batch_takes_too_long():
    event = multiprocessing.get_context().Event()
    it = iter(DataLoader(WaitsFor(4, event, waiter=0, setter=99), batch_size=2, num_workers=1, timeout=0.2))
    with pytest.raises(RuntimeError, match=r"DataLoader timed out after 0.2 seconds"):
        next(it)
    event.set()  # let the worker finish, so that shutting down is quick
    assert next(it).tolist() == [0, 1]


# --- lifetime: shutdown, persistence, no process left behind ------------------------------


def _gone(pid: int) -> bool:
    """True once ``pid`` has exited (a zombie left to another parent counts as exited)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def test_workers_exit_when_the_epoch_ends():
    pids = {int(p) for b in loader(Pid(), batch_size=4, num_workers=2) for p in b}
    assert len(pids) == 2 and os.getpid() not in pids
    assert all(_gone(p) for p in pids)


def test_deleting_the_iterator_mid_epoch_stops_its_workers():
    it = iter(loader(Pid(), batch_size=4, num_workers=2))
    pids = {int(next(it)[0]), int(next(it)[0])}
    assert len(multiprocessing.active_children()) == 2
    del it
    assert multiprocessing.active_children() == []
    assert all(_gone(p) for p in pids)


def test_persistent_workers_serve_every_epoch():
    dl = loader(Pid(), batch_size=4, num_workers=2, persistent_workers=True)
    first = {int(p) for b in dl for p in b}
    for k, _ in enumerate(dl):  # an abandoned epoch: its late results are dropped
        if k == 1:
            break
    assert [len(b) for b in dl] == [4] * 10
    assert {int(p) for b in dl for p in b} == first
    assert len(multiprocessing.active_children()) == 2
    del dl
    assert multiprocessing.active_children() == []


def test_persistent_workers_give_the_same_batches():
    serial = [plain(b) for b in loader(Squares(), batch_size=4)]
    dl = loader(Squares(), batch_size=4, num_workers=2, persistent_workers=True)
    assert [plain(b) for b in dl] == serial
    assert [plain(b) for b in dl] == serial
    iterable = loader(Stream(7), batch_size=2, num_workers=2, persistent_workers=True)
    assert [b.tolist() for b in iterable] == [b.tolist() for b in iterable] == [[0, 2], [1, 3], [4, 6], [5]]


def test_workers_exit_when_the_main_process_dies():
    script = textwrap.dedent(
        """
        import os, signal, sys
        sys.path.insert(0, sys.argv[1])
        import irgrad
        from irgrad.utils.data import DataLoader, TensorDataset

        it = iter(DataLoader(TensorDataset(irgrad.arange(100.0)), batch_size=2, num_workers=2))
        next(it)
        print(*[w.pid for w in it._workers], flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(ROOT)], capture_output=True, text=True, timeout=WAIT
    )
    pids = [int(p) for p in done.stdout.split()]
    assert len(pids) == 2, done.stderr
    deadline = time.monotonic() + WAIT
    while not all(_gone(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert all(_gone(p) for p in pids)


# --- options -----------------------------------------------------------------------------


@pytest.mark.parametrize("prefetch_factor", [1, 3])
def test_prefetch_factor_bounds_the_batches_sent_ahead(prefetch_factor):
    CountingBatches.drawn = 0
    sampler = CountingBatches(SequentialSampler(range(40)), 2, False)
    it = iter(loader(Squares(40), batch_sampler=sampler, num_workers=2, prefetch_factor=prefetch_factor))
    assert CountingBatches.drawn == 2 * prefetch_factor
    next(it)
    assert CountingBatches.drawn == 2 * prefetch_factor + 1
    del it


@pytest.mark.parametrize("context", ["spawn", multiprocessing.get_context("forkserver")])
def test_other_start_methods(context):
    ds = TensorDataset(irgrad.arange(10.0).reshape(5, 2), irgrad.arange(5))
    got = [plain(b) for b in loader(ds, batch_size=2, num_workers=2, multiprocessing_context=context)]
    assert got == [plain(b) for b in loader(ds, batch_size=2)]


# torch's iterator, failing in __init__, complains in __del__ too
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_multiprocessing_context_errors_match_torch():
    torch = pytest.importorskip("torch")
    cases = [
        (ValueError, dict(num_workers=2, multiprocessing_context="thread")),
        (TypeError, dict(num_workers=2, multiprocessing_context=42)),
        (ValueError, dict(num_workers=0, multiprocessing_context="spawn")),
        (AssertionError, dict(num_workers=2, prefetch_factor=0)),
        (AssertionError, dict(timeout=5)),
    ]
    for exc, kwargs in cases:
        with pytest.raises(exc) as ours:
            iter(DataLoader(list(range(4)), **kwargs))
        with pytest.raises(exc) as theirs:
            iter(torch.utils.data.DataLoader(list(range(4)), **kwargs))
        assert str(ours.value) == str(theirs.value), kwargs


def test_pin_memory_is_accepted_and_warns_as_torch_on_cpu():
    with pytest.warns(UserWarning, match="no accelerator is found"):
        batches = [b["i"].tolist() for b in loader(Squares(), batch_size=8, num_workers=2, pin_memory=True)]
    assert batches == [list(range(0, 8)), list(range(8, 16)), list(range(16, 23))]


def test_too_many_workers_warns_as_torch():
    workers = len(os.sched_getaffinity(0)) + 1
    with pytest.warns(UserWarning, match=f"This DataLoader will create {workers} worker processes in total"):
        DataLoader(Squares(), num_workers=workers)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        DataLoader(Squares(), num_workers=1)


def test_iterator_length_and_pickling():
    it = iter(loader(Squares(), batch_size=4, num_workers=2))
    assert len(it) == 6
    with pytest.raises(NotImplementedError):
        dumps(it)
    del it
