"""irgrad.multiprocessing: shared-memory tensors across processes (fork and spawn, queues),
Hogwild training of one shared model, spawn's failure reports, sharing strategies.
Known values, without torch (but for the name check at the end)."""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys

import numpy as np
import pytest

import irgrad
import irgrad.multiprocessing as mp
import irgrad.nn as nn

START_METHODS = [m for m in ("fork", "spawn") if m in multiprocessing.get_all_start_methods()]


# --- what the children run (top level: a spawned child imports them by name) ----------------


def _add_index(index: int, shared: irgrad.Tensor) -> None:
    shared[index] += index + 1


def _write_through_queue(inbox, outbox) -> None:
    t = inbox.get()
    t.mul_(10)
    outbox.put(t.is_shared())


def _hogwild_train(index: int, model: nn.Module, data: np.ndarray, target: np.ndarray) -> None:
    optimizer = irgrad.optim.SGD(model.parameters(), lr=0.1)
    x, y = irgrad.tensor(data[index::2]), irgrad.tensor(target[index::2])
    for _ in range(5):
        optimizer.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        optimizer.step()


def _raise(index: int, message: str) -> None:
    if index == 1:
        raise ValueError(message)


def _exit(index: int, code: int) -> None:
    sys.exit(code if index == 0 else 0)


def _kill_self(index: int) -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _touch(index: int, folder: str) -> None:
    with open(os.path.join(folder, f"ran-{index}"), "w") as out:
        out.write(str(index))


# --- one process ----------------------------------------------------------------------------


def test_share_memory_keeps_the_tensor_and_its_values():
    t = irgrad.arange(12.0).reshape(3, 4).t()[1:]  # a view, not contiguous
    before = t.numpy().copy()
    assert not t.is_shared()
    assert t.share_memory_() is t
    assert t.is_shared() and t._base.is_shared()
    np.testing.assert_array_equal(t.numpy(), before)
    assert t.stride() == (1, 4)
    t.share_memory_()  # a second call changes nothing
    np.testing.assert_array_equal(t.numpy(), before)


def test_share_memory_keeps_autograd_state():
    w = irgrad.ones(3, requires_grad=True).share_memory_()
    (w * 2).sum().backward()
    assert w.requires_grad and w.is_leaf
    np.testing.assert_array_equal(w.grad.numpy(), [2, 2, 2])


def test_other_live_views_are_refused():
    base = irgrad.ones(4)
    view = base[1:]
    with pytest.raises(RuntimeError, match="other views of it"):
        base.share_memory_()
    del view
    base.share_memory_()
    assert base.is_shared()


def test_module_share_memory_moves_parameters_gradients_and_buffers():
    model = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    model[0].weight.grad = irgrad.ones(2, 3)
    assert model.share_memory() is model
    assert all(p.is_shared() for p in model.parameters())
    assert all(b.is_shared() for b in model.buffers())
    assert model[0].weight.grad.is_shared()


def test_size_zero_tensors_share():
    t = irgrad.zeros(0, 3).share_memory_()
    assert t.is_shared() and t.shape == (0, 3)


def test_sharing_strategies():
    assert mp.get_sharing_strategy() in mp.get_all_sharing_strategies()
    previous = mp.get_sharing_strategy()
    try:
        for strategy in mp.get_all_sharing_strategies():
            mp.set_sharing_strategy(strategy)
            assert mp.get_sharing_strategy() == strategy
        with pytest.raises(AssertionError, match="invalid sharing strategy 'nope'"):
            mp.set_sharing_strategy("nope")
    finally:
        mp.set_sharing_strategy(previous)


def test_the_multiprocessing_api_is_there():
    for name in multiprocessing.__all__:
        assert hasattr(mp, name), name
    assert mp.Process is multiprocessing.Process


# --- across processes -----------------------------------------------------------------------


@pytest.mark.parametrize("method", START_METHODS)
def test_children_write_a_shared_tensor(method):
    shared = irgrad.zeros(3).share_memory_()
    mp.start_processes(_add_index, args=(shared,), nprocs=3, start_method=method)
    np.testing.assert_array_equal(shared.numpy(), [1, 2, 3])


def test_a_tensor_sent_to_a_spawned_child_moves_to_shared_memory():
    sent = irgrad.zeros(3)
    mp.spawn(_add_index, args=(sent,), nprocs=3)
    assert sent.is_shared()
    np.testing.assert_array_equal(sent.numpy(), [1, 2, 3])


def test_a_tensor_that_cannot_move_is_sent_as_a_copy():
    sent = irgrad.zeros(3)
    view = sent[:2]
    mp.spawn(_add_index, args=(sent,), nprocs=3)
    assert not sent.is_shared() and not view.is_shared()
    np.testing.assert_array_equal(sent.numpy(), [0, 0, 0])


@pytest.mark.parametrize("shared_first", [True, False])
@pytest.mark.parametrize("method", START_METHODS)
def test_a_tensor_through_a_queue_is_the_same_memory(method, shared_first):
    context = mp.get_context(method)
    inbox, outbox = context.Queue(), context.Queue()
    child = context.Process(target=_write_through_queue, args=(inbox, outbox))
    child.start()
    t = irgrad.arange(1.0, 4.0)
    if shared_first:
        t.share_memory_()
    inbox.put(t)
    assert outbox.get(timeout=60) is True
    child.join(60)
    np.testing.assert_array_equal(t.numpy(), [10, 20, 30])


@pytest.mark.parametrize("method", START_METHODS)
def test_hogwild_training_updates_the_parents_model(method):
    rng = np.random.default_rng(0)
    data = rng.standard_normal((16, 4)).astype(np.float32)
    target = rng.standard_normal((16, 1)).astype(np.float32)
    irgrad.manual_seed(0)
    model = nn.Linear(4, 1)
    model.share_memory()
    before = [p.detach().numpy().copy() for p in model.parameters()]

    def loss() -> float:
        return float(nn.functional.mse_loss(model(irgrad.tensor(data)), irgrad.tensor(target)))

    start = loss()
    mp.start_processes(_hogwild_train, args=(model, data, target), nprocs=2, start_method=method)
    assert all(not np.array_equal(a, p.detach().numpy()) for a, p in zip(before, model.parameters()))
    assert loss() < start


def test_spawn_reports_a_childs_exception_with_its_traceback():
    with pytest.raises(mp.ProcessRaisedException, match="Process 1 terminated") as caught:
        mp.spawn(_raise, args=("the child's own message",), nprocs=2)
    assert "ValueError: the child's own message" in str(caught.value)
    assert caught.value.error_index == 1


def test_spawn_reports_an_exit_code_and_a_signal():
    with pytest.raises(mp.ProcessExitedException, match="process 0 terminated with exit code 3") as caught:
        mp.start_processes(_exit, args=(3,), nprocs=2, start_method=START_METHODS[0])
    assert caught.value.exit_code == 3
    with pytest.raises(mp.ProcessExitedException, match="terminated with signal SIGKILL") as caught:
        mp.start_processes(_kill_self, nprocs=1, start_method=START_METHODS[0])
    assert caught.value.signal_name == "SIGKILL"


def test_spawn_without_join_returns_the_processes(tmp_path):
    context = mp.start_processes(
        _touch, args=(str(tmp_path),), nprocs=2, join=False, start_method=START_METHODS[0]
    )
    assert len(context.pids()) == 2
    while not context.join():
        pass
    assert sorted(os.listdir(tmp_path)) == ["ran-0", "ran-1"]


def test_spawn_with_another_start_method_warns(tmp_path):
    with pytest.warns(FutureWarning, match="only supports start_method=spawn"):
        mp.spawn(_touch, args=(str(tmp_path),), nprocs=1, start_method="fork")
    assert os.listdir(tmp_path) == ["ran-0"]


def test_torchs_names_are_there():
    pytest.importorskip("torch")
    import torch.multiprocessing as torch_mp

    for name in [*torch_mp.__all__, "spawn", "start_processes", "ProcessContext", "ProcessRaisedException"]:
        assert hasattr(mp, name), name
