"""irgrad.profiler (and torch.autograd.profiler's older interface): events of ops,
backward steps, compiled calls and named ranges, their nesting and self times, averages
and PyTorch's table, schedules and trace handlers.  Known values; torch only for the
schedule comparison."""

from __future__ import annotations

import gzip
import json
import os
import threading

import numpy as np
import pytest

import irgrad
from irgrad import _profiling
from irgrad.profiler import ProfilerAction, profile, record_function, schedule, tensorboard_trace_handler


def _model():
    irgrad.manual_seed(0)
    return irgrad.nn.Sequential(irgrad.nn.Linear(4, 3), irgrad.nn.ReLU())


def _names(events) -> list[str]:
    return [e.name for e in events]


def test_ops_backward_steps_and_ranges_nest_with_self_times():
    model, x = _model(), irgrad.randn(2, 4)
    with profile(record_shapes=True) as prof:
        with record_function("step"):
            model(x).sum().backward()
    events = prof.events()
    step = next(e for e in events if e.name == "step")
    assert {"irgrad::linear", "irgrad::relu", "irgrad::sum"} <= set(_names(step.cpu_children))
    assert "autograd::engine::evaluate_function: LinearBackward0" in _names(step.cpu_children)
    assert step.self_cpu_time_total == pytest.approx(
        step.cpu_time_total - sum(c.cpu_time_total for c in step.cpu_children)
    )
    linear = next(e for e in events if e.name == "irgrad::linear")
    assert linear.input_shapes == [[2, 4], [3, 4], [3]] and linear.cpu_parent is step
    assert all(e.time_range_start <= f.time_range_start for e, f in zip(events, events[1:]))
    assert _profiling.ACTIVE is None


def test_averages_and_the_table():
    model = _model()
    with profile(record_shapes=True) as prof:
        for batch in (2, 2, 5):
            model(irgrad.randn(batch, 4))
    averages = prof.key_averages()
    linear = next(a for a in averages if a.key == "irgrad::linear")
    assert linear.count == 3 and linear.cpu_time == pytest.approx(linear.cpu_time_total / 3)
    by_shape = [a for a in prof.key_averages(group_by_input_shape=True) if a.key == "irgrad::linear"]
    assert sorted(a.count for a in by_shape) == [1, 2]
    table = averages.table(sort_by="cpu_time_total", row_limit=1)
    lines = table.splitlines()
    assert "Self CPU %" in lines[1] and "# of Calls" in lines[1]
    assert len([line for line in lines if "irgrad::" in line]) == 1
    assert lines[-1].startswith("Self CPU time total: ")
    assert "Input Shapes" in prof.key_averages(group_by_input_shape=True).table()
    slowest = max(averages, key=lambda a: a.cpu_time_total).key
    assert slowest in table


@pytest.mark.parametrize(
    "key",
    [
        "cpu_time_total",
        "self_cpu_time_total",
        "cpu_time",
        "count",
        "cuda_time_total",
        "self_cuda_time_total",
        "device_time_total",
        "self_device_time_total",
        "cpu_memory_usage",
        "self_cpu_memory_usage",
    ],
)
def test_tables_sort_by_pytorchs_keys(key):
    with profile() as prof:
        _model()(irgrad.randn(2, 4))
    assert "irgrad::linear" in prof.key_averages().table(sort_by=key, row_limit=5)


def test_compiled_calls_are_events(backend):
    model, x = _model(), irgrad.randn(2, 4)
    compiled = irgrad.compile(model, backend=backend)
    with profile() as prof:
        compiled(x)
        compiled(x)
    names = _names(prof.events())
    assert names.count("irgrad.compile: compiling Sequential") == 1
    assert names.count("irgrad.compile: Sequential") == 1


def test_nothing_is_recorded_outside_a_profile_even_after_an_error():
    with pytest.raises(ValueError), profile():
        raise ValueError("inside")
    assert _profiling.ACTIVE is None
    with record_function("outside"):
        irgrad.ones(2) + 1  # no profile: nothing to record into


def test_one_profile_at_a_time():
    with profile(), pytest.raises(RuntimeError, match="already enabled"), profile():
        pass


def test_other_threads_ops_are_recorded_with_their_thread():
    with profile() as prof:
        worker = threading.Thread(target=lambda: irgrad.ones(3).exp())
        worker.start()
        worker.join()
    exp = [e for e in prof.events() if e.name == "irgrad::exp"]
    assert len(exp) == 1 and exp[0].thread != threading.get_ident()


def test_schedule_cycles():
    action = schedule(wait=1, warmup=1, active=2, repeat=1)
    assert [action(i) for i in range(6)] == [
        ProfilerAction.NONE,
        ProfilerAction.WARMUP,
        ProfilerAction.RECORD,
        ProfilerAction.RECORD_AND_SAVE,
        ProfilerAction.NONE,
        ProfilerAction.NONE,
    ]
    with pytest.raises(AssertionError, match="Invalid profiler schedule arguments"):
        schedule(wait=0, warmup=0, active=0)
    with pytest.warns(UserWarning, match="won't be using warmup"):
        schedule(wait=0, warmup=0, active=1)


@pytest.mark.parametrize(
    "options",
    [
        {"wait": 1, "warmup": 1, "active": 2},
        {"wait": 2, "warmup": 1, "active": 3, "repeat": 2, "skip_first": 3},
        {"wait": 2, "warmup": 1, "active": 1, "repeat": 3, "skip_first_wait": 1},
    ],
)
def test_schedule_as_torchs(options):
    torch = pytest.importorskip("torch")
    ours, theirs = schedule(**options), torch.profiler.schedule(**options)
    assert [ours(i).name for i in range(40)] == [theirs(i).name for i in range(40)]


def test_each_recorded_cycle_reaches_on_trace_ready_with_its_steps():
    cycles = []

    def ready(prof):
        cycles.append(sorted({e.name for e in prof.events() if e.name.startswith("step")}))

    with profile(schedule=schedule(wait=1, warmup=1, active=2, repeat=2), on_trace_ready=ready) as prof:
        for k in range(10):
            with record_function(f"step{k}"):
                irgrad.ones(2).exp()
            prof.step()
    assert cycles == [["step2", "step3"], ["step6", "step7"]]


def test_tensorboard_trace_handler_writes_chrome_traces(tmp_path):
    for use_gzip in (False, True):
        folder = tmp_path / f"gzip{use_gzip}"
        handler = tensorboard_trace_handler(str(folder), worker_name="worker", use_gzip=use_gzip)
        with profile(on_trace_ready=handler):
            irgrad.ones(2).exp()
        (name,) = os.listdir(folder)
        assert name.startswith("worker.") and name.endswith(
            ".pt.trace.json.gz" if use_gzip else ".pt.trace.json"
        )
        opener = gzip.open if use_gzip else open
        with opener(folder / name, "rt") as trace:
            events = json.load(trace)["traceEvents"]
        assert any(e["name"] == "irgrad::exp" and e["ph"] == "X" and e["dur"] >= 0 for e in events)


def test_options_irgrad_does_not_record_warn():
    with pytest.warns(UserWarning, match="with_flops ignored"):
        profile(with_flops=True)


def test_the_older_autograd_profiler(tmp_path):
    model, x = _model(), irgrad.randn(2, 4)
    with irgrad.autograd.profiler.profile(record_shapes=True) as prof:
        with irgrad.autograd.profiler.record_function("forward"):
            model(x)
    assert "irgrad::linear" in _names(prof.function_events)
    assert "irgrad::linear" in prof.table(sort_by="self_cpu_time_total")
    assert prof.self_cpu_time_total == pytest.approx(sum(e.self_cpu_time_total for e in prof.function_events))
    prof.export_chrome_trace(str(tmp_path / "trace.json"))
    assert json.loads((tmp_path / "trace.json").read_text())["traceEvents"]
    with irgrad.autograd.profiler.profile(enabled=False) as off:
        model(x)
    assert off.function_events is None
    with pytest.raises(RuntimeError, match="didn't finish"):
        off.key_averages()


def test_profiling_changes_no_result():
    model, x = _model(), irgrad.randn(3, 4)
    expected = model(x).detach().numpy()
    with profile(record_shapes=True):
        got = model(x).detach().numpy()
    np.testing.assert_array_equal(got, expected)
