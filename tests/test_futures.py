"""irgrad.futures against torch.futures: completion, values and exceptions, chaining,
callbacks, collect_all/wait_all, waiting across threads; jit.fork's future."""

from __future__ import annotations

import threading
import time

import pytest

import irgrad
from irgrad.futures import Future, collect_all, wait_all


def _outcome(fn):
    try:
        return "value", fn()
    except Exception as error:  # noqa: BLE001 - compared with torch's
        return type(error).__name__, str(error).split("\n")[0]


def _scenarios(lib):
    F = lib.futures.Future
    out = {}
    f = F()
    out["not done"] = f.done()
    f.set_result(3)
    out["result"] = (f.wait(), f.value(), f.done())
    out["twice"] = _outcome(lambda: f.set_result(4))
    g = F()
    g.set_exception(ValueError("bad"))
    out["exception"] = _outcome(g.wait)
    out["not an exception"] = _outcome(lambda: F().set_exception("x"))
    h = F()
    chained = h.then(lambda fut: fut.wait() + 1)
    h.set_result(1)
    out["then"] = chained.wait()
    k = F()
    failing = k.then(lambda fut: 1 / 0)
    k.set_result(1)
    out["then raises"] = _outcome(failing.wait)[0]
    a, b = F(), F()
    both = lib.futures.collect_all([a, b])
    a.set_result(1)
    out["collect half"] = both.done()
    b.set_result(2)
    out["collect"] = [x.value() for x in both.wait()]
    c, d = F(), F()
    c.set_result(1)
    d.set_exception(RuntimeError("x"))
    out["wait_all error"] = _outcome(lambda: lib.futures.wait_all([c, d]))
    seen = []
    m = F()
    m.add_done_callback(lambda fut: seen.append(fut.value()))
    m.set_result(5)
    m.add_done_callback(lambda fut: seen.append(fut.value() * 2))
    out["callbacks"] = seen
    return out


def test_as_torchs():
    torch = pytest.importorskip("torch")
    assert _scenarios(irgrad) == _scenarios(torch)


def test_wait_blocks_until_another_thread_completes():
    future = Future()
    threading.Thread(target=lambda: (time.sleep(0.05), future.set_result("late"))).start()
    assert future.wait() == "late"
    assert wait_all([future, future]) == ["late", "late"]


def test_value_of_an_incomplete_future_raises_and_empty_collections_complete():
    with pytest.raises(RuntimeError, match="not completed"):
        Future().value()
    assert collect_all([]).wait() == []


def test_a_driven_future_completes_when_waited():
    calls = []
    future = Future(_drive=lambda: (calls.append(1), future.set_result(7)))
    chained = future.then(lambda f: f.value() * 2)
    assert chained.wait() == 14 and future.wait() == 7 and calls == [1]


def test_jit_fork_returns_a_completed_future():
    with pytest.warns(DeprecationWarning):
        forked = irgrad.jit.fork(lambda x: x + 1, 2)
    assert isinstance(forked, Future) and forked.done() and forked.wait() == 3
